//! The files jackin makes for one agent of one instance (SPEC v3 §3a), with the hash the
//! three-way rule compares: claude's owned `.claude.json` keys, codex's API-key `auth.json`.
//!
//! What they are made of is read here, once a pass: the instance's workdir and credential,
//! whether the ledger holds jackin's copy of the host login, and (sync) the account block of
//! the host's copy of the agent's shared document — read-only, bounded, never followed.

use super::host::HostError;
use crate::agents::{AuthMode, Content, Made};
use crate::bounded;
use crate::desired::{AgentAuth, InstanceSpec};
use crate::fingerprint::sha256_hex;
use crate::ledger::{now_ns, FileStat, Hashed, Ledger};
use crate::words::RelPath;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// A file jackin makes: its content, and the hash of its canonical form (the "host" side of
/// the three-way rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MadeFile {
    pub content: Content,
    pub hashed: Hashed,
}

/// One agent's made files, by handoff path, plus warnings for the operator.
pub fn made_files(
    spec: &InstanceSpec,
    auth: &AgentAuth,
    ledger: &Ledger,
    home: &Path,
) -> Result<(BTreeMap<RelPath, MadeFile>, Vec<String>), HostError> {
    let agent = auth.agent;
    let mut warnings = Vec::new();
    let account = match auth.mode {
        AuthMode::Sync => host_account(auth, home, &mut warnings)?,
        _ => None,
    };
    let credential = agent
        .credential_env(auth.mode)
        .and_then(|var| spec.env.get(var))
        .map(|v| v.value.expose());
    let login: Vec<&str> = agent
        .info()
        .entries
        .iter()
        .filter(|e| e.login)
        .map(|e| e.name)
        .collect();
    let forwarded_login = ledger.of(agent).any(|(p, _)| {
        login
            .iter()
            .any(|l| p.is_at_or_below(&RelPath::catalogue(l)))
    });
    if agent.asks_trust_without_workdir() && spec.workdir.is_none() {
        warnings.push(format!(
            "no workdir is set, so jackin cannot mark the folder {agent} starts in as trusted: {agent} will ask first; set `workdir` on the workspace"
        ));
    }
    let from = Made {
        workdir: spec.workdir.as_deref(),
        credential,
        account: account.as_ref(),
        forwarded_login,
    };
    let at_ns = now_ns();
    let made = agent
        .made(auth.mode, &from)
        .into_iter()
        .map(|(path, content)| {
            let hashed = Hashed {
                sha256: sha256_hex(&content.canonical()),
                stat: FileStat::default(),
                at_ns,
            };
            (RelPath::catalogue(path), MadeFile { content, hashed })
        })
        .collect();
    Ok((made, warnings))
}

/// The account block of the host's copy of the agent's shared document, if it has one. A
/// missing document or key is no account; one that is not JSON is said, never fatal.
fn host_account(
    auth: &AgentAuth,
    home: &Path,
    warnings: &mut Vec<String>,
) -> Result<Option<Value>, HostError> {
    let agent = auth.agent;
    let (Some(doc), Some(key)) = (&agent.info().shared_doc, agent.account_key()) else {
        return Ok(None);
    };
    let path = doc.host_path(&auth.source, auth.source_is_default(), home);
    let read = bounded::open_host(&path).and_then(|mut f| bounded::read(&mut f));
    let bytes = match read {
        Ok((bytes, _)) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        // A link where the document belongs is never followed (host folders are read-only
        // ground): no account, said.
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            warnings.push(format!(
                "skipped symlink {} (links in a host source are never followed)",
                path.display()
            ));
            return Ok(None);
        }
        Err(source) => {
            return Err(HostError::Unreadable {
                agent,
                path,
                source,
            })
        }
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(v) => Ok(v.get(key).filter(|a| !a.is_null()).cloned()),
        Err(_) => {
            warnings.push(format!(
                "{} is not JSON; its {key} is not forwarded",
                path.display()
            ));
            Ok(None)
        }
    }
}
