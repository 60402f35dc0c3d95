//! `jackin destroy`: remove the project's containers (terraform's `destroy`, compose's `down`).
//!
//! Only containers carrying this project's labels are touched. The handoff and ledger stay
//! (a later apply picks them up) unless `--purge`. It asks on a terminal, and refuses to run
//! unattended without `--yes`: an operator should never lose every agent to a stray pipe.

use crate::cli::FileArg;
use crate::desired::hosts::LOCAL;
use crate::error::{exit, Code, Coded, Error};
use crate::handoff::Store;
use crate::reconcile::Context;
use crate::redact::Redactor;
use crate::runtime::{Engine, Runtime};
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DestroyError {
    #[error(
        "refusing to destroy project {project} without --yes: stdin is not a terminal to ask on"
    )]
    NotConfirmed { project: String },
    #[error("destroy of project {project} cancelled")]
    Cancelled { project: String },
}

impl Coded for DestroyError {
    fn code(&self) -> Code {
        Code::E033
    }
    fn hint(&self) -> Option<String> {
        Some(match self {
            DestroyError::NotConfirmed { .. } => {
                "rerun with --yes to confirm (from a script), or from a terminal to be asked".into()
            }
            DestroyError::Cancelled { .. } => "nothing was removed".into(),
        })
    }
}

/// How long destroy waits for a running apply of the same project.
const LOCK_WAIT: Duration = Duration::from_secs(60);

pub async fn destroy(
    file: FileArg,
    purge: bool,
    yes: bool,
    host_timeout: Duration,
) -> Result<i32, Error> {
    let ctx = Context::from_env(file.file);
    let loaded = ctx.load()?;
    let project = loaded.project.clone();
    // Nothing is resolved (a destroy must not need the API keys), so there is no env value to
    // redact; the engines are not sent any either. Connecting first finds engines that cannot
    // be reached before anything is written (as plan and apply do).
    let (engines, silent) = connect_all(&ctx, &loaded, host_timeout).await?;
    ctx.jackin_home.ensure_private()?;
    let _lock = crate::lock::acquire(&ctx.jackin_home.lock_path(&project), &project, LOCK_WAIT)?;
    let filters = crate::words::labels::selector(&project);
    let filters: Vec<(&str, &str)> = filters.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut ours = Vec::new();
    for (host, runtime) in &engines {
        for c in runtime.list_containers(&filters).await? {
            ours.push((host.as_str(), runtime, c));
        }
    }
    if ours.is_empty() && !purge && silent.is_empty() {
        println!("Nothing to destroy: project {project} has no containers.");
        return Ok(exit::OK);
    }
    if !yes {
        confirm(&project, ours.len(), purge)?;
    }
    for (host, runtime, c) in &ours {
        runtime.remove(&c.id).await?;
        println!("- removed {}{}", c.name, on_host(host));
    }
    if purge {
        let removed = ours.iter().map(|(_, _, c)| c.name.clone());
        purge_state(&ctx, &loaded, &engines, removed).await?;
    }
    println!(
        "Destroyed {} container(s) of project {project}; handoff state {}.",
        ours.len(),
        if purge {
            "removed"
        } else {
            "kept (--purge removes it)"
        }
    );
    Ok(report_silent(&silent))
}

/// ` on host H` for a host other than `local`.
fn on_host(host: &str) -> String {
    if host == LOCAL {
        String::new()
    } else {
        format!(" on host {host}")
    }
}

/// Name each host that did not answer; the exit code.
fn report_silent(silent: &BTreeMap<String, String>) -> i32 {
    for (host, why) in silent {
        eprintln!(
            "{} host {host} did not answer ({why}): its containers are left as they are",
            crate::error::head(crate::error::Code::E020)
        );
    }
    if silent.is_empty() {
        exit::OK
    } else {
        exit::ERROR
    }
}

/// Every host's engine at once, each within `host_timeout`: those that
/// answered, and why the others did not. Only when none answers is it the error.
async fn connect_all(
    ctx: &Context,
    loaded: &crate::manifest::Loaded,
    host_timeout: Duration,
) -> Result<(BTreeMap<String, Runtime>, BTreeMap<String, String>), Error> {
    let hosts = crate::desired::declared_hosts(loaded, &ctx.home);
    let deadline = crate::observed::Deadline::after(host_timeout);
    let tries = hosts.values().map(|h| async move {
        let connected = tokio::time::timeout_at(deadline.at, h.connect(Redactor::default()));
        let result = connected
            .await
            .unwrap_or_else(|_| Err(deadline.missed_by(h)));
        (h.describe(), h.name.clone(), result)
    });
    let (mut up, mut down, mut first) = (BTreeMap::new(), BTreeMap::new(), None);
    for (shown, name, result) in futures_util::future::join_all(tries).await {
        match result {
            Ok(runtime) => {
                up.insert(name, runtime);
            }
            Err(e) => {
                down.insert(shown, e.to_string());
                first.get_or_insert(e);
            }
        }
    }
    match first {
        Some(e) if up.is_empty() => Err(e.into()),
        _ => Ok((up, down)),
    }
}

/// `--purge`: the handoff state of every declared or removed instance, and the project's
/// handoff volumes on every engine that answered.
async fn purge_state(
    ctx: &Context,
    loaded: &crate::manifest::Loaded,
    engines: &BTreeMap<String, Runtime>,
    removed: impl Iterator<Item = String>,
) -> Result<(), Error> {
    let project = &loaded.project;
    // The state of declared instances goes too, container or not.
    let mut names: std::collections::BTreeSet<String> = removed.collect();
    for (ws, w) in &loaded.manifest.workspaces {
        names.extend(w.roles.keys().map(|r| crate::naming::container_name(ws, r)));
    }
    let store = Store::new(&ctx.jackin_home);
    for name in &names {
        for folder in store.folders_of(name)? {
            store.purge_instance(&folder)?;
        }
    }
    for runtime in engines.values() {
        for volume in runtime.project_volumes(project).await? {
            runtime.remove_volume(&volume, project).await?;
        }
    }
    Ok(())
}

/// Ask on the terminal; anything but "y"/"yes" cancels.
fn confirm(project: &str, count: usize, purge: bool) -> Result<(), DestroyError> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(DestroyError::NotConfirmed {
            project: project.to_owned(),
        });
    }
    let what = if purge {
        " and delete their handoff state"
    } else {
        ""
    };
    print!("Remove {count} container(s) of project {project}{what}? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    let _ = stdin.lock().read_line(&mut answer);
    match answer.trim() {
        "y" | "yes" => Ok(()),
        _ => Err(DestroyError::Cancelled {
            project: project.to_owned(),
        }),
    }
}
