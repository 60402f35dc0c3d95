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
mod owned;

pub use owned::{Content, OwnedKey, OwnedKeys, Want};

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
    /// Names in a tree that are never synced: the client's own lock files (kimi-cli's
    /// `credentials/kimi-code.lock`), which are not login state (SPEC v3 §3a).
    pub skip_suffix: Option<&'static str>,
}

impl SyncEntry {
    /// Where this entry lives on the host, for a source folder.
    pub fn host_path(&self, source: &Path) -> PathBuf {
        source.join(self.name)
    }

    /// Whether a file name inside this entry's tree is never synced.
    pub fn skips(&self, name: &[u8]) -> bool {
        self.skip_suffix
            .is_some_and(|s| name.ends_with(s.as_bytes()))
    }
}

const fn file(name: &'static str, login: bool) -> SyncEntry {
    SyncEntry {
        name,
        tree: false,
        login,
        skip_suffix: None,
    }
}

/// A directory synced as a whole tree, less the client's lock files.
const fn tree(name: &'static str, login: bool) -> SyncEntry {
    SyncEntry {
        name,
        tree: true,
        login,
        skip_suffix: Some(".lock"),
    }
}

/// A JSON document in the handoff that jackin shares with the container (SPEC v3 §3a): the
/// agent owns it, jackin owns a few keys of it ([`OwnedKeys`]), some of them read from the
/// host's copy of the same document.
#[derive(Debug)]
pub struct SharedDoc {
    /// Relative to the handoff directory (and, usually, to the source folder).
    pub name: &'static str,
    /// Where the host copy lives when the source is the agent's default folder, relative to
    /// `$HOME` instead of the source (claude's `~/.claude.json`).
    pub default_home_path: Option<&'static str>,
}

impl SharedDoc {
    /// Where the host's copy lives, for a source folder.
    pub fn host_path(&self, source: &Path, source_is_default: bool, home: &Path) -> PathBuf {
        match self.default_home_path {
            Some(p) if source_is_default => home.join(p),
            _ => source.join(self.name),
        }
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
    /// A document the agent shares with jackin (claude's `.claude.json`).
    pub shared_doc: Option<SharedDoc>,
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
    /// Other env vars api_key mode needs set (kimi's base URL), each with why.
    pub api_key_needs: &'static [(&'static str, &'static str)],
    pub oauth_token_env: Option<&'static str>,
    /// Extra env set whenever the agent is provisioned.
    pub fixed_env: &'static [(&'static str, &'static str)],
    pub launch: &'static [&'static str],
    /// Flag that passes the model; `None` when the agent has no model flag.
    pub model_flag: Option<&'static str>,
    /// The synced file whose `[models]` table names every model the flag accepts (the kimi
    /// clients take an alias defined there, nothing else: SPEC v3 §3a).
    pub model_aliases_in: Option<&'static str>,
    /// The agent's own login command (its device-code flow where it has one), run inside an
    /// instance by `jackin login` so the instance holds its own grant (SPEC v3 §3b, §6).
    pub login: &'static [&'static str],
    /// What the real client needs of the image or the disk that jackin cannot give it, for
    /// `doctor` (SPEC v3 §3a, measured with the versions named).
    pub image_needs: Option<&'static str>,
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
        shared_doc: None,
        target: "/jackin/kimi",
        data_dir_env: Some("KIMI_SHARE_DIR"),
        // moonshotai.github.io/kimi-cli/en/configuration/env-vars: `KIMI_API_KEY` "overrides
        // the provider's api_key field".
        api_key_env: "KIMI_API_KEY",
        // kimi-cli `src/kimi_cli/llm.py` `augment_provider_with_env_vars`: with no config.toml
        // the provider has an empty base URL, and the key alone makes no request (measured
        // with kimi-cli 1.52.0, SPEC v3 §3a); `KIMI_MODEL_NAME` carries the model (see
        // `model_env`).
        api_key_needs: &[("KIMI_BASE_URL", "the API endpoint the key is for")],
        oauth_token_env: None,
        fixed_env: &[],
        // kimi-cli `docs/en/configuration/overrides.md`: `--yolo` auto-approves all actions;
        // `--model` names a model defined in config.toml (app.py ignores any other name).
        launch: &["kimi", "--yolo"],
        model_flag: Some("--model"),
        // "LLM not set" when `--model` names no key of `[models]` (kimi-cli 1.52.0
        // `src/kimi_cli/app.py`; measured, SPEC v3 §3a).
        model_aliases_in: Some("config.toml"),
        // kimi-cli 1.52.0 `src/kimi_cli/cli/__init__.py`: `kimi login` ("Login to your Kimi
        // account"), the device flow of `kimi_cli.auth.oauth.login_kimi_code`.
        login: &["kimi", "login"],
        // kimi-cli 1.52.0 (2026-09-22, archived) replaced its `kimi` entry point with a
        // deprecation notice that exits at once (measured; PyPI release notes).
        image_needs: Some(
            "kimi-cli 1.52.0's `kimi` only prints a deprecation notice and exits: pin kimi-cli==1.51.0 in the image, or use kimi-code",
        ),
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
        ],
        // `.claude.json` is shared ground, not copied (see `agents/claude.rs`).
        shared_doc: Some(SharedDoc {
            name: ".claude.json",
            default_home_path: Some(".claude.json"),
        }),
        // code.claude.com/docs/en/claude-directory (tested in yarikleto/claude-profile#15):
        // with `CLAUDE_CONFIG_DIR` set, every `~/.claude` path, `.claude.json` and
        // `.credentials.json` included, lives under it.
        target: "/jackin/claude",
        data_dir_env: Some("CLAUDE_CONFIG_DIR"),
        // `ANTHROPIC_API_KEY` is auto-detected (trailofbits/coop#356); `CLAUDE_CODE_OAUTH_TOKEN`
        // comes from `claude setup-token` (anthropics/claude-code#46259).
        api_key_env: "ANTHROPIC_API_KEY",
        api_key_needs: &[],
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
        model_aliases_in: None,
        // code.claude.com/docs/en/iam: "run `claude auth login` in your shell" (a URL to open,
        // and a code to paste back where the browser cannot reach its callback: containers).
        login: &["claude", "auth", "login"],
        image_needs: None,
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
        shared_doc: None,
        target: "/jackin/codex",
        data_dir_env: Some("CODEX_HOME"),
        // "Simply defining an environment variable isn't enough to log in to codex. You need
        // to explicitly run `codex login --with-api-key`" (openai/codex#7323; measured with
        // codex 0.163, SPEC v3 §3a): in api_key mode jackin also writes the `auth.json` that
        // command writes (`agents/codex.rs`).
        api_key_env: "OPENAI_API_KEY",
        api_key_needs: &[],
        oauth_token_env: None,
        fixed_env: &[],
        // developers.openai.com/codex/cli/reference: `--dangerously-bypass-approvals-and-sandbox`
        // ("run every command without approvals or sandboxing"), `--model, -m`.
        launch: &["codex", "--dangerously-bypass-approvals-and-sandbox"],
        model_flag: Some("-m"),
        model_aliases_in: None,
        // developers.openai.com/codex/cli/reference: `codex login --device-auth`, the device-code
        // flow for a machine without a browser.
        login: &["codex", "login", "--device-auth"],
        // Measured with codex 0.163.0 (openai-codex-cli-bin wheel): the TUI shells out to `ps`
        // and exits without it; it unpacks ~360 MB of helpers under `CODEX_HOME`.
        image_needs: Some(
            "its TUI needs `ps` (procps) in the image, and it keeps ~360 MB of its own binaries under CODEX_HOME, i.e. in each instance's handoff under $JACKIN_HOME",
        ),
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
        shared_doc: None,
        target: "/home/agent/.local/share/amp",
        data_dir_env: None,
        // `AMP_API_KEY`: "access token for non-interactive environments … takes precedence
        // over saved accounts" (developersdigest.tech/reference/amp/env-vars).
        api_key_env: "AMP_API_KEY",
        api_key_needs: &[],
        oauth_token_env: None,
        fixed_env: &[],
        // `--dangerously-allow-all` (ralph-tui.com/docs/plugins/agents/ampcode; upstream jackin
        // `launch.rs`). Amp has no model flag: `--mode` picks an agent mode, not a model.
        launch: &["amp", "--dangerously-allow-all"],
        model_flag: None,
        model_aliases_in: None,
        // ampcode.com manual: `amp login` (unverified against a real client here).
        login: &["amp", "login"],
        image_needs: None,
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
        shared_doc: None,
        target: "/home/agent/.local/share/opencode",
        data_dir_env: None,
        // Incomplete: `OPENCODE_API_KEY` is the env var of the `opencode` (Zen) provider only;
        // every other provider reads its own (`ANTHROPIC_API_KEY`, …; models.dev `env` lists).
        // Left as is (a design decision).
        api_key_env: "OPENCODE_API_KEY",
        api_key_needs: &[],
        oauth_token_env: None,
        // `OPENCODE_CONFIG_CONTENT`: inline JSON config applied as runtime overrides
        // (learnopencode.com config reference); `{"permission":"allow"}` allows every tool at
        // once (opencode.ai/v1/docs/zh-cn/permissions.md). Upstream jackin exports the same
        // before starting opencode (`crates/jackin-core/src/agent/launch.rs`).
        fixed_env: &[("OPENCODE_CONFIG_CONTENT", "{\"permission\":\"allow\"}")],
        // opencode cli.md: `--model, -m` takes `provider/model`.
        launch: &["opencode"],
        model_flag: Some("-m"),
        model_aliases_in: None,
        // opencode.ai docs (cli): `opencode auth login` (unverified against a real client here).
        login: &["opencode", "auth", "login"],
        image_needs: None,
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
        shared_doc: None,
        target: "/jackin/grok",
        data_dir_env: Some("GROK_HOME"),
        // 02-authentication.md: `XAI_API_KEY` is used "as a fallback when no session token is
        // active".
        api_key_env: "XAI_API_KEY",
        api_key_needs: &[],
        oauth_token_env: None,
        fixed_env: &[],
        // `--always-approve` and `-m, --model` (wangchujiang.com/reference/docs/grok.html;
        // grok-build `05-configuration.md`).
        launch: &["grok", "--always-approve"],
        model_flag: Some("-m"),
        model_aliases_in: None,
        // grok-build `user-guide/02-authentication.md`: `grok login` (unverified here).
        login: &["grok", "login"],
        image_needs: None,
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
        shared_doc: None,
        target: "/jackin/kimi-code",
        data_dir_env: Some("KIMI_CODE_HOME"),
        // env-vars.md: credential variables such as `KIMI_API_KEY` "are not read
        // automatically"; "the only exceptions are the `KIMI_MODEL_*` family": the key is
        // `KIMI_MODEL_API_KEY`, and `KIMI_MODEL_NAME` is required too (the enable switch).
        api_key_env: "KIMI_MODEL_API_KEY",
        api_key_needs: &[],
        oauth_token_env: None,
        fixed_env: &[],
        // kimi-code `docs/en/reference/kimi-command.md`: `--yolo` auto-approves tool calls;
        // `--model <model>` takes a model *alias* from config.toml.
        launch: &["kimi", "--yolo"],
        model_flag: Some("--model"),
        // "LLM not set" when `--model` names no key of `[models]` (kimi-cli 1.52.0
        // `src/kimi_cli/app.py`; measured, SPEC v3 §3a).
        model_aliases_in: Some("config.toml"),
        // kimi-code `docs/en/reference/kimi-command.md`: `kimi login` (unverified here).
        login: &["kimi", "login"],
        image_needs: None,
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

    /// Every env var `mode` needs set: the credential, the model through env, and the rest
    /// of what api_key needs.
    pub fn needed_env(self, mode: AuthMode) -> impl Iterator<Item = &'static str> {
        let more = match mode {
            AuthMode::ApiKey => self.info().api_key_needs,
            _ => &[],
        };
        [self.credential_env(mode), self.model_env(mode)]
            .into_iter()
            .flatten()
            .chain(more.iter().map(|(v, _)| *v))
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
    pub fn seeds(self, workdir: Option<&str>) -> Vec<Seed> {
        match self {
            AgentKind::Codex => codex::seeds(workdir),
            AgentKind::Claude
            | AgentKind::Kimi
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
            AgentKind::KimiCode | AgentKind::Kimi => kimi_code::model_env(mode),
            AgentKind::Claude
            | AgentKind::Codex
            | AgentKind::Amp
            | AgentKind::Opencode
            | AgentKind::Grok => None,
        }
    }
}

/// What a file jackin makes (rather than copies) is made from, for one agent of one instance.
#[derive(Debug, Clone, Copy, Default)]
pub struct Made<'a> {
    pub workdir: Option<&'a str>,
    /// The credential the mode passes (api_key: the key), when set.
    pub credential: Option<&'a str>,
    /// The account block of the host's copy of the agent's [`SharedDoc`] (sync).
    pub account: Option<&'a serde_json::Value>,
    /// Whether jackin's copy of the host login is recorded in the ledger.
    pub forwarded_login: bool,
}

impl AgentKind {
    /// The files jackin makes in this agent's handoff in `mode` (SPEC v3 §3a), by path: they
    /// follow the three-way rule like a host file, with this content as the host side.
    pub fn made(self, mode: AuthMode, from: &Made<'_>) -> Vec<(&'static str, Content)> {
        match self {
            AgentKind::Claude => vec![(
                ".claude.json",
                Content::Keys(claude::owned_keys(
                    mode,
                    from.workdir,
                    from.account,
                    from.credential,
                    from.forwarded_login,
                )),
            )],
            AgentKind::Codex => codex::api_key_login(mode, from.credential)
                .map(|bytes| ("auth.json", Content::Bytes(bytes)))
                .into_iter()
                .collect(),
            AgentKind::Kimi
            | AgentKind::Amp
            | AgentKind::Opencode
            | AgentKind::Grok
            | AgentKind::KimiCode => Vec::new(),
        }
    }

    /// Whether the agent stops on a folder-trust question unless jackin marks the instance's
    /// workdir as trusted (claude: SPEC v3 §3a; codex 0.163 did not ask in a non-git folder,
    /// docs/real-clients.md), so a missing workdir is worth a warning.
    pub fn asks_trust_without_workdir(self) -> bool {
        self == AgentKind::Claude
    }

    /// The key of the [`SharedDoc`] that carries the login's account (claude's
    /// `oauthAccount`), forwarded in sync mode.
    pub fn account_key(self) -> Option<&'static str> {
        (self == AgentKind::Claude).then_some(claude::ACCOUNT_KEY)
    }
}

/// An agent as the command line names it (`jackin login WS claude`): the state file's names.
impl std::str::FromStr for AgentKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        AgentKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = AgentKind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown agent `{s}`; agents: {}", names.join(", "))
            })
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
    fn only_codex_seeds_a_file_and_never_one_it_syncs() {
        for kind in AgentKind::ALL {
            let paths: Vec<&str> = kind.seeds(Some("/w")).iter().map(|s| s.path).collect();
            let expected: &[&str] = if kind == AgentKind::Codex {
                &["config.toml"]
            } else {
                &[]
            };
            assert_eq!(paths, expected, "{kind}");
            for p in paths {
                assert!(!kind.is_entry(p), "{kind} {p}");
            }
        }
        assert!(AgentKind::Codex.seeds(None).is_empty());
    }

    #[test]
    fn claude_shares_its_json_in_every_mode_and_codex_makes_its_login_in_api_key_mode() {
        let from = Made {
            workdir: Some("/w"),
            credential: Some("sk-1"),
            ..Made::default()
        };
        for kind in AgentKind::ALL {
            for mode in kind.supported_modes() {
                let made: Vec<&str> = kind.made(mode, &from).iter().map(|(p, _)| *p).collect();
                let expected: &[&str] = match (kind, mode) {
                    (AgentKind::Claude, _) => &[".claude.json"],
                    (AgentKind::Codex, AuthMode::ApiKey) => &["auth.json"],
                    _ => &[],
                };
                assert_eq!(made, expected, "{kind} {mode}");
            }
        }
    }

    #[test]
    fn lock_files_in_a_login_tree_are_never_synced() {
        let creds = AgentKind::Kimi.info().entries[1];
        assert!(creds.tree && creds.skips(b"kimi-code.lock"));
        assert!(!creds.skips(b"kimi-code.json"));
    }

    #[test]
    fn only_the_kimi_clients_in_api_key_mode_take_their_model_from_env() {
        for kind in AgentKind::ALL {
            for mode in kind.supported_modes() {
                let kimi = matches!(kind, AgentKind::KimiCode | AgentKind::Kimi);
                let expected = (kimi && mode == AuthMode::ApiKey).then_some("KIMI_MODEL_NAME");
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
