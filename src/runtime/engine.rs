//! The edge of the world a reconcile touches: what observe and the executor ask of a container
//! engine. [`super::Runtime`] implements it over the Docker API; the executor's unit tests use
//! a fake (`super::fake`), while the integration tests stay on the real engine.
//!
//! Sessions (`attach`, `exec`, `logs`) and the event stream are not here: they stream bytes
//! to a terminal and are exercised against the real engine only.

use super::{
    ContainerConfig, ContainerDetails, ContainerInfo, ImageInfo, PullUpdate, RuntimeError,
};
use crate::remote::{Found, RemoteError};
use crate::words::{Owner, RelPath};
use std::time::Duration;

/// A container engine, as a reconcile needs it. Every call that reaches the engine counts
/// towards [`Engine::api_calls`].
// The futures are awaited on the caller's task (the executor shares a `RefCell` reporter
// between instances, so they are not `Send` anyway): no `Send` bound is promised.
#[allow(async_fn_in_trait, reason = "awaited on one task; see above")]
pub trait Engine {
    /// API calls made so far (including the version negotiation).
    fn api_calls(&self) -> usize;

    /// All containers (running or not) matching every filter, e.g. `label=k=v`, `name=x`.
    async fn list_containers(
        &self,
        filters: &[(&str, &str)],
    ) -> Result<Vec<ContainerInfo>, RuntimeError>;

    /// The image's ID and the user it declares (`USER`; empty: root), from one inspect;
    /// `None` when the engine has no such image.
    async fn image(&self, reference: &str) -> Result<Option<ImageInfo>, RuntimeError>;

    /// The image's `/etc/passwd` and `/etc/group` (empty when it has none): what Docker
    /// resolves a user name against. Each file is capped at 1 MiB.
    async fn image_user_files(&self, image: &str) -> Result<(String, String), RuntimeError>;

    /// Pull an image, passing each of the engine's progress messages to `progress`.
    async fn pull(
        &self,
        reference: &str,
        progress: impl FnMut(PullUpdate),
    ) -> Result<(), RuntimeError>;

    /// Build the context tar (see `observed::images`) into `tag`.
    async fn build(
        &self,
        context_tar: Vec<u8>,
        dockerfile: &str,
        tag: &str,
    ) -> Result<(), RuntimeError>;

    /// Create a container (not started); its ID.
    async fn create(&self, cfg: &ContainerConfig) -> Result<String, RuntimeError>;

    async fn start(&self, id: &str) -> Result<(), RuntimeError>;

    /// Stop a container (already stopped is fine), killing it after a grace period.
    async fn stop(&self, id: &str) -> Result<(), RuntimeError>;

    /// Remove a container, running or not.
    async fn remove(&self, id: &str) -> Result<(), RuntimeError>;

    async fn restart(&self, id: &str) -> Result<(), RuntimeError>;

    /// One container by name or ID (`None` when the engine has none).
    async fn inspect_container(&self, name: &str)
        -> Result<Option<ContainerDetails>, RuntimeError>;

    /// Wait until the container stops, or `within` has passed (nothing is polled).
    async fn wait_for_stop(&self, container: &str, within: Duration);

    /// What is at `rel` in the handoff mounted at `target` in container `id`, read through the
    /// engine (the handoff on an engine not on this machine, SPEC v3 §9): streamed and capped;
    /// a link, FIFO, directory or huge file is refused unread.
    async fn handoff_read(
        &self,
        id: &str,
        target: &str,
        rel: &RelPath,
    ) -> Result<Found, RemoteError>;

    /// The stat of `rel` there (kind, size, modification time), without reading it; `None`
    /// when nothing is there. Cheap: how a no-op avoids reading files it already knows.
    async fn handoff_stat(
        &self,
        id: &str,
        target: &str,
        rel: &RelPath,
    ) -> Result<Option<super::PathStat>, RemoteError>;

    /// Put `bytes` at `rel` there (0600, parents 0700, owned by `owner`): in a running
    /// container under a fresh name, then renamed over `rel` in one step.
    async fn handoff_put(
        &self,
        id: &str,
        target: &str,
        rel: &RelPath,
        bytes: &[u8],
        owner: Owner,
    ) -> Result<(), RemoteError>;

    /// Remove the entry at `rel` there (never a directory, never through a link).
    async fn handoff_remove(
        &self,
        id: &str,
        target: &str,
        rel: &RelPath,
        owner: Owner,
    ) -> Result<(), RemoteError>;

    /// Remove the handoff volumes of `project`'s instance `instance` (`--purge-removed` on an
    /// engine not on this machine); only volumes whose labels say so.
    async fn remove_handoff_volumes(
        &self,
        project: &str,
        instance: &str,
    ) -> Result<(), RuntimeError>;

    /// The last `lines` lines a container wrote (stdout and stderr; at most 16 KiB of them),
    /// with every value jackin knows redacted: for saying why an agent stopped.
    async fn last_lines(&self, container: &str, lines: u64) -> Vec<String>;
}
