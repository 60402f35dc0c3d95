//! What observe looks at in a handoff, and nothing else: the paths the file rules decide on
//! ([`managed_paths`]) and the first-run seed paths ([`seeds`]), whose presence alone is
//! looked at. Observe owns this list, and the planner reads it from here: whatever else the
//! container keeps in its handoff is never looked at, so it costs nothing and cannot trip
//! jackin.

use super::{tokens, AgentFiles, HostLogin, MadeFile};
use crate::agents::{AgentKind, AuthMode, OwnedKeys, Seed};
use crate::bounded::Hasher;
use crate::desired::{AgentAuth, InstanceSpec};
use crate::handoff::{AgentHandoff, Seen};
use crate::ledger::{Hashed, Ledger};
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

/// A handoff as observe looks at it: an agent's folder on this machine, or what was read of
/// its volume through the engine that holds it (`super::volumes`). The rules below are the
/// same for both.
pub trait Look {
    /// What `rel` holds now (`None`: nothing), hashed (of the owned `keys` only, for a shared
    /// document) unless `prior`'s stat data says it is unchanged.
    fn probe(
        &self,
        rel: &RelPath,
        prior: Option<&Hashed>,
        hasher: &mut Hasher,
        keys: Option<&OwnedKeys>,
    ) -> Option<Seen>;
    /// Whether anything is at `rel`.
    fn exists(&self, rel: &RelPath) -> bool;
    /// The bytes at `rel` when it is a small regular file.
    fn read(&self, rel: &RelPath) -> Option<Vec<u8>>;
}

impl Look for AgentHandoff {
    fn probe(
        &self,
        rel: &RelPath,
        prior: Option<&Hashed>,
        hasher: &mut Hasher,
        keys: Option<&OwnedKeys>,
    ) -> Option<Seen> {
        AgentHandoff::probe(self, rel, prior, hasher, keys)
    }
    fn exists(&self, rel: &RelPath) -> bool {
        AgentHandoff::exists(self, rel)
    }
    fn read(&self, rel: &RelPath) -> Option<Vec<u8>> {
        AgentHandoff::read(self, rel)
    }
}

/// Every path observe looks at in one agent's handoff: the managed paths, and the login and
/// seed paths whose presence alone counts. What a volume's engine is asked for.
pub fn wanted(
    spec: &InstanceSpec,
    auth: &AgentAuth,
    files: &AgentFiles,
    ledger: &Ledger,
) -> BTreeSet<RelPath> {
    let agent = auth.agent;
    let mut paths = managed_paths(auth.mode, agent, files.host.as_ref(), &files.made, ledger);
    let logins = agent.info().entries.iter().filter(|e| e.login);
    paths.extend(logins.map(|e| RelPath::catalogue(e.name)));
    paths.extend(seeds(spec, auth).iter().map(|s| RelPath::catalogue(s.path)));
    paths
}

/// Look at one agent's handoff: exactly the paths the rules read, whether the files it
/// forwarded hold a token still, and whether anything is at its login and seed paths.
pub fn look(
    handoff: &impl Look,
    files: &mut AgentFiles,
    spec: &InstanceSpec,
    auth: &AgentAuth,
    ledger: &Ledger,
    hasher: &mut Hasher,
) {
    let agent = auth.agent;
    let paths = managed_paths(auth.mode, agent, files.host.as_ref(), &files.made, ledger);
    for rel in paths {
        let prior = ledger.get(agent, &rel).map(|e| &e.target);
        // A shared document is compared on the keys jackin owns in it, nothing else.
        let keys = match files.made.get(&rel).map(|m| &m.content) {
            Some(crate::agents::Content::Keys(k)) => Some(k),
            _ => None,
        };
        if let Some(seen) = handoff.probe(&rel, prior, hasher, keys) {
            files.handoff.insert(rel, seen);
        }
    }
    files.blanked = blanked(handoff, &files.handoff, agent, ledger);
    occupied(files, handoff, spec, auth, ledger);
}

/// What is already at the agent's login paths jackin did not put there (the container's own
/// login), and at its seed paths.
fn occupied(
    files: &mut AgentFiles,
    handoff: &impl Look,
    spec: &crate::desired::InstanceSpec,
    auth: &crate::desired::AgentAuth,
    ledger: &Ledger,
) {
    let agent = auth.agent;
    // Something is at `rel`: already probed, or looked at now (one stat, nothing read).
    let present = |rel: &RelPath| files.handoff.contains_key(rel) || handoff.exists(rel);
    for entry in agent.info().entries.iter().filter(|e| e.login) {
        let rel = RelPath::catalogue(entry.name);
        let forwarded = ledger.of(agent).any(|(p, _)| p.is_at_or_below(&rel));
        if !forwarded && present(&rel) {
            files.own_login.push(rel);
        }
    }
    for seed in seeds(spec, auth) {
        let rel = RelPath::catalogue(seed.path);
        if present(&rel) {
            files.occupied.insert(rel);
        }
    }
}

/// Forwarded login files that changed in the container and hold no token any more: only
/// those are read (bounded), and only their token-ness is kept.
fn blanked(
    handoff: &impl Look,
    seen: &BTreeMap<RelPath, Seen>,
    agent: AgentKind,
    ledger: &Ledger,
) -> BTreeSet<RelPath> {
    let login = |rel: &RelPath| {
        agent
            .info()
            .entries
            .iter()
            .filter(|e| e.login)
            .any(|e| rel.is_at_or_below(&RelPath::catalogue(e.name)))
    };
    seen.iter()
        .filter(|(rel, t)| {
            let changed = |l: &crate::ledger::LedgerEntry| {
                matches!(t, Seen::File(h) if h.sha256 != l.target.sha256)
            };
            login(rel) && ledger.get(agent, rel).is_some_and(changed)
        })
        .filter(|(rel, _)| handoff.read(rel).is_some_and(|b| tokens::blanked(&b)))
        .map(|(rel, _)| rel.clone())
        .collect()
}
