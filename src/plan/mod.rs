//! The plan: what apply will do, why, and nothing else.
//!
//! `plan(&Desired, &Observed, …)` is pure and deterministic (instances sorted by container
//! name, files by path), so `plan`, `apply --dry-run` and `apply` share it and most behaviour
//! is unit-testable without Docker. Each step maps to one filesystem or Docker operation and
//! carries a typed cause. Every "whether to act" decision lives here; the executor only obeys.

mod containers;
pub use containers::desired_summary;
mod files;

use crate::agents::{AgentKind, AuthMode};
use crate::desired::{Desired, Scope, Target};
use crate::error::Code;
use crate::fingerprint::Fingerprinter;
use crate::handoff::Foreign;
use crate::observed::Observed;
use crate::words::{Owner, RelPath};
use schemars::JsonSchema;
use serde::Serialize;

pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// `--purge-removed`: delete handoff state of removed instances.
    pub purge_removed: bool,
    /// `--target`: only these instances (and only these orphans) are planned.
    pub target: Option<Target>,
    /// `--replace`: recreate these instances even when nothing changed.
    pub replace: Vec<Target>,
    /// `--host-timeout`: how long a host may take to answer before it is that host's error
    /// (default [`HOST_TIMEOUT`]). Observing, not planning, reads it; it travels with the
    /// options every caller already passes.
    pub host_timeout: Option<std::time::Duration>,
    /// Hosts not to dial this pass, with why (`watch`'s per-host backoff): unknown at once.
    pub resting: std::collections::BTreeMap<String, String>,
}

/// How long a host may take to answer when `--host-timeout` is not given (SPEC v3 §9).
pub const HOST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Plan {
    #[schemars(extend("const" = FORMAT_VERSION))]
    pub format_version: u32,
    pub project: String,
    pub images: Vec<ImageStep>,
    pub instances: Vec<InstancePlan>,
    pub summary: Summary,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ImageStep {
    /// The host whose engine pulls or builds it.
    pub host: String,
    pub image: String,
    pub action: ImageAction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ImageAction {
    Pull,
    Build { context: String, dockerfile: String },
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct InstancePlan {
    pub container: String,
    /// The host the container is (or is to be) on.
    pub host: String,
    pub workspace: String,
    pub role: String,
    pub agent: String,
    /// Effective auth per provisioned agent, with the scope that set it.
    pub auth: Vec<AuthView>,
    pub container_step: Option<ContainerStep>,
    pub files: Vec<FileStep>,
    /// Things left alone on purpose, e.g. the handoff kept while the host login is absent.
    pub notes: Vec<String>,
    /// What keeps this instance from converging (it fails; the others go on).
    pub problems: Vec<Problem>,
}

/// What keeps one instance from converging: that instance's error, the others go on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Problem {
    pub code: Code,
    /// The agent whose handoff holds the entry (handoff problems only).
    pub agent: Option<AgentKind>,
    /// Relative to the agent's handoff directory (handoff problems only).
    pub path: Option<RelPath>,
    /// What was found there (handoff problems only).
    pub found: Option<Foreign>,
    pub message: String,
    pub hint: String,
}

impl Problem {
    /// The instance's host did not answer: it is unknown this pass and left alone.
    pub fn host_down(host: &crate::desired::hosts::Host, why: &str) -> Problem {
        Problem {
            code: Code::E020,
            agent: None,
            path: None,
            found: None,
            message: format!("host {} did not answer ({why}); this instance is unknown and left alone", host.describe()),
            hint: "check that the engine runs and is reachable (`jackin doctor`); the other hosts converged without it".into(),
        }
    }

    /// An instance whose handoff cannot be given to the user its container runs as.
    pub fn owner(message: String, hint: String) -> Problem {
        Problem {
            code: Code::E046,
            agent: None,
            path: None,
            found: None,
            message,
            hint,
        }
    }
}

/// Why the handoff cannot belong to `owner` when jackin runs as `jackin` (`None`: it can).
/// Only root can give files away; a regular user can only hand over its own. A handoff held
/// by another host's engine is given by that engine (the owner is in what jackin puts), so
/// there jackin's own uid does not matter.
pub fn owner_mismatch(
    spec: &crate::desired::InstanceSpec,
    jackin: Owner,
    owner: Owner,
) -> Option<Problem> {
    let local = !spec.handoff_is_remote();
    (local && jackin.uid != 0 && jackin.uid != owner.uid).then(|| {
        Problem::owner(
            format!(
                "the container runs as uid {}, but jackin runs as uid {} and cannot give the handoff to another user",
                owner.uid, jackin.uid
            ),
            format!(
                "set `user = \"host\"` on the role (the container then runs as uid {}), or run jackin as uid {} or as root",
                jackin.uid, owner.uid
            ),
        )
    })
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AuthView {
    pub agent: AgentKind,
    pub mode: AuthMode,
    pub set_by: Scope,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContainerAction {
    Create,
    Recreate,
    Start,
    Restart,
    Remove,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ContainerCause {
    /// No container with this name.
    Missing,
    SpecChanged {
        changes: Vec<crate::desired::spec::SpecChange>,
    },
    NotRunning {
        state: String,
    },
    HandoffChanged,
    /// An earlier apply changed files but did not get to restart.
    RestartOwed,
    /// `--replace`: recreated on request though nothing changed.
    Replaced,
    /// Ours, but no longer declared.
    NotDeclared,
    /// Its instance is placed on another host now, where it runs already (SPEC v3 §9).
    Moved {
        to: String,
    },
}

/// One container step: the operation, with exactly what the executor needs for it, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "StepDocument")]
pub struct ContainerStep {
    pub op: ContainerOp,
    pub cause: ContainerCause,
}

/// What is done to a container. Each operation carries what it needs, so the executor never
/// has to assume a field the planner might have left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerOp {
    Create {
        image: String,
    },
    /// Stop and remove container `id`, then create from `image`.
    Recreate {
        id: String,
        image: String,
    },
    Start {
        id: String,
    },
    Restart {
        id: String,
    },
    /// `purge_state`: `--purge-removed`, also delete its handoff state.
    Remove {
        id: String,
        purge_state: bool,
    },
}

impl ContainerStep {
    pub fn action(&self) -> ContainerAction {
        match self.op {
            ContainerOp::Create { .. } => ContainerAction::Create,
            ContainerOp::Recreate { .. } => ContainerAction::Recreate,
            ContainerOp::Start { .. } => ContainerAction::Start,
            ContainerOp::Restart { .. } => ContainerAction::Restart,
            ContainerOp::Remove { .. } => ContainerAction::Remove,
        }
    }

    /// The image a create or recreate uses.
    pub fn image(&self) -> Option<&str> {
        match &self.op {
            ContainerOp::Create { image } | ContainerOp::Recreate { image, .. } => Some(image),
            _ => None,
        }
    }
}

// A container step as `plan --output json` shows it (the document's shape since format 1;
// a plain comment, so the schema stays as it was).
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "ContainerStep")]
struct StepDocument {
    action: ContainerAction,
    cause: ContainerCause,
    /// Existing container ID (recreate, start, restart, remove).
    id: Option<String>,
    /// Image reference to create from (create, recreate).
    image: Option<String>,
    /// `--purge-removed`: also delete its handoff state (remove).
    purge_state: bool,
}

impl From<ContainerStep> for StepDocument {
    fn from(step: ContainerStep) -> Self {
        let action = step.action();
        let (id, image, purge_state) = match step.op {
            ContainerOp::Create { image } => (None, Some(image), false),
            ContainerOp::Recreate { id, image } => (Some(id), Some(image), false),
            ContainerOp::Start { id } | ContainerOp::Restart { id } => (Some(id), None, false),
            ContainerOp::Remove { id, purge_state } => (Some(id), None, purge_state),
        };
        StepDocument {
            action,
            cause: step.cause,
            id,
            image,
            purge_state,
        }
    }
}

impl JsonSchema for ContainerStep {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        StepDocument::schema_name()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        StepDocument::json_schema(generator)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileAction {
    Copy,
    Purge,
    Keep,
    /// Ledger only: the handoff already holds the host bytes; record that jackin owns it.
    Adopt,
    /// Ledger only: the file is gone on both sides; drop its record.
    Forget,
    /// Write a first-run file where nothing is (never replacing anything); it belongs to the
    /// container afterwards and is not recorded in the ledger.
    Seed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileCause {
    /// First time jackin provisions this file.
    New,
    HostChanged,
    /// Missing from the handoff though the host is unchanged.
    Repair,
    /// Changed inside the container while the host did not.
    RotatedInContainer,
    /// The agent blanked a forwarded login (no token left: a failed refresh's stub) while the
    /// host did not change. Kept: copying the same spent host login again would only be
    /// blanked again, restarting the agent each time (SPEC v3 §3b).
    LoggedOut,
    /// Gone from the host; jackin's copy was unchanged, so it mirrors the deletion.
    HostDeleted,
    /// Gone from the host, but the container changed it.
    HostDeletedRotated,
    /// api_key / oauth_token: stale OAuth must not shadow the key.
    ModeApiKey,
    ModeOauthToken,
    ModeIgnore,
    /// A setting the agent needs to start without a prompt (SPEC v2 §3).
    FirstRun,
    /// A file jackin makes (SPEC v3 §3a: claude's owned `.claude.json` keys, codex's API-key
    /// login), written for the first time.
    Made,
    /// What jackin makes changed: the mode, the workdir, the key, or the account of the host
    /// login.
    MadeChanged,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct FileStep {
    pub agent: AgentKind,
    /// Relative to the agent's handoff directory.
    pub path: RelPath,
    pub action: FileAction,
    pub cause: FileCause,
    /// Keyed fingerprint of the host file's content; `null` when there is none.
    pub host: Option<String>,
    /// Keyed fingerprint of the handoff file's content; `null` when there is none.
    pub handoff: Option<String>,
    /// Absolute host path to copy from (copy only).
    #[serde(skip)]
    pub source: Option<std::path::PathBuf>,
    /// What to write when it is not a host file: a seed's bytes, or a file jackin makes
    /// (whole, or keys merged into the container's document). Never serialised: it can hold
    /// a credential.
    #[serde(skip)]
    pub content: Option<crate::agents::Content>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Summary {
    pub create: usize,
    pub recreate: usize,
    pub start: usize,
    pub restart: usize,
    pub remove: usize,
    pub copy: usize,
    pub purge: usize,
    /// First-run files written where nothing was.
    pub seed: usize,
    pub kept: usize,
}

impl std::ops::AddAssign for Summary {
    fn add_assign(&mut self, o: Summary) {
        self.create += o.create;
        self.recreate += o.recreate;
        self.start += o.start;
        self.restart += o.restart;
        self.remove += o.remove;
        self.copy += o.copy;
        self.purge += o.purge;
        self.seed += o.seed;
        self.kept += o.kept;
    }
}

impl Summary {
    /// Whether apply would change anything (what `--detailed-exitcode` reports).
    pub fn has_changes(&self) -> bool {
        self.create
            + self.recreate
            + self.start
            + self.restart
            + self.remove
            + self.copy
            + self.purge
            + self.seed
            > 0
    }
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        !self.images.is_empty() || self.summary.has_changes()
    }

    /// Instances with a problem: they fail whether or not the plan is applied.
    pub fn troubled(&self) -> impl Iterator<Item = &InstancePlan> {
        self.instances.iter().filter(|i| !i.problems.is_empty())
    }
}

fn auth_views(spec: &crate::desired::InstanceSpec) -> Vec<AuthView> {
    spec.auth
        .iter()
        .map(|a| AuthView {
            agent: a.agent,
            mode: a.mode,
            set_by: a.mode_from.clone(),
        })
        .collect()
}

/// SPEC v3 §3b: say which refreshable login several instances hold, and the ways out.
fn shared_login(s: &crate::observed::SharedLogin) -> String {
    format!(
        "the {} login in {} can refresh itself and is synced to {} instances ({}); the provider accepts each refresh token once, so the first refresh logs the others and the host out. Ways out: {}",
        s.agent,
        s.source.display(),
        s.instances.len(),
        s.instances.join(", "),
        crate::observed::shared_login_ways_out(s.agent)
    )
}

/// An agent that blanked its forwarded login (SPEC v3 §3b): logged out, with the fix.
fn logged_out(spec: &crate::desired::InstanceSpec, f: &FileStep) -> String {
    let agent = f.agent;
    format!(
        "{}: {agent} is logged out in the container ({agent}/{} holds no token); the unchanged host login is the grant it already spent, so jackin does not copy it again. Log in again on the host (a changed host login replaces it), or give the instance its own login (`jackin login {}/{} {agent}` with mode = \"ignore\")",
        spec.name, f.path, spec.workspace, spec.role
    )
}

/// A model the launched client does not define is that instance's error, with the aliases
/// it does define (SPEC v3 §3a): the kimi clients would otherwise start with no model.
fn unknown_model(
    spec: &crate::desired::InstanceSpec,
    state: &crate::observed::InstanceState,
) -> Option<Problem> {
    let model = spec.model_flag_value()?;
    let (path, aliases) = state.agents.get(&spec.agent)?.model_aliases.as_ref()?;
    if aliases.iter().any(|a| a == model) {
        return None;
    }
    let agent = spec.agent;
    let defined = aliases.join(", ");
    Some(Problem {
        code: Code::E050,
        agent: Some(agent),
        path: None,
        found: None,
        message: format!(
            "{agent} is launched with model `{model}`, which {} does not define ([models] has: {defined}); {agent} would start with no model",
            path.display()
        ),
        hint: format!(
            "set `model` under [roles.{}.{agent}] to one of the aliases {} defines, or remove it to use its default_model",
            spec.role,
            path.display()
        ),
    })
}

pub fn plan(
    desired: &Desired,
    observed: &Observed,
    opts: &PlanOptions,
    fp: &Fingerprinter,
) -> Plan {
    let mut warnings: Vec<String> = desired.warnings.clone();
    warnings.extend(observed.warnings.iter().cloned());
    let mut images = Vec::new();
    let one = One {
        desired,
        observed,
        opts,
        fp,
    };
    let mut instances: Vec<InstancePlan> = desired
        .instances
        .iter()
        .map(|(name, spec)| one.instance(name, spec, &mut warnings, &mut images))
        .collect();
    warnings.extend(observed.shared_logins.iter().map(shared_login));
    instances.extend(containers::plan_removals(desired, observed, opts));
    instances.sort_by(|a, b| a.container.cmp(&b.container));
    images.sort_by(|a, b| a.image.cmp(&b.image));
    images.dedup();
    Plan {
        format_version: FORMAT_VERSION,
        project: desired.project.clone(),
        images,
        summary: Summary::of(&instances),
        instances,
        warnings,
    }
}

/// What planning one declared instance reads.
struct One<'a> {
    desired: &'a Desired,
    observed: &'a Observed,
    opts: &'a PlanOptions,
    fp: &'a Fingerprinter,
}

impl One<'_> {
    /// One declared instance: its files, then its container; the images it needs go to
    /// `images`, what the operator should know to `warnings`.
    fn instance(
        &self,
        name: &str,
        spec: &crate::desired::InstanceSpec,
        warnings: &mut Vec<String>,
        images: &mut Vec<ImageStep>,
    ) -> InstancePlan {
        let (observed, state) = (self.observed, &self.observed.instances[name]);
        let declared = |container_step, files, notes, problems| InstancePlan {
            container: name.to_owned(),
            host: spec.host.clone(),
            workspace: spec.workspace.clone(),
            role: spec.role.clone(),
            agent: spec.agent.name().to_owned(),
            auth: auth_views(spec),
            container_step,
            files,
            notes,
            problems,
        };
        // A handoff its agent could not read, or a launch its client would reject (a model it
        // does not define): that instance is not touched at all, never a broken agent.
        if let Some(problem) = self
            .placement_problem(spec)
            .or_else(|| owner_problem(spec, state, observed))
            .or_else(|| unknown_model(spec, state))
        {
            return declared(None, Vec::new(), Vec::new(), vec![problem]);
        }
        let files::FilePlan {
            steps,
            notes,
            mut problems,
        } = files::plan_files(spec, state, self.fp, warnings);
        for f in steps.iter().filter(|f| f.cause == FileCause::LoggedOut) {
            warnings.push(logged_out(spec, f));
        }
        // A seed is not a handoff change: it is read when the agent starts, so a created or
        // recreated container has it, and a running one (whose agent is past its first run)
        // is not restarted for a file the container deleted and jackin puts back.
        let handoff_changed = steps
            .iter()
            .any(|s| matches!(s.action, FileAction::Copy | FileAction::Purge));
        let container_step = self.container(name, spec, handoff_changed, &mut problems);
        if container_step.as_ref().is_some_and(|s| s.image().is_some()) {
            containers::need_image(spec, state, observed, images);
        }
        declared(container_step, steps, notes, problems)
    }

    /// Where the instance is placed keeps it from converging: its host did not answer.
    fn placement_problem(&self, spec: &crate::desired::InstanceSpec) -> Option<Problem> {
        let host = self.desired.hosts.get(&spec.host)?;
        let why = self.observed.unreachable.get(&spec.host)?;
        Some(Problem::host_down(host, why))
    }

    /// The instance's container step. An agent that exited right after its start is not
    /// started again and again: it is this instance's problem until its spec or its handoff
    /// changes (or `--replace`).
    fn container(
        &self,
        name: &str,
        spec: &crate::desired::InstanceSpec,
        handoff_changed: bool,
        problems: &mut Vec<Problem>,
    ) -> Option<ContainerStep> {
        let observed = self.observed;
        let replace = self
            .opts
            .replace
            .iter()
            .any(|t| t.matches(&spec.workspace, &spec.role));
        let step = containers::plan_container(
            spec,
            &observed.instances[name],
            observed,
            self.desired.restart,
            handoff_changed,
            replace,
            self.fp,
        )?;
        let quick = observed
            .containers
            .get(name)
            .and_then(|c| c.quick_exit.as_ref());
        match quick {
            Some(q) if step.action() == ContainerAction::Start && !handoff_changed => {
                problems.push(exited_at_once(spec, q));
                None
            }
            _ => Some(step),
        }
    }
}

/// SPEC v3 §5: the agent exited right after its start; its exit code and last lines, and what
/// makes jackin try again.
pub fn exited_at_once(
    spec: &crate::desired::InstanceSpec,
    q: &crate::observed::QuickExit,
) -> Problem {
    Problem {
        code: Code::E047,
        agent: None,
        path: None,
        found: None,
        message: q.describe(spec.agent.name()),
        hint: format!(
            "the agent cannot run as launched: fix the image or the role (its model, flags, what the client needs; `jackin logs {}/{}` shows all it wrote). jackin starts it again when its spec or its handoff changes, or now with `jackin apply --replace {}/{}`",
            spec.workspace, spec.role, spec.workspace, spec.role
        ),
    }
}

/// Why an instance's handoff cannot be given to the user its container runs as, if so.
fn owner_problem(
    spec: &crate::desired::InstanceSpec,
    state: &crate::observed::InstanceState,
    observed: &Observed,
) -> Option<Problem> {
    match &state.owner {
        Some(Err(why)) => Some(Problem::owner(
            why.clone(),
            "set `user` on the role to \"UID:GID\", a user the image defines, or \"host\"".into(),
        )),
        Some(Ok(owner)) => owner_mismatch(spec, observed.jackin, *owner),
        None => None,
    }
}

impl Summary {
    /// One more container `action`.
    pub fn count(&mut self, action: ContainerAction) {
        *match action {
            ContainerAction::Create => &mut self.create,
            ContainerAction::Recreate => &mut self.recreate,
            ContainerAction::Start => &mut self.start,
            ContainerAction::Restart => &mut self.restart,
            ContainerAction::Remove => &mut self.remove,
        } += 1;
    }

    /// The counts of a plan's steps.
    pub fn of(instances: &[InstancePlan]) -> Summary {
        let mut summary = Summary::default();
        for i in instances {
            if let Some(step) = &i.container_step {
                summary.count(step.action());
            }
            for f in &i.files {
                match f.action {
                    FileAction::Copy => summary.copy += 1,
                    FileAction::Purge => summary.purge += 1,
                    FileAction::Seed => summary.seed += 1,
                    FileAction::Keep => summary.kept += 1,
                    FileAction::Adopt | FileAction::Forget => {}
                }
            }
        }
        summary
    }
}
