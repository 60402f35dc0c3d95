//! The agent catalogue (SPEC §3) as data.
//!
//! Everything jackin knows about a particular agent lives in [`CATALOGUE`]: where its host
//! login lives, which entries are credentials, where they land in the container, which env
//! var carries an API key or OAuth token, and how the agent is launched. The planner and the
//! handoff engine only ever read this table, so "what happens to a kimi credential in api_key
//! mode" is answered by this file plus `plan/`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An agent jackin can provision. Serialised lowercase, as it is written in the state file.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum AgentKind {
    Kimi,
    Claude,
    Codex,
    Amp,
    Opencode,
    Grok,
}

/// How an agent authenticates inside its container.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// Copy the host login into the handoff directory.
    Sync,
    /// Purge synced files; pass the agent's API-key env var.
    ApiKey,
    /// Purge synced files; pass the agent's OAuth-token env var (claude only).
    OauthToken,
    /// Purge everything in the handoff directory; forward nothing.
    Ignore,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Sync => "sync",
            AuthMode::ApiKey => "api_key",
            AuthMode::OauthToken => "oauth_token",
            AuthMode::Ignore => "ignore",
        }
    }
}

impl fmt::Display for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry synced from the host source folder into the handoff directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncEntry {
    /// Path relative to the handoff directory (and, usually, to the source folder).
    pub name: &'static str,
    /// A directory whose whole tree is synced (kimi's `credentials/`).
    pub tree: bool,
    /// Part of the "host login is present" test (SPEC §3).
    pub login: bool,
    /// Where the host copy lives when the source is the agent's default folder, relative to
    /// `$HOME` instead of the source (claude's `~/.claude.json`). `None`: inside the source.
    pub default_home_path: Option<&'static str>,
}

const fn file(name: &'static str, login: bool) -> SyncEntry {
    SyncEntry {
        name,
        tree: false,
        login,
        default_home_path: None,
    }
}

/// Static facts about one agent (one row of SPEC §3).
#[derive(Debug)]
pub struct AgentInfo {
    pub kind: AgentKind,
    pub name: &'static str,
    /// Default sync source, relative to `$HOME`.
    pub default_source: &'static str,
    pub entries: &'static [SyncEntry],
    /// Handoff target inside the container (a directory bind mount).
    ///
    /// The handoff never hides the image (SPEC v2 §3): an agent with a data-dir variable gets
    /// its handoff at a jackin path (`/jackin/{agent}`) and the variable pointed at it, so
    /// whatever the image installed in the agent's usual folder (Grok and Kimi Code put their
    /// binaries there) stays visible; an agent without one gets the handoff at no more than its
    /// data folder.
    pub target: &'static str,
    /// The agent's data-dir variable, set to [`AgentInfo::target`] in the container.
    pub data_dir_env: Option<&'static str>,
    pub api_key_env: &'static str,
    pub oauth_token_env: Option<&'static str>,
    /// Extra env set whenever the agent is provisioned.
    pub fixed_env: &'static [(&'static str, &'static str)],
    pub launch: &'static [&'static str],
    /// Flag that passes the model; `None` when the agent has no model flag.
    pub model_flag: Option<&'static str>,
}

/// SPEC §3, one row per agent. Keep this in the same order as the spec's table.
pub static CATALOGUE: [AgentInfo; 6] = [
    AgentInfo {
        kind: AgentKind::Kimi,
        name: "kimi",
        default_source: ".kimi",
        entries: &[
            file("config.toml", true),
            SyncEntry {
                name: "credentials",
                tree: true,
                login: true,
                default_home_path: None,
            },
            file("device_id", false),
        ],
        // kimi-cli `share.py`: `KIMI_SHARE_DIR`, else `~/.kimi`.
        target: "/jackin/kimi",
        data_dir_env: Some("KIMI_SHARE_DIR"),
        api_key_env: "KIMI_API_KEY",
        oauth_token_env: None,
        fixed_env: &[],
        launch: &["kimi", "--yolo"],
        model_flag: Some("--model"),
    },
    AgentInfo {
        kind: AgentKind::Claude,
        name: "claude",
        default_source: ".claude",
        entries: &[
            file(".credentials.json", true),
            SyncEntry {
                name: ".claude.json",
                tree: false,
                login: false,
                default_home_path: Some(".claude.json"),
            },
        ],
        // Claude Code docs (claude-directory): with `CLAUDE_CONFIG_DIR` set, every `~/.claude`
        // path, `.claude.json` and `.credentials.json` included, lives under it.
        target: "/jackin/claude",
        data_dir_env: Some("CLAUDE_CONFIG_DIR"),
        api_key_env: "ANTHROPIC_API_KEY",
        oauth_token_env: Some("CLAUDE_CODE_OAUTH_TOKEN"),
        fixed_env: &[],
        launch: &["claude", "--dangerously-skip-permissions"],
        model_flag: Some("--model"),
    },
    AgentInfo {
        kind: AgentKind::Codex,
        name: "codex",
        default_source: ".codex",
        entries: &[file("auth.json", true)],
        // Codex docs (environment variables): `CODEX_HOME`, default `~/.codex`, holds config
        // and auth.json; it must exist (the mount makes it).
        target: "/jackin/codex",
        data_dir_env: Some("CODEX_HOME"),
        api_key_env: "OPENAI_API_KEY",
        oauth_token_env: None,
        fixed_env: &[],
        launch: &["codex", "--dangerously-bypass-approvals-and-sandbox"],
        model_flag: Some("-m"),
    },
    AgentInfo {
        kind: AgentKind::Amp,
        name: "amp",
        default_source: ".local/share/amp",
        entries: &[file("secrets.json", true)],
        // No documented data-dir variable: the handoff covers only the data folder (the
        // binary lives in ~/.amp/bin).
        target: "/home/agent/.local/share/amp",
        data_dir_env: None,
        api_key_env: "AMP_API_KEY",
        oauth_token_env: None,
        fixed_env: &[],
        launch: &["amp", "--dangerously-allow-all"],
        model_flag: None,
    },
    AgentInfo {
        kind: AgentKind::Opencode,
        name: "opencode",
        default_source: ".local/share/opencode",
        entries: &[file("auth.json", true)],
        // Only XDG_DATA_HOME moves it, which would move every other tool's data too: the
        // handoff covers only opencode's data folder (its binary lives in ~/.opencode/bin).
        target: "/home/agent/.local/share/opencode",
        data_dir_env: None,
        api_key_env: "OPENCODE_API_KEY",
        oauth_token_env: None,
        fixed_env: &[],
        launch: &["opencode"],
        model_flag: Some("-m"),
    },
    AgentInfo {
        kind: AgentKind::Grok,
        name: "grok",
        default_source: ".grok",
        entries: &[file("auth.json", true)],
        // docs.x.ai/build/settings: `$GROK_HOME` moves the home folder; the installer puts
        // the binary in ~/.grok/bin, which a mount over ~/.grok would hide.
        target: "/jackin/grok",
        data_dir_env: Some("GROK_HOME"),
        api_key_env: "XAI_API_KEY",
        oauth_token_env: None,
        fixed_env: &[],
        launch: &["grok", "--always-approve"],
        model_flag: Some("-m"),
    },
];

impl AgentKind {
    pub const ALL: [AgentKind; 6] = [
        AgentKind::Kimi,
        AgentKind::Claude,
        AgentKind::Codex,
        AgentKind::Amp,
        AgentKind::Opencode,
        AgentKind::Grok,
    ];

    pub fn info(self) -> &'static AgentInfo {
        let info = &CATALOGUE[self as usize];
        debug_assert_eq!(info.kind, self);
        info
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// Auth modes this agent accepts; `oauth_token` only where the agent has a token env var.
    pub fn supported_modes(self) -> Vec<AuthMode> {
        let mut modes = vec![AuthMode::Sync, AuthMode::ApiKey];
        if self.info().oauth_token_env.is_some() {
            modes.push(AuthMode::OauthToken);
        }
        modes.push(AuthMode::Ignore);
        modes
    }

    /// Whether a handoff path (relative to the agent's handoff dir) is one of the catalogue's
    /// entries: `config.toml` is one itself, `credentials/a/b` is in kimi's `credentials` tree.
    pub fn is_entry(self, rel: &str) -> bool {
        self.info().entries.iter().any(|e| {
            rel == e.name
                || (e.tree && rel.strip_prefix(e.name).is_some_and(|r| r.starts_with('/')))
        })
    }

    /// The env var a credential-carrying mode needs, if any.
    pub fn credential_env(self, mode: AuthMode) -> Option<&'static str> {
        match mode {
            AuthMode::ApiKey => Some(self.info().api_key_env),
            AuthMode::OauthToken => self.info().oauth_token_env,
            AuthMode::Sync | AuthMode::Ignore => None,
        }
    }
}

impl fmt::Display for AgentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_indexed_by_kind() {
        for kind in AgentKind::ALL {
            assert_eq!(kind.info().kind, kind);
        }
    }

    #[test]
    fn only_claude_accepts_oauth_token() {
        for kind in AgentKind::ALL {
            let accepts = kind.supported_modes().contains(&AuthMode::OauthToken);
            assert_eq!(accepts, kind == AgentKind::Claude, "{kind}");
        }
    }

    #[test]
    fn every_agent_has_a_login_entry_and_an_absolute_target() {
        for info in &CATALOGUE {
            assert!(info.entries.iter().any(|e| e.login), "{}", info.name);
            assert!(info.target.starts_with('/'), "{}", info.name);
            // A jackin path is only used together with the variable that points the agent at
            // it; without one, the agent would not find its login.
            assert_eq!(
                info.target.starts_with("/jackin/"),
                info.data_dir_env.is_some(),
                "{}",
                info.name
            );
        }
    }
}
