//! Which paths watch cares about, which directories it asks the kernel to watch for them,
//! and whether a file event is about one of them.
//!
//! Interests are exactly what a pass reads from the host: the state file(s), the catalogue
//! entries (SPEC §3) of every agent in `sync` mode, `{ file = … }` env values and `build`
//! contexts (hashed for the image tag). A whole source folder is *not*
//! an interest: `~/.claude` holds an agent's session logs and would trigger a pass on every
//! keystroke of a host-side agent, while only `.credentials.json` matters.
//!
//! inotify watches directories, so each interest becomes a watch on its parent: editors and
//! token refreshers save by rename, which replaces the file's inode and would silently end a
//! watch on the file itself. A parent that does not exist yet (no `~/.kimi` before
//! `kimi login`) is covered by watching its nearest existing ancestor; the event for the
//! folder appearing triggers a pass, and every pass recomputes the watches first, so the new
//! folder is watched before it is read. Directory watches see far more than the interests
//! (a home directory sees every dotfile), so every event is classified and most are dropped.
//! Anything under `$JACKIN_HOME` is dropped too: those are jackin's own writes.

use crate::agents::AuthMode;
use crate::desired::{AgentAuth, Desired, ImageSource};
use crate::manifest::Loaded;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Which kind of input an event touched (only used to say why a pass ran).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    StateFile,
    HostLogin,
    EnvFile,
    BuildContext,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Interest {
    /// This path itself: a file, or a catalogue entry of a source folder.
    Exact(PathBuf, Kind),
    /// This directory and everything under it (kimi's `credentials/`, a build context).
    Tree(PathBuf, Kind),
    /// The state files of a `-f DIR` set: its direct children with a state-file extension.
    StateDir(PathBuf),
}

/// Everything one pass reads from the host, as paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interests {
    items: Vec<Interest>,
    /// `$JACKIN_HOME`: jackin's own writes, never a reason for a pass.
    ignore: PathBuf,
}

const STATE_EXTS: [&str; 3] = ["toml", "yaml", "yml"];

/// What a synced host login is read from: the agent's entries in its source, and the
/// account block jackin forwards from the host's shared document.
fn host_login(items: &mut Vec<Interest>, auth: &AgentAuth, home: &Path) {
    let info = auth.agent.info();
    for entry in info.entries {
        let path = entry.host_path(&auth.source);
        items.push(if entry.tree {
            Interest::Tree(path, Kind::HostLogin)
        } else {
            Interest::Exact(path, Kind::HostLogin)
        });
    }
    if let Some(doc) = &info.shared_doc {
        let path = doc.host_path(&auth.source, auth.source_is_default(), home);
        items.push(Interest::Exact(path, Kind::HostLogin));
    }
}

impl Interests {
    /// `file` is `-f` made absolute (or `None`: discovery in `cwd`). Host logins come from
    /// `desired` (the resolved sources); without it only the state files are watched.
    pub fn compute(
        cwd: &Path,
        file: Option<&Path>,
        jackin_home: &Path,
        loaded: &Loaded,
        desired: Option<&Desired>,
        home: &Path,
    ) -> Self {
        let mut items = Vec::new();
        match file.map(|f| cwd.join(f)) {
            Some(dir) if dir.is_dir() => items.push(Interest::StateDir(dir)),
            Some(f) => items.push(Interest::Exact(f, Kind::StateFile)),
            None => {
                for ext in STATE_EXTS {
                    items.push(Interest::Exact(
                        cwd.join(format!("jackin.{ext}")),
                        Kind::StateFile,
                    ));
                }
            }
        }
        // A symlinked state file (a GitOps checkout swapped in place) changes where its
        // target lives, not in the link's directory.
        for f in &loaded.files {
            items.push(Interest::Exact(f.clone(), Kind::StateFile));
            if let Ok(real) = f.canonicalize() {
                items.push(Interest::Exact(real, Kind::StateFile));
            }
        }
        for inst in desired.iter().flat_map(|d| d.instances.values()) {
            for auth in inst.auth.iter().filter(|a| a.mode == AuthMode::Sync) {
                host_login(&mut items, auth, home);
            }
        }
        if let Some(d) = desired {
            for f in &d.env_files {
                items.push(Interest::Exact(f.clone(), Kind::EnvFile));
            }
            for inst in d.instances.values() {
                if let ImageSource::Build { context, .. } = &inst.image {
                    items.push(Interest::Tree(context.clone(), Kind::BuildContext));
                }
            }
        }
        items.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        items.dedup();
        Interests {
            items,
            ignore: cwd.join(jackin_home),
        }
    }

    /// Whether an event at `path` may change what a pass reads, and of which kind.
    pub fn classify(&self, path: &Path) -> Option<Kind> {
        if path.starts_with(&self.ignore) {
            return None;
        }
        // An ancestor of an interest: the folder holding it appeared, moved or went away.
        let ancestor = |p: &Path| p.starts_with(path) && p != path;
        self.items.iter().find_map(|i| match i {
            Interest::Exact(p, kind) => (p == path || ancestor(p)).then_some(*kind),
            Interest::Tree(p, kind) => (path.starts_with(p) || ancestor(p)).then_some(*kind),
            Interest::StateDir(dir) => {
                let child = path.parent() == Some(dir.as_path())
                    && path
                        .extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| STATE_EXTS.contains(&e));
                (child || ancestor(dir)).then_some(Kind::StateFile)
            }
        })
    }

    /// Directories to watch, and whether recursively (only existing `Tree` interests are).
    pub fn watches(&self) -> BTreeMap<PathBuf, bool> {
        let mut out = BTreeMap::new();
        let mut add = |dir: &Path, recursive: bool| {
            let dir = nearest_existing(dir);
            if dir.starts_with(&self.ignore) {
                return;
            }
            let r = recursive && dir.is_dir();
            *out.entry(dir).or_insert(false) |= r;
        };
        for i in &self.items {
            match i {
                Interest::Exact(p, _) => add(p.parent().unwrap_or(p), false),
                Interest::Tree(p, _) => {
                    add(p.parent().unwrap_or(p), false);
                    if p.is_dir() {
                        add(p, true);
                    }
                }
                Interest::StateDir(dir) => add(dir, false),
            }
        }
        out
    }
}

/// `dir` if it exists, else its closest existing ancestor (at worst `/`).
fn nearest_existing(dir: &Path) -> PathBuf {
    dir.ancestors()
        .find(|a| a.is_dir())
        .unwrap_or(Path::new("/"))
        .to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interests(items: Vec<Interest>) -> Interests {
        Interests {
            items,
            ignore: PathBuf::from("/h/.jackin"),
        }
    }

    #[test]
    fn only_events_about_what_a_pass_reads_count() {
        let i = interests(vec![
            Interest::Exact("/w/jackin.toml".into(), Kind::StateFile),
            Interest::Exact("/h/.kimi/config.toml".into(), Kind::HostLogin),
            Interest::Tree("/h/.kimi/credentials".into(), Kind::HostLogin),
            Interest::StateDir("/gitops".into()),
            Interest::Exact("/h/.secrets/openai".into(), Kind::EnvFile),
            Interest::Tree("/w/roles/smith".into(), Kind::BuildContext),
        ]);
        let c = |p: &str| i.classify(Path::new(p));
        assert_eq!(c("/h/.secrets/openai"), Some(Kind::EnvFile));
        assert_eq!(c("/h/.secrets/other"), None);
        assert_eq!(c("/w/roles/smith/src/a.rs"), Some(Kind::BuildContext));
        assert_eq!(c("/w/roles/other/Dockerfile"), None);
        assert_eq!(c("/w/jackin.toml"), Some(Kind::StateFile));
        assert_eq!(c("/w/.jackin.toml.swp"), None, "editor swap files");
        assert_eq!(c("/w/jackin.toml~"), None);
        assert_eq!(c("/h/.kimi/config.toml"), Some(Kind::HostLogin));
        assert_eq!(c("/h/.kimi/logs/today.log"), None, "not a catalogue entry");
        assert_eq!(
            c("/h/.kimi/credentials/a/b.json"),
            Some(Kind::HostLogin),
            "anything in a synced tree"
        );
        assert_eq!(c("/h/.kimi"), Some(Kind::HostLogin), "the folder appeared");
        assert_eq!(c("/h/.bashrc"), None);
        assert_eq!(c("/gitops/10-roles.yaml"), Some(Kind::StateFile));
        assert_eq!(c("/gitops/README.md"), None);
        assert_eq!(c("/gitops/sub/x.toml"), None);
    }

    #[test]
    fn jackin_own_writes_never_count() {
        let i = interests(vec![Interest::Exact(
            "/h/.claude.json".into(),
            Kind::HostLogin,
        )]);
        assert_eq!(i.classify(Path::new("/h/.jackin")), None);
        assert_eq!(
            i.classify(Path::new("/h/.jackin/data/jk-a-b/ledger.json")),
            None
        );
        assert_eq!(
            i.classify(Path::new("/h/.claude.json")),
            Some(Kind::HostLogin)
        );
    }

    #[test]
    fn a_missing_folder_is_watched_through_its_nearest_existing_ancestor() {
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("h");
        std::fs::create_dir_all(home.join(".kimi/credentials")).unwrap();
        let i = interests(vec![
            Interest::Exact(home.join(".kimi/config.toml"), Kind::HostLogin),
            Interest::Tree(home.join(".kimi/credentials"), Kind::HostLogin),
            Interest::Exact(home.join(".codex/auth.json"), Kind::HostLogin),
        ]);
        let w = i.watches();
        assert_eq!(
            w,
            BTreeMap::from([
                (home.clone(), false),
                (home.join(".kimi"), false),
                (home.join(".kimi/credentials"), true),
            ])
        );
    }
}
