//! `jackin console` (SPEC v3 §6): a full-screen, live view of the project over the same
//! observe/plan code as `status` and `plan`. It refreshes (observe + plan, never apply) on the
//! hints `watch` follows and a slow resync, and changes nothing unless an action is confirmed.
//! Actions leave the UI and run jackin's own `attach`/`logs`/`exec`/`apply` code.

pub mod app;
mod live;
pub mod model;
mod term;
pub mod view;

use super::{reconcile_cmds, session_cmds};
use crate::cli::{ApplyArgs, FileArg};
use crate::error::{exit, Error};
use crate::plan::PlanOptions;
use crate::reconcile::{self, Context};
use crate::report::clock;
use crate::report::Output;
use app::{Action, App, Session};
use live::{Live, Wake};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::SystemTime;
use term::Screen;

/// Open the console until `q`, ctrl-c or a signal. The state file must load and the engine be
/// local at start, as for `plan`; later failures are shown in the UI and retried.
pub async fn run(file: Option<PathBuf>) -> Result<i32, Error> {
    let ctx = Context::from_env(file);
    let loaded = ctx.load()?;
    let desired = ctx.resolve(&loaded)?;
    let interests = crate::watch::interests_of(&ctx, &loaded, Some(&desired));
    let mut live = Live::start(&desired.project, &desired.hosts, interests).map_err(io_error)?;
    let mut screen = Screen::enter()?;
    let look = view::Look::detect();
    let mut app = App::default();
    refresh(&ctx, &mut live, &mut app, vec!["start".to_owned()]).await;
    loop {
        screen.draw(|f| view::draw(f, &app, look, SystemTime::now()))?;
        match live.next(&ctx).await {
            Wake::Signal => break,
            Wake::Resize => {}
            Wake::Changed(why) => refresh(&ctx, &mut live, &mut app, why).await,
            Wake::Keys(keys) => {
                for k in keys {
                    match app.key(k) {
                        Action::None => {}
                        Action::Quit => return Ok(exit::OK),
                        act => {
                            let left = leave(&ctx, &mut screen, &mut live, &mut app, act).await?;
                            if let Some(code) = left {
                                return Ok(code);
                            }
                            refresh(&ctx, &mut live, &mut app, vec!["action".to_owned()]).await;
                        }
                    }
                }
            }
        }
    }
    Ok(exit::OK)
}

fn io_error(e: std::io::Error) -> crate::session::SessionError {
    crate::session::SessionError::Terminal {
        what: "jackin console".to_owned(),
        detail: e.to_string(),
    }
}

/// Observe and plan once (the same `prepare` as `status`); a failure keeps the last snapshot
/// and shows the coded error in the status line.
async fn refresh(ctx: &Context, live: &mut Live, app: &mut App, why: Vec<String>) {
    let outcome = async {
        let loaded = ctx.load()?;
        let p = reconcile::prepare(ctx, &loaded, None, &PlanOptions::default()).await?;
        Ok::<_, Error>((
            crate::watch::interests_of(ctx, &loaded, Some(&p.desired)),
            model::Snapshot::new(&p, SystemTime::now()),
        ))
    }
    .await;
    let why = why.join(", ");
    match outcome {
        Ok((interests, snapshot)) => {
            live.set_interests(interests);
            let n = snapshot.status.instances.len();
            let pending = snapshot.pending();
            app.set_snapshot(snapshot);
            app.log(format!(
                "{} refresh ({why}): {n} instance(s), {pending} pending change(s)",
                clock()
            ));
        }
        Err(e) => {
            let text = e.render();
            let head = text.lines().next().unwrap_or_default().to_owned();
            app.log(format!("{} refresh ({why}) failed: {head}", clock()));
            app.error = Some(head);
        }
    }
}

type Job = Pin<Box<dyn Future<Output = Result<i32, Error>>>>;

/// Leave the UI, run the action with jackin's own command code, wait for Enter where its
/// output is worth reading, and come back. A signal meanwhile (ctrl-c: the terminal is the
/// shell's again) ends the console once the action is over: `Some(exit code)`.
async fn leave(
    ctx: &Context,
    screen: &mut Screen,
    live: &mut Live,
    app: &mut App,
    act: Action,
) -> Result<Option<i32>, Error> {
    live.keys(false).map_err(io_error)?;
    screen.suspend();
    let (label, pause, job) = perform(ctx, act)?;
    let (result, signalled) = unless_signalled(live, label, pause, job).await;
    let line = match &result {
        None => format!("{} {label} abandoned", clock()),
        Some(Ok(code)) => format!("{} {label} ended (exit {code})", clock()),
        Some(Err(e)) => {
            eprint!("{}", e.render());
            let head = e.render().lines().next().unwrap_or_default().to_owned();
            format!("{} {label} failed: {head}", clock())
        }
    };
    app.log(line);
    let failed = !matches!(result, Some(Ok(_)));
    if signalled {
        return Ok(Some(if failed { exit::ERROR } else { exit::OK }));
    }
    if pause || failed {
        eprintln!("\n[press Enter to return to the console]");
        if live.enter_or_signal(ctx).await.map_err(io_error)? {
            return Ok(Some(exit::OK));
        }
    }
    screen.resume()?;
    live.keys(true).map_err(io_error)?;
    Ok(None)
}

/// Run `job` unless a signal comes. An action whose output is read afterwards (`pause`:
/// replace, apply, logs) is left to finish at the first signal and abandoned at a second, as
/// `watch` does with its pass, so a replace is not cut between its remove and its create; an
/// attach or a shell, which change nothing, is left at the first. The result (`None`:
/// abandoned) and whether a signal came.
async fn unless_signalled(
    live: &mut Live,
    label: &str,
    pause: bool,
    job: Job,
) -> (Option<Result<i32, Error>>, bool) {
    let mut job = job;
    let mut signalled = false;
    loop {
        tokio::select! {
            r = &mut job => return (Some(r), signalled),
            () = live.signal() => {
                if signalled || !pause {
                    eprintln!("\n{label}: abandoned, leaving the console");
                    return (None, true);
                }
                eprintln!("\n{label}: finishing it, then leaving the console (again to abandon it)");
                signalled = true;
            }
        }
    }
}

/// The action as jackin's own command runs it: its label, whether its output is worth a
/// pause before the UI comes back, and the command.
fn perform(ctx: &Context, act: Action) -> Result<(&'static str, bool, Job), Error> {
    let file = FileArg {
        file: ctx.file.clone(),
    };
    let target = |t: &str| {
        t.parse::<crate::desired::Target>()
            .map_err(|e| io_error(std::io::Error::other(e)))
    };
    Ok(match act {
        Action::Session(Session::Attach, t) => (
            "attach",
            false,
            Box::pin(session_cmds::attach(file, target(&t)?)),
        ),
        Action::Session(Session::Shell, t) => (
            "shell",
            false,
            Box::pin(session_cmds::exec(file, target(&t)?, Vec::new())),
        ),
        Action::Session(Session::Logs, t) => (
            "logs",
            true,
            Box::pin(session_cmds::logs(file, target(&t)?, false, Some(200))),
        ),
        Action::Replace(t) => {
            let args = apply_args(Some(target(&t)?));
            let job = reconcile_cmds::apply(file, Output::Text, args);
            ("replace", true, Box::pin(job))
        }
        Action::Apply => {
            let job = reconcile_cmds::apply(file, Output::Text, apply_args(None));
            ("apply", true, Box::pin(job))
        }
        Action::None | Action::Quit => ("", false, Box::pin(async { Ok(exit::OK) })),
    })
}

/// `apply`, or `apply --replace T --target T` for `r`.
fn apply_args(replace: Option<crate::desired::Target>) -> ApplyArgs {
    ApplyArgs {
        dry_run: false,
        target: replace.clone(),
        replace: replace.into_iter().collect(),
        purge_removed: false,
        allow_empty: false,
        lock_timeout: 60,
        host_timeout: crate::plan::HOST_TIMEOUT.as_secs(),
    }
}
