//! One state over two engines (SPEC v3 §9): this machine's and the second engine of
//! `scripts/second-engine.sh`, which stands in for a host that cannot see this machine's
//! files. Placement, the handoff over the engine API (byte for byte, modes and owner, a
//! rotation kept, a link replaced and never written through), a host that drops its packets
//! (apply still ends, names it, and the local instance converges), healing, a move between the
//! two, and `destroy --purge` on both.

use crate::common::second_engine::{docker_ok, docker_out, engine, partition, ssh, tls};
use crate::common::{agent_image, exec, KimiLogin, Sandbox};
use std::path::Path;
use std::time::Duration;

/// A liveness bound only (`--host-timeout 3` plus the local work): a run that hangs on the
/// silent host fails here instead of hanging the suite.
const BOUND: Duration = Duration::from_secs(90);

/// A liveness bound for a watch to react (it reacts at once; this only ends a hung test).
const WATCH: Duration = Duration::from_secs(60);

/// Removes what a test made on the second engine: the project's containers and volumes.
struct Remote<'a> {
    host: &'a str,
    project: String,
}

impl Drop for Remote<'_> {
    fn drop(&mut self) {
        partition(false);
        let label = format!("label=jackin.project={}", self.project);
        for (list, rm) in [
            (&["ps", "-aq", "--filter"][..], &["rm", "-f"][..]),
            (
                &["volume", "ls", "-q", "--filter"][..],
                &["volume", "rm", "-f"][..],
            ),
        ] {
            let (_, ids) = docker_out(self.host, &[list, &[label.as_str()]].concat());
            for id in ids.split_whitespace() {
                docker_ok(self.host, &[rm, &[id]].concat());
            }
        }
    }
}

/// What every test here starts from: the second engine, a sandbox with a kimi login, two
/// workspaces (`near` for this machine, `far` for the second engine) named from a tag, and
/// what removes the project's containers and volumes there afterwards.
struct Two {
    remote: &'static str,
    sb: Sandbox,
    login: KimiLogin,
    near: String,
    far: String,
    _cleanup: Remote<'static>,
}

fn two(tag: &str) -> Two {
    let remote = engine();
    let sb = Sandbox::new();
    let login = sb.kimi_login(".kimi");
    let (near, far) = (
        sb.workspace(&format!("{tag}near")),
        sb.workspace(&format!("{tag}far")),
    );
    let _cleanup = Remote {
        host: remote,
        project: sb.project().to_owned(),
    };
    Two {
        remote,
        sb,
        login,
        near,
        far,
        _cleanup,
    }
}

/// `near` on this machine (kimi in sync), `far` on host `se` (kimi in ignore: its own login,
/// kept in a volume there), optionally placed on `far_host`.
fn state(sb: &Sandbox, remote: &str, near: &str, far: &str, far_host: &str) -> String {
    format!(
        "version = 1\nproject = \"{project}\"\n\n[hosts.se]\ndocker = \"{remote}\"\n\n\
         [auth.kimi]\nmode = \"sync\"\n\n[roles.smith]\nimage = \"{image}\"\nagents = [\"kimi\"]\n\n\
         [workspaces.{near}.roles.smith]\n\n[workspaces.{far}]\nhost = \"{far_host}\"\n\n\
         [workspaces.{far}.roles.smith.auth.kimi]\nmode = \"ignore\"\n",
        project = sb.project(),
        image = agent_image(),
    )
}

/// The container's state on the engine at `remote` (`absent` when it has none).
fn remote_state(remote: &str, container: &str) -> String {
    match docker_out(remote, &["inspect", "-f", "{{.State.Status}}", container]) {
        (true, out) => out.trim().to_owned(),
        (false, _) => "absent".into(),
    }
}

#[test]
fn one_state_places_instances_on_two_engines_and_a_silent_host_holds_no_one_up() {
    let Two {
        remote,
        sb,
        login,
        near,
        far,
        _cleanup,
    } = two("");
    sb.write("jackin.toml", state(&sb, remote, &near, &far, "se"));
    let (near_c, far_c) = (format!("jk-{near}-smith"), format!("jk-{far}-smith"));

    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    login.assert_not_leaked(&run.all());
    assert!(crate::common::container_running(&near_c), "{run:?}");
    assert_eq!(remote_state(remote, &far_c), "running", "{run:?}");
    assert!(
        !docker_ok("unix:///var/run/docker.sock", &["inspect", &far_c]),
        "the far instance is not on this machine's engine"
    );
    // Its handoff is a volume of that engine: no path of this machine is mounted there.
    let (_, mounts) = docker_out(
        remote,
        &[
            "inspect",
            "-f",
            "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}};{{end}}",
            &far_c,
        ],
    );
    assert_eq!(mounts.trim(), format!("volume {far_c}-kimi /jackin/kimi;"));
    let plan = sb.jackin(&["plan", "--detailed-exitcode"]);
    plan.expect_code(0);
    assert!(plan.stdout.contains("No changes."), "{plan:?}");
    // doctor checks every host, and each image on the hosts its instances are placed on.
    let doctor = sb.jackin(&["doctor"]);
    let line = doctor
        .stdout
        .lines()
        .find(|l| l.contains("host se"))
        .unwrap_or_default();
    assert!(
        line.starts_with("ok") && line.contains("Docker ") && line.contains(remote),
        "{doctor:?}"
    );
    for image in [
        format!("roles.smith: {} present", agent_image()),
        format!("roles.smith: {} on host se present", agent_image()),
    ] {
        let line = doctor.stdout.lines().find(|l| l.contains(&image));
        assert!(
            line.is_some_and(|l| l.starts_with("ok")),
            "{image}: {doctor:?}"
        );
    }

    // exec and logs reach the instance on its own host.
    let marker =
        format!("echo exec-on-se; mkdir -p /jackin/kimi/own && touch /jackin/kimi/own/{far}");
    let run = sb.jackin(&["exec", &far, "--", "sh", "-c", &marker]);
    run.expect_ok();
    assert_eq!(run.stdout.trim(), "exec-on-se", "{run:?}");
    let (_, seen) = docker_out(remote, &["exec", &far_c, "ls", "/jackin/kimi/own"]);
    assert_eq!(
        seen.trim(),
        far,
        "the exec ran in the container on the second engine"
    );
    sb.jackin(&["logs", &far]).expect_ok();
    let status = sb.jackin(&["status"]);
    assert!(
        status
            .stdout
            .contains(&format!("{far_c} ({far} × smith, agent kimi, on host se)")),
        "{status:?}"
    );

    // The remote host drops every packet; a host login change waits for the local instance.
    partition(true);
    std::fs::write(
        login.dir.join("credentials/kimi-code.json"),
        "{\"access_token\":\"SECRET-rotated-while-cut\"}\n",
    )
    .expect("host login rewritten");
    let run = sb
        .jackin_spawn(&["apply", "--host-timeout", "3"], &[])
        .wait(BOUND);
    run.expect_code(1);
    assert!(
        run.stderr.contains(&format!(
            "error[E020]: {far_c}: host se ({remote}) did not answer (no answer within 3s (--host-timeout)); this instance is unknown and left alone"
        )),
        "{run:?}"
    );
    assert!(
        exec(&near_c, &["cat", "/jackin/kimi/credentials/kimi-code.json"])
            .contains("SECRET-rotated-while-cut"),
        "the local instance converged without the silent host: {run:?}"
    );

    partition(false);
    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    assert_eq!(remote_state(remote, &far_c), "running");

    // Moving `far` to this machine: created here, then removed there.
    sb.write("jackin.toml", state(&sb, remote, &near, &far, "local"));
    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    assert!(
        run.stdout
            .contains("the instance moved to host local, where it is created first"),
        "{run:?}"
    );
    assert!(crate::common::container_running(&far_c), "{run:?}");
    assert_eq!(
        remote_state(remote, &far_c),
        "absent",
        "removed from the second engine"
    );

    // destroy --purge leaves nothing of the project on either engine.
    let run = sb.jackin(&["destroy", "--purge", "--yes"]);
    run.expect_ok();
    let label = format!("label=jackin.project={}", sb.project());
    for host in [remote, "unix:///var/run/docker.sock"] {
        for what in [
            &["ps", "-aq", "--filter"][..],
            &["volume", "ls", "-q", "--filter"],
        ] {
            let (_, left) = docker_out(host, &[what, &[label.as_str()]].concat());
            assert_eq!(left.trim(), "", "{host} {what:?}: {run:?}");
        }
    }
}

/// `watch` follows each host's Docker events on its own: a container stopped on the second
/// engine, behind jackin's back, is a hint from that host, and the pass it starts brings the
/// container back there (the resync is an hour away, so only the event can explain the pass).
#[test]
fn watch_follows_the_events_of_every_host() {
    let Two {
        remote,
        sb,
        login: _,
        near,
        far,
        _cleanup,
    } = two("w");
    sb.write("jackin.toml", state(&sb, remote, &near, &far, "se"));
    let far_c = format!("jk-{far}-smith");
    let w = sb.jackin_spawn(
        &[
            "watch",
            "--debounce-ms",
            "100",
            "--resync-secs",
            "3600",
            "--output",
            "json",
        ],
        &[],
    );
    w.wait_for_output(r#""type":"pass_end""#, WATCH);
    assert_eq!(remote_state(remote, &far_c), "running", "{}", w.all());

    assert!(docker_ok(remote, &["stop", "-t", "1", &far_c]));
    w.wait_for_output(&format!("docker die {far_c}"), WATCH);
    crate::common::wait_until("the far container runs again", WATCH, || {
        remote_state(remote, &far_c) == "running"
    });
    w.signal(libc::SIGTERM);
    let run = w.wait(WATCH);
    run.expect_ok();
    let pass = run
        .stdout
        .lines()
        .find(|l| l.contains(&format!("docker die {far_c}")))
        .unwrap_or_default();
    assert!(
        pass.contains(r#""type":"pass""#),
        "the event started a pass: {run:?}"
    );
}

/// `near` here and `far` on host `se`, both syncing the host's kimi login.
fn synced(sb: &Sandbox, remote: &str, near: &str, far: &str) -> String {
    format!(
        "version = 1\nproject = \"{project}\"\n\n[hosts.se]\ndocker = \"{remote}\"\n\n\
         [auth.kimi]\nmode = \"sync\"\n\n[roles.smith]\nimage = \"{image}\"\nagents = [\"kimi\"]\n\n\
         [workspaces.{near}.roles.smith]\n\n[workspaces.{far}]\nhost = \"se\"\n\n\
         [workspaces.{far}.roles.smith]\n",
        project = sb.project(),
        image = agent_image(),
    )
}

/// A shell line in container `c` on the engine at `remote`, as the container's user; its
/// output.
fn remote_sh(remote: &str, c: &str, script: &str) -> String {
    let (ok, out) = docker_out(remote, &["exec", c, "sh", "-c", script]);
    assert!(ok, "{script}: {out}");
    out
}

/// SPEC v3 §9 and §4: the login reaches a container on an engine that cannot see this
/// machine's files byte for byte, 0600 in 0700 folders, owned by the container's user, through
/// the engine API; the rules hold there: a second plan is empty, a rotation in the container is
/// kept, a host change reaches both hosts, and a link the container plants at a managed path
/// is replaced, never written through.
#[test]
fn the_remote_handoff_carries_the_login_and_keeps_the_rules() {
    let Two {
        remote,
        sb,
        login,
        near,
        far,
        _cleanup,
    } = two("h");
    sb.write("jackin.toml", synced(&sb, remote, &near, &far));
    let (near_c, far_c) = (format!("jk-{near}-smith"), format!("jk-{far}-smith"));
    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    login.assert_not_leaked(&run.all());
    let creds = "/jackin/kimi/credentials/kimi-code.json";
    let host_bytes =
        std::fs::read_to_string(login.dir.join("credentials/kimi-code.json")).expect("host login");
    assert_eq!(
        remote_sh(remote, &far_c, &format!("cat {creds}")),
        host_bytes
    );
    let uid = remote_sh(remote, &far_c, "id -u").trim().to_owned();
    let modes = remote_sh(
        remote,
        &far_c,
        &format!("stat -c '%a %u' {creds} /jackin/kimi/credentials /jackin/kimi/credentials/nested/extra.json /jackin/kimi"),
    );
    assert_eq!(
        modes,
        format!("600 {uid}\n700 {uid}\n600 {uid}\n700 {uid}\n"),
        "modes and owner in the volume"
    );
    let (_, mounts) = docker_out(
        remote,
        &[
            "inspect",
            "-f",
            "{{range .Mounts}}{{.Type}} {{.Source}};{{end}}",
            &far_c,
        ],
    );
    assert!(
        mounts.trim().starts_with("volume ")
            && !mounts.contains("/tmp")
            && !mounts.contains("jackin-home"),
        "only a volume of that engine is mounted: {mounts}"
    );
    let plan = sb.jackin(&["plan", "--detailed-exitcode"]);
    plan.expect_code(0);

    // A rotation inside the remote container is the container's: kept, reported, not fought.
    remote_sh(
        remote,
        &far_c,
        &format!("printf ROTATED > {creds}.new && mv {creds}.new {creds}"),
    );
    let plan = sb.jackin(&["plan"]);
    assert!(plan.stdout.contains("keep"), "{plan:?}");
    sb.jackin(&["apply"]).expect_ok();
    assert_eq!(
        remote_sh(remote, &far_c, &format!("cat {creds}")),
        "ROTATED"
    );

    // The host login changes (`body`), then an apply: it is in the remote container.
    let host_changes = |body: &str| {
        std::fs::write(login.dir.join("credentials/kimi-code.json"), body).expect("host login");
        let run = sb.jackin(&["apply"]);
        run.expect_ok();
        let seen = remote_sh(remote, &far_c, &format!("cat {creds}"));
        assert_eq!(seen, body, "{run:?}");
        run
    };
    // It reaches both hosts.
    let fresh = "{\"access_token\":\"SECRET-fresh\"}\n";
    let run = host_changes(fresh);
    assert_eq!(exec(&near_c, &["cat", creds]), fresh, "{run:?}");

    // A link planted at the managed path: reported and kept, then replaced (never followed)
    // when the host changes.
    remote_sh(
        remote,
        &far_c,
        &format!("printf untouched > /tmp/outside && rm {creds} && ln -s /tmp/outside {creds}"),
    );
    let plan = sb.jackin(&["plan"]);
    assert!(
        plan.stdout.contains("symlink") || plan.stdout.contains("link"),
        "{plan:?}"
    );
    let run = host_changes("{\"access_token\":\"SECRET-again\"}\n");
    assert_eq!(remote_sh(remote, &far_c, "cat /tmp/outside"), "untouched");
    let (_, kind) = docker_out(remote, &["exec", &far_c, "stat", "-c", "%F", creds]);
    assert_eq!(kind.trim(), "regular file");
    login.assert_not_leaked(&run.all());

    // Stopped behind jackin's back, then switched to `ignore`: what jackin forwarded is removed
    // before the agent starts again (no exec in a stopped container: a throwaway one of the
    // same image does it, and is gone afterwards).
    assert!(docker_ok(remote, &["stop", "-t", "0", &far_c]));
    sb.write("jackin.toml", state(&sb, remote, &near, &far, "se"));
    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    assert_eq!(remote_state(remote, &far_c), "running", "{run:?}");
    let left = remote_sh(
        remote,
        &far_c,
        "ls -A /jackin/kimi /jackin/kimi/credentials 2>&1; true",
    );
    assert!(
        !left.contains("kimi-code.json") && !left.contains("config.toml"),
        "forwarded files purged: {left}"
    );
    let (_, helpers) = docker_out(
        remote,
        &["ps", "-aq", "--filter", "label=jackin.helper-for"],
    );
    assert_eq!(helpers.trim(), "", "no throwaway container is left");

    // Its ledger is kept here, keyed by host; destroy --purge removes it with the volume.
    let ledger = sb
        .jackin_home()
        .join(format!("data/{far_c}@se/ledger.json"));
    assert!(ledger.exists(), "{}", ledger.display());
    sb.jackin(&["destroy", "--purge", "--yes"]).expect_ok();
    assert!(!ledger.parent().expect("folder").exists());
    let (_, volumes) = docker_out(
        remote,
        &[
            "volume",
            "ls",
            "-q",
            "--filter",
            &format!("label=jackin.instance={far_c}"),
        ],
    );
    assert_eq!(volumes.trim(), "");
}

/// SPEC v3 §9: an `ssh://` host is reached with the system `ssh` and `docker system dial-stdio`
/// there, as the docker CLI does, over one SSH connection per run however many calls the run
/// makes (sessions multiplexed over it); the remote handoff works through it like any other
/// transport. The ssh config comes from a `PATH` shim (`ssh -F` the test's config), standing
/// in for the operator's `~/.ssh/config`.
#[test]
fn an_ssh_host_is_reached_over_one_connection_per_run() {
    let se = ssh();
    let Two {
        remote,
        sb,
        login,
        near,
        far,
        _cleanup,
    } = two("s");
    // `ssh` on this machine, then a shim before it on the PATH jackin gets.
    let real_path = std::env::var("PATH").unwrap_or_default();
    let real_ssh = std::env::split_paths(&real_path)
        .map(|d| d.join("ssh"))
        .find(|p| p.is_file())
        .expect("ssh on PATH (second-engine.sh installs openssh-client)");
    let shim = sb.root().join("bin");
    std::fs::create_dir_all(&shim).expect("bin");
    let ssh_shim = shim.join("ssh");
    let write_shim = |config: &Path| {
        let script = format!(
            "#!/bin/sh\nexec '{}' -F '{}' \"$@\"\n",
            real_ssh.display(),
            config.display()
        );
        std::fs::write(&ssh_shim, script).expect("shim");
        let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        std::fs::set_permissions(&ssh_shim, mode).expect("chmod");
    };
    write_shim(&se.config);
    let path = format!("{}:{real_path}", shim.display());
    let env = [("PATH", path.as_str())];
    // Four instances there: more stats in flight than sessions, so the bollard client and
    // the stat calls must share the sessions (a pool each once held them all idle: stall).
    let mut state = synced(&sb, &se.address, &near, &far);
    for i in 1..=3 {
        state.push_str(&format!(
            "\n[workspaces.{far}x{i}]\nhost = \"se\"\n\n[workspaces.{far}x{i}.roles.smith]\n"
        ));
    }
    sb.write("jackin.toml", state);
    let far_c = format!("jk-{far}-smith");

    let before = se.connections();
    let run = sb.jackin_env(&["apply"], &env);
    run.expect_ok();
    login.assert_not_leaked(&run.all());
    assert!(
        run.stdout.contains("5 created"),
        "four there, one here: {run:?}"
    );
    assert_eq!(
        se.connections() - before,
        1,
        "one SSH connection for the whole apply: {run:?}"
    );
    // A host login change reaches all of them, those there over that one connection.
    std::fs::write(login.dir.join("device_id"), "rotated on the host").expect("host login");
    let before = se.connections();
    let run = sb.jackin_env(&["apply"], &env);
    run.expect_ok();
    assert!(run.stdout.contains("5 restarted"), "{run:?}");
    assert_eq!(se.connections() - before, 1, "{run:?}");
    let creds = "/jackin/kimi/credentials/kimi-code.json";
    let host_bytes =
        std::fs::read_to_string(login.dir.join("credentials/kimi-code.json")).expect("host login");
    assert_eq!(
        remote_sh(remote, &far_c, &format!("cat {creds}")),
        host_bytes
    );
    let plan = sb.jackin_env(&["plan", "--detailed-exitcode"], &env);
    plan.expect_code(0);
    let status = sb.jackin_env(&["status"], &env);
    assert!(status.stdout.contains("on host se"), "{status:?}");
    let run = sb.jackin_env(&["exec", &far, "--", "cat", creds], &env);
    run.expect_ok();
    assert_eq!(run.stdout, host_bytes, "exec reaches it over ssh");
    assert!(
        std::fs::read_dir(sb.jackin_home().join("run/ssh")).map_or(0, Iterator::count) == 0,
        "no control socket outlives a run"
    );

    // A host that refuses the key is named with what ssh said, and the others converge.
    write_shim(Path::new("/dev/null"));
    let run = sb.jackin_env(&["plan"], &env);
    run.expect_code(1);
    assert!(
        run.stdout
            .contains(&format!("host se ({}) did not answer (ssh: ", se.address)),
        "{run:?}"
    );
    write_shim(&se.config);
    sb.jackin_env(&["destroy", "--purge", "--yes"], &env)
        .expect_ok();
    let (_, left) = docker_out(
        remote,
        &[
            "ps",
            "-aq",
            "--filter",
            &format!("label=jackin.project={}", sb.project()),
        ],
    );
    assert_eq!(left.trim(), "");
}

/// SPEC v3 §9: a `tcp://` host with `tls = { ca, cert, key }` is reached as docker's
/// `--tlsverify` does (only that CA trusted, the client certificate presented), and the remote
/// handoff works through it; a CA that did not sign the engine's certificate is that host's
/// error, naming it, while the other hosts converge.
#[test]
fn a_tls_host_is_reached_with_its_client_certificate() {
    let (address, dir) = tls();
    let Two {
        remote,
        sb,
        login,
        near,
        far,
        _cleanup,
    } = two("t");
    let with_ca = |ca: &str| {
        synced(&sb, &address, &near, &far).replace(
            &format!("docker = \"{address}\"\n"),
            &format!(
                "docker = \"{address}\"\ntls = {{ ca = \"{}\", cert = \"{}\", key = \"{}\" }}\n",
                dir.join(ca).display(),
                dir.join("cert.pem").display(),
                dir.join("key.pem").display()
            ),
        )
    };
    sb.write("jackin.toml", with_ca("ca.pem"));
    let far_c = format!("jk-{far}-smith");
    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    login.assert_not_leaked(&run.all());
    let host_bytes =
        std::fs::read_to_string(login.dir.join("credentials/kimi-code.json")).expect("host login");
    let creds = "/jackin/kimi/credentials/kimi-code.json";
    assert_eq!(
        remote_sh(remote, &far_c, &format!("cat {creds}")),
        host_bytes
    );
    sb.jackin(&["plan", "--detailed-exitcode"]).expect_code(0);

    // The client's own certificate as the CA: the engine's certificate is not trusted.
    sb.write("jackin.toml", with_ca("cert.pem"));
    let run = sb.jackin(&["plan"]);
    run.expect_code(1);
    assert!(
        run.stdout
            .contains(&format!("host se ({address}) did not answer (")),
        "{run:?}"
    );
    assert!(run.stdout.contains("invalid peer certificate"), "{run:?}");
    assert!(
        run.stdout.contains("1 instance(s) match the desired state"),
        "the local one was observed: {run:?}"
    );
    sb.write("jackin.toml", with_ca("ca.pem"));
    sb.jackin(&["destroy", "--purge", "--yes"]).expect_ok();
    assert_eq!(remote_state(remote, &far_c), "absent");
}
