//! The commands that open a session with one instance: `exec`, `logs`, `attach`, `login`.

use crate::agents::{AgentKind, AuthMode};
use crate::cli::FileArg;
use crate::desired::Target;
use crate::error::{exit, Error};
use crate::reconcile::Context;
use crate::runtime::{ContainerDetails, Engine, Runtime};
use crate::session::{self, Ended, RawMode, Selected, SessionError, Tty};
use std::io::IsTerminal;
use std::time::Duration;

/// The exit code of a process that wrote to a closed pipe (128 + SIGPIPE), as shells report it.
const OUTPUT_GONE: i32 = 128 + libc::SIGPIPE;

/// Load and validate the state, select the instance, connect, and find its container.
async fn open(
    file: FileArg,
    target: &Target,
    before_engine: impl FnOnce(&Selected) -> Result<(), SessionError>,
) -> Result<(Runtime, Selected, ContainerDetails), Error> {
    let ctx = Context::from_env(file.file);
    let loaded = ctx.load()?;
    let sel = session::select(&loaded, target)?;
    before_engine(&sel)?;
    let runtime = connect(&ctx, &loaded, &sel).await?;
    let details = session::find_container(&runtime, &loaded.project, &sel).await?;
    Ok((runtime, sel, details))
}

/// The engine of the host the selected instance is placed on (SPEC v3 §9).
async fn connect(
    ctx: &Context,
    loaded: &crate::manifest::Loaded,
    sel: &Selected,
) -> Result<Runtime, Error> {
    let hosts = crate::desired::declared_hosts(loaded, &ctx.home);
    let (name, _) = loaded.manifest.host_of(&sel.workspace, &sel.role);
    let host = hosts
        .get(name)
        .cloned()
        .unwrap_or_else(crate::desired::hosts::Host::local);
    Ok(host.connect(session::redactor(loaded, &ctx.home)).await?)
}

fn code_of(ended: Ended) -> Option<i32> {
    match ended {
        Ended::Signal(n) => Some(128 + n),
        Ended::OutputGone => Some(OUTPUT_GONE),
        Ended::Closed | Ended::Detached => None,
    }
}

pub async fn exec(file: FileArg, target: Target, command: Vec<String>) -> Result<i32, Error> {
    let (runtime, sel, details) = open(file, &target, |_| Ok(())).await?;
    run(&runtime, &sel, &details, command).await
}

/// `jackin login WS[/ROLE] [AGENT]` (SPEC v3 §6): the agent's own login command inside the
/// instance, attached to this terminal, so that instance holds a grant of its own (§3b). Only
/// where the agent's mode is `ignore`: in any other mode jackin would replace or purge it.
pub async fn login(file: FileArg, target: Target, agent: Option<AgentKind>) -> Result<i32, Error> {
    let ctx = Context::from_env(file.file);
    let loaded = ctx.load()?;
    let sel = session::select(&loaded, &target)?;
    let declared = crate::desired::declare(&loaded, &ctx.home);
    let auths = declared
        .get(&sel.container)
        .map(|d| d.auth.as_slice())
        .unwrap_or_default();
    let agent = agent.unwrap_or(sel.agent);
    let auth =
        auths
            .iter()
            .find(|a| a.agent == agent)
            .ok_or_else(|| SessionError::AgentNotInRole {
                instance: sel.instance(),
                agent,
                agents: auths.iter().map(|a| a.agent.to_string()).collect(),
            })?;
    if auth.mode != AuthMode::Ignore {
        return Err(SessionError::NotItsOwnLogin {
            instance: sel.instance(),
            agent,
            mode: auth.mode,
            set_by: auth.mode_from.to_string(),
            at: format!(
                "workspaces.{}.roles.{}.auth.{agent}",
                sel.workspace, sel.role
            ),
        }
        .into());
    }
    let runtime = connect(&ctx, &loaded, &sel).await?;
    let details = session::find_container(&runtime, &loaded.project, &sel).await?;
    let command = agent.info().login.iter().map(|s| (*s).to_owned()).collect();
    run(&runtime, &sel, &details, command).await
}

/// Run `command` in the instance's running container (a TTY when both ends are terminals)
/// and return its exit code.
async fn run(
    runtime: &Runtime,
    sel: &Selected,
    details: &ContainerDetails,
    command: Vec<String>,
) -> Result<i32, Error> {
    session::require_running(sel, details)?;
    // A TTY only when both ends are a terminal: with stdout redirected, a TTY's CRLF line
    // endings and merged stderr would end up in the file.
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let command = if command.is_empty() {
        vec!["sh".to_owned(), "-l".to_owned()]
    } else {
        command
    };
    let raw = if tty {
        Some(RawMode::enable("exec")?)
    } else {
        None
    };
    let size = session::terminal_size();
    let (exec_id, sess) = runtime.exec(&details.id, command, tty, size).await?;
    let tty_of = Tty::Exec(exec_id.clone());
    if tty {
        session::resize(runtime, &tty_of, 5).await;
    }
    let ended = session::pump(runtime, sess, tty.then_some(&tty_of), false).await;
    drop(raw);
    if let Some(code) = code_of(ended?) {
        return Ok(code);
    }
    // The output has ended; the engine records the exit code a moment later.
    let mut state = runtime.exec_state(&exec_id).await?;
    for _ in 0..100 {
        if !state.running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        state = runtime.exec_state(&exec_id).await?;
    }
    Ok(state
        .exit_code
        .map_or(exit::ERROR, |c| i32::try_from(c).unwrap_or(exit::ERROR)))
}

pub async fn logs(
    file: FileArg,
    target: Target,
    follow: bool,
    tail: Option<u64>,
) -> Result<i32, Error> {
    let (runtime, sel, details) = open(file, &target, |_| Ok(())).await?;
    let (ended, unterminated) = session::copy_logs(runtime.logs(&details.id, follow, tail)).await?;
    if unterminated {
        eprintln!(
            "warning: the output of {} ends inside a line that jackin cannot show (`docker logs {}` shows it)",
            sel.container, sel.container
        );
    }
    Ok(code_of(ended).unwrap_or(exit::OK))
}

pub async fn attach(file: FileArg, target: Target) -> Result<i32, Error> {
    let need_terminal = |_: &Selected| {
        if std::io::stdin().is_terminal() {
            Ok(())
        } else {
            Err(SessionError::Terminal {
                what: "attach".into(),
                detail: "stdin is not a terminal".into(),
            })
        }
    };
    let (runtime, sel, details) = open(file, &target, need_terminal).await?;
    session::require_running(&sel, &details)?;
    let sess = runtime.attach(&details.id).await?;
    let raw = RawMode::enable("attach")?;
    let tty = Tty::Container(details.id.clone());
    session::resize(&runtime, &tty, 1).await;
    // Raw mode: a line ends with CR LF.
    eprint!(
        "jackin: attached to {} ({}, agent {}); detach with ctrl-p ctrl-q\r\n",
        sel.container,
        sel.instance(),
        sel.agent
    );
    let ended = session::pump(&runtime, sess, Some(&tty), true).await;
    drop(raw);
    let ended = ended?;
    if let Some(code) = code_of(ended) {
        return Ok(code);
    }
    let after = runtime.inspect_container(&details.id).await?;
    match after {
        Some(c) if c.running => {
            eprintln!(
                "jackin: detached from {}; the agent keeps running (`jackin attach {}` to come back)",
                sel.container,
                sel.instance()
            );
            Ok(exit::OK)
        }
        Some(c) => {
            let code = c.exit_code.unwrap_or(1);
            eprintln!(
                "jackin: the agent in {} has stopped ({}, exit code {code})",
                sel.container, c.state
            );
            Ok(i32::try_from(code).unwrap_or(exit::ERROR))
        }
        None => {
            eprintln!("jackin: {} was removed", sel.container);
            Ok(exit::ERROR)
        }
    }
}
