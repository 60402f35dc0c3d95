//! File-system hints through `notify`: inotify, or notify's `PollWatcher` when the kernel's
//! inotify limits are hit (`max_user_watches` / `max_user_instances` are per user and shared
//! with every IDE and file indexer on the machine, so a long-running watch must survive them).
//!
//! This module only installs watches and forwards raw paths; [`super::interest`] decides
//! which paths matter. Reads are filtered out here: a pass opens every host file it hashes,
//! and inotify reports those opens, so passing them on would make every pass trigger the next.

use super::Trigger;
use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{EventKind, PollWatcher, RecommendedWatcher, RecursiveMode, Watcher};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// How often the polling fallback rescans what it watches.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

enum Backend {
    Native(RecommendedWatcher),
    Poll(PollWatcher),
}

/// A watched directory: recursive or not, and the inode it had when the watch was added
/// (a directory replaced under the same name needs a new watch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Watched {
    recursive: bool,
    inode: Option<(u64, u64)>,
}

pub struct FsWatch {
    backend: Backend,
    watched: BTreeMap<PathBuf, Watched>,
    tx: UnboundedSender<Trigger>,
}

impl FsWatch {
    /// inotify when the kernel gives us an instance; otherwise polling, with a warning.
    pub fn new(tx: UnboundedSender<Trigger>) -> (Self, Option<String>) {
        match RecommendedWatcher::new(handler(tx.clone()), notify::Config::default()) {
            Ok(w) => (
                FsWatch {
                    backend: Backend::Native(w),
                    watched: BTreeMap::new(),
                    tx,
                },
                None,
            ),
            Err(e) => {
                let fs = FsWatch {
                    backend: Backend::Poll(poll_watcher(tx.clone())),
                    watched: BTreeMap::new(),
                    tx,
                };
                (fs, Some(fallback_warning(&e)))
            }
        }
    }

    pub fn backend(&self) -> &'static str {
        match self.backend {
            Backend::Native(_) => "inotify",
            Backend::Poll(_) => "polling",
        }
    }

    /// Make the watched set equal `want` (directory → recursive). Returns warnings: the
    /// switch to polling, or a directory that could not be watched (retried next pass).
    pub fn sync(&mut self, want: &BTreeMap<PathBuf, bool>) -> Vec<String> {
        let mut warnings = Vec::new();
        let stale: Vec<PathBuf> = self
            .watched
            .iter()
            .filter(|(p, w)| want.get(*p) != Some(&w.recursive) || inode(p) != w.inode)
            .map(|(p, _)| p.clone())
            .collect();
        for p in stale {
            self.watched.remove(&p);
            // The kernel already dropped the watch of a deleted directory: nothing to undo.
            let _ = self.watcher().unwatch(&p);
        }
        for (path, &recursive) in want {
            if self.watched.contains_key(path) {
                continue;
            }
            let mode = if recursive {
                RecursiveMode::Recursive
            } else {
                RecursiveMode::NonRecursive
            };
            let inode = inode(path);
            match self.watcher().watch(path, mode) {
                Ok(()) => {
                    self.watched
                        .insert(path.clone(), Watched { recursive, inode });
                }
                Err(e) if is_limit(&e) && matches!(self.backend, Backend::Native(_)) => {
                    warnings.push(fallback_warning(&e));
                    self.backend = Backend::Poll(poll_watcher(self.tx.clone()));
                    self.watched.clear();
                    warnings.extend(self.sync(want));
                    return warnings;
                }
                Err(e) => warnings.push(format!(
                    "cannot watch {}: {e}; it is checked again at the next pass",
                    path.display()
                )),
            }
        }
        warnings
    }

    /// The watched directories.
    pub fn paths(&self) -> Vec<String> {
        self.watched
            .iter()
            .map(|(p, w)| {
                let suffix = if w.recursive { "/**" } else { "" };
                format!("{}{suffix}", p.display())
            })
            .collect()
    }

    fn watcher(&mut self) -> &mut dyn Watcher {
        match &mut self.backend {
            Backend::Native(w) => w,
            Backend::Poll(w) => w,
        }
    }
}

fn inode(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// The inotify watch or instance limit (ENOSPC / EMFILE from the kernel).
fn is_limit(e: &notify::Error) -> bool {
    match &e.kind {
        notify::ErrorKind::MaxFilesWatch => true,
        notify::ErrorKind::Io(io) => {
            matches!(io.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EMFILE))
        }
        _ => false,
    }
}

fn fallback_warning(e: &notify::Error) -> String {
    format!(
        "inotify is unavailable ({e}); falling back to polling every {}s. Raise fs.inotify.max_user_watches / max_user_instances (sysctl) for prompt updates",
        POLL_INTERVAL.as_secs()
    )
}

/// Contents are compared, not only mtimes: notify's poller keeps mtimes in whole seconds, so
/// a token refreshed in the same second as the previous write (a rename, even) would
/// otherwise go unseen until the next resync. The watched folders are credential folders and
/// the state file's folder (not recursive), so reading them every interval is cheap.
fn poll_watcher(tx: UnboundedSender<Trigger>) -> PollWatcher {
    let config = notify::Config::default()
        .with_poll_interval(POLL_INTERVAL)
        .with_compare_contents(true);
    PollWatcher::new(handler(tx), config).expect("PollWatcher::new does not fail")
}

/// Whether an event says a file is complete: a rename into place (how login tools and
/// editors save) or the close of a file opened for writing. Anything else (a create, a write
/// still going on) may be followed by more, which the debounce merges.
fn complete(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Access(AccessKind::Close(AccessMode::Write))
            | EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both))
    )
}

/// Forward writes, creations, renames and deletions; drop reads (our own hashing).
fn handler(tx: UnboundedSender<Trigger>) -> impl Fn(notify::Result<notify::Event>) + Send {
    move |res| {
        let trigger = match res {
            Ok(ev) if ev.need_rescan() => Trigger::Rescan,
            Ok(ev) => match ev.kind {
                EventKind::Access(_) if !complete(&ev.kind) => return,
                kind => Trigger::Fs {
                    complete: complete(&kind),
                    paths: ev.paths,
                },
            },
            // Lost events (queue overflow and the like): fall back to a full pass.
            Err(_) => Trigger::Rescan,
        };
        let _ = tx.send(trigger);
    }
}

/// The kernel's per-user inotify limits and what this user's processes hold of them now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InotifyUsage {
    /// `/proc/sys/fs/inotify/max_user_watches`.
    pub max_watches: u64,
    /// `/proc/sys/fs/inotify/max_user_instances`.
    pub max_instances: u64,
    /// Watches held by the processes of the user running jackin (those it can see).
    pub used_watches: u64,
    /// inotify instances held by them.
    pub used_instances: u64,
}

/// The limits, and their current use by this user's processes (every inotify file
/// descriptor under `/proc/*/fd` and its `inotify wd:` lines in `fdinfo`); `None` when the
/// kernel has no inotify (no `/proc/sys/fs/inotify`).
pub fn inotify_usage() -> Option<InotifyUsage> {
    let limit = |name: &str| -> Option<u64> {
        std::fs::read_to_string(format!("/proc/sys/fs/inotify/{name}"))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    let mut usage = InotifyUsage {
        max_watches: limit("max_user_watches")?,
        max_instances: limit("max_user_instances")?,
        used_watches: 0,
        used_instances: 0,
    };
    let me = rustix::process::getuid().as_raw();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Some(usage);
    };
    for proc in procs.filter_map(Result::ok) {
        let pid = proc.path();
        let is_pid = proc
            .file_name()
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
        // The limits count per real uid: only this user's processes use them up.
        if !is_pid || std::fs::metadata(&pid).map_or(true, |m| m.uid() != me) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(pid.join("fd")) else {
            continue;
        };
        for fd in fds.filter_map(Result::ok) {
            let inotify =
                std::fs::read_link(fd.path()).is_ok_and(|t| t.as_os_str() == "anon_inode:inotify");
            if !inotify {
                continue;
            }
            usage.used_instances += 1;
            let info = pid.join("fdinfo").join(fd.file_name());
            if let Ok(text) = std::fs::read_to_string(info) {
                usage.used_watches += text
                    .lines()
                    .filter(|l| l.starts_with("inotify wd:"))
                    .count() as u64;
            }
        }
    }
    Some(usage)
}

/// The inotify watches a set of directory watches costs: one per directory, a recursive one
/// one per directory below it too (links are not followed; counting stops at `cap`).
pub fn watches_for(want: &BTreeMap<PathBuf, bool>, cap: usize) -> usize {
    fn below(dir: &Path, count: &mut usize, cap: usize) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.filter_map(Result::ok) {
            if *count >= cap {
                return;
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                *count += 1;
                below(&e.path(), count, cap);
            }
        }
    }
    let mut count = 0;
    for (dir, &recursive) in want {
        count += 1;
        if recursive {
            below(dir, &mut count, cap);
        }
    }
    count.min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rename_into_place_or_a_closed_write_is_complete_and_nothing_else_is() {
        use notify::event::{CreateKind, DataChange};
        for kind in [
            EventKind::Modify(ModifyKind::Name(RenameMode::To)),
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
        ] {
            assert!(complete(&kind), "{kind:?}");
        }
        for kind in [
            EventKind::Create(CreateKind::File),
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            EventKind::Modify(ModifyKind::Name(RenameMode::From)),
            EventKind::Access(AccessKind::Open(AccessMode::Write)),
        ] {
            assert!(!complete(&kind), "{kind:?}");
        }
    }

    #[test]
    fn a_recursive_watch_costs_one_watch_per_directory_below_it() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        for d in ["creds/a/b", "creds/c", "flat/sub"] {
            std::fs::create_dir_all(r.join(d)).unwrap();
        }
        std::fs::write(r.join("creds/a/token.json"), "{}").unwrap();
        std::os::unix::fs::symlink(r.join("flat"), r.join("creds/link")).unwrap();
        let want = BTreeMap::from([(r.join("creds"), true), (r.join("flat"), false)]);
        // creds, creds/a, creds/a/b, creds/c (the link is not followed), flat.
        assert_eq!(watches_for(&want, 1_000), 5);
        assert_eq!(watches_for(&want, 3), 3, "counting stops at the cap");
    }

    #[test]
    fn inotify_usage_counts_the_watches_this_process_holds() {
        let Some(before) = inotify_usage() else {
            return; // no inotify on this kernel
        };
        assert!(before.max_watches > 0 && before.max_instances > 0);
        let dir = tempfile::tempdir().unwrap();
        let mut w = RecommendedWatcher::new(|_| {}, notify::Config::default()).unwrap();
        w.watch(dir.path(), RecursiveMode::NonRecursive).unwrap();
        let during = inotify_usage().unwrap();
        // Other tests may hold watchers too; this one is at least counted.
        assert!(during.used_instances >= 1, "{during:?}");
        assert!(during.used_watches >= 1, "{during:?}");
    }
}
