//! Reading a handoff directory: what the container currently sees.
//!
//! A symlink anywhere in a handoff tree is refused (E013): jackin writes there, and a link
//! planted by a container could redirect a write onto the host.

use super::hasher::Hasher;
use crate::error::{Code, Coded};
use crate::ledger::Hashed;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    #[error("refusing to use handoff path {0}: it is a symlink")]
    Symlink(PathBuf),
    #[error("cannot read handoff path {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Coded for HandoffError {
    fn code(&self) -> Code {
        match self {
            HandoffError::Symlink(_) => Code::E013,
            HandoffError::Io { .. } => Code::E040,
        }
    }
    fn hint(&self) -> Option<String> {
        Some(match self {
            HandoffError::Symlink(p) => format!(
                "remove the symlink {} (jackin never writes through links); the next apply recreates the file",
                p.display()
            ),
            HandoffError::Io { .. } => "check permissions of $JACKIN_HOME".into(),
        })
    }
}

/// What one scan found: the `wanted` files hashed, keyed by path relative to the handoff
/// dir, and how many others there are. A missing dir is empty. Every path is checked for
/// symlinks, wanted or not.
struct Scan<'a> {
    hasher: &'a mut Hasher,
    prior: &'a dyn Fn(&str) -> Option<Hashed>,
    wanted: &'a dyn Fn(&str) -> bool,
    found: BTreeMap<String, Hashed>,
    unread: usize,
}

pub fn scan(
    dir: &Path,
    hasher: &mut Hasher,
    prior: &dyn Fn(&str) -> Option<Hashed>,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<(BTreeMap<String, Hashed>, usize), HandoffError> {
    let mut scan = Scan {
        hasher,
        prior,
        wanted,
        found: BTreeMap::new(),
        unread: 0,
    };
    walk(dir, "", &mut scan)?;
    Ok((scan.found, scan.unread))
}

fn walk(path: &Path, rel: &str, scan: &mut Scan) -> Result<(), HandoffError> {
    let io = |source| HandoffError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    if meta.file_type().is_symlink() {
        return Err(HandoffError::Symlink(path.to_path_buf()));
    }
    if meta.is_dir() {
        let entries = std::fs::read_dir(path).map_err(io)?;
        for entry in entries {
            let entry = entry.map_err(io)?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let child = if rel.is_empty() {
                name.into_owned()
            } else {
                format!("{rel}/{name}")
            };
            walk(&entry.path(), &child, scan)?;
        }
    } else if meta.is_file() && (scan.wanted)(rel) {
        let prior = (scan.prior)(rel);
        let hashed = scan.hasher.hash(path, &meta, prior.as_ref()).map_err(io)?;
        scan.found.insert(rel.to_owned(), hashed);
    } else if meta.is_file() {
        scan.unread += 1;
    }
    Ok(())
}
