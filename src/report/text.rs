//! The text plan (SPEC §6): one block per instance, one line per action with its reason and
//! fingerprints, and a summary line. Colour only on a terminal, never with `NO_COLOR`.

use super::PassResult;
use crate::plan::{
    ContainerAction, ContainerCause, FileAction, FileCause, FileStep, InstancePlan, Plan, Summary,
};
use std::fmt::Write as _;
use std::io::IsTerminal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    color: bool,
}

impl Style {
    pub fn plain() -> Self {
        Style { color: false }
    }

    /// Colour for stdout: when it is a terminal and `NO_COLOR` is unset or empty.
    pub fn detect() -> Self {
        Self::on(std::io::stdout().is_terminal())
    }

    /// Colour for stderr, decided by stderr itself (`jackin apply > log` still colours its
    /// warnings on the terminal, and `2> log` keeps escapes out of the log).
    pub fn detect_stderr() -> Self {
        Self::on(std::io::stderr().is_terminal())
    }

    fn on(terminal: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: !no_color && terminal,
        }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
    pub fn green(&self, s: &str) -> String {
        self.paint("32", s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }
    pub fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
}

pub fn container_verb(a: ContainerAction) -> &'static str {
    match a {
        ContainerAction::Create => "create",
        ContainerAction::Recreate => "recreate",
        ContainerAction::Start => "start",
        ContainerAction::Restart => "restart",
        ContainerAction::Remove => "remove",
    }
}

pub fn container_cause(c: &ContainerCause) -> String {
    match c {
        ContainerCause::Missing => "container does not exist".into(),
        ContainerCause::SpecChanged { changes } => changes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
        ContainerCause::NotRunning { state } => format!("container is {state}"),
        ContainerCause::HandoffChanged => "handoff files changed".into(),
        ContainerCause::RestartOwed => "an interrupted apply owed a restart".into(),
        ContainerCause::Replaced => "replaced on request".into(),
        ContainerCause::NotDeclared => "no longer declared".into(),
        ContainerCause::Moved { to } => format!(
            "the instance moved to host {to}, where it is created first; what this container rotated is not carried over"
        ),
    }
}

pub fn file_verb(a: FileAction) -> &'static str {
    match a {
        FileAction::Copy => "copy",
        FileAction::Purge => "purge",
        FileAction::Keep => "keep",
        FileAction::Adopt => "adopt",
        FileAction::Forget => "forget",
        FileAction::Seed => "seed",
    }
}

pub fn file_cause(c: FileCause) -> &'static str {
    match c {
        FileCause::New => "new on host",
        FileCause::HostChanged => "changed on host",
        FileCause::Repair => "missing from handoff",
        FileCause::RotatedInContainer => "changed inside the container, host unchanged",
        FileCause::LoggedOut => {
            "logged out inside the container (no token left); the unchanged host login is the same spent grant"
        }
        FileCause::HostDeleted => "deleted on host",
        FileCause::HostDeletedRotated => "deleted on host, but changed inside the container",
        FileCause::ModeApiKey => "auth mode api_key",
        FileCause::ModeOauthToken => "auth mode oauth_token",
        FileCause::ModeIgnore => "auth mode ignore",
        FileCause::FirstRun => "first-run setting",
        FileCause::Made => "made by jackin for the agent",
        FileCause::MadeChanged => "what jackin makes for the agent changed",
    }
}

fn symbol(a: ContainerAction) -> &'static str {
    match a {
        ContainerAction::Create => "+",
        ContainerAction::Recreate => "-/+",
        ContainerAction::Start | ContainerAction::Restart => "~",
        ContainerAction::Remove => "-",
    }
}

/// `, 2 seeded`-style part shown only when there is something to say.
fn optional(n: usize, what: &str) -> String {
    if n > 0 {
        format!(", {n} {what}")
    } else {
        String::new()
    }
}

/// What an apply (or a whole watch) did: `1 created, 0 recreated, … 0 kept`.
pub fn applied_counts(s: &Summary) -> String {
    format!(
        "{} created, {} recreated, {} restarted, {} removed; {} files copied, {} purged{}, {} kept",
        s.create,
        s.recreate,
        s.restart,
        s.remove,
        s.copy,
        s.purge,
        optional(s.seed, "seeded"),
        s.kept
    )
}

/// The last line of an apply: whether it completed, what it did, how long it took.
pub fn summary_line(applied: &Summary, failed: usize, duration_ms: u128, style: Style) -> String {
    let head = if failed > 0 {
        style.red(&format!("Apply incomplete: {failed} instance(s) failed."))
    } else {
        style.green("Apply complete!")
    };
    format!(
        "{head} {}, {} started, in {:.1}s.",
        applied_counts(applied),
        applied.start,
        duration_ms as f64 / 1000.0
    )
}

/// `jk-app-smith (app × smith, agent kimi)`: how plan and status name an instance.
/// `jk-a-r (a × r, agent kimi)`, with `on host H` for an instance not on `local`.
pub fn instance_header(
    style: Style,
    container: &str,
    workspace: &str,
    role: &str,
    agent: &str,
    host: &str,
) -> String {
    let on = if host == crate::desired::hosts::LOCAL {
        String::new()
    } else {
        format!(", on host {host}")
    };
    format!(
        "{} ({workspace} × {role}, agent {agent}{on})",
        style.bold(container)
    )
}

pub fn render_plan(plan: &Plan, style: Style) -> String {
    let mut out = String::new();
    for image in &plan.images {
        let what = match &image.action {
            crate::plan::ImageAction::Pull => "pull".to_owned(),
            crate::plan::ImageAction::Build { context, .. } => format!("build from {context}"),
        };
        let _ = writeln!(out, "image {}: {what}", image.image);
    }
    for inst in &plan.instances {
        render_instance(&mut out, inst, style);
    }
    render_totals(&mut out, plan);
    out
}

/// One instance's block: its header, container step, files, notes and problems. An instance
/// with nothing to show (adopted and forgotten files are bookkeeping) gets no block at all.
fn render_instance(out: &mut String, inst: &InstancePlan, style: Style) {
    let visible: Vec<_> = inst
        .files
        .iter()
        .filter(|f| !matches!(f.action, FileAction::Adopt | FileAction::Forget))
        .collect();
    if inst.container_step.is_none()
        && visible.is_empty()
        && inst.notes.is_empty()
        && inst.problems.is_empty()
    {
        return;
    }
    let _ = writeln!(
        out,
        "{}",
        instance_header(
            style,
            &inst.container,
            &inst.workspace,
            &inst.role,
            &inst.agent,
            &inst.host
        )
    );
    if let Some(step) = &inst.container_step {
        let _ = writeln!(out, "{}", container_line(step, style));
    }
    for f in visible {
        let _ = writeln!(
            out,
            "    {} {}/{}: {}{}",
            file_verb(f.action),
            f.agent,
            f.path,
            file_cause(f.cause),
            fingerprints(f)
        );
    }
    for n in &inst.notes {
        let _ = writeln!(out, "    note: {n}");
    }
    for p in &inst.problems {
        let line = format!("    {} {}", crate::error::head(p.code), p.message);
        let _ = writeln!(out, "{}", style.red(&line));
        if !p.hint.is_empty() {
            let _ = writeln!(out, "      {}", crate::error::what_to_try(&p.hint));
        }
    }
}

/// `  + create container: …`, coloured by what it does.
fn container_line(step: &crate::plan::ContainerStep, style: Style) -> String {
    let line = format!(
        "  {} {} container: {}",
        symbol(step.action()),
        container_verb(step.action()),
        container_cause(&step.cause)
    );
    match step.action() {
        ContainerAction::Create => style.green(&line),
        ContainerAction::Remove => style.red(&line),
        _ => style.yellow(&line),
    }
}

/// ` [handoff → host]`-style fingerprints of a file step: the ones that say what it does.
fn fingerprints(f: &FileStep) -> String {
    match (f.action, &f.host, &f.handoff) {
        (FileAction::Copy, Some(h), Some(t)) => format!(" [{t} → {h}]"),
        (FileAction::Copy, Some(h), None) => format!(" [{h}]"),
        (FileAction::Keep, Some(h), Some(t)) => format!(" [host {h}, container {t}]"),
        (_, _, Some(t)) => format!(" [{t}]"),
        _ => String::new(),
    }
}

/// The plan's last line: what it will do in total, or that nothing needs doing.
fn render_totals(out: &mut String, plan: &Plan) {
    let s = &plan.summary;
    let troubled = plan.troubled().count();
    if !plan.has_changes() {
        let _ = writeln!(
            out,
            "No changes. {} instance(s) match the desired state{}{}.",
            plan.instances.len() - troubled,
            if troubled > 0 {
                format!("; {troubled} cannot converge (errors above)")
            } else {
                String::new()
            },
            if s.kept > 0 {
                format!(" ({} file(s) kept as changed inside containers)", s.kept)
            } else {
                String::new()
            }
        );
        return;
    }
    let _ = writeln!(
        out,
        "Plan: {} to create, {} to recreate, {} to restart{}, {} to remove; {} files to copy, {} to purge{}, {} kept.",
        s.create,
        s.recreate,
        s.restart,
        optional(s.start, "to start"),
        s.remove,
        s.copy,
        s.purge,
        optional(s.seed, "to seed"),
        s.kept
    );
}

/// `HH:MM:SSZ` (UTC) for watch log lines: a long-running process needs times, and a date
/// library is not worth it for this one prefix (journald adds full dates anyway).
pub fn clock() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let day = secs % 86_400;
    format!("{:02}:{:02}:{:02}Z", day / 3600, day % 3600 / 60, day % 60)
}

/// What watch watches, stamped: said at start and whenever the set changes.
pub fn watching_line(backend: &str, paths: &[String], project: &str) -> String {
    format!(
        "{} watching {} path(s) for project {project} ({backend}): {}",
        clock(),
        paths.len(),
        paths.join(", ")
    )
}

/// Watch's last line, on a signal: how many passes, and what they did in total.
pub fn watch_summary_line(
    passes: u64,
    failed_passes: u64,
    applied: &Summary,
    signal: &str,
) -> String {
    format!(
        "{} {signal}: stopped after {passes} pass(es), {failed_passes} failed; in total {}.",
        clock(),
        applied_counts(applied)
    )
}

/// One line per watch pass: when, why, what changed, how long it took.
pub fn pass_line(
    pass: u64,
    triggers: &[String],
    result: PassResult,
    applied: &Summary,
    duration_ms: u128,
    style: Style,
) -> String {
    let what = match result {
        PassResult::NoChanges => "no changes".to_owned(),
        PassResult::Failed => style.red("failed"),
        PassResult::Changed | PassResult::Incomplete => {
            let mut parts = Vec::new();
            for (n, verb) in [
                (applied.create, "created"),
                (applied.recreate, "recreated"),
                (applied.start, "started"),
                (applied.restart, "restarted"),
                (applied.remove, "removed"),
            ] {
                if n > 0 {
                    parts.push(format!("{n} {verb}"));
                }
            }
            for (n, verb) in [
                (applied.copy, "copied"),
                (applied.purge, "purged"),
                (applied.seed, "seeded"),
            ] {
                if n > 0 {
                    parts.push(format!("{n} file(s) {verb}"));
                }
            }
            let head = if result == PassResult::Incomplete {
                style.red("incomplete")
            } else {
                style.green("converged")
            };
            if parts.is_empty() {
                head
            } else {
                format!("{head}: {}", parts.join(", "))
            }
        }
    };
    format!(
        "{} pass {pass} [{}]: {what} ({duration_ms} ms)",
        clock(),
        triggers.join("; ")
    )
}
