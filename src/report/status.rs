//! `jackin status`: every instance with its container state, agent, effective auth (and the
//! scope that set it), handoff file count, last sync and pending drift — built from the same
//! observation and plan as `apply`, so "drift" means exactly "what apply would do".

use super::text::{container_verb, instance_header, Style};
use super::time;
use crate::observed::Observed;
use crate::plan::{AuthView, ContainerAction, FileAction, Plan, Problem, FORMAT_VERSION};
use schemars::JsonSchema;
use serde::Serialize;
use std::fmt::Write as _;
use std::time::SystemTime;

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Status {
    #[schemars(extend("const" = FORMAT_VERSION))]
    pub format_version: u32,
    pub project: String,
    pub instances: Vec<InstanceStatus>,
    /// The plan's warnings (e.g. a login the container made that may shadow its api key).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct InstanceStatus {
    pub container: String,
    /// The host it is placed on (SPEC v3 §9).
    pub host: String,
    pub workspace: String,
    pub role: String,
    pub agent: String,
    /// `running`, `exited`, … or `missing`; an agent that exited right after its start is
    /// `exited (code 0) 0.2 s after start` (SPEC v3 §5).
    pub state: String,
    /// When its agent exited right after its start: the exit code, the times and its last
    /// lines (secrets redacted, control characters escaped). Added within `format_version` 1.
    pub exited_at_once: Option<crate::observed::QuickExit>,
    pub declared: bool,
    pub auth: Vec<AuthView>,
    /// Handoff entries jackin manages (forwarded, or to forward) that are present now.
    pub handoff_files: usize,
    /// Unix seconds of the last apply that changed the handoff.
    pub last_sync: Option<i64>,
    /// The same instant as RFC 3339 in UTC (`2026-11-26T16:15:29Z`); added within
    /// `format_version` 1, next to `last_sync`, which stays.
    #[schemars(extend("format" = "date-time"))]
    pub last_sync_at: Option<String>,
    /// What apply would do, e.g. `restart`, `copy 1 file(s)`; empty when converged.
    pub drift: Vec<String>,
    /// What keeps the instance from converging (content its container put in the handoff).
    pub problems: Vec<Problem>,
}

impl Status {
    pub fn new(plan: &Plan, observed: &Observed) -> Self {
        let instances = plan
            .instances
            .iter()
            .map(|i| {
                let state = observed.instances.get(&i.container);
                let mut drift = Vec::new();
                if let Some(step) = &i.container_step {
                    drift.push(container_verb(step.action()).to_owned());
                }
                for (action, word) in [
                    (FileAction::Copy, "copy"),
                    (FileAction::Purge, "purge"),
                    (FileAction::Seed, "seed"),
                ] {
                    let n = i.files.iter().filter(|f| f.action == action).count();
                    if n > 0 {
                        drift.push(format!("{word} {n} file(s)"));
                    }
                }
                let last_sync = state.and_then(|s| s.ledger.last_sync);
                let removing =
                    matches!(&i.container_step, Some(s) if s.action() == ContainerAction::Remove);
                InstanceStatus {
                    container: i.container.clone(),
                    host: i.host.clone(),
                    workspace: i.workspace.clone(),
                    role: i.role.clone(),
                    agent: i.agent.clone(),
                    state: match observed.containers.get(&i.container) {
                        _ if observed.unreachable.contains_key(&i.host) => "unknown".to_owned(),
                        None => "missing".to_owned(),
                        Some(c) => c.quick_exit.as_ref().map_or(c.state.clone(), |q| q.state()),
                    },
                    exited_at_once: observed
                        .containers
                        .get(&i.container)
                        .and_then(|c| c.quick_exit.clone()),
                    declared: !removing,
                    auth: i.auth.clone(),
                    handoff_files: state
                        .map_or(0, |s| s.agents.values().map(|a| a.handoff.len()).sum()),
                    last_sync,
                    last_sync_at: last_sync.map(time::rfc3339),
                    drift,
                    problems: i.problems.clone(),
                }
            })
            .collect();
        Status {
            format_version: FORMAT_VERSION,
            project: plan.project.clone(),
            instances,
            warnings: plan.warnings.clone(),
        }
    }

    /// The text for people; times are shown relative to `now` (`synced 3 min ago`).
    pub fn render(&self, style: Style, now: SystemTime) -> String {
        let mut out = format!("project {}\n", style.bold(&self.project));
        for w in &self.warnings {
            let _ = writeln!(out, "{}", style.yellow(&format!("warning: {w}")));
        }
        for i in &self.instances {
            let _ = writeln!(
                out,
                "{}: {}{}",
                instance_header(
                    style,
                    &i.container,
                    &i.workspace,
                    &i.role,
                    &i.agent,
                    &i.host
                ),
                i.state,
                if i.declared {
                    ""
                } else {
                    " (no longer declared)"
                }
            );
            for a in &i.auth {
                let _ = writeln!(out, "    {}: {} (set by {})", a.agent, a.mode, a.set_by);
            }
            let synced = i.last_sync.map_or_else(
                || "never synced".to_owned(),
                |t| format!("synced {}", time::ago(t, now)),
            );
            let _ = writeln!(out, "    handoff: {} file(s), {synced}", i.handoff_files);
            for p in &i.problems {
                let line = format!("{} {}", crate::error::head(p.code), p.message);
                let _ = writeln!(out, "    {}", style.red(&line));
            }
            if i.drift.is_empty() {
                let _ = writeln!(out, "    {}", style.green("in sync"));
            } else {
                let _ = writeln!(
                    out,
                    "    {}",
                    style.yellow(&format!("drift: {}", i.drift.join(", ")))
                );
            }
        }
        out
    }
}
