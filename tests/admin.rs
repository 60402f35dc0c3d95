//! The operator's housekeeping commands, as the operator sees them: a `DOCKER_HOST` on another
//! machine refused.

mod common;

use common::{snapshot, Sandbox};
use std::time::{Duration, Instant};

/// TEST-NET-2 (RFC 5737): routed nowhere, so a client that tried to connect would hang until
/// its own timeout (bollard's is 120 s) instead of failing at once.
const REMOTE: &str = "tcp://198.51.100.7:2376";

/// Far below the 120 s a connection attempt to [`REMOTE`] would take: only a refusal made
/// before connecting ends this soon (a lenient bound, not a performance measure).
const NO_CONNECT: Duration = Duration::from_secs(30);

#[test]
fn a_docker_host_on_another_machine_is_refused_before_anything_is_done() {
    let sb = Sandbox::new();
    sb.kimi_login(".kimi");
    sb.write(
        "jackin.toml",
        common::minimal_kimi_state(&sb, &sb.workspace("r")),
    );
    let jackin_home = snapshot(sb.jackin_home());
    for args in [
        &["plan"][..],
        &["apply"],
        &["apply", "--dry-run"],
        &["status"],
        &["watch"],
    ] {
        let started = Instant::now();
        let run = sb.jackin_env(args, &[("DOCKER_HOST", REMOTE)]);
        assert!(started.elapsed() < NO_CONNECT, "{args:?} tried to connect");
        run.expect_code(1);
        assert!(
            run.stderr.starts_with(&format!(
                "error[E025]: DOCKER_HOST={REMOTE} names an engine on another machine (198.51.100.7); \
                 jackin hands logins over as bind mounts of local folders, so it only drives an engine on this machine\n"
            )),
            "{args:?}: {run:?}"
        );
        assert!(
            run.stderr.contains("→ what to try: run jackin on the machine the engine runs on, or point DOCKER_HOST at a local engine"),
            "{run:?}"
        );
        assert_eq!(run.stdout, "", "{args:?}: nothing planned or printed");
        assert_eq!(
            snapshot(sb.jackin_home()),
            jackin_home,
            "{args:?}: no key, lock or handoff was made"
        );
    }
    let ssh = sb.jackin_env(&["plan"], &[("DOCKER_HOST", "ssh://me@build-box")]);
    ssh.expect_code(1);
    assert!(
        ssh.stderr.starts_with(
            "error[E025]: DOCKER_HOST=ssh://me@build-box reaches an engine through ssh;"
        ),
        "{ssh:?}"
    );
}
