//! The three-way file rules of SPEC §4: host (H), ledger (L), handoff (T).
//!
//! The whole table is this file, and so is the list of paths it reads
//! ([`managed_paths`]): observe probes exactly those, so nothing else the container keeps in
//! its handoff is ever looked at. Host changes win; a change made inside the container is
//! kept while the host is unchanged; jackin only ever removes what it forwarded.
//!
//! Something other than a small regular file at a managed path ([`Foreign`]: a link, FIFO,
//! directory, …) is the container's doing and is treated like a change made inside it: kept,
//! replaced when the host changed (by an atomic rename, never by writing into it), removed as
//! one entry when jackin purges what it forwarded. Whatever is kept that way is reported as
//! the instance's problem ([`Code::E042`]) so the operator sees it.

use super::{FileAction, FileCause, FileStep, Problem};
use crate::agents::{AgentKind, AuthMode};
use crate::desired::{AgentAuth, InstanceSpec};
use crate::error::Code;
use crate::fingerprint::Fingerprinter;
use crate::handoff::{Foreign, RelPath, Seen, HOSTILE_HINT};
use crate::ledger::{Hashed, Ledger};
use crate::observed::{AgentFiles, HostLogin, InstanceState};
use std::collections::BTreeSet;

/// The handoff paths the rules below decide on, for one agent: what jackin forwarded (the
/// ledger) and, in sync mode with a login present, what the host login holds.
pub fn managed_paths(
    mode: AuthMode,
    agent: AgentKind,
    host: Option<&HostLogin>,
    ledger: &Ledger,
) -> BTreeSet<RelPath> {
    let mut paths: BTreeSet<RelPath> = ledger.of(agent).map(|(p, _)| p).collect();
    if mode == AuthMode::Sync {
        if let Some(h) = host.filter(|h| h.present) {
            paths.extend(h.files.keys().cloned());
        }
    }
    paths
}

/// Keyed fingerprint of a recorded sha256 (fingerprints are of hashes, never of content
/// jackin would otherwise have to keep in memory).
fn fpr(fp: &Fingerprinter, h: Option<&Hashed>) -> Option<String> {
    h.map(|h| fp.of(h.sha256.as_bytes()))
}

/// What one instance's files need, plus notes and problems for the operator.
#[derive(Debug, Default)]
pub struct FilePlan {
    pub steps: Vec<FileStep>,
    pub notes: Vec<String>,
    pub problems: Vec<Problem>,
}

pub fn plan_files(
    spec: &InstanceSpec,
    state: &InstanceState,
    fp: &Fingerprinter,
    warnings: &mut Vec<String>,
) -> FilePlan {
    let mut out = FilePlan::default();
    for auth in &spec.auth {
        let files = state.agents.get(&auth.agent).cloned().unwrap_or_default();
        let mut rules = Rules {
            agent: auth.agent,
            files: &files,
            ledger: &state.ledger,
            fp,
            out: &mut out,
        };
        match auth.mode {
            AuthMode::Sync => rules.sync(spec, auth, warnings),
            mode => rules.remove_forwarded(mode, warnings, &spec.name),
        }
    }
    out
}

struct Rules<'a> {
    agent: AgentKind,
    files: &'a AgentFiles,
    ledger: &'a Ledger,
    fp: &'a Fingerprinter,
    out: &'a mut FilePlan,
}

impl Rules<'_> {
    fn push(
        &mut self,
        rel: &RelPath,
        action: FileAction,
        cause: FileCause,
        host: Option<&crate::observed::HostFile>,
    ) {
        let t = self.files.handoff.get(rel);
        let t_hash = match t {
            Some(Seen::File(h)) => Some(h),
            _ => None,
        };
        if let Some(Seen::Foreign(found)) = t {
            self.foreign(rel, *found, action);
        }
        self.out.steps.push(FileStep {
            agent: self.agent,
            path: rel.clone(),
            action,
            cause,
            host: fpr(self.fp, host.map(|h| &h.hashed)),
            handoff: fpr(self.fp, t_hash),
            source: host.map(|h| h.path.clone()),
        });
    }

    /// A [`Foreign`] entry is noted when jackin replaces or removes it, and is the instance's
    /// problem when it stays.
    fn foreign(&mut self, rel: &RelPath, found: Foreign, action: FileAction) {
        let agent = self.agent;
        match action {
            FileAction::Copy => self.out.notes.push(format!(
                "{agent}/{rel} was {found}; the host copy replaces it"
            )),
            FileAction::Purge => self.out.notes.push(format!(
                "{agent}/{rel} was {found}; it is removed as one entry"
            )),
            _ => self.out.problems.push(Problem {
                code: Code::E042,
                agent: Some(agent),
                path: Some(rel.clone()),
                found: Some(found),
                message: format!(
                    "{agent} handoff entry {rel} is {found}; jackin keeps it and never reads it"
                ),
                hint: HOSTILE_HINT.to_owned(),
            }),
        }
    }

    fn sync(&mut self, spec: &InstanceSpec, auth: &AgentAuth, warnings: &mut Vec<String>) {
        let agent = self.agent;
        let host = self.files.host.clone().unwrap_or_default();
        if !host.present {
            let source = auth.source.display();
            if self.files.handoff.is_empty() && self.files.own_login.is_empty() {
                warnings.push(format!(
                    "{}: no {agent} login in {source} and the handoff is empty: {agent} starts logged out",
                    spec.name
                ));
            } else {
                self.out.notes.push(format!(
                    "no {agent} login in {source}; keeping the existing handoff"
                ));
            }
            return;
        }
        let paths = managed_paths(AuthMode::Sync, agent, Some(&host), self.ledger);
        for rel in &paths {
            let h = host.files.get(rel);
            let l = self.ledger.get(agent, rel);
            let t = match self.files.handoff.get(rel) {
                // Writing the host copy replaces the parent that is in the way, so for a
                // path the host holds this is "missing" (repaired), not something to keep.
                Some(Seen::Foreign(Foreign::BehindNonDirectory)) if h.is_some() => None,
                t => t,
            };
            let same = |b: &Hashed| matches!(t, Some(Seen::File(a)) if a.sha256 == b.sha256);
            let is_dir = matches!(t, Some(Seen::Foreign(Foreign::Directory)));
            let (action, cause) = match (h, l) {
                (Some(h), None) if same(&h.hashed) => (FileAction::Adopt, FileCause::New),
                (Some(_), None) if is_dir => (FileAction::Keep, FileCause::New),
                (Some(_), None) => (FileAction::Copy, FileCause::New),
                (Some(h), Some(l)) if h.hashed.sha256 != l.source.sha256 => {
                    if same(&h.hashed) {
                        (FileAction::Adopt, FileCause::HostChanged)
                    } else if is_dir {
                        (FileAction::Keep, FileCause::HostChanged)
                    } else {
                        (FileAction::Copy, FileCause::HostChanged)
                    }
                }
                (Some(_), Some(l)) => match t {
                    None => (FileAction::Copy, FileCause::Repair),
                    Some(Seen::File(t)) if t.sha256 == l.target.sha256 => continue,
                    Some(_) => (FileAction::Keep, FileCause::RotatedInContainer),
                },
                (None, Some(l)) => match t {
                    Some(Seen::File(t)) if t.sha256 == l.target.sha256 => {
                        (FileAction::Purge, FileCause::HostDeleted)
                    }
                    Some(_) => (FileAction::Keep, FileCause::HostDeletedRotated),
                    None => (FileAction::Forget, FileCause::HostDeleted),
                },
                (None, None) => continue,
            };
            self.push(rel, action, cause, h);
        }
    }

    /// `api_key`, `oauth_token`, `ignore`: remove what jackin forwarded, rotated or not; keep
    /// everything else (the agent's sessions, history, a login it made itself).
    fn remove_forwarded(&mut self, mode: AuthMode, warnings: &mut Vec<String>, instance: &str) {
        let agent = self.agent;
        let cause = match mode {
            AuthMode::ApiKey => FileCause::ModeApiKey,
            AuthMode::OauthToken => FileCause::ModeOauthToken,
            _ => FileCause::ModeIgnore,
        };
        let forwarded: Vec<RelPath> = self.ledger.of(agent).map(|(p, _)| p).collect();
        for rel in &forwarded {
            let action = match self.files.handoff.get(rel) {
                // Nothing there: only the record goes; not a handoff change, no restart.
                None => FileAction::Forget,
                Some(Seen::Foreign(f)) if !f.removable() => FileAction::Keep,
                Some(_) => FileAction::Purge,
            };
            self.push(rel, action, cause, None);
        }
        if let Some(env) = agent.credential_env(mode) {
            for rel in &self.files.own_login {
                warnings.push(format!(
                    "{instance}: the container has its own {agent} login at {rel} (not forwarded by jackin); {agent} may use it instead of {env}"
                ));
            }
        }
    }
}
