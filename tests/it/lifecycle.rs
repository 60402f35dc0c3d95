//! Container lifecycle (SPEC §5) and the operator-facing surface (SPEC §6), on the real engine.

use crate::common::schema::assert_matches_schema;
use crate::common::*;
use jackin::schema::Document;
use std::fs::File;
use std::time::Duration;

/// Two workspaces × role smith; `model_b` is the model of workspace b's instance role.
struct Two {
    sb: Sandbox,
    a: String,
    b: String,
}

impl Two {
    fn new() -> Self {
        let sb = Sandbox::new();
        sb.kimi_login(".kimi");
        let a = sb.workspace("a");
        let b = sb.workspace("b");
        Two { sb, a, b }
    }

    fn write(&self, model_b: &str, extra: &str) {
        let body = format!(
            r#"version = 1
project = "{p}"
[roles.smith]
image = "{img}"
agents = ["kimi"]
[roles.smith.kimi]
model = "k1"
[roles.other]
image = "{img}"
agents = ["kimi"]
[roles.other.kimi]
model = "{model_b}"
[workspaces.{a}.roles.smith]
[workspaces.{b}.roles.other]
{extra}"#,
            p = self.sb.project(),
            img = agent_image(),
            a = self.a,
            b = self.b,
        );
        self.sb.write("jackin.toml", body);
    }

    fn ca(&self) -> String {
        format!("jk-{}-smith", self.a)
    }
    fn cb(&self) -> String {
        format!("jk-{}-other", self.b)
    }
}

fn id(c: &str) -> String {
    inspect(c, "{{.Id}}")
}

#[test]
fn a_model_change_recreates_only_that_instance_and_says_why() {
    let t = Two::new();
    t.write("k1", "");
    t.sb.jackin(&["apply"]).expect_ok();
    let (ida, idb) = (id(&t.ca()), id(&t.cb()));

    t.write("k2", "");
    let plan = t.sb.jackin(&["plan"]);
    assert!(
        plan.stdout.contains(
            "-/+ recreate container: command `kimi --yolo --model k1` → `kimi --yolo --model k2`"
        ),
        "{plan:?}"
    );
    assert!(
        plan.stdout
            .contains("Plan: 0 to create, 1 to recreate, 0 to restart, 0 to remove;"),
        "{plan:?}"
    );
    t.sb.jackin(&["apply"]).expect_ok();
    assert_eq!(id(&t.ca()), ida, "the other instance is untouched");
    assert_ne!(id(&t.cb()), idb, "recreated");
    assert_eq!(
        exec(&t.cb(), &["cat", "/tmp/agent.args"]).lines().last(),
        Some("k2")
    );
}

#[test]
fn a_stopped_container_is_started_not_recreated() {
    let t = Two::new();
    t.write("k1", "");
    t.sb.jackin(&["apply"]).expect_ok();
    let before = id(&t.ca());
    docker(&["stop", "-t", "1", &t.ca()]);
    let plan = t.sb.jackin(&["plan"]);
    assert!(
        plan.stdout
            .contains("~ start container: container is exited"),
        "{plan:?}"
    );
    assert!(plan.stdout.contains(", 1 to start, "), "{plan:?}");
    t.sb.jackin(&["apply"]).expect_ok();
    assert_eq!(id(&t.ca()), before, "same container");
    assert!(container_running(&t.ca()));
}

#[test]
fn removing_an_instance_removes_its_container_and_keeps_its_handoff_unless_purged() {
    let t = Two::new();
    t.write("k1", "");
    t.sb.jackin(&["apply"]).expect_ok();
    // Drop workspace b from the file.
    let body = std::fs::read_to_string(t.sb.work().join("jackin.toml")).unwrap();
    let without_b: String = body
        .lines()
        .filter(|l| !l.contains(&format!("workspaces.{}", t.b)))
        .map(|l| format!("{l}\n"))
        .collect();
    t.sb.write("jackin.toml", &without_b);
    let plan = t.sb.jackin(&["plan"]);
    assert!(
        plan.stdout
            .contains("- remove container: no longer declared"),
        "{plan:?}"
    );
    t.sb.jackin(&["apply"]).expect_ok();
    assert!(!container_exists(&t.cb()));
    assert!(container_running(&t.ca()), "the declared one stays");
    let state = t.sb.jackin_home().join("data").join(t.cb());
    assert!(
        state.join("handoff/kimi/config.toml").exists(),
        "handoff kept"
    );

    // Put it back, then remove it with --purge-removed.
    t.write("k1", "");
    t.sb.jackin(&["apply"]).expect_ok();
    t.sb.write("jackin.toml", &without_b);
    t.sb.jackin(&["apply", "--purge-removed"]).expect_ok();
    assert!(!state.exists(), "state purged");
}

#[test]
fn target_limits_plan_and_apply_to_one_instance() {
    let t = Two::new();
    t.write("k1", "");
    let run = t.sb.jackin(&["apply", "--target", &t.a]);
    run.expect_ok();
    assert!(container_running(&t.ca()));
    assert!(!container_exists(&t.cb()), "outside the target");
    let plan = t.sb.jackin(&[
        "plan",
        "--target",
        &format!("{}/other", t.b),
        "--detailed-exitcode",
    ]);
    plan.expect_code(2);
    assert!(
        plan.stdout.contains("Plan: 1 to create, 0 to recreate"),
        "{plan:?}"
    );
    assert!(!plan.stdout.contains(&t.ca()), "{plan:?}");
}

#[test]
fn an_image_that_cannot_be_pulled_fails_its_instance_and_the_others_converge() {
    let t = Two::new();
    t.write("k1", "");
    let body = std::fs::read_to_string(t.sb.work().join("jackin.toml"))
        .unwrap()
        .replacen(
            &format!("image = \"{}\"", agent_image()),
            "image = \"jackin-test/absent:1\"",
            1,
        );
    t.sb.write("jackin.toml", body);
    let run = t.sb.jackin(&["apply"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("image jackin-test/absent:1 is not present and could not be pulled"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("error[E041]: 1 of the planned instance(s) failed"),
        "{run:?}"
    );
    assert!(!container_exists(&t.ca()), "its instance failed");
    assert!(container_running(&t.cb()), "the other converged");

    // Fixed: a rerun finishes the job.
    t.write("k1", "");
    t.sb.jackin(&["apply"]).expect_ok();
    assert!(container_running(&t.ca()));
}

#[test]
fn an_absent_image_is_pulled_with_progress_and_not_pulled_again() {
    let registry = crate::common::registry::Registry::serve(agent_image());
    let sb = Sandbox::new();
    sb.kimi_login(".kimi");
    let ws = sb.workspace("pull");
    let c = format!("jk-{ws}-smith");
    let image = registry.reference.as_str();
    sb.write(
        "jackin.toml",
        format!(
            "version = 1\nproject = \"{}\"\n[roles.smith]\nimage = \"{image}\"\nagents = [\"kimi\"]\n[workspaces.{ws}.roles.smith]\n",
            sb.project()
        ),
    );
    let plan = sb.jackin(&["plan"]);
    assert!(
        plan.stdout.contains(&format!("image {image}: pull")),
        "{plan:?}"
    );

    let run = sb.jackin(&["apply", "--output", "json"]);
    run.expect_ok();
    crate::common::schema::assert_events_match_schema(&run.stdout);
    let events: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of = |t: &'static str| events.iter().filter(move |e| e["type"] == t);
    let statuses: Vec<_> = of("image").map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["pulling", "pulled"], "{}", run.stdout);
    let progress: Vec<_> = of("pull_progress").collect();
    assert!(
        progress.iter().all(|e| e["image"] == image),
        "{}",
        run.stdout
    );
    let last = progress.last().expect("pull progress was reported");
    let bytes = |e: &serde_json::Value, k: &str| e[k].as_u64().unwrap();
    // The layer unique to this registry (4 MiB) is always downloaded; the agent image's base
    // layer may already be known to the engine from an earlier pull and then "Already exists".
    assert!(bytes(last, "total_bytes") > 4 << 20, "{last}");
    assert!(bytes(last, "total_bytes") <= registry.layer_bytes, "{last}");
    assert_eq!(bytes(last, "downloaded_bytes"), bytes(last, "total_bytes"));
    assert!(
        bytes(last, "layers") >= 2 && last["layers"] == last["layers_done"],
        "{last}"
    );
    assert!(
        progress
            .windows(2)
            .all(|w| bytes(w[0], "downloaded_bytes") <= bytes(w[1], "downloaded_bytes")),
        "progress went backwards: {}",
        run.stdout
    );
    assert!(
        registry.blob_fetches() >= 2,
        "config and the unique layer were fetched"
    );
    assert!(container_running(&c));
    assert_eq!(inspect(&c, "{{.Config.Image}}"), image);

    // Present now: the next apply neither plans nor makes a pull.
    let served = registry.requests.lock().unwrap().len();
    sb.jackin(&["plan", "--detailed-exitcode"]).expect_code(0);
    sb.jackin(&["apply"]).expect_ok();
    assert_eq!(registry.requests.lock().unwrap().len(), served);

    // Text output off a terminal: a line before and after, no progress lines in between.
    docker(&["rm", "-f", &c]);
    docker(&["image", "rm", image]);
    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    let image_lines: Vec<_> = run.stdout.lines().filter(|l| l.contains(image)).collect();
    assert_eq!(
        image_lines,
        [
            format!("image {image}: pull"),
            format!("image {image}: pulling"),
            format!("image {image}: pulled"),
        ],
        "{run:?}"
    );
    assert!(!run.all().contains("Downloading"), "{run:?}");
    assert!(container_running(&c));
}

#[test]
fn a_build_role_is_built_from_its_context_and_rebuilt_only_when_it_changes() {
    let sb = Sandbox::new();
    sb.kimi_login(".kimi");
    let ws = sb.workspace("build");
    let c = format!("jk-{ws}-smith");
    sb.write(
        "ctx/Dockerfile",
        format!("FROM {}\nCOPY motd /etc/motd\n", agent_image()),
    );
    sb.write("ctx/motd", "v1\n");
    sb.write(
        "jackin.toml",
        format!(
            "version = 1\nproject = \"{}\"\n[roles.smith]\nbuild = {{ context = \"ctx\" }}\nagents = [\"kimi\"]\n[workspaces.{ws}.roles.smith]\n",
            sb.project()
        ),
    );
    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    assert!(
        run.stdout.contains("image jackin/") && run.stdout.contains(":ctx-"),
        "{run:?}"
    );
    assert_eq!(exec(&c, &["cat", "/etc/motd"]), "v1\n");
    sb.jackin(&["plan", "--detailed-exitcode"]).expect_code(0);

    sb.write("ctx/motd", "v2\n");
    let plan = sb.jackin(&["plan"]);
    assert!(plan.stdout.contains("build from"), "{plan:?}");
    assert!(
        plan.stdout.contains("recreate container: image jackin/"),
        "{plan:?}"
    );
    // The only real output with a `build` image step the schema check sees.
    let json = sb.jackin(&["plan", "--output", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_matches_schema(Document::Plan, &v);
    assert_eq!(v["images"][0]["action"]["kind"], "build", "{v:#}");
    sb.jackin(&["apply"]).expect_ok();
    assert_eq!(exec(&c, &["cat", "/etc/motd"]), "v2\n");

    // A mode is part of what is sent: chmod +x rebuilds, and the image has the new mode.
    let motd = sb.work().join("ctx/motd");
    std::fs::set_permissions(&motd, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let plan = sb.jackin(&["plan"]);
    assert!(
        plan.stdout.contains("build from"),
        "chmod +x rebuilds: {plan:?}"
    );
    sb.jackin(&["apply"]).expect_ok();
    assert!(exec(&c, &["ls", "-l", "/etc/motd"]).starts_with("-rwxr-xr-x"));

    // What .dockerignore leaves out is neither sent nor a reason to rebuild.
    sb.write("ctx/.dockerignore", ".git\n");
    sb.jackin(&["apply"]).expect_ok();
    sb.write("ctx/.git/HEAD", "ref: refs/heads/main\n");
    sb.jackin(&["plan", "--detailed-exitcode"]).expect_code(0);
}

/// The image of a `build` role does not exist when the plan is made, so who its containers
/// run as is resolved after the build, from the image's own `USER` and `/etc/passwd`: once
/// for the image, for every workspace that uses the role.
#[test]
fn a_built_images_user_owns_the_handoff_of_every_workspace_using_it() {
    let sb = Sandbox::new();
    sb.kimi_login(".kimi");
    let (one, two) = (sb.workspace("bu1"), sb.workspace("bu2"));
    sb.write(
        "ctx/Dockerfile",
        format!("FROM {}\nUSER agent\n", agent_image()),
    );
    sb.write(
        "jackin.toml",
        format!(
            "version = 1\nproject = \"{}\"\n[roles.smith]\nbuild = {{ context = \"ctx\" }}\nagents = [\"kimi\"]\n[workspaces.{one}.roles.smith]\n[workspaces.{two}.roles.smith]\n",
            sb.project()
        ),
    );
    sb.jackin(&["apply"]).expect_ok();
    for ws in [&one, &two] {
        let c = format!("jk-{ws}-smith");
        assert_eq!(
            exec(&c, &["id", "-u"]).trim(),
            "1000",
            "{c} runs as the image's USER"
        );
        let handoff = std::fs::metadata(sb.handoff_dir(&c, "kimi")).unwrap();
        assert_eq!(
            std::os::unix::fs::MetadataExt::uid(&handoff),
            1000,
            "{c}'s handoff belongs to that user"
        );
        // The agent reads its login as that user (exec fails the test otherwise).
        exec(&c, &["test", "-r", "/jackin/kimi/config.toml"]);
    }
}

#[test]
fn a_no_op_apply_costs_the_same_docker_calls_for_one_or_many_instances() {
    let calls = |n: usize| {
        let sb = Sandbox::new();
        sb.kimi_login(".kimi");
        let mut body = format!(
            "version = 1\nproject = \"{}\"\n[roles.smith]\nimage = \"{}\"\nagents = [\"kimi\"]\n",
            sb.project(),
            agent_image()
        );
        for _ in 0..n {
            body += &format!("[workspaces.{}.roles.smith]\n", sb.workspace("n"));
        }
        sb.write("jackin.toml", body);
        sb.jackin(&["apply"]).expect_ok();
        let run = sb.jackin(&["apply", "--output", "json"]);
        run.expect_ok();
        let summary: serde_json::Value =
            serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap();
        assert_eq!(summary["type"], "summary");
        summary["api_calls"].as_u64().unwrap()
    };
    assert_eq!(calls(1), calls(4));
}

#[test]
fn a_second_apply_waits_for_the_lock_and_fails_naming_the_holder() {
    let t = Two::new();
    t.write("k1", "");
    let lock_path = t.sb.lock_path();
    let holder = File::create(&lock_path).unwrap();
    std::fs::write(&lock_path, std::process::id().to_string()).unwrap();
    holder.lock().unwrap();
    let run = t.sb.jackin(&["apply", "--lock-timeout", "0"]);
    run.expect_code(1);
    assert!(
        run.stderr.starts_with(&format!(
            "error[E030]: another jackin apply (pid {}) holds the lock",
            std::process::id()
        )),
        "{run:?}"
    );
    assert!(!container_exists(&t.ca()), "nothing applied");
    drop(holder);
    t.sb.jackin(&["apply", "--lock-timeout", "0"]).expect_ok();
}

#[test]
fn two_concurrent_applies_never_interleave() {
    let t = Two::new();
    t.write("k1", "");
    let first = t.sb.jackin_spawn(&["apply", "--output", "json"], &[]);
    let second = t.sb.jackin_spawn(&["apply", "--output", "json"], &[]);
    let runs = [first.wait(JACKIN_TIMEOUT), second.wait(JACKIN_TIMEOUT)];
    let created: Vec<u64> = runs
        .iter()
        .map(|r| {
            r.expect_ok();
            let s: serde_json::Value =
                serde_json::from_str(r.stdout.lines().last().unwrap()).unwrap();
            s["applied"]["create"].as_u64().unwrap()
        })
        .collect();
    let mut sorted = created.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [0, 2],
        "one apply created both, the other found nothing to do: {runs:?}"
    );
}

#[test]
fn status_shows_state_auth_provenance_handoff_and_drift() {
    let t = Two::new();
    t.write(
        "k1",
        &format!("[workspaces.{}.auth.kimi]\nmode = \"ignore\"\n", t.b),
    );
    t.sb.jackin(&["apply"]).expect_ok();
    docker(&["stop", "-t", "1", &t.ca()]);
    let run = t.sb.jackin(&["status"]);
    run.expect_ok();
    assert!(
        run.stdout
            .contains(&format!("{} ({} × smith, agent kimi): exited", t.ca(), t.a)),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("kimi: sync (set by default)"),
        "{run:?}"
    );
    assert!(
        run.stdout.contains(&format!(
            "kimi: ignore (set by workspaces.{}.auth.kimi)",
            t.b
        )),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("handoff: 4 file(s), synced ") && run.stdout.contains(" ago\n"),
        "{run:?}"
    );
    assert!(run.stdout.contains("drift: start"), "{run:?}");
    assert!(run.stdout.contains("in sync"), "{run:?}");

    let json = t.sb.jackin(&["status", "--output", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_matches_schema(Document::Status, &v);
    assert_eq!(v["format_version"], 1);
    let inst = v["instances"].as_array().unwrap();
    assert_eq!(inst.len(), 2);
    assert_eq!(inst[0]["state"], "exited");
    assert_eq!(inst[0]["auth"][0]["set_by"]["scope"], "default");
    // Unix seconds (kept) and the same instant as RFC 3339, for programs.
    let secs = inst[0]["last_sync"].as_i64().unwrap();
    assert_eq!(
        inst[0]["last_sync_at"],
        jackin::report::time::rfc3339(secs),
        "{v:#}"
    );
    assert!(inst[0]["last_sync_at"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn the_json_plan_has_the_documented_shape() {
    let t = Two::new();
    t.write("k1", "");
    let run = t.sb.jackin(&["plan", "--output", "json"]);
    run.expect_ok();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_matches_schema(Document::Plan, &v);
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["project"], t.sb.project());
    assert!(v["images"].as_array().unwrap().is_empty());
    let inst = &v["instances"][0];
    for key in [
        "container",
        "workspace",
        "role",
        "agent",
        "auth",
        "container_step",
        "files",
        "notes",
    ] {
        assert!(inst.get(key).is_some(), "instance.{key} in {inst}");
    }
    assert_eq!(inst["container_step"]["action"], "create");
    assert_eq!(inst["container_step"]["cause"]["kind"], "missing");
    let file = &inst["files"][0];
    assert_eq!(file["action"], "copy");
    assert_eq!(file["cause"], "new");
    assert!(file["host"].as_str().unwrap().starts_with("hmac:"));
    for key in [
        "create", "recreate", "start", "restart", "remove", "copy", "purge", "kept",
    ] {
        assert!(v["summary"][key].is_u64(), "summary.{key}");
    }
}

#[test]
fn schema_prints_the_checked_in_schema_of_each_document() {
    let sb = Sandbox::new();
    for (args, doc) in [
        (&["schema"][..], Document::State),
        (&["schema", "state"], Document::State),
        (&["schema", "plan"], Document::Plan),
        (&["schema", "status"], Document::Status),
        (&["schema", "events"], Document::Events),
    ] {
        let run = sb.jackin(args);
        run.expect_ok();
        let path = format!("{}/schemas/{}", env!("CARGO_MANIFEST_DIR"), doc.file_name());
        assert!(
            run.stdout == std::fs::read_to_string(&path).unwrap(),
            "`jackin {}` differs from {path}",
            args.join(" ")
        );
    }
}

#[test]
fn a_crashed_lock_holder_never_leaves_a_stale_lock() {
    let t = Two::new();
    t.write("k1", "");
    let lock_path = t.sb.lock_path();
    // Another process takes the same OS lock, then dies without any cleanup.
    // --no-fork: the lock holder is the process we kill, not a child that would outlive it.
    let mut holder = std::process::Command::new("flock")
        .arg("--no-fork")
        .arg(&lock_path)
        .args(["sleep", "600"])
        .spawn()
        .expect("flock(1) from util-linux");
    wait_until(
        "the holder has the lock",
        std::time::Duration::from_secs(10),
        || {
            File::open(&lock_path)
                .is_ok_and(|f| matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock)))
        },
    );
    t.sb.jackin(&["apply", "--lock-timeout", "0"])
        .expect_code(1);
    holder.kill().unwrap();
    holder.wait().unwrap();
    t.sb.jackin(&["apply", "--lock-timeout", "0"]).expect_ok();
}

#[test]
fn replace_recreates_only_the_named_instance_even_when_nothing_changed() {
    let t = Two::new();
    t.write("k2", "");
    t.sb.jackin(&["apply"]).expect_ok();
    let (ca, cb) = (t.ca(), t.cb());
    let (id_a, id_b) = (id(&ca), id(&cb));

    let plan =
        t.sb.jackin(&["plan", "--detailed-exitcode", "--replace", &t.a]);
    plan.expect_code(2);
    assert!(
        plan.stdout
            .contains("-/+ recreate container: replaced on request"),
        "{plan:?}"
    );
    assert!(
        plan.stdout.contains("Plan: 0 to create, 1 to recreate"),
        "{plan:?}"
    );

    let target = format!("{}/smith", t.a);
    t.sb.jackin(&["apply", "--replace", &target]).expect_ok();
    assert_ne!(id(&ca), id_a, "a new container");
    assert!(container_running(&ca));
    assert_eq!(id(&cb), id_b, "the other one untouched");
    t.sb.jackin(&["plan", "--detailed-exitcode"]).expect_code(0);

    let typo = t.sb.jackin(&["apply", "--replace", "nope"]);
    typo.expect_code(1);
    assert!(
        typo.stderr
            .starts_with("error[E032]: --replace nope names no instance of the desired state"),
        "{typo:?}"
    );
    assert_eq!(id(&cb), id_b);
}

#[test]
fn destroy_removes_only_the_projects_containers_and_keeps_the_handoff_unless_purge() {
    let t = Two::new();
    t.write("k2", "");
    t.sb.jackin(&["apply"]).expect_ok();
    let (ca, cb) = (t.ca(), t.cb());
    // Not ours: another project's jackin container, and one carrying our project label but
    // not jackin's managed label.
    let other = Two::new();
    other.write("k2", "");
    other.sb.jackin(&["apply"]).expect_ok();
    let stranger = format!("stranger-{}", t.sb.project());
    // Carrying the project label, it is removed with the sandbox however the test ends.
    docker(&[
        "run",
        "-d",
        "--name",
        &stranger,
        "--label",
        &format!("jackin.project={}", t.sb.project()),
        agent_image(),
        "sleep",
        "3600",
    ]);
    let data = t.sb.jackin_home().join("data");

    // The harness's stdin is not a terminal: no --yes, nothing happens.
    let refused = t.sb.jackin(&["destroy"]);
    refused.expect_code(1);
    assert!(
        refused.stderr.starts_with(&format!(
            "error[E033]: refusing to destroy project {} without --yes",
            t.sb.project()
        )),
        "{refused:?}"
    );
    assert!(container_running(&ca) && container_running(&cb));

    let run = t.sb.jackin(&["destroy", "--yes"]);
    run.expect_ok();
    assert!(run.stdout.contains("Destroyed 2 container(s)"), "{run:?}");
    assert!(!container_exists(&ca) && !container_exists(&cb));
    assert!(data.join(&ca).join("ledger.json").exists(), "handoff kept");
    assert!(
        container_running(&other.ca()),
        "another project's container"
    );
    assert!(container_running(&stranger), "an unmanaged container");

    // A later apply picks the kept handoff up; --purge then takes everything.
    t.sb.jackin(&["apply"]).expect_ok();
    t.sb.jackin(&["destroy", "--yes", "--purge"]).expect_ok();
    assert!(!container_exists(&ca));
    assert!(
        !data.join(&ca).exists() && !data.join(&cb).exists(),
        "purged"
    );
    assert!(container_running(&stranger));
}

/// SPEC v3 §5: an agent that exits right after its start (kimi-cli 1.52.0's entry point, a
/// bad flag) fails its instance with its exit code and last lines — shown escaped, secrets
/// redacted — and is not started again and again; the other instances converge.
#[test]
fn an_agent_that_exits_at_once_fails_its_instance_and_is_not_started_again() {
    let sb = Sandbox::new();
    sb.kimi_login(".kimi");
    let (bad, good) = (sb.workspace("quits"), sb.workspace("stays"));
    let secret = format!("SECRET-{}", sb.project());
    let body = format!(
        "version = 1\nproject = \"{}\"\n[roles.smith]\nimage = \"{}\"\nagents = [\"kimi\"]\n[workspaces.{good}.roles.smith]\n[workspaces.{bad}.env]\nAPI_TOKEN = \"{secret}\"\nFAKE_AGENT_EXIT = \"3\"\nFAKE_AGENT_SAY = \"\\\\033]0;pwned\\\\007kimi-cli is no longer maintained {secret}\"\n[workspaces.{bad}.roles.smith]\n",
        sb.project(),
        agent_image()
    );
    sb.write("jackin.toml", body);
    let c = format!("jk-{bad}-smith");
    let says = |run: &Run| {
        let all = run.all();
        assert!(all.contains("error[E047]"), "{run:?}");
        assert!(
            all.contains(&format!("{c}: kimi exited (code 3)")),
            "{run:?}"
        );
        assert!(
            all.contains("\\x1b]0;pwned\\x07kimi-cli is no longer maintained [redacted]"),
            "escaped, redacted: {run:?}"
        );
        assert!(!all.contains('\u{1b}') && !all.contains(&secret), "{run:?}");
    };
    let run = sb.jackin(&["apply"]);
    run.expect_code(1);
    says(&run);
    assert!(container_running(&format!("jk-{good}-smith")), "{run:?}");
    let started = inspect(&c, "{{.State.StartedAt}}");

    // Not started again while nothing about it changed: the same failure, said again.
    let run = sb.jackin(&["apply"]);
    run.expect_code(1);
    says(&run);
    assert!(!run.stdout.contains("start container"), "{run:?}");
    assert_eq!(
        inspect(&c, "{{.State.StartedAt}}"),
        started,
        "not restarted"
    );
    let status = sb.jackin(&["status", "--output", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let inst = doc["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["container"] == c.as_str())
        .unwrap();
    assert!(
        inst["state"]
            .as_str()
            .unwrap()
            .starts_with("exited (code 3) 0."),
        "{inst}"
    );
    assert_eq!(inst["exited_at_once"]["exit_code"], 3);
    let text = sb.jackin(&["status"]);
    assert!(text.stdout.contains("exited (code 3)"), "{text:?}");
    assert!(!text.all().contains('\u{1b}'), "{text:?}");

    // --replace tries again at once.
    let run = sb.jackin(&["apply", "--replace", &bad]);
    run.expect_code(1);
    says(&run);
    assert_ne!(inspect(&c, "{{.State.StartedAt}}"), started, "tried again");
}

/// SPEC v3 §5 in watch: the agent that exits at once is reported once, never started again in
/// a loop, while the other instance keeps converging pass after pass.
#[test]
fn watch_reports_an_agent_that_exits_at_once_once_and_never_restarts_it_in_a_loop() {
    let sb = Sandbox::new();
    let login = sb.kimi_login(".kimi");
    let (bad, good) = (sb.workspace("wquits"), sb.workspace("wstays"));
    let body = format!(
        "version = 1\nproject = \"{}\"\n[roles.smith]\nimage = \"{}\"\nagents = [\"kimi\"]\n[workspaces.{good}.roles.smith]\n[workspaces.{bad}.auth.kimi]\nmode = \"ignore\"\n[workspaces.{bad}.env]\nFAKE_AGENT_EXIT = \"0\"\nFAKE_AGENT_SAY = \"no longer maintained\"\n[workspaces.{bad}.roles.smith]\n",
        sb.project(),
        agent_image()
    );
    sb.write("jackin.toml", body);
    let c = format!("jk-{bad}-smith");
    let mut watch = sb.jackin_spawn(&["watch", "--debounce-ms", "20", "--resync-secs", "1"], &[]);
    watch.wait_for_output("watching", Duration::from_secs(60));
    wait_until("the agent exited", Duration::from_secs(60), || {
        container_exists(&c) && !container_running(&c)
    });
    let started = inspect(&c, "{{.State.StartedAt}}");
    // Passes go on (host changes reach the other instance, 1 s resyncs run; the exited one
    // forwards nothing, so nothing about it changes) ...
    let other = sb.handoff_dir(&format!("jk-{good}-smith"), "kimi");
    for i in 0..3 {
        let token = format!("watch-token-{i}");
        std::fs::write(
            login.dir.join("credentials/kimi-code.json"),
            format!("{{\"access_token\":\"{token}\"}}"),
        )
        .unwrap();
        wait_until(
            "the other instance converges",
            Duration::from_secs(60),
            || {
                std::fs::read_to_string(other.join("credentials/kimi-code.json"))
                    .is_ok_and(|t| t.contains(&token))
            },
        );
    }
    // ... and the exited one was never started again.
    assert_eq!(
        inspect(&c, "{{.State.StartedAt}}"),
        started,
        "{}",
        watch.all()
    );
    assert!(!watch.exited(), "watch keeps going: {}", watch.all());
    watch.signal(libc::SIGTERM);
    let run = watch.wait(JACKIN_TIMEOUT);
    let reported = run
        .all()
        .matches(&format!("{c}: kimi exited (code 0)"))
        .count();
    assert!(
        (1..=2).contains(&reported),
        "reported {reported} times: {run:?}"
    );
}
