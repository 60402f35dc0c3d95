//! Where jackin keeps its own state, and how operator paths are expanded.
//!
//! Everything jackin writes lives under `$JACKIN_HOME` (default `~/.jackin`):
//! `data/{container}/handoff/{agent}/` (bind-mounted into the container),
//! `data/{container}/ledger.json` (what jackin last wrote), `locks/{project}.lock` and `key`
//! (the per-install fingerprint key). Host credential folders are only ever read.

use crate::agents::AgentKind;
use std::path::{Path, PathBuf};

/// `data/{container}/handoff/`: the agents' handoff directories of one instance.
pub const HANDOFF_DIR: &str = "handoff";
/// `data/{container}/ledger.json`.
pub const LEDGER_FILE: &str = "ledger.json";

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

    pub fn lock_path(&self, project: &str) -> PathBuf {
        self.root.join("locks").join(format!("{project}.lock"))
    }

    pub fn key_path(&self) -> PathBuf {
        self.root.join("key")
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
}
