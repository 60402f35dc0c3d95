//! The container runtime: the one module that talks to Docker (through bollard).
//!
//! [`Engine`] is what a reconcile asks of an engine (observe, the executor); sessions
//! (`session.rs`) stream a process's terminal; `locality.rs` says whether `DOCKER_HOST` is on
//! this machine. The runtime negotiates the API version with the engine (Debian's engine speaks an older API than
//! bollard's default), counts API calls so benchmarks can show a no-op costs O(1) of them,
//! and maps failures to coded errors. It makes no decisions.

mod engine;
#[cfg(test)]
pub mod fake;
mod locality;
mod negotiate;
mod session;
mod ssh;
mod transport;

pub use engine::Engine;
pub use locality::{docker_host, remote_reason};
pub use session::{ExecState, Output, OutputStream, Session};
pub use transport::{PathStat, TlsFiles};

use crate::error::{Code, Coded};
use crate::redact::Redactor;
use crate::remote::{Found, RemoteError};
use crate::words::{labels, Owner, RelPath};
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountTypeEnum, MountVolumeOptions};
use bollard::query_parameters::{
    BuildImageOptions, CreateContainerOptions, CreateImageOptions, EventsOptionsBuilder,
    InspectContainerOptions, ListContainersOptions, RemoveContainerOptions,
    RestartContainerOptions, StartContainerOptions, StopContainerOptions, WaitContainerOptions,
};
use bollard::Docker;
use futures_util::{Stream, StreamExt};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Seconds a container gets to stop before it is killed (its agent runs under Docker's init).
const STOP_GRACE_SECS: i32 = 10;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot reach the Docker engine at {host}: {detail}")]
    Unreachable { host: String, detail: String },
    /// `detail` is the engine's text, already redacted.
    #[error("docker {op} failed: {detail}")]
    Api { op: String, detail: String },
    #[error("image {image} is not present and could not be pulled: {reason}")]
    Pull { image: String, reason: String },
    #[error("building image {image} failed: {reason}")]
    Build { image: String, reason: String },
}

impl Coded for RuntimeError {
    fn code(&self) -> Code {
        match self {
            RuntimeError::Unreachable { .. } => Code::E020,
            RuntimeError::Api { .. } => Code::E021,
            RuntimeError::Pull { .. } => Code::E023,
            RuntimeError::Build { .. } => Code::E024,
        }
    }
    fn hint(&self) -> Option<String> {
        Some(match self {
            RuntimeError::Unreachable { .. } => {
                "start the Docker engine, or point DOCKER_HOST at a running one (as with the docker CLI)".into()
            }
            RuntimeError::Api { .. } => "check the engine's logs; rerun apply to finish the job".into(),
            RuntimeError::Pull { image, .. } => format!(
                "build or load {image} locally (docker build/import/load), or fix the image reference"
            ),
            RuntimeError::Build { .. } => "fix the Dockerfile or the build context of the role".into(),
        })
    }
}

/// What one filtered list tells us about a container, without an inspect.
#[derive(Debug, Clone)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub labels: HashMap<String, String>,
    pub running: bool,
    pub state: String,
    /// Docker's own words for it (`Up 3 minutes`, `Exited (137) 2 minutes ago`).
    pub status: String,
    /// The image as the list names it (its ID when the tag moved since the create).
    pub image: String,
}

/// Everything needed to create one container. `env` holds secret values: never log it.
#[derive(Clone)]
pub struct ContainerConfig {
    pub name: String,
    pub image: String,
    pub command: Vec<String>,
    pub env: Vec<String>,
    pub labels: HashMap<String, String>,
    pub mounts: Vec<MountConfig>,
    pub workdir: Option<String>,
    pub user: Option<String>,
}

/// One mount of a new container: a bind mount of a path on the engine's machine, or a named
/// volume (created by the engine with `labels` when it does not exist).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountConfig {
    pub source: String,
    pub target: String,
    pub readonly: bool,
    /// `Some(labels)`: a volume.
    pub volume: Option<HashMap<String, String>>,
}

/// What one image inspect tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub id: String,
    /// The image's `USER` (empty: root).
    pub user: String,
}

/// What `doctor` reports about the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineVersion {
    /// The engine's release (`27.5.1`).
    pub engine: String,
    /// The highest API version the engine speaks (`1.47`).
    pub api: String,
    /// The API version jackin talks to it with.
    pub negotiated: String,
}

/// One engine event about a container (`die`, `stop`, `destroy`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerEvent {
    pub action: String,
    /// The container's name (its ID when the engine sent no name).
    pub container: String,
}

/// One message of the engine's pull stream: a layer (or the tag), its state, and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullUpdate {
    pub layer: Option<String>,
    pub status: String,
    pub current: Option<u64>,
    pub total: Option<u64>,
}

/// What one inspect tells about the container an operator opens a session with.
#[derive(Debug, Clone)]
pub struct ContainerDetails {
    pub id: String,
    pub labels: HashMap<String, String>,
    pub running: bool,
    /// `created`, `running`, `exited`, … (the engine's word).
    pub state: String,
    /// The main process's exit code once it has exited.
    pub exit_code: Option<i64>,
    /// When the main process last started and stopped (RFC 3339, the engine's words; a
    /// never-stopped container's `finished_at` is the zero time).
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

pub struct Runtime {
    docker: Docker,
    /// For what bollard has no call for (a path's stat).
    raw: transport::Raw,
    calls: AtomicUsize,
    /// Every piece of engine text passes it before it can reach output.
    redactor: Redactor,
}

impl Runtime {
    /// Connect to the engine `DOCKER_HOST` names (the host `local`) and agree on the API
    /// version. Engine text in errors passes `redactor`.
    pub async fn connect(redactor: Redactor) -> Result<Self, RuntimeError> {
        Self::connect_to(&docker_host(), None, redactor).await
    }

    /// Connect to the engine at `address` (as `DOCKER_HOST` says it; `tls`: with client
    /// certificates) and agree on the API version (one request).
    pub async fn connect_to(
        address: &str,
        tls: Option<TlsFiles<'_>>,
        redactor: Redactor,
    ) -> Result<Self, RuntimeError> {
        let unreachable = |detail: &str| RuntimeError::Unreachable {
            detail: redactor.redact(detail),
            host: address.to_owned(),
        };
        let (docker, raw) = negotiate::connect(address, tls)
            .await
            .map_err(|detail| unreachable(&detail))?;
        Ok(Runtime {
            docker,
            raw,
            calls: AtomicUsize::new(1),
            redactor,
        })
    }

    /// The names of `project`'s volumes (handoffs on an engine not on this machine).
    pub async fn project_volumes(&self, project: &str) -> Result<Vec<String>, RuntimeError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let listed = crate::remote::list_volumes(&self.docker, project).await;
        let listed = listed.map_err(|e| self.remote_error("list volumes", &e))?;
        Ok(listed.into_iter().map(|(name, _)| name).collect())
    }

    /// Remove volume `name`, only when its labels say it is `project`'s.
    pub async fn remove_volume(&self, name: &str, project: &str) -> Result<(), RuntimeError> {
        self.calls.fetch_add(2, Ordering::Relaxed);
        let removed = crate::remote::remove_volume(&self.docker, name, project).await;
        removed.map_err(|e| self.remote_error(&format!("remove volume {name}"), &e))
    }

    /// The handoff volume mounted at `target` in container `id`, reached through this engine.
    fn volume(&self, id: &str, target: &str) -> crate::remote::RemoteHandoff<'_> {
        crate::remote::RemoteHandoff {
            docker: &self.docker,
            container: id.to_owned(),
            target: target.to_owned(),
        }
    }

    /// `e` with the engine's text passed through the redactor.
    fn redacted(&self, e: RemoteError) -> RemoteError {
        let r = |t: String| self.redactor.redact(&t);
        match e {
            RemoteError::Api { op, detail } => RemoteError::Api {
                op,
                detail: r(detail),
            },
            RemoteError::Protocol { op, detail } => RemoteError::Protocol {
                op,
                detail: r(detail),
            },
            other => other,
        }
    }

    fn remote_error(&self, op: &str, e: &crate::remote::RemoteError) -> RuntimeError {
        RuntimeError::Api {
            op: op.to_owned(),
            detail: self.redactor.redact(&e.to_string()),
        }
    }

    /// The engine's version, its API version and the API version negotiated with it.
    pub async fn version(&self) -> Result<EngineVersion, RuntimeError> {
        let v = self.count("version", self.docker.version().await)?;
        let client = self.docker.client_version();
        Ok(EngineVersion {
            engine: v.version.unwrap_or_default(),
            api: v.api_version.unwrap_or_default(),
            negotiated: format!("{}.{}", client.major_version, client.minor_version),
        })
    }

    fn api_error(&self, op: &str, e: &bollard::errors::Error) -> RuntimeError {
        RuntimeError::Api {
            op: op.to_owned(),
            detail: self.redactor.redact(&e.to_string()),
        }
    }

    fn count<T>(&self, op: &str, r: Result<T, bollard::errors::Error>) -> Result<T, RuntimeError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        r.map_err(|e| self.api_error(op, &e))
    }

    /// Like [`Self::count`], with the engine's 404 as `None`: an inspect of something absent.
    fn count_found<T>(
        &self,
        op: &str,
        r: Result<T, bollard::errors::Error>,
    ) -> Result<Option<T>, RuntimeError> {
        match r {
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                self.calls.fetch_add(1, Ordering::Relaxed);
                Ok(None)
            }
            r => self.count(op, r).map(Some),
        }
    }

    /// One small text file from a container's filesystem (empty when absent).
    async fn read_file(&self, id: &str, path: &str) -> Result<String, RuntimeError> {
        const CAP: usize = 1 << 20;
        let opts = bollard::query_parameters::DownloadFromContainerOptionsBuilder::new()
            .path(path)
            .build();
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut stream = self.docker.download_from_container(id, Some(opts));
        let mut tar_bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(b) if tar_bytes.len() + b.len() <= CAP + 4096 => tar_bytes.extend_from_slice(&b),
                Ok(_) => break,
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => return Ok(String::new()),
                Err(e) => return Err(self.api_error(&format!("read {path}"), &e)),
            }
        }
        let mut archive = tar::Archive::new(tar_bytes.as_slice());
        let mut text = String::new();
        if let Some(Ok(entry)) = archive.entries().ok().and_then(|mut e| e.next()) {
            use std::io::Read;
            let _ = entry.take(CAP as u64).read_to_string(&mut text);
        }
        Ok(text)
    }

    /// The engine's event stream for containers carrying `label` (`key=value`), limited to
    /// `actions`. It ends, or yields an error, when the engine goes away; the caller decides
    /// whether and when to reconnect.
    pub fn container_events(
        &self,
        label: &str,
        actions: &[&str],
    ) -> impl Stream<Item = Result<ContainerEvent, RuntimeError>> + '_ {
        let filters = HashMap::from([
            ("type", vec!["container".to_owned()]),
            ("label", vec![label.to_owned()]),
            ("event", actions.iter().map(|a| (*a).to_owned()).collect()),
        ]);
        let opts = EventsOptionsBuilder::new().filters(&filters).build();
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.docker.events(Some(opts)).map(|item| {
            let msg = item.map_err(|e| self.api_error("events", &e))?;
            let actor = msg.actor.unwrap_or_default();
            let container = actor
                .attributes
                .and_then(|mut a| a.remove("name"))
                .or(actor.id)
                .unwrap_or_default();
            Ok(ContainerEvent {
                action: msg.action.unwrap_or_default(),
                container,
            })
        })
    }
}

impl Engine for Runtime {
    fn api_calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    async fn list_containers(
        &self,
        filters: &[(&str, &str)],
    ) -> Result<Vec<ContainerInfo>, RuntimeError> {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in filters {
            map.entry((*k).to_owned())
                .or_default()
                .push((*v).to_owned());
        }
        let opts = ListContainersOptions {
            all: true,
            filters: Some(map),
            ..Default::default()
        };
        let list = self.count(
            "list containers",
            self.docker.list_containers(Some(opts)).await,
        )?;
        Ok(list
            .into_iter()
            .map(|c| {
                let state = c.state.map(|s| s.to_string()).unwrap_or_default();
                ContainerInfo {
                    id: c.id.unwrap_or_default(),
                    name: c
                        .names
                        .and_then(|n| n.into_iter().next())
                        .map(|n| n.trim_start_matches('/').to_owned())
                        .unwrap_or_default(),
                    labels: c.labels.unwrap_or_default(),
                    running: state == "running",
                    state,
                    status: c.status.unwrap_or_default(),
                    image: c.image.unwrap_or_default(),
                }
            })
            .collect())
    }

    async fn image(&self, reference: &str) -> Result<Option<ImageInfo>, RuntimeError> {
        let r = self.docker.inspect_image(reference).await;
        Ok(self
            .count_found("inspect image", r)?
            .map(|inspect| ImageInfo {
                id: inspect.id.unwrap_or_default(),
                user: inspect.config.and_then(|c| c.user).unwrap_or_default(),
            }))
    }

    async fn image_user_files(&self, image: &str) -> Result<(String, String), RuntimeError> {
        let body = ContainerCreateBody {
            image: Some(image.to_owned()),
            cmd: Some(vec!["/jackin-never-started".to_owned()]),
            entrypoint: Some(vec![]),
            labels: Some(HashMap::from([(
                "jackin.probe".to_owned(),
                "passwd".to_owned(),
            )])),
            ..Default::default()
        };
        let created = self.count(
            "create container (reading /etc/passwd)",
            self.docker
                .create_container(None::<CreateContainerOptions>, body)
                .await,
        )?;
        let mut out = Vec::new();
        let mut result = Ok(());
        for path in ["/etc/passwd", "/etc/group"] {
            match self.read_file(&created.id, path).await {
                Ok(text) => out.push(text),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        let opts = RemoveContainerOptions {
            force: true,
            ..Default::default()
        };
        let removed = self.docker.remove_container(&created.id, Some(opts)).await;
        self.count("remove container", removed)?;
        result?;
        let group = out.pop().unwrap_or_default();
        Ok((out.pop().unwrap_or_default(), group))
    }

    async fn pull(
        &self,
        reference: &str,
        mut progress: impl FnMut(PullUpdate),
    ) -> Result<(), RuntimeError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let opts = CreateImageOptions {
            from_image: Some(reference.to_owned()),
            ..Default::default()
        };
        let mut stream = self.docker.create_image(Some(opts), None, None);
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(e) = info.error {
                        return Err(RuntimeError::Pull {
                            image: reference.to_owned(),
                            reason: self.redactor.redact(&e),
                        });
                    }
                    if let Some(status) = info.status {
                        let detail = info.progress_detail.unwrap_or_default();
                        let bytes = |n: Option<i64>| n.and_then(|n| u64::try_from(n).ok());
                        progress(PullUpdate {
                            layer: info.id,
                            status,
                            current: bytes(detail.current),
                            total: bytes(detail.total),
                        });
                    }
                }
                Err(e) => {
                    return Err(RuntimeError::Pull {
                        image: reference.to_owned(),
                        reason: self.redactor.redact(&e.to_string()),
                    })
                }
            }
        }
        Ok(())
    }

    async fn build(
        &self,
        context_tar: Vec<u8>,
        dockerfile: &str,
        tag: &str,
    ) -> Result<(), RuntimeError> {
        let fail = |reason: String| RuntimeError::Build {
            image: tag.to_owned(),
            reason: self.redactor.redact(&reason),
        };
        let body = context_tar;
        let opts = BuildImageOptions {
            dockerfile: dockerfile.to_owned(),
            t: Some(tag.to_owned()),
            rm: true,
            forcerm: true,
            ..Default::default()
        };
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut stream = self.docker.build_image(
            opts,
            None,
            Some(bollard::body_full(bytes::Bytes::from(body))),
        );
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| fail(e.to_string()))?;
            if let Some(e) = info.error {
                return Err(fail(e));
            }
        }
        Ok(())
    }

    async fn create(&self, cfg: &ContainerConfig) -> Result<String, RuntimeError> {
        let mounts = cfg
            .mounts
            .iter()
            .map(|m| Mount {
                source: Some(m.source.clone()),
                target: Some(m.target.clone()),
                typ: Some(if m.volume.is_some() {
                    MountTypeEnum::VOLUME
                } else {
                    MountTypeEnum::BIND
                }),
                read_only: Some(m.readonly),
                volume_options: m.volume.as_ref().map(|labels| MountVolumeOptions {
                    labels: Some(labels.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect();
        let body = ContainerCreateBody {
            image: Some(cfg.image.clone()),
            cmd: Some(cfg.command.clone()),
            env: Some(cfg.env.clone()),
            labels: Some(cfg.labels.clone()),
            working_dir: cfg.workdir.clone(),
            user: cfg.user.clone(),
            tty: Some(true),
            open_stdin: Some(true),
            attach_stdin: Some(false),
            host_config: Some(HostConfig {
                init: Some(true),
                mounts: Some(mounts),
                ..Default::default()
            }),
            ..Default::default()
        };
        let opts = CreateContainerOptions {
            name: Some(cfg.name.clone()),
            ..Default::default()
        };
        let op = format!("create container {}", cfg.name);
        let created = self.count(&op, self.docker.create_container(Some(opts), body).await)?;
        Ok(created.id)
    }

    async fn start(&self, id: &str) -> Result<(), RuntimeError> {
        let r = self
            .docker
            .start_container(id, None::<StartContainerOptions>)
            .await;
        self.count(&format!("start container {id}"), r)
    }

    async fn stop(&self, id: &str) -> Result<(), RuntimeError> {
        let opts = StopContainerOptions {
            t: Some(STOP_GRACE_SECS),
            ..Default::default()
        };
        match self.docker.stop_container(id, Some(opts)).await {
            // 304: already stopped.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => {
                self.calls.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            r => self.count(&format!("stop container {id}"), r),
        }
    }

    async fn remove(&self, id: &str) -> Result<(), RuntimeError> {
        let opts = RemoveContainerOptions {
            force: true,
            ..Default::default()
        };
        let r = self.docker.remove_container(id, Some(opts)).await;
        self.count(&format!("remove container {id}"), r)
    }

    async fn restart(&self, id: &str) -> Result<(), RuntimeError> {
        let opts = RestartContainerOptions {
            t: Some(STOP_GRACE_SECS),
            ..Default::default()
        };
        let r = self.docker.restart_container(id, Some(opts)).await;
        self.count(&format!("restart container {id}"), r)
    }

    async fn inspect_container(
        &self,
        name: &str,
    ) -> Result<Option<ContainerDetails>, RuntimeError> {
        let r = self
            .docker
            .inspect_container(name, None::<InspectContainerOptions>)
            .await;
        let Some(c) = self.count_found(&format!("inspect container {name}"), r)? else {
            return Ok(None);
        };
        let state = c.state.unwrap_or_default();
        Ok(Some(ContainerDetails {
            id: c.id.unwrap_or_default(),
            labels: c.config.and_then(|c| c.labels).unwrap_or_default(),
            running: state.running.unwrap_or(false),
            state: state.status.map(|s| s.to_string()).unwrap_or_default(),
            exit_code: state.exit_code,
            started_at: state.started_at,
            finished_at: state.finished_at,
        }))
    }

    async fn wait_for_stop(&self, container: &str, within: std::time::Duration) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut wait = self
            .docker
            .wait_container(container, Some(WaitContainerOptions::default()));
        // Any answer (an exit code, or bollard's error for a non-zero one) means it stopped.
        let _ = tokio::time::timeout(within, wait.next()).await;
    }

    async fn handoff_read(
        &self,
        id: &str,
        target: &str,
        rel: &RelPath,
    ) -> Result<Found, RemoteError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let read = self.volume(id, target).read(rel).await;
        read.map_err(|e| self.redacted(e))
    }

    async fn handoff_stat(
        &self,
        id: &str,
        target: &str,
        rel: &RelPath,
    ) -> Result<Option<PathStat>, RemoteError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let path = self.volume(id, target).path(rel);
        self.raw.stat(id, &path).await.map_err(|detail| {
            self.redacted(RemoteError::Api {
                op: format!("stat {path}"),
                detail,
            })
        })
    }

    async fn handoff_put(
        &self,
        id: &str,
        target: &str,
        rel: &RelPath,
        bytes: &[u8],
        owner: Owner,
    ) -> Result<(), RemoteError> {
        // A read (what is there), an inspect (running?), the upload, and a rename's exec.
        self.calls.fetch_add(4, Ordering::Relaxed);
        let (uid, gid) = (u64::from(owner.uid), u64::from(owner.gid));
        let put = self.volume(id, target).put(rel, bytes, uid, gid).await;
        put.map_err(|e| self.redacted(e))
    }

    async fn handoff_remove(
        &self,
        id: &str,
        target: &str,
        rel: &RelPath,
        owner: Owner,
    ) -> Result<(), RemoteError> {
        self.calls.fetch_add(2, Ordering::Relaxed);
        let (uid, gid) = (u64::from(owner.uid), u64::from(owner.gid));
        let removed = self.volume(id, target).remove(rel, uid, gid).await;
        removed.map_err(|e| self.redacted(e))
    }

    async fn remove_handoff_volumes(
        &self,
        project: &str,
        instance: &str,
    ) -> Result<(), RuntimeError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let listed = crate::remote::list_volumes(&self.docker, project).await;
        let listed = listed.map_err(|e| self.remote_error("list volumes", &e))?;
        let of = |l: &HashMap<String, String>| {
            l.get(labels::LABEL_INSTANCE).map(String::as_str) == Some(instance)
        };
        for (name, _) in listed.iter().filter(|(_, l)| of(l)) {
            self.remove_volume(name, project).await?;
        }
        Ok(())
    }

    async fn last_lines(&self, container: &str, lines: u64) -> Vec<String> {
        const MAX_BYTES: usize = 16 * 1024;
        let mut out: Vec<u8> = Vec::new();
        let mut stream = self.logs(container, false, Some(lines));
        while let Some(Ok(item)) = stream.next().await {
            if let Output::Stdout(b) | Output::Stderr(b) = item {
                out.extend_from_slice(&b);
            }
            if out.len() > MAX_BYTES {
                out.drain(..out.len() - MAX_BYTES);
            }
        }
        let text = self.redactor.redact(&String::from_utf8_lossy(&out));
        text.lines()
            .map(str::trim_end)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }
}
