//! `jackin init [--format toml|yaml]`: a commented starter state file in the current folder,
//! from the host logins found.
//!
//! Every catalogue agent's default source is read with the rule a pass uses
//! ([`crate::observed::host_login`]); the agents whose login is present make up one role, and
//! the current folder becomes the workspace, mounted at `/workspace/NAME`. The file is
//! validated by the normal loader and validator *before* it takes its name (it is written to a
//! temporary file beside it first), so a file that would not validate is never left behind,
//! and it takes its name with a rename that never replaces anything: an existing state file
//! (or one created meanwhile) is never overwritten.

use super::completions::WriteError;
use crate::agents::AgentKind;
use crate::cli::InitFormat;
use crate::error::{exit, Code, Coded, Error};
use crate::manifest;
use crate::naming::container_name;
use std::path::{Path, PathBuf};

/// The image `init` writes: obviously a placeholder, valid in the file, and impossible to
/// pull (`.invalid` is reserved and never resolves, RFC 6761), so `apply` stops at it with
/// `E023` until the operator sets a real one. `doctor` recognises it.
pub const PLACEHOLDER_IMAGE: &str = "change-me.invalid/agent-image:latest";

/// The role `init` declares.
const ROLE: &str = "agent";

/// A state file is in the folder already: `init` writes nothing.
#[derive(Debug, thiserror::Error)]
#[error("{} already exists; jackin init never overwrites a state file", .path.display())]
pub struct InitError {
    pub path: PathBuf,
}

impl Coded for InitError {
    fn code(&self) -> Code {
        Code::E007
    }
    fn hint(&self) -> Option<String> {
        Some(
            "edit that file (`jackin validate` checks it), or run jackin init in another folder"
                .into(),
        )
    }
}

pub fn init(format: InitFormat) -> Result<i32, Error> {
    let cwd = std::env::current_dir().map_err(|source| WriteError {
        path: PathBuf::from("."),
        source,
    })?;
    if let Some(existing) = manifest::present_state_files(&cwd).first() {
        return Err(InitError {
            path: cwd.join(existing),
        }
        .into());
    }
    let home = crate::paths::home_dir();
    // The agents whose host login was found.
    let mut found = Vec::new();
    for (auth, login) in super::default_logins(&home) {
        match login {
            Ok(login) if login.present => found.push(auth.agent),
            Ok(_) => {}
            // Unreadable: not counted as found, and said so (doctor says more).
            Err(e) => eprintln!("warning: {}: {e}", auth.agent),
        }
    }
    let name = name_of(&cwd);
    let (file_name, text) = match format {
        InitFormat::Toml => ("jackin.toml", toml(&name, &found)),
        InitFormat::Yaml => ("jackin.yaml", yaml(&name, &found)),
    };
    let target = cwd.join(file_name);
    write_validated(&cwd, &target, &text)?;

    let agents: Vec<&str> = found.iter().map(|a| a.name()).collect();
    if agents.is_empty() {
        println!(
            "Wrote {file_name}: project {name}, no agents yet (no host login found in any agent's default folder); \
             the role and workspace are a commented example."
        );
        println!("Next: log in to an agent on this machine and run jackin init again, or edit the example.");
    } else {
        println!(
            "Wrote {file_name}: project {name}, role {ROLE} with {}; workspace {name} mounts this folder at /workspace/{name}.",
            agents.join(", ")
        );
        println!("Next: set the image in {file_name}, then jackin plan.");
    }
    Ok(exit::OK)
}

/// Validate `text` through the normal loader and validator, then give it `target`'s name
/// without ever replacing a file there.
fn write_validated(dir: &Path, target: &Path, text: &str) -> Result<(), Error> {
    use std::io::Write as _;
    let fail = |source| WriteError {
        path: target.to_path_buf(),
        source,
    };
    let suffix = target
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(".jackin-init-")
        .suffix(&suffix)
        .tempfile_in(dir)
        .map_err(fail)?;
    tmp.write_all(text.as_bytes()).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    let loaded = manifest::load(Some(tmp.path()), dir)?;
    manifest::validate(&loaded)?;
    match tmp.persist_noclobber(target) {
        Ok(file) => {
            // A state file is checked in: readable like any other source file (the temp file
            // was made 0600).
            use std::os::unix::fs::PermissionsExt as _;
            let mode = 0o666 & !current_umask();
            file.set_permissions(std::fs::Permissions::from_mode(mode))
                .map_err(fail)?;
            Ok(())
        }
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Err(InitError {
            path: target.to_path_buf(),
        }
        .into()),
        Err(e) => Err(fail(e.error).into()),
    }
}

/// The process umask, from `/proc/self/status` (0022 when it cannot be read).
fn current_umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

/// The folder's name as a workspace (and project) name: `[a-z0-9][a-z0-9-]*`, lowercased,
/// anything else turned into `-`; `workspace` when nothing is left.
fn name_of(dir: &Path) -> String {
    let raw = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let mut name = String::new();
    for c in raw.chars() {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if !(c == '-' && (name.is_empty() || name.ends_with('-'))) {
            name.push(c);
        }
    }
    let name = name.trim_end_matches('-');
    if name.is_empty() {
        "workspace".to_owned()
    } else {
        name.to_owned()
    }
}

/// An agent's default source as the operator writes it (`~/.kimi`).
fn default_source(agent: AgentKind) -> String {
    format!("~/{}", agent.info().default_source)
}

/// The header both formats share (`#` comments in TOML and YAML alike).
fn header(name: &str, found: &[AgentKind]) -> String {
    let mut out = format!("# jackin desired state for {name}, written by `jackin init`.\n");
    if found.is_empty() {
        let looked: Vec<String> = AgentKind::ALL.into_iter().map(default_source).collect();
        out.push_str(&format!(
            "# No host login was found (looked in {}).\n\
             # Log in to an agent on this machine and run `jackin init` again, or uncomment and\n\
             # edit the example below.\n",
            looked.join(", ")
        ));
    } else {
        let list: Vec<String> = found
            .iter()
            .map(|&a| format!("{a} ({})", default_source(a)))
            .collect();
        out.push_str(&format!("# Host logins found: {}.\n", list.join(", ")));
        out.push_str("# Next: set `image` below, then `jackin plan` to preview and `jackin apply` to converge.\n");
    }
    out.push_str(
        "# Every key: `jackin schema` prints the JSON Schema of this file; see also the README.\n",
    );
    out
}

/// `text` with every line commented out (a comment stays as it is).
fn commented(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                "#\n".to_owned()
            } else if l.trim_start().starts_with('#') {
                format!("{l}\n")
            } else {
                format!("# {l}\n")
            }
        })
        .collect()
}

/// The header, the version and project lines (`lead` spells them in the file's format), and
/// the body — commented out when no login was found, so the file still validates.
fn finish(name: &str, found: &[AgentKind], lead: &str, body: &str) -> String {
    let body = if found.is_empty() {
        commented(body)
    } else {
        body.to_owned()
    };
    format!(
        "{}{lead}\"{name}\"    # the owner label on every container jackin manages\n\n{body}",
        header(name, found)
    )
}

fn toml(name: &str, found: &[AgentKind]) -> String {
    let container = container_name(name, ROLE);
    let agents: Vec<String> = if found.is_empty() {
        vec!["\"claude\"".to_owned()]
    } else {
        found.iter().map(|a| format!("\"{a}\"")).collect()
    };
    let example_agent = found.first().copied().unwrap_or(AgentKind::Claude);
    let key_env = example_agent.info().api_key_env;
    let body = format!(
        r#"[roles.{ROLE}]
# EDIT ME: an image with the agents below installed. This placeholder can never be pulled
# (.invalid is a reserved domain), so apply stops at it until you set yours.
image = "{PLACEHOLDER_IMAGE}"
agents = [{agents}]    # each gets its host login; the first one is launched
# user = "host"       # run as your own uid:gid (the handoff is then yours)

# Each agent's host login is copied in (auth mode `sync`, the default). An API key instead:
# [auth.{example_agent}]
# mode = "api_key"    # sync | api_key | oauth_token (claude only) | ignore
# [env]
# {key_env} = "${{{key_env}}}"

[workspaces.{name}]
workdir = "/workspace/{name}"
mounts = [{{ src = ".", dst = "/workspace/{name}" }}]    # this folder

[workspaces.{name}.roles.{ROLE}]    # declares the container {container}
"#,
        agents = agents.join(", "),
    );
    finish(name, found, "version = 1\nproject = ", &body)
}

fn yaml(name: &str, found: &[AgentKind]) -> String {
    let container = container_name(name, ROLE);
    let agents: Vec<&str> = if found.is_empty() {
        vec!["claude"]
    } else {
        found.iter().map(|a| a.name()).collect()
    };
    let example_agent = found.first().copied().unwrap_or(AgentKind::Claude);
    let key_env = example_agent.info().api_key_env;
    let body = format!(
        r#"roles:
  {ROLE}:
    # EDIT ME: an image with the agents below installed. This placeholder can never be pulled
    # (.invalid is a reserved domain), so apply stops at it until you set yours.
    image: {PLACEHOLDER_IMAGE}
    agents: [{agents}]    # each gets its host login; the first one is launched
    # user: host         # run as your own uid:gid (the handoff is then yours)

# Each agent's host login is copied in (auth mode `sync`, the default). An API key instead:
# auth:
#   {example_agent}:
#     mode: api_key      # sync | api_key | oauth_token (claude only) | ignore
# env:
#   {key_env}: "${{{key_env}}}"

workspaces:
  "{name}":
    workdir: /workspace/{name}
    mounts:
      - {{ src: ".", dst: /workspace/{name} }}    # this folder
    roles:
      {ROLE}: {{}}    # declares the container {container}
"#,
        agents = agents.join(", "),
    );
    finish(name, found, "version: 1\nproject: ", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both formats, with and without logins, load and validate as the operator's file would.
    #[test]
    fn every_starter_file_validates() {
        for agents in [
            &[][..],
            &[AgentKind::Kimi],
            &[AgentKind::Claude, AgentKind::KimiCode],
        ] {
            for (ext, text) in [
                ("toml", toml("my-app", agents)),
                ("yaml", yaml("my-app", agents)),
            ] {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join(format!("jackin.{ext}"));
                std::fs::write(&path, &text).unwrap();
                let loaded = manifest::load(Some(&path), dir.path())
                    .unwrap_or_else(|e| panic!("{}\n{text}", crate::error::render(&e)));
                manifest::validate(&loaded)
                    .unwrap_or_else(|e| panic!("{}\n{text}", crate::error::render(&e)));
                let m = &loaded.manifest;
                assert_eq!(loaded.project, "my-app");
                if agents.is_empty() {
                    assert!(m.roles.is_empty() && m.workspaces.is_empty(), "{text}");
                    assert!(
                        text.contains("# agents = [\"claude\"]")
                            || text.contains("#     agents: [claude]"),
                        "{text}"
                    );
                } else {
                    let role = &m.roles["agent"];
                    assert_eq!(role.agents, agents, "{text}");
                    assert_eq!(role.image.as_deref(), Some(PLACEHOLDER_IMAGE));
                    let ws = &m.workspaces["my-app"];
                    assert_eq!(ws.workdir.as_deref(), Some("/workspace/my-app"));
                    assert_eq!(ws.mounts[0].src, ".");
                    assert_eq!(ws.mounts[0].dst, "/workspace/my-app");
                    assert!(ws.roles.contains_key("agent"));
                }
            }
        }
    }

    #[test]
    fn folder_names_become_valid_names() {
        for (dir, name) in [
            ("/src/my-app", "my-app"),
            ("/src/My_App.v2", "my-app-v2"),
            ("/src/--x--", "x"),
            ("/src/___", "workspace"),
            ("/", "workspace"),
        ] {
            assert_eq!(name_of(Path::new(dir)), name, "{dir}");
        }
    }
}
