//! The handoff store: every read and write jackin makes under `$JACKIN_HOME/data`.
//!
//! `data/{container}/handoff/{agent}/` is bind-mounted into the container; `data/{container}/
//! ledger.json` is jackin's record of what it wrote there. Everything goes through [`Dir`]
//! handles (see `dir.rs` for why): [`AgentHandoff::probe`] looks at one name the rules know,
//! [`AgentHandoff::write`] replaces one file atomically, [`AgentHandoff::create_new`] creates
//! one only where nothing is (a first-run seed), [`AgentHandoff::purge`] removes one. None of
//! them lists, walks or follows anything the container made.

use super::dir::{chown, not_a_directory, not_found, Dir, Kind, Owner};
use crate::agents::{AgentKind, OwnedKeys};
use crate::bounded::Hasher;
use crate::bounded::{self, Refused};
use crate::error::{Code, Coded};
use crate::fingerprint::sha256_hex;
use crate::ledger::{now_ns, FileStat, Hashed, Ledger};
use crate::paths::{JackinHome, HANDOFF_DIR, LEDGER_FILE};
use crate::words::RelPath;
use schemars::JsonSchema;
use serde::Serialize;
use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;

/// Something at a managed handoff path that jackin does not read: the container's doing.
/// It is kept like any change made inside the container, replaced (by an atomic rename, never
/// by writing into it) when the host changed, and reported with [`Code::E042`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Foreign {
    Symlink,
    Fifo,
    Socket,
    Device,
    Directory,
    /// Larger than 16 MiB: not a credential.
    Oversized,
    /// A directory on the way to it is a link or a file.
    BehindNonDirectory,
    /// It could not be examined (permissions, I/O error).
    Unreadable,
}

impl Foreign {
    /// What a refused read found.
    pub fn of(refused: Refused) -> Foreign {
        match refused {
            Refused::Oversized => Foreign::Oversized,
            Refused::NotRegular(kind) => Foreign::of_kind(kind),
        }
    }

    /// What a managed path of `kind` (not a regular file) is.
    pub fn of_kind(kind: Kind) -> Foreign {
        match kind {
            Kind::Symlink => Foreign::Symlink,
            Kind::Fifo => Foreign::Fifo,
            Kind::Socket => Foreign::Socket,
            Kind::Device => Foreign::Device,
            Kind::Directory => Foreign::Directory,
            Kind::File => Foreign::Unreadable,
        }
    }

    /// Whether a purge can remove it as one entry (everything but a directory).
    pub fn removable(self) -> bool {
        !matches!(
            self,
            Foreign::Directory | Foreign::BehindNonDirectory | Foreign::Unreadable
        )
    }
}

impl fmt::Display for Foreign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Foreign::Symlink => "a symbolic link",
            Foreign::Fifo => "a FIFO",
            Foreign::Socket => "a socket",
            Foreign::Device => "a device node",
            Foreign::Directory => "a directory",
            Foreign::Oversized => "a file larger than 16 MiB",
            Foreign::BehindNonDirectory => "behind a parent that is not a directory",
            Foreign::Unreadable => "unreadable",
        })
    }
}

/// What a managed handoff path holds (absent paths are simply not reported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    File(Hashed),
    Foreign(Foreign),
}

#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    /// jackin's own storage (data/, an instance folder, a ledger) failed.
    #[error("cannot use {path}: {source}")]
    Storage { path: PathBuf, source: io::Error },
    /// The container's handoff got in the way of an operation.
    #[error("{agent} handoff entry {path} {problem}")]
    Hostile {
        agent: AgentKind,
        path: RelPath,
        problem: String,
    },
    /// The engine that holds a handoff on another host (SPEC v3 §9) failed an operation, or
    /// found what jackin does not write through.
    #[error(transparent)]
    Engine(#[from] crate::remote::RemoteError),
}

impl Coded for HandoffError {
    fn code(&self) -> Code {
        match self {
            HandoffError::Storage { .. } => Code::E040,
            HandoffError::Hostile { .. } => Code::E042,
            HandoffError::Engine(e) => e.code(),
        }
    }
    fn hint(&self) -> Option<String> {
        Some(match self {
            HandoffError::Storage { .. } => "check that $JACKIN_HOME is yours and writable".into(),
            HandoffError::Hostile { .. } => HOSTILE_HINT.into(),
            HandoffError::Engine(e) => return e.hint(),
        })
    }
}

/// What an operator can do about content the container put where jackin works.
pub const HOSTILE_HINT: &str = "the container changed its handoff in a way jackin will not follow (it never follows links or reads anything but small regular files there); remove that entry inside the container (docker exec CONTAINER rm -rf PATH) and rerun apply";

/// `data/` of one `$JACKIN_HOME`.
#[derive(Debug, Clone)]
pub struct Store {
    home: JackinHome,
}

fn storage(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> HandoffError {
    let path = path.into();
    move |source| HandoffError::Storage { path, source }
}

impl Store {
    pub fn new(home: &JackinHome) -> Self {
        Store { home: home.clone() }
    }

    /// `data/`, made (0700) when `create`; `None` when absent and not created.
    fn data(&self, create: bool) -> Result<Option<Dir>, HandoffError> {
        let path = self.home.data();
        if create {
            // `$JACKIN_HOME` itself may be a link an operator made; `data` below it never is
            // (the open below refuses one).
            crate::paths::create_private_dir_all(&path).map_err(storage(&path))?;
        }
        match Dir::open(&path) {
            Ok(d) => Ok(Some(d)),
            Err(e) if not_found(&e) && !create => Ok(None),
            Err(e) => Err(storage(path)(e)),
        }
    }

    /// `data/{container}/`.
    fn instance(&self, container: &str, create: bool) -> Result<Option<Dir>, HandoffError> {
        let Some(data) = self.data(create)? else {
            return Ok(None);
        };
        let path = self.home.instance_dir(container);
        if create {
            data.create_dir(container.as_bytes())
                .map_err(storage(&path))?;
        }
        match data.open_dir(container.as_bytes()) {
            Ok(d) => Ok(Some(d)),
            Err(e) if not_found(&e) && !create => Ok(None),
            Err(e) => Err(storage(path)(e)),
        }
    }

    /// An agent's handoff directory. With `create`, it is made (and given to the container's
    /// user, who must be able to write its own state there); without, `None` when absent.
    pub fn agent(
        &self,
        container: &str,
        agent: AgentKind,
        create: Option<Owner>,
    ) -> Result<Option<AgentHandoff>, HandoffError> {
        let Some(inst) = self.instance(container, create.is_some())? else {
            return Ok(None);
        };
        self.agent_below(&inst, container, agent, create)
    }

    /// An agent's handoff directory below its instance folder `inst` (see [`Store::agent`]).
    fn agent_below(
        &self,
        inst: &Dir,
        container: &str,
        agent: AgentKind,
        create: Option<Owner>,
    ) -> Result<Option<AgentHandoff>, HandoffError> {
        let path = self.home.handoff_dir(container, agent);
        let mut below: Option<Dir> = None;
        for name in [HANDOFF_DIR.as_bytes(), agent.name().as_bytes()] {
            let at = below.as_ref().unwrap_or(inst);
            if create.is_some() {
                at.create_dir(name).map_err(storage(&path))?;
            }
            below = Some(match at.open_dir(name) {
                Ok(d) => d,
                Err(e) if not_found(&e) && create.is_none() => return Ok(None),
                Err(e) => return Err(storage(&path)(e)),
            });
        }
        let Some(cur) = below else {
            return Ok(None);
        };
        if let Some(owner) = create {
            cur.chown(owner).map_err(storage(&path))?;
        }
        Ok(Some(AgentHandoff { root: cur, agent }))
    }

    /// The instance's ledger. Missing: empty. Unreadable or corrupt: empty with a warning
    /// (without it jackin only ever copies host content, which is safe).
    pub fn load_ledger(&self, container: &str) -> (Ledger, Option<String>) {
        match self.instance(container, false) {
            Ok(Some(inst)) => self.ledger_in(&inst, container),
            _ => (Ledger::default(), None),
        }
    }

    /// The ledger in the instance folder `inst` (see [`Store::load_ledger`]).
    fn ledger_in(&self, inst: &Dir, container: &str) -> (Ledger, Option<String>) {
        let path = self.home.ledger_path(container);
        let read = || -> io::Result<Option<Vec<u8>>> {
            let mut file = match inst.open_read(LEDGER_FILE.as_bytes()) {
                Ok(f) => f,
                Err(e) if not_found(&e) => return Ok(None),
                Err(e) => return Err(e),
            };
            bounded::read(&mut file).map(|(bytes, _)| Some(bytes))
        };
        match read() {
            Ok(None) => (Ledger::default(), None),
            Ok(Some(bytes)) => Ledger::parse(&bytes, &path),
            Err(e) => (
                Ledger::default(),
                Some(format!(
                    "ledger {} is unreadable ({e}); starting afresh",
                    path.display()
                )),
            ),
        }
    }

    /// `data/` opened once, to read many instances from (observe): each instance's ledger and
    /// handoffs come from one handle of its folder.
    pub fn reader(&self) -> Result<Reader<'_>, HandoffError> {
        Ok(Reader {
            store: self,
            data: self.data(false)?,
        })
    }

    pub fn save_ledger(&self, container: &str, ledger: &Ledger) -> Result<(), HandoffError> {
        let path = self.home.ledger_path(container);
        let inst = self
            .instance(container, true)?
            .expect("created when missing");
        let name = LEDGER_FILE.as_bytes();
        inst.stat(name)
            .and_then(|existing| replace(&inst, name, existing.as_ref(), &ledger.to_bytes(), None))
            .map(|_| ())
            .map_err(storage(path))
    }

    /// Every folder of instance `container`: its own, and one per host whose engine holds its
    /// handoff (`NAME@HOST`, [`crate::desired::hosts::folder`]), including hosts the state
    /// file no longer names.
    pub fn folders_of(&self, container: &str) -> Result<Vec<String>, HandoffError> {
        let Some(data) = self.data(false)? else {
            return Ok(Vec::new());
        };
        let names = data.names().map_err(storage(self.home.data()))?;
        let on_host = format!("{container}@");
        Ok(names
            .into_iter()
            .filter_map(|n| String::from_utf8(n).ok())
            .filter(|n| n == container || n.starts_with(&on_host))
            .collect())
    }

    /// `--purge-removed`: delete an instance's whole folder (its container is gone by now).
    pub fn purge_instance(&self, container: &str) -> Result<(), HandoffError> {
        let path = self.home.instance_dir(container);
        let Some(data) = self.data(false)? else {
            return Ok(());
        };
        super::purge::remove_tree(&data, container.as_bytes()).map_err(storage(path))
    }
}

/// `data/` held open for reading ([`Store::reader`]).
pub struct Reader<'a> {
    store: &'a Store,
    data: Option<Dir>,
}

impl Reader<'_> {
    /// One instance's folder, held open; `None` when jackin has no state for it yet.
    pub fn instance<'c>(
        &self,
        container: &'c str,
    ) -> Result<Option<InstanceReader<'_, 'c>>, HandoffError> {
        let Some(data) = &self.data else {
            return Ok(None);
        };
        match data.open_dir(container.as_bytes()) {
            Ok(dir) => Ok(Some(InstanceReader {
                store: self.store,
                container,
                dir,
            })),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(storage(self.store.home.instance_dir(container))(e)),
        }
    }
}

/// One instance's folder, held open for reading.
pub struct InstanceReader<'s, 'c> {
    store: &'s Store,
    container: &'c str,
    dir: Dir,
}

impl InstanceReader<'_, '_> {
    /// Its ledger (see [`Store::load_ledger`]).
    pub fn ledger(&self) -> (Ledger, Option<String>) {
        self.store.ledger_in(&self.dir, self.container)
    }

    /// One agent's handoff, if there is one.
    pub fn agent(&self, agent: AgentKind) -> Result<Option<AgentHandoff>, HandoffError> {
        self.store
            .agent_below(&self.dir, self.container, agent, None)
    }
}

/// One agent's handoff directory, held open.
#[derive(Debug)]
pub struct AgentHandoff {
    root: Dir,
    agent: AgentKind,
}

/// What [`AgentHandoff::parents`] does with a parent directory that is not there.
#[derive(Clone, Copy)]
enum Make {
    /// Nothing: the walk stops.
    No,
    /// Make it (0700, given to the owner).
    Missing(Owner),
    /// Make it, and first remove a link or file the container put in its place.
    Replacing(Owner),
}

/// Why a walk down a path's parents stopped before the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Missing,
    /// A link or a file where a directory should be (or one appeared mid-walk).
    Blocked,
}

/// The parent directories opened so far, top first (empty: the path is in the agent's own
/// directory), and why the walk stopped, if it did.
struct Walk {
    dirs: Vec<Dir>,
    stopped: Option<Stop>,
}

impl AgentHandoff {
    fn hostile(&self, path: &RelPath, problem: impl Into<String>) -> HandoffError {
        HandoffError::Hostile {
            agent: self.agent,
            path: path.clone(),
            problem: problem.into(),
        }
    }

    fn io(&self, path: &RelPath) -> impl FnOnce(io::Error) -> HandoffError + '_ {
        let path = path.clone();
        move |e| self.hostile(&path, format!("could not be used: {e}"))
    }

    /// Open the parents of `rel`, one no-follow handle at a time, making them as `make` says.
    /// Every handoff operation starts here: nothing below takes a path string.
    fn parents(&self, rel: &RelPath, make: Make) -> io::Result<Walk> {
        let (dirs, _) = rel.split_last();
        let mut walk = Walk {
            dirs: Vec::new(),
            stopped: None,
        };
        for name in dirs {
            let at = walk.dirs.last().unwrap_or(&self.root);
            let made = match (at.open_dir(name), make) {
                (Ok(d), _) => {
                    walk.dirs.push(d);
                    continue;
                }
                (Err(e), Make::No) if not_found(&e) => Err(Stop::Missing),
                (Err(e), Make::No | Make::Missing(_)) if not_a_directory(&e) => Err(Stop::Blocked),
                (Err(e), Make::Missing(owner)) if not_found(&e) => {
                    Ok((at.create_dir(name)?, owner))
                }
                (Err(e), Make::Replacing(owner)) if not_found(&e) || not_a_directory(&e) => {
                    if not_a_directory(&e) {
                        at.remove_file(name)?;
                    }
                    Ok((at.create_dir(name)?, owner))
                }
                (Err(e), _) => return Err(e),
            };
            let (made, owner) = match made {
                Ok(m) => m,
                Err(stop) => {
                    walk.stopped = Some(stop);
                    return Ok(walk);
                }
            };
            match at.open_dir(name) {
                Ok(d) => {
                    if made {
                        d.chown(owner)?;
                    }
                    walk.dirs.push(d);
                }
                // Replaced between the two opens: the container's.
                Err(e) if not_found(&e) || not_a_directory(&e) => {
                    walk.stopped = Some(Stop::Blocked);
                    return Ok(walk);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(walk)
    }

    /// The directory a path's last name is in, once the walk reached it.
    fn parent<'a>(&'a self, walk: &'a Walk) -> &'a Dir {
        walk.dirs.last().unwrap_or(&self.root)
    }

    /// Whether anything is at `rel` (of any kind; nothing is opened but its parents).
    pub fn exists(&self, rel: &RelPath) -> bool {
        let (_, name) = rel.split_last();
        match self.parents(rel, Make::No) {
            Ok(w) => match w.stopped {
                None => self.parent(&w).lstat(name).map_or(true, |m| m.is_some()),
                Some(Stop::Missing) => false,
                Some(Stop::Blocked) => true,
            },
            Err(_) => true,
        }
    }

    /// What `rel` holds now, hashed (streamed, at most 16 MiB) only when it is a regular
    /// file whose stat differs from `prior`'s. `None`: nothing there. With `keys`, the hash is
    /// of the keys jackin owns in that shared document ([`OwnedKeys::found`]), not of the
    /// bytes.
    pub fn probe(
        &self,
        rel: &RelPath,
        prior: Option<&Hashed>,
        hasher: &mut Hasher,
        keys: Option<&OwnedKeys>,
    ) -> Option<Seen> {
        let (_, name) = rel.split_last();
        let walk = match self.parents(rel, Make::No) {
            Ok(w) => w,
            Err(_) => return Some(Seen::Foreign(Foreign::Unreadable)),
        };
        match walk.stopped {
            None => {}
            Some(Stop::Missing) => return None,
            Some(Stop::Blocked) => return Some(Seen::Foreign(Foreign::BehindNonDirectory)),
        }
        let parent = self.parent(&walk);
        let meta = match parent.lstat(name) {
            Ok(Some(m)) => m,
            Ok(None) => return None,
            Err(_) => return Some(Seen::Foreign(Foreign::Unreadable)),
        };
        if meta.kind != Kind::File {
            return Some(Seen::Foreign(Foreign::of_kind(meta.kind)));
        }
        if meta.len > bounded::MAX_FILE {
            return Some(Seen::Foreign(Foreign::Oversized));
        }
        let stat = meta.stat;
        if let Some(p) = prior.filter(|p| p.reuse(&stat).is_some()) {
            return Some(Seen::File(p.clone()));
        }
        let at_ns = now_ns();
        let mut file = match parent.open_read(name) {
            Ok(f) => f,
            Err(e) if not_found(&e) => return None,
            Err(e) if not_a_directory(&e) => return Some(Seen::Foreign(Foreign::Symlink)),
            Err(_) => return Some(Seen::Foreign(Foreign::Unreadable)),
        };
        let hashed = match keys {
            None => bounded::hash(&mut file),
            Some(keys) => bounded::read_checked(&mut file).map(|r| {
                r.map(|(bytes, meta)| (sha256_hex(&keys.found(&bytes)), bytes.len() as u64, meta))
            }),
        };
        match hashed {
            Ok(Ok((sha256, len, meta))) => {
                hasher.count(len);
                Some(Seen::File(Hashed {
                    sha256,
                    stat: FileStat::of(&meta),
                    at_ns,
                }))
            }
            Ok(Err(refused)) => Some(Seen::Foreign(Foreign::of(refused))),
            Err(_) => Some(Seen::Foreign(Foreign::Unreadable)),
        }
    }

    /// The bytes of `rel` when it is a regular file of at most 16 MiB (opened no-follow and
    /// non-blocking, checked on the handle); `None` for anything else or nothing. For a
    /// shared document that jackin merges into.
    pub fn read(&self, rel: &RelPath) -> Option<Vec<u8>> {
        let (_, name) = rel.split_last();
        let walk = self.parents(rel, Make::No).ok()?;
        if walk.stopped.is_some() {
            return None;
        }
        let mut file = self.parent(&walk).open_read(name).ok()?;
        bounded::read_checked(&mut file).ok()?.ok().map(|(b, _)| b)
    }

    /// Make `rel` hold `bytes`, owned by `owner`, mode 0600: a temp file in the same
    /// directory, fsync, rename over the old entry (a link or FIFO there is replaced, never
    /// written through), fsync the directory. Missing parents are made 0700 for `owner`; a
    /// parent the container turned into a link or file is replaced by a directory. Returns
    /// the file's stat (identical bytes with the right owner are left alone).
    pub fn write(
        &self,
        rel: &RelPath,
        bytes: &[u8],
        owner: Owner,
    ) -> Result<FileStat, HandoffError> {
        let (_, name) = rel.split_last();
        let walk = self
            .parents(rel, Make::Replacing(owner))
            .map_err(self.io(rel))?;
        if walk.stopped.is_some() {
            return Err(self.hostile(rel, "changed its parent directory while jackin wrote it"));
        }
        let parent = self.parent(&walk);
        let existing = parent.stat(name).map_err(self.io(rel))?;
        if existing
            .as_ref()
            .is_some_and(|m| Kind::of(m.file_type()) == Kind::Directory)
        {
            return Err(self.hostile(rel, "is a directory where jackin writes a file"));
        }
        replace(parent, name, existing.as_ref(), bytes, Some(owner)).map_err(self.io(rel))
    }

    /// Give `paths` (what jackin forwarded) and the directories on the way to `owner`: on a
    /// create or recreate the container may run as someone new. Nothing is followed; a path
    /// that is gone or behind a non-directory is skipped.
    pub fn give(&self, paths: &[RelPath], owner: Owner) -> Result<(), HandoffError> {
        for rel in paths {
            let (_, name) = rel.split_last();
            let walk = self.parents(rel, Make::No).map_err(self.io(rel))?;
            for dir in &walk.dirs {
                dir.chown(owner).map_err(self.io(rel))?;
            }
            if walk.stopped.is_none() {
                match self.parent(&walk).chown_entry(name, owner) {
                    Err(e) if !not_found(&e) => return Err(self.io(rel)(e)),
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Create `rel` holding `bytes` (owned by `owner`, 0600) only when nothing is there: a
    /// temp file, fsync, then `renameat2(RENAME_NOREPLACE)`, so whatever the container put at
    /// that name — a file, a link, anything, even a moment ago — stays as it is. Missing
    /// parents are made 0700 for `owner`; a parent that is anything but a directory is the
    /// container's, and nothing is written. Returns whether it wrote: `false` is not an error.
    pub fn create_new(
        &self,
        rel: &RelPath,
        bytes: &[u8],
        owner: Owner,
    ) -> Result<bool, HandoffError> {
        let (_, name) = rel.split_last();
        let walk = self
            .parents(rel, Make::Missing(owner))
            .map_err(self.io(rel))?;
        if walk.stopped.is_some() {
            return Ok(false); // a parent that is not a directory is the container's
        }
        let parent = self.parent(&walk);
        let (tmp, _file) = stage(parent, bytes, owner).map_err(self.io(rel))?;
        let result = parent.rename_noreplace(&tmp, name).and_then(|placed| {
            if placed {
                parent.sync()?;
            }
            Ok(placed)
        });
        if !matches!(result, Ok(true)) {
            let _ = parent.remove_file(&tmp);
        }
        result.map_err(self.io(rel))
    }

    /// Remove `rel` (a file, or a link/FIFO/socket/device as one entry; never a directory),
    /// unless `expect` is given and the entry is no longer that file. Then drop parents left
    /// empty; the agent's own directory stays (it is a mount source). Returns whether
    /// anything was removed.
    pub fn purge(&self, rel: &RelPath, expect: Option<&FileStat>) -> Result<bool, HandoffError> {
        let (dirs, name) = rel.split_last();
        let walk = self.parents(rel, Make::No).map_err(self.io(rel))?;
        if walk.stopped.is_some() {
            return Ok(false);
        }
        let parent = self.parent(&walk);
        let Some(meta) = parent.stat(name).map_err(self.io(rel))? else {
            return Ok(false);
        };
        if Kind::of(meta.file_type()) == Kind::Directory {
            return Err(self.hostile(rel, "is a directory; jackin removes only files it wrote"));
        }
        if let Some(expect) = expect {
            let now = FileStat::of(&meta);
            if (now.ino, now.dev) != (expect.ino, expect.dev) {
                return Err(
                    self.hostile(rel, "was replaced while jackin was applying; rerun apply")
                );
            }
        }
        match parent.remove_file(name) {
            Ok(()) => {}
            Err(e) if not_found(&e) => return Ok(false),
            Err(e) => return Err(self.io(rel)(e)),
        }
        parent.sync().map_err(self.io(rel))?;
        let names: Vec<&[u8]> = dirs.collect();
        for (i, dir) in names.iter().enumerate().rev() {
            let at = if i == 0 {
                &self.root
            } else {
                &walk.dirs[i - 1]
            };
            if at.remove_dir(dir).is_err() {
                break; // not empty: the container's files stay
            }
        }
        Ok(true)
    }
}

/// Atomically make `name` in `dir` hold `bytes` (see [`AgentHandoff::write`]).
/// `existing` is what the caller saw at `name` (from [`Dir::stat`]).
fn replace(
    dir: &Dir,
    name: &[u8],
    existing: Option<&std::fs::Metadata>,
    bytes: &[u8],
    owner: Option<Owner>,
) -> io::Result<FileStat> {
    use std::os::unix::fs::MetadataExt;
    let owner = owner.unwrap_or_else(Owner::current);
    // Only a regular file of the same size is opened to compare: a device is never opened.
    let same_size = existing
        .is_some_and(|m| Kind::of(m.file_type()) == Kind::File && m.len() == bytes.len() as u64);
    if same_size {
        if let Ok(mut existing) = dir.open_read(name) {
            if let Ok((old, meta)) = bounded::read(&mut existing) {
                if old == bytes && meta.uid() == owner.uid && meta.gid() == owner.gid {
                    return Ok(FileStat::of(&meta));
                }
            }
        }
    }
    let (tmp, file) = stage(dir, bytes, owner)?;
    let placed = dir
        .rename(&tmp, name)
        .and_then(|()| dir.sync())
        .and_then(|()| file.metadata());
    if placed.is_err() {
        let _ = dir.remove_file(&tmp);
    }
    Ok(FileStat::of(&placed?))
}

/// A new temp file in `dir` holding `bytes`, owned by `owner`, mode 0600, synced to disk:
/// its name and handle, for the caller to rename into place (and remove if that fails).
/// Removed again when a step here fails.
fn stage(dir: &Dir, bytes: &[u8], owner: Owner) -> io::Result<(Vec<u8>, File)> {
    let (tmp, mut file) = dir.create_temp()?;
    let staged = file
        .write_all(bytes)
        .and_then(|()| chown(&file, owner))
        .and_then(|()| file.sync_all());
    match staged {
        Ok(()) => Ok((tmp, file)),
        Err(e) => {
            let _ = dir.remove_file(&tmp);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn handoff(home: &std::path::Path) -> (AgentHandoff, PathBuf) {
        let jh = JackinHome::at(home.join("jh"));
        let dir = jh.handoff_dir("jk-a-b", AgentKind::Codex);
        let store = Store::new(&jh);
        let h = store
            .agent("jk-a-b", AgentKind::Codex, Some(Owner::current()))
            .unwrap()
            .unwrap();
        (h, dir)
    }

    #[test]
    fn create_new_writes_a_private_file_where_nothing_is() {
        let tmp = tempfile::tempdir().unwrap();
        let (h, dir) = handoff(tmp.path());
        let rel = RelPath::catalogue("config.toml");
        assert!(h.create_new(&rel, b"seed", Owner::current()).unwrap());
        let meta = std::fs::metadata(dir.join("config.toml")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(dir.join("config.toml")).unwrap(), b"seed");
        let nested = RelPath::parse("a/b/c.json").unwrap();
        assert!(h.create_new(&nested, b"x", Owner::current()).unwrap());
        let meta = std::fs::metadata(dir.join("a/b")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    }

    #[test]
    fn create_new_never_replaces_what_is_there_nor_leaves_the_handoff() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("victim"), b"host").unwrap();
        let (h, dir) = handoff(tmp.path());
        std::fs::write(dir.join("file"), b"container's").unwrap();
        symlink(outside.path().join("victim"), dir.join("link")).unwrap();
        symlink(outside.path().join("missing"), dir.join("dangling")).unwrap();
        std::fs::create_dir(dir.join("dir")).unwrap();
        symlink(outside.path(), dir.join("parent")).unwrap();
        for name in ["file", "link", "dangling", "dir", "parent/new"] {
            let rel = RelPath::parse(name).unwrap();
            assert!(
                !h.create_new(&rel, b"seed", Owner::current()).unwrap(),
                "{name}"
            );
        }
        assert_eq!(std::fs::read(dir.join("file")).unwrap(), b"container's");
        assert_eq!(
            std::fs::read(outside.path().join("victim")).unwrap(),
            b"host"
        );
        assert!(!outside.path().join("missing").exists());
        assert!(!outside.path().join("new").exists());
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with(".jackin-"))
            .collect();
        assert!(left.is_empty(), "temp files left behind: {left:?}");
    }
}
