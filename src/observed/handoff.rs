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

/// Files under `dir` keyed by path relative to it. A missing dir is empty.
pub fn scan(
    dir: &Path,
    hasher: &mut Hasher,
    prior: &dyn Fn(&str) -> Option<Hashed>,
) -> Result<BTreeMap<String, Hashed>, HandoffError> {
    let mut out = BTreeMap::new();
    walk(dir, "", hasher, prior, &mut out)?;
    Ok(out)
}

fn walk(
    path: &Path,
    rel: &str,
    hasher: &mut Hasher,
    prior: &dyn Fn(&str) -> Option<Hashed>,
    out: &mut BTreeMap<String, Hashed>,
) -> Result<(), HandoffError> {
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
            walk(&entry.path(), &child, hasher, prior, out)?;
        }
    } else if meta.is_file() {
        let hashed = hasher.hash(path, &meta, prior(rel).as_ref()).map_err(io)?;
        out.insert(rel.to_owned(), hashed);
    }
    Ok(())
}
