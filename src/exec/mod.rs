//! The executor: carries out a [`Plan`] step by step and reports each step as an event.
//!
//! It decides nothing. Images first, then removals, then each instance: file steps, the
//! ledger (with `restart_owed` set *before* a restart, so a crash between copying and
//! restarting is finished by the next apply), then the container step. A failing instance
//! does not stop the others; the outcome lists what failed.

mod files;

pub use files::{apply as apply_files, Folders, Handoff, Volumes};

use crate::desired::spec::SpecSummary;
use crate::desired::{Desired, InstanceSpec};
use crate::error::{Code, Coded};
use crate::fingerprint::Fingerprinter;
use crate::handoff::{Owner, Store};
use crate::observed::{self, Observed};
use crate::paths::JackinHome;
use crate::plan::{
    ContainerAction, ContainerOp, ContainerStep, ImageAction, InstancePlan, Plan, Summary,
};
use crate::report::{Event, Reporter};
use crate::runtime::{ContainerConfig, Engine, ImageInfo, MountConfig};
use crate::words::labels;
use futures_util::stream::{self, StreamExt};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

/// An instance (or image) that failed, with its rendered error.
#[derive(Debug, Clone)]
pub struct Failure {
    pub container: Option<String>,
    pub code: Code,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub applied: Summary,
    pub failures: Vec<Failure>,
    /// Hosts that did not answer this run, with why (`watch` rests them).
    pub unreachable: BTreeMap<String, String>,
}

impl Failure {
    /// The `failed` event that reports it.
    pub fn event(&self) -> Event {
        Event::Failed {
            container: self.container.clone(),
            code: self.code,
            message: self.message.clone(),
        }
    }

    /// An instance whose plan carries problems fails with them, applied or not.
    pub fn of_problems(inst: &InstancePlan) -> Option<Failure> {
        let first = inst.problems.first()?;
        Some(Failure {
            container: Some(inst.container.clone()),
            code: first.code,
            message: inst
                .problems
                .iter()
                .map(|p| p.message.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        })
    }
}

impl Outcome {
    /// Instances that did not converge (an image failure is counted through its instances).
    pub fn failed_instances(&self) -> usize {
        self.failures
            .iter()
            .filter(|f| f.container.is_some())
            .count()
    }
}

pub struct Executor<'a, E: Engine> {
    /// The engine of each host that answered; every step runs on its host's.
    pub engines: &'a BTreeMap<String, E>,
    pub home: &'a JackinHome,
    pub fp: &'a Fingerprinter,
    /// Shared by the instances converging at once; borrowed only for one event, never across
    /// an `.await`.
    pub reporter: RefCell<&'a mut dyn Reporter>,
}

/// What every instance of one execution shares.
struct Run<'a> {
    desired: &'a Desired,
    observed: &'a Observed,
    /// (host, image reference) → ID, after this run's pulls and builds.
    images: &'a BTreeMap<ImageKey, Option<String>>,
    failed_images: &'a std::collections::BTreeSet<ImageKey>,
    /// Who the containers run as whose images only this run pulled or built (observe could
    /// not tell): resolved once, before the instances converge, each image read once.
    new_owners: &'a BTreeMap<String, Result<Result<Owner, String>, Failure>>,
    store: &'a Store,
    /// The containers this run started (name, host), and when: checked for an agent that
    /// exits at once.
    started: RefCell<Vec<(String, String, tokio::time::Instant)>>,
}

/// An image on one host's engine: (host, reference).
type ImageKey = (String, String);

impl Run<'_> {
    fn started_now(&self, inst: &InstancePlan) {
        let at = tokio::time::Instant::now();
        let started = (inst.container.clone(), inst.host.clone(), at);
        self.started.borrow_mut().push(started);
    }
}

/// Whether nothing is written for this instance and no container step runs (its ledger may
/// still take fresher stat data).
fn idle(inst: &InstancePlan) -> bool {
    inst.files.is_empty() && inst.container_step.is_none()
}

/// Instances converged at once. Each is a few Docker calls the engine mostly waits on, so a
/// handful in flight hides their latency without flooding the daemon.
const PARALLEL_INSTANCES: usize = 8;

fn failure(container: Option<&str>, err: &dyn Coded) -> Failure {
    Failure {
        container: container.map(str::to_owned),
        code: err.code(),
        message: err.to_string().lines().collect::<Vec<_>>().join("; "),
    }
}

impl<E: Engine> Executor<'_, E> {
    fn report(&self, event: Event) {
        self.reporter.borrow_mut().event(event);
    }

    /// The engine of `host`. The planner gives an instance on a host that did not answer no
    /// step, so a missing one is a bug, reported as that instance's failure.
    fn engine(&self, host: &str, container: Option<&str>) -> Result<&E, Failure> {
        self.engines.get(host).ok_or_else(|| Failure {
            container: container.map(str::to_owned),
            code: Code::E020,
            message: format!("host {host} has no engine in this run"),
        })
    }

    pub async fn execute(&self, plan: &Plan, desired: &Desired, observed: &Observed) -> Outcome {
        let mut out = Outcome::default();
        let mut images: BTreeMap<ImageKey, Option<String>> = observed.images.clone();
        let mut infos = BTreeMap::new();
        let mut failed_images = std::collections::BTreeSet::new();
        for step in &plan.images {
            let key = (step.host.clone(), step.image.clone());
            match self.image(&step.host, &step.image, &step.action).await {
                Ok(info) => {
                    images.insert(key.clone(), info.as_ref().map(|i| i.id.clone()));
                    infos.extend(info.map(|i| (key, i)));
                }
                Err(f) => {
                    failed_images.insert(key);
                    out.failures.push(self.fail(f));
                }
            }
        }
        let new_owners = self
            .new_owners(plan, desired, observed, &infos, &failed_images)
            .await;
        let store = Store::new(self.home);
        let run = Run {
            desired,
            observed,
            images: &images,
            failed_images: &failed_images,
            new_owners: &new_owners,
            store: &store,
            started: RefCell::new(Vec::new()),
        };
        // A moved instance's old container goes once the instance converged on its new host.
        let (moves, rest): (Vec<&InstancePlan>, Vec<&InstancePlan>) =
            plan.instances.iter().partition(|i| moved(i));
        self.converge_all(&run, rest, &mut out).await;
        let arrived = moves
            .into_iter()
            .filter(|m| {
                !out.failures
                    .iter()
                    .any(|f| f.container.as_ref() == Some(&m.container))
            })
            .collect();
        self.converge_all(&run, arrived, &mut out).await;
        let started = run.started.take();
        for f in self.exited_at_once(started, desired, &out.failures).await {
            out.failures.push(self.fail(f));
        }
        out
    }

    /// `instances` converged at once, a few in flight.
    async fn converge_all(&self, run: &Run<'_>, instances: Vec<&InstancePlan>, out: &mut Outcome) {
        let converge = |inst| self.converge(run, inst);
        let results: Vec<_> = stream::iter(instances.into_iter().map(converge))
            .buffer_unordered(PARALLEL_INSTANCES)
            .collect()
            .await;
        for (applied, result) in results {
            out.applied += applied;
            if let Err(f) = result {
                out.failures.push(f);
            }
        }
    }

    /// SPEC v3 §5: the containers this run started whose agent exited right after its start
    /// fail, with its exit code and last lines. All are waited for at once, each until
    /// [`observed::APPLY_WAITS`] after its own start (the engine's wait endpoint, not a poll).
    async fn exited_at_once(
        &self,
        started: Vec<(String, String, tokio::time::Instant)>,
        desired: &Desired,
        failed: &[Failure],
    ) -> Vec<Failure> {
        let checks = started
            .into_iter()
            .filter(|(n, ..)| !failed.iter().any(|f| f.container.as_deref() == Some(n)))
            .map(|(name, host, at)| async move {
                let engine = self.engines.get(&host)?;
                let left = (at + observed::APPLY_WAITS)
                    .saturating_duration_since(tokio::time::Instant::now());
                // The wait ends at the exit or the deadline; either way one inspect decides (a
                // busy engine may answer the wait late).
                if !left.is_zero() {
                    engine.wait_for_stop(&name, left).await;
                }
                let q = observed::quick_exit(engine, &name).await?;
                let spec = desired.instances.get(&name)?;
                Some(Failure {
                    container: Some(name),
                    code: Code::E047,
                    message: crate::plan::exited_at_once(spec, &q).message,
                })
            });
        futures_util::future::join_all(checks)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// One instance, with its own counts (instances run concurrently).
    async fn converge(&self, run: &Run<'_>, inst: &InstancePlan) -> (Summary, Result<(), Failure>) {
        let mut applied = Summary::default();
        let needs_failed_image = inst
            .container_step
            .as_ref()
            .and_then(ContainerStep::image)
            .is_some_and(|i| {
                run.failed_images
                    .contains(&(inst.host.clone(), i.to_owned()))
            });
        let result = if needs_failed_image {
            Err(Failure {
                container: Some(inst.container.clone()),
                code: Code::E023,
                message: "skipped: its image is not available (see above)".into(),
            })
        } else {
            self.instance(run, inst, &mut applied).await
        };
        (applied, result.map_err(|f| self.fail(f)))
    }

    /// Report a failure as it happens; the caller records it.
    fn fail(&self, f: Failure) -> Failure {
        self.report(f.event());
        f
    }

    /// Who the containers of `plan` run as where observe could not tell (their image was
    /// absent): for each instance that will write or start something, by container name.
    /// One `/etc/passwd` read per image, however many instances use it.
    async fn new_owners(
        &self,
        plan: &Plan,
        desired: &Desired,
        observed: &Observed,
        infos: &BTreeMap<ImageKey, ImageInfo>,
        failed_images: &std::collections::BTreeSet<ImageKey>,
    ) -> BTreeMap<String, Result<Result<Owner, String>, Failure>> {
        let mut files = observed::owner::UserFiles::default();
        let mut owners = BTreeMap::new();
        for inst in plan.instances.iter().filter(|i| !idle(i)) {
            let name = inst.container.as_str();
            let (Some(spec), Some(state)) =
                (desired.instances.get(name), observed.instances.get(name))
            else {
                continue;
            };
            let key = (inst.host.clone(), state.image.clone());
            if state.owner.is_some() || failed_images.contains(&key) {
                continue;
            }
            let Ok(engine) = self.engine(&inst.host, Some(name)) else {
                continue; // its step fails for the same reason
            };
            let resolved = async {
                let info = match infos.get(&key) {
                    Some(info) => info.clone(),
                    None => engine.image(&state.image).await?.unwrap_or(ImageInfo {
                        id: String::new(),
                        user: String::new(),
                    }),
                };
                observed::owner::resolve(
                    engine,
                    &spec.user,
                    &state.image,
                    &info,
                    observed.jackin,
                    None,
                    &mut files,
                )
                .await
            }
            .await
            .map_err(|e| failure(Some(name), &e));
            owners.insert(name.to_owned(), resolved);
        }
        owners
    }

    async fn image(
        &self,
        host: &str,
        image: &str,
        action: &ImageAction,
    ) -> Result<Option<ImageInfo>, Failure> {
        let engine = self.engine(host, None)?;
        match action {
            ImageAction::Pull => {
                self.report(Event::Image {
                    image: image.into(),
                    status: "pulling".into(),
                });
                let mut tracker = crate::report::pull::PullTracker::default();
                engine
                    .pull(image, |update| {
                        if let Some(progress) = tracker.update(&update) {
                            self.report(Event::PullProgress {
                                image: image.into(),
                                progress,
                            });
                        }
                    })
                    .await
                    .map_err(|e| failure(None, &e))?;
                self.report(Event::Image {
                    image: image.into(),
                    status: "pulled".into(),
                });
            }
            ImageAction::Build {
                context,
                dockerfile,
            } => self.build(engine, image, context, dockerfile).await?,
        }
        engine.image(image).await.map_err(|e| failure(None, &e))
    }

    /// Build `image` from `context`, only if the context's bytes are still the ones the plan's
    /// tag names: a context edited since planning is a rerun, not a mislabelled image.
    async fn build(
        &self,
        engine: &E,
        image: &str,
        context: &str,
        dockerfile: &str,
    ) -> Result<(), Failure> {
        self.report(Event::Image {
            image: image.into(),
            status: format!("building from {context}"),
        });
        let changed = |reason: String| Failure {
            container: None,
            code: Code::E024,
            message: format!("build context {context}: {reason}"),
        };
        let tar =
            crate::observed::images::BuildContext::read(std::path::Path::new(context), dockerfile)
                .and_then(|c| c.tar())
                .map_err(|e| changed(e.to_string()))?;
        let hash = crate::observed::images::context_hash(dockerfile, &tar);
        if !image.ends_with(&format!(":ctx-{hash}")) {
            return Err(changed(
                "it changed after the plan was made; rerun apply".into(),
            ));
        }
        engine
            .build(tar, dockerfile, image)
            .await
            .map_err(|e| failure(None, &e))?;
        self.report(Event::Image {
            image: image.into(),
            status: "built".into(),
        });
        Ok(())
    }

    async fn instance(
        &self,
        run: &Run<'_>,
        inst: &InstancePlan,
        applied: &mut Summary,
    ) -> Result<(), Failure> {
        let observed = run.observed;
        let spec = run.desired.instances.get(&inst.container);
        let name = inst.container.as_str();
        let state = observed.instances.get(name);
        let owner = match (spec, state) {
            (Some(spec), Some(state)) if !idle(inst) => Self::owner(run, spec, state)?,
            // Nothing is written for an idle instance (its ledger may still take fresher stat
            // data), and a removed one only loses what jackin forwarded: nothing is handed on.
            _ => observed.jackin,
        };
        let (mut ledger, made) = match spec.filter(|s| s.handoff_is_remote()) {
            Some(_) => self.through_volumes(run, inst, owner, applied).await?,
            None => {
                let mut folders = files::Folders::new(run.store, name, owner);
                (
                    self.files(run, &mut folders, inst, owner, applied).await?,
                    None,
                )
            }
        };
        if let Some(step) = &inst.container_step {
            let step = Step { step, made };
            self.container(run, inst, step, owner, &mut ledger, applied)
                .await?;
        }
        // What the container did to its handoff fails this instance, after everything else
        // about it converged.
        Failure::of_problems(inst).map_or(Ok(()), Err)
    }

    /// Carry out `inst`'s file steps through `handoff`; the ledger as it became.
    async fn files(
        &self,
        run: &Run<'_>,
        handoff: &mut impl files::Handoff,
        inst: &InstancePlan,
        owner: Owner,
        applied: &mut Summary,
    ) -> Result<crate::ledger::Ledger, Failure> {
        let state = run.observed.instances.get(&inst.container);
        let declared = run.desired.instances.contains_key(&inst.container);
        let mut report = |e| self.report(e);
        let ledger = files::apply(
            run.store,
            handoff,
            inst,
            state,
            owner,
            declared,
            &mut report,
            applied,
        );
        ledger.await.map_err(|e| failure(Some(&inst.container), &e))
    }

    /// An instance whose handoff is volumes of its engine (SPEC v3 §9): the files go through a
    /// container there, so a new one is created (not started) first and its files put before
    /// its agent starts; otherwise through the one observe saw. The container made, if any.
    async fn through_volumes(
        &self,
        run: &Run<'_>,
        inst: &InstancePlan,
        owner: Owner,
        applied: &mut Summary,
    ) -> Result<(crate::ledger::Ledger, Option<String>), Failure> {
        let name = inst.container.as_str();
        let ledger = run.observed.instances.get(name).map(|s| &s.ledger);
        let engine = match self.engine(&inst.host, Some(name)) {
            Ok(engine) => engine,
            // Its host did not answer: nothing was planned for it.
            Err(_) if idle(inst) => return Ok((ledger.cloned().unwrap_or_default(), None)),
            Err(f) => return Err(f),
        };
        let made = match inst.container_step.as_ref().map(|s| &s.op) {
            Some(ContainerOp::Create { image }) => {
                Some(self.create(run, inst, image, None, owner).await?)
            }
            Some(ContainerOp::Recreate { id, image }) => {
                Some(self.create(run, inst, image, Some(id), owner).await?)
            }
            _ => None,
        };
        let id = made
            .clone()
            .or_else(|| run.observed.containers.get(name).map(|c| c.id.clone()));
        // No file step still records fresher stat data in the ledger (the next no-op reads
        // nothing it knows).
        let Some(id) = id else {
            return Ok((ledger.cloned().unwrap_or_default(), made));
        };
        let mut volumes = files::Volumes { engine, id, owner };
        let ledger = self.files(run, &mut volumes, inst, owner, applied).await?;
        Ok((ledger, made))
    }

    async fn container(
        &self,
        run: &Run<'_>,
        inst: &InstancePlan,
        step: Step<'_>,
        owner: Owner,
        ledger: &mut crate::ledger::Ledger,
        applied: &mut Summary,
    ) -> Result<(), Failure> {
        let name = inst.container.as_str();
        let fail = |e: &dyn Coded| failure(Some(name), e);
        let engine = self.engine(&inst.host, Some(name))?;
        match (&step.step.op, step.made) {
            (ContainerOp::Remove { id, purge_state }, _) => {
                engine.remove(id).await.map_err(|e| fail(&e))?;
                if *purge_state {
                    Self::purge_removed(run, inst, engine).await?;
                }
            }
            (ContainerOp::Start { id }, _) => {
                engine.start(id).await.map_err(|e| fail(&e))?;
                run.started_now(inst);
            }
            (ContainerOp::Restart { id }, _) => {
                engine.restart(id).await.map_err(|e| fail(&e))?;
                run.started_now(inst);
            }
            (ContainerOp::Create { image } | ContainerOp::Recreate { image, .. }, made) => {
                let old = match &step.step.op {
                    ContainerOp::Recreate { id, .. } => Some(id.as_str()),
                    _ => None,
                };
                let id = match made {
                    Some(id) => id,
                    None => {
                        self.give(run, inst, owner, ledger)?;
                        self.create(run, inst, image, old, owner).await?
                    }
                };
                engine.start(&id).await.map_err(|e| fail(&e))?;
                run.started_now(inst);
            }
        }
        let step = step.step;
        applied.count(step.action());
        self.report(Event::Container {
            container: name.into(),
            action: step.action(),
            cause: step.cause.clone(),
        });
        if ledger.restart_owed && step.action() != ContainerAction::Remove {
            ledger.restart_owed = false;
            let folder = run.observed.instances.get(name).map_or(name, |s| &s.folder);
            run.store
                .save_ledger(folder, ledger)
                .map_err(|e| fail(&e))?;
        }
        Ok(())
    }

    /// `--purge-removed`: the removed instance's folder (keyed by its host when that host's
    /// engine is not on this machine), and its handoff volumes there.
    async fn purge_removed(run: &Run<'_>, inst: &InstancePlan, engine: &E) -> Result<(), Failure> {
        let name = inst.container.as_str();
        let fail = |e: &dyn Coded| failure(Some(name), e);
        let remote = run
            .desired
            .hosts
            .get(&inst.host)
            .is_some_and(|h| !h.on_this_machine());
        let folder = crate::desired::hosts::folder(name, &inst.host, remote);
        run.store.purge_instance(&folder).map_err(|e| fail(&e))?;
        if remote {
            let volumes = engine.remove_handoff_volumes(&run.desired.project, name);
            volumes.await.map_err(|e| fail(&e))?;
        }
        Ok(())
    }

    /// The container may run as someone new: its handoff folders on this machine (and what
    /// jackin forwarded there) are given to that user before it starts.
    fn give(
        &self,
        run: &Run<'_>,
        inst: &InstancePlan,
        owner: Owner,
        ledger: &crate::ledger::Ledger,
    ) -> Result<(), Failure> {
        let name = inst.container.as_str();
        let fail = |e: &dyn Coded| failure(Some(name), e);
        let Some(spec) = run.desired.instances.get(name) else {
            return Ok(());
        };
        for auth in &spec.auth {
            let handoff = run.store.agent(name, auth.agent, Some(owner));
            if let Some(handoff) = handoff.map_err(|e| fail(&e))? {
                let forwarded: Vec<_> = ledger.of(auth.agent).map(|(p, _)| p).collect();
                handoff.give(&forwarded, owner).map_err(|e| fail(&e))?;
            }
        }
        Ok(())
    }

    /// Create container `name` from `image` (not started), replacing container `old` when
    /// given; its ID.
    async fn create(
        &self,
        run: &Run<'_>,
        inst: &InstancePlan,
        image: &str,
        old: Option<&str>,
        owner: Owner,
    ) -> Result<String, Failure> {
        let name = inst.container.as_str();
        let fail = |e: &dyn Coded| failure(Some(name), e);
        let engine = self.engine(&inst.host, Some(name))?;
        let Some(spec) = run.desired.instances.get(name) else {
            return Err(Failure {
                container: Some(name.to_owned()),
                code: Code::E021,
                message: "planned to be created but not declared (a bug in jackin)".into(),
            });
        };
        let key = (inst.host.clone(), image.to_owned());
        let image_id = run.images.get(&key).cloned().flatten().unwrap_or_default();
        let (project, host) = (run.desired.project.as_str(), run.observed.jackin);
        let cfg = self.config(spec, image, &image_id, project, host, owner);
        if let Some(id) = old {
            engine.stop(id).await.map_err(|e| fail(&e))?;
            engine.remove(id).await.map_err(|e| fail(&e))?;
        }
        engine.create(&cfg).await.map_err(|e| fail(&e))
    }

    /// Who the instance's container runs as: observed, or resolved after this run pulled or
    /// built its image ([`Self::new_owners`]).
    fn owner(
        run: &Run<'_>,
        spec: &InstanceSpec,
        state: &crate::observed::InstanceState,
    ) -> Result<Owner, Failure> {
        let (observed, name) = (run.observed, spec.name.as_str());
        let resolved = match (&state.owner, run.new_owners.get(name)) {
            (Some(owner), _) => owner.clone(),
            (None, Some(resolved)) => resolved.clone()?,
            (None, None) => Err("its image's user was not resolved".to_owned()),
        };
        let problem = match resolved {
            Ok(owner) => match crate::plan::owner_mismatch(spec, observed.jackin, owner) {
                None => return Ok(owner),
                Some(p) => p,
            },
            Err(why) => crate::plan::Problem::owner(why, String::new()),
        };
        // Decided here only for an image this run pulled or built (observe could not tell):
        // no plan block showed it, so the failure carries the planner's hint.
        let message = if problem.hint.is_empty() {
            problem.message
        } else {
            format!(
                "{} {}",
                problem.message,
                crate::error::what_to_try(&problem.hint)
            )
        };
        Err(Failure {
            container: Some(name.to_owned()),
            code: problem.code,
            message,
        })
    }

    fn config(
        &self,
        spec: &InstanceSpec,
        image: &str,
        image_id: &str,
        project: &str,
        host: Owner,
        owner: Owner,
    ) -> ContainerConfig {
        let summary = SpecSummary::new(spec, image, image_id, host, Some(owner), self.fp);
        let labels: HashMap<String, String> = [
            (labels::LABEL_WORKSPACE, spec.workspace.clone()),
            (labels::LABEL_ROLE, spec.role.clone()),
            (labels::LABEL_AGENT, spec.agent.name().to_owned()),
            (labels::LABEL_SPEC_HASH, summary.hash()),
            (labels::LABEL_SPEC, summary.to_label()),
        ]
        .into_iter()
        .chain(labels::owned_by(project))
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        ContainerConfig {
            name: spec.name.clone(),
            image: image.to_owned(),
            command: spec.command.clone(),
            env: spec
                .env
                .iter()
                .map(|(k, v)| format!("{k}={}", v.value.expose()))
                .collect(),
            labels,
            mounts: spec
                .mounts
                .iter()
                .map(|m| MountConfig {
                    source: m.src.display().to_string(),
                    target: m.dst.clone(),
                    readonly: m.readonly,
                    volume: m.volume.then(|| volume_labels(project, spec, &m.dst)),
                })
                .collect(),
            workdir: spec.workdir.clone(),
            // The user the spec label records, so label and container cannot disagree.
            user: summary.user,
        }
    }
}

/// The labels of an instance's handoff volume (SPEC v3 §9): the project's, the instance's and
/// the agent whose target it is mounted at, so `destroy --purge` finds exactly ours.
fn volume_labels(project: &str, spec: &InstanceSpec, target: &str) -> HashMap<String, String> {
    let agent = spec
        .auth
        .iter()
        .find(|a| a.agent.info().target == target)
        .map_or("", |a| a.agent.name());
    labels::owned_by(project)
        .into_iter()
        .chain([
            (labels::LABEL_INSTANCE, spec.name.clone()),
            (labels::LABEL_AGENT, agent.to_owned()),
        ])
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

/// A container step, with the container [`Executor::through_volumes`] already made for it.
struct Step<'a> {
    step: &'a ContainerStep,
    made: Option<String>,
}

/// Whether `inst` removes the old container of an instance that moved to another host.
fn moved(inst: &InstancePlan) -> bool {
    inst.container_step
        .as_ref()
        .is_some_and(|s| matches!(s.cause, crate::plan::ContainerCause::Moved { .. }))
}
