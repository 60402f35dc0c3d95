//! Content hashing with a stat fast path, shared by host and handoff scans.
//!
//! A file whose size, mtime, ctime, inode and device match what was recorded (and that was
//! not modified in the same tick as it was hashed) is not read again. A host file used by
//! many instances is hashed at most once per pass. `files_hashed` is reported so benchmarks
//! can prove a no-op apply hashes nothing.

use crate::ledger::{now_ns, FileStat, Hashed};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Default)]
pub struct Hasher {
    seen: HashMap<PathBuf, Hashed>,
    pub files_hashed: usize,
    pub bytes_hashed: u64,
}

impl Hasher {
    pub fn hash(
        &mut self,
        path: &Path,
        meta: &std::fs::Metadata,
        prior: Option<&Hashed>,
    ) -> std::io::Result<Hashed> {
        let stat = FileStat::of(meta);
        if let Some(h) = self.seen.get(path).filter(|h| h.stat == stat) {
            return Ok(h.clone());
        }
        let hashed = match prior.and_then(|p| p.reuse(&stat).map(|_| p.clone())) {
            Some(p) => p,
            None => {
                let at_ns = now_ns();
                let mut file = super::open_host(path)?;
                let (sha256, len, _) = super::hash(&mut file)?.map_err(super::Refused::into_io)?;
                self.count(len);
                Hashed {
                    sha256,
                    stat,
                    at_ns,
                }
            }
        };
        self.seen.insert(path.to_path_buf(), hashed.clone());
        Ok(hashed)
    }

    /// Count one file hashed (handoff probes hash through their own handles).
    pub fn count(&mut self, bytes: u64) {
        self.files_hashed += 1;
        self.bytes_hashed += bytes;
    }
}
