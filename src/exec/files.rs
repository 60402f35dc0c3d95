//! Carrying out one instance's file steps and recording them in its ledger.
//!
//! Separate from the container steps so the three-way rules can be exercised end to end on
//! a real filesystem without Docker (see the property test in `tests/it/handoff_props.rs`).
//! Every handoff operation goes through [`crate::handoff`]'s directory handles.

use crate::agents::{AgentKind, Content};
use crate::bounded;
use crate::fingerprint::sha256_hex;
use crate::handoff::{AgentHandoff, HandoffError, Kind, Owner, RelPath, Seen, Store};
use crate::ledger::{now_ns, FileStat, Hashed, Ledger, LedgerEntry};
use crate::observed::stat_of;
use crate::observed::InstanceState;
use crate::plan::{ContainerAction, FileAction, FileStep, InstancePlan, Summary};
use crate::remote::Found;
use crate::report::Event;
use crate::runtime::{Engine, PathStat};
use std::collections::BTreeMap;

/// Apply `inst`'s file steps through `handoff`, then save the ledger when it changed (for
/// declared instances), with `restart_owed` set when a restart follows: the intent survives a
/// crash.
#[allow(
    clippy::too_many_arguments,
    reason = "one instance's steps and where they go"
)]
pub async fn apply<H: Handoff>(
    store: &Store,
    handoff: &mut H,
    inst: &InstancePlan,
    state: Option<&InstanceState>,
    owner: Owner,
    declared: bool,
    report: &mut dyn FnMut(Event),
    applied: &mut Summary,
) -> Result<Ledger, HandoffError> {
    let name = inst.container.as_str();
    let before = state.map(|s| s.ledger.clone()).unwrap_or_default();
    let mut ledger = before.clone();
    if let Some(state) = state {
        refresh_hashes(&mut ledger, state);
    }
    let mut steps = Steps {
        handoff,
        owner,
        ledger,
        changed: false,
    };
    for f in &inst.files {
        steps.run(f, state, applied).await?;
        report(Event::File {
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
    match state {
        Some(state) if ledger != before && declared => store.save_ledger(&state.folder, &ledger)?,
        _ => {}
    }
    Ok(ledger)
}

/// Where one instance's file steps are carried out: its handoff folders on this machine
/// ([`Folders`]), or its volumes on an engine elsewhere ([`Volumes`], through that engine).
/// Both keep §4a's promises: nothing is written through a link, a running agent sees the old
/// file or the new one, a purge removes only the file jackin saw.
#[allow(async_fn_in_trait, reason = "awaited on the executor's one task")]
pub trait Handoff {
    /// Make `rel` hold `bytes` (0600, parents 0700, owned by `owner`), replacing what is
    /// there in one step; the target's stat afterwards when there is one to trust.
    async fn write(
        &mut self,
        agent: AgentKind,
        rel: &RelPath,
        bytes: &[u8],
        owner: Owner,
    ) -> Result<FileStat, HandoffError>;
    /// The bytes at `rel` when it is a small regular file (for a merge); `None` otherwise.
    async fn read(&mut self, agent: AgentKind, rel: &RelPath) -> Option<Vec<u8>>;
    /// Create `rel` only when nothing is there; whether it wrote.
    async fn create_new(
        &mut self,
        agent: AgentKind,
        rel: &RelPath,
        bytes: &[u8],
        owner: Owner,
    ) -> Result<bool, HandoffError>;
    /// Remove the file at `rel`, unless it is no longer the one observe saw (`seen`); whether
    /// anything was removed.
    async fn purge(
        &mut self,
        agent: AgentKind,
        rel: &RelPath,
        seen: Option<&Hashed>,
    ) -> Result<bool, HandoffError>;
}

/// An instance's handoff folders under `$JACKIN_HOME/data`, each opened (and made, for the
/// owner) once per apply.
pub struct Folders<'a> {
    pub store: &'a Store,
    pub container: &'a str,
    pub owner: Owner,
    open: BTreeMap<AgentKind, AgentHandoff>,
}

impl<'a> Folders<'a> {
    pub fn new(store: &'a Store, container: &'a str, owner: Owner) -> Self {
        Folders {
            store,
            container,
            owner,
            open: BTreeMap::new(),
        }
    }

    fn agent(&mut self, agent: AgentKind) -> Result<&AgentHandoff, HandoffError> {
        use std::collections::btree_map::Entry;
        Ok(match self.open.entry(agent) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(
                self.store
                    .agent(self.container, agent, Some(self.owner))?
                    .expect("created when missing"),
            ),
        })
    }
}

impl Handoff for Folders<'_> {
    async fn write(
        &mut self,
        agent: AgentKind,
        rel: &RelPath,
        bytes: &[u8],
        owner: Owner,
    ) -> Result<FileStat, HandoffError> {
        self.agent(agent)?.write(rel, bytes, owner)
    }

    async fn read(&mut self, agent: AgentKind, rel: &RelPath) -> Option<Vec<u8>> {
        self.agent(agent).ok()?.read(rel)
    }

    async fn create_new(
        &mut self,
        agent: AgentKind,
        rel: &RelPath,
        bytes: &[u8],
        owner: Owner,
    ) -> Result<bool, HandoffError> {
        self.agent(agent)?.create_new(rel, bytes, owner)
    }

    async fn purge(
        &mut self,
        agent: AgentKind,
        rel: &RelPath,
        seen: Option<&Hashed>,
    ) -> Result<bool, HandoffError> {
        self.agent(agent)?.purge(rel, seen.map(|h| &h.stat))
    }
}

/// An instance's handoff volumes on an engine not on this machine (SPEC v3 §9), reached
/// through its container `id` there (created, stopped or running); files are removed as
/// `owner`, the user the container runs as.
pub struct Volumes<'a, E> {
    pub engine: &'a E,
    pub id: String,
    pub owner: Owner,
}

impl<E: Engine> Volumes<'_, E> {
    async fn found(&self, agent: AgentKind, rel: &RelPath) -> Result<Found, HandoffError> {
        let target = agent.info().target;
        Ok(self.engine.handoff_read(&self.id, target, rel).await?)
    }

    async fn stat(
        &self,
        agent: AgentKind,
        rel: &RelPath,
    ) -> Result<Option<PathStat>, HandoffError> {
        let target = agent.info().target;
        Ok(self.engine.handoff_stat(&self.id, target, rel).await?)
    }

    async fn put(
        &self,
        agent: AgentKind,
        rel: &RelPath,
        bytes: &[u8],
        owner: Owner,
    ) -> Result<(), HandoffError> {
        let target = agent.info().target;
        let put = self.engine.handoff_put(&self.id, target, rel, bytes, owner);
        Ok(put.await?)
    }
}

impl<E: Engine> Handoff for Volumes<'_, E> {
    /// The file's stat afterwards (one `HEAD`) goes in the ledger, so the next observe knows
    /// it unread.
    async fn write(
        &mut self,
        agent: AgentKind,
        rel: &RelPath,
        bytes: &[u8],
        owner: Owner,
    ) -> Result<FileStat, HandoffError> {
        self.put(agent, rel, bytes, owner).await?;
        let stat = self.stat(agent, rel).await?;
        Ok(stat.as_ref().and_then(stat_of).unwrap_or_default())
    }

    async fn read(&mut self, agent: AgentKind, rel: &RelPath) -> Option<Vec<u8>> {
        match self.found(agent, rel).await.ok()? {
            Found::File { bytes, .. } => Some(bytes),
            _ => None,
        }
    }

    /// Put only when nothing is there (a container that makes the file between the look and
    /// the put, in the same instant, loses it: seeds are put before the first start).
    async fn create_new(
        &mut self,
        agent: AgentKind,
        rel: &RelPath,
        bytes: &[u8],
        owner: Owner,
    ) -> Result<bool, HandoffError> {
        if self.stat(agent, rel).await?.is_some() {
            return Ok(false);
        }
        self.put(agent, rel, bytes, owner).await?;
        Ok(true)
    }

    /// The file must still be the one observe saw (same size and modification time).
    async fn purge(
        &mut self,
        agent: AgentKind,
        rel: &RelPath,
        seen: Option<&Hashed>,
    ) -> Result<bool, HandoffError> {
        let hostile = |problem: &str| HandoffError::Hostile {
            agent,
            path: rel.clone(),
            problem: problem.into(),
        };
        let Some(now) = self.stat(agent, rel).await? else {
            return Ok(false);
        };
        if now.kind == Kind::Directory {
            return Err(hostile(
                "is a directory; jackin removes only files it wrote",
            ));
        }
        let known = seen.filter(|s| s.stat != FileStat::default());
        if known.is_some_and(|s| stat_of(&now).as_ref() != Some(&s.stat)) {
            return Err(hostile(
                "was replaced while jackin was applying; rerun apply",
            ));
        }
        let target = agent.info().target;
        let removed = self
            .engine
            .handoff_remove(&self.id, target, rel, self.owner);
        removed.await?;
        Ok(true)
    }
}

/// One instance's file steps as they are carried out: where they go, and the ledger as it
/// becomes.
struct Steps<'h, H> {
    handoff: &'h mut H,
    owner: Owner,
    ledger: Ledger,
    /// Whether a file was written or removed (the ledger's `last_sync` moves).
    changed: bool,
}

impl<H: Handoff> Steps<'_, H> {
    async fn run(
        &mut self,
        f: &FileStep,
        state: Option<&InstanceState>,
        applied: &mut Summary,
    ) -> Result<(), HandoffError> {
        let files = state.and_then(|s| s.agents.get(&f.agent));
        let seen = files.and_then(|a| a.handoff.get(&f.path));
        let owner = self.owner;
        match f.action {
            FileAction::Keep => applied.kept += 1,
            FileAction::Copy => {
                let entry = copy(f, self.handoff, owner).await?;
                self.ledger.insert(f.agent, &f.path, entry);
                self.changed = true;
                applied.copy += 1;
            }
            FileAction::Purge => {
                let seen = match seen {
                    Some(Seen::File(h)) => Some(h),
                    _ => None,
                };
                let removed = self.handoff.purge(f.agent, &f.path, seen).await?;
                self.ledger.remove(f.agent, &f.path);
                self.changed |= removed;
                applied.purge += usize::from(removed);
            }
            FileAction::Adopt => self.adopt(f, files, seen),
            FileAction::Forget => self.ledger.remove(f.agent, &f.path),
            FileAction::Seed => {
                // Never replaces: whatever the container made there since observe stays. Not
                // recorded in the ledger, so no mode ever purges it.
                let bytes = match &f.content {
                    Some(Content::Bytes(b)) => b.as_slice(),
                    _ => unreachable!("seed steps carry their bytes"),
                };
                let made = self.handoff.create_new(f.agent, &f.path, bytes, owner);
                applied.seed += usize::from(made.await?);
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

/// Copy one host file, or write one jackin makes: hash the bytes actually read, write
/// atomically, record both sides.
async fn copy(
    f: &FileStep,
    handoff: &mut impl Handoff,
    owner: Owner,
) -> Result<LedgerEntry, HandoffError> {
    if let Some(content) = &f.content {
        return write_made(f, content, handoff, owner).await;
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
    let target_stat = handoff.write(f.agent, &f.path, &bytes, owner).await?;
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
async fn write_made(
    f: &FileStep,
    content: &Content,
    handoff: &mut impl Handoff,
    owner: Owner,
) -> Result<LedgerEntry, HandoffError> {
    let at_ns = now_ns();
    let bytes = match content {
        Content::Bytes(b) => b.clone(),
        Content::Keys(keys) => keys.merge(handoff.read(f.agent, &f.path).await.as_deref()),
    };
    let sha = sha256_hex(&content.canonical());
    let stat = handoff.write(f.agent, &f.path, &bytes, owner).await?;
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
