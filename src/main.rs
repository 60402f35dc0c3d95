//! The `jackin` binary: parse arguments, run one command, render errors, exit.

use clap::Parser;
use jackin::cli::{Cli, Command};
use jackin::error::{exit, Error};
use jackin::plan::PlanOptions;
use jackin::reconcile::{self, ApplyOptions, Context};
use jackin::report::{self, Event, JsonReporter, Output, Reporter, Style, TextReporter};
use std::time::Duration;

fn main() {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprint!("{}", e.render());
            exit::ERROR
        }
    };
    std::process::exit(code);
}

async fn run(cli: Cli) -> Result<i32, Error> {
    match cli.command {
        Command::Schema { document } => {
            print!("{}", document.schema_json());
            Ok(exit::OK)
        }
        Command::Validate { file } => {
            let ctx = Context::from_env(file.file);
            let loaded = ctx.load()?;
            let instances: usize = loaded
                .manifest
                .workspaces
                .values()
                .map(|w| w.roles.len())
                .sum();
            println!(
                "Valid: project {}, {} instance(s), {} file(s).",
                loaded.project,
                instances,
                loaded.files.len()
            );
            Ok(exit::OK)
        }
        Command::Plan {
            file,
            output,
            detailed_exitcode,
            target,
        } => {
            let ctx = Context::from_env(file.file);
            let opts = PlanOptions {
                target: target.clone(),
                ..Default::default()
            };
            let loaded = ctx.load()?;
            let p = reconcile::prepare(&ctx, &loaded, target.as_ref(), &opts).await?;
            // `plan` is `apply --dry-run`: the same guards and the same exit codes.
            reconcile::guard(&p, false, target.is_some())?;
            print_plan(&p.plan, output);
            let failed = p.plan.troubled().count();
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
        Command::Status { file, output } => {
            let ctx = Context::from_env(file.file);
            let loaded = ctx.load()?;
            let p = reconcile::prepare(&ctx, &loaded, None, &PlanOptions::default()).await?;
            let status = report::Status::new(&p.plan, &p.observed);
            match output {
                Output::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&status).expect("status serialises")
                ),
                Output::Text => print!("{}", status.render(Style::detect())),
            }
            Ok(exit::OK)
        }
        Command::Watch {
            file,
            output,
            debounce_ms,
            resync_secs,
        } => {
            let ctx = Context::from_env(file.file);
            let opts = jackin::watch::WatchOptions {
                debounce: Duration::from_millis(debounce_ms),
                resync: Duration::from_secs(resync_secs),
                text: output == Output::Text,
            };
            let mut reporter = reporter(output);
            reporter.event(Event::version());
            jackin::watch::run(ctx, opts, reporter.as_mut()).await
        }
        Command::Apply {
            file,
            output,
            dry_run,
            target,
            purge_removed,
            allow_empty,
            lock_timeout,
        } => {
            let ctx = Context::from_env(file.file);
            // Validate before taking the lock: a typo must not wait on another apply.
            let loaded = ctx.load()?;
            let opts = ApplyOptions {
                plan: PlanOptions {
                    purge_removed,
                    target,
                },
                allow_empty,
                dry_run,
                lock_timeout: Duration::from_secs(lock_timeout),
            };
            let mut reporter = reporter(output);
            reporter.event(Event::version());
            let outcome = reconcile::apply(&ctx, &loaded, &opts, reporter.as_mut()).await?;
            if outcome.failures.is_empty() {
                Ok(exit::OK)
            } else {
                Err(reconcile::ApplyError::Incomplete {
                    failed: outcome.failed_instances(),
                    applied: !dry_run,
                }
                .into())
            }
        }
    }
}

fn reporter(output: Output) -> Box<dyn Reporter> {
    match output {
        Output::Json => Box::new(JsonReporter(std::io::stdout())),
        Output::Text => Box::new(TextReporter::new(std::io::stdout(), Style::detect())),
    }
}

fn print_plan(plan: &jackin::plan::Plan, output: Output) {
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
