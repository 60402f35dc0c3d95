//! Container decisions (SPEC §5), as a flat list of early returns.

use super::{
    ContainerCause, ContainerOp, ContainerStep, ImageAction, ImageStep, InstancePlan, PlanOptions,
};
use crate::desired::spec::{SpecChange, SpecSummary};
use crate::desired::{Desired, ImageSource, InstanceSpec};
use crate::fingerprint::Fingerprinter;
use crate::manifest::model::RestartPolicy;
use crate::observed::{InstanceState, Observed};

/// The summary the container would be created with, given what the engine has now.
pub fn desired_summary(
    spec: &InstanceSpec,
    state: &InstanceState,
    observed: &Observed,
    fp: &Fingerprinter,
) -> SpecSummary {
    let image_id = observed
        .image_id(&spec.host, &state.image)
        .unwrap_or_default()
        .to_owned();
    let owner = state.owner.clone().and_then(Result::ok);
    SpecSummary::new(spec, &state.image, &image_id, observed.jackin, owner, fp)
}

pub fn plan_container(
    spec: &InstanceSpec,
    state: &InstanceState,
    observed: &Observed,
    restart: RestartPolicy,
    handoff_changed: bool,
    replace: bool,
    fp: &Fingerprinter,
) -> Option<ContainerStep> {
    let image = || state.image.clone();
    let step = |op, cause| Some(ContainerStep { op, cause });
    if observed.conflicts.contains_key(&spec.name) {
        return None; // reported as an error before anything runs
    }
    let Some(c) = observed.containers.get(&spec.name) else {
        return step(
            ContainerOp::Create { image: image() },
            ContainerCause::Missing,
        );
    };
    if replace {
        // terraform's -replace: recreate even though nothing changed (the declarative form of
        // "eject and load" when an agent is wedged).
        let op = ContainerOp::Recreate {
            id: c.id.clone(),
            image: image(),
        };
        return step(op, ContainerCause::Replaced);
    }
    if let Some(changes) = spec_changes(spec, state, observed, c, fp) {
        let op = ContainerOp::Recreate {
            id: c.id.clone(),
            image: image(),
        };
        return step(op, ContainerCause::SpecChanged { changes });
    }
    if !c.running {
        let cause = ContainerCause::NotRunning {
            state: c.state.clone(),
        };
        return step(ContainerOp::Start { id: c.id.clone() }, cause);
    }
    if restart == RestartPolicy::Never {
        return None;
    }
    let restart = || ContainerOp::Restart { id: c.id.clone() };
    if handoff_changed {
        return step(restart(), ContainerCause::HandoffChanged);
    }
    if state.ledger.restart_owed {
        return step(restart(), ContainerCause::RestartOwed);
    }
    None
}

/// What differs between the container and the desired spec (`None`: nothing). An absent
/// image is a change: its ID is unknown until it is pulled or built.
fn spec_changes(
    spec: &InstanceSpec,
    state: &InstanceState,
    observed: &Observed,
    c: &crate::observed::ObservedContainer,
    fp: &Fingerprinter,
) -> Option<Vec<SpecChange>> {
    let want = desired_summary(spec, state, observed, fp);
    let image_present = observed.image_id(&spec.host, &state.image).is_some();
    if image_present && c.spec_hash.as_deref() == Some(want.hash().as_str()) {
        return None;
    }
    let mut changes = match &c.spec {
        Some(have) if image_present => have.diff(&want),
        Some(have) => {
            let mut w = want.clone();
            w.image_id.clone_from(&have.image_id);
            let mut d: Vec<SpecChange> = have
                .diff(&w)
                .into_iter()
                .filter(|d| *d != SpecChange::Unexplained)
                .collect();
            d.push(SpecChange::ImageAbsent {
                image: state.image.clone(),
            });
            d
        }
        None => vec![SpecChange::NoLabel],
    };
    changes.dedup();
    Some(changes)
}

/// A create/recreate needs its image: pull or build it first when the engine lacks it.
pub fn need_image(
    spec: &InstanceSpec,
    state: &InstanceState,
    observed: &Observed,
    images: &mut Vec<ImageStep>,
) {
    if observed.image_id(&spec.host, &state.image).is_some() {
        return;
    }
    let action = match &spec.image {
        ImageSource::Pull(_) => ImageAction::Pull,
        ImageSource::Build {
            context,
            dockerfile,
        } => ImageAction::Build {
            context: context.display().to_string(),
            dockerfile: dockerfile.clone(),
        },
    };
    images.push(ImageStep {
        host: spec.host.clone(),
        image: state.image.clone(),
        action,
    });
}

/// Our containers that are no longer declared (inventory by labels, never by name), and those
/// whose instance moved to another host. A moved one is removed after its instance converged
/// on the new host (the executor orders it so); a move whose new host did not answer leaves
/// the old container alone.
pub fn plan_removals(
    desired: &Desired,
    observed: &Observed,
    opts: &PlanOptions,
) -> Vec<InstancePlan> {
    let undeclared = observed
        .containers
        .values()
        .filter(|c| !desired.instances.contains_key(&c.name))
        .map(|c| (c, ContainerCause::NotDeclared));
    let moved = observed.elsewhere.iter().filter_map(|c| {
        let Some(to) = desired.instances.get(&c.name).map(|i| &i.host) else {
            return Some((c, ContainerCause::NotDeclared));
        };
        let answered = !observed.unreachable.contains_key(to);
        answered.then(|| (c, ContainerCause::Moved { to: to.clone() }))
    });
    undeclared
        .chain(moved)
        .filter(|(c, _)| {
            opts.target
                .as_ref()
                .is_none_or(|t| t.matches(&c.workspace, &c.role))
        })
        .map(|(c, cause)| InstancePlan {
            container: c.name.clone(),
            host: c.host.clone(),
            workspace: c.workspace.clone(),
            role: c.role.clone(),
            agent: c.agent.clone(),
            auth: Vec::new(),
            container_step: Some(ContainerStep {
                op: ContainerOp::Remove {
                    id: c.id.clone(),
                    // A moved instance's handoff is its new container's too.
                    purge_state: opts.purge_removed && cause == ContainerCause::NotDeclared,
                },
                cause,
            }),
            files: Vec::new(),
            notes: Vec::new(),
            problems: Vec::new(),
        })
        .collect()
}
