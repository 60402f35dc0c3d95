//! The engines one state drives (SPEC v3 §9): `local`, the engine `DOCKER_HOST` names, and each
//! `[hosts.NAME]` of the state file. An instance is placed on exactly one of them.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The host every instance is placed on unless its workspace (or workspace × role) says
/// otherwise: the engine `DOCKER_HOST` names, as with the docker CLI. The state file's word,
/// so the manifest owns it.
pub use crate::manifest::model::LOCAL;

/// One engine, as jackin reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// `local`, or the `NAME` of `[hosts.NAME]`.
    pub name: String,
    /// The address as `DOCKER_HOST` would say it: `unix:///…`, `tcp://…`, `ssh://…`.
    pub docker: String,
    /// Client certificates for a `tcp://` engine that wants them (paths resolved).
    pub tls: Option<Tls>,
}

/// The files a TLS-protected engine is reached with (as `DOCKER_CERT_PATH` holds them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Every host of one state, by name; `local` is always there.
pub type Hosts = BTreeMap<String, Host>;

/// The folder under `$JACKIN_HOME/data` of instance `container` on `host`: the container's
/// name when its handoff is mounted from this machine, `NAME@HOST` when it is held by that
/// host's engine (see [`super::InstanceSpec::folder`]).
pub fn folder(container: &str, host: &str, remote: bool) -> String {
    if remote {
        format!("{container}@{host}")
    } else {
        container.to_owned()
    }
}

/// The volume that holds an instance × agent's handoff on an engine not on this machine.
pub fn volume_name(container: &str, agent: crate::agents::AgentKind) -> String {
    format!("{container}-{}", agent.name())
}

impl Host {
    /// Whether the engine runs on this machine, so it can bind-mount a folder of
    /// `$JACKIN_HOME` (the fast path); elsewhere the handoff is a volume of that engine.
    pub fn on_this_machine(&self) -> bool {
        crate::runtime::remote_reason(&self.docker).is_none()
    }

    /// Connect to this host's engine.
    pub async fn connect(
        &self,
        redactor: crate::redact::Redactor,
    ) -> Result<crate::runtime::Runtime, crate::runtime::RuntimeError> {
        let tls = self.tls.as_ref().map(|t| crate::runtime::TlsFiles {
            ca: &t.ca,
            cert: &t.cert,
            key: &t.key,
        });
        crate::runtime::Runtime::connect_to(&self.docker, tls, redactor).await
    }

    /// `name (address)`, as errors name a host.
    pub fn describe(&self) -> String {
        format!("{} ({})", self.name, self.docker)
    }

    /// The default host: what `DOCKER_HOST` names.
    pub fn local() -> Host {
        Host {
            name: LOCAL.to_owned(),
            docker: crate::runtime::docker_host(),
            tls: None,
        }
    }
}
