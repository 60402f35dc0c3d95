//! The fake provider (SPEC §10, `tests/fake-provider/provider.py`) inside an agent's container:
//! an HTTPS proxy on the container's own 127.0.0.1 that terminates TLS with the test images'
//! throwaway CA (`scripts/real-clients-image.sh`), records every request and answers like the
//! provider (accepting each refresh token once). Nothing leaves the container's network
//! namespace: no address of the Docker bridge is ever contacted.

use super::{docker, docker_ok, exec, wait_until};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// The provider's port inside the container.
pub const PORT: u16 = 8443;
/// The throwaway CA baked into the real-client images.
pub const CA: &str = "/etc/jackin-test/ca.pem";
/// What the provider answers to every prompt.
pub const REPLY: &str = "Hello from the fake provider.";

const SCRIPT: &str = "/tmp/jackin-fake-provider.py";
const LOG: &str = "/tmp/jackin-fake-provider.jsonl";
const READY: &str = "/tmp/jackin-fake-provider.ready";

/// `[env]` entries (TOML lines) that send the clients through the provider: the proxy, and
/// the CA for Claude Code (`NODE_EXTRA_CA_CERTS`), Codex (`CODEX_CA_CERTIFICATE`) and Python
/// clients such as kimi (`SSL_CERT_FILE`; Claude Code and Codex work with it set too).
///
/// `FAKE_PROVIDER` makes the real-client images' wrapper start the provider before the client
/// (`scripts/real-clients-image.sh`): the clients contact their provider as they start.
pub fn env_toml() -> String {
    format!(
        "HTTPS_PROXY = \"http://127.0.0.1:{PORT}\"\nNODE_EXTRA_CA_CERTS = \"{CA}\"\nCODEX_CA_CERTIFICATE = \"{CA}\"\nSSL_CERT_FILE = \"{CA}\"\nFAKE_PROVIDER = \"1\"\n"
    )
}

/// The `[env]` line that has the provider treat `refresh_token` as one another holder
/// already used (SPEC §3b).
pub fn spent_env(refresh_token: &str) -> String {
    format!("FAKE_PROVIDER_SPENT = \"{refresh_token}\"\n")
}

/// Copies the throwaway CA and the provider's certificate (from the real-client images'
/// base, `scripts/real-clients-image.sh`) into a container built without them (the real Kimi
/// CLI's images), so the provider can run there.
#[track_caller]
pub fn give_certificates(container: &str) {
    let base = super::image_from_script("scripts/real-clients-image.sh", &["base"]);
    let dir = tempfile::tempdir().unwrap();
    let from = format!("jackin-pki-{}", super::random_hex(6));
    docker(&["create", "--name", &from, &base, "true"]);
    let out = dir.path().join("jackin-test");
    let copied = docker_ok(&[
        "cp",
        &format!("{from}:/etc/jackin-test"),
        out.to_str().unwrap(),
    ]);
    docker(&["rm", "-f", &from]);
    assert!(copied, "no /etc/jackin-test in {base}");
    docker(&[
        "cp",
        out.to_str().unwrap(),
        &format!("{container}:/etc/jackin-test"),
    ]);
}

/// The working folder of the real-client instances (what their trust is about).
pub const WORKDIR: &str = "/workspace";

/// One instance (workspace `ws` × role `smith`, `agent` only) of a real-client `image`, working
/// in [`WORKDIR`], with the global `[auth.AGENT]` lines `auth`, the provider's env and `env`
/// lines.
pub fn one_agent_state(
    sb: &super::Sandbox,
    agent: &str,
    image: &str,
    ws: &str,
    auth: &str,
    env: &str,
) -> String {
    format!(
        "version = 1\nproject = \"{project}\"\n\n[auth.{agent}]\n{auth}\n\n[env]\n{provider_env}{env}\n\n[roles.smith]\nimage = \"{image}\"\nagents = [\"{agent}\"]\n\n[workspaces.{ws}]\nworkdir = \"{WORKDIR}\"\n\n[workspaces.{ws}.roles.smith]\n",
        project = sb.project(),
        provider_env = env_toml(),
    )
}

/// `jackin apply` of instance `ws`/smith, then its provider and the operator attached.
#[track_caller]
pub fn apply_and_attach(
    sb: &super::Sandbox,
    ws: &str,
) -> (String, FakeProvider, super::screen::Screen) {
    sb.jackin(&["apply"]).expect_ok();
    let c = format!("jk-{ws}-smith");
    let provider = FakeProvider::start(&c);
    let screen = super::screen::Screen::attach(sb, ws);
    (c, provider, screen)
}

/// A provider running in one container.
pub struct FakeProvider {
    container: String,
}

impl FakeProvider {
    /// The provider in `container`: the one the real-client images' wrapper started before the
    /// client, else one copied in and started now (as root, detached); waits until it listens.
    #[track_caller]
    pub fn start(container: &str) -> FakeProvider {
        let running = format!("kill -0 \"$(cat {READY} 2>/dev/null)\" 2>/dev/null");
        if !docker_ok(&["exec", container, "sh", "-c", &running]) {
            let script =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake-provider/provider.py");
            docker(&[
                "cp",
                script.to_str().unwrap(),
                &format!("{container}:{SCRIPT}"),
            ]);
            let port = PORT.to_string();
            docker(&[
                "exec", "-d", "-u", "0", container, "python3", SCRIPT, "--port", &port, "--log",
                LOG, "--ready", READY,
            ]);
        }
        wait_until("the fake provider listens", Duration::from_secs(30), || {
            docker_ok(&["exec", container, "test", "-e", READY])
        });
        FakeProvider {
            container: container.to_string(),
        }
    }

    /// Every request recorded so far (CONNECTs included), oldest first.
    #[track_caller]
    pub fn requests(&self) -> Vec<Value> {
        exec(&self.container, &["cat", LOG])
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    /// The recorded requests for which `pred` holds.
    pub fn matching(&self, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.requests().into_iter().filter(|r| pred(r)).collect()
    }

    /// A one-line summary of every request, for failure messages.
    pub fn summary(&self) -> String {
        self.requests()
            .iter()
            .map(|r| {
                format!(
                    "{} {}{} -> {}",
                    r["method"], r["host"], r["path"], r["status"]
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A request's header (names are recorded lower-case), or "" when absent.
pub fn header<'a>(request: &'a Value, name: &str) -> &'a str {
    request["headers"][name].as_str().unwrap_or("")
}

/// Whether `request` is `method` to `host` with a path starting with `path`.
pub fn is(request: &Value, method: &str, host: &str, path: &str) -> bool {
    request["method"] == method
        && request["host"] == host
        && request["path"]
            .as_str()
            .is_some_and(|p| p.starts_with(path))
}
