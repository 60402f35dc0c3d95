//! The desired-state file as written by the operator (SPEC §2): serde types only.
//!
//! Every struct denies unknown fields, and no `untagged`/`flatten` is used: those ruin error
//! messages. The two shorthand forms (`auth.codex = "api_key"`, `KEY = { file = "…" }`) have
//! hand-written visitors that delegate the table form to a derived struct.

use crate::agents::{AgentKind, AuthMode};
use schemars::JsonSchema;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Format version; must be `1`. Optional per file in a `-f DIR` set, required once merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// Owner label on every container. Default: name of the state file's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Settings>,
    /// The Docker engines instances can be placed on, besides `local` (the engine
    /// `DOCKER_HOST` names). Names follow workspace-name rules; `local` cannot be declared.
    #[serde(default)]
    pub hosts: BTreeMap<String, HostDecl>,
    /// GLOBAL auth scope, one entry per agent.
    #[serde(default)]
    pub auth: AuthTable,
    /// GLOBAL operator env layer.
    #[serde(default)]
    pub env: BTreeMap<String, EnvValue>,
    #[serde(default)]
    pub roles: BTreeMap<String, Role>,
    #[serde(default)]
    pub workspaces: BTreeMap<String, Workspace>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub restart: RestartPolicy,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Restart a container when this apply changed its handoff files.
    #[default]
    OnHandoffChange,
    /// Never restart because of handoff changes.
    Never,
}

/// One optional auth entry per catalogue agent. Explicit fields (not a map) so an unknown
/// agent name is an unknown key with a suggestion, like every other typo.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthTable {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kimi: Option<AuthSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claude: Option<AuthSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codex: Option<AuthSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amp: Option<AuthSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opencode: Option<AuthSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grok: Option<AuthSpec>,
    #[serde(rename = "kimi-code", default, skip_serializing_if = "Option::is_none")]
    pub kimi_code: Option<AuthSpec>,
}

impl AuthTable {
    pub fn get(&self, agent: AgentKind) -> Option<&AuthSpec> {
        match agent {
            AgentKind::Kimi => self.kimi.as_ref(),
            AgentKind::Claude => self.claude.as_ref(),
            AgentKind::Codex => self.codex.as_ref(),
            AgentKind::Amp => self.amp.as_ref(),
            AgentKind::Opencode => self.opencode.as_ref(),
            AgentKind::Grok => self.grok.as_ref(),
            AgentKind::KimiCode => self.kimi_code.as_ref(),
        }
    }

    /// The declared entries, in catalogue order.
    pub fn iter(&self) -> impl Iterator<Item = (AgentKind, &AuthSpec)> {
        AgentKind::ALL
            .into_iter()
            .filter_map(|a| self.get(a).map(|s| (a, s)))
    }
}

/// `auth.<agent>`: either a table or the shorthand string `"api_key"`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthSpecTable {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<AuthMode>,
    /// Sync source folder (the agent's own directory, never a replacement `$HOME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Serialised untagged for the schema only; deserialised by hand so errors stay precise.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum AuthSpec {
    /// Shorthand: `auth.codex = "api_key"`.
    Mode(AuthMode),
    Table(AuthSpecTable),
}

impl AuthSpec {
    pub fn mode(&self) -> Option<AuthMode> {
        match self {
            AuthSpec::Mode(m) => Some(*m),
            AuthSpec::Table(t) => t.mode,
        }
    }

    pub fn source(&self) -> Option<&str> {
        match self {
            AuthSpec::Mode(_) => None,
            AuthSpec::Table(t) => t.source.as_deref(),
        }
    }
}

impl<'de> Deserialize<'de> for AuthSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AuthSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an auth mode string (sync, api_key, oauth_token, ignore) or a table with `mode` and `source`")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<AuthSpec, E> {
                AuthMode::deserialize(de::value::StrDeserializer::<E>::new(s)).map(AuthSpec::Mode)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AuthSpec, A::Error> {
                AuthSpecTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(AuthSpec::Table)
            }
        }
        d.deserialize_any(V)
    }
}

/// An env value: `"literal"`, `"$NAME"`/`"${NAME}"` (jackin's own environment) or
/// `{ file = "path" }` (file contents, trailing newline trimmed).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum EnvValue {
    Value(String),
    File(EnvFile),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvFile {
    pub file: String,
}

impl<'de> Deserialize<'de> for EnvValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EnvValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a table `{ file = \"path\" }`")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<EnvValue, E> {
                Ok(EnvValue::Value(s.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<EnvValue, A::Error> {
                EnvFile::deserialize(de::value::MapAccessDeserializer::new(map)).map(EnvValue::File)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Build {
    /// Build context folder, relative to the declaring file.
    pub context: String,
    #[serde(default = "default_dockerfile")]
    pub dockerfile: String,
}

fn default_dockerfile() -> String {
    "Dockerfile".to_owned()
}

/// Per-role settings for one agent (`[roles.R.kimi]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentSettings {
    /// Passed with the agent's model flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// Image reference; exactly one of `image` and `build`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<Build>,
    /// Credentials are provisioned for all of them; the first is launched by default.
    #[serde(default)]
    pub agents: Vec<AgentKind>,
    /// Optional container user (`uid:gid` or name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, EnvValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kimi: Option<AgentSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claude: Option<AgentSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codex: Option<AgentSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amp: Option<AgentSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opencode: Option<AgentSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grok: Option<AgentSettings>,
    /// `[roles.R.kimi-code]`. In api_key mode its `model` is passed as `KIMI_MODEL_NAME`.
    #[serde(rename = "kimi-code", default, skip_serializing_if = "Option::is_none")]
    pub kimi_code: Option<AgentSettings>,
}

/// The host an instance is placed on when neither its workspace nor the instance names one:
/// the engine `DOCKER_HOST` names, as with the docker CLI. Not declarable under `[hosts]`.
pub const LOCAL: &str = "local";

/// `[hosts.NAME]`: one Docker engine, reached as the docker CLI reaches it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostDecl {
    /// The engine's address, as `DOCKER_HOST` would say it: `ssh://user@host` (the system
    /// `ssh` and the remote `docker system dial-stdio`), `tcp://host:port`, `https://host:port`
    /// or `unix:///path/to/docker.sock`.
    pub docker: String,
    /// Client certificates for a `tcp://` or `https://` engine that wants them (paths: `~` and
    /// relative to the declaring file allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsDecl>,
}

/// `tls = { ca = "…", cert = "…", key = "…" }`: the files `DOCKER_CERT_PATH` would hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsDecl {
    /// The CA certificate the engine's certificate is checked against (`ca.pem`).
    pub ca: String,
    /// The client certificate (`cert.pem`).
    pub cert: String,
    /// The client certificate's private key (`key.pem`).
    pub key: String,
}

/// Which table set an instance's value (SPEC §2): an instance's own beats its workspace's,
/// which beats the global one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Global,
    Workspace,
    Instance,
}

/// No env table declared (a role the state file does not define, reported by validate).
static NO_ENV: BTreeMap<String, EnvValue> = BTreeMap::new();

/// The one place the precedence of an instance's tables is written down: validate, resolve
/// and status read it from here.
impl Manifest {
    /// The auth tables of instance `ws` × `role`, highest precedence first, each with its
    /// level and key path (`["workspaces", ws, "roles", role, "auth"]`, …).
    pub fn auth_scopes<'m>(
        &'m self,
        ws: &str,
        role: &str,
    ) -> [(&'m AuthTable, Level, Vec<String>); 3] {
        let w = &self.workspaces[ws];
        let path = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect();
        [
            (
                &w.roles[role].auth,
                Level::Instance,
                path(&["workspaces", ws, "roles", role, "auth"]),
            ),
            (&w.auth, Level::Workspace, path(&["workspaces", ws, "auth"])),
            (&self.auth, Level::Global, path(&["auth"])),
        ]
    }

    /// The host instance `ws` × `role` is placed on, and the key path that says so: the
    /// instance's `host`, else its workspace's, else [`LOCAL`] (with an empty path).
    pub fn host_of<'m>(&'m self, ws: &str, role: &str) -> (&'m str, Vec<String>) {
        let w = &self.workspaces[ws];
        let path = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect();
        match (&w.roles[role].host, &w.host) {
            (Some(h), _) => (h, path(&["workspaces", ws, "roles", role, "host"])),
            (None, Some(h)) => (h, path(&["workspaces", ws, "host"])),
            (None, None) => (LOCAL, Vec::new()),
        }
    }

    /// The env tables of instance `ws` × `role`, in the order a later one wins (global, role,
    /// workspace, instance), each with its key path.
    pub fn env_layers<'m>(
        &'m self,
        ws: &str,
        role: &str,
    ) -> [(Vec<String>, &'m BTreeMap<String, EnvValue>); 4] {
        let w = &self.workspaces[ws];
        let path = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect();
        let role_env = self.roles.get(role).map_or(&NO_ENV, |r| &r.env);
        [
            (path(&["env"]), &self.env),
            (path(&["roles", role, "env"]), role_env),
            (path(&["workspaces", ws, "env"]), &w.env),
            (
                path(&["workspaces", ws, "roles", role, "env"]),
                &w.roles[role].env,
            ),
        ]
    }
}

impl Role {
    pub fn agent_settings(&self, agent: AgentKind) -> Option<&AgentSettings> {
        match agent {
            AgentKind::Kimi => self.kimi.as_ref(),
            AgentKind::Claude => self.claude.as_ref(),
            AgentKind::Codex => self.codex.as_ref(),
            AgentKind::Amp => self.amp.as_ref(),
            AgentKind::Opencode => self.opencode.as_ref(),
            AgentKind::Grok => self.grok.as_ref(),
            AgentKind::KimiCode => self.kimi_code.as_ref(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mount {
    /// Host path (`~` and paths relative to the declaring file allowed).
    pub src: String,
    /// Absolute container path.
    pub dst: String,
    #[serde(default)]
    pub readonly: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Workspace {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    #[serde(default)]
    pub mounts: Vec<Mount>,
    /// Agent the containers launch (default: the role's first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentKind>,
    /// The host its instances are placed on: a `[hosts.NAME]` or `local` (the default, the
    /// engine `DOCKER_HOST` names). An instance's own `host` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// WORKSPACE auth scope.
    #[serde(default)]
    pub auth: AuthTable,
    #[serde(default)]
    pub env: BTreeMap<String, EnvValue>,
    /// Each entry declares the instance (workspace × role).
    #[serde(default)]
    pub roles: BTreeMap<String, InstanceDecl>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceDecl {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentKind>,
    /// The host this instance is placed on (a `[hosts.NAME]` or `local`), over its
    /// workspace's `host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// WORKSPACE × ROLE auth scope.
    #[serde(default)]
    pub auth: AuthTable,
    #[serde(default)]
    pub env: BTreeMap<String, EnvValue>,
}
