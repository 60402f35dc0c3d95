//! The second Docker engine (`scripts/second-engine.sh`): its own network namespace, data root
//! and containerd, a tmpfs over this machine's /tmp, home and /work, so it stands in for a
//! host that cannot see this machine's files. The first test to need it starts it
//! (idempotent); `scripts/test.sh` stops it at the end.

use super::agent_image;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/second-engine.sh")
}

/// The second engine's tcp address, started once per test process, with the test image loaded.
pub fn engine() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .stdin(Stdio::null())
            .output();
        let out = out.expect("run second-engine.sh");
        let env = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "second-engine.sh start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tcp = env
            .lines()
            .find_map(|l| l.strip_prefix("export JACKIN_SE_TCP="))
            .expect("JACKIN_SE_TCP")
            .to_owned();
        let image = agent_image();
        if !docker_ok(&tcp, &["image", "inspect", image]) {
            let load = Command::new("bash")
                .arg(script())
                .args(["load", image])
                .status();
            assert!(
                load.expect("load").success(),
                "loading {image} into the second engine"
            );
        }
        tcp
    })
}

/// How the second engine is reached over `ssh://`: its address, the ssh config that holds the
/// throwaway key and known hosts of `second-engine.sh` (never the operator's), and its sshd's
/// log (one `Accepted publickey` line per SSH connection).
pub struct Ssh {
    pub address: String,
    pub config: std::path::PathBuf,
    pub log: std::path::PathBuf,
}

/// One variable of `second-engine.sh env` (the engine started first).
fn env_var(name: &str) -> String {
    engine();
    let out = Command::new("bash").arg(script()).arg("env").output();
    let out = out.expect("second-engine.sh env");
    let env = String::from_utf8_lossy(&out.stdout);
    env.lines()
        .find_map(|l| l.strip_prefix(&format!("export {name}=")))
        .unwrap_or_else(|| panic!("{name} in second-engine.sh env"))
        .to_owned()
}

/// The second engine's TLS address (a client certificate required) and the folder with
/// `ca.pem`, `cert.pem` and `key.pem` that reach it.
pub fn tls() -> (String, std::path::PathBuf) {
    (
        env_var("JACKIN_SE_TLS"),
        env_var("JACKIN_SE_TLS_DIR").into(),
    )
}

pub fn ssh() -> Ssh {
    let var = env_var;
    let config = std::path::PathBuf::from(var("JACKIN_SE_SSH_CONFIG"));
    let state = config.parent().and_then(Path::parent).expect("state dir");
    Ssh {
        address: var("JACKIN_SE_SSH"),
        log: state.join("sshd.log"),
        config,
    }
}

impl Ssh {
    /// SSH connections the sshd accepted so far.
    pub fn connections(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .matches("Accepted publickey")
            .count()
    }
}

/// Drop (or let through again) every packet to the second engine's port, silently: a host
/// that does not answer, not one that refuses.
pub fn partition(cut: bool) {
    let what = if cut { "partition" } else { "heal" };
    let status = Command::new("bash").arg(script()).arg(what).status();
    assert!(status.expect("second-engine.sh").success(), "{what}");
}

/// A docker CLI command against `host`: whether it succeeded, and its stdout and stderr.
pub fn docker_out(host: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new("docker")
        .env("DOCKER_HOST", host)
        .args(args)
        .stdin(Stdio::null())
        .output();
    let out = out.expect("docker CLI");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

pub fn docker_ok(host: &str, args: &[&str]) -> bool {
    docker_out(host, args).0
}
