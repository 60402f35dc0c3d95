//! The handoff of an instance on an engine not on this machine (SPEC v3 §9): its volumes, looked
//! at through that engine's container. Exactly the paths the local probe would look at are
//! stat'ed (a `HEAD` of the archive endpoint each); a regular file whose stat differs from the
//! ledger's is read (streamed, capped; a link or FIFO is never read), and the same rules
//! ([`super::probe::look`]) decide on what came back.

use super::probe::{self, Look};
use super::Observed;
use crate::agents::OwnedKeys;
use crate::bounded::Hasher;
use crate::bounded::MAX_FILE;
use crate::desired::{AgentAuth, Desired, InstanceSpec};
use crate::fingerprint::sha256_hex;
use crate::handoff::{Foreign, Seen};
use crate::ledger::{now_ns, FileStat, Hashed, Ledger};
use crate::remote::Found;
use crate::runtime::Engine;
use crate::runtime::PathStat;
use crate::words::Kind;
use crate::words::RelPath;
use futures_util::StreamExt;
use std::collections::BTreeMap;

/// Looks in flight on one engine at once (an `ssh://` engine's sshd allows 10 sessions).
const IN_FLIGHT: usize = 8;

/// The stat data of a path the engine stat'ed, as the fast path compares it; `None` when the
/// engine's time could not be read (then the file is always read).
pub fn stat_of(stat: &PathStat) -> Option<FileStat> {
    Some(FileStat {
        size: stat.size,
        mtime_ns: stat.mtime_ns?,
        ..FileStat::default()
    })
}

/// What observe found at one path of a volume.
enum Looked {
    Absent,
    Foreign(Foreign),
    /// Its stat is what the ledger recorded, settled: the recorded hash stands, unread.
    Reused(Hashed),
    /// Read whole (at most 16 MiB), with its stat.
    Read {
        bytes: Vec<u8>,
        stat: FileStat,
    },
}

/// What was looked at in one agent's volume, by path.
struct Fetched(BTreeMap<RelPath, Looked>);

impl Look for Fetched {
    fn probe(
        &self,
        rel: &RelPath,
        _prior: Option<&Hashed>,
        hasher: &mut Hasher,
        keys: Option<&OwnedKeys>,
    ) -> Option<Seen> {
        match self.0.get(rel)? {
            Looked::Absent => None,
            Looked::Foreign(f) => Some(Seen::Foreign(*f)),
            Looked::Reused(h) => Some(Seen::File(h.clone())),
            Looked::Read { bytes, stat } => {
                hasher.count(bytes.len() as u64);
                let sha256 = match keys {
                    Some(keys) => sha256_hex(&keys.found(bytes)),
                    None => sha256_hex(bytes),
                };
                Some(Seen::File(Hashed {
                    sha256,
                    stat: *stat,
                    at_ns: now_ns(),
                }))
            }
        }
    }

    fn exists(&self, rel: &RelPath) -> bool {
        self.0
            .get(rel)
            .is_some_and(|l| !matches!(l, Looked::Absent))
    }

    fn read(&self, rel: &RelPath) -> Option<Vec<u8>> {
        match self.0.get(rel)? {
            Looked::Read { bytes, .. } => Some(bytes.clone()),
            _ => None,
        }
    }
}

/// One path: its stat first (a `HEAD`, which costs the engine next to nothing); read only a
/// regular file of at most 16 MiB whose stat is not the one the ledger recorded. What the
/// engine fails to answer is unreadable, planned like any container content.
async fn look_at(
    engine: &impl Engine,
    at: (&str, &str),
    rel: &RelPath,
    prior: Option<&Hashed>,
) -> Looked {
    let (id, target) = at;
    let stat = match engine.handoff_stat(id, target, rel).await {
        Err(_) => return Looked::Foreign(Foreign::Unreadable),
        Ok(None) => return Looked::Absent,
        Ok(Some(s)) if s.kind != Kind::File => return Looked::Foreign(Foreign::of_kind(s.kind)),
        Ok(Some(s)) if s.size > MAX_FILE => return Looked::Foreign(Foreign::Oversized),
        Ok(Some(s)) => stat_of(&s),
    };
    if let (Some(stat), Some(prior)) = (&stat, prior) {
        if prior.reuse(stat).is_some() {
            return Looked::Reused(prior.clone());
        }
    }
    match engine.handoff_read(id, target, rel).await {
        Ok(Found::File { bytes, .. }) => Looked::Read {
            bytes,
            stat: stat.unwrap_or_default(),
        },
        Ok(Found::Refused { why, .. }) => Looked::Foreign(Foreign::of(why)),
        Ok(Found::Absent) => Looked::Absent,
        Err(_) => Looked::Foreign(Foreign::Unreadable),
    }
}

/// One agent's volume to read: whose, through which container, which paths.
struct Job<'d> {
    spec: &'d InstanceSpec,
    auth: &'d AgentAuth,
    id: String,
    /// Each path, with what the ledger recorded of it (for the stat fast path).
    paths: Vec<(RelPath, Option<Hashed>)>,
}

/// Read the handoff volumes of `desired`'s instances (those on one host) that have a container
/// there, a few reads at a time, and look at them as the local probe would. An instance with
/// no container yet has nothing to read through: its volume is taken as empty (a create copies
/// what the host holds). A read the engine fails is that path's problem (unreadable), not the
/// host's.
pub async fn read(desired: &Desired, engine: &impl Engine, observed: &mut Observed) {
    let jobs = jobs(desired, observed);
    let looks = jobs.iter().flat_map(|job| {
        let at = (job.id.as_str(), job.auth.agent.info().target);
        job.paths.iter().map(move |(rel, prior)| async move {
            let looked = look_at(engine, at, rel, prior.as_ref()).await;
            (job.spec.name.as_str(), job.auth.agent, rel.clone(), looked)
        })
    });
    let found: Vec<_> = futures_util::stream::iter(looks)
        .buffered(IN_FLIGHT)
        .collect()
        .await;
    let mut fetched: BTreeMap<(&str, crate::agents::AgentKind), Fetched> = BTreeMap::new();
    for (name, agent, rel, f) in found {
        fetched
            .entry((name, agent))
            .or_insert_with(|| Fetched(BTreeMap::new()))
            .0
            .insert(rel, f);
    }
    let mut hasher = Hasher::default();
    for job in &jobs {
        let key = (job.spec.name.as_str(), job.auth.agent);
        let (Some(view), Some(state)) = (
            fetched.get(&key),
            observed.instances.get_mut(&job.spec.name),
        ) else {
            continue;
        };
        let ledger: &Ledger = &state.ledger;
        if let Some(files) = state.agents.get_mut(&job.auth.agent) {
            probe::look(view, files, job.spec, job.auth, ledger, &mut hasher);
        }
    }
    observed.files_hashed += hasher.files_hashed;
    observed.bytes_hashed += hasher.bytes_hashed;
}

/// The volumes of `desired`'s instances that can be read: those with a container.
fn jobs<'d>(desired: &'d Desired, observed: &Observed) -> Vec<Job<'d>> {
    let mut jobs = Vec::new();
    let remote = desired
        .instances
        .iter()
        .filter(|(_, s)| s.handoff_is_remote());
    for (name, spec) in remote {
        let (Some(c), Some(state)) = (observed.containers.get(name), observed.instances.get(name))
        else {
            continue;
        };
        for auth in &spec.auth {
            let Some(files) = state.agents.get(&auth.agent) else {
                continue;
            };
            let prior = |rel: &RelPath| state.ledger.get(auth.agent, rel).map(|e| e.target.clone());
            let paths = probe::wanted(spec, auth, files, &state.ledger);
            let paths = paths
                .into_iter()
                .map(|rel| (prior(&rel), rel))
                .map(|(p, r)| (r, p));
            let (id, paths) = (c.id.clone(), paths.collect());
            jobs.push(Job {
                spec,
                auth,
                id,
                paths,
            });
        }
    }
    jobs
}
