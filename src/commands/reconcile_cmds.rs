//! The commands around one reconcile: `validate`, `plan`, `apply`, `status`, `watch`.

use super::reporter;
use crate::cli::{ApplyArgs, FileArg, PlanArgs, WatchArgs};
use crate::error::{exit, Error};
use crate::plan::PlanOptions;
use crate::reconcile::{self, ApplyOptions, Context};
use crate::report::{self, Event, Output, Style};
use std::time::Duration;

pub fn validate(file: FileArg) -> Result<i32, Error> {
    let ctx = Context::from_env(file.file);
    let loaded = ctx.load()?;
    let instances = loaded.instance_count();
    println!(
        "Valid: project {}, {} instance(s), {} file(s).",
        loaded.project,
        instances,
        loaded.files.len()
    );
    Ok(exit::OK)
}

pub async fn plan(file: FileArg, output: Output, args: PlanArgs) -> Result<i32, Error> {
    let PlanArgs {
        detailed_exitcode,
        target,
        replace,
        host_timeout,
    } = args;
    let ctx = Context::from_env(file.file);
    let opts = PlanOptions {
        target: target.clone(),
        replace,
        host_timeout: Some(Duration::from_secs(host_timeout)),
        ..Default::default()
    };
    let loaded = ctx.load()?;
    let p = reconcile::prepare(&ctx, &loaded, target.as_ref(), &opts).await?;
    // `plan` is `apply --dry-run`: the same guards and the same exit codes.
    reconcile::guard(&p, false, target.is_some())?;
    print_plan(&p.plan, output);
    let silent = reconcile::silent_hosts(&p);
    for f in &silent {
        eprintln!("{} {}", crate::error::head(f.code), f.message);
    }
    let failed = p.plan.troubled().count() + silent.len();
    if failed > 0 {
        return Err(reconcile::ApplyError::Incomplete {
            failed,
            applied: false,
        }
        .into());
    }
    Ok(if detailed_exitcode && p.plan.has_changes() {
        exit::CHANGES
    } else {
        exit::OK
    })
}

pub async fn status(file: FileArg, output: Output, host_timeout: Duration) -> Result<i32, Error> {
    let ctx = Context::from_env(file.file);
    let loaded = ctx.load()?;
    let opts = PlanOptions {
        host_timeout: Some(host_timeout),
        ..PlanOptions::default()
    };
    let p = reconcile::prepare(&ctx, &loaded, None, &opts).await?;
    let status = report::Status::new(&p.plan, &p.observed);
    match output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&status).expect("status serialises")
        ),
        Output::Text => print!(
            "{}",
            status.render(Style::detect(), std::time::SystemTime::now())
        ),
    }
    Ok(exit::OK)
}

pub async fn watch(file: FileArg, output: Output, args: WatchArgs) -> Result<i32, Error> {
    let ctx = Context::from_env(file.file);
    let opts = crate::watch::WatchOptions {
        debounce: Duration::from_millis(args.debounce_ms),
        resync: Duration::from_secs(args.resync_secs),
        host_timeout: Duration::from_secs(args.host_timeout),
        text: output == Output::Text,
    };
    let mut reporter = reporter(output);
    reporter.event(Event::version());
    crate::watch::run(ctx, opts, reporter.as_mut()).await
}

pub async fn apply(file: FileArg, output: Output, args: ApplyArgs) -> Result<i32, Error> {
    let ctx = Context::from_env(file.file);
    // Validate before taking the lock: a typo must not wait on another apply.
    let loaded = ctx.load()?;
    let opts = ApplyOptions {
        plan: PlanOptions {
            purge_removed: args.purge_removed,
            target: args.target,
            replace: args.replace,
            host_timeout: Some(Duration::from_secs(args.host_timeout)),
            ..PlanOptions::default()
        },
        allow_empty: args.allow_empty,
        dry_run: args.dry_run,
        lock_timeout: Duration::from_secs(args.lock_timeout),
    };
    let mut reporter = reporter(output);
    reporter.event(Event::version());
    let outcome = reconcile::apply(&ctx, &loaded, &opts, reporter.as_mut()).await?;
    if outcome.failures.is_empty() {
        Ok(exit::OK)
    } else {
        Err(reconcile::ApplyError::Incomplete {
            failed: outcome.failed_instances(),
            applied: !args.dry_run,
        }
        .into())
    }
}

fn print_plan(plan: &crate::plan::Plan, output: Output) {
    match output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(plan).expect("plan serialises")
        ),
        Output::Text => {
            for w in &plan.warnings {
                eprintln!("warning: {w}");
            }
            print!("{}", report::render_plan(plan, Style::detect()));
        }
    }
}
