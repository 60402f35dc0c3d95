//! The three-way file rules of SPEC §4: host (H), ledger (L), handoff (T).
//!
//! The whole table is this file. Host changes win; a change made inside the container is
//! kept while the host is unchanged; jackin only ever purges what it wrote and the container
//! left alone — except in `api_key`/`oauth_token` (catalogue entries) and `ignore` (all).

use super::{FileAction, FileCause, FileStep};
use crate::agents::AuthMode;
use crate::desired::{AgentAuth, InstanceSpec};
use crate::fingerprint::Fingerprinter;
use crate::ledger::Hashed;
use crate::observed::{ledger_key, AgentFiles, InstanceState};
use std::collections::BTreeSet;

/// Keyed fingerprint of a recorded sha256 (fingerprints are of hashes, never of content
/// jackin would otherwise have to keep in memory).
fn fpr(fp: &Fingerprinter, h: Option<&Hashed>) -> Option<String> {
    h.map(|h| fp.of(h.sha256.as_bytes()))
}

pub fn plan_files(
    spec: &InstanceSpec,
    state: &InstanceState,
    fp: &Fingerprinter,
    warnings: &mut Vec<String>,
) -> (Vec<FileStep>, Vec<String>) {
    let mut steps = Vec::new();
    let mut notes = Vec::new();
    for auth in &spec.auth {
        let files = state.agents.get(&auth.agent).cloned().unwrap_or_default();
        let step =
            |path: &str, action, cause, host: Option<&Hashed>, handoff: Option<&Hashed>| FileStep {
                agent: auth.agent,
                path: path.to_owned(),
                action,
                cause,
                host: fpr(fp, host),
                handoff: fpr(fp, handoff),
                source: None,
            };
        match auth.mode {
            AuthMode::Sync => sync(
                spec, auth, &files, state, fp, &mut steps, &mut notes, warnings,
            ),
            AuthMode::ApiKey | AuthMode::OauthToken => {
                let cause = if auth.mode == AuthMode::ApiKey {
                    FileCause::ModeApiKey
                } else {
                    FileCause::ModeOauthToken
                };
                for (rel, t) in &files.handoff {
                    if auth.agent.is_entry(rel) {
                        steps.push(step(rel, FileAction::Purge, cause, None, Some(t)));
                    }
                }
            }
            AuthMode::Ignore => {
                for (rel, t) in &files.handoff {
                    steps.push(step(
                        rel,
                        FileAction::Purge,
                        FileCause::ModeIgnore,
                        None,
                        Some(t),
                    ));
                }
            }
        }
    }
    (steps, notes)
}

#[allow(clippy::too_many_arguments)]
fn sync(
    spec: &InstanceSpec,
    auth: &AgentAuth,
    files: &AgentFiles,
    state: &InstanceState,
    fp: &Fingerprinter,
    steps: &mut Vec<FileStep>,
    notes: &mut Vec<String>,
    warnings: &mut Vec<String>,
) {
    let agent = auth.agent;
    let host = files.host.clone().unwrap_or_default();
    if !host.present {
        let source = auth.source.display();
        if files.handoff.is_empty() && files.unread == 0 {
            warnings.push(format!(
                "{}: no {agent} login in {source} and the handoff is empty: {agent} starts logged out",
                spec.name
            ));
        } else {
            notes.push(format!(
                "no {agent} login in {source}; keeping the existing handoff"
            ));
        }
        return;
    }
    let prefix = format!("{}/", agent.name());
    let mut paths: BTreeSet<&str> = host.files.keys().map(String::as_str).collect();
    paths.extend(
        state
            .ledger
            .files
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix)),
    );
    for rel in paths {
        let h = host.files.get(rel);
        let l = state.ledger.files.get(&ledger_key(agent, rel));
        let t = files.handoff.get(rel);
        let same = |a: Option<&Hashed>, b: &Hashed| a.is_some_and(|a| a.sha256 == b.sha256);
        let (action, cause) = match (h, l) {
            (Some(h), None) if same(t, &h.hashed) => (FileAction::Adopt, FileCause::New),
            (Some(_), None) => (FileAction::Copy, FileCause::New),
            (Some(h), Some(l)) if h.hashed.sha256 != l.source.sha256 => {
                if same(t, &h.hashed) {
                    (FileAction::Adopt, FileCause::HostChanged)
                } else {
                    (FileAction::Copy, FileCause::HostChanged)
                }
            }
            (Some(_), Some(l)) => match t {
                None => (FileAction::Copy, FileCause::Repair),
                Some(t) if t.sha256 == l.target.sha256 => continue,
                Some(_) => (FileAction::Keep, FileCause::RotatedInContainer),
            },
            (None, Some(l)) => match t {
                Some(t) if t.sha256 == l.target.sha256 => {
                    (FileAction::Purge, FileCause::HostDeleted)
                }
                Some(_) => (FileAction::Keep, FileCause::HostDeletedRotated),
                None => (FileAction::Forget, FileCause::HostDeleted),
            },
            (None, None) => continue,
        };
        steps.push(FileStep {
            agent,
            path: rel.to_owned(),
            action,
            cause,
            host: fpr(fp, h.map(|h| &h.hashed)),
            handoff: fpr(fp, t),
            source: h.map(|h| h.path.clone()),
        });
    }
}
