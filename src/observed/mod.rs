//! The observed state: one snapshot of everything the plan compares against, taken once.
//!
//! Docker is asked once for its containers (one list, no per-container inspect) and once per
//! distinct image; each instance's ledger, handoff directories and host logins are read with
//! the stat fast path. After this step the planner does no I/O.

mod exits;
mod host;
pub mod images;
mod made;
pub mod owner;
mod probe;
pub mod run;
mod tokens;
mod volumes;

pub use crate::bounded::Hasher;
pub use exits::{quick_exit, QuickExit, APPLY_WAITS, AT_ONCE};
pub use host::{HostError, HostFile, HostLogin};
pub use made::MadeFile;
pub use probe::{managed_paths, seeds};
pub use volumes::stat_of;

use crate::agents::{AgentKind, AuthMode};
use crate::desired::hosts::{Host, LOCAL};
use crate::desired::spec::SpecSummary;
use crate::desired::{Desired, ImageSource};
use crate::error::{Code, Coded};
use crate::handoff::{HandoffError, Seen, Store};
use crate::ledger::Ledger;
use crate::paths::JackinHome;
use crate::runtime::{ContainerInfo, Engine, RuntimeError};
use crate::words::RelPath;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::words::labels::*;

#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Host(#[from] HostError),
    #[error(transparent)]
    Handoff(#[from] HandoffError),
    #[error("cannot read build context {path}: {source}")]
    BuildContext {
        path: String,
        source: std::io::Error,
    },
}

impl Coded for ObserveError {
    fn code(&self) -> Code {
        match self {
            ObserveError::Runtime(e) => e.code(),
            ObserveError::Host(e) => e.code(),
            ObserveError::Handoff(e) => e.code(),
            ObserveError::BuildContext { .. } => Code::E024,
        }
    }
    fn hint(&self) -> Option<String> {
        match self {
            ObserveError::Runtime(e) => e.hint(),
            ObserveError::Host(e) => e.hint(),
            ObserveError::Handoff(e) => e.hint(),
            ObserveError::BuildContext { .. } => Some("fix `build.context` of the role".into()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ObservedContainer {
    /// The host whose engine listed it.
    pub host: String,
    pub id: String,
    pub name: String,
    pub workspace: String,
    pub role: String,
    pub agent: String,
    pub running: bool,
    pub state: String,
    pub spec_hash: Option<String>,
    pub spec: Option<SpecSummary>,
    /// A declared instance's agent that exited right after its start (SPEC v3 §5).
    pub quick_exit: Option<QuickExit>,
    /// The image as the engine's list names it.
    pub image: String,
    /// When it was started (unix seconds), while it is up: the observation's time less
    /// the uptime the list gives ([`run::up_for`], to Docker's precision).
    pub up_since: Option<i64>,
    /// The exit code of a container that exited (or restarts).
    pub exit_code: Option<i64>,
}

impl ObservedContainer {
    /// `c` as just listed.
    fn from_info(host: &str, c: ContainerInfo) -> Self {
        let listed_at = crate::ledger::now_ns() / 1_000_000_000;
        let label = |k: &str| c.labels.get(k).cloned().unwrap_or_default();
        ObservedContainer {
            host: host.to_owned(),
            workspace: label(LABEL_WORKSPACE),
            role: label(LABEL_ROLE),
            agent: label(LABEL_AGENT),
            spec_hash: c.labels.get(LABEL_SPEC_HASH).cloned(),
            spec: c
                .labels
                .get(LABEL_SPEC)
                .and_then(|s| SpecSummary::from_label(s)),
            id: c.id,
            name: c.name,
            running: c.running,
            state: c.state,
            quick_exit: None,
            up_since: run::up_for(&c.status)
                .and_then(|up| i64::try_from(up).ok())
                .map(|up| listed_at - up),
            exit_code: run::exit_code(&c.status),
            image: c.image,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct AgentFiles {
    /// The host login; read only in sync mode.
    pub host: Option<HostLogin>,
    /// The files jackin makes in this agent's handoff (SPEC v3 §3a), in every mode.
    pub made: BTreeMap<RelPath, MadeFile>,
    /// What each path the rules read ([`managed_paths`]) holds in the handoff
    /// now; a path with nothing there is absent. Nothing else in the handoff is looked at.
    pub handoff: BTreeMap<RelPath, Seen>,
    /// Catalogue login entries present in the handoff that jackin did not put there: a login
    /// the container made itself.
    pub own_login: Vec<RelPath>,
    /// Forwarded login files the agent changed and emptied of every token (logged out).
    pub blanked: BTreeSet<RelPath>,
    /// The launched agent's host config and the model aliases it defines, when the launch
    /// passes a model that must be one of them (sync; SPEC v3 §3a).
    pub model_aliases: Option<(std::path::PathBuf, Vec<String>)>,
    /// Seed paths ([`seeds`]) where something is, of any kind. Only presence is
    /// looked at: a seeded file is the container's and is never read.
    pub occupied: BTreeSet<RelPath>,
}

#[derive(Debug, Clone)]
pub struct InstanceState {
    /// Its folder under `$JACKIN_HOME/data` (its ledger; its handoff when its engine is on
    /// this machine): [`crate::desired::InstanceSpec::folder`].
    pub folder: String,
    /// The image reference the container is created from (a build tag for `build` roles).
    pub image: String,
    /// Who the container runs as (so who owns its handoff): `None` until the image is
    /// present (the executor resolves it after pulling or building), `Err` when the user
    /// cannot be resolved.
    pub owner: Option<Result<crate::words::Owner, String>>,
    pub ledger: Ledger,
    pub agents: BTreeMap<AgentKind, AgentFiles>,
}

#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// This project's containers (by labels), by name: for a declared instance, the one on
    /// its own host.
    pub containers: BTreeMap<String, ObservedContainer>,
    /// This project's containers on a host other than the one their instance is placed on
    /// now (it moved), or a second undeclared one of the same name: all to be removed.
    pub elsewhere: Vec<ObservedContainer>,
    /// Hosts that did not answer, by name, with why: their instances are unknown this pass
    /// and left alone (SPEC v3 §9).
    pub unreachable: BTreeMap<String, String>,
    /// Desired container names held by a container that is not this project's.
    pub conflicts: BTreeMap<String, String>,
    /// (host, image reference) → ID, `None` when absent on that host's engine.
    pub images: BTreeMap<(String, String), Option<String>>,
    /// The user jackin runs as (what `user = "host"` means, and who can own what).
    pub jackin: crate::words::Owner,
    /// Per desired instance, by container name.
    pub instances: BTreeMap<String, InstanceState>,
    /// Refreshable host logins synced into several instances (SPEC v3 §3b).
    pub shared_logins: Vec<SharedLogin>,
    pub api_calls: usize,
    pub files_hashed: usize,
    pub bytes_hashed: u64,
    pub warnings: Vec<String>,
}

/// Files (host and handoff) and each host's connection and one list call at the same time,
/// with the inspects of the images the state names: a no-op lasts as long as the slowest of
/// them, not their sum. Each host goes on to its own post-list work (its handoff volumes, its
/// owners, …) as soon as its list and the files are in, so a host that does not answer holds
/// no other up. The files decide first: a bad host folder is the error, whatever the engines
/// said (their part is reads only). A host that errs or does not answer by `deadline` is
/// recorded in [`Observed::unreachable`]; only when no host answers is it the run's error
/// (`local`'s, when it is one of them). The engines that answered come back with the
/// observation.
pub async fn observe<E, F, C>(
    desired: &Desired,
    connect: F,
    deadline: Deadline,
    jackin_home: &JackinHome,
    home: &Path,
) -> Result<(Observed, BTreeMap<String, E>), ObserveError>
where
    E: Engine,
    F: Fn(Host) -> C,
    C: std::future::Future<Output = Result<E, RuntimeError>>,
{
    let files = {
        let (d, jh, h) = (desired.clone(), jackin_home.clone(), home.to_path_buf());
        tokio::task::spawn_blocking(move || observe_files(&d, &jh, &h))
    };
    let mut feeds = BTreeMap::new();
    let hosts = desired.hosts.values().map(|host| {
        let (feed, fed) = tokio::sync::oneshot::channel();
        feeds.insert(host.name.clone(), feed);
        observe_host(host, desired, &connect, fed, deadline)
    });
    let hosts = futures_util::future::join_all(hosts.collect::<Vec<_>>());
    let feed = async move {
        let files = files.await;
        let observed = files.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
        Ok::<_, ObserveError>(feed_hosts(desired, observed, feeds))
    };
    let (observed, hosts) = tokio::join!(feed, hosts);
    let mut observed = observed?;
    let mut engines = BTreeMap::new();
    let mut errors = BTreeMap::new();
    for (host, answer, part) in hosts {
        observed.merge(desired, part);
        match answer {
            Ok(engine) => {
                engines.insert(host.name.clone(), engine);
            }
            Err(ObserveError::Runtime(e)) => {
                errors.insert(host.name.clone(), e);
            }
            Err(e) => return Err(e),
        }
    }
    if engines.is_empty() && !errors.is_empty() {
        let first = errors.remove(LOCAL).or_else(|| errors.into_values().next());
        return Err(first.expect("an error").into());
    }
    for (host, e) in errors {
        observed.unreachable.insert(host, unreachable_why(&e));
    }
    observed.api_calls = engines.values().map(Engine::api_calls).sum();
    Ok((observed, engines))
}

/// Once the files are read, each host gets the states of its own instances (moved, not
/// copied); the rest of the observation stays.
fn feed_hosts(
    desired: &Desired,
    mut observed: Observed,
    feeds: BTreeMap<String, tokio::sync::oneshot::Sender<Observed>>,
) -> Observed {
    let mut parts: BTreeMap<String, Observed> = feeds
        .keys()
        .map(|host| {
            let part = Observed {
                jackin: observed.jackin,
                ..Observed::default()
            };
            (host.clone(), part)
        })
        .collect();
    // One pass over the states, each to its instance's host.
    for (name, state) in std::mem::take(&mut observed.instances) {
        match parts.get_mut(desired.host_of(&name)) {
            Some(part) => part.instances.insert(name, state),
            None => observed.instances.insert(name, state),
        };
    }
    for (host, feed) in feeds {
        let _ = feed.send(parts.remove(&host).unwrap_or_default());
    }
    observed
}

/// One host: connect, list, then (given the states of its instances, `fed`) its post-list
/// work, all by `deadline`. Its part of the observation comes back whatever happened (the
/// states of its instances are in it); the engine when it answered.
async fn observe_host<'d, E, F, C>(
    host: &'d Host,
    desired: &Desired,
    connect: &F,
    fed: tokio::sync::oneshot::Receiver<Observed>,
    deadline: Deadline,
) -> (&'d Host, Result<E, ObserveError>, Observed)
where
    E: Engine,
    F: Fn(Host) -> C,
    C: std::future::Future<Output = Result<E, RuntimeError>>,
{
    let on_host = desired.on_host(&host.name);
    let listed = tokio::time::timeout_at(deadline.at, async {
        let engine = connect(host.clone()).await?;
        let listed = list(&on_host, &engine).await?;
        Ok::<_, RuntimeError>((engine, listed))
    })
    .await;
    let listed = listed.unwrap_or_else(|_| Err(deadline.missed_by(host)));
    // The states always come (the files are this machine's, not bounded by the deadline);
    // none when the files failed, which is then the run's error: nothing more is looked at.
    let Ok(mut part) = fed.await else {
        let answer = listed.map(|(engine, _)| engine).map_err(ObserveError::from);
        return (host, answer, Observed::default());
    };
    let answer = match listed {
        Ok((engine, (list, images))) => {
            let work = observe_docker(
                desired, &on_host, &host.name, &engine, &mut part, list, images,
            );
            match tokio::time::timeout_at(deadline.at, work).await {
                Ok(Ok(())) => Ok(engine),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(deadline.missed_by(host).into()),
            }
        }
        Err(e) => Err(e.into()),
    };
    (host, answer, part)
}

/// Why a host is unknown, without repeating its address (the message names the host).
fn unreachable_why(e: &RuntimeError) -> String {
    match e {
        RuntimeError::Unreachable { detail, .. } => detail.clone(),
        other => other.to_string(),
    }
}

/// When every host must have answered by (`--host-timeout` after the run began).
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    pub at: tokio::time::Instant,
    pub bound: std::time::Duration,
}

impl Deadline {
    /// `bound` from now.
    pub fn after(bound: std::time::Duration) -> Deadline {
        Deadline {
            at: tokio::time::Instant::now() + bound,
            bound,
        }
    }

    /// The error of `host`, which missed it.
    pub fn missed_by(&self, host: &Host) -> RuntimeError {
        RuntimeError::Unreachable {
            host: host.docker.clone(),
            detail: self.missed(),
        }
    }

    /// Why a host that missed it is unknown.
    pub fn missed(&self) -> String {
        format!(
            "no answer within {} (--host-timeout)",
            humantime::format_duration(self.bound)
        )
    }
}

/// One host's list of the project's containers, with the images its instances name.
async fn list(
    on_host: &Desired,
    engine: &impl Engine,
) -> Result<(Vec<ContainerInfo>, Images), RuntimeError> {
    let filters = selector(&on_host.project);
    let ours: Vec<(&str, &str)> = filters.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let named: BTreeSet<String> = on_host
        .instances
        .values()
        .filter_map(|i| match &i.image {
            ImageSource::Pull(r) => Some(r.clone()),
            ImageSource::Build { .. } => None,
        })
        .collect();
    futures_util::future::try_join(engine.list_containers(&ours), inspect(engine, named)).await
}

/// What the engine holds of each image reference, by reference.
type Images = BTreeMap<String, Option<crate::runtime::ImageInfo>>;

async fn inspect(
    runtime: &impl Engine,
    refs: BTreeSet<String>,
) -> Result<Images, crate::runtime::RuntimeError> {
    let infos = futures_util::future::try_join_all(refs.iter().map(|r| runtime.image(r))).await?;
    Ok(refs.into_iter().zip(infos).collect())
}

/// One agent's host login read exactly as a pass reads it (SPEC §3 "a host login is
/// present", and the same errors for an unusable source), without a ledger's stat data to
/// skip hashing: for `init` and `doctor`, which read a login once.
pub fn host_login(auth: &crate::desired::AgentAuth) -> Result<HostLogin, HostError> {
    host::scan(auth, &mut Hasher::default(), &|_| None)
}

pub fn observe_files(
    desired: &Desired,
    jackin_home: &JackinHome,
    home: &Path,
) -> Result<Observed, ObserveError> {
    let mut observed = Observed {
        jackin: crate::words::Owner::current(),
        ..Observed::default()
    };
    let mut scan = Scan::default();
    let store = Store::new(jackin_home);
    // `data/` once a pass, each instance's folder once: its ledger and handoffs from it.
    let reader = store.reader()?;
    let mut build_tags = BuildTags::new();
    for (name, spec) in &desired.instances {
        let key = spec.folder();
        let folder = reader.instance(&key)?;
        let (ledger, warning) = folder.as_ref().map(|f| f.ledger()).unwrap_or_default();
        observed.warnings.extend(warning);
        let mut agents = BTreeMap::new();
        for auth in &spec.auth {
            let (files, warnings) =
                observe_agent(folder.as_ref(), spec, auth, &ledger, home, &mut scan)?;
            observed
                .warnings
                .extend(warnings.iter().map(|w| format!("{name}: {w}")));
            agents.insert(auth.agent, files);
        }
        let image = image_ref(&desired.project, spec, &mut build_tags)?;
        observed.instances.insert(
            name.clone(),
            InstanceState {
                folder: key.clone(),
                image,
                owner: None,
                ledger,
                agents,
            },
        );
    }
    observed.shared_logins = shared_logins(desired, &observed.instances);
    observed.files_hashed = scan.hasher.files_hashed;
    observed.bytes_hashed = scan.hasher.bytes_hashed;
    Ok(observed)
}

/// The image `spec` runs: its pull reference, or the tag its build context hashes to. A role
/// in several workspaces has its context walked and tarred once a pass (`build_tags`).
fn image_ref<'d>(
    project: &str,
    spec: &'d crate::desired::InstanceSpec,
    build_tags: &mut BuildTags<'d>,
) -> Result<String, ObserveError> {
    Ok(match &spec.image {
        ImageSource::Pull(r) => r.clone(),
        ImageSource::Build {
            context,
            dockerfile,
        } => match build_tags.entry((&spec.role, context, dockerfile)) {
            Entry::Occupied(tag) => tag.get().clone(),
            Entry::Vacant(slot) => slot
                .insert(
                    images::build_tag(project, &spec.role, context, dockerfile).map_err(
                        |source| ObserveError::BuildContext {
                            path: context.display().to_string(),
                            source,
                        },
                    )?,
                )
                .clone(),
        },
    })
}

/// Build tags already computed this pass, by (role, context, Dockerfile).
type BuildTags<'d> = BTreeMap<(&'d String, &'d std::path::PathBuf, &'d String), String>;

/// What one pass reads of the host, shared by its instances: the hasher's counters, and each
/// host login once (a role in a hundred workspaces syncs one `~/.kimi`, read once a pass).
#[derive(Default)]
struct Scan {
    hasher: Hasher,
    logins: BTreeMap<(AgentKind, std::path::PathBuf, bool), HostLogin>,
}

impl Scan {
    /// `auth`'s host login, read on its first use in this pass; `ledger`'s recorded hashes
    /// let unchanged files skip hashing.
    fn host_login(
        &mut self,
        auth: &crate::desired::AgentAuth,
        ledger: &Ledger,
    ) -> Result<HostLogin, HostError> {
        let key = (auth.agent, auth.source.clone(), auth.source_is_default());
        if let Some(login) = self.logins.get(&key) {
            return Ok(login.clone());
        }
        let prior = |rel: &RelPath| ledger.get(auth.agent, rel).map(|e| e.source.clone());
        let login = host::scan(auth, &mut self.hasher, &prior)?;
        self.logins.insert(key, login.clone());
        Ok(login)
    }
}

/// One agent of one instance: its host login (sync only), then exactly the handoff paths the
/// rules read, and whether anything is at its seed paths — whatever else the container keeps
/// there is never looked at, so it costs nothing and cannot trip jackin.
fn observe_agent(
    folder: Option<&crate::handoff::InstanceReader<'_, '_>>,
    spec: &crate::desired::InstanceSpec,
    auth: &crate::desired::AgentAuth,
    ledger: &Ledger,
    home: &Path,
    scan: &mut Scan,
) -> Result<(AgentFiles, Vec<String>), ObserveError> {
    let agent = auth.agent;
    let host = if auth.mode == AuthMode::Sync {
        Some(scan.host_login(auth, ledger)?)
    } else {
        None
    };
    let hasher = &mut scan.hasher;
    let model_aliases = match (&host, agent.info().model_aliases_in) {
        (Some(h), Some(file)) if spec.agent == agent && spec.model_flag_value().is_some() => h
            .files
            .get(&RelPath::catalogue(file))
            .and_then(|f| Some((f.path.clone(), host::model_aliases(&f.path)?))),
        _ => None,
    };
    let (made, mut warnings) = made::made_files(spec, auth, ledger, home)?;
    warnings.extend(host.iter().flat_map(|h| h.warnings.iter().cloned()));
    let mut files = AgentFiles {
        host,
        made,
        model_aliases,
        ..AgentFiles::default()
    };
    if let Some(handoff) = folder.map(|f| f.agent(agent)).transpose()?.flatten() {
        probe::look(&handoff, &mut files, spec, auth, ledger, hasher);
    }
    Ok((files, warnings))
}

/// The ways out of one refreshable login held by several instances (SPEC v3 §3b), as said by
/// plan, apply, status and doctor.
pub fn shared_login_ways_out(agent: AgentKind) -> String {
    let mut ways = vec![format!(
        "give each instance its own login (mode = \"ignore\", then `jackin login WS/ROLE {agent}`)"
    )];
    if agent.info().oauth_token_env.is_some() {
        ways.push("use oauth_token (a long-lived `claude setup-token`)".to_owned());
    }
    ways.push(format!("use api_key ({})", agent.info().api_key_env));
    ways.join("; ")
}

/// A refreshable host login synced into several instances (SPEC v3 §3b).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedLogin {
    pub agent: AgentKind,
    pub source: std::path::PathBuf,
    /// Container names, sorted.
    pub instances: Vec<String>,
}

/// Whether a present host login carries a refresh token (its files are read, bounded and
/// never followed; only that fact is kept).
pub fn refreshable(login: &HostLogin) -> bool {
    login.present
        && login.files.values().any(|f| {
            crate::bounded::open_host(&f.path)
                .and_then(|mut file| crate::bounded::read(&mut file))
                .is_ok_and(|(b, _)| tokens::refreshable(&b))
        })
}

/// Group the sync instances by (agent, source) and keep the groups of two or more whose host
/// login carries a refresh token (read once per group, bounded; only that fact is kept).
fn shared_logins(
    desired: &Desired,
    instances: &BTreeMap<String, InstanceState>,
) -> Vec<SharedLogin> {
    let mut groups: BTreeMap<(AgentKind, &std::path::Path), Vec<&str>> = BTreeMap::new();
    for (name, spec) in &desired.instances {
        for auth in spec.auth.iter().filter(|a| a.mode == AuthMode::Sync) {
            groups
                .entry((auth.agent, auth.source.as_path()))
                .or_default()
                .push(name);
        }
    }
    groups
        .into_iter()
        .filter(|(_, names)| names.len() > 1)
        .filter_map(|((agent, source), names)| {
            let host = instances.get(names[0])?.agents.get(&agent)?.host.as_ref()?;
            refreshable(host).then(|| SharedLogin {
                agent,
                source: source.to_path_buf(),
                instances: names.iter().map(|n| (*n).to_owned()).collect(),
            })
        })
        .collect()
}

/// One host's side of the observation, given the project's containers there (`list`:
/// ownership is by labels only, so one filtered list is the whole inventory). `desired` holds
/// the instances placed on `host`, `all` every instance (to tell a moved one's old container).
async fn observe_docker(
    all: &Desired,
    desired: &Desired,
    host: &str,
    runtime: &impl Engine,
    observed: &mut Observed,
    list: Vec<crate::runtime::ContainerInfo>,
    mut infos: Images,
) -> Result<(), ObserveError> {
    // Build roles' tags are known once their contexts were read: inspected now.
    let built: BTreeSet<String> = desired
        .instances
        .keys()
        .filter_map(|n| observed.instances.get(n))
        .map(|i| i.image.clone())
        .filter(|r| !infos.contains_key(r))
        .collect();
    infos.extend(inspect(runtime, built).await?);
    for c in list {
        observed.place(all, ObservedContainer::from_info(host, c));
    }
    quick_exits(desired, runtime, observed).await;
    volumes::read(desired, runtime, observed).await;
    conflicts(desired, runtime, observed).await?;
    for (r, info) in &infos {
        let id = info.as_ref().map(|i| i.id.clone());
        observed.images.insert((host.to_owned(), r.clone()), id);
    }
    owners(desired, runtime, observed, &infos).await
}

impl Observed {
    /// File a container a host listed. A declared instance's container is *the* container only
    /// on the instance's own host; on any other host it is elsewhere (the instance moved),
    /// whatever order the hosts answered in, so it never hides the instance's absence (or a
    /// name conflict) on its own host. Of undeclared ones of the same name, the first is filed
    /// and the others are elsewhere; all are removed.
    fn place(&mut self, all: &Desired, c: ObservedContainer) {
        match all.instances.get(&c.name) {
            Some(i) if i.host != c.host => self.elsewhere.push(c),
            Some(_) => {
                let other = self.containers.insert(c.name.clone(), c);
                self.elsewhere.extend(other);
            }
            None => match self.containers.entry(c.name.clone()) {
                Entry::Vacant(v) => {
                    v.insert(c);
                }
                Entry::Occupied(_) => self.elsewhere.push(c),
            },
        }
    }

    /// Take in one host's part of the observation: the states of its instances, and what its
    /// engine showed (nothing, when it did not answer).
    fn merge(&mut self, all: &Desired, part: Observed) {
        self.instances.extend(part.instances);
        for c in part.containers.into_values() {
            self.place(all, c);
        }
        self.elsewhere.extend(part.elsewhere);
        self.conflicts.extend(part.conflicts);
        self.images.extend(part.images);
        self.files_hashed += part.files_hashed;
        self.bytes_hashed += part.bytes_hashed;
        self.warnings.extend(part.warnings);
    }

    /// The image ID `reference` has on `host`'s engine (`None`: absent, or not looked at).
    pub fn image_id(&self, host: &str, reference: &str) -> Option<&str> {
        self.images
            .get(&(host.to_owned(), reference.to_owned()))
            .and_then(|id| id.as_deref())
    }
}

/// Only a stopped container is looked at closer (one inspect each): did its agent exit
/// right after its start?
async fn quick_exits(desired: &Desired, runtime: &impl Engine, observed: &mut Observed) {
    let stopped: Vec<String> = observed
        .containers
        .values()
        .filter(|c| !c.running && desired.instances.contains_key(&c.name))
        .map(|c| c.name.clone())
        .collect();
    let exits =
        futures_util::future::join_all(stopped.iter().map(|n| quick_exit(runtime, n))).await;
    for (name, q) in stopped.iter().zip(exits) {
        if let Some(c) = observed.containers.get_mut(name) {
            c.quick_exit = q;
        }
    }
}

/// Names we are about to create may be taken by someone else's container. Only then is a
/// second (name-filtered) list needed, so a no-op stays at one list call.
async fn conflicts(
    desired: &Desired,
    runtime: &impl Engine,
    observed: &mut Observed,
) -> Result<(), ObserveError> {
    let missing: Vec<&str> = desired
        .instances
        .keys()
        .filter(|n| !observed.containers.contains_key(*n))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        let by_name: Vec<(&str, &str)> = missing.iter().map(|n| ("name", *n)).collect();
        for c in runtime.list_containers(&by_name).await? {
            // The name filter matches substrings: keep exact names only.
            if missing.contains(&c.name.as_str()) {
                observed.conflicts.insert(c.name.clone(), c.id.clone());
            }
        }
    }
    Ok(())
}

/// Who each instance runs as, for those whose image is here already (the others are pulled
/// or built first; the executor resolves theirs then).
async fn owners(
    desired: &Desired,
    runtime: &impl Engine,
    observed: &mut Observed,
    infos: &Images,
) -> Result<(), ObserveError> {
    let mut files = owner::UserFiles::default();
    for (name, spec) in &desired.instances {
        let state = observed
            .instances
            .get_mut(name)
            .expect("observed per instance");
        let Some(Some(info)) = infos.get(&state.image) else {
            continue; // pulled or built first; the executor resolves it then
        };
        let label = observed.containers.get(name).and_then(|c| c.spec.as_ref());
        let owner = owner::resolve(
            runtime,
            &spec.user,
            &state.image,
            info,
            observed.jackin,
            label,
            &mut files,
        )
        .await?;
        state.owner = Some(owner);
    }
    Ok(())
}
