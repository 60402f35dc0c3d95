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
    pub target: &'static str,
    pub api_key_env: &'static str,
    pub oauth_token_env: Option<&'static str>,
    /// Extra env set whenever the agent is provisioned (claude's config dir).
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
        target: "/home/agent/.kimi",
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
        target: "/home/agent/.claude",
        api_key_env: "ANTHROPIC_API_KEY",
        oauth_token_env: Some("CLAUDE_CODE_OAUTH_TOKEN"),
        fixed_env: &[("CLAUDE_CONFIG_DIR", "/home/agent/.claude")],
        launch: &["claude", "--dangerously-skip-permissions"],
        model_flag: Some("--model"),
    },
    AgentInfo {
        kind: AgentKind::Codex,
        name: "codex",
        default_source: ".codex",
        entries: &[file("auth.json", true)],
        target: "/home/agent/.codex",
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
        target: "/home/agent/.local/share/amp",
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
        target: "/home/agent/.local/share/opencode",
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
        target: "/home/agent/.grok",
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
            assert!(info.target.starts_with("/home/agent/"), "{}", info.name);
        }
    }
}
