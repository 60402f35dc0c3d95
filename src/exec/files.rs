//! Carrying out one instance's file steps and recording them in its ledger.
//!
//! Separate from the container steps so the three-way rules can be exercised end to end on
//! a real filesystem without Docker (see the property test in `tests/handoff_props.rs`).

use super::store::Store;
use crate::fingerprint::{read_host_file, sha256_hex};
use crate::ledger::{now_ns, FileStat, Hashed, Ledger, LedgerEntry};
use crate::observed::{ledger_key, HandoffError, InstanceState};
use crate::paths::JackinHome;
use crate::plan::{ContainerAction, FileAction, FileStep, InstancePlan, Summary};
use crate::report::{Event, Reporter};

/// Apply `inst`'s file steps, then save the ledger when it changed (for declared instances),
/// with `restart_owed` set when a restart follows: the intent survives a crash.
pub fn apply(
    home: &JackinHome,
    store: &Store,
    inst: &InstancePlan,
    state: Option<&InstanceState>,
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
    let mut changed = false;
    for f in &inst.files {
        let handoff = home.handoff_dir(name, f.agent);
        let target = handoff.join(&f.path);
        let key = ledger_key(f.agent, &f.path);
        match f.action {
            FileAction::Keep => applied.kept += 1,
            FileAction::Copy => {
                ledger.files.insert(key, copy(f, &target, store)?);
                changed = true;
                applied.copy += 1;
            }
            FileAction::Purge => {
                store.remove(&target, &handoff)?;
                ledger.files.remove(&key);
                changed = true;
                applied.purge += 1;
            }
            FileAction::Adopt => {
                let files = state.and_then(|s| s.agents.get(&f.agent));
                let host = files
                    .and_then(|a| a.host.as_ref())
                    .and_then(|h| h.files.get(&f.path));
                if let (Some(h), Some(t)) = (host, files.and_then(|a| a.handoff.get(&f.path))) {
                    let entry = LedgerEntry {
                        source: h.hashed.clone(),
                        target: t.clone(),
                    };
                    ledger.files.insert(key, entry);
                }
            }
            FileAction::Forget => {
                ledger.files.remove(&key);
            }
        }
        reporter.event(Event::File {
            container: name.into(),
            agent: f.agent,
            path: f.path.clone(),
            action: f.action,
            cause: f.cause,
            fingerprint: f.host.clone().or_else(|| f.handoff.clone()),
        });
    }
    if changed {
        ledger.last_sync = Some(now_ns() / 1_000_000_000);
    }
    let restarting = inst
        .container_step
        .as_ref()
        .is_some_and(|s| s.action == ContainerAction::Restart);
    ledger.restart_owed |= restarting;
    if ledger != before && declared {
        save_ledger(home, store, name, &ledger)?;
    }
    Ok(ledger)
}

pub fn save_ledger(
    home: &JackinHome,
    store: &Store,
    name: &str,
    ledger: &Ledger,
) -> Result<(), HandoffError> {
    store
        .write(&home.ledger_path(name), &ledger.to_bytes())
        .map(|_| ())
}

/// Copy one host file: hash the bytes actually read, write atomically, record both sides.
fn copy(
    f: &FileStep,
    target: &std::path::Path,
    store: &Store,
) -> Result<LedgerEntry, HandoffError> {
    let source = f.source.as_ref().expect("copy steps carry their host path");
    let io = |e| HandoffError::Io {
        path: source.clone(),
        source: e,
    };
    let at_ns = now_ns();
    let bytes = read_host_file(source).map_err(io)?;
    let host_stat = std::fs::symlink_metadata(source).map_err(io)?;
    let sha = sha256_hex(&bytes);
    let (target_stat, _) = store.write(target, &bytes)?;
    Ok(LedgerEntry {
        source: Hashed {
            sha256: sha.clone(),
            stat: FileStat::of(&host_stat),
            at_ns,
        },
        target: Hashed {
            sha256: sha,
            stat: target_stat,
            at_ns,
        },
    })
}

/// Carry fresher stat data for unchanged content into the ledger, so a file hashed while
/// "racy" (modified in the tick it was hashed) is trusted by the stat fast path next time.
fn refresh_hashes(ledger: &mut Ledger, state: &InstanceState) {
    for (agent, files) in &state.agents {
        let prefix = format!("{}/", agent.name());
        for (key, entry) in ledger.files.iter_mut() {
            let Some(rel) = key.strip_prefix(&prefix) else {
                continue;
            };
            let host = files.host.as_ref().and_then(|h| h.files.get(rel));
            if let Some(h) = host.filter(|h| h.hashed.sha256 == entry.source.sha256) {
                entry.source = h.hashed.clone();
            }
            if let Some(t) = files
                .handoff
                .get(rel)
                .filter(|t| t.sha256 == entry.target.sha256)
            {
                entry.target = t.clone();
            }
        }
    }
}
