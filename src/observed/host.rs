//! Reading a host login (SPEC §3): which catalogue entries exist in a source folder, and
//! their content hashes.
//!
//! Host folders are strictly read-only: files are opened `O_NOFOLLOW|O_NOATIME`, symlinks are
//! skipped with a warning and never followed, and nothing is created, chmod-ed or touched.

use crate::agents::{AgentKind, SyncEntry};
use crate::bounded::Hasher;
use crate::desired::AgentAuth;
use crate::error::{Code, Coded};
use crate::ledger::Hashed;
use crate::words::RelPath;
use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("cannot read {agent} source folder {path}: {source}")]
    Unreadable {
        agent: AgentKind,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{agent} source {path} (set by {scope}) {problem}")]
    WrongFolder {
        agent: AgentKind,
        path: PathBuf,
        scope: String,
        problem: String,
    },
}

impl Coded for HostError {
    fn code(&self) -> Code {
        Code::E012
    }
    fn hint(&self) -> Option<String> {
        Some(match self {
            HostError::Unreadable { .. } => {
                "make the folder readable by the user running jackin, or change `source`".into()
            }
            HostError::WrongFolder { .. } => {
                "point `source` at the agent's own folder (e.g. ~/.kimi), not a home directory, or remove it to use the default".into()
            }
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFile {
    pub path: PathBuf,
    pub hashed: Hashed,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostLogin {
    /// SPEC §3 "a host login is present".
    pub present: bool,
    /// Key: path relative to the handoff dir.
    pub files: BTreeMap<RelPath, HostFile>,
    pub warnings: Vec<String>,
}

/// Scan one agent's source. `prior` are the ledger's recorded hashes (stat fast path).
pub fn scan(
    auth: &AgentAuth,
    hasher: &mut Hasher,
    prior: &dyn Fn(&RelPath) -> Option<Hashed>,
) -> Result<HostLogin, HostError> {
    let agent = auth.agent;
    let src = &auth.source;
    if !is_folder(auth)? {
        return Ok(HostLogin::default());
    }
    // Read the folder once: an unreadable source must fail loudly, not look logged out.
    std::fs::read_dir(src).map_err(|e| unreadable(agent, src, e))?;

    let info = agent.info();
    let mut login = HostLogin::default();
    for entry in info.entries {
        let host_path = entry.host_path(src);
        let mut walk = Collect {
            entry,
            hasher,
            prior,
            login: &mut login,
        };
        walk.collect(RelPath::catalogue(entry.name), &host_path)
            .map_err(|e| unreadable(agent, &host_path, e))?;
    }
    login.present = info.entries.iter().filter(|e| e.login).all(|e| {
        let p = e.host_path(src);
        match std::fs::symlink_metadata(&p) {
            Ok(m) if e.tree => m.is_dir(),
            Ok(m) => m.is_file() && (!info.login_needs_content || m.len() > 0),
            Err(_) => false,
        }
    });
    if !login.present && !auth.source_is_default() {
        let nested = src.join(info.default_source);
        if nested.is_dir() {
            return Err(wrong_folder(
                auth,
                format!(
                    "looks like a home directory (it holds {}); a source is the agent's own folder",
                    info.default_source
                ),
            ));
        }
    }
    Ok(login)
}

/// Whether the source is a folder to scan. A default source that is missing, or is not a
/// folder, is no login (`false`); a `source` someone set must be a folder.
fn is_folder(auth: &AgentAuth) -> Result<bool, HostError> {
    match std::fs::symlink_metadata(&auth.source) {
        Ok(m) if m.is_dir() => Ok(true),
        Ok(_) if !auth.source_is_default() => Err(wrong_folder(auth, "is not a directory".into())),
        Ok(_) => Ok(false),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if auth.source_is_default() {
                return Ok(false);
            }
            Err(wrong_folder(auth, "does not exist".into()))
        }
        Err(e) => Err(unreadable(auth.agent, &auth.source, e)),
    }
}

fn unreadable(agent: AgentKind, path: &Path, source: std::io::Error) -> HostError {
    HostError::Unreadable {
        agent,
        path: path.to_path_buf(),
        source,
    }
}

/// `auth`'s source, set where it says, is not the agent's folder: `problem` says why.
fn wrong_folder(auth: &AgentAuth, problem: String) -> HostError {
    HostError::WrongFolder {
        agent: auth.agent,
        path: auth.source.clone(),
        scope: auth.source_from.to_string(),
        problem,
    }
}

/// The keys of the `[models]` table of a host config.toml (the aliases `--model` accepts);
/// `None` when it cannot be read or parsed or has no such table: then it says nothing about
/// aliases, and the client reports its own problem.
pub fn model_aliases(path: &Path) -> Option<Vec<String>> {
    let mut file = crate::bounded::open_host(path).ok()?;
    let (bytes, _) = crate::bounded::read(&mut file).ok()?;
    let doc: toml::Table = std::str::from_utf8(&bytes).ok()?.parse().ok()?;
    match doc.get("models") {
        Some(toml::Value::Table(models)) => Some(models.keys().cloned().collect()),
        _ => None,
    }
}

/// One entry's walk of the host: what it reads, into what.
struct Collect<'a> {
    entry: &'a SyncEntry,
    hasher: &'a mut Hasher,
    prior: &'a dyn Fn(&RelPath) -> Option<Hashed>,
    login: &'a mut HostLogin,
}

impl Collect<'_> {
    fn collect(&mut self, rel: RelPath, path: &Path) -> std::io::Result<()> {
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        if meta.is_dir() {
            let mut children: Vec<_> = std::fs::read_dir(path)?.collect::<Result<_, _>>()?;
            children.sort_by_key(|c| c.file_name());
            for child in children {
                let name = child.file_name();
                // The client's lock files are not login state: never forwarded.
                if self.entry.skips(name.as_bytes()) {
                    continue;
                }
                let child_rel = rel
                    .join(name.as_bytes())
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                self.collect(child_rel, &child.path())?;
            }
        } else if meta.is_file() {
            let hashed = self.hasher.hash(path, &meta, (self.prior)(&rel).as_ref())?;
            self.login.files.insert(
                rel,
                HostFile {
                    path: path.to_path_buf(),
                    hashed,
                },
            );
        } else {
            let what = if meta.file_type().is_symlink() {
                "symlink"
            } else {
                "special file"
            };
            self.login.warnings.push(format!(
                "skipped {what} {} (only regular files of a host source are read; links are never followed)",
                path.display()
            ));
        }
        Ok(())
    }
}
