//! What observe looks at in a handoff, and nothing else: the paths the file rules decide on
//! ([`managed_paths`]) and the first-run seed paths ([`seeds`]), whose presence alone is
//! looked at. Observe owns this list, and the planner reads it from here: whatever else the
//! container keeps in its handoff is never looked at, so it costs nothing and cannot trip
//! jackin.

use super::{HostLogin, MadeFile};
use crate::agents::{AgentKind, AuthMode, Seed};
use crate::desired::{AgentAuth, InstanceSpec};
use crate::ledger::Ledger;
use crate::words::RelPath;
use std::collections::{BTreeMap, BTreeSet};

/// The handoff paths the file rules (`plan/files.rs`) decide on, for one agent: what jackin forwarded (the
/// ledger), what it makes ([`MadeFile`]s) and, in sync mode with a login present, what the
/// host login holds.
pub fn managed_paths(
    mode: AuthMode,
    agent: AgentKind,
    host: Option<&HostLogin>,
    made: &BTreeMap<RelPath, MadeFile>,
    ledger: &Ledger,
) -> BTreeSet<RelPath> {
    let mut paths: BTreeSet<RelPath> = ledger.of(agent).map(|(p, _)| p).collect();
    paths.extend(made.keys().cloned());
    if mode == AuthMode::Sync {
        if let Some(h) = host.filter(|h| h.present) {
            paths.extend(h.files.keys().cloned());
        }
    }
    paths
}

/// The first-run files of one agent of one instance: observe records whether anything is at
/// their paths (without reading it: it is the container's), the planner seeds what is not.
pub fn seeds(spec: &InstanceSpec, auth: &AgentAuth) -> Vec<Seed> {
    auth.agent.seeds(spec.workdir.as_deref())
}
