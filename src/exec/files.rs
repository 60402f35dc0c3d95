//! Carrying out one instance's file steps and recording them in its ledger.
//!
//! Separate from the container steps so the three-way rules can be exercised end to end on
//! a real filesystem without Docker (see the property test in `tests/it/handoff_props.rs`).
//! Every handoff operation goes through [`crate::handoff`]'s directory handles.

use crate::agents::Content;
use crate::bounded;
use crate::fingerprint::sha256_hex;
use crate::handoff::{HandoffError, Owner, RelPath, Seen, Store};
use crate::ledger::{now_ns, FileStat, Hashed, Ledger, LedgerEntry};
use crate::observed::InstanceState;
use crate::plan::{ContainerAction, FileAction, FileStep, InstancePlan, Summary};
use crate::report::{Event, Reporter};
use std::collections::BTreeMap;

/// Apply `inst`'s file steps, then save the ledger when it changed (for declared instances),
/// with `restart_owed` set when a restart follows: the intent survives a crash.
pub fn apply(
    store: &Store,
    inst: &InstancePlan,
    state: Option<&InstanceState>,
    owner: Owner,
    declared: bool,
    reporter: &mut dyn Reporter,
    applied: &mut Summary,
) -> Result<Ledger, HandoffError> {
    let name = inst.container.as_str();
    let before = state.map(|s| s.ledger.clone()).unwrap_or_default();
    let mut ledger = before.clone();
    if let Some(state) = state {
        refresh_hashes(&mut ledger, state);
    }
    let mut steps = Steps {
        store,
        name,
        owner,
        handoffs: BTreeMap::new(),
        ledger,
        changed: false,
    };
    for f in &inst.files {
        steps.run(f, state, applied)?;
        reporter.event(Event::File {
            container: name.into(),
            agent: f.agent,
            path: f.path.clone(),
            action: f.action,
            cause: f.cause,
            fingerprint: f.host.clone().or_else(|| f.handoff.clone()),
        });
    }
    let mut ledger = steps.ledger;
    if steps.changed {
        ledger.last_sync = Some(now_ns() / 1_000_000_000);
    }
    let restarting = inst
        .container_step
        .as_ref()
        .is_some_and(|s| s.action() == ContainerAction::Restart);
    ledger.restart_owed |= restarting;
    if ledger != before && declared {
        store.save_ledger(name, &ledger)?;
    }
    Ok(ledger)
}

/// One instance's file steps as they are carried out: the handoff directories opened so
/// far, and the ledger as it becomes.
struct Steps<'a> {
    store: &'a Store,
    name: &'a str,
    owner: Owner,
    handoffs: BTreeMap<crate::agents::AgentKind, crate::handoff::AgentHandoff>,
    ledger: Ledger,
    /// Whether a file was written or removed (the ledger's `last_sync` moves).
    changed: bool,
}

impl Steps<'_> {
    fn run(
        &mut self,
        f: &FileStep,
        state: Option<&InstanceState>,
        applied: &mut Summary,
    ) -> Result<(), HandoffError> {
        let files = state.and_then(|s| s.agents.get(&f.agent));
        let seen = files.and_then(|a| a.handoff.get(&f.path));
        let (store, name, owner) = (self.store, self.name, self.owner);
        match f.action {
            FileAction::Keep => applied.kept += 1,
            FileAction::Copy => {
                let dir = handoff(&mut self.handoffs, store, name, f, owner)?;
                let entry = copy(f, dir, owner)?;
                self.ledger.insert(f.agent, &f.path, entry);
                self.changed = true;
                applied.copy += 1;
            }
            FileAction::Purge => {
                let dir = handoff(&mut self.handoffs, store, name, f, owner)?;
                let expect = match seen {
                    Some(Seen::File(h)) => Some(&h.stat),
                    _ => None,
                };
                let removed = dir.purge(&f.path, expect)?;
                self.ledger.remove(f.agent, &f.path);
                self.changed |= removed;
                applied.purge += usize::from(removed);
            }
            FileAction::Adopt => self.adopt(f, files, seen),
            FileAction::Forget => self.ledger.remove(f.agent, &f.path),
            FileAction::Seed => {
                // Never replaces: whatever the container made there since observe stays. Not
                // recorded in the ledger, so no mode ever purges it.
                let dir = handoff(&mut self.handoffs, store, name, f, owner)?;
                let bytes = match &f.content {
                    Some(Content::Bytes(b)) => b.as_slice(),
                    _ => unreachable!("seed steps carry their bytes"),
                };
                applied.seed += usize::from(dir.create_new(&f.path, bytes, owner)?);
            }
        }
        Ok(())
    }

    /// The handoff already holds the host's (or jackin's made) bytes: recorded as forwarded.
    fn adopt(
        &mut self,
        f: &FileStep,
        files: Option<&crate::observed::AgentFiles>,
        seen: Option<&Seen>,
    ) {
        let host = files.and_then(|a| {
            a.made.get(&f.path).map(|m| &m.hashed).or_else(|| {
                a.host
                    .as_ref()
                    .and_then(|h| h.files.get(&f.path))
                    .map(|h| &h.hashed)
            })
        });
        if let (Some(h), Some(Seen::File(t))) = (host, seen) {
            let entry = LedgerEntry {
                source: h.clone(),
                target: t.clone(),
            };
            self.ledger.insert(f.agent, &f.path, entry);
        }
    }
}

/// The agent's handoff directory, opened (and made, for `owner`) once per apply.
fn handoff<'a>(
    open: &'a mut BTreeMap<crate::agents::AgentKind, crate::handoff::AgentHandoff>,
    store: &Store,
    container: &str,
    f: &FileStep,
    owner: Owner,
) -> Result<&'a crate::handoff::AgentHandoff, HandoffError> {
    use std::collections::btree_map::Entry;
    Ok(match open.entry(f.agent) {
        Entry::Occupied(e) => e.into_mut(),
        Entry::Vacant(e) => e.insert(
            store
                .agent(container, f.agent, Some(owner))?
                .expect("created when missing"),
        ),
    })
}

/// Copy one host file, or write one jackin makes: hash the bytes actually read, write
/// atomically, record both sides.
fn copy(
    f: &FileStep,
    dir: &crate::handoff::AgentHandoff,
    owner: Owner,
) -> Result<LedgerEntry, HandoffError> {
    if let Some(content) = &f.content {
        return write_made(f, content, dir, owner);
    }
    let source = f.source.as_ref().expect("copy steps carry their host path");
    let io = |e| HandoffError::Storage {
        path: source.clone(),
        source: e,
    };
    let at_ns = now_ns();
    let mut file = bounded::open_host(source).map_err(io)?;
    let (bytes, host_meta) = bounded::read(&mut file).map_err(io)?;
    let sha = sha256_hex(&bytes);
    let target_stat = dir.write(&f.path, &bytes, owner)?;
    Ok(LedgerEntry {
        source: Hashed {
            sha256: sha.clone(),
            stat: FileStat::of(&host_meta),
            at_ns,
        },
        target: Hashed {
            sha256: sha,
            stat: target_stat,
            at_ns,
        },
    })
}

/// Write a file jackin makes. A shared document is merged: the container's current one is
/// read (bounded, no-follow) right before the atomic replace, so only the owned keys change.
/// Both ledger sides record the canonical form the three-way rule compares.
fn write_made(
    f: &FileStep,
    content: &Content,
    dir: &crate::handoff::AgentHandoff,
    owner: Owner,
) -> Result<LedgerEntry, HandoffError> {
    let at_ns = now_ns();
    let bytes = match content {
        Content::Bytes(b) => b.clone(),
        Content::Keys(keys) => keys.merge(dir.read(&f.path).as_deref()),
    };
    let sha = sha256_hex(&content.canonical());
    let stat = dir.write(&f.path, &bytes, owner)?;
    Ok(LedgerEntry {
        source: Hashed {
            sha256: sha.clone(),
            stat: FileStat::default(),
            at_ns,
        },
        target: Hashed {
            sha256: sha,
            stat,
            at_ns,
        },
    })
}

/// Carry fresher stat data for unchanged content into the ledger, so a file hashed while
/// "racy" (modified in the tick it was hashed) is trusted by the stat fast path next time.
fn refresh_hashes(ledger: &mut Ledger, state: &InstanceState) {
    for (agent, files) in &state.agents {
        let recorded: Vec<(RelPath, LedgerEntry)> =
            ledger.of(*agent).map(|(p, e)| (p, e.clone())).collect();
        for (rel, mut entry) in recorded {
            let host = files.host.as_ref().and_then(|h| h.files.get(&rel));
            if let Some(h) = host.filter(|h| h.hashed.sha256 == entry.source.sha256) {
                entry.source = h.hashed.clone();
            }
            if let Some(Seen::File(t)) = files.handoff.get(&rel) {
                if t.sha256 == entry.target.sha256 {
                    entry.target = t.clone();
                }
            }
            ledger.insert(*agent, &rel, entry);
        }
    }
}
