//! The three-way file rules of SPEC §4: host (H), ledger (L), handoff (T), and the first-run
//! seeds of SPEC v2 §3.
//!
//! The whole table is this file; the list of paths it reads ([`managed_paths`], plus the
//! [`seeds`] paths, whose presence alone is looked at) is observe's (`observed/probe.rs`),
//! which probes exactly those, so nothing else the container keeps in its handoff is ever
//! looked at. Host changes win; a change made inside the container is kept while the host is
//! unchanged; jackin only ever removes what it forwarded. A seed is written only where
//! nothing is, is never recorded in the ledger, and so is never overwritten nor removed.
//!
//! Something other than a small regular file at a managed path ([`Foreign`]: a link, FIFO,
//! directory, …) is the container's doing and is treated like a change made inside it: kept,
//! replaced when the host changed (by an atomic rename, never by writing into it), removed as
//! one entry when jackin purges what it forwarded. Whatever is kept that way is reported as
//! the instance's problem ([`Code::E042`]) so the operator sees it.

use super::{FileAction, FileCause, FileStep, Problem};
use crate::agents::{AgentKind, AuthMode, Content, Seed};
use crate::desired::{AgentAuth, InstanceSpec};
use crate::error::Code;
use crate::fingerprint::Fingerprinter;
use crate::handoff::{Foreign, Seen, HOSTILE_HINT};
use crate::ledger::{Hashed, Ledger};
use crate::observed::{managed_paths, seeds, AgentFiles, HostFile, InstanceState, MadeFile};
use crate::words::RelPath;
use std::collections::BTreeMap;

/// Keyed fingerprint of a recorded sha256 (fingerprints are of hashes, never of content
/// jackin would otherwise have to keep in memory).
fn fpr(fp: &Fingerprinter, h: Option<&Hashed>) -> Option<String> {
    h.map(|h| fp.of(h.sha256.as_bytes()))
}

/// The "host" side of the three-way rule for one path: a host file jackin copies, or a file
/// it makes.
#[derive(Clone, Copy)]
enum Source<'a> {
    Host(&'a HostFile),
    Made(&'a MadeFile),
}

impl Source<'_> {
    fn hashed(&self) -> &Hashed {
        match self {
            Source::Host(h) => &h.hashed,
            Source::Made(m) => &m.hashed,
        }
    }
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
        rules.made();
        rules.seed(seeds(spec, auth));
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
    fn push(&mut self, rel: &RelPath, action: FileAction, cause: FileCause, src: Option<Source>) {
        let t = self.files.handoff.get(rel);
        let t_hash = match t {
            Some(Seen::File(h)) => Some(h),
            _ => None,
        };
        if let Some(Seen::Foreign(found)) = t {
            self.foreign(rel, *found, action);
        }
        let (source, content) = match src {
            Some(Source::Host(h)) => (Some(h.path.clone()), None),
            Some(Source::Made(m)) => (None, Some(m.content.clone())),
            None => (None, None),
        };
        self.out.steps.push(FileStep {
            agent: self.agent,
            path: rel.clone(),
            action,
            cause,
            host: fpr(self.fp, src.as_ref().map(Source::hashed)),
            handoff: fpr(self.fp, t_hash),
            source,
            content,
        });
    }

    /// Seed each first-run file where nothing is. Anything at its path, of any kind, is the
    /// container's and stays; only an entry this plan purges makes room for one.
    fn seed(&mut self, seeds: Vec<Seed>) {
        let agent = self.agent;
        for seed in seeds {
            let rel = RelPath::catalogue(seed.path);
            let purged = self
                .out
                .steps
                .iter()
                .any(|s| s.agent == agent && s.path == rel && s.action == FileAction::Purge);
            if self.files.occupied.contains(&rel) && !purged {
                continue;
            }
            self.out.steps.push(FileStep {
                agent,
                path: rel,
                action: FileAction::Seed,
                cause: FileCause::FirstRun,
                host: None,
                handoff: None,
                source: None,
                content: Some(Content::Bytes(seed.content)),
            });
        }
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
            if self
                .files
                .handoff
                .keys()
                .all(|p| self.files.made.contains_key(p))
                && self.files.own_login.is_empty()
            {
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
        let paths = managed_paths(
            AuthMode::Sync,
            agent,
            Some(&host),
            &BTreeMap::new(),
            self.ledger,
        );
        for rel in paths.iter().filter(|p| !self.files.made.contains_key(*p)) {
            self.three_way(rel, host.files.get(rel).map(Source::Host));
        }
    }

    /// The files jackin makes follow the same rule as host files, in every mode.
    fn made(&mut self) {
        let made = self.files.made.clone();
        for (rel, m) in &made {
            self.three_way(rel, Some(Source::Made(m)));
        }
    }

    /// SPEC §4's three-way rule for one path: the host side `h` (None: not on the host), the
    /// ledger and the handoff.
    fn three_way(&mut self, rel: &RelPath, h: Option<Source>) {
        let l = self.ledger.get(self.agent, rel);
        let t = match self.files.handoff.get(rel) {
            // Writing the host copy replaces the parent that is in the way, so for a
            // path the host holds this is "missing" (repaired), not something to keep.
            Some(Seen::Foreign(Foreign::BehindNonDirectory)) if h.is_some() => None,
            t => t,
        };
        let same = |b: &Hashed| matches!(t, Some(Seen::File(a)) if a.sha256 == b.sha256);
        let is_dir = matches!(t, Some(Seen::Foreign(Foreign::Directory)));
        let (action, cause) = match (h, l) {
            // The host is as jackin last copied it.
            (Some(h), Some(l)) if h.hashed().sha256 == l.source.sha256 => match t {
                None => (FileAction::Copy, FileCause::Repair),
                Some(Seen::File(t)) if t.sha256 == l.target.sha256 => return,
                Some(_) if self.files.blanked.contains(rel) => {
                    (FileAction::Keep, FileCause::LoggedOut)
                }
                Some(_) => (FileAction::Keep, FileCause::RotatedInContainer),
            },
            // New to the ledger, or changed on the host since jackin copied it.
            (Some(h), l) => {
                let cause = match (h, l) {
                    (Source::Host(_), None) => FileCause::New,
                    (Source::Host(_), Some(_)) => FileCause::HostChanged,
                    (Source::Made(_), None) => FileCause::Made,
                    (Source::Made(_), Some(_)) => FileCause::MadeChanged,
                };
                let action = if same(h.hashed()) {
                    FileAction::Adopt
                } else if is_dir {
                    FileAction::Keep
                } else {
                    FileAction::Copy
                };
                (action, cause)
            }
            (None, Some(l)) => match t {
                Some(Seen::File(t)) if t.sha256 == l.target.sha256 => {
                    (FileAction::Purge, FileCause::HostDeleted)
                }
                Some(_) => (FileAction::Keep, FileCause::HostDeletedRotated),
                None => (FileAction::Forget, FileCause::HostDeleted),
            },
            (None, None) => return,
        };
        self.push(rel, action, cause, h);
    }

    /// `api_key`, `oauth_token`, `ignore`: remove what jackin forwarded, rotated or not; keep
    /// everything else (the agent's sessions, history, a login it made itself). What jackin
    /// makes in this mode is not "forwarded": [`Rules::made`] decides on it.
    fn remove_forwarded(&mut self, mode: AuthMode, warnings: &mut Vec<String>, instance: &str) {
        let agent = self.agent;
        let cause = match mode {
            AuthMode::ApiKey => FileCause::ModeApiKey,
            AuthMode::OauthToken => FileCause::ModeOauthToken,
            _ => FileCause::ModeIgnore,
        };
        let forwarded: Vec<RelPath> = self
            .ledger
            .of(agent)
            .map(|(p, _)| p)
            .filter(|p| !self.files.made.contains_key(p))
            .collect();
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
            for rel in self
                .files
                .own_login
                .iter()
                .filter(|p| !self.files.made.contains_key(*p))
            {
                warnings.push(format!(
                    "{instance}: the container has its own {agent} login at {rel} (not forwarded by jackin); {agent} may use it instead of {env}"
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::{ImageSource, Scope};
    use crate::ledger::{FileStat, LedgerEntry};
    use crate::observed::HostLogin;
    use std::collections::BTreeMap;

    fn hashed(sha: &str) -> Hashed {
        Hashed {
            sha256: sha.into(),
            stat: FileStat {
                size: 1,
                mtime_ns: 1,
                ctime_ns: 1,
                ino: 1,
                dev: 1,
            },
            at_ns: 1,
        }
    }

    fn spec(agent: AgentKind, mode: AuthMode, workdir: Option<&str>) -> InstanceSpec {
        InstanceSpec {
            name: "jk-app-smith".into(),
            workspace: "app".into(),
            role: "smith".into(),
            agent,
            image: ImageSource::Pull("i".into()),
            command: vec![],
            env: BTreeMap::new(),
            mounts: vec![],
            workdir: workdir.map(Into::into),
            user: crate::desired::user::UserSpec::Image,
            auth: vec![AgentAuth {
                agent,
                mode,
                mode_from: Scope::Default,
                source: "/nonexistent".into(),
                source_from: Scope::Default,
            }],
            host: crate::desired::hosts::LOCAL.into(),
        }
    }

    /// The file steps for one agent, given what is in the ledger and the handoff.
    fn steps(
        spec: &InstanceSpec,
        forwarded: &[&str],
        handoff: &[&str],
        occupied: &[&str],
    ) -> Vec<(String, FileAction, FileCause, Option<Vec<u8>>)> {
        let agent = spec.agent;
        let mut ledger = Ledger::default();
        for p in forwarded {
            let entry = LedgerEntry {
                source: hashed("h"),
                target: hashed("h"),
            };
            ledger.insert(agent, &RelPath::parse(p).unwrap(), entry);
        }
        let files = AgentFiles {
            handoff: handoff
                .iter()
                .map(|p| (RelPath::parse(p).unwrap(), Seen::File(hashed("h"))))
                .collect(),
            occupied: occupied
                .iter()
                .map(|p| RelPath::parse(p).unwrap())
                .collect(),
            ..AgentFiles::default()
        };
        let state = InstanceState {
            folder: String::new(),
            image: "i".into(),
            owner: None,
            ledger,
            agents: [(agent, files)].into(),
        };
        let fp = Fingerprinter::with_key(b"k");
        plan_files(spec, &state, &fp, &mut Vec::new())
            .steps
            .into_iter()
            .map(|s| {
                let bytes = match s.content {
                    Some(Content::Bytes(b)) => Some(b),
                    _ => None,
                };
                (s.path.to_string(), s.action, s.cause, bytes)
            })
            .collect()
    }

    const TRUST: &[u8] = b"[projects.\"/w\"]\ntrust_level = \"trusted\"\n";

    #[test]
    fn a_seed_is_planned_where_nothing_is_in_every_mode() {
        for mode in AgentKind::Codex.supported_modes() {
            let s = spec(AgentKind::Codex, mode, Some("/w"));
            assert_eq!(
                steps(&s, &[], &[], &[]),
                [(
                    "config.toml".into(),
                    FileAction::Seed,
                    FileCause::FirstRun,
                    Some(TRUST.to_vec())
                )],
                "{mode}"
            );
        }
        let no_workdir = spec(AgentKind::Codex, AuthMode::Sync, None);
        assert!(steps(&no_workdir, &[], &[], &[]).is_empty());
    }

    #[test]
    fn a_seed_never_overwrites() {
        for mode in AgentKind::Codex.supported_modes() {
            let s = spec(AgentKind::Codex, mode, Some("/w"));
            assert!(steps(&s, &[], &[], &["config.toml"]).is_empty(), "{mode}");
        }
        let s = spec(AgentKind::Claude, AuthMode::OauthToken, None);
        assert!(steps(&s, &[], &[], &[".claude.json"]).is_empty());
    }

    #[test]
    fn ignore_and_api_key_never_purge_a_seed() {
        for mode in [AuthMode::Ignore, AuthMode::ApiKey] {
            let s = spec(AgentKind::Codex, mode, Some("/w"));
            let got = steps(&s, &["auth.json"], &["auth.json"], &["config.toml"]);
            let cause = if mode == AuthMode::Ignore {
                FileCause::ModeIgnore
            } else {
                FileCause::ModeApiKey
            };
            assert_eq!(
                got,
                [("auth.json".into(), FileAction::Purge, cause, None)],
                "{mode}"
            );
        }
    }

    /// The made-file rule for claude's `.claude.json`: what jackin wants is `want`, the ledger
    /// holds `(source, target)`, the container's document holds `t` at the owned keys.
    fn claude_json(
        mode: AuthMode,
        want: &str,
        ledger: &[(&str, (&str, &str))],
        t: Option<&str>,
    ) -> Vec<(String, FileAction, FileCause)> {
        let rel = RelPath::catalogue(".claude.json");
        let s = spec(AgentKind::Claude, mode, Some("/w"));
        let mut l = Ledger::default();
        for (path, (src, tgt)) in ledger {
            let entry = LedgerEntry {
                source: hashed(src),
                target: hashed(tgt),
            };
            l.insert(AgentKind::Claude, &RelPath::parse(path).unwrap(), entry);
        }
        let made = MadeFile {
            content: Content::Keys(crate::agents::OwnedKeys::default()),
            hashed: hashed(want),
        };
        let mut handoff: BTreeMap<RelPath, Seen> = ledger
            .iter()
            .map(|(p, (_, tgt))| (RelPath::parse(p).unwrap(), Seen::File(hashed(tgt))))
            .collect();
        handoff.remove(&rel);
        if let Some(t) = t {
            handoff.insert(rel.clone(), Seen::File(hashed(t)));
        }
        let files = AgentFiles {
            made: [(rel, made)].into(),
            handoff,
            ..AgentFiles::default()
        };
        let state = InstanceState {
            folder: String::new(),
            image: "i".into(),
            owner: None,
            ledger: l,
            agents: [(AgentKind::Claude, files)].into(),
        };
        plan_files(&s, &state, &Fingerprinter::with_key(b"k"), &mut Vec::new())
            .steps
            .into_iter()
            .map(|st| (st.path.to_string(), st.action, st.cause))
            .collect()
    }

    #[test]
    fn claude_json_is_merged_when_its_owned_keys_differ_and_left_alone_otherwise() {
        use FileAction::*;
        use FileCause::*;
        let one = |a, c| vec![(".claude.json".to_owned(), a, c)];
        for mode in AgentKind::Claude.supported_modes() {
            // First apply: nothing there, or the container's own document without our keys.
            assert_eq!(claude_json(mode, "d", &[], None), one(Copy, Made), "{mode}");
            assert_eq!(claude_json(mode, "d", &[], Some("x")), one(Copy, Made));
            // Host bookkeeping is not in the owned keys: nothing to do.
            let merged = [(".claude.json", ("d", "d"))];
            assert!(claude_json(mode, "d", &merged, Some("d")).is_empty());
            // The container changed an owned key (its own trust answer): kept.
            assert_eq!(
                claude_json(mode, "d", &merged, Some("own")),
                one(Keep, RotatedInContainer)
            );
            // What jackin wants changed (a host re-login's account, a new workdir): merged.
            assert_eq!(
                claude_json(mode, "d2", &merged, Some("d")),
                one(Copy, MadeChanged)
            );
        }
    }

    #[test]
    fn leaving_sync_purges_the_credentials_but_never_the_shared_claude_json() {
        let ledger = [
            (".claude.json", ("d", "d")),
            (".credentials.json", ("c", "c")),
        ];
        for mode in [AuthMode::ApiKey, AuthMode::OauthToken, AuthMode::Ignore] {
            let got = claude_json(mode, "d-without-account", &ledger, Some("d"));
            let actions: Vec<(&str, FileAction)> =
                got.iter().map(|(p, a, _)| (p.as_str(), *a)).collect();
            assert_eq!(
                actions,
                [
                    (".credentials.json", FileAction::Purge),
                    (".claude.json", FileAction::Copy),
                ],
                "{mode}"
            );
        }
    }

    /// SPEC §4's table, one row per line of it: host content H, ledger L (source and target
    /// as written), handoff content T, for kimi's `config.toml`; `None` is "absent". Literal
    /// values, the pure planner, no filesystem and no Docker.
    #[test]
    fn spec_section_4_table_row_by_row() {
        use FileAction::*;
        use FileCause::*;
        type Row = (
            &'static str,
            AuthMode,
            bool,                                 // host login present
            Option<&'static str>,                 // H
            Option<(&'static str, &'static str)>, // L = (source, target)
            Option<&'static str>,                 // T
            Option<(FileAction, FileCause)>,      // expected (None: no step)
        );
        let rows: [Row; 14] = [
            (
                "sync: new on the host",
                AuthMode::Sync,
                true,
                Some("h1"),
                None,
                None,
                Some((Copy, New)),
            ),
            (
                "sync: host changed wins over a rotation",
                AuthMode::Sync,
                true,
                Some("h2"),
                Some(("h1", "h1")),
                Some("rot"),
                Some((Copy, HostChanged)),
            ),
            (
                "sync: host changed, handoff already equal",
                AuthMode::Sync,
                true,
                Some("h2"),
                Some(("h1", "h1")),
                Some("h2"),
                Some((Adopt, HostChanged)),
            ),
            (
                "sync: repair",
                AuthMode::Sync,
                true,
                Some("h1"),
                Some(("h1", "h1")),
                None,
                Some((Copy, Repair)),
            ),
            (
                "sync: in sync",
                AuthMode::Sync,
                true,
                Some("h1"),
                Some(("h1", "h1")),
                Some("h1"),
                None,
            ),
            (
                "sync: rotated inside, kept",
                AuthMode::Sync,
                true,
                Some("h1"),
                Some(("h1", "h1")),
                Some("rot"),
                Some((Keep, RotatedInContainer)),
            ),
            (
                "sync: host deleted, mirrored",
                AuthMode::Sync,
                true,
                None,
                Some(("h1", "h1")),
                Some("h1"),
                Some((Purge, HostDeleted)),
            ),
            (
                "sync: host deleted, rotated kept",
                AuthMode::Sync,
                true,
                None,
                Some(("h1", "h1")),
                Some("rot"),
                Some((Keep, HostDeletedRotated)),
            ),
            (
                "sync: container's own file",
                AuthMode::Sync,
                true,
                None,
                None,
                Some("own"),
                None,
            ),
            (
                "sync: login absent keeps all",
                AuthMode::Sync,
                false,
                Some("h2"),
                Some(("h1", "h1")),
                Some("rot"),
                None,
            ),
            (
                "api_key: forwarded, rotated, purged",
                AuthMode::ApiKey,
                true,
                None,
                Some(("h1", "h1")),
                Some("rot"),
                Some((Purge, ModeApiKey)),
            ),
            (
                "api_key: container-made kept",
                AuthMode::ApiKey,
                true,
                None,
                None,
                Some("own"),
                None,
            ),
            (
                "ignore: forwarded purged",
                AuthMode::Ignore,
                true,
                None,
                Some(("h1", "h1")),
                Some("h1"),
                Some((Purge, ModeIgnore)),
            ),
            (
                "ignore: forwarded but gone: forget, no change",
                AuthMode::Ignore,
                true,
                None,
                Some(("h1", "h1")),
                None,
                Some((Forget, ModeIgnore)),
            ),
        ];
        let rel = RelPath::catalogue("config.toml");
        for (what, mode, present, h, l, t, want) in rows {
            let s = spec(AgentKind::Kimi, mode, None);
            let mut ledger = Ledger::default();
            if let Some((src, tgt)) = l {
                let entry = LedgerEntry {
                    source: hashed(src),
                    target: hashed(tgt),
                };
                ledger.insert(AgentKind::Kimi, &rel, entry);
            }
            let host = (mode == AuthMode::Sync).then(|| HostLogin {
                present,
                files: h
                    .map(|h| {
                        let file = crate::observed::HostFile {
                            path: "/host/config.toml".into(),
                            hashed: hashed(h),
                        };
                        [(rel.clone(), file)].into()
                    })
                    .unwrap_or_default(),
                warnings: Vec::new(),
            });
            let files = AgentFiles {
                host,
                handoff: t
                    .map(|t| [(rel.clone(), Seen::File(hashed(t)))].into())
                    .unwrap_or_default(),
                ..AgentFiles::default()
            };
            let state = InstanceState {
                folder: String::new(),
                image: "i".into(),
                owner: None,
                ledger,
                agents: [(AgentKind::Kimi, files)].into(),
            };
            let fp = Fingerprinter::with_key(b"k");
            let got: Vec<(FileAction, FileCause)> = plan_files(&s, &state, &fp, &mut Vec::new())
                .steps
                .into_iter()
                .filter(|st| st.path == rel)
                .map(|st| (st.action, st.cause))
                .collect();
            assert_eq!(got, want.into_iter().collect::<Vec<_>>(), "{what}");
        }
    }
}
