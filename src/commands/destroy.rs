//! `jackin destroy`: remove the project's containers (terraform's `destroy`, compose's `down`).
//!
//! Only containers carrying this project's labels are touched. The handoff and ledger stay
//! (a later apply picks them up) unless `--purge`. It asks on a terminal, and refuses to run
//! unattended without `--yes`: an operator should never lose every agent to a stray pipe.

use crate::cli::FileArg;
use crate::error::{exit, Code, Coded, Error};
use crate::handoff::Store;
use crate::reconcile::Context;
use crate::redact::Redactor;
use crate::runtime::{Engine, Runtime};
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

pub async fn destroy(file: FileArg, purge: bool, yes: bool) -> Result<i32, Error> {
    let ctx = Context::from_env(file.file);
    let loaded = ctx.load()?;
    let project = loaded.project.clone();
    // Nothing is resolved (a destroy must not need the API keys), so there is no env value to
    // redact; the engine is not sent any either. Connecting first refuses a remote engine
    // before anything is written (as plan and apply do).
    let runtime = Runtime::connect(Redactor::default()).await?;
    ctx.jackin_home.ensure_private()?;
    let _lock = crate::lock::acquire(&ctx.jackin_home.lock_path(&project), &project, LOCK_WAIT)?;
    let filters = crate::words::labels::selector(&project);
    let filters: Vec<(&str, &str)> = filters.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let ours = runtime.list_containers(&filters).await?;
    if ours.is_empty() && !purge {
        println!("Nothing to destroy: project {project} has no containers.");
        return Ok(exit::OK);
    }
    if !yes {
        confirm(&project, ours.len(), purge)?;
    }
    for c in &ours {
        runtime.remove(&c.id).await?;
        println!("- removed {}", c.name);
    }
    if purge {
        // The state of declared instances goes too, container or not.
        let mut names: std::collections::BTreeSet<String> =
            ours.iter().map(|c| c.name.clone()).collect();
        for (ws, w) in &loaded.manifest.workspaces {
            names.extend(w.roles.keys().map(|r| crate::naming::container_name(ws, r)));
        }
        let store = Store::new(&ctx.jackin_home);
        for name in &names {
            store.purge_instance(name)?;
        }
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
    Ok(exit::OK)
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
