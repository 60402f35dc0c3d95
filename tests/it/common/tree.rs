//! [`TreeSnapshot`]: bytes and metadata of a folder, to prove host folders stay unchanged.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

/// Bytes and metadata of one entry (atime and ctime are deliberately left out:
/// reading changes atime; ctime cannot be preserved by anyone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntrySnapshot {
    pub kind: Kind,
    pub size: u64,
    /// Full `st_mode` (type and permission bits).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime_ns: i128,
    /// SHA-256 of the content (files only).
    pub sha256: Option<String>,
    /// Link target (symlinks only; never followed).
    pub link_target: Option<PathBuf>,
}

/// Every entry under a folder (the folder itself is `"."`), keyed by relative path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeSnapshot(pub BTreeMap<String, EntrySnapshot>);

/// Snapshots `path` (which must exist) recursively, without following symlinks.
pub fn snapshot(path: impl AsRef<Path>) -> TreeSnapshot {
    let root = path.as_ref();
    let mut map = BTreeMap::new();
    snapshot_into(root, root, &mut map);
    TreeSnapshot(map)
}

fn snapshot_into(root: &Path, path: &Path, map: &mut BTreeMap<String, EntrySnapshot>) {
    let meta = fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("snapshot: stat {}: {e}", path.display()));
    let ft = meta.file_type();
    let kind = if ft.is_symlink() {
        Kind::Symlink
    } else if ft.is_dir() {
        Kind::Dir
    } else if ft.is_file() {
        Kind::File
    } else {
        Kind::Other
    };
    let sha256 = (kind == Kind::File).then(|| {
        let bytes =
            fs::read(path).unwrap_or_else(|e| panic!("snapshot: read {}: {e}", path.display()));
        hex::encode(Sha256::digest(&bytes))
    });
    let link_target = (kind == Kind::Symlink).then(|| fs::read_link(path).unwrap());
    let rel = match path.strip_prefix(root).unwrap() {
        p if p.as_os_str().is_empty() => ".".to_string(),
        p => p.to_string_lossy().into_owned(),
    };
    map.insert(
        rel,
        EntrySnapshot {
            kind,
            size: meta.len(),
            mode: meta.mode(),
            uid: meta.uid(),
            gid: meta.gid(),
            mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
            sha256,
            link_target,
        },
    );
    if kind == Kind::Dir {
        let mut children: Vec<PathBuf> = fs::read_dir(path)
            .unwrap_or_else(|e| panic!("snapshot: list {}: {e}", path.display()))
            .map(|e| e.unwrap().path())
            .collect();
        children.sort();
        for child in children {
            snapshot_into(root, &child, map);
        }
    }
}
