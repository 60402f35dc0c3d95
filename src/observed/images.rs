//! Build contexts of `build` roles: walked once, tarred deterministically, and tagged by a
//! hash of exactly the bytes sent to the engine.
//!
//! The tag used to be a hash of regular files only (lossy names, no modes, no links) while
//! the tar sent to the engine carried links and modes too: a `chmod +x` on an entrypoint or a
//! changed link never rebuilt, and the context could change between hashing and tarring.
//! Now [`BuildContext::read`] walks once into a list, [`BuildContext::tar`] turns that list
//! into the tar (sorted, no timestamps or owners, so the same content always gives the same
//! bytes), and the tag is the SHA-256 of that tar. The executor tars again at build time and
//! refuses to build when the bytes differ from the plan's (the context changed meanwhile).
//!
//! `.dockerignore` is honoured as `docker build` and compose do (patterns relative to the
//! context root, `**`, `!` exceptions, the last matching pattern wins, an excluded directory
//! takes its content with it); the Dockerfile and `.dockerignore` are always sent, as Docker
//! requires.

use globset::{Glob, GlobMatcher};
use sha2::{Digest, Sha256};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// One entry of a context, in the order it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Dir { rel: PathBuf, mode: u32 },
    File { rel: PathBuf, mode: u32 },
    Link { rel: PathBuf, target: PathBuf },
}

/// A build context, walked once.
#[derive(Debug, Clone)]
pub struct BuildContext {
    root: PathBuf,
    entries: Vec<Entry>,
}

impl BuildContext {
    /// Walk `root` (links are sent as links, never followed; FIFOs, sockets and devices are
    /// not sent), leaving out what `.dockerignore` excludes.
    pub fn read(root: &Path, dockerfile: &str) -> io::Result<BuildContext> {
        let ignore = DockerIgnore::read(root)?;
        let always = [PathBuf::from(dockerfile), PathBuf::from(".dockerignore")];
        let mut entries = Vec::new();
        walk(root, Path::new(""), &ignore, &always, &mut entries)?;
        Ok(BuildContext {
            root: root.to_path_buf(),
            entries,
        })
    }

    /// The tar the engine gets: sorted, with modes and link targets, without timestamps or
    /// owners, so equal content gives equal bytes.
    pub fn tar(&self) -> io::Result<Vec<u8>> {
        let mut tar = tar::Builder::new(Vec::new());
        for entry in &self.entries {
            let mut header = tar::Header::new_gnu();
            header.set_mtime(0);
            header.set_uid(0);
            header.set_gid(0);
            match entry {
                Entry::Dir { rel, mode } => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(*mode);
                    header.set_size(0);
                    tar.append_data(&mut header, rel, io::empty())?;
                }
                Entry::File { rel, mode } => {
                    let file = std::fs::File::open(self.root.join(rel))?;
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(*mode);
                    header.set_size(file.metadata()?.len());
                    tar.append_data(&mut header, rel, file)?;
                }
                Entry::Link { rel, target } => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_mode(0o777);
                    header.set_size(0);
                    tar.append_link(&mut header, rel, target)?;
                }
            }
        }
        tar.into_inner()
    }
}

fn walk(
    root: &Path,
    rel: &Path,
    ignore: &DockerIgnore,
    always: &[PathBuf],
    out: &mut Vec<Entry>,
) -> io::Result<()> {
    let mut children: Vec<_> = std::fs::read_dir(root.join(rel))?.collect::<Result<_, _>>()?;
    children.sort_by_key(|c| c.file_name());
    for child in children {
        let rel = rel.join(child.file_name());
        let meta = std::fs::symlink_metadata(root.join(&rel))?;
        let excluded = ignore.excludes(&rel) && !always.contains(&rel);
        let mode = meta.permissions().mode() & 0o7777;
        if meta.is_dir() {
            // An excluded directory goes whole, unless an exception may bring part back.
            if excluded && !ignore.has_exceptions() {
                continue;
            }
            if !excluded {
                out.push(Entry::Dir {
                    rel: rel.clone(),
                    mode,
                });
            }
            walk(root, &rel, ignore, always, out)?;
        } else if excluded {
            continue;
        } else if meta.is_file() {
            out.push(Entry::File { rel, mode });
        } else if meta.file_type().is_symlink() {
            let target = std::fs::read_link(root.join(&rel))?;
            out.push(Entry::Link { rel, target });
        }
    }
    Ok(())
}

/// `.dockerignore`: patterns in order, each excluding (or, with `!`, re-including) what it
/// matches and everything below what it matches.
#[derive(Debug, Default)]
struct DockerIgnore {
    rules: Vec<(GlobMatcher, bool)>,
}

impl DockerIgnore {
    fn read(root: &Path) -> io::Result<DockerIgnore> {
        let text = match std::fs::read_to_string(root.join(".dockerignore")) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(DockerIgnore::default()),
            Err(e) => return Err(e),
        };
        let mut rules = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exclude, pattern) = match line.strip_prefix('!') {
                Some(p) => (false, p.trim()),
                None => (true, line),
            };
            let pattern = pattern.trim_start_matches('/').trim_end_matches('/');
            let pattern = pattern.strip_prefix("./").unwrap_or(pattern);
            if pattern.is_empty() {
                continue;
            }
            let glob =
                Glob::new(pattern).map_err(|e| io::Error::other(format!(".dockerignore: {e}")))?;
            rules.push((glob.compile_matcher(), exclude));
        }
        Ok(DockerIgnore { rules })
    }

    fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|(_, exclude)| !exclude)
    }

    /// Whether `rel` is left out: the last rule matching it or one of its parents decides.
    fn excludes(&self, rel: &Path) -> bool {
        let mut excluded = false;
        for (glob, exclude) in &self.rules {
            let matches = rel
                .ancestors()
                .filter(|a| !a.as_os_str().is_empty())
                .any(|a| glob.is_match(a));
            if matches {
                excluded = *exclude;
            }
        }
        excluded
    }
}

/// The 12 hex digits that name a context's tar (with the Dockerfile's name) in its tag.
pub fn context_hash(dockerfile: &str, tar: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(dockerfile.as_bytes());
    h.update([0]);
    h.update(tar);
    hex::encode(h.finalize())[..12].to_owned()
}

/// `jackin/{project}-{role}:ctx-{12 hex}` for a context's tar (and the Dockerfile's name).
pub fn tag_of(project: &str, role: &str, dockerfile: &str, tar: &[u8]) -> String {
    let repo: String = format!("{project}-{role}")
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("jackin/{repo}:ctx-{}", context_hash(dockerfile, tar))
}

/// The tag a `build` role's image gets for its context as it is now.
pub fn build_tag(
    project: &str,
    role: &str,
    context: &Path,
    dockerfile: &str,
) -> io::Result<String> {
    let tar = BuildContext::read(context, dockerfile)?.tar()?;
    Ok(tag_of(project, role, dockerfile, &tar))
}

/// Names in a tar, for tests and messages.
pub fn tar_names(tar: &[u8]) -> Vec<String> {
    let mut archive = tar::Archive::new(tar);
    let Ok(entries) = archive.entries() else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            e.path()
                .ok()
                .map(|p| String::from_utf8_lossy(p.as_os_str().as_bytes()).into_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn context() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(dir.path().join("entrypoint.sh"), "#!/bin/sh\n").unwrap();
        std::fs::create_dir(dir.path().join("lib")).unwrap();
        std::fs::write(dir.path().join("lib/a.txt"), "a").unwrap();
        dir
    }

    fn tag(dir: &Path) -> String {
        build_tag("p", "r", dir, "Dockerfile").unwrap()
    }

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_mode_or_link_change_is_a_new_image_a_timestamp_is_not() {
        let dir = context();
        let ep = dir.path().join("entrypoint.sh");
        chmod(&ep, 0o644);
        let before = tag(dir.path());
        assert_eq!(tag(dir.path()), before, "deterministic");
        chmod(&ep, 0o755);
        let executable = tag(dir.path());
        assert_ne!(executable, before, "chmod +x rebuilds");
        symlink("lib/a.txt", dir.path().join("current")).unwrap();
        let linked = tag(dir.path());
        assert_ne!(linked, executable);
        std::fs::remove_file(dir.path().join("current")).unwrap();
        symlink("lib/b.txt", dir.path().join("current")).unwrap();
        assert_ne!(tag(dir.path()), linked, "a changed link target rebuilds");
        let settled = tag(dir.path());
        let file = std::fs::File::options().write(true).open(&ep).unwrap();
        file.set_modified(std::time::SystemTime::UNIX_EPOCH)
            .unwrap();
        assert_eq!(tag(dir.path()), settled, "times are not part of it");
    }

    #[test]
    fn dockerignore_leaves_out_what_docker_build_leaves_out() {
        let dir = context();
        std::fs::create_dir_all(dir.path().join(".git/objects")).unwrap();
        std::fs::write(dir.path().join(".git/objects/x"), "big").unwrap();
        std::fs::write(dir.path().join("lib/secret.env"), "s").unwrap();
        std::fs::write(dir.path().join("lib/keep.env"), "k").unwrap();
        std::fs::write(
            dir.path().join(".dockerignore"),
            "# comment\n.git\n**/*.env\n!lib/keep.env\nDockerfile\n",
        )
        .unwrap();
        let tar = BuildContext::read(dir.path(), "Dockerfile")
            .unwrap()
            .tar()
            .unwrap();
        let names = tar_names(&tar);
        assert!(names.iter().all(|n| !n.starts_with(".git")), "{names:?}");
        assert!(!names.contains(&"lib/secret.env".to_owned()), "{names:?}");
        assert!(names.contains(&"lib/keep.env".to_owned()), "{names:?}");
        assert!(
            names.contains(&"Dockerfile".to_owned()),
            "always sent: {names:?}"
        );
        assert!(names.contains(&".dockerignore".to_owned()), "{names:?}");
        let before = tag(dir.path());
        std::fs::write(dir.path().join(".git/objects/x"), "changed").unwrap();
        assert_eq!(
            tag(dir.path()),
            before,
            "an ignored change rebuilds nothing"
        );
    }
}
