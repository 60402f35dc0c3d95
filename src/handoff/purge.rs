//! Removing a whole instance folder (`--purge-removed`), however the container left it.
//!
//! The tree may be thousands of directories deep. A recursive walk would hold one open
//! handle per level (and one stack frame), so this one flattens instead: while emptying a
//! directory, a subdirectory that is not empty is moved up to the top of the tree under a
//! fresh name and emptied in a later round. At most three handles are open at any time and
//! nothing is ever followed: links are removed as entries.

use super::dir::{not_found, random_name, Dir};
use rustix::io::Errno;
use std::io;

/// Remove `name` in `parent` and everything below it.
pub fn remove_tree(parent: &Dir, name: &[u8]) -> io::Result<()> {
    match parent.remove_file(name) {
        Ok(()) => return Ok(()),
        Err(e) if not_found(&e) => return Ok(()),
        Err(e) if is_a_directory(&e) => {}
        Err(e) => return Err(e),
    }
    let top = parent.open_dir(name)?;
    // Directories still to empty, all directly inside `top` (moved there by `flatten`).
    let mut pending: Vec<Vec<u8>> = Vec::new();
    empty(&top, None, &mut pending)?;
    while let Some(next) = pending.pop() {
        let dir = match top.open_dir(&next) {
            Ok(d) => d,
            Err(e) if not_found(&e) => continue,
            Err(e) => return Err(e),
        };
        empty(&dir, Some(&top), &mut pending)?;
        drop(dir);
        top.remove_dir(&next)?;
    }
    drop(top);
    parent.remove_dir(name)
}

/// Remove every entry of `dir`; non-empty subdirectories are left for later, moved up into
/// `top` first when `dir` is below it (`None`: `dir` is the top).
fn empty(dir: &Dir, top: Option<&Dir>, pending: &mut Vec<Vec<u8>>) -> io::Result<()> {
    for child in dir.names()? {
        match dir.remove_file(&child) {
            Ok(()) => continue,
            Err(e) if not_found(&e) => continue,
            Err(e) if is_a_directory(&e) => {}
            Err(e) => return Err(e),
        }
        match dir.remove_dir(&child) {
            Ok(()) => continue,
            Err(e) if not_found(&e) => continue,
            Err(e) if Errno::from_io_error(&e) == Some(Errno::NOTEMPTY) => {}
            Err(e) => return Err(e),
        }
        match top {
            None => pending.push(child),
            Some(top) => {
                let moved = fresh_name(top)?;
                dir.rename_into(&child, top, &moved)?;
                pending.push(moved);
            }
        }
    }
    Ok(())
}

fn is_a_directory(e: &io::Error) -> bool {
    matches!(Errno::from_io_error(e), Some(Errno::ISDIR | Errno::PERM))
}

/// A name not yet used in `dir`.
fn fresh_name(dir: &Dir) -> io::Result<Vec<u8>> {
    loop {
        let name = random_name(".jackin-purge-", "")?;
        if dir.stat(&name)?.is_none() {
            return Ok(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_deep_tree_with_links_is_removed_without_touching_their_targets() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("victim"), b"host").unwrap();
        let inst = root.path().join("inst");
        std::fs::create_dir(&inst).unwrap();
        // 3,000 levels, built relative to a handle: the path would be too long for one call.
        let mut cur = Dir::open(&inst).unwrap();
        for _ in 0..3000 {
            cur.create_dir(b"d").unwrap();
            cur = cur.open_dir(b"d").unwrap();
        }
        drop(cur);
        std::fs::write(inst.join("f"), b"x").unwrap();
        symlink(outside.path(), inst.join("link-dir")).unwrap();
        symlink(outside.path().join("victim"), inst.join("link-file")).unwrap();
        let parent = Dir::open(root.path()).unwrap();
        remove_tree(&parent, b"inst").unwrap();
        assert!(!inst.exists());
        assert_eq!(
            std::fs::read(outside.path().join("victim")).unwrap(),
            b"host"
        );
        remove_tree(&parent, b"inst").expect("a missing tree is already removed");
    }
}
