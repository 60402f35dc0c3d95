//! The semantic rules of SPEC §2 that need no host env, host files or Docker — so CI can lint
//! a GitOps repo without secrets.
//!
//! Every rule runs and every problem is collected (sorted by position), because an operator
//! fixing a state file wants the whole list at once. Each problem is pointed at the key to
//! edit and names its scope path, so the same message makes sense without the file open.

use super::diagnose::{closest, render_path};
use super::error::{Kind, ManifestError, Place, Problem};
use super::load::Loaded;
use super::model::{AuthTable, EnvValue, HostDecl, Manifest, Role, Workspace, LOCAL};
use crate::agents::{AgentKind, AuthMode};
use crate::naming::container_name;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path};

/// Env names jackin sets or needs for itself; an operator value would be silently overridden
/// or, worse, would redirect jackin.
const RESERVED_ENV: [&str; 3] = ["DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"];

/// Check every rule; `Err` lists all problems found (E004).
pub fn validate(loaded: &Loaded) -> Result<(), ManifestError> {
    let mut c = Checker {
        loaded,
        problems: Vec::new(),
    };
    let m = &loaded.manifest;
    c.version(m);
    c.project();
    c.auth(&["auth"], &m.auth);
    c.env(&["env"], &m.env);
    for (name, host) in &m.hosts {
        c.host(name, host);
    }
    for (name, role) in &m.roles {
        c.role(name, role);
    }
    let mut names = BTreeMap::new();
    for (name, ws) in &m.workspaces {
        c.workspace(m, name, ws, &mut names);
    }
    if c.problems.is_empty() {
        return Ok(());
    }
    c.problems.sort_by(|a, b| a.place.cmp(&b.place));
    Err(ManifestError::new(Kind::Invalid, c.problems))
}

struct Checker<'a> {
    loaded: &'a Loaded,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    /// The position of `path`, or of its nearest declared ancestor (the shorthand
    /// `auth.kimi = "oauth_token"` has no `mode` key to point at).
    fn place(&self, path: &[&str]) -> Place {
        (1..=path.len())
            .rev()
            .find_map(|n| self.loaded.locate(&path[..n]))
            .map_or_else(|| Place::File(self.loaded.shown_file()), Place::At)
    }

    fn report(&mut self, path: &[&str], message: String) -> &mut Problem {
        let place = self.place(path);
        self.problems.push(Problem::new(place, message));
        self.problems.last_mut().expect("just pushed")
    }

    fn version(&mut self, m: &Manifest) {
        match m.version {
            Some(1) => {}
            None => {
                let file = self.loaded.shown_file();
                self.problems.push(
                    Problem::new(Place::File(file), "`version` is missing; it must be 1")
                        .with_hint("add `version = 1` (YAML: `version: 1`) at the top of the file"),
                );
            }
            Some(v) => {
                self.report(
                    &["version"],
                    format!("version: unsupported version {v}; it must be 1"),
                )
                .hint = Some("set `version = 1`".to_owned());
            }
        }
    }

    fn project(&mut self) {
        let project = &self.loaded.project;
        if is_project_name(project) {
            return;
        }
        let rule = "letters, digits, `.`, `_` and `-`, starting with a letter or digit";
        if self.loaded.project_is_default() {
            let file = self.loaded.shown_file();
            self.problems.push(
                Problem::new(
                    Place::File(file),
                    format!("the folder name `{project}` is not a valid project name ({rule})"),
                )
                .with_hint("set `project = \"my-project\"` in the state file"),
            );
        } else {
            self.report(
                &["project"],
                format!("project: invalid project name `{project}`: use {rule}"),
            );
        }
    }

    /// Only `claude` takes `oauth_token`; catching it here beats a failed apply later.
    fn auth(&mut self, scope: &[&str], table: &AuthTable) {
        for (agent, spec) in table.iter() {
            if spec.mode() != Some(AuthMode::OauthToken)
                || agent.supported_modes().contains(&AuthMode::OauthToken)
            {
                continue;
            }
            let supported: Vec<&str> = agent.supported_modes().iter().map(|m| m.as_str()).collect();
            let mut path = scope.to_vec();
            path.push(agent.name());
            let message = format!(
                "{}: auth mode 'oauth_token' is not supported for {agent}; supported: {}",
                render_path(&path),
                supported.join(", ")
            );
            path.push("mode");
            self.report(&path, message).hint = Some(format!(
                "use `api_key` (sets {}) or `sync` for {agent}",
                agent.info().api_key_env
            ));
        }
    }

    /// Names, and literal values only for a NUL byte: values may be secrets, so a problem
    /// names the variable and never shows its value.
    fn env(&mut self, scope: &[&str], env: &BTreeMap<String, EnvValue>) {
        for (name, value) in env {
            let mut path = scope.to_vec();
            path.push(name);
            if matches!(value, EnvValue::Value(v) if v.contains('\0')) {
                // The engine cannot pass it, and its error would quote the value.
                self.report(
                    &path,
                    format!(
                        "{}: the value contains a NUL byte, which an environment variable cannot hold",
                        render_path(&path)
                    ),
                )
                .hint = Some("remove the NUL byte (written \\0 or \\u0000) from the value".to_owned());
            }
            if !is_env_name(name) {
                self.report(
                    &path,
                    format!(
                        "{}: invalid env name: use letters, digits and `_`, not starting with a digit",
                        render_path(&path)
                    ),
                );
            } else if name.starts_with("JACKIN_") || RESERVED_ENV.contains(&name.as_str()) {
                self.report(
                    &path,
                    format!("{}: `{name}` is reserved for jackin", render_path(&path)),
                )
                .hint = Some("rename the variable; JACKIN_* and DOCKER_HOST/DOCKER_TLS_VERIFY/DOCKER_CERT_PATH configure jackin itself".to_owned());
            }
        }
    }

    /// A role, workspace or host name (`table` is the key it is declared under) must be
    /// `[a-z0-9][a-z0-9-]*`: it ends up in container names and labels.
    fn name(&mut self, table: &str, kind: &str, name: &str) {
        if !is_name(name) {
            self.report(
                &[table, name],
                format!("{table}.{name}: invalid {kind} name; {NAME_RULE}"),
            );
        }
    }

    /// `[hosts.NAME]`: a name like a workspace's but never `local`, an address the docker CLI
    /// would take, and `tls` only where there is TLS to speak. Nothing is dialled here.
    fn host(&mut self, name: &str, host: &HostDecl) {
        if name == LOCAL {
            self.report(
                &["hosts", name],
                format!("hosts.{LOCAL}: `{LOCAL}` is the engine DOCKER_HOST names and cannot be declared"),
            )
            .hint = Some(format!(
                "remove [hosts.{LOCAL}]: instances without `host` already run on it; to make it another engine, set DOCKER_HOST, or declare that engine under another name"
            ));
            return;
        }
        self.name("hosts", "host", name);
        let scheme = match docker_scheme(&host.docker) {
            Ok(scheme) => scheme,
            Err(problem) => {
                let (last, rest) = SCHEMES.split_last().expect("four schemes");
                let schemes = format!("{} or {last}", rest.join(", "));
                let message = format!(
                    "hosts.{name}.docker: {problem}; the address must start with {schemes}"
                );
                self.report(&["hosts", name, "docker"], message).hint = Some(ADDRESS_HINT.into());
                return;
            }
        };
        if host.tls.is_some() && !TLS_SCHEMES.contains(&scheme) {
            let message = format!(
                "hosts.{name}.tls: TLS is for tcp:// and https:// engines; this one is reached with {scheme}"
            );
            self.report(&["hosts", name, "tls"], message).hint = Some(format!(
                "remove `tls` from [hosts.{name}], or reach the engine over tcp://"
            ));
        }
    }

    fn role(&mut self, name: &str, role: &Role) {
        self.name("roles", "role", name);
        match (&role.image, &role.build) {
            (Some(_), Some(_)) => {
                self.report(
                    &["roles", name, "build"],
                    format!("roles.{name}: set exactly one of `image` and `build`, not both"),
                );
            }
            (None, None) => {
                self.report(
                    &["roles", name],
                    format!("roles.{name}: needs `image` or `build`"),
                );
            }
            _ => {}
        }
        if role.agents.is_empty() {
            let all: Vec<&str> = AgentKind::ALL.iter().map(|a| a.name()).collect();
            self.report(
                &["roles", name, "agents"],
                format!(
                    "roles.{name}.agents: list at least one agent ({})",
                    all.join(", ")
                ),
            );
        }
        let mut seen = BTreeSet::new();
        for (i, agent) in role.agents.iter().enumerate() {
            if !seen.insert(*agent) {
                let index = i.to_string();
                self.report(
                    &["roles", name, "agents", &index],
                    format!("roles.{name}.agents: `{agent}` is listed twice"),
                );
            }
        }
        if let Err(problem) = super::user::UserSpec::parse(role.user.as_deref()) {
            self.report(
                &["roles", name, "user"],
                format!("roles.{name}.user: {problem}"),
            );
        }
        self.env(&["roles", name, "env"], &role.env);
    }

    fn workspace(
        &mut self,
        m: &Manifest,
        w: &str,
        ws: &Workspace,
        names: &mut BTreeMap<String, String>,
    ) {
        self.name("workspaces", "workspace", w);
        if let Some(host) = &ws.host {
            self.placement(m, &["workspaces", w, "host"], host);
        }
        if let Some(workdir) = &ws.workdir {
            if !workdir.starts_with('/') {
                self.report(
                    &["workspaces", w, "workdir"],
                    format!("workspaces.{w}.workdir: `{workdir}` must be an absolute path"),
                );
            }
        }
        self.auth(&["workspaces", w, "auth"], &ws.auth);
        self.env(&["workspaces", w, "env"], &ws.env);

        let mut agents_in_use = BTreeSet::new();
        for r in ws.roles.keys() {
            if let Some(role) = self.workspace_role(m, w, ws, r, names) {
                agents_in_use.extend(role.agents.iter().copied());
            }
        }
        self.mounts(w, ws, &agents_in_use);
    }

    /// One instance `r` of workspace `w`: its own auth and env, a container name no other
    /// instance maps to, a declared role, and an agent that role allows. Its role, when
    /// declared (then its agents are in use in the workspace).
    fn workspace_role<'m>(
        &mut self,
        m: &'m Manifest,
        w: &str,
        ws: &Workspace,
        r: &str,
        names: &mut BTreeMap<String, String>,
    ) -> Option<&'m Role> {
        let inst = &ws.roles[r];
        let here = ["workspaces", w, "roles", r];
        self.auth(&[&here[..], &["auth"]].concat(), &inst.auth);
        self.env(&[&here[..], &["env"]].concat(), &inst.env);
        if let Some(host) = &inst.host {
            self.placement(m, &[&here[..], &["host"]].concat(), host);
        }

        let container = container_name(w, r);
        let instance = format!("workspaces.{w}.roles.{r}");
        if let Some(other) = names.insert(container.clone(), instance.clone()) {
            self.report(
                &here,
                format!("{instance} and {other} both map to container name `{container}`"),
            )
            .hint = Some("rename one of the workspaces or roles".to_owned());
        }

        let Some(role) = m.roles.get(r) else {
            let declared: Vec<&str> = m.roles.keys().map(String::as_str).collect();
            self.undeclared(&here, "role", r, &declared);
            return None;
        };
        self.model_env(m, w, r, role);
        self.instance_agent(w, ws, r, role, &instance);
        Some(role)
    }

    /// The key at `here` names `name`, a `kind` (role, host) that is not among `declared`:
    /// say which are, and which one was likely meant.
    fn undeclared(
        &mut self,
        here: &[&str],
        kind: &str,
        name: &str,
        declared: &[&str],
    ) -> &mut Problem {
        let guess = closest(name, declared.iter().copied())
            .map(|g| format!("did you mean `{g}`? "))
            .unwrap_or_default();
        let list = if declared.is_empty() {
            format!("no {kind}s are declared")
        } else {
            format!("declared {kind}s: {}", declared.join(", "))
        };
        let shown = render_path(here);
        self.report(
            here,
            format!("{shown}: no {kind} `{name}` is declared; {guess}{list}"),
        )
    }

    /// A `host = "…"` (at `here`) must name `local` or a `[hosts.NAME]`.
    fn placement(&mut self, m: &Manifest, here: &[&str], host: &str) {
        if host == LOCAL || m.hosts.contains_key(host) {
            return;
        }
        let declared: Vec<&str> = std::iter::once(LOCAL)
            .chain(m.hosts.keys().map(String::as_str))
            .collect();
        self.undeclared(here, "host", host, &declared).hint = Some(format!(
            "declare it as [hosts.{host}] with `docker = \"ssh://…\"`, or name one of the declared hosts"
        ));
    }

    /// The agent instance `r` of workspace `w` runs (its own, else the workspace default)
    /// must be one its role lists.
    fn instance_agent(&mut self, w: &str, ws: &Workspace, r: &str, role: &Role, instance: &str) {
        let listed = || {
            let names: Vec<&str> = role.agents.iter().map(|a| a.name()).collect();
            format!("roles.{r}.agents ({})", names.join(", "))
        };
        match (ws.roles[r].agent, ws.agent) {
            (Some(a), _) if !role.agents.contains(&a) => {
                self.report(
                    &["workspaces", w, "roles", r, "agent"],
                    format!("{instance}.agent: `{a}` is not in {}", listed()),
                );
            }
            // An instance override makes the workspace default irrelevant for it.
            (None, Some(a)) if !role.agents.contains(&a) => {
                self.report(
                    &["workspaces", w, "agent"],
                    format!(
                        "workspaces.{w}.agent: `{a}` is not in {} (instance {instance})",
                        listed()
                    ),
                )
                .hint = Some(format!(
                    "add `{a}` to roles.{r}.agents, or set `agent` on workspaces.{w}.roles.{r}"
                ));
            }
            _ => {}
        }
    }

    /// An agent that takes its model from env in its mode (kimi-code in api_key mode: Kimi
    /// Code reads `KIMI_MODEL_NAME` next to `KIMI_MODEL_API_KEY`, and neither works alone)
    /// needs the role's `model` or the variable in one of the instance's env layers. Only
    /// names are looked at: whether the variable resolves non-empty is `plan`'s business.
    fn model_env(&mut self, m: &Manifest, w: &str, r: &str, role: &Role) {
        let layers = m.env_layers(w, r);
        for &agent in &role.agents {
            let Some((mode, path)) = m
                .auth_scopes(w, r)
                .into_iter()
                .find_map(|(t, _, p)| t.get(agent).and_then(|a| a.mode()).map(|mode| (mode, p)))
            else {
                continue; // the default, sync, passes the model as a flag
            };
            let Some(var) = agent.model_env(mode) else {
                continue;
            };
            let has_model = role
                .agent_settings(agent)
                .is_some_and(|s| s.model.is_some());
            if has_model || layers.iter().any(|(_, l)| l.contains_key(var)) {
                continue;
            }
            let mut path: Vec<&str> = path.iter().map(String::as_str).collect();
            path.push(agent.name());
            let scope = render_path(&path);
            path.push("mode");
            self.report(
                &path,
                format!(
                    "workspaces.{w}.roles.{r}: {agent} uses auth mode '{mode}' (set by {scope}) but has no model; in that mode {agent} reads its model from {var} next to {}",
                    agent.info().api_key_env
                ),
            )
            .hint = Some(format!(
                "set `model = \"…\"` under [roles.{r}.{agent}] (jackin passes it as {var}), or set {var} in one of the instance's env tables"
            ));
        }
    }

    fn mounts(&mut self, w: &str, ws: &Workspace, agents: &BTreeSet<AgentKind>) {
        // Normalised dst → index of the first mount using it.
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (i, mount) in ws.mounts.iter().enumerate() {
            let index = i.to_string();
            let path = ["workspaces", w, "mounts", index.as_str(), "dst"];
            let shown = render_path(&path);
            let dst = &mount.dst;
            if !dst.starts_with('/') {
                self.report(&path, format!("{shown}: `{dst}` must be an absolute path"));
                continue;
            }
            if Path::new(dst)
                .components()
                .any(|c| c == Component::ParentDir)
            {
                self.report(&path, format!("{shown}: `{dst}` must not contain `..`"));
                continue;
            }
            let norm = normalize_dst(dst);
            if let Some(j) = seen.get(&norm) {
                self.report(
                    &path,
                    format!("{shown}: `{dst}` is already mounted by mounts[{j}]"),
                );
                continue;
            }
            seen.insert(norm.clone(), i);
            for agent in agents {
                let target = agent.info().target;
                if norm == target || norm.starts_with(&format!("{target}/")) {
                    self.report(
                        &path,
                        format!("{shown}: `{dst}` is inside {agent}'s handoff directory {target}, where jackin mounts credentials"),
                    )
                    .hint = Some("mount somewhere outside the agents' handoff directories".to_owned());
                }
            }
        }
    }
}

/// The schemes of a `[hosts.NAME] docker` address, as `DOCKER_HOST` takes them.
const SCHEMES: [&str; 4] = ["ssh://", "tcp://", "https://", "unix:///"];
/// Those that speak TLS, so `tls` means something.
const TLS_SCHEMES: [&str; 2] = ["tcp://", "https://"];
const ADDRESS_HINT: &str = "write it as DOCKER_HOST would, e.g. `ssh://ops@gpu-1`, `tcp://gpu-1:2376` or `unix:///var/run/docker.sock`";

/// The scheme of a Docker engine address (one of [`SCHEMES`]) with something after it, or
/// what is wrong. Never the whole address: it may carry a user name.
fn docker_scheme(address: &str) -> Result<&'static str, String> {
    if let Some(scheme) = SCHEMES.iter().find(|s| address.starts_with(*s)) {
        return if address.len() > scheme.len() {
            Ok(scheme)
        } else {
            Err(format!("`{scheme}` names no engine"))
        };
    }
    match address.split_once("://") {
        Some(("unix", _)) => {
            Err("a unix socket address takes an absolute path (`unix:///…`)".to_owned())
        }
        Some((scheme, _)) => Err(format!("unsupported scheme `{scheme}://`")),
        None => Err("the address has no scheme".to_owned()),
    }
}

const NAME_RULE: &str = "use lowercase letters, digits and `-`, starting with a letter or digit";

/// Workspace, role and host names: `[a-z0-9][a-z0-9-]*`.
fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Project names become lock-file names: `[A-Za-z0-9][A-Za-z0-9._-]*`.
fn is_project_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// `[A-Za-z_][A-Za-z0-9_]*`.
fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `/a//b/./` and `/a/b` are the same mount point.
fn normalize_dst(dst: &str) -> String {
    let parts: Vec<&str> = dst
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    format!("/{}", parts.join("/"))
}
