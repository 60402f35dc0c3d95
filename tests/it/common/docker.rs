//! The engine observed through the `docker` CLI, independently of the code under test.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
/// Runs `docker ARGS`; panics with its output unless it succeeds. Returns stdout.
#[track_caller]
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run docker {args:?}: {e}"));
    assert!(
        out.status.success(),
        "docker {args:?} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `docker ARGS`; whether it succeeded (output discarded).
pub fn docker_ok(args: &[&str]) -> bool {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// `docker exec CONTAINER CMD...`; stdout (panics on failure).
#[track_caller]
pub fn exec(container: &str, cmd: &[&str]) -> String {
    let mut args = vec!["exec", container];
    args.extend_from_slice(cmd);
    docker(&args)
}

/// `docker exec CONTAINER sh -c SCRIPT`; stdout (panics on failure).
#[track_caller]
pub fn sh(container: &str, script: &str) -> String {
    exec(container, &["sh", "-c", script])
}

/// `docker inspect -f TEMPLATE CONTAINER`, trimmed (panics on failure).
#[track_caller]
pub fn inspect(container: &str, template: &str) -> String {
    docker(&["inspect", "-f", template, container])
        .trim()
        .to_string()
}

/// Whether a container with exactly this name exists (any state).
pub fn container_exists(name: &str) -> bool {
    docker_ok(&["container", "inspect", name])
}

/// Whether the container exists and is running.
pub fn container_running(name: &str) -> bool {
    Command::new("docker")
        .args(["container", "inspect", "-f", "{{.State.Running}}", name])
        .stdin(Stdio::null())
        .output()
        .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "true")
        .unwrap_or(false)
}

/// Polls `cond` every 50 ms until it holds; panics naming `desc` after `timeout`.
#[track_caller]
pub fn wait_until(desc: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting until {desc}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
