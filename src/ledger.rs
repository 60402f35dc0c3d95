//! What jackin last wrote into an instance's handoff directories (SPEC §4 "Ledger").
//!
//! The ledger is what makes the three-way rules possible: with the host hash and the handoff
//! hash recorded at write time, jackin can tell "the host changed" from "the agent rotated
//! its token inside the container" from "the file is the container's own". It stores hashes,
//! never contents, plus the stat data that lets a no-op apply skip re-hashing.

use crate::agents::AgentKind;
use crate::words::RelPath;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

pub const LEDGER_VERSION: u32 = 1;

/// The stat data used as a hashing fast path. Content hashes decide; stat only skips work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStat {
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub ino: u64,
    pub dev: u64,
}

impl FileStat {
    pub fn of(meta: &std::fs::Metadata) -> Self {
        FileStat {
            size: meta.len(),
            mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
            ino: meta.ino(),
            dev: meta.dev(),
        }
    }
}

/// A hash recorded together with the stat it was taken under and when it was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hashed {
    pub sha256: String,
    pub stat: FileStat,
    /// When the hash was taken (ns since the epoch).
    pub at_ns: i64,
}

/// Files modified in the same clock tick as they were hashed could change again without
/// their mtime moving ("racy git"); their stat is not trusted.
const RACY_WINDOW_NS: i64 = 2_000_000_000;

impl Hashed {
    /// The recorded hash, if `stat` proves the file was not touched since.
    pub fn reuse(&self, stat: &FileStat) -> Option<&str> {
        let settled = stat.mtime_ns.max(stat.ctime_ns) + RACY_WINDOW_NS <= self.at_ns;
        (self.stat == *stat && settled).then_some(self.sha256.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Host content at the time jackin wrote the file.
    pub source: Hashed,
    /// Handoff content jackin wrote (and, after a later check, its latest stat).
    pub target: Hashed,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub version: u32,
    /// Key: `{agent}/{path relative to the agent's handoff dir}`.
    pub files: BTreeMap<String, LedgerEntry>,
    /// Unix seconds of the last apply that changed this instance's handoff.
    #[serde(default)]
    pub last_sync: Option<i64>,
    /// Intent journal: files changed but the restart they call for has not happened yet.
    #[serde(default)]
    pub restart_owed: bool,
}

impl Ledger {
    /// Parse a ledger read from `path`. A corrupt one (or another version) is treated as empty,
    /// with a warning: without it, jackin only ever copies host content, which is safe.
    pub fn parse(bytes: &[u8], path: &Path) -> (Ledger, Option<String>) {
        match serde_json::from_slice::<Ledger>(bytes) {
            Ok(l) if l.version == LEDGER_VERSION => (l, None),
            Ok(l) => (
                Ledger::default(),
                Some(format!(
                    "ledger {} has version {}, expected {LEDGER_VERSION}; starting afresh",
                    path.display(),
                    l.version
                )),
            ),
            Err(e) => (
                Ledger::default(),
                Some(format!(
                    "ledger {} is unreadable ({e}); starting afresh",
                    path.display()
                )),
            ),
        }
    }

    /// What jackin wrote at `rel` in `agent`'s handoff.
    pub fn get(&self, agent: AgentKind, rel: &RelPath) -> Option<&LedgerEntry> {
        self.files.get(&key(agent, rel))
    }

    pub fn insert(&mut self, agent: AgentKind, rel: &RelPath, entry: LedgerEntry) {
        self.files.insert(key(agent, rel), entry);
    }

    pub fn remove(&mut self, agent: AgentKind, rel: &RelPath) {
        self.files.remove(&key(agent, rel));
    }

    /// Every path recorded for `agent`, with its entry.
    pub fn of(&self, agent: AgentKind) -> impl Iterator<Item = (RelPath, &LedgerEntry)> {
        let prefix = format!("{}/", agent.name());
        self.files.iter().filter_map(move |(k, e)| {
            let rel = RelPath::parse(k.strip_prefix(&prefix)?).ok()?;
            Some((rel, e))
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut l = self.clone();
        l.version = LEDGER_VERSION;
        serde_json::to_vec_pretty(&l).expect("ledger serialises")
    }
}

/// Ledger key of a handoff file: `{agent}/{path}`, the path in its escaped form (so names that
/// are not UTF-8 survive JSON).
fn key(agent: AgentKind, rel: &RelPath) -> String {
    format!("{}/{rel}", agent.name())
}

pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(mtime_ns: i64) -> FileStat {
        FileStat {
            size: 3,
            mtime_ns,
            ctime_ns: mtime_ns,
            ino: 7,
            dev: 1,
        }
    }

    #[test]
    fn stat_fast_path_trusts_only_settled_files() {
        let h = Hashed {
            sha256: "abc".into(),
            stat: stat(10_000_000_000),
            at_ns: 20_000_000_000,
        };
        assert_eq!(h.reuse(&stat(10_000_000_000)), Some("abc"));
        assert_eq!(h.reuse(&stat(11_000_000_000)), None, "changed stat");
        let racy = Hashed {
            at_ns: 10_500_000_000,
            ..h
        };
        assert_eq!(racy.reuse(&stat(10_000_000_000)), None, "same-tick edit");
    }

    #[test]
    fn corrupt_ledger_is_empty_with_a_warning() {
        let p = Path::new("ledger.json");
        let (l, warn) = Ledger::parse(b"{not json", p);
        assert!(l.files.is_empty());
        assert!(warn.unwrap().contains("starting afresh"));
    }
}
