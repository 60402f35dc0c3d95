//! The handoff of an instance on an engine not on this machine (SPEC v3 §9): its volumes, read
//! through that engine's container. Exactly the paths the local probe would look at are read
//! (one archive read each, streamed and capped; a link or FIFO is refused unread), and the
//! same rules ([`super::probe::look`]) decide on what came back.

use super::probe::{self, Look};
use super::Observed;
use crate::agents::OwnedKeys;
use crate::bounded::Hasher;
use crate::desired::{AgentAuth, Desired, InstanceSpec};
use crate::fingerprint::sha256_hex;
use crate::handoff::{Foreign, Seen};
use crate::ledger::{now_ns, FileStat, Hashed, Ledger};
use crate::remote::{Found, Header};
use crate::runtime::Engine;
use crate::words::RelPath;
use futures_util::StreamExt;
use std::collections::BTreeMap;

/// Reads in flight on one engine at once (an `ssh://` engine's sshd allows 10 sessions).
const READS_IN_FLIGHT: usize = 8;

/// The facts a purge compares, from a read's tar header: the size and the modification time
/// (whole seconds, as the engine's tar gives them).
pub fn stat_of(header: &Header) -> FileStat {
    FileStat {
        size: header.size,
        mtime_ns: i64::try_from(header.mtime)
            .unwrap_or(i64::MAX)
            .saturating_mul(1_000_000_000),
        ..FileStat::default()
    }
}

/// What was read of one agent's volume, by path; `None`: the engine failed that read.
struct Fetched(BTreeMap<RelPath, Option<Found>>);

impl Look for Fetched {
    /// Always hashed: the bytes came over the wire anyway, and a volume's stat data is not
    /// this machine's to trust.
    fn probe(
        &self,
        rel: &RelPath,
        _prior: Option<&Hashed>,
        hasher: &mut Hasher,
        keys: Option<&OwnedKeys>,
    ) -> Option<Seen> {
        let Some(found) = self.0.get(rel)? else {
            return Some(Seen::Foreign(Foreign::Unreadable));
        };
        match found {
            Found::Absent => None,
            Found::File {
                header,
                bytes,
                sha256,
            } => {
                hasher.count(bytes.len() as u64);
                let sha256 = match keys {
                    Some(keys) => sha256_hex(&keys.found(bytes)),
                    None => sha256.clone(),
                };
                Some(Seen::File(Hashed {
                    sha256,
                    stat: stat_of(header),
                    at_ns: now_ns(),
                }))
            }
            Found::Refused { why, .. } => Some(Seen::Foreign(Foreign::of(*why))),
        }
    }

    fn exists(&self, rel: &RelPath) -> bool {
        self.0
            .get(rel)
            .is_some_and(|f| f.as_ref() != Some(&Found::Absent))
    }

    fn read(&self, rel: &RelPath) -> Option<Vec<u8>> {
        match self.0.get(rel)? {
            Some(Found::File { bytes, .. }) => Some(bytes.clone()),
            _ => None,
        }
    }
}

/// One agent's volume to read: whose, through which container, which paths.
struct Job<'d> {
    spec: &'d InstanceSpec,
    auth: &'d AgentAuth,
    id: String,
    paths: Vec<RelPath>,
}

/// Read the handoff volumes of `desired`'s instances (those on one host) that have a container
/// there, a few reads at a time, and look at them as the local probe would. An instance with
/// no container yet has nothing to read through: its volume is taken as empty (a create copies
/// what the host holds). A read the engine fails is that path's problem (unreadable), not the
/// host's.
pub async fn read(desired: &Desired, engine: &impl Engine, observed: &mut Observed) {
    let jobs = jobs(desired, observed);
    let reads = jobs.iter().flat_map(|job| {
        let target = job.auth.agent.info().target;
        job.paths.iter().map(move |rel| async move {
            // A read the engine failed: unreadable, planned like any container content.
            let found = engine.handoff_read(&job.id, target, rel).await.ok();
            (job.spec.name.as_str(), job.auth.agent, rel.clone(), found)
        })
    });
    let found: Vec<_> = futures_util::stream::iter(reads)
        .buffered(READS_IN_FLIGHT)
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
            let paths = probe::wanted(spec, auth, files, &state.ledger);
            let (id, paths) = (c.id.clone(), paths.into_iter().collect());
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
