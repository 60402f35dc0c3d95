//! The desired state: one resolved spec per instance (workspace × role), with provenance.
//!
//! Resolution turns the operator's layered file into flat facts the planner can compare:
//! which agents get credentials and in which mode (and which scope said so), the container's
//! env (and which layer set each var), mounts, command and image. Secret values are held in
//! [`Secret`], whose `Debug`/`Display` never show them.

mod env;
pub mod hosts;
mod resolve;
pub mod spec;
pub mod user;

pub use env::{resolve_env_value, EnvSource};
pub use resolve::{declare, declared_hosts, launched_agent, resolve, Declared, ResolveError};

use crate::agents::{AgentKind, AuthMode};
use crate::manifest::model::RestartPolicy;
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

/// A value that must never be printed: env values (jackin cannot know which are secret).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Which scope set an auth value (SPEC §2: workspace×role > workspace > global > default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "scope", content = "path")]
pub enum Scope {
    Default,
    Global(String),
    Workspace(String),
    Instance(String),
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Default => f.write_str("default"),
            Scope::Global(p) | Scope::Workspace(p) | Scope::Instance(p) => f.write_str(p),
        }
    }
}

/// Effective auth for one provisioned agent of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentAuth {
    pub agent: AgentKind,
    pub mode: AuthMode,
    pub mode_from: Scope,
    /// Sync source folder (absolute).
    pub source: PathBuf,
    pub source_from: Scope,
}

impl AgentAuth {
    /// What no scope sets: `sync` from the agent's default folder under `home`.
    pub fn default_for(agent: AgentKind, home: &std::path::Path) -> Self {
        AgentAuth {
            agent,
            mode: AuthMode::Sync,
            mode_from: Scope::Default,
            source: home.join(agent.info().default_source),
            source_from: Scope::Default,
        }
    }

    pub fn source_is_default(&self) -> bool {
        self.source_from == Scope::Default
    }
}

/// One resolved container env var.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    pub value: Secret,
    /// The layer that set it (`env`, `roles.R.env`, …) or `catalogue` for fixed agent env.
    pub layer: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct MountSpec {
    /// A path on this machine, or a volume's name when `volume`.
    pub src: PathBuf,
    pub dst: String,
    pub readonly: bool,
    /// A volume of the engine (the handoff on a host not on this machine, SPEC v3 §9), not a
    /// bind mount. Absent from a bind mount's label text, so existing spec hashes stand.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub volume: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    Pull(String),
    Build {
        context: PathBuf,
        dockerfile: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSpec {
    /// Container name (`jk-{workspace}-{role}`).
    pub name: String,
    pub workspace: String,
    pub role: String,
    /// The agent the container launches.
    pub agent: AgentKind,
    pub image: ImageSource,
    pub command: Vec<String>,
    pub env: BTreeMap<String, EnvVar>,
    /// Operator mounts, then one handoff directory mount per provisioned agent.
    pub mounts: Vec<MountSpec>,
    pub workdir: Option<String>,
    /// Who the container runs as; the handoff belongs to that user.
    pub user: user::UserSpec,
    /// Every agent the role lists, in role order: all get credentials provisioned.
    pub auth: Vec<AgentAuth>,
    /// The host it is placed on (a key of [`Desired::hosts`]; [`hosts::LOCAL`] by default).
    pub host: String,
}

impl InstanceSpec {
    /// On a host not on this machine no folder of `$JACKIN_HOME` can be mounted: each agent's
    /// handoff becomes a volume of that engine, at the same target.
    pub fn handoff_as_volumes(&mut self) {
        for a in &self.auth {
            let target = a.agent.info().target;
            if let Some(m) = self
                .mounts
                .iter_mut()
                .find(|m| m.dst == target && !m.volume)
            {
                m.src = hosts::volume_name(&self.name, a.agent).into();
                m.volume = true;
            }
        }
    }

    /// Whether its handoff is volumes of an engine not on this machine (SPEC v3 §9), put and
    /// read through that engine, rather than folders of `$JACKIN_HOME` bind-mounted there.
    pub fn handoff_is_remote(&self) -> bool {
        self.mounts.iter().any(|m| m.volume)
    }

    /// Its folder under `$JACKIN_HOME/data`: the ledger, and the handoff folders when they
    /// are mounted from here. The ledger of a handoff held by another engine is keyed by that
    /// host too (`NAME@HOST`), so an instance moved between hosts starts from what the new
    /// host's volume holds, not from what was forwarded to the old one.
    pub fn folder(&self) -> String {
        hosts::folder(&self.name, &self.host, self.handoff_is_remote())
    }

    /// The model the launch command passes with the agent's model flag, if it passes one.
    pub fn model_flag_value(&self) -> Option<&str> {
        let flag = self.agent.info().model_flag?;
        let at = self.command.iter().position(|a| a == flag)?;
        self.command.get(at + 1).map(String::as_str)
    }
}

#[derive(Debug, Clone)]
pub struct Desired {
    pub project: String,
    pub restart: RestartPolicy,
    /// Keyed by container name, so iteration (and so plans) are sorted.
    pub instances: BTreeMap<String, InstanceSpec>,
    /// The engines the instances are placed on; `local` is always there.
    pub hosts: hosts::Hosts,
    /// Non-fatal findings (e.g. an unset non-credential env reference).
    pub warnings: Vec<String>,
    /// Every `{ file = … }` env value read while resolving: `watch` watches them, so a rotated
    /// key reaches its containers without waiting for the resync.
    pub env_files: BTreeSet<PathBuf>,
}

impl Desired {
    /// The same state with only the instances placed on `host`: borrowed as it is when they all
    /// are (one host, the common case: nothing is copied on a no-op's path).
    pub fn on_host(&self, host: &str) -> std::borrow::Cow<'_, Desired> {
        if self.instances.values().all(|i| i.host == host) {
            return std::borrow::Cow::Borrowed(self);
        }
        std::borrow::Cow::Owned(Desired {
            project: self.project.clone(),
            restart: self.restart,
            instances: self
                .instances
                .iter()
                .filter(|(_, i)| i.host == host)
                .map(|(n, i)| (n.clone(), i.clone()))
                .collect(),
            hosts: self.hosts.clone(),
            warnings: self.warnings.clone(),
            env_files: self.env_files.clone(),
        })
    }

    /// The host the instance `container` is placed on ([`hosts::LOCAL`] for one not declared).
    pub fn host_of(&self, container: &str) -> &str {
        self.instances
            .get(container)
            .map_or(hosts::LOCAL, |i| i.host.as_str())
    }

    /// A redactor of every env value of every instance (all of them: jackin cannot know
    /// which are secret), for the engine's text.
    pub fn redactor(&self) -> crate::redact::Redactor {
        crate::redact::Redactor::new(
            self.instances
                .values()
                .flat_map(|i| i.env.values())
                .map(|v| v.value.expose().to_owned()),
        )
    }

    /// Keep only instances matching `--target WS[/ROLE]`.
    pub fn retain_target(&mut self, target: &Target) {
        self.instances
            .retain(|_, i| target.matches(&i.workspace, &i.role));
    }
}

/// `--target WS[/ROLE]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub workspace: String,
    pub role: Option<String>,
}

impl std::str::FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (ws, role) = match s.split_once('/') {
            Some((w, r)) => (w, Some(r.to_owned())),
            None => (s, None),
        };
        if ws.is_empty() || role.as_deref() == Some("") {
            return Err(format!("expected WORKSPACE or WORKSPACE/ROLE, got `{s}`"));
        }
        Ok(Target {
            workspace: ws.to_owned(),
            role,
        })
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.role {
            Some(r) => write!(f, "{}/{r}", self.workspace),
            None => f.write_str(&self.workspace),
        }
    }
}

impl Target {
    pub fn matches(&self, workspace: &str, role: &str) -> bool {
        self.workspace == workspace && self.role.as_deref().is_none_or(|r| r == role)
    }
}
