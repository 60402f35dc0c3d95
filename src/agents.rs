//! The agent catalogue (SPEC §3) as data, plus the little each agent does that is not a fact.
//!
//! The facts live in [`CATALOGUE`], one row per agent, each with its source: where its host
//! login lives, which entries are credentials, where they land in the container, which env
//! var carries an API key or OAuth token, and how the agent is launched. What depends on the
//! instance (a file seeded on first run, the model passed through env instead of a flag) is
//! behaviour, and lives in one small module per agent that has any (`agents/claude.rs`,
//! `agents/codex.rs`, `agents/kimi_code.rs`), reached through the `match`es on
//! [`AgentKind`] below: adding an agent makes the compiler ask about each. The planner and the
//! handoff engine only ever read this file, so "what happens to a kimi credential in api_key
//! mode" is answered here plus `plan/`.

mod claude;
mod codex;
mod kimi_code;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

/// An agent jackin can provision. Serialised as it is written in the state file: lowercase,
/// `kimi-code` with its dash.
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
    #[serde(rename = "kimi-code")]
    KimiCode,
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

impl SyncEntry {
    /// Where this entry lives on the host, for a source folder (claude's `.claude.json` sits
    /// in `$HOME` when the source is the default one).
    pub fn host_path(&self, source: &Path, source_is_default: bool, home: &Path) -> PathBuf {
        match self.default_home_path {
            Some(p) if source_is_default => home.join(p),
            _ => source.join(self.name),
        }
    }
}

const fn file(name: &'static str, login: bool) -> SyncEntry {
    SyncEntry {
        name,
        tree: false,
        login,
        default_home_path: None,
    }
}

/// A directory synced as a whole tree.
const fn tree(name: &'static str, login: bool) -> SyncEntry {
    SyncEntry {
        name,
        tree: true,
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
    /// SPEC §3 "a host login is present": kimi's and claude's login files count when they
    /// exist; every other agent's one file must also be non-empty.
    pub login_needs_content: bool,
}

/// SPEC §3, one row per agent, in the spec's order. Every fact carries its source (a URL, or
/// a repository and path); where a fact is known to be incomplete, the comment says so.
pub static CATALOGUE: [AgentInfo; 7] = [
    // kimi: the Python Kimi CLI (MoonshotAI/kimi-cli, archived after 1.52.0).
    AgentInfo {
        kind: AgentKind::Kimi,
        name: "kimi",
        // kimi-cli `src/kimi_cli/share.py`: `KIMI_SHARE_DIR`, else `~/.kimi`.
        default_source: ".kimi",
        entries: &[
            // moonshotai.github.io/kimi-cli/en/configuration/data-locations: config.toml,
            // credentials/<provider>.json (OAuth); kimi-cli `src/kimi_cli/auth/oauth.py`:
            // `_device_id_path() = get_share_dir() / "device_id"`.
            file("config.toml", true),
            tree("credentials", true),
            file("device_id", false),
        ],
        target: "/jackin/kimi",
        data_dir_env: Some("KIMI_SHARE_DIR"),
        // moonshotai.github.io/kimi-cli/en/configuration/env-vars: `KIMI_API_KEY` "overrides
        // the provider's api_key field". Incomplete on its own: with no config.toml, kimi-cli
        // (`src/kimi_cli/app.py`) builds a provider with an empty base_url and model, so the
        // key alone starts no LLM; it also needs `KIMI_BASE_URL` and `KIMI_MODEL_NAME`.
        // Left as is (a design decision, not a fact to fix here).
        api_key_env: "KIMI_API_KEY",
        oauth_token_env: None,
        fixed_env: &[],
        // kimi-cli `docs/en/configuration/overrides.md`: `--yolo` auto-approves all actions;
        // `--model` names a model defined in config.toml (app.py ignores any other name).
        launch: &["kimi", "--yolo"],
        model_flag: Some("--model"),
        login_needs_content: false,
    },
    AgentInfo {
        kind: AgentKind::Claude,
        name: "claude",
        default_source: ".claude",
        entries: &[
            // Official auth docs: Linux keeps the login in `~/.claude/.credentials.json`
            // (macOS: the Keychain), under `CLAUDE_CONFIG_DIR` when that is set.
            file(".credentials.json", true),
            SyncEntry {
                name: ".claude.json",
                tree: false,
                login: false,
                default_home_path: Some(".claude.json"),
            },
        ],
        // code.claude.com/docs/en/claude-directory (tested in yarikleto/claude-profile#15):
        // with `CLAUDE_CONFIG_DIR` set, every `~/.claude` path, `.claude.json` and
        // `.credentials.json` included, lives under it.
        target: "/jackin/claude",
        data_dir_env: Some("CLAUDE_CONFIG_DIR"),
        // `ANTHROPIC_API_KEY` is auto-detected (trailofbits/coop#356); `CLAUDE_CODE_OAUTH_TOKEN`
        // comes from `claude setup-token` (anthropics/claude-code#46259).
        api_key_env: "ANTHROPIC_API_KEY",
        oauth_token_env: Some("CLAUDE_CODE_OAUTH_TOKEN"),
        fixed_env: &[],
        // `--settings <file-or-json>` loads extra settings (CLI help). The bypass prompt is
        // skipped by the top-level `skipDangerousModePermissionPrompt`, read from the user,
        // local, flag and policy sources only (Claude Code `utils/settings/settings.ts`;
        // nested under `permissions` it is ignored: anthropics/claude-code#48668). Upstream
        // jackin launches it the same way (`crates/jackin-core/src/agent/launch.rs`).
        // `--dangerously-skip-permissions` refuses to run as root outside a recognised
        // sandbox (dev.to/geekcoding101, CC 2.1.302): give the role a non-root `user`.
        launch: &[
            "claude",
            "--settings",
            "{\"skipDangerousModePermissionPrompt\":true}",
            "--dangerously-skip-permissions",
        ],
        // `--model <model>`: an alias ('sonnet') or a full name (CLI help).
        model_flag: Some("--model"),
        login_needs_content: false,
    },
    AgentInfo {
        kind: AgentKind::Codex,
        name: "codex",
        default_source: ".codex",
        // openai/codex `docs/authentication.md`: the login is `$CODEX_HOME/auth.json`.
        entries: &[file("auth.json", true)],
        // developers.openai.com/codex/config-file/environment-variables: `CODEX_HOME`,
        // default `~/.codex`, holds config, auth, logs, sessions; it must already exist (the
        // bind mount makes it).
        target: "/jackin/codex",
        data_dir_env: Some("CODEX_HOME"),
        // Incomplete: "Simply defining an environment variable isn't enough to log in to
        // codex. You need to explicitly run `codex login --with-api-key`" (openai/codex#7323);
        // `CODEX_API_KEY` is read by `codex exec` only (openai/codex#4615). Left as is (a
        // design decision: a login step, or an auth.json made from the key).
        api_key_env: "OPENAI_API_KEY",
        oauth_token_env: None,
        fixed_env: &[],
        // developers.openai.com/codex/cli/reference: `--dangerously-bypass-approvals-and-sandbox`
        // ("run every command without approvals or sandboxing"), `--model, -m`.
        launch: &["codex", "--dangerously-bypass-approvals-and-sandbox"],
        model_flag: Some("-m"),
        login_needs_content: true,
    },
    AgentInfo {
        kind: AgentKind::Amp,
        name: "amp",
        default_source: ".local/share/amp",
        // `~/.local/share/amp/secrets.json` holds `apiKey@https://ampcode.com/` (amped README,
        // pkg.go.dev/github.com/slashtechno/amped; upstream jackin `instance/auth.rs`).
        entries: &[file("secrets.json", true)],
        // No officially documented data-dir variable (a third party reports `AMP_DATA_DIR`:
        // ryoppippi/ccusage commit acfacba): the handoff covers only the data folder, and the
        // binary in ~/.amp/bin stays visible.
        target: "/home/agent/.local/share/amp",
        data_dir_env: None,
        // `AMP_API_KEY`: "access token for non-interactive environments … takes precedence
        // over saved accounts" (developersdigest.tech/reference/amp/env-vars).
        api_key_env: "AMP_API_KEY",
        oauth_token_env: None,
        fixed_env: &[],
        // `--dangerously-allow-all` (ralph-tui.com/docs/plugins/agents/ampcode; upstream jackin
        // `launch.rs`). Amp has no model flag: `--mode` picks an agent mode, not a model.
        launch: &["amp", "--dangerously-allow-all"],
        model_flag: None,
        login_needs_content: true,
    },
    AgentInfo {
        kind: AgentKind::Opencode,
        name: "opencode",
        default_source: ".local/share/opencode",
        // opencode.ai/v1/docs/zh-cn/cli.md: keys are stored in
        // `~/.local/share/opencode/auth.json`.
        entries: &[file("auth.json", true)],
        // Only XDG_DATA_HOME moves it, which would move every other tool's data too: the
        // handoff covers only opencode's data folder (its binary lives in ~/.opencode/bin).
        target: "/home/agent/.local/share/opencode",
        data_dir_env: None,
        // Incomplete: `OPENCODE_API_KEY` is the env var of the `opencode` (Zen) provider only;
        // every other provider reads its own (`ANTHROPIC_API_KEY`, …; models.dev `env` lists).
        // Left as is (a design decision).
        api_key_env: "OPENCODE_API_KEY",
        oauth_token_env: None,
        // `OPENCODE_CONFIG_CONTENT`: inline JSON config applied as runtime overrides
        // (learnopencode.com config reference); `{"permission":"allow"}` allows every tool at
        // once (opencode.ai/v1/docs/zh-cn/permissions.md). Upstream jackin exports the same
        // before starting opencode (`crates/jackin-core/src/agent/launch.rs`).
        fixed_env: &[("OPENCODE_CONFIG_CONTENT", "{\"permission\":\"allow\"}")],
        // opencode cli.md: `--model, -m` takes `provider/model`.
        launch: &["opencode"],
        model_flag: Some("-m"),
        login_needs_content: true,
    },
    AgentInfo {
        kind: AgentKind::Grok,
        name: "grok",
        default_source: ".grok",
        // xai-org/grok-build `user-guide/02-authentication.md`: "Grok stores credentials in
        // `~/.grok/auth.json`".
        entries: &[file("auth.json", true)],
        // docs.x.ai/build/settings: `$GROK_HOME` moves the home folder; x.ai/cli/install.sh
        // puts the binary in ~/.grok/bin, which a mount over ~/.grok would hide.
        target: "/jackin/grok",
        data_dir_env: Some("GROK_HOME"),
        // 02-authentication.md: `XAI_API_KEY` is used "as a fallback when no session token is
        // active".
        api_key_env: "XAI_API_KEY",
        oauth_token_env: None,
        fixed_env: &[],
        // `--always-approve` and `-m, --model` (wangchujiang.com/reference/docs/grok.html;
        // grok-build `05-configuration.md`).
        launch: &["grok", "--always-approve"],
        model_flag: Some("-m"),
        login_needs_content: true,
    },
    // kimi-code: Kimi Code CLI (MoonshotAI/kimi-code), the successor of kimi-cli. Its
    // API-key channel (the model through `KIMI_MODEL_NAME`) is behaviour: see `kimi_code.rs`.
    AgentInfo {
        kind: AgentKind::KimiCode,
        name: "kimi-code",
        // kimi-code `docs/en/configuration/env-vars.md`: the data root is `~/.kimi-code`,
        // moved by `KIMI_CODE_HOME` ("config file, sessions, logs, OAuth credentials … land
        // under the new path").
        default_source: ".kimi-code",
        entries: &[
            // kimi-code `docs/en/configuration/data-locations.md`: `config.toml` (providers
            // and models) and `credentials/<name>.json` (+ `credentials/mcp/`). `device_id`
            // is not in the documented layout; upstream jackin syncs it (`KIMI_SYNC_FILES`,
            // `crates/jackin-runtime/src/instance/auth.rs`), and it is not part of the login.
            file("config.toml", true),
            tree("credentials", true),
            file("device_id", false),
        ],
        // The binary is installed at ~/.kimi-code/bin/kimi (observed installs; upstream
        // jackin's kimi adapter), so the handoff goes to a jackin path, never over
        // ~/.kimi-code.
        target: "/jackin/kimi-code",
        data_dir_env: Some("KIMI_CODE_HOME"),
        // env-vars.md: credential variables such as `KIMI_API_KEY` "are not read
        // automatically"; "the only exceptions are the `KIMI_MODEL_*` family": the key is
        // `KIMI_MODEL_API_KEY`, and `KIMI_MODEL_NAME` is required too (the enable switch).
        api_key_env: "KIMI_MODEL_API_KEY",
        oauth_token_env: None,
        fixed_env: &[],
        // kimi-code `docs/en/reference/kimi-command.md`: `--yolo` auto-approves tool calls;
        // `--model <model>` takes a model *alias* from config.toml.
        launch: &["kimi", "--yolo"],
        model_flag: Some("--model"),
        login_needs_content: false,
    },
];

impl AgentKind {
    pub const ALL: [AgentKind; 7] = [
        AgentKind::Kimi,
        AgentKind::Claude,
        AgentKind::Codex,
        AgentKind::Amp,
        AgentKind::Opencode,
        AgentKind::Grok,
        AgentKind::KimiCode,
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

/// A first-run file (SPEC v2 §3): written into the agent's handoff once, when nothing is at
/// its path, and never again. It belongs to the container from then on: never overwritten,
/// never recorded in the ledger, so never purged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    /// Relative to the agent's handoff directory.
    pub path: &'static str,
    pub content: Vec<u8>,
}

/// Behaviour that depends on the instance, one module per agent that has any.
impl AgentKind {
    /// The files to seed for this agent in `mode`, for an instance working in `workdir`.
    pub fn seeds(self, mode: AuthMode, workdir: Option<&str>) -> Vec<Seed> {
        match self {
            AgentKind::Claude => claude::seeds(mode),
            AgentKind::Codex => codex::seeds(workdir),
            AgentKind::Kimi
            | AgentKind::Amp
            | AgentKind::Opencode
            | AgentKind::Grok
            | AgentKind::KimiCode => Vec::new(),
        }
    }

    /// The env var that carries the role's model in `mode` instead of the model flag. The
    /// agent needs it set: from the operator's env layers, else from the role's `model`.
    pub fn model_env(self, mode: AuthMode) -> Option<&'static str> {
        match self {
            AgentKind::KimiCode => kimi_code::model_env(mode),
            AgentKind::Kimi
            | AgentKind::Claude
            | AgentKind::Codex
            | AgentKind::Amp
            | AgentKind::Opencode
            | AgentKind::Grok => None,
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
    fn names_round_trip_through_serde_as_written_in_the_state_file() {
        for kind in AgentKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.name()));
            assert_eq!(serde_json::from_str::<AgentKind>(&json).unwrap(), kind);
        }
        assert_eq!(AgentKind::KimiCode.name(), "kimi-code");
    }

    #[test]
    fn kimi_code_keeps_its_binary_visible_and_takes_its_key_from_kimi_model_api_key() {
        let info = AgentKind::KimiCode.info();
        assert_eq!(info.default_source, ".kimi-code");
        assert_eq!(info.target, "/jackin/kimi-code");
        assert_eq!(info.data_dir_env, Some("KIMI_CODE_HOME"));
        assert_eq!(info.api_key_env, "KIMI_MODEL_API_KEY");
        assert_eq!(info.launch, ["kimi", "--yolo"]);
        assert_eq!(info.model_flag, Some("--model"));
        let login: Vec<&str> = info
            .entries
            .iter()
            .filter(|e| e.login)
            .map(|e| e.name)
            .collect();
        assert_eq!(login, ["config.toml", "credentials"]);
        assert!(AgentKind::KimiCode.is_entry("credentials/kimi-code.json"));
        assert!(AgentKind::KimiCode.is_entry("device_id"));
        assert!(!AgentKind::KimiCode.is_entry("bin/kimi"));
    }

    #[test]
    fn first_run_settings_are_in_the_launch_and_env() {
        assert_eq!(
            AgentKind::Claude.info().launch,
            [
                "claude",
                "--settings",
                r#"{"skipDangerousModePermissionPrompt":true}"#,
                "--dangerously-skip-permissions"
            ]
        );
        let settings: serde_json::Value =
            serde_json::from_str(AgentKind::Claude.info().launch[2]).unwrap();
        assert_eq!(settings["skipDangerousModePermissionPrompt"], true);
        assert_eq!(
            AgentKind::Opencode.info().fixed_env,
            [("OPENCODE_CONFIG_CONTENT", r#"{"permission":"allow"}"#)]
        );
    }

    #[test]
    fn only_claude_and_codex_seed_files() {
        for kind in AgentKind::ALL {
            for mode in kind.supported_modes() {
                let seeds = kind.seeds(mode, Some("/w"));
                let expected = match (kind, mode) {
                    (AgentKind::Claude, AuthMode::OauthToken) => vec![".claude.json"],
                    (AgentKind::Codex, _) => vec!["config.toml"],
                    _ => vec![],
                };
                let paths: Vec<&str> = seeds.iter().map(|s| s.path).collect();
                assert_eq!(paths, expected, "{kind} {mode}");
                for s in &seeds {
                    // A seed never collides with a synced entry it would fight over, except
                    // claude's .claude.json, which is seeded only outside sync.
                    assert!(!kind.is_entry(s.path) || mode != AuthMode::Sync, "{kind}");
                }
            }
        }
        assert!(AgentKind::Codex.seeds(AuthMode::Sync, None).is_empty());
    }

    #[test]
    fn only_kimi_code_in_api_key_mode_takes_its_model_from_env() {
        for kind in AgentKind::ALL {
            for mode in kind.supported_modes() {
                let expected = (kind == AgentKind::KimiCode && mode == AuthMode::ApiKey)
                    .then_some("KIMI_MODEL_NAME");
                assert_eq!(kind.model_env(mode), expected, "{kind} {mode}");
            }
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
