//! What the operator reads: the text plan for every kind of action, as snapshots.
//!
//! Built through the real loader, resolver and file observer on a temp dir; only the Docker
//! half of the observation is written by hand here (the planner is pure, so this is exactly
//! what it would see). Fingerprints use a fixed key so the snapshots are stable. Every plan
//! built here, and the status derived from it, is also checked against the checked-in JSON
//! Schemas, so each kind of action is covered there too.

use crate::common::schema::{assert_matches_schema, schema_errors};
use jackin::agents::AgentKind;
use jackin::desired::hosts::LOCAL;
use jackin::desired::Desired;
use jackin::fingerprint::Fingerprinter;
use jackin::observed::{Observed, ObservedContainer};
use jackin::paths::JackinHome;
use jackin::plan::{desired_summary, plan, Plan, PlanOptions};
use jackin::report::{render_plan, Status, Style};
use jackin::schema::Document;
use std::path::Path;

struct Fixture {
    dir: tempfile::TempDir,
    fp: Fingerprinter,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let f = Fixture {
            dir,
            fp: Fingerprinter::with_key(b"snapshot-key"),
        };
        for (rel, body) in [
            ("home/.kimi/config.toml", "model = 1\n"),
            ("home/.kimi/credentials/kimi-code.json", "{}\n"),
            ("home/.kimi/device_id", "dev\n"),
        ] {
            f.write(rel, body);
        }
        f
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, rel: &str, body: &str) {
        let p = self.root().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }

    fn jh(&self) -> JackinHome {
        JackinHome::at(self.root().join("jh"))
    }

    fn desired(&self, state: &str) -> Desired {
        self.write("work/jackin.toml", state);
        let work = self.root().join("work");
        let loaded = jackin::manifest::load(Some(&work.join("jackin.toml")), &work).unwrap();
        jackin::manifest::validate(&loaded).unwrap();
        let lookup = |n: &str| (n == "KEY").then(|| "sk-1".to_owned());
        jackin::desired::resolve(&loaded, &self.root().join("home"), &self.jh(), &lookup).unwrap()
    }

    /// Files observed for real, every image present.
    fn observe_files(&self, desired: &Desired) -> Observed {
        let mut o = jackin::observed::observe_files(desired, &self.jh(), &self.root().join("home"))
            .unwrap();
        for state in o.instances.values() {
            let key = (LOCAL.to_owned(), state.image.clone());
            o.images.insert(key, Some("sha256:1111".into()));
        }
        o
    }

    /// Files observed for real; Docker as given: `running` containers built from `built_from`
    /// (the state they were created with), all images present.
    fn observe(&self, desired: &Desired, built_from: Option<&Desired>, running: bool) -> Observed {
        let mut o = self.observe_files(desired);
        if let Some(old) = built_from {
            let old_obs = self.observe_files(old);
            for (name, spec) in &old.instances {
                let summary = desired_summary(spec, &old_obs.instances[name], &old_obs, &self.fp);
                o.containers.insert(
                    name.clone(),
                    ObservedContainer {
                        host: LOCAL.into(),
                        id: format!("id-{name}"),
                        name: name.clone(),
                        workspace: spec.workspace.clone(),
                        role: spec.role.clone(),
                        agent: spec.agent.name().into(),
                        running,
                        state: if running { "running" } else { "exited" }.into(),
                        spec_hash: Some(summary.hash()),
                        spec: Some(summary),
                        quick_exit: None,
                        image: old_obs.instances[name].image.clone(),
                        up_since: None,
                        exit_code: None,
                    },
                );
            }
        }
        o
    }

    /// The plan, its JSON and the status JSON built from it checked against `schemas/`.
    fn plan(&self, desired: &Desired, observed: &Observed) -> Plan {
        let p = plan(desired, observed, &PlanOptions::default(), &self.fp);
        assert_matches_schema(Document::Plan, &serde_json::to_value(&p).unwrap());
        let status = Status::new(&p, observed);
        assert_matches_schema(Document::Status, &serde_json::to_value(&status).unwrap());
        p
    }

    fn plan_text(&self, desired: &Desired, observed: &Observed) -> String {
        render_plan(&self.plan(desired, observed), Style::plain())
    }

    /// Apply only the file steps, as if a previous apply had run.
    fn apply_files(&self, desired: &Desired) {
        let observed = self.observe(desired, None, true);
        let p = self.plan(desired, &observed);
        let store = jackin::handoff::Store::new(&self.jh());
        let owner = jackin::handoff::Owner::current();
        for inst in &p.instances {
            let mut folders = jackin::exec::Folders::new(&store, &inst.container, owner);
            crate::common::block(jackin::exec::apply_files(
                &store,
                &mut folders,
                inst,
                observed.instances.get(&inst.container),
                owner,
                true,
                &mut |_| {},
                &mut Default::default(),
            ))
            .unwrap();
        }
    }
}

fn state(model: &str, extra: &str) -> String {
    format!(
        "version = 1\nproject = \"snap\"\n[roles.smith]\nimage = \"agent:1\"\nagents = [\"kimi\"]\n[roles.smith.kimi]\nmodel = \"{model}\"\n[workspaces.app]\nworkdir = \"/w\"\n[workspaces.app.roles.smith]\n{extra}"
    )
}

#[test]
fn create_with_new_files() {
    let f = Fixture::new();
    let d = f.desired(&state("k1", ""));
    insta::assert_snapshot!(f.plan_text(&d, &f.observe(&d, None, true)));
}

#[test]
fn recreate_lists_what_changed_without_values() {
    let f = Fixture::new();
    let old = f.desired(&state("k1", ""));
    f.apply_files(&old);
    let new = f.desired(&state(
        "k2",
        "[workspaces.app.env]\nTOKEN = \"$KEY\"\nLOG = \"debug\"\n",
    ));
    let text = f.plan_text(&new, &f.observe(&new, Some(&old), true));
    assert!(!text.contains("sk-1"));
    insta::assert_snapshot!(text);
}

#[test]
fn start_a_stopped_container() {
    let f = Fixture::new();
    let d = f.desired(&state("k1", ""));
    f.apply_files(&d);
    insta::assert_snapshot!(f.plan_text(&d, &f.observe(&d, Some(&d), false)));
}

#[test]
fn restart_after_a_host_change_keeps_a_rotation_and_purges_a_deletion() {
    let f = Fixture::new();
    let d = f.desired(&state("k1", ""));
    f.apply_files(&d);
    f.write("home/.kimi/config.toml", "model = 2\n");
    std::fs::remove_file(f.root().join("home/.kimi/device_id")).unwrap();
    let handoff = f.jh().handoff_dir("jk-app-smith", AgentKind::Kimi);
    std::fs::write(handoff.join("credentials/kimi-code.json"), "rotated").unwrap();
    insta::assert_snapshot!(f.plan_text(&d, &f.observe(&d, Some(&d), true)));
}

#[test]
fn switching_to_api_key_purges_and_recreates() {
    let f = Fixture::new();
    let old = f.desired(&state("k1", ""));
    f.apply_files(&old);
    let new = f.desired(&state("k1", "[workspaces.app.auth.kimi]\nmode = \"api_key\"\n[workspaces.app.env]\nKIMI_API_KEY = \"$KEY\"\nKIMI_BASE_URL = \"https://kimi.invalid/v1\"\n"));
    insta::assert_snapshot!(f.plan_text(&new, &f.observe(&new, Some(&old), true)));
}

#[test]
fn remove_an_instance_no_longer_declared_and_pull_a_missing_image() {
    let f = Fixture::new();
    let old = f.desired(&state("k1", "[workspaces.api.roles.smith]\n"));
    let new = f.desired(&state("k1", "").replace("agent:1", "agent:2"));
    let mut observed = f.observe(&new, Some(&old), true);
    observed
        .images
        .insert((LOCAL.into(), "agent:2".into()), None);
    insta::assert_snapshot!(f.plan_text(&new, &observed));
}

#[test]
fn nothing_to_do() {
    let f = Fixture::new();
    let d = f.desired(&state("k1", ""));
    f.apply_files(&d);
    insta::assert_snapshot!(f.plan_text(&d, &f.observe(&d, Some(&d), true)));
}

#[test]
fn restart_owed_by_an_interrupted_apply() {
    let f = Fixture::new();
    let d = f.desired(&state("k1", ""));
    f.apply_files(&d);
    // An apply copied files and recorded the restart it owed, then died before restarting.
    let ledger = f.jh().ledger_path("jk-app-smith");
    let mut l: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&ledger).unwrap()).unwrap();
    l["restart_owed"] = true.into();
    std::fs::write(&ledger, serde_json::to_vec(&l).unwrap()).unwrap();
    insta::assert_snapshot!(f.plan_text(&d, &f.observe(&d, Some(&d), true)));
}

/// `status` for people: how long ago each instance synced, against a fixed "now".
#[test]
fn status_says_how_long_ago_each_instance_synced() {
    let f = Fixture::new();
    let app = f.desired(&state("k1", ""));
    f.apply_files(&app);
    // The last sync at a fixed instant, so the snapshot does not depend on the clock.
    let synced_at: i64 = 1_795_709_729;
    let ledger = f.jh().ledger_path("jk-app-smith");
    let mut l: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&ledger).unwrap()).unwrap();
    l["last_sync"] = synced_at.into();
    std::fs::write(&ledger, serde_json::to_vec(&l).unwrap()).unwrap();
    // A second instance, declared since: never synced.
    let both = f.desired(&state("k1", "[workspaces.api.roles.smith]\n"));
    let observed = f.observe(&both, Some(&app), true);
    let status = Status::new(&f.plan(&both, &observed), &observed);
    let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(synced_at as u64 + 192);
    let json = serde_json::to_value(&status).unwrap();
    let app_json = &json["instances"][1];
    assert_eq!(app_json["container"], "jk-app-smith", "{json:#}");
    assert_eq!(app_json["last_sync"], synced_at);
    assert_eq!(app_json["last_sync_at"], "2026-11-26T16:15:29Z");
    assert_eq!(
        json["instances"][0]["last_sync_at"],
        serde_json::Value::Null
    );
    insta::assert_snapshot!(status.render(Style::plain(), now));
}

fn first_run_state() -> String {
    "version = 1\nproject = \"snap\"\n[roles.smith]\nimage = \"agent:1\"\nagents = [\"codex\", \"claude\"]\n[auth.claude]\nmode = \"oauth_token\"\n[env]\nCLAUDE_CODE_OAUTH_TOKEN = \"$KEY\"\n[workspaces.app]\nworkdir = \"/w\"\n[workspaces.app.roles.smith]\n".into()
}

#[test]
fn first_run_settings_are_seeded_for_a_new_container() {
    let f = Fixture::new();
    let d = f.desired(&first_run_state());
    insta::assert_snapshot!(f.plan_text(&d, &f.observe(&d, None, true)));
}

/// A seed belongs to the container: once there it is never planned again, whatever it holds;
/// deleted inside a running container, it is put back without a restart (the agent reads it
/// only when it starts).
#[test]
fn a_seed_the_container_deleted_is_put_back_without_a_restart() {
    let f = Fixture::new();
    let d = f.desired(&first_run_state());
    f.apply_files(&d);
    let codex = f.jh().handoff_dir("jk-app-smith", AgentKind::Codex);
    std::fs::write(codex.join("config.toml"), "model = \"mine\"\n").unwrap();
    let text = f.plan_text(&d, &f.observe(&d, Some(&d), true));
    assert!(text.starts_with("No changes."), "{text}");
    std::fs::remove_file(codex.join("config.toml")).unwrap();
    insta::assert_snapshot!(f.plan_text(&d, &f.observe(&d, Some(&d), true)));
}

/// The schemas are closed and exact, so they reject what jackin never prints. (They are
/// generated from the serialised types, so a schema that accepted everything would also
/// "pass" every test above: this proves the checks there mean something.)
#[test]
fn the_schemas_reject_what_jackin_never_prints() {
    let f = Fixture::new();
    let d = f.desired(&state("k1", ""));
    let observed = f.observe(&d, None, true);
    let p = f.plan(&d, &observed);
    let plan_json = serde_json::to_value(&p).unwrap();
    let status_json = serde_json::to_value(Status::new(&p, &observed)).unwrap();
    assert!(
        plan_json["instances"][0]["files"][0].is_object(),
        "{plan_json:#}"
    );

    type Edit = fn(&mut serde_json::Value);
    let cases: [(Document, &str, Edit); 12] = [
        (Document::Plan, "unknown container action", |v| {
            v["instances"][0]["container_step"]["action"] = "explode".into();
        }),
        (Document::Plan, "unknown file cause", |v| {
            v["instances"][0]["files"][0]["cause"] = "because".into();
        }),
        (Document::Plan, "unknown agent", |v| {
            v["instances"][0]["files"][0]["agent"] = "hal".into();
        }),
        (Document::Plan, "missing summary count", |v| {
            v["summary"].as_object_mut().unwrap().remove("kept");
        }),
        (Document::Plan, "missing nullable field", |v| {
            let step = &mut v["instances"][0]["container_step"];
            step.as_object_mut().unwrap().remove("id");
        }),
        (Document::Plan, "unknown top-level field", |v| {
            v["extra"] = true.into();
        }),
        (Document::Plan, "field of another cause kind", |v| {
            v["instances"][0]["container_step"]["cause"]["changes"] = serde_json::json!([]);
        }),
        (Document::Plan, "path on the default scope", |v| {
            v["instances"][0]["auth"][0]["set_by"]["path"] = "auth.kimi".into();
        }),
        (Document::Plan, "another format version", |v| {
            v["format_version"] = 2.into();
        }),
        (Document::Plan, "negative count", |v| {
            v["summary"]["copy"] = (-1).into();
        }),
        (Document::Status, "missing declared", |v| {
            v["instances"][0]
                .as_object_mut()
                .unwrap()
                .remove("declared");
        }),
        (Document::Status, "handoff count as a string", |v| {
            v["instances"][0]["handoff_files"] = "3".into();
        }),
    ];
    for (doc, what, edit) in cases {
        let mut v = match doc {
            Document::Status => status_json.clone(),
            _ => plan_json.clone(),
        };
        edit(&mut v);
        assert!(
            !schema_errors(doc, &v).is_empty(),
            "{what}: accepted by schemas/{}:\n{v:#}",
            doc.file_name()
        );
    }

    // What jackin may print is accepted: no container step, no files, a scope with a path.
    let mut v = plan_json.clone();
    v["instances"][0]["container_step"] = serde_json::Value::Null;
    v["instances"][0]["files"] = serde_json::json!([]);
    v["instances"][0]["auth"][0]["set_by"] =
        serde_json::json!({ "scope": "workspace", "path": "workspaces.app.auth.kimi" });
    assert_matches_schema(Document::Plan, &v);
}

/// The `plan` event is the plan document plus `"type": "plan"` (serde's internally tagged
/// newtype variant): the events schema accepts exactly that and stays closed around it.
#[test]
fn the_events_schema_takes_the_plan_event_and_rejects_what_jackin_never_prints() {
    let f = Fixture::new();
    let d = f.desired(&state("k1", ""));
    let p = f.plan(&d, &f.observe(&d, None, true));
    let event = serde_json::to_value(jackin::report::Event::Plan(Box::new(p))).unwrap();
    assert_eq!(event["type"], "plan");
    assert_matches_schema(Document::Events, &event);

    type Edit = fn(&mut serde_json::Value);
    let cases: [(&str, Edit); 4] = [
        ("unknown field next to the plan's", |v| {
            v["extra"] = true.into()
        }),
        ("plan field missing", |v| {
            v.as_object_mut().unwrap().remove("instances");
        }),
        ("unknown event type", |v| v["type"] = "explosion".into()),
        ("bad value inside the plan", |v| {
            v["instances"][0]["container_step"]["action"] = "explode".into();
        }),
    ];
    for (what, edit) in cases {
        let mut v = event.clone();
        edit(&mut v);
        assert!(
            !schema_errors(Document::Events, &v).is_empty(),
            "{what}: accepted by schemas/events.schema.json:\n{v:#}"
        );
    }
}

mod console;
