//! One reconcile: load → validate → resolve → observe → plan → (execute).
//!
//! `plan`, `apply --dry-run` and `apply` all resolve, check that `$JACKIN_HOME` is private,
//! then connect to every host and observe and plan the same way (each host within
//! `--host-timeout`; SPEC v3 §9); only `apply` hands the plan to the executor, which runs each
//! step on its instance's host. Guards that must stop an apply before anything changes (name
//! conflicts, removing every container) are checked here, after planning and before executing.
//! When no host answers, the run fails before the key is made or anything is observed.

use crate::desired::hosts::Host;
use crate::desired::{self, Desired, Target};
use crate::error::{Code, Coded, Error};
use crate::exec::{Executor, Failure, Outcome};
use crate::fingerprint::Fingerprinter;
use crate::lock;
use crate::manifest::{self, Loaded};
use crate::observed::Deadline;
use crate::observed::{self, Observed};
use crate::paths::JackinHome;
use crate::plan::{self, ContainerAction, Plan, PlanOptions};
use crate::redact::Redactor;
use crate::report::{Event, Reporter};
use crate::runtime::{Engine, Runtime, RuntimeError};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{} container name(s) are taken by containers jackin does not manage: {}", .names.len(), .names.join(", "))]
    NameConflict { names: Vec<String> },
    #[error("the desired state declares no instances{}, but project {project} owns {count} container(s); refusing to remove them all", if *.targeted { " matching --target" } else { "" })]
    RefuseEmpty {
        project: String,
        count: usize,
        targeted: bool,
    },
    #[error("{flag} {target} names no instance of the desired state")]
    NoSuchInstance { flag: &'static str, target: String },
    #[error("{failed} of the planned instance(s) {}", if *.applied { "failed to converge; the others were applied" } else { "cannot converge; see the errors above" })]
    Incomplete { failed: usize, applied: bool },
}

impl Coded for ApplyError {
    fn code(&self) -> Code {
        match self {
            ApplyError::NameConflict { .. } => Code::E022,
            ApplyError::RefuseEmpty { .. } => Code::E031,
            ApplyError::Incomplete { .. } => Code::E041,
            ApplyError::NoSuchInstance { .. } => Code::E032,
        }
    }
    fn hint(&self) -> Option<String> {
        Some(match self {
            ApplyError::NameConflict { .. } => {
                "rename or remove those containers yourself (jackin never touches what is not its own), or rename the workspace/role".into()
            }
            ApplyError::RefuseEmpty { .. } => {
                "if you really mean to remove every container of the project, rerun with --allow-empty".into()
            }
            ApplyError::Incomplete { .. } => {
                "fix the errors above and rerun apply: it finishes what is left".into()
            }
            ApplyError::NoSuchInstance { .. } => {
                "name a declared instance as WORKSPACE or WORKSPACE/ROLE (see `jackin status`)".into()
            }
        })
    }
}

/// Where jackin runs: the working directory, `$HOME`, `$JACKIN_HOME` and `-f`.
#[derive(Debug, Clone)]
pub struct Context {
    pub cwd: PathBuf,
    pub home: PathBuf,
    pub jackin_home: JackinHome,
    pub file: Option<PathBuf>,
}

impl Context {
    pub fn from_env(file: Option<PathBuf>) -> Self {
        Context {
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            home: crate::paths::home_dir(),
            jackin_home: JackinHome::from_env(),
            file,
        }
    }

    /// Parse and validate: no host env, host files or Docker (what `validate` runs).
    pub fn load(&self) -> Result<Loaded, Error> {
        let loaded = manifest::load(self.file.as_deref(), &self.cwd)?;
        manifest::validate(&loaded)?;
        Ok(loaded)
    }

    /// Resolve against jackin's own environment.
    pub fn resolve(&self, loaded: &Loaded) -> Result<Desired, Error> {
        let lookup = |name: &str| std::env::var(name).ok();
        Ok(desired::resolve(
            loaded,
            &self.home,
            &self.jackin_home,
            &lookup,
        )?)
    }
}

/// Everything a plan was made from, so apply executes exactly what was shown.
pub struct Prepared<E: Engine = Runtime> {
    pub desired: Desired,
    pub observed: Observed,
    pub plan: Plan,
    pub fp: Fingerprinter,
    pub engines: Engines<E>,
}

/// The engines of one run that answered, by host name (those that did not are in the
/// observation's `unreachable`).
pub struct Engines<E: Engine = Runtime> {
    pub up: BTreeMap<String, E>,
}

impl<E: Engine> Engines<E> {
    /// API calls made so far, on every engine.
    pub fn api_calls(&self) -> usize {
        self.up.values().map(Engine::api_calls).sum()
    }
}

/// `plan` and `status`: resolve, check that jackin's own state is private, then connect,
/// observe and plan.
pub async fn prepare(
    ctx: &Context,
    loaded: &Loaded,
    target: Option<&Target>,
    opts: &PlanOptions,
) -> Result<Prepared, Error> {
    let (desired, redactor) = checked(ctx.resolve(loaded)?, target, opts)?;
    ctx.jackin_home.ensure_private()?;
    observe_and_plan(ctx, desired, connector(redactor), opts).await
}

/// How a run reaches each host's engine.
fn connector(
    redactor: Redactor,
) -> impl Fn(Host) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Runtime, RuntimeError>>>>
{
    move |host: Host| {
        let redactor = redactor.clone();
        Box::pin(async move { host.connect(redactor).await })
    }
}

/// The `--replace` targets checked against the state, which is then narrowed to `--target`;
/// with the redactor of every instance's values, targeted or not (an engine may echo any).
fn checked(
    mut desired: Desired,
    target: Option<&Target>,
    opts: &PlanOptions,
) -> Result<(Desired, Redactor), Error> {
    // Like terraform's -replace of an unknown address: a typo must not pass as "nothing to do".
    if let Some(t) = opts.replace.iter().find(|t| {
        !desired
            .instances
            .values()
            .any(|i| t.matches(&i.workspace, &i.role))
    }) {
        return Err(ApplyError::NoSuchInstance {
            flag: "--replace",
            target: t.to_string(),
        }
        .into());
    }
    let redactor = desired.redactor();
    if let Some(t) = target {
        desired.retain_target(t);
    }
    Ok((desired, redactor))
}

/// Connect to every host, observe and plan; `$JACKIN_HOME` has been checked by the caller.
/// Each host is connected and listed on its own within `--host-timeout`.
pub(crate) async fn observe_and_plan<E, F, C>(
    ctx: &Context,
    desired: Desired,
    connect: F,
    opts: &PlanOptions,
) -> Result<Prepared<E>, Error>
where
    E: Engine,
    F: Fn(Host) -> C,
    C: std::future::Future<Output = Result<E, RuntimeError>>,
{
    let deadline = Deadline::after(opts.host_timeout.unwrap_or(plan::HOST_TIMEOUT));
    // A resting host (watch's backoff) is not dialled: unknown at once, with why.
    let connect = |host: Host| {
        let rest = opts.resting.get(&host.name).cloned();
        let dial = rest.is_none().then(|| connect(host.clone()));
        async move {
            match (dial, rest) {
                (Some(dial), _) => dial.await,
                (None, why) => Err(RuntimeError::Unreachable {
                    host: host.docker,
                    detail: why.unwrap_or_default(),
                }),
            }
        }
    };
    let (observed, up) =
        observed::observe(&desired, connect, deadline, &ctx.jackin_home, &ctx.home).await?;
    let fp = Fingerprinter::load_or_create(&ctx.jackin_home.key_path())?;
    let plan = plan::plan(&desired, &observed, opts, &fp);
    Ok(Prepared {
        desired,
        observed,
        plan,
        fp,
        engines: Engines { up },
    })
}

/// Errors that must stop an apply before anything changes.
pub fn guard<E: Engine>(p: &Prepared<E>, allow_empty: bool, targeted: bool) -> Result<(), Error> {
    if !p.observed.conflicts.is_empty() {
        return Err(ApplyError::NameConflict {
            names: p.observed.conflicts.keys().cloned().collect(),
        }
        .into());
    }
    let removing = p
        .plan
        .instances
        .iter()
        .filter(|i| matches!(&i.container_step, Some(s) if s.action() == ContainerAction::Remove))
        .count();
    if p.desired.instances.is_empty() && removing > 0 && !allow_empty {
        return Err(ApplyError::RefuseEmpty {
            project: p.desired.project.clone(),
            count: removing,
            targeted,
        }
        .into());
    }
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    pub plan: PlanOptions,
    pub allow_empty: bool,
    pub dry_run: bool,
    pub lock_timeout: Duration,
}

/// One `apply` pass: resolve, check `$JACKIN_HOME`, lock, connect and observe, plan, guard,
/// report the plan, execute, summarise. `watch` runs [`apply_resolved`] once per pass.
pub async fn apply(
    ctx: &Context,
    loaded: &Loaded,
    opts: &ApplyOptions,
    reporter: &mut dyn Reporter,
) -> Result<Outcome, Error> {
    let desired = ctx.resolve(loaded)?;
    apply_resolved(ctx, loaded, desired, opts, reporter).await
}

/// [`apply`] of `loaded` as resolved already into `desired` (watch's passes).
pub async fn apply_resolved(
    ctx: &Context,
    loaded: &Loaded,
    desired: Desired,
    opts: &ApplyOptions,
    reporter: &mut dyn Reporter,
) -> Result<Outcome, Error> {
    let started = Instant::now();
    let target = opts.plan.target.as_ref();
    let (desired, redactor) = checked(desired, target, &opts.plan)?;
    ctx.jackin_home.ensure_private()?;
    let _lock = if opts.dry_run {
        None
    } else {
        // Waited for off the async threads: a caller racing the apply against a signal (the
        // console's ctrl-c) sees the signal while another apply holds the lock.
        let (path, project) = (
            ctx.jackin_home.lock_path(&loaded.project),
            loaded.project.clone(),
        );
        let timeout = opts.lock_timeout;
        let wait = tokio::task::spawn_blocking(move || lock::acquire(&path, &project, timeout));
        Some(
            wait.await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?,
        )
    };
    let p = observe_and_plan(ctx, desired, connector(redactor), &opts.plan).await?;
    guard(&p, opts.allow_empty, target.is_some())?;
    for w in &p.plan.warnings {
        reporter.event(Event::Warning { message: w.clone() });
    }
    reporter.event(Event::Plan(Box::new(p.plan.clone())));
    let mut outcome = if opts.dry_run {
        // A dry run fails where the apply would: on the instances with problems.
        let mut outcome = Outcome::default();
        for f in p.plan.instances.iter().filter_map(Failure::of_problems) {
            reporter.event(f.event());
            outcome.failures.push(f);
        }
        outcome
    } else {
        execute(ctx, &p, reporter).await
    };
    for f in silent_hosts(&p) {
        reporter.event(f.event());
        outcome.failures.push(f);
    }
    outcome.unreachable.clone_from(&p.observed.unreachable);
    reporter.event(Event::Summary {
        applied: outcome.applied,
        failed: outcome.failed_instances(),
        api_calls: p.engines.api_calls(),
        files_hashed: p.observed.files_hashed,
        duration_ms: started.elapsed().as_millis(),
    });
    Ok(outcome)
}

/// Hosts that did not answer and hold no declared instance (whose problems already say so):
/// their containers are unknown this pass, which is a failure of the run all the same.
pub fn silent_hosts<E: Engine>(p: &Prepared<E>) -> Vec<Failure> {
    p.observed
        .unreachable
        .iter()
        .filter(|(h, _)| !p.plan.instances.iter().any(|i| &i.host == *h))
        .map(|(h, why)| Failure {
            container: None,
            code: Code::E020,
            message: format!(
                "host {} did not answer ({why}); its containers are unknown and left alone",
                p.desired
                    .hosts
                    .get(h.as_str())
                    .map_or(h.clone(), |x| x.describe())
            ),
        })
        .collect()
}

/// Carry out the plan `p` holds, reporting each step.
pub(crate) async fn execute<E: Engine>(
    ctx: &Context,
    p: &Prepared<E>,
    reporter: &mut dyn Reporter,
) -> Outcome {
    let executor = Executor {
        engines: &p.engines.up,
        home: &ctx.jackin_home,
        fp: &p.fp,
        reporter: RefCell::new(reporter),
    };
    executor.execute(&p.plan, &p.desired, &p.observed).await
}

#[cfg(test)]
mod tests;
