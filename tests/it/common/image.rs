//! The local busybox agent image the integration tests run (built once per test process).

use super::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
/// The tag of the local test agent image, `jackin-test-agent:<sha256 of the script, 12 hex>`,
/// as `scripts/agent-image.sh --test` names and prints it (the one place that rule lives).
/// Runs the script once per test process (a no-op when the image is current); panics with its
/// output on failure.
pub fn agent_image() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| image_from_script("scripts/agent-image.sh", &["--test"]))
}

/// Runs `bash SCRIPT ARGS` (`script` relative to the repository, stdin null), which builds
/// or finds an image and prints its tag last on stdout; returns that tag. Panics with the
/// exit status, stderr and stdout when the script fails or prints no tag.
#[track_caller]
pub fn image_from_script(script: &str, args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let out = Command::new("bash")
        .arg(&script)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{} failed ({}):\n--- stderr ---\n{stderr}\n--- stdout ---\n{stdout}",
        script.display(),
        out.status
    );
    let tag = stdout.lines().last().unwrap_or("").trim().to_string();
    assert!(
        !tag.is_empty(),
        "{} printed no tag; stderr:\n{stderr}",
        script.display()
    );
    tag
}

/// The smallest one-instance state: workspace `ws` × role `smith` (the agent image, kimi
/// with default auth, sync). `tests/it/bad_input.rs` asserts positions in it: `image` is line 7.
pub fn minimal_kimi_state(sb: &Sandbox, ws: &str) -> String {
    format!(
        "version = 1\nproject = \"{}\"\n\n[roles.smith]\nimage = \"{}\"\nagents = [\"kimi\"]\n\n[workspaces.{ws}.roles.smith]\n",
        sb.project(),
        agent_image()
    )
}

/// A one-instance state file: workspace `ws` × role `smith` (the agent image, kimi only,
/// launched with `model`), `auth` lines under a global `[auth.kimi]` table (no table when
/// empty), and `extra` TOML appended.
pub fn kimi_state(sb: &Sandbox, ws: &str, model: &str, auth: &str, extra: &str) -> String {
    let auth = if auth.is_empty() {
        String::new()
    } else {
        format!("[auth.kimi]\n{auth}\n\n")
    };
    format!(
        r#"version = 1
project = "{project}"

{auth}[roles.smith]
image = "{image}"
agents = ["kimi"]

[roles.smith.kimi]
model = "{model}"

[workspaces.{ws}]
workdir = "/workspace"

[workspaces.{ws}.roles.smith]
{extra}
"#,
        project = sb.project(),
        image = agent_image(),
    )
}
