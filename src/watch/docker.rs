//! Docker hints: each host's event stream for the project's containers, one task per host,
//! each reconnecting on its own (SPEC v3 §9).
//!
//! A container that dies, is stopped or is destroyed behind jackin's back (an OOM kill, a
//! `docker rm -f`) is drift, and waiting for the next resync would leave an agent down for
//! minutes. The stream is followed on its own task; when the engine goes away it reconnects
//! with capped backoff, and once back it asks for a pass, because events missed during the
//! outage are gone (the pass re-observes everything, so nothing else needs replaying).
//! Reporting the outage is left to the passes, which fail with the coded error.

use super::policy::Backoff;
use super::Trigger;
use crate::desired::hosts::{Host, Hosts};
use crate::words::labels::LABEL_PROJECT;
use futures_util::StreamExt;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

/// What makes a running instance diverge: `watch` follows these (`start`/`create` are
/// usually its own doing, and would wake it after every pass).
pub const DRIFT: &[&str] = &["die", "stop", "destroy"];

/// Every change of a container's state, for what shows it (the console): a container started,
/// restarted, paused or created outside jackin shows without waiting for the resync.
pub const ANY_STATE: &[&str] = &[
    "create", "start", "restart", "die", "stop", "destroy", "pause", "unpause",
];

/// A stream that lived this long was a real connection: start the backoff over.
const HEALTHY: Duration = Duration::from_secs(10);

/// The followers of one project's events on every host; dropped, they stop.
pub struct Followers {
    /// The project and hosts they follow, to know when to start over.
    pub following: (String, Hosts),
    tasks: Vec<JoinHandle<()>>,
}

impl Followers {
    /// Follow `project`'s container events of these `actions` on every host of `hosts`.
    pub fn start(
        project: &str,
        hosts: &Hosts,
        actions: &'static [&'static str],
        tx: &UnboundedSender<Trigger>,
    ) -> Followers {
        let tasks = hosts
            .values()
            .map(|h| spawn(project, h.clone(), actions, tx.clone()))
            .collect();
        Followers {
            following: (project.to_owned(), hosts.clone()),
            tasks,
        }
    }
}

impl Drop for Followers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Follow `project`'s container events of these `actions` on `host` until the task is aborted.
fn spawn(
    project: &str,
    host: Host,
    actions: &'static [&'static str],
    tx: UnboundedSender<Trigger>,
) -> JoinHandle<()> {
    let label = format!("{LABEL_PROJECT}={project}");
    tokio::spawn(async move {
        let mut backoff = Backoff::default();
        let mut lost = false;
        loop {
            if let Ok(rt) = host.connect(crate::redact::Redactor::default()).await {
                if std::mem::take(&mut lost) && tx.send(Trigger::DockerBack).is_err() {
                    return;
                }
                let since = Instant::now();
                let mut events = std::pin::pin!(rt.container_events(&label, actions));
                while let Some(Ok(ev)) = events.next().await {
                    if tx.send(Trigger::Docker(ev)).is_err() {
                        return;
                    }
                }
                if since.elapsed() >= HEALTHY {
                    backoff.reset();
                }
            }
            lost = true;
            if tx.is_closed() {
                return;
            }
            tokio::time::sleep(backoff.next_delay()).await;
        }
    })
}
