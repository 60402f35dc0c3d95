//! What the console draws, computed from one observe + plan pass with the same code as
//! `status` and `plan` ([`Status::new`], [`render_plan`]): the console keeps no rule of its
//! own, so a row here always says what `status`/`plan` would say at that moment.

use crate::agents::AgentKind;
use crate::observed::Observed;
use crate::plan::{FileCause, Plan};
use crate::reconcile::Prepared;
use crate::redact::shown;
use crate::report::{render_plan, Style};
use crate::report::{time, InstanceStatus, Status};
use std::time::SystemTime;

/// One agent's cell in the Auth tab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCell {
    pub agent: AgentKind,
    /// `sync`, `api_key`, … as in the state file.
    pub mode: String,
    /// The scope that set the mode (`auth.kimi`, `workspaces.W.roles.R.auth.kimi`).
    pub set_by: String,
    /// The host folder the login comes from (sync), `-` otherwise.
    pub source: String,
    /// present / absent / rotated in the container / logged out / shared refreshable.
    pub login: &'static str,
}

/// What the Instances tab shows of an instance's container besides its `status` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// The host it runs on (`local`).
    pub host: String,
    /// The image the engine lists for it; `-` when there is no container.
    pub image: String,
    /// Unix seconds it has been up since, while it is up.
    pub up_since: Option<i64>,
    /// Its exit code, once exited.
    pub exit_code: Option<i64>,
}

impl Container {
    /// `running, up 3 min`, `exited (code 137)`; otherwise the state as `status` says it
    /// (`missing`, `created`, an agent that exited at once with its code and timing).
    pub fn state(&self, status: &InstanceStatus, now: SystemTime) -> String {
        match (status.state.as_str(), self.up_since, self.exit_code) {
            ("running", Some(t), _) => format!("running, up {}", time::since(t, now)),
            (s @ ("exited" | "restarting"), _, Some(code)) => format!("{s} (code {code})"),
            (s, _, _) => s.to_owned(),
        }
    }
}

/// Everything one refresh produced; drawn until the next one replaces it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub status: Status,
    /// Per instance (same order as `status.instances`).
    pub containers: Vec<Container>,
    /// Per instance (same order as `status.instances`), one cell per agent.
    pub auth: Vec<Vec<AuthCell>>,
    /// The text plan renderer's lines, control characters escaped.
    pub plan: Vec<String>,
    pub taken: SystemTime,
}

impl Snapshot {
    pub fn new(p: &Prepared, taken: SystemTime) -> Self {
        Self::from_parts(&p.plan, &p.observed, &p.desired, taken)
    }

    /// Built from its parts so tests can feed a fixed observed state.
    pub fn from_parts(
        plan: &Plan,
        observed: &Observed,
        desired: &crate::desired::Desired,
        taken: SystemTime,
    ) -> Self {
        let status = Status::new(plan, observed);
        let containers = status
            .instances
            .iter()
            .map(|i| container(desired, observed, &i.container))
            .collect();
        let auth = plan
            .instances
            .iter()
            .map(|i| {
                i.auth
                    .iter()
                    .map(|a| auth_cell(plan, observed, desired, &i.container, a))
                    .collect()
            })
            .collect();
        let plan = render_plan(plan, Style::plain())
            .lines()
            .map(shown)
            .collect();
        Snapshot {
            status,
            containers,
            auth,
            plan,
            taken,
        }
    }

    /// Pending actions over all instances (for the Events tab's pass lines).
    pub fn pending(&self) -> usize {
        self.status.instances.iter().map(|i| i.drift.len()).sum()
    }
}

fn container(desired: &crate::desired::Desired, observed: &Observed, name: &str) -> Container {
    let c = observed.containers.get(name);
    Container {
        host: desired.host_of(name).to_owned(),
        image: c.map_or_else(|| "-".to_owned(), |c| shown(&c.image)),
        up_since: c.and_then(|c| c.up_since),
        exit_code: c.and_then(|c| c.exit_code),
    }
}

fn auth_cell(
    plan: &Plan,
    observed: &Observed,
    desired: &crate::desired::Desired,
    container: &str,
    a: &crate::plan::AuthView,
) -> AuthCell {
    let source = desired
        .instances
        .get(container)
        .and_then(|s| s.auth.iter().find(|x| x.agent == a.agent))
        .filter(|x| x.mode == crate::agents::AuthMode::Sync)
        .map_or_else(|| "-".to_owned(), |x| x.source.display().to_string());
    AuthCell {
        agent: a.agent,
        mode: a.mode.to_string(),
        set_by: a.set_by.to_string(),
        source,
        login: if a.mode == crate::agents::AuthMode::Sync {
            login_state(plan, observed, container, a.agent)
        } else {
            "not synced"
        },
    }
}

/// The login's state as the plan and observation see it; the plan's causes come first
/// because they are what `apply` would act on.
fn login_state(
    plan: &Plan,
    observed: &Observed,
    container: &str,
    agent: AgentKind,
) -> &'static str {
    let files = plan
        .instances
        .iter()
        .filter(|i| i.container == container)
        .flat_map(|i| i.files.iter())
        .filter(|f| f.agent == agent);
    for f in files {
        match f.cause {
            FileCause::RotatedInContainer | FileCause::HostDeletedRotated => {
                return "rotated in container"
            }
            FileCause::LoggedOut => return "logged out",
            _ => {}
        }
    }
    let shared = observed
        .shared_logins
        .iter()
        .any(|s| s.agent == agent && s.instances.iter().any(|n| n == container));
    if shared {
        return "shared refreshable";
    }
    let present = observed
        .instances
        .get(container)
        .and_then(|s| s.agents.get(&agent))
        .and_then(|a| a.host.as_ref())
        .is_some_and(|h| h.present);
    if present {
        "present"
    } else {
        "absent"
    }
}
