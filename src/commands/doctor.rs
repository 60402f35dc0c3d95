//! `jackin doctor [-f PATH]`: is this machine ready for jackin, and if not, what to do.
//!
//! One line per check with a verdict and, unless it is ok, the fix. Every check reuses the
//! code a pass runs (the engine connection and its `DOCKER_HOST` rule, `$JACKIN_HOME`'s
//! privacy checks, the key checks, the host-login rule, the watch's interests), and none of
//! them creates or changes anything: a missing `$JACKIN_HOME` or key is reported as what the
//! first plan will create. Verdicts:
//!
//! - `fail`: `plan`/`apply` would fail on it (engine unreachable or remote, a home or key
//!   jackin refuses, a state file that does not load or resolve, an unusable login folder,
//!   the image placeholder `init` wrote). Any fail makes `doctor` exit 1.
//! - `warn`: jackin works, but not as well as it could (a login absent from a synced folder:
//!   the container starts without one; an image apply will have to pull; inotify limits that
//!   make `watch` poll).
//! - `info`: a fact (a login present but unused, a check skipped because another failed).
//! - `ok`.

use super::init::PLACEHOLDER_IMAGE;
use crate::agents::{AgentKind, AuthMode};
use crate::cli::FileArg;
use crate::desired::hosts::{Host, LOCAL};
use crate::desired::{AgentAuth, Desired};
use crate::error::{exit, Error};
use crate::fingerprint::{Fingerprinter, KEY_LEN};
use crate::manifest::{present_state_files, Loaded};
use crate::paths;
use crate::reconcile::Context;
use crate::redact::Redactor;
use crate::report::Style;
use crate::runtime::{Engine, Runtime};
use crate::watch::tilde;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Info,
    Warn,
    Fail,
}

impl Verdict {
    fn word(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Info => "info",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Check {
    pub verdict: Verdict,
    /// What was checked (`engine`, `login kimi`, …).
    pub what: String,
    /// What was found; may span lines.
    pub found: String,
    /// How to fix it (shown unless the verdict is ok).
    pub fix: Option<String>,
}

impl Check {
    fn new(verdict: Verdict, what: impl Into<String>, found: impl Into<String>) -> Self {
        Check {
            verdict,
            what: what.into(),
            found: found.into(),
            fix: None,
        }
    }

    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    /// A problem with something nothing uses: worth knowing, not failing over.
    fn downgrade(mut self) -> Self {
        self.verdict = Verdict::Warn;
        self
    }

    /// A coded error as a failed check: its message, then its hint as the fix.
    fn from_error(what: &str, e: &Error) -> Self {
        let check = Check::new(
            Verdict::Fail,
            what,
            format!("{} {}", crate::error::head(e.code()), e.message()),
        );
        match e.hint() {
            Some(h) => check.fix(h),
            None => check,
        }
    }
}

pub async fn doctor(file: FileArg) -> Result<i32, Error> {
    let ctx = Context::from_env(file.file);
    let checks = run(&ctx).await;
    print!("{}", render(&checks, Style::detect()));
    let failed = checks.iter().any(|c| c.verdict == Verdict::Fail);
    Ok(if failed { exit::ERROR } else { exit::OK })
}

/// Every check, in the order they are shown.
pub async fn run(ctx: &Context) -> Vec<Check> {
    let state = State::load(ctx);
    let redactor = state
        .desired
        .as_ref()
        .map_or_else(Redactor::default, Desired::redactor);
    let mut checks = Vec::new();

    let (engine, runtime) = engine_check("engine", &Host::local(), redactor.clone()).await;
    checks.push(engine);
    let (hosts, mut runtimes) = host_checks(&state, &redactor).await;
    checks.extend(hosts);
    runtimes.extend(runtime.map(|rt| (LOCAL.to_owned(), rt)));
    checks.push(home_check(ctx));
    checks.push(key_check(ctx));
    checks.extend(state.checks.iter().cloned());
    checks.extend(login_checks(ctx, &state));
    checks.extend(client_checks(&state));
    checks.push(inotify_check(ctx, &state));
    checks.extend(image_checks(ctx, &state, &runtimes).await);
    checks
}

/// One engine: reachable within the host timeout, its version, and the API version jackin
/// speaks with it. The runtime, when it answered.
async fn engine_check(what: &str, host: &Host, redactor: Redactor) -> (Check, Option<Runtime>) {
    let timeout = crate::plan::HOST_TIMEOUT;
    let version = tokio::time::timeout(timeout, async {
        let rt = host.connect(redactor).await?;
        let v = rt.version().await?;
        Ok::<_, crate::runtime::RuntimeError>((rt, v))
    })
    .await
    .unwrap_or_else(|_| {
        Err(crate::runtime::RuntimeError::Unreachable {
            host: host.docker.clone(),
            detail: format!("no answer within {} s", timeout.as_secs()),
        })
    });
    match version {
        Ok((rt, v)) => {
            let found = format!(
                "Docker {} at {}, API {} (jackin speaks {})",
                v.engine, host.docker, v.api, v.negotiated
            );
            let check = match archive_advisory(&v.engine) {
                None => Check::new(Verdict::Ok, what, found),
                Some(why) => Check::new(Verdict::Warn, what, format!("{found}; {why}"))
                    .fix("upgrade the engine to 19.03.1 or later"),
            };
            (check, Some(rt))
        }
        Err(e) => (Check::from_error(what, &Error::from(e)), None),
    }
}

/// Why an engine this old is a risk for what jackin does through it: it reads files out of
/// containers (an image's `/etc/passwd`, and on a remote host the handoff) through the archive
/// endpoints, which before 19.03.1 had CVE-2018-15664 (a symlink race in `docker cp`: read and
/// write on the engine's host as root) and CVE-2019-14271 (`docker cp` loaded the container's
/// `libnss`). `None`: not older, or not a version jackin can read.
fn archive_advisory(engine: &str) -> Option<&'static str> {
    let numbers = engine
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .next()?;
    let mut parts = numbers.split('.').map(str::parse::<u32>);
    let version = (
        parts.next()?.ok()?,
        parts.next()?.ok()?,
        parts.next()?.ok()?,
    );
    (version < (19, 3, 1)).then_some(
        "older than 19.03.1, whose archive endpoints (how jackin reads files in containers) have CVE-2018-15664 and CVE-2019-14271",
    )
}

/// Every `[hosts.NAME]` of the state, checked at once (SPEC v3 §9).
async fn host_checks(
    state: &State,
    redactor: &Redactor,
) -> (Vec<Check>, BTreeMap<String, Runtime>) {
    let Some(desired) = &state.desired else {
        return (Vec::new(), BTreeMap::new());
    };
    let hosts = desired.hosts.values().filter(|h| h.name != LOCAL);
    let checks = hosts.map(|h| async move {
        let (check, rt) = engine_check(&format!("host {}", h.name), h, redactor.clone()).await;
        (check, rt.map(|rt| (h.name.clone(), rt)))
    });
    let (checks, runtimes): (Vec<_>, Vec<_>) = futures_util::future::join_all(checks)
        .await
        .into_iter()
        .unzip();
    (checks, runtimes.into_iter().flatten().collect())
}

/// The state file, if one is found, and how far it got.
struct State {
    loaded: Option<Loaded>,
    desired: Option<Desired>,
    checks: Vec<Check>,
}

impl State {
    fn load(ctx: &Context) -> Self {
        let mut state = State {
            loaded: None,
            desired: None,
            checks: Vec::new(),
        };
        let none_here = ctx.file.is_none() && present_state_files(&ctx.cwd).is_empty();
        if none_here {
            state.checks.push(
                Check::new(
                    Verdict::Info,
                    "state file",
                    format!(
                        "none in {} (and no -f): logins are checked at the agents' default folders",
                        ctx.cwd.display()
                    ),
                )
                .fix("`jackin init` writes a starter file here"),
            );
            return state;
        }
        let loaded = match ctx.load() {
            Ok(l) => l,
            Err(e) => {
                state.checks.push(Check::from_error("state file", &e));
                return state;
            }
        };
        let instances = loaded.instance_count();
        let files: Vec<String> = loaded
            .files
            .iter()
            .map(|f| f.strip_prefix(&ctx.cwd).unwrap_or(f).display().to_string())
            .collect();
        state.checks.push(Check::new(
            Verdict::Ok,
            "state file",
            format!(
                "{}: project {}, {instances} instance(s)",
                files.join(", "),
                loaded.project
            ),
        ));
        match ctx.resolve(&loaded) {
            Ok(d) => {
                state.checks.push(Check::new(
                    Verdict::Ok,
                    "env",
                    "every credential the state needs resolves from jackin's environment",
                ));
                state.desired = Some(d);
            }
            Err(e) => state.checks.push(Check::from_error("env", &e)),
        }
        state.loaded = Some(loaded);
        state
    }
}

fn home_check(ctx: &Context) -> Check {
    let home = &ctx.jackin_home;
    let shown = home.root().display().to_string();
    match home.check_private() {
        Ok(true) => Check::new(
            Verdict::Ok,
            "JACKIN_HOME",
            format!("{shown}: yours, not writable by group or others"),
        ),
        Ok(false) => Check::new(
            Verdict::Ok,
            "JACKIN_HOME",
            format!("{shown}: not there yet; the first plan or apply creates it (0700)"),
        ),
        Err(e) => Check::from_error("JACKIN_HOME", &Error::from(e)),
    }
}

fn key_check(ctx: &Context) -> Check {
    let path = ctx.jackin_home.key_path();
    let shown = path.display().to_string();
    match Fingerprinter::load(&path) {
        Ok(Some(_)) => Check::new(
            Verdict::Ok,
            "key",
            format!("{shown}: {KEY_LEN} bytes, 0600, yours"),
        ),
        Ok(None) => Check::new(
            Verdict::Ok,
            "key",
            format!("{shown}: not made yet; the first plan or apply makes it ({KEY_LEN} random bytes, 0600)"),
        ),
        Err(e) => Check::from_error("key", &Error::from(e)),
    }
}

/// One line per host login in use: per (agent, source) of the state's sync-mode instances, or
/// every catalogue agent's default folder without a state.
fn login_checks(ctx: &Context, state: &State) -> Vec<Check> {
    let Some(loaded) = &state.loaded else {
        return super::default_logins(&ctx.home)
            .map(|(auth, login)| {
                let shown = tilde(&auth.source, &ctx.home);
                let what = format!("login {}", auth.agent);
                match login {
                    Ok(l) if l.present => {
                        Check::new(Verdict::Ok, what, format!("{shown}: present"))
                    }
                    Ok(_) => Check::new(Verdict::Info, what, format!("{shown}: absent")),
                    Err(e) => Check::from_error(&what, &Error::from(e)).downgrade(),
                }
            })
            .collect();
    };
    let declared = crate::desired::declare(loaded, &ctx.home);
    // (agent, source) → (the auth as resolved for the first instance using it, instances).
    let mut synced: BTreeMap<(AgentKind, PathBuf), (AgentAuth, Vec<String>)> = BTreeMap::new();
    let mut other: BTreeMap<(AgentKind, AuthMode), Vec<String>> = BTreeMap::new();
    for (container, d) in &declared {
        for a in &d.auth {
            if a.mode == AuthMode::Sync {
                synced
                    .entry((a.agent, a.source.clone()))
                    .or_insert_with(|| (a.clone(), Vec::new()))
                    .1
                    .push(container.clone());
            } else {
                other
                    .entry((a.agent, a.mode))
                    .or_default()
                    .push(container.clone());
            }
        }
    }
    let mut checks: Vec<Check> = synced
        .iter()
        .map(|((agent, source), (auth, containers))| {
            synced_login_check(ctx, *agent, source, auth, containers)
        })
        .collect();
    for ((agent, mode), containers) in &other {
        checks.push(Check::new(
            Verdict::Info,
            format!("login {agent}"),
            format!("not synced: auth mode {mode} in {}", containers.join(", ")),
        ));
    }
    if synced.is_empty() && other.is_empty() {
        checks.push(Check::new(
            Verdict::Info,
            "logins",
            "the state declares no instances: no host login is in use",
        ));
    }
    checks
}

/// One host login synced into `containers`: present, absent, or one refreshable grant held by
/// several (SPEC v3 §3b).
fn synced_login_check(
    ctx: &Context,
    agent: AgentKind,
    source: &std::path::Path,
    auth: &AgentAuth,
    containers: &[String],
) -> Check {
    let shown = tilde(source, &ctx.home);
    let what = format!("login {agent}");
    let used_by = format!("synced to {}", containers.join(", "));
    match crate::observed::host_login(auth) {
        Ok(l) if containers.len() > 1 && crate::observed::refreshable(&l) => Check::new(
            Verdict::Warn,
            what,
            format!("{shown}: present, can refresh itself, and is {used_by}: the first refresh logs the others and the host out"),
        )
        .fix(crate::observed::shared_login_ways_out(agent)),
        Ok(l) if l.present => Check::new(Verdict::Ok, what, format!("{shown}: present ({used_by})")),
        Ok(_) => Check::new(
            Verdict::Warn,
            what,
            format!("{shown}: absent ({used_by}); those containers start without a {agent} login"),
        )
        .fix(format!(
            "log in to {agent} on this machine (its login lands in {shown}), or give {agent} another auth mode (api_key, ignore)"
        )),
        Err(e) => Check::from_error(&what, &Error::from(e)),
    }
}

/// What the real clients the state provisions need of their image or disk (SPEC v3 §3a).
fn client_checks(state: &State) -> Vec<Check> {
    let Some(desired) = &state.desired else {
        return Vec::new();
    };
    let agents: BTreeSet<AgentKind> = desired
        .instances
        .values()
        .flat_map(|i| i.auth.iter().map(|a| a.agent))
        .collect();
    agents
        .into_iter()
        .filter_map(|agent| {
            let needs = agent.info().image_needs?;
            Some(Check::new(Verdict::Info, format!("client {agent}"), needs))
        })
        .collect()
}

fn inotify_check(ctx: &Context, state: &State) -> Check {
    let poll = crate::watch::POLL_INTERVAL.as_secs();
    let Some(u) = crate::watch::inotify_usage() else {
        return Check::new(
            Verdict::Warn,
            "inotify",
            format!("not available (no /proc/sys/fs/inotify): watch polls every {poll} s"),
        )
        .fix("nothing to do for correctness; on Linux, a kernel with inotify makes watch prompt");
    };
    let needed = state
        .loaded
        .as_ref()
        .map(|l| crate::watch::inotify_watches_needed(ctx, l, state.desired.as_ref()) as u64);
    let mut found = format!(
        "max_user_watches {} ({} in use by your processes), max_user_instances {} ({} in use)",
        u.max_watches, u.used_watches, u.max_instances, u.used_instances
    );
    match needed {
        Some(n) => {
            let _ = write!(found, "; watch needs {n} watch(es) and 1 instance");
        }
        None => found.push_str("; watch needs 1 instance (its watches depend on the state file)"),
    }
    let short_instances = u.used_instances + 1 > u.max_instances;
    let short_watches = needed.is_some_and(|n| u.used_watches + n > u.max_watches);
    if short_instances || short_watches {
        let (key, value) = if short_instances {
            ("max_user_instances", (u.max_instances * 2).max(512))
        } else {
            (
                "max_user_watches",
                (u.used_watches + needed.unwrap_or(0)).max(u.max_watches) * 2,
            )
        };
        Check::new(
            Verdict::Warn,
            "inotify",
            format!("{found}: too few left, so watch would poll every {poll} s"),
        )
        .fix(format!(
            "sudo sysctl fs.inotify.{key}={value} (and put it in /etc/sysctl.d/ to keep it), or close other file watchers"
        ))
    } else {
        Check::new(Verdict::Ok, "inotify", found)
    }
}

/// Each image the state's instances run, on each host they are placed on (SPEC v3 §9):
/// present, to be pulled or built, or the placeholder. `runtimes`: the hosts that answered.
async fn image_checks(
    ctx: &Context,
    state: &State,
    runtimes: &BTreeMap<String, Runtime>,
) -> Vec<Check> {
    let Some(loaded) = &state.loaded else {
        return Vec::new();
    };
    let (images, mut checks) = images_used(ctx, loaded);
    let m = &loaded.manifest;
    let mut on_hosts = BTreeMap::new();
    for (ws, w) in &m.workspaces {
        for role in w.roles.keys() {
            let Some(image) = images.get(role) else {
                continue;
            };
            let host = m.host_of(ws, role).0;
            on_hosts.entry((host, &image.0)).or_insert((role, &image.1));
        }
    }
    for ((host, reference), (role, context)) in on_hosts {
        let rt = runtimes.get(host);
        let on = (host != LOCAL).then_some(host);
        checks.push(image_check(rt, on, reference, role, context.as_deref()).await);
    }
    checks
}

/// Role → (the image reference it runs, the build context when jackin builds it).
type ImagesUsed = BTreeMap<String, (String, Option<PathBuf>)>;

/// The images of the roles an instance uses, each role's once; a build context that cannot
/// be read is a failed check.
fn images_used(ctx: &Context, loaded: &Loaded) -> (ImagesUsed, Vec<Check>) {
    let m = &loaded.manifest;
    let mut images = ImagesUsed::new();
    let mut checks = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for role_name in m.workspaces.values().flat_map(|w| w.roles.keys()) {
        if !seen.insert(role_name) {
            continue;
        }
        let Some(role) = m.roles.get(role_name) else {
            continue;
        };
        let (reference, context) = match (&role.image, &role.build) {
            (Some(r), _) => (r.clone(), None),
            (None, Some(b)) => {
                let context = paths::expand(&b.context, &loaded.base_dir, &ctx.home);
                let tag = crate::observed::images::build_tag(
                    &loaded.project,
                    role_name,
                    &context,
                    &b.dockerfile,
                );
                match tag {
                    Ok(tag) => (tag, Some(context)),
                    Err(e) => {
                        checks.push(
                            Check::new(
                                Verdict::Fail,
                                "image",
                                format!(
                                    "roles.{role_name}: cannot read build context {}: {e}",
                                    context.display()
                                ),
                            )
                            .fix("fix `build.context` of the role"),
                        );
                        continue;
                    }
                }
            }
            (None, None) => continue,
        };
        images.insert(role_name.clone(), (reference, context));
    }
    (images, checks)
}

/// Whether one image is there (on host `on`, when not `local`), or how apply will get it.
async fn image_check(
    runtime: Option<&Runtime>,
    on: Option<&str>,
    reference: &str,
    role: &str,
    context: Option<&std::path::Path>,
) -> Check {
    let subject = match on {
        None => format!("roles.{role}: {reference}"),
        Some(host) => format!("roles.{role}: {reference} on host {host}"),
    };
    if reference == PLACEHOLDER_IMAGE {
        return Check::new(
            Verdict::Fail,
            "image",
            format!("{subject} is the placeholder jackin init wrote"),
        )
        .fix(format!(
            "set `image` of roles.{role} to an image with its agents installed"
        ));
    }
    let Some(rt) = runtime else {
        return Check::new(
            Verdict::Info,
            "image",
            format!("{subject} not checked (the engine is not reachable)"),
        );
    };
    match rt.image(reference).await {
        Ok(Some(info)) => Check::new(
            Verdict::Ok,
            "image",
            format!(
                "{subject} present ({})",
                info.id.get(..19).unwrap_or(&info.id)
            ),
        ),
        Ok(None) => match context {
            Some(context) => Check::new(
                Verdict::Info,
                "image",
                format!(
                    "{subject} not built yet; apply builds it from {}",
                    context.display()
                ),
            ),
            None => Check::new(
                Verdict::Warn,
                "image",
                format!("{subject} absent; apply will pull it"),
            )
            .fix(format!(
                "docker pull {reference} now to find out whether it can be pulled, or fix the reference"
            )),
        },
        Err(e) => Check::from_error("image", &Error::from(e)),
    }
}

/// The report: one line per check (`verdict  what  found`), its fix below it, a summary.
pub fn render(checks: &[Check], style: Style) -> String {
    let width = checks.iter().map(|c| c.what.len()).max().unwrap_or(0);
    let mut out = String::new();
    for c in checks {
        let word = format!("{:<4}", c.verdict.word());
        let word = match c.verdict {
            Verdict::Ok => style.green(&word),
            Verdict::Info => word,
            Verdict::Warn => style.yellow(&word),
            Verdict::Fail => style.red(&word),
        };
        let mut lines = c.found.lines();
        let _ = writeln!(
            out,
            "{word}  {:<width$}  {}",
            c.what,
            lines.next().unwrap_or_default()
        );
        let indent = " ".repeat(4 + 2 + width + 2);
        for line in lines {
            let _ = writeln!(out, "{indent}{line}");
        }
        if c.verdict != Verdict::Ok {
            if let Some(fix) = &c.fix {
                let _ = writeln!(out, "{indent}{}", crate::error::what_to_try(fix));
            }
        }
    }
    let count = |v: Verdict| checks.iter().filter(|c| c.verdict == v).count();
    let _ = writeln!(
        out,
        "{} ok, {} info, {} warning(s), {} failed.",
        count(Verdict::Ok),
        count(Verdict::Info),
        count(Verdict::Warn),
        count(Verdict::Fail)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_before_19_03_1_are_named_with_the_archive_advisories() {
        for old in ["18.09.7", "19.03.0", "1.13.1"] {
            let why = archive_advisory(old);
            assert!(why.is_some_and(|w| w.contains("CVE-2018-15664")), "{old}");
        }
        for fine in [
            "19.03.1",
            "20.10.24+dfsg1",
            "28.2.2",
            "29.0.0-rc.1",
            "dev",
            "",
        ] {
            assert_eq!(archive_advisory(fine), None, "{fine}");
        }
    }

    #[test]
    fn one_line_per_check_with_the_fix_below_what_is_not_ok() {
        let checks = [
            Check::new(Verdict::Ok, "engine", "Docker 27.5.1").fix("never shown"),
            Check::new(Verdict::Warn, "login kimi", "~/.kimi: absent").fix("log in"),
            Check::new(
                Verdict::Fail,
                "env",
                "error[E010]: KEY unset\n  env layers checked",
            )
            .fix("set KEY"),
            Check::new(Verdict::Info, "image", "not checked"),
        ];
        assert_eq!(
            render(&checks, Style::plain()),
            "ok    engine      Docker 27.5.1\n\
             warn  login kimi  ~/.kimi: absent\n\
             \x20                 → what to try: log in\n\
             fail  env         error[E010]: KEY unset\n\
             \x20                   env layers checked\n\
             \x20                 → what to try: set KEY\n\
             info  image       not checked\n\
             1 ok, 1 info, 1 warning(s), 1 failed.\n"
        );
    }
}
