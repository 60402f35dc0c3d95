//! Property test of the handoff engine on a real filesystem: random sequences of host edits,
//! container edits, mode switches and applies, through the real loader, resolver, observer,
//! planner and file executor (containers are not involved in these rules, so no Docker).
//!
//! Invariants after every apply:
//! - the host login is byte-for-byte and metadata unchanged by jackin;
//! - planning again right away finds nothing to copy, purge, adopt or forget;
//! - a file the container rotated is never overwritten unless the host changed it;
//! - the container's own files are kept in every mode (SPEC v2: `ignore` and `api_key` remove
//!   only what jackin forwarded), and so is a login it made itself at a catalogue path;
//! - after an apply in `api_key` or `ignore`, nothing jackin forwarded is left in the ledger;
//! - no secret (host file contents, env values) appears in the plan (text or JSON) or events.

use jackin::exec::{apply_files, Folders};
use jackin::fingerprint::Fingerprinter;
use jackin::handoff::{Owner, Store};
use jackin::paths::JackinHome;
use jackin::plan::{plan, FileAction, PlanOptions, Summary};
use jackin::report::{render_plan, Event, Style};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const FILES: [&str; 4] = [
    "config.toml",
    "credentials/kimi-code.json",
    "credentials/nested/extra.json",
    "device_id",
];
const SECRET_KEY: &str = "sk-PROP-SECRET-KEY";

#[derive(Debug, Clone)]
enum Op {
    HostWrite(usize, u8),
    HostDelete(usize),
    ContainerWrite(usize, u8),
    /// The agent writes its own state (not a catalogue entry): never jackin's business.
    ContainerOwn(u8),
    Mode(&'static str),
    Apply,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..FILES.len(), any::<u8>()).prop_map(|(f, v)| Op::HostWrite(f, v)),
        1 => (0..FILES.len()).prop_map(Op::HostDelete),
        3 => (0..FILES.len(), any::<u8>()).prop_map(|(f, v)| Op::ContainerWrite(f, v)),
        1 => any::<u8>().prop_map(Op::ContainerOwn),
        1 => prop_oneof![Just("sync"), Just("api_key"), Just("ignore")].prop_map(Op::Mode),
        4 => Just(Op::Apply),
    ]
}

struct World {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    mode: &'static str,
    fp: Fingerprinter,
    /// Every secret value ever written on the host.
    secrets: BTreeSet<String>,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        for d in ["home/.kimi/credentials/nested", "jh", "work"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let mut w = World {
            _dir: dir,
            root,
            mode: "sync",
            fp: Fingerprinter::with_key(b"prop-key"),
            secrets: BTreeSet::new(),
        };
        for (i, _) in FILES.iter().enumerate() {
            w.host_write(i, 0);
        }
        w
    }
    fn host(&self) -> std::path::PathBuf {
        self.root.join("home/.kimi")
    }
    fn handoff(&self) -> std::path::PathBuf {
        JackinHome::at(self.root.join("jh")).handoff_dir("jk-w-r", jackin::agents::AgentKind::Kimi)
    }
    fn host_write(&mut self, f: usize, v: u8) {
        let secret = format!("SECRET-host-{f}-{v}-{}", self.secrets.len());
        let p = self.host().join(FILES[f]);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, &secret).unwrap();
        self.secrets.insert(secret);
    }
    /// SPEC §3: a kimi login is present when the source holds `config.toml` and `credentials/`.
    fn login_present(&self) -> bool {
        self.host().join("config.toml").is_file() && self.host().join("credentials").is_dir()
    }
    fn write_state(&self) {
        let body = format!(
            "version = 1\nproject = \"props\"\n[auth.kimi]\nmode = \"{}\"\n[env]\nKIMI_API_KEY = \"$PROP_KEY\"\nKIMI_BASE_URL = \"https://kimi.invalid/v1\"\nKIMI_MODEL_NAME = \"m\"\n[roles.r]\nimage = \"img\"\nagents = [\"kimi\"]\n[workspaces.w.roles.r]\n",
            self.mode
        );
        std::fs::write(self.root.join("work/jackin.toml"), body).unwrap();
    }

    /// Observe and plan; returns the plan and its text + JSON renderings.
    fn plan(
        &self,
    ) -> (
        jackin::desired::Desired,
        jackin::observed::Observed,
        jackin::plan::Plan,
    ) {
        self.write_state();
        let work = self.root.join("work");
        let loaded = jackin::manifest::load(Some(&work.join("jackin.toml")), &work).unwrap();
        jackin::manifest::validate(&loaded).unwrap();
        let jh = JackinHome::at(self.root.join("jh"));
        let home = self.root.join("home");
        let lookup = |n: &str| (n == "PROP_KEY").then(|| SECRET_KEY.to_owned());
        let desired = jackin::desired::resolve(&loaded, &home, &jh, &lookup).unwrap();
        let observed = jackin::observed::observe_files(&desired, &jh, &home).unwrap();
        let p = plan(&desired, &observed, &PlanOptions::default(), &self.fp);
        (desired, observed, p)
    }

    fn apply(&self) -> (jackin::plan::Plan, Vec<String>) {
        let (_desired, observed, p) = self.plan();
        let jh = JackinHome::at(self.root.join("jh"));
        let store = Store::new(&jh);
        let mut events: Vec<Event> = Vec::new();
        let mut applied = Summary::default();
        for inst in &p.instances {
            let mut folders = Folders::new(&store, &inst.container, Owner::current());
            crate::common::block(apply_files(
                &store,
                &mut folders,
                inst,
                observed.instances.get(&inst.container),
                Owner::current(),
                true,
                &mut |e| events.push(e),
                &mut applied,
            ))
            .unwrap();
        }
        let events = events.iter().map(|e| serde_json::to_string(e).unwrap());
        (p, events.collect())
    }
}

/// Files the container creates in its handoff (claude's session logs, say) are its own state:
/// kept, and never read by jackin, however large they grow.
#[test]
fn files_the_container_creates_are_never_read() {
    let w = World::new();
    w.write_state();
    w.apply();
    let log = w.handoff().join("logs/session.jsonl");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    std::fs::write(&log, vec![b'x'; 4 << 20]).unwrap();
    std::fs::write(w.handoff().join("state.json"), "{}").unwrap();

    let (_, observed, p) = w.plan();
    assert!(
        observed.bytes_hashed < 1 << 20,
        "{} bytes hashed: the container's own files were read",
        observed.bytes_hashed
    );
    let files = &observed.instances["jk-w-r"].agents[&jackin::agents::AgentKind::Kimi];
    assert!(
        files
            .handoff
            .keys()
            .all(|p| !p.to_string().contains("logs") && p.to_string() != "state.json"),
        "the container's own files were probed: {:?}",
        files.handoff.keys()
    );
    assert!(p.instances.iter().all(|i| i.files.is_empty()), "{p:?}");
    assert_eq!(read(&log).map(|s| s.len()), Some(4 << 20), "kept");
}

fn read(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn handoff_invariants_hold_for_any_sequence(ops in proptest::collection::vec(op(), 1..24)) {
        let mut w = World::new();
        // Files the container rotated since the last apply, and files the host changed since
        // jackin last synced (an apply while the login is absent syncs nothing, so a host
        // change made before it still wins over a later rotation: SPEC §4, "host changed wins").
        let mut rotated: BTreeMap<usize, String> = BTreeMap::new();
        // Nothing is synced yet: every host file is new to jackin.
        let mut host_changed: BTreeSet<usize> = (0..FILES.len()).collect();
        let mut last_applied_mode = "";
        // The container's own files: kept in every mode.
        let mut own: BTreeMap<String, String> = BTreeMap::new();
        // Logins the container made itself at catalogue paths while not in sync: kept.
        let mut made: BTreeMap<usize, String> = BTreeMap::new();
        for op in ops {
            match op {
                Op::HostWrite(f, v) => { w.host_write(f, v); host_changed.insert(f); }
                Op::HostDelete(f) => { let _ = std::fs::remove_file(w.host().join(FILES[f])); }
                Op::ContainerWrite(f, v) => {
                    // The agent rotates a file jackin handed over, or creates one at a catalogue
                    // path (its own login), only meaningful in sync.
                    let p = w.handoff().join(FILES[f]);
                    if last_applied_mode == "sync" && w.mode == "sync" {
                        let content = format!("rotated-{f}-{v}");
                        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                        std::fs::write(&p, &content).unwrap();
                        rotated.insert(f, content);
                    } else if !last_applied_mode.is_empty() && last_applied_mode != "sync" && w.mode != "sync" {
                        let content = format!("made-{f}-{v}");
                        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                        std::fs::write(&p, &content).unwrap();
                        made.insert(f, content);
                    }
                }
                Op::ContainerOwn(v) => {
                    if !last_applied_mode.is_empty() {
                        let rel = format!("sessions/log-{v}.jsonl");
                        let p = w.handoff().join(&rel);
                        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                        std::fs::write(&p, format!("own-{v}")).unwrap();
                        own.insert(rel, format!("own-{v}"));
                    }
                }
                Op::Mode(m) => {
                    w.mode = m;
                    rotated.clear();
                    if m == "sync" {
                        made.clear();
                    }
                }
                Op::Apply => {
                    let before = crate::common::snapshot(w.host());
                    let (p, events) = w.apply();
                    prop_assert_eq!(crate::common::snapshot(w.host()), before, "host changed by apply");

                    let text = render_plan(&p, Style::plain());
                    let json = serde_json::to_string(&p).unwrap();
                    for out in [&text, &json, &events.join("\n")] {
                        prop_assert!(!out.contains(SECRET_KEY), "env value leaked: {}", out);
                        for s in &w.secrets {
                            prop_assert!(!out.contains(s.as_str()), "host secret {} leaked: {}", s, out);
                        }
                    }

                    for (f, content) in &rotated {
                        if !host_changed.contains(f) {
                            let now = read(&w.handoff().join(FILES[*f]));
                            prop_assert_eq!(now.as_deref(), Some(content.as_str()),
                                "rotation of {} overwritten though the host did not change it", FILES[*f]);
                        }
                    }

                    if w.mode != "sync" {
                        for (f, content) in &made {
                            let now = read(&w.handoff().join(FILES[*f]));
                            prop_assert_eq!(now.as_deref(), Some(content.as_str()),
                                "{} removed the login the container made at {}", w.mode, FILES[*f]);
                        }
                        let ledger = std::fs::read_to_string(w.root.join("jh/data/jk-w-r/ledger.json"))
                            .unwrap_or_default();
                        prop_assert!(!ledger.contains("kimi/"), "{} left forwarded files: {}", w.mode, ledger);
                    }
                    for (rel, content) in &own {
                        let now = read(&w.handoff().join(rel));
                        prop_assert_eq!(now.as_deref(), Some(content.as_str()),
                            "the container's own {} was touched", rel);
                    }

                    let (_, _, again) = w.plan();
                    let pending: Vec<_> = again.instances.iter().flat_map(|i| &i.files)
                        .filter(|f| f.action != FileAction::Keep).collect();
                    prop_assert!(pending.is_empty(), "second plan is not empty: {:?}", pending);

                    last_applied_mode = w.mode;
                    rotated.clear();
                    if w.mode != "sync" || w.login_present() {
                        host_changed.clear();
                    }
                }
            }
        }
    }
}
