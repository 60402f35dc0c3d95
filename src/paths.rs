//! Where jackin keeps its own state, and how operator paths are expanded.
//!
//! Everything jackin writes lives under `$JACKIN_HOME` (default `~/.jackin`):
//! `data/{container}/handoff/{agent}/` (bind-mounted into the container),
//! `data/{container}/ledger.json` (what jackin last wrote), `locks/{project}.lock` and `key`
//! (the per-install fingerprint key). Host credential folders are only ever read.
//!
//! All of it is private, like ssh's `~/.ssh` under StrictModes: jackin creates its directories
//! 0700 and its files 0600 whatever the umask, and [`JackinHome::ensure_private`] refuses a
//! home (or `data/`, `locks/`) that another user owns or could write into.

use crate::agents::AgentKind;
use crate::error::{Code, Coded};
use rustix::fs::{Mode, OFlags};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// `data/{container}/handoff/`: the agents' handoff directories of one instance.
pub const HANDOFF_DIR: &str = "handoff";
/// `data/{container}/ledger.json`.
pub const LEDGER_FILE: &str = "ledger.json";
/// jackin's own state is not private, so it is not used.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    #[error("jackin's own directory {path} is not private: {found}")]
    NotPrivate {
        path: PathBuf,
        /// What was found (owner, mode or file type).
        found: String,
        /// The command or step that fixes it.
        fix: String,
    },
    #[error("cannot create or inspect jackin's own directory {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Coded for HomeError {
    fn code(&self) -> Code {
        match self {
            HomeError::NotPrivate { .. } => Code::E044,
            HomeError::Io { .. } => Code::E040,
        }
    }
    fn hint(&self) -> Option<String> {
        Some(match self {
            HomeError::NotPrivate { fix, .. } => fix.clone(),
            HomeError::Io { .. } => {
                "check that $JACKIN_HOME is writable by the user running jackin".into()
            }
        })
    }
}

#[derive(Debug, Clone)]
pub struct JackinHome {
    root: PathBuf,
}

impl JackinHome {
    /// `$JACKIN_HOME`, else `$HOME/.jackin`.
    pub fn from_env() -> Self {
        let root = std::env::var_os("JACKIN_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| home_dir().join(".jackin"));
        JackinHome { root }
    }

    pub fn at(root: impl Into<PathBuf>) -> Self {
        JackinHome { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    pub fn instance_dir(&self, container: &str) -> PathBuf {
        self.data().join(container)
    }

    pub fn handoff_dir(&self, container: &str, agent: AgentKind) -> PathBuf {
        self.instance_dir(container)
            .join(HANDOFF_DIR)
            .join(agent.name())
    }

    pub fn ledger_path(&self, container: &str) -> PathBuf {
        self.instance_dir(container).join(LEDGER_FILE)
    }

    /// `run/ssh/`: the control sockets of this run's `ssh://` connections.
    pub fn ssh_dir(&self) -> PathBuf {
        self.root.join("run").join("ssh")
    }

    pub fn locks(&self) -> PathBuf {
        self.root.join("locks")
    }

    pub fn lock_path(&self, project: &str) -> PathBuf {
        self.locks().join(format!("{project}.lock"))
    }

    pub fn key_path(&self) -> PathBuf {
        self.root.join("key")
    }

    /// Make sure jackin's own state is private before anything in it is read or written:
    /// creates `$JACKIN_HOME` (0700) when missing, then refuses it, `data/` or `locks/` when
    /// owned by another user or writable by group or others (the fix is in the error).
    /// `$JACKIN_HOME` may be a symlink (the directory it points to is checked); `data/` and
    /// `locks/` must be real directories. A missing `data/` or `locks/` is fine: nobody else
    /// can create one inside a private home, and jackin creates them 0700 on first write.
    pub fn ensure_private(&self) -> Result<(), HomeError> {
        create_private_dir_all(&self.root).map_err(|source| HomeError::Io {
            path: self.root.clone(),
            source,
        })?;
        self.check_private().map(|_| ())
    }

    /// The checks of [`JackinHome::ensure_private`] without creating anything (for
    /// `doctor`): `Ok(false)` when there is nothing at `$JACKIN_HOME` yet (the first
    /// plan or apply creates it 0700), `Ok(true)` when it is there and private.
    pub fn check_private(&self) -> Result<bool, HomeError> {
        match std::fs::symlink_metadata(&self.root) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            _ => {}
        }
        check_private_dir(&self.root, true)?;
        check_private_dir(&self.data(), false)?;
        check_private_dir(&self.locks(), false)?;
        Ok(true)
    }
}

/// The effective uid jackin runs as: the only owner its own files may have.
pub fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// "is owned by uid N, not by you (uid M)" when `uid` is not the effective uid.
fn not_yours(uid: u32) -> Option<String> {
    let me = euid();
    (uid != me).then(|| format!("is owned by uid {uid}, not by you (uid {me})"))
}

/// Why a file of jackin's own is not opened.
#[derive(Debug)]
pub enum OwnFileError {
    /// It cannot be trusted, as a predicate: "is a symlink", "is not a regular file", or
    /// not owned by the user running jackin.
    Untrusted(String),
    Io(std::io::Error),
}

/// Open a file of jackin's own (the key, a lock file) as `options` say: never through a
/// symlink (O_NOFOLLOW), never blocking on a FIFO planted there (O_NONBLOCK, which changes
/// nothing for a regular file), not inherited (O_CLOEXEC); then check the open handle: a
/// regular file owned by the user running jackin.
pub fn open_own_file(
    path: &Path,
    options: &mut std::fs::OpenOptions,
) -> Result<(std::fs::File, std::fs::Metadata), OwnFileError> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let file = options
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                OwnFileError::Untrusted("is a symlink".into())
            } else {
                OwnFileError::Io(e)
            }
        })?;
    let meta = file.metadata().map_err(OwnFileError::Io)?;
    if !meta.is_file() {
        return Err(OwnFileError::Untrusted("is not a regular file".into()));
    }
    if let Some(problem) = not_yours(meta.uid()) {
        return Err(OwnFileError::Untrusted(problem));
    }
    Ok((file, meta))
}

/// Refuse a directory of jackin's own that is not private. `follow`: whether a symlink at
/// `path` is followed (only `$JACKIN_HOME` itself); otherwise it is refused. A missing
/// directory is fine (see [`JackinHome::ensure_private`]).
fn check_private_dir(path: &Path, follow: bool) -> Result<(), HomeError> {
    let Some(fd) = open_dir(path, follow)? else {
        return Ok(());
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| io_error(path, e))?;
    if let Some(problem) = not_yours(st.st_uid) {
        return Err(not_private(
            path,
            format!("it {problem}"),
            format!(
                "chown {me} {p} && chmod 700 {p}, or set JACKIN_HOME to a directory you own",
                me = euid(),
                p = path.display()
            ),
        ));
    }
    let mode = st.st_mode & 0o7777;
    if mode & 0o022 != 0 {
        let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
            (true, true) => "group and others",
            (true, false) => "group",
            _ => "others",
        };
        return Err(not_private(
            path,
            format!("it has mode {mode:04o}, writable by {who}"),
            format!("chmod 700 {}", path.display()),
        ));
    }
    Ok(())
}

/// The directory at `path`, opened to be looked at through its descriptor (what is checked
/// is what was opened). `None`: it is missing, and that is fine (`!follow`); a symlink not
/// to follow or a non-directory is refused.
fn open_dir(path: &Path, follow: bool) -> Result<Option<rustix::fd::OwnedFd>, HomeError> {
    let mut flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    if !follow {
        flags |= OFlags::NOFOLLOW;
    }
    match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e == rustix::io::Errno::NOENT && !follow => Ok(None),
        Err(e) if e == rustix::io::Errno::LOOP || e == rustix::io::Errno::NOTDIR => {
            let symlink = std::fs::symlink_metadata(path)
                .map(|m| m.file_type().is_symlink())
                .unwrap_or(false);
            Err(if symlink && !follow {
                not_private(
                    path,
                    "it is a symlink (data/ and locks/ must be real directories)".into(),
                    format!(
                        "replace the symlink {} with a real directory (move what it points to into its place)",
                        path.display()
                    ),
                )
            } else {
                not_private(
                    path,
                    "it is not a directory".into(),
                    format!("move {} out of the way", path.display()),
                )
            })
        }
        Err(e) => Err(io_error(path, e)),
    }
}

fn not_private(path: &Path, found: String, fix: String) -> HomeError {
    HomeError::NotPrivate {
        path: path.to_path_buf(),
        found,
        fix,
    }
}

fn io_error(path: &Path, e: rustix::io::Errno) -> HomeError {
    HomeError::Io {
        path: path.to_path_buf(),
        source: e.into(),
    }
}

/// Create `path` as a 0700 directory whatever the umask. `Ok(false)`: it already existed
/// (left as it is).
pub fn create_private_dir(path: &Path) -> std::io::Result<bool> {
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => {
            // The umask may have taken bits away (never added any): set exactly 0700.
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// `create_dir_all`, but every directory it creates is 0700 whatever the umask.
pub fn create_private_dir_all(path: &Path) -> std::io::Result<()> {
    match create_private_dir(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => create_private_dir_all(parent)?,
                _ => return Err(e),
            }
            create_private_dir(path).map(|_| ())
        }
        Err(e) => Err(e),
    }
}

/// `$HOME` (jackin never guesses another home).
pub fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// Expand `~` / `~/…` to `$HOME`, and make relative paths relative to `base`.
pub fn expand(path: &str, base: &Path, home: &Path) -> PathBuf {
    if path == "~" {
        home.to_path_buf()
    } else if let Some(rest) = path.strip_prefix("~/") {
        home.join(rest)
    } else {
        let p = Path::new(path);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilde_and_relative_paths_expand() {
        let home = Path::new("/h");
        let base = Path::new("/repo");
        assert_eq!(expand("~", base, home), PathBuf::from("/h"));
        assert_eq!(expand("~/.kimi", base, home), PathBuf::from("/h/.kimi"));
        assert_eq!(
            expand("creds/k", base, home),
            PathBuf::from("/repo/creds/k")
        );
        assert_eq!(expand("/abs", base, home), PathBuf::from("/abs"));
    }

    use std::os::unix::fs::MetadataExt;

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
    }

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// The rendered error: what the operator sees.
    fn shown(err: &HomeError) -> String {
        crate::error::render(err)
    }

    #[test]
    fn a_missing_home_is_created_0700_with_its_parents() {
        let dir = tempfile::tempdir().unwrap();
        let home = JackinHome::at(dir.path().join("a/b/.jackin"));
        home.ensure_private().unwrap();
        assert_eq!(mode(home.root()), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert!(
            !home.data().exists() && !home.locks().exists(),
            "created on first write"
        );
        home.ensure_private().expect("a private home passes again");
    }

    #[test]
    fn a_group_writable_home_is_refused_with_chmod_700() {
        let dir = tempfile::tempdir().unwrap();
        let home = JackinHome::at(dir.path().join("jh"));
        std::fs::create_dir(home.root()).unwrap();
        chmod(home.root(), 0o770);
        let err = home.ensure_private().unwrap_err();
        let text = shown(&err);
        let p = home.root().display();
        assert!(
            text.starts_with(&format!(
                "error[E044]: jackin's own directory {p} is not private: it has mode 0770, writable by group\n"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!("→ what to try: chmod 700 {p}")),
            "{text}"
        );
        assert!(!home.data().exists() && !home.locks().exists());
        assert_eq!(mode(home.root()), 0o770, "left as found");
    }

    #[test]
    fn a_world_writable_locks_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let home = JackinHome::at(dir.path());
        std::fs::create_dir(home.locks()).unwrap();
        chmod(&home.locks(), 0o1777);
        let text = shown(&home.ensure_private().unwrap_err());
        assert!(
            text.contains("locks is not private: it has mode 1777, writable by group and others"),
            "{text}"
        );
    }

    #[test]
    fn a_home_owned_by_another_user_is_refused_with_chown() {
        if euid() != 0 {
            return; // only root can give a directory away
        }
        let dir = tempfile::tempdir().unwrap();
        let home = JackinHome::at(dir.path().join("jh"));
        create_private_dir(home.root()).unwrap();
        std::os::unix::fs::chown(home.root(), Some(4242), None).unwrap();
        let text = shown(&home.ensure_private().unwrap_err());
        assert!(
            text.contains("is not private: it is owned by uid 4242, not by you (uid 0)"),
            "{text}"
        );
        assert!(text.contains("→ what to try: chown 0 "), "{text}");
    }

    #[test]
    fn a_symlinked_data_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let home = JackinHome::at(dir.path());
        std::os::unix::fs::symlink(elsewhere.path(), home.data()).unwrap();
        let text = shown(&home.ensure_private().unwrap_err());
        assert!(
            text.starts_with(&format!(
                "error[E044]: jackin's own directory {} is not private: it is a symlink",
                home.data().display()
            )),
            "{text}"
        );
        assert!(text.contains("replace the symlink"), "{text}");
    }

    #[test]
    fn a_file_where_locks_should_be_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let home = JackinHome::at(dir.path());
        std::fs::write(home.locks(), b"").unwrap();
        let text = shown(&home.ensure_private().unwrap_err());
        assert!(
            text.contains("is not private: it is not a directory"),
            "{text}"
        );
    }

    #[test]
    fn a_symlinked_home_is_followed_and_the_directory_it_points_to_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        create_private_dir(&real).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let home = JackinHome::at(&link);
        home.ensure_private()
            .expect("a link to a private directory is fine");
        chmod(&real, 0o777);
        let text = shown(&home.ensure_private().unwrap_err());
        assert!(
            text.contains("it has mode 0777, writable by group and others"),
            "{text}"
        );
    }
}
