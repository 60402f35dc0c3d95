//! An in-memory [`Engine`] for the unit tests of observe, the planner and the executor: it
//! keeps containers and images, logs every call that changes something, and fails the calls
//! a test names. The integration tests run against the real engine instead.

use super::{
    ContainerConfig, ContainerDetails, ContainerInfo, Engine, ImageInfo, PullUpdate, RuntimeError,
};
use crate::remote::{Found, Header, RemoteError};
use crate::words::{Kind, Owner, RelPath};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// One container the fake engine holds.
#[derive(Clone)]
pub struct FakeContainer {
    pub id: String,
    pub config: ContainerConfig,
    pub running: bool,
    pub exit_code: Option<i64>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

#[derive(Default)]
struct State {
    containers: BTreeMap<String, FakeContainer>,
    images: BTreeMap<String, ImageInfo>,
    /// What pulling (or building) a reference brings: its image.
    pullable: BTreeMap<String, ImageInfo>,
    log: Vec<String>,
    fail: BTreeSet<String>,
    exits_at_once: BTreeMap<String, (i64, Vec<String>)>,
    next_id: u64,
    /// The handoff volumes' entries, by (volume, path below its mount).
    volumes: BTreeMap<(String, String), Entry>,
}

/// One entry of a fake volume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// `mtime_ns` moves on with every write (the fake's own clock, long settled).
    File {
        bytes: Vec<u8>,
        owner: Owner,
        mtime_ns: i64,
    },
    /// Something jackin does not read or write through (a link, a FIFO …).
    Link,
}

#[derive(Default)]
pub struct FakeEngine {
    state: Mutex<State>,
    calls: AtomicUsize,
    /// Its list call never answers (a host whose packets are dropped).
    silent: bool,
    /// How long each list call and image inspect takes (on tokio's clock).
    latency: Duration,
    /// Handoff files read whole so far.
    reads: AtomicUsize,
    /// Shared with other fakes: every call that changed something, as `NAME: call`, in the
    /// order the engines saw them.
    journal: Option<(String, Journal)>,
}

/// The calls of several fake engines in one order.
pub type Journal = std::sync::Arc<Mutex<Vec<String>>>;

impl FakeEngine {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Also write its calls to `journal`, as `name: call`.
    pub fn journal(mut self, name: &str, journal: &Journal) -> Self {
        self.journal = Some((name.to_owned(), journal.clone()));
        self
    }

    /// An engine whose list call never answers.
    pub fn silent() -> Self {
        FakeEngine {
            silent: true,
            ..FakeEngine::default()
        }
    }

    /// An engine whose list calls and image inspects each take `latency`.
    pub fn slow(self, latency: Duration) -> Self {
        FakeEngine { latency, ..self }
    }

    /// An image the engine has, running as `user` (empty: root).
    pub fn with_image(self, reference: &str, user: &str) -> Self {
        let info = image_info("here", reference, user);
        self.state().images.insert(reference.into(), info);
        self
    }

    /// An image the engine does not have, which a pull of `reference` brings; it runs as
    /// `user` (empty: root; the fake's images know `agent`, 1000:1000).
    pub fn pullable(self, reference: &str, user: &str) -> Self {
        let info = image_info("pulled", reference, user);
        self.state().pullable.insert(reference.into(), info);
        self
    }

    /// Every later call whose log line is `call` (`create jk-a`, `pull img`, …) fails.
    pub fn fail(&self, call: &str) {
        self.state().fail.insert(call.into());
    }

    /// Calls named `call` work again.
    pub fn heal(&self, call: &str) {
        self.state().fail.remove(call);
    }

    /// The agent of container `name` exits with `code` right after each start, writing `lines`.
    pub fn exits_at_once(&self, name: &str, code: i64, lines: &[&str]) {
        let lines = lines.iter().map(|l| (*l).to_owned()).collect();
        self.state()
            .exits_at_once
            .insert(name.into(), (code, lines));
    }

    /// The calls that changed something, in order (`create jk-a`, `start jk-a`, …; by name).
    pub fn log(&self) -> Vec<String> {
        self.state().log.clone()
    }

    pub fn container(&self, name: &str) -> Option<FakeContainer> {
        self.state().containers.get(name).cloned()
    }

    /// How many handoff files were read whole (not just stat'ed) so far.
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::Relaxed)
    }

    /// What volume `volume` holds at `path`.
    pub fn volume_entry(&self, volume: &str, path: &str) -> Option<Entry> {
        let key = (volume.to_owned(), path.to_owned());
        self.state().volumes.get(&key).cloned()
    }

    /// Put `bytes` (or a link, when `None`) at `path` in volume `volume`, as the container
    /// would.
    pub fn plant(&self, volume: &str, path: &str, bytes: Option<&[u8]>) {
        let key = (volume.to_owned(), path.to_owned());
        let entry = match bytes {
            Some(b) => Entry::File {
                bytes: b.to_vec(),
                owner: Owner { uid: 0, gid: 0 },
                mtime_ns: self.tick(),
            },
            None => Entry::Link,
        };
        self.state().volumes.insert(key, entry);
    }

    /// A modification time later than every earlier one (whole seconds since 1970: settled).
    fn tick(&self) -> i64 {
        let mut state = self.state();
        state.next_id += 1;
        i64::try_from(state.next_id).unwrap_or(i64::MAX) * 1_000_000_000
    }

    /// The volume mounted at `target` in container `id` (an ID or a name) and the container's
    /// name.
    fn volume_at(&self, id: &str, target: &str) -> Result<(String, String), RemoteError> {
        let state = self.state();
        let c = state
            .containers
            .values()
            .find(|c| c.id == id || c.config.name == id);
        let mount = c.and_then(|c| {
            c.config
                .mounts
                .iter()
                .find(|m| m.target == target && m.volume.is_some())
                .map(|m| (m.source.clone(), c.config.name.clone()))
        });
        mount.ok_or_else(|| RemoteError::Api {
            op: format!("{id}:{target}"),
            detail: "no such container or volume".into(),
        })
    }

    /// Stop a container from outside jackin (`docker stop`).
    pub fn stop_outside(&self, name: &str) {
        if let Some(c) = self.state().containers.get_mut(name) {
            c.running = false;
            c.exit_code = Some(143);
        }
    }

    /// Record `call`, or fail it when the test said so.
    fn call(&self, call: String) -> Result<(), RuntimeError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut state = self.state();
        if state.fail.contains(&call) {
            return Err(RuntimeError::Api {
                op: call,
                detail: "the fake engine was told to fail".into(),
            });
        }
        if let Some((name, journal)) = &self.journal {
            let mut journal = journal
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            journal.push(format!("{name}: {call}"));
        }
        state.log.push(call);
        Ok(())
    }

    /// [`Self::call`] for a handoff call.
    fn remote_call(&self, call: String) -> Result<(), RemoteError> {
        self.call(call).map_err(|e| RemoteError::Api {
            op: "handoff".into(),
            detail: e.to_string(),
        })
    }

    /// The name of the container `id` names (an ID or a name), for the log.
    fn name_of(&self, id: &str) -> String {
        let state = self.state();
        state
            .containers
            .values()
            .find(|c| c.id == id)
            .map_or_else(|| id.to_owned(), |c| c.config.name.clone())
    }

    fn with_container<T>(
        &self,
        name: &str,
        f: impl FnOnce(&mut FakeContainer) -> T,
    ) -> Result<T, RuntimeError> {
        let mut state = self.state();
        match state.containers.get_mut(name) {
            Some(c) => Ok(f(c)),
            None => Err(RuntimeError::Api {
                op: name.to_owned(),
                detail: "No such container".into(),
            }),
        }
    }
}

/// A tar header of the fake's entries: 0600 for a file.
fn header(kind: Kind, size: u64, owner: Owner) -> Header {
    Header {
        kind,
        size,
        mode: 0o600,
        uid: u64::from(owner.uid),
        gid: u64::from(owner.gid),
        mtime: 0,
    }
}

/// Docker's filters as the fake reads them: `label=k=v`, `label=k`, `name=substring`.
fn matches(c: &FakeContainer, filters: &[(&str, &str)]) -> bool {
    filters.iter().all(|(kind, value)| match *kind {
        "label" => match value.split_once('=') {
            Some((k, v)) => c.config.labels.get(k).is_some_and(|x| x == v),
            None => c.config.labels.contains_key(*value),
        },
        "name" => c
            .config
            .name
            .contains(value.trim_start_matches('^').trim_end_matches('$')),
        _ => true,
    })
}

/// A made-up image of `reference` (its ID says where it came from).
fn image_info(from: &str, reference: &str, user: &str) -> ImageInfo {
    ImageInfo {
        id: format!("sha256:{from}-{reference}"),
        user: user.into(),
    }
}

fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

impl Engine for FakeEngine {
    fn api_calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    async fn list_containers(
        &self,
        filters: &[(&str, &str)],
    ) -> Result<Vec<ContainerInfo>, RuntimeError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if self.silent {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(self.latency).await;
        Ok(self
            .state()
            .containers
            .values()
            .filter(|c| matches(c, filters))
            .map(|c| ContainerInfo {
                id: c.id.clone(),
                name: c.config.name.clone(),
                labels: c.config.labels.clone(),
                running: c.running,
                state: if c.running { "running" } else { "exited" }.into(),
                status: match (c.running, c.exit_code) {
                    (true, _) => "Up Less than a second".into(),
                    (false, Some(code)) => format!("Exited ({code}) Less than a second ago"),
                    (false, None) => "Created".into(),
                },
                image: c.config.image.clone(),
            })
            .collect())
    }

    async fn image(&self, reference: &str) -> Result<Option<ImageInfo>, RuntimeError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(self.latency).await;
        Ok(self.state().images.get(reference).cloned())
    }

    async fn image_user_files(&self, image: &str) -> Result<(String, String), RuntimeError> {
        self.call(format!("read users of {image}"))?;
        Ok((
            "root:x:0:0:root:/root:/bin/sh\nagent:x:1000:1000::/home/agent:/bin/sh\n".into(),
            "root:x:0:\nagent:x:1000:\n".into(),
        ))
    }

    async fn pull(
        &self,
        reference: &str,
        mut progress: impl FnMut(PullUpdate),
    ) -> Result<(), RuntimeError> {
        self.call(format!("pull {reference}"))?;
        let mut state = self.state();
        let Some(info) = state.pullable.get(reference).cloned() else {
            return Err(RuntimeError::Pull {
                image: reference.into(),
                reason: "not found".into(),
            });
        };
        state.images.insert(reference.into(), info);
        drop(state);
        progress(PullUpdate {
            layer: None,
            status: "Downloaded newer image".into(),
            current: None,
            total: None,
        });
        Ok(())
    }

    async fn build(&self, _tar: Vec<u8>, _dockerfile: &str, tag: &str) -> Result<(), RuntimeError> {
        self.call(format!("build {tag}"))?;
        let info = image_info("built", tag, "");
        self.state().images.insert(tag.into(), info);
        Ok(())
    }

    async fn create(&self, cfg: &ContainerConfig) -> Result<String, RuntimeError> {
        self.call(format!("create {}", cfg.name))?;
        let mut state = self.state();
        if state.containers.contains_key(&cfg.name) {
            return Err(RuntimeError::Api {
                op: format!("create container {}", cfg.name),
                detail: "Conflict. The container name is already in use".into(),
            });
        }
        state.next_id += 1;
        let id = format!("{:064x}", state.next_id);
        let container = FakeContainer {
            id: id.clone(),
            config: cfg.clone(),
            running: false,
            exit_code: None,
            started_at: None,
            finished_at: None,
        };
        state.containers.insert(cfg.name.clone(), container);
        Ok(id)
    }

    async fn start(&self, id: &str) -> Result<(), RuntimeError> {
        let name = self.name_of(id);
        self.call(format!("start {name}"))?;
        let exit = self.state().exits_at_once.get(&name).cloned();
        self.with_container(&name, |c| {
            let at = now();
            c.started_at = Some(at.clone());
            c.running = exit.is_none();
            c.exit_code = exit.map(|(code, _)| code);
            c.finished_at = c.exit_code.map(|_| at);
        })
    }

    async fn stop(&self, id: &str) -> Result<(), RuntimeError> {
        let name = self.name_of(id);
        self.call(format!("stop {name}"))?;
        self.with_container(&name, |c| {
            if c.running {
                c.running = false;
                c.exit_code = Some(143);
                c.finished_at = Some(now());
            }
        })
    }

    async fn remove(&self, id: &str) -> Result<(), RuntimeError> {
        let name = self.name_of(id);
        self.call(format!("remove {name}"))?;
        self.state().containers.remove(&name);
        Ok(())
    }

    async fn restart(&self, id: &str) -> Result<(), RuntimeError> {
        let name = self.name_of(id);
        self.call(format!("restart {name}"))?;
        self.with_container(&name, |c| {
            c.running = true;
            c.started_at = Some(now());
        })
    }

    async fn inspect_container(
        &self,
        name: &str,
    ) -> Result<Option<ContainerDetails>, RuntimeError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let name = self.name_of(name);
        Ok(self.container(&name).map(|c| ContainerDetails {
            id: c.id,
            labels: c.config.labels,
            running: c.running,
            state: if c.running { "running" } else { "exited" }.into(),
            exit_code: c.exit_code,
            started_at: c.started_at,
            finished_at: c.finished_at,
        }))
    }

    async fn wait_for_stop(&self, _container: &str, _within: Duration) {
        // The fake's containers stop (or not) inside the call that starts them.
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    async fn handoff_read(
        &self,
        id: &str,
        target: &str,
        rel: &RelPath,
    ) -> Result<Found, RemoteError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.reads.fetch_add(1, Ordering::Relaxed);
        let (volume, _) = self.volume_at(id, target)?;
        let key = (volume, rel.to_string());
        Ok(match self.state().volumes.get(&key) {
            None => Found::Absent,
            Some(Entry::File { bytes, owner, .. }) => Found::File {
                header: header(Kind::File, bytes.len() as u64, *owner),
                sha256: crate::fingerprint::sha256_hex(bytes),
                bytes: bytes.clone(),
            },
            Some(Entry::Link) => Found::Refused {
                header: header(Kind::Symlink, 0, Owner { uid: 0, gid: 0 }),
                why: crate::bounded::Refused::NotRegular(Kind::Symlink),
            },
        })
    }

    async fn handoff_stat(
        &self,
        id: &str,
        target: &str,
        rel: &RelPath,
    ) -> Result<Option<super::PathStat>, RemoteError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let (volume, _) = self.volume_at(id, target)?;
        let key = (volume, rel.to_string());
        Ok(self.state().volumes.get(&key).map(|e| match e {
            Entry::File {
                bytes, mtime_ns, ..
            } => super::PathStat {
                kind: Kind::File,
                size: bytes.len() as u64,
                mtime_ns: Some(*mtime_ns),
            },
            Entry::Link => super::PathStat {
                kind: Kind::Symlink,
                size: 0,
                mtime_ns: Some(0),
            },
        }))
    }

    async fn handoff_put(
        &self,
        id: &str,
        target: &str,
        rel: &RelPath,
        bytes: &[u8],
        owner: Owner,
    ) -> Result<(), RemoteError> {
        let (volume, name) = self.volume_at(id, target)?;
        self.remote_call(format!("put {name} {target}/{rel}"))?;
        // Like the engine: a link at the name is replaced, never written through.
        let key = (volume, rel.to_string());
        let bytes = bytes.to_vec();
        let mtime_ns = self.tick();
        let entry = Entry::File {
            bytes,
            owner,
            mtime_ns,
        };
        self.state().volumes.insert(key, entry);
        Ok(())
    }

    async fn handoff_remove(
        &self,
        id: &str,
        target: &str,
        rel: &RelPath,
        _owner: Owner,
    ) -> Result<(), RemoteError> {
        let (volume, name) = self.volume_at(id, target)?;
        self.remote_call(format!("remove {name} {target}/{rel}"))?;
        self.state().volumes.remove(&(volume, rel.to_string()));
        Ok(())
    }

    async fn remove_handoff_volumes(
        &self,
        _project: &str,
        instance: &str,
    ) -> Result<(), RuntimeError> {
        self.call(format!("remove volumes of {instance}"))?;
        let prefix = format!("{instance}-");
        self.state()
            .volumes
            .retain(|(v, _), _| !v.starts_with(&prefix));
        Ok(())
    }

    async fn last_lines(&self, container: &str, _lines: u64) -> Vec<String> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let state = self.state();
        state
            .exits_at_once
            .get(container)
            .map(|(_, lines)| lines.clone())
            .unwrap_or_default()
    }
}
