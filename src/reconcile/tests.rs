//! Reconciles against a fake engine, for the executor: the order of its calls, what one
//! failing instance does to the others, and what it leaves for the next apply. Observe and
//! plan are the real ones (only the engine is fake); the integration tests run the same paths
//! on the real engine.

use super::{execute, observe_and_plan, Context, Prepared};
use crate::desired::hosts::{Host, LOCAL};
use crate::error::Code;
use crate::exec::Outcome;
use crate::paths::JackinHome;
use crate::plan::{ContainerAction, Plan, PlanOptions};
use crate::report::Event;
use crate::runtime::fake::{Entry, FakeEngine};
use crate::runtime::RuntimeError;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

const IMAGE: &str = "agent:test";

/// A project on disk: its state file, a host kimi login and `$JACKIN_HOME`.
struct World {
    _dir: tempfile::TempDir,
    ctx: Context,
}

impl World {
    fn new(workspaces: &[&str], extra: &str) -> World {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        let login = root.join("home/.kimi");
        write(
            &login.join("config.toml"),
            "default_model = \"k\"\n[models.k]\n",
        );
        write(
            &login.join("credentials/kimi-code.json"),
            "{\"access_token\":\"A1\"}",
        );
        let jackin_home = JackinHome::at(root.join("jh"));
        std::fs::create_dir_all(root.join("work")).expect("work dir");
        let world = World {
            ctx: Context {
                cwd: root.join("work"),
                home: root.join("home"),
                jackin_home,
                file: None,
            },
            _dir: dir,
        };
        world.declare(workspaces, extra);
        world
    }

    /// Rewrite the state file: one role `r` in each workspace.
    fn declare(&self, workspaces: &[&str], extra: &str) {
        let mut body = format!(
            "version = 1\nproject = \"p\"\n[settings]\nrestart = \"on-handoff-change\"\n\
             [auth.kimi]\nmode = \"sync\"\n[roles.r]\nimage = \"{IMAGE}\"\nagents = [\"kimi\"]\n{extra}\n"
        );
        for ws in workspaces {
            body.push_str(&format!("[workspaces.{ws}.roles.r]\n"));
        }
        write(&self.ctx.cwd.join("jackin.toml"), &body);
    }

    fn host_login(&self, body: &str) {
        write(
            &self.ctx.home.join(".kimi/credentials/kimi-code.json"),
            body,
        );
    }

    fn handoff(&self, container: &str, rel: &str) -> Option<String> {
        let dir = self
            .ctx
            .jackin_home
            .handoff_dir(container, crate::agents::AgentKind::Kimi);
        std::fs::read_to_string(dir.join(rel)).ok()
    }

    async fn plan(&self, engine: FakeEngine) -> Prepared<FakeEngine> {
        self.plan_on([(LOCAL.to_owned(), engine)].into()).await
    }

    /// Observe and plan with an engine per host (hosts without one did not answer).
    async fn plan_on(&self, up: BTreeMap<String, FakeEngine>) -> Prepared<FakeEngine> {
        self.plan_with(up, PlanOptions::default()).await
    }

    /// [`Self::plan_on`] with `opts` (hosts resting as watch's backoff says, `--purge-removed`
    /// …); the host timeout is 10 s.
    async fn plan_with(
        &self,
        up: BTreeMap<String, FakeEngine>,
        opts: PlanOptions,
    ) -> Prepared<FakeEngine> {
        let loaded = self.ctx.load().expect("state file loads");
        let desired = self.ctx.resolve(&loaded).expect("resolves");
        self.ctx.jackin_home.ensure_private().expect("private home");
        let up = std::sync::Mutex::new(up);
        let connect = |host: Host| {
            let engine = up.lock().expect("engines").remove(&host.name);
            std::future::ready(engine.ok_or_else(|| RuntimeError::Unreachable {
                host: host.docker.clone(),
                detail: "the fake has no engine for it".into(),
            }))
        };
        let opts = PlanOptions {
            host_timeout: Some(Duration::from_secs(10)),
            ..opts
        };
        observe_and_plan(&self.ctx, desired, connect, &opts)
            .await
            .expect("observe and plan")
    }

    /// One apply: plan, execute, and the engine back for the next one.
    async fn apply(&self, engine: FakeEngine) -> (FakeEngine, Plan, Outcome, Vec<Event>) {
        let (mut up, plan, outcome, events) =
            self.apply_on([(LOCAL.to_owned(), engine)].into()).await;
        let engine = up.remove(LOCAL).expect("the local engine");
        (engine, plan, outcome, events)
    }

    /// One apply over several hosts' engines, given back for the next one.
    async fn apply_on(
        &self,
        up: BTreeMap<String, FakeEngine>,
    ) -> (BTreeMap<String, FakeEngine>, Plan, Outcome, Vec<Event>) {
        let p = self.plan_on(up).await;
        let mut events = Vec::new();
        let outcome = execute(&self.ctx, &p, &mut events).await;
        (p.engines.up, p.plan, outcome, events)
    }
}

fn write(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("parent dir");
    std::fs::write(path, body).expect("write");
}

fn engine() -> FakeEngine {
    FakeEngine::default().with_image(IMAGE, "")
}

fn actions(plan: &Plan) -> Vec<(String, ContainerAction)> {
    plan.instances
        .iter()
        .filter_map(|i| Some((i.container.clone(), i.container_step.as_ref()?.action())))
        .collect()
}

#[tokio::test]
async fn a_first_apply_hands_the_login_over_creates_and_starts_and_the_next_plan_is_empty() {
    let w = World::new(&["a"], "");
    let (engine, plan, outcome, _) = w.apply(engine()).await;
    assert_eq!(actions(&plan), [("jk-a-r".into(), ContainerAction::Create)]);
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    assert_eq!(engine.log(), ["create jk-a-r", "start jk-a-r"]);
    assert_eq!(
        w.handoff("jk-a-r", "credentials/kimi-code.json").as_deref(),
        Some("{\"access_token\":\"A1\"}"),
        "the host login, byte for byte"
    );
    let c = engine.container("jk-a-r").expect("created");
    assert!(c.running);
    assert!(
        c.config
            .mounts
            .iter()
            .any(|m| m.target == "/jackin/kimi" && m.volume.is_none()),
        "the handoff is mounted: {:?}",
        c.config.mounts
    );

    let again = w.plan(engine).await;
    assert!(!again.plan.has_changes(), "{:?}", again.plan);
}

#[tokio::test]
async fn a_changed_spec_stops_and_removes_the_old_container_before_creating_the_new_one() {
    let w = World::new(&["a"], "");
    let (engine, ..) = w.apply(engine()).await;
    let old = engine.container("jk-a-r").expect("created").id;
    w.declare(&["a"], "[roles.r.env]\nLEVEL = \"2\"");

    let (engine, plan, outcome, _) = w.apply(engine).await;
    assert_eq!(
        actions(&plan),
        [("jk-a-r".into(), ContainerAction::Recreate)]
    );
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    assert_eq!(
        engine.log()[2..],
        [
            "stop jk-a-r",
            "remove jk-a-r",
            "create jk-a-r",
            "start jk-a-r"
        ]
    );
    let new = engine.container("jk-a-r").expect("recreated");
    assert_ne!(new.id, old);
    assert!(new.config.env.contains(&"LEVEL=2".to_owned()));
}

#[tokio::test]
async fn one_instance_that_cannot_be_created_does_not_stop_the_others_and_the_next_apply_finishes()
{
    let w = World::new(&["a", "b", "c"], "");
    let engine = engine();
    engine.fail("create jk-b-r");
    let (engine, _, outcome, events) = w.apply(engine).await;

    let failed: Vec<_> = outcome
        .failures
        .iter()
        .map(|f| f.container.clone())
        .collect();
    assert_eq!(failed, [Some("jk-b-r".to_owned())]);
    assert_eq!(outcome.failures[0].code, Code::E021);
    assert!(events.iter().any(|e| matches!(e,
        Event::Failed { container: Some(c), .. } if c == "jk-b-r")));
    for ok in ["jk-a-r", "jk-c-r"] {
        assert!(engine.container(ok).is_some_and(|c| c.running), "{ok} runs");
    }
    assert!(engine.container("jk-b-r").is_none());

    engine.heal("create jk-b-r");
    let (engine, plan, outcome, _) = w.apply(engine).await;
    assert_eq!(actions(&plan), [("jk-b-r".into(), ContainerAction::Create)]);
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    assert!(engine.container("jk-b-r").is_some_and(|c| c.running));
}

#[tokio::test]
async fn an_image_that_cannot_be_pulled_skips_its_instances_and_creates_nothing() {
    let w = World::new(&["a"], "");
    let (engine, _, outcome, _) = w.apply(FakeEngine::default()).await;
    let codes: Vec<_> = outcome
        .failures
        .iter()
        .map(|f| (f.container.as_deref(), f.code))
        .collect();
    assert_eq!(codes, [(None, Code::E023), (Some("jk-a-r"), Code::E023)]);
    assert!(outcome.failures[1]
        .message
        .contains("its image is not available"));
    assert_eq!(
        engine.log(),
        [format!("pull {IMAGE}")],
        "tried, and created nothing"
    );
}

#[tokio::test]
async fn an_image_pulled_by_the_apply_is_used_for_the_container() {
    let w = World::new(&["a"], "");
    let (engine, _, outcome, _) = w.apply(FakeEngine::default().pullable(IMAGE, "")).await;
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    let created = engine.container("jk-a-r").expect("created");
    assert_eq!(created.config.image, IMAGE);
    assert_eq!(
        engine.log(),
        [
            format!("pull {IMAGE}"),
            "create jk-a-r".into(),
            "start jk-a-r".into()
        ]
    );
}

/// Observe could not tell who the container runs as (its image was absent): the apply reads
/// the pulled image's users once and gives the handoff to that user before the start.
#[tokio::test]
async fn the_handoff_goes_to_the_user_of_an_image_the_apply_pulled() {
    use std::os::unix::fs::MetadataExt;
    let w = World::new(&["a", "b"], "");
    let engine = FakeEngine::default().pullable(IMAGE, "agent");
    let (engine, _, outcome, _) = w.apply(engine).await;
    if crate::handoff::Owner::current().uid != 0 {
        assert_eq!(
            outcome.failed_instances(),
            2,
            "only root can hand over to another user"
        );
        let message = &outcome.failures[0].message;
        assert!(
            message.contains("→ what to try: set `user = \"host\"`"),
            "{message}"
        );
        return;
    }
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    let reads = engine
        .log()
        .iter()
        .filter(|c| c.starts_with("read users"))
        .count();
    assert_eq!(
        reads,
        1,
        "one read of the image's users: {:?}",
        engine.log()
    );
    let dir = w
        .ctx
        .jackin_home
        .handoff_dir("jk-a-r", crate::agents::AgentKind::Kimi);
    let file = std::fs::metadata(dir.join("credentials/kimi-code.json")).expect("handed over");
    assert_eq!((file.uid(), file.gid()), (1000, 1000));
}

#[tokio::test]
async fn an_agent_that_exits_at_once_fails_with_its_code_and_last_lines() {
    let w = World::new(&["a", "b"], "");
    let engine = engine();
    engine.exits_at_once("jk-a-r", 2, &["error: unknown flag --yolo"]);
    let (engine, _, outcome, _) = w.apply(engine).await;
    assert_eq!(outcome.failures.len(), 1, "{:?}", outcome.failures);
    let f = &outcome.failures[0];
    assert_eq!(
        (f.container.as_deref(), f.code),
        (Some("jk-a-r"), Code::E047)
    );
    assert!(f.message.contains("exited (code 2)"), "{}", f.message);
    assert!(
        f.message.contains("error: unknown flag --yolo"),
        "{}",
        f.message
    );
    assert!(engine.container("jk-b-r").is_some_and(|c| c.running));

    let again = w.plan(engine).await;
    assert_eq!(
        actions(&again.plan),
        [],
        "not started again until something changes"
    );
}

#[tokio::test]
async fn a_restart_that_fails_stays_owed_and_the_next_apply_restarts_without_copying_again() {
    let w = World::new(&["a"], "");
    let (engine, ..) = w.apply(engine()).await;
    w.host_login("{\"access_token\":\"A2\"}");
    engine.fail("restart jk-a-r");
    let (engine, plan, outcome, _) = w.apply(engine).await;
    assert_eq!(
        actions(&plan),
        [("jk-a-r".into(), ContainerAction::Restart)]
    );
    assert_eq!(outcome.failures.len(), 1);
    assert_eq!(
        w.handoff("jk-a-r", "credentials/kimi-code.json").as_deref(),
        Some("{\"access_token\":\"A2\"}"),
        "the new login was handed over before the restart"
    );

    engine.heal("restart jk-a-r");
    let (engine, plan, outcome, _) = w.apply(engine).await;
    assert_eq!(
        actions(&plan),
        [("jk-a-r".into(), ContainerAction::Restart)]
    );
    assert!(
        plan.instances.iter().all(|i| i.files.is_empty()),
        "nothing copied again: {plan:?}"
    );
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    assert_eq!(
        engine.log().last().map(String::as_str),
        Some("restart jk-a-r")
    );
    assert!(!w.plan(engine).await.plan.has_changes());
}

#[tokio::test]
async fn a_workspace_taken_out_of_the_state_loses_its_container() {
    let w = World::new(&["a", "b"], "");
    let (engine, ..) = w.apply(engine()).await;
    w.declare(&["a"], "");
    let (engine, plan, outcome, _) = w.apply(engine).await;
    assert_eq!(actions(&plan), [("jk-b-r".into(), ContainerAction::Remove)]);
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    assert!(engine.container("jk-b-r").is_none());
    assert!(engine.container("jk-a-r").is_some_and(|c| c.running));
}

#[tokio::test]
async fn a_container_stopped_from_outside_is_started_again_as_it_is() {
    let w = World::new(&["a"], "");
    let (engine, ..) = w.apply(engine()).await;
    let id = engine.container("jk-a-r").expect("created").id;
    engine.stop_outside("jk-a-r");
    let (engine, plan, outcome, _) = w.apply(engine).await;
    assert_eq!(actions(&plan), [("jk-a-r".into(), ContainerAction::Start)]);
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    let c = engine.container("jk-a-r").expect("kept");
    assert!(c.running);
    assert_eq!(c.id, id, "the same container");
}

/// Two more hosts: `b` on this machine (a socket path; the fake never dials it) and `far`, an
/// engine on another machine.
const HOSTS: &str = "[hosts.b]\ndocker = \"unix:///run/jackin-test-b.sock\"\n\
                     [hosts.far]\ndocker = \"tcp://10.231.77.2:2375\"\n";

/// A fake engine with the image, for each host named.
fn engines(hosts: &[&str]) -> BTreeMap<String, FakeEngine> {
    hosts.iter().map(|h| ((*h).to_owned(), engine())).collect()
}

fn hosts_of(plan: &Plan) -> Vec<(&str, &str)> {
    plan.instances
        .iter()
        .map(|i| (i.container.as_str(), i.host.as_str()))
        .collect()
}

#[tokio::test]
async fn each_instance_is_created_on_its_own_hosts_engine() {
    let w = World::new(
        &["a", "m"],
        &format!("{HOSTS}[workspaces.m]\nhost = \"b\"\n"),
    );
    let (up, plan, outcome, _) = w.apply_on(engines(&[LOCAL, "b", "far"])).await;
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    assert_eq!(hosts_of(&plan), [("jk-a-r", LOCAL), ("jk-m-r", "b")]);
    assert_eq!(up[LOCAL].log(), ["create jk-a-r", "start jk-a-r"]);
    assert_eq!(up["b"].log(), ["create jk-m-r", "start jk-m-r"]);
    assert_eq!(up["far"].log(), Vec::<String>::new());
    assert!(!w.plan_on(up).await.plan.has_changes());
}

#[tokio::test(start_paused = true)]
async fn a_host_that_does_not_answer_leaves_its_instances_alone_and_the_others_converge() {
    let w = World::new(
        &["a", "m"],
        &format!("{HOSTS}[workspaces.m]\nhost = \"b\"\n"),
    );
    let mut up = engines(&["far"]);
    up.insert("b".into(), FakeEngine::silent());
    // Local's every call takes a second: its work after the list (a name-conflict list, the
    // image's owner) must not wait for the silent host's 10 s.
    up.insert(LOCAL.into(), engine().slow(Duration::from_secs(1)));
    let (up, plan, outcome, _) = w.apply_on(up).await;
    assert_eq!(
        up[LOCAL].log(),
        ["create jk-a-r", "start jk-a-r"],
        "local converged"
    );
    let failed: Vec<_> = outcome
        .failures
        .iter()
        .map(|f| (f.container.as_deref(), f.code))
        .collect();
    assert_eq!(failed, [(Some("jk-m-r"), Code::E020)]);
    let m = plan
        .instances
        .iter()
        .find(|i| i.container == "jk-m-r")
        .expect("planned");
    assert!(
        m.container_step.is_none() && m.files.is_empty(),
        "left alone: {m:?}"
    );
    let message = &outcome.failures[0].message;
    assert!(
        message.contains("host b (unix:///run/jackin-test-b.sock) did not answer")
            && message.contains("no answer within 10s (--host-timeout)"),
        "{message}"
    );
}

#[tokio::test]
async fn a_moved_instance_is_created_on_its_new_host_before_its_old_container_goes() {
    let w = World::new(&["m"], HOSTS);
    let journal = crate::runtime::fake::Journal::default();
    let up: BTreeMap<String, FakeEngine> = [LOCAL, "b", "far"]
        .iter()
        .map(|h| ((*h).to_owned(), engine().journal(h, &journal)))
        .collect();
    let (up, ..) = w.apply_on(up).await;
    w.declare(&["m"], &format!("{HOSTS}[workspaces.m]\nhost = \"b\"\n"));
    journal.lock().expect("journal").clear();

    let (up, plan, outcome, _) = w.apply_on(up).await;
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    let moved = plan
        .instances
        .iter()
        .find(|i| i.host == LOCAL)
        .and_then(|i| i.container_step.as_ref())
        .expect("the old container is removed");
    assert_eq!(
        moved.cause,
        crate::plan::ContainerCause::Moved { to: "b".into() }
    );
    assert_eq!(
        *journal.lock().expect("journal"),
        [
            "b: create jk-m-r",
            "b: start jk-m-r",
            "local: remove jk-m-r"
        ]
    );
    assert!(up[LOCAL].container("jk-m-r").is_none());
    assert!(!w.plan_on(up).await.plan.has_changes());
}

/// What the fake `far` engine's volume `jk-m-r-kimi` holds at `rel`: its bytes, if a file.
fn in_volume(engine: &FakeEngine, rel: &str) -> Option<String> {
    match engine.volume_entry("jk-m-r-kimi", rel)? {
        Entry::File { bytes, .. } => Some(String::from_utf8(bytes).expect("utf-8")),
        Entry::Link => None,
    }
}

const LOGIN: &str = "credentials/kimi-code.json";

/// SPEC v3 §9: on an engine not on this machine the handoff is a labelled volume; the login is
/// put into it through the engine after the container is created and before its agent starts,
/// nothing of this machine is mounted, and the three-way rules hold there as they do here.
#[tokio::test]
async fn on_an_engine_not_on_this_machine_the_login_goes_into_its_volume_before_the_start() {
    let on_far = format!("{HOSTS}[workspaces.m]\nhost = \"far\"\n");
    let w = World::new(&["m"], &on_far);
    let (up, _, outcome, _) = w.apply_on(engines(&[LOCAL, "b", "far"])).await;
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    let log = up["far"].log();
    let at = |call: &str| log.iter().position(|c| c.starts_with(call));
    let put = at(&format!("put jk-m-r /jackin/kimi/{LOGIN}")).expect("the login is put");
    assert!(
        at("create jk-m-r") < Some(put) && Some(put) < at("start jk-m-r"),
        "{log:?}"
    );
    assert_eq!(
        in_volume(&up["far"], LOGIN).as_deref(),
        Some("{\"access_token\":\"A1\"}")
    );
    assert_eq!(
        w.handoff("jk-m-r", LOGIN),
        None,
        "nothing is kept on this machine"
    );
    let c = up["far"].container("jk-m-r").expect("created on far");
    let handoff = c.config.mounts.iter().find(|m| m.target == "/jackin/kimi");
    let labels = handoff
        .and_then(|m| m.volume.as_ref())
        .expect("a volume, not a bind mount");
    for (k, v) in [
        ("jackin.project", "p"),
        ("jackin.instance", "jk-m-r"),
        ("jackin.agent", "kimi"),
    ] {
        assert_eq!(labels.get(k).map(String::as_str), Some(v), "{k}");
    }
    let read = up["far"].reads();
    let up = assert_no_changes(&w, up).await;
    assert_eq!(
        up["far"].reads(),
        read,
        "a no-op stats the volume, reads nothing"
    );

    // The agent rotates its login in the container: kept, not fought.
    let rotated = b"{\"access_token\":\"R2\"}";
    up["far"].plant("jk-m-r-kimi", LOGIN, Some(rotated));
    let up = assert_no_changes(&w, up).await;

    // The host login changes: it wins, through the engine, and the agent restarts.
    w.host_login("{\"access_token\":\"H3\"}");
    let (up, plan, outcome, _) = w.apply_on(up).await;
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    let step = plan.instances[0]
        .container_step
        .as_ref()
        .map(|s| s.action());
    assert_eq!(step, Some(ContainerAction::Restart));
    assert_eq!(
        in_volume(&up["far"], LOGIN).as_deref(),
        Some("{\"access_token\":\"H3\"}")
    );

    // An API key instead: what jackin forwarded is removed from the volume.
    w.declare(
        &["m"],
        &format!("{on_far}[workspaces.m.roles.r.auth.kimi]\nmode = \"ignore\"\n"),
    );
    let (up, _, outcome, _) = w.apply_on(up).await;
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    assert_eq!(in_volume(&up["far"], LOGIN), None, "purged");
    assert!(up["far"]
        .log()
        .iter()
        .any(|c| c == &format!("remove jk-m-r /jackin/kimi/{LOGIN}")));
    assert_no_changes(&w, up).await;
}

/// `--purge-removed` on an instance whose handoff is volumes of another host's engine: its
/// volumes go there, and its ledger (keyed by that host) here.
#[tokio::test]
async fn purging_a_removed_remote_instance_removes_its_volumes_and_its_ledger() {
    let on_far = format!("{HOSTS}[workspaces.m]\nhost = \"far\"\n");
    let w = World::new(&["m", "a"], &on_far);
    let (up, _, outcome, _) = w.apply_on(engines(&[LOCAL, "b", "far"])).await;
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    let folder = w.ctx.jackin_home.data().join("jk-m-r@far");
    assert!(
        folder.join("ledger.json").exists(),
        "the ledger is keyed by host"
    );
    assert!(in_volume(&up["far"], LOGIN).is_some());

    w.declare(
        &["a"],
        &on_far.replace("[workspaces.m]\nhost = \"far\"\n", ""),
    );
    let opts = PlanOptions {
        purge_removed: true,
        ..PlanOptions::default()
    };
    let p = w.plan_with(up, opts).await;
    let mut events = Vec::new();
    let outcome = execute(&w.ctx, &p, &mut events).await;
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    let far = &p.engines.up["far"];
    assert!(far.container("jk-m-r").is_none());
    assert!(
        far.log().contains(&"remove volumes of jk-m-r".to_owned()),
        "{:?}",
        far.log()
    );
    assert_eq!(in_volume(far, LOGIN), None);
    assert!(!folder.exists(), "its ledger is gone too");
}

/// A second plan has nothing to do; the engines back.
async fn assert_no_changes(
    w: &World,
    up: BTreeMap<String, FakeEngine>,
) -> BTreeMap<String, FakeEngine> {
    let p = w.plan_on(up).await;
    assert!(!p.plan.has_changes(), "{:?}", p.plan.instances);
    p.engines.up
}

/// Watch's backoff: a resting host is not dialled at all (no call reaches its engine); its
/// instances are unknown with why, and the others are planned as usual.
#[tokio::test]
async fn a_resting_host_is_not_dialled_and_its_instances_say_why() {
    let w = World::new(
        &["a", "m"],
        &format!("{HOSTS}[workspaces.m]\nhost = \"b\"\n"),
    );
    let resting = [(
        "b".to_owned(),
        "resting 2 s more after 1 failed try".to_owned(),
    )]
    .into();
    let opts = PlanOptions {
        resting,
        ..PlanOptions::default()
    };
    let p = w.plan_with(engines(&[LOCAL, "b", "far"]), opts).await;
    assert!(!p.engines.up.contains_key("b"), "b was not connected");
    let m = p
        .plan
        .instances
        .iter()
        .find(|i| i.container == "jk-m-r")
        .expect("planned");
    assert_eq!(m.problems[0].code, Code::E020);
    assert!(
        m.problems[0]
            .message
            .contains("resting 2 s more after 1 failed try"),
        "{:?}",
        m.problems
    );
    let a = p
        .plan
        .instances
        .iter()
        .find(|i| i.container == "jk-a-r")
        .expect("planned");
    assert_eq!(
        a.container_step.as_ref().map(|s| s.action()),
        Some(ContainerAction::Create)
    );
}
