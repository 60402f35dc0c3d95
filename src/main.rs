//! The `jackin` binary: parse arguments, run one command, render errors, exit.

use clap::Parser;
use jackin::cli::{Cli, Command};
use jackin::error::{exit, Error};
use jackin::plan::PlanOptions;
use jackin::reconcile::{self, Context};
use jackin::report::{self, Event, JsonReporter, Output, Reporter, Style, TextReporter};
use std::time::{Duration, Instant};

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
        Command::Schema => {
            print!("{}", jackin::manifest::schema_json());
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
            let p = reconcile::prepare(&ctx, target.as_ref(), &opts).await?;
            print_plan(&p.plan, output);
            Ok(if detailed_exitcode && p.plan.has_changes() {
                exit::CHANGES
            } else {
                exit::OK
            })
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
            let started = Instant::now();
            let ctx = Context::from_env(file.file);
            let opts = PlanOptions {
                purge_removed,
                target: target.clone(),
            };
            // Validate before taking the lock: a typo must not wait on another apply.
            let loaded = ctx.load()?;
            let _lock = if dry_run {
                None
            } else {
                Some(jackin::lock::acquire(
                    &ctx.jackin_home.lock_path(&loaded.project),
                    &loaded.project,
                    Duration::from_secs(lock_timeout),
                )?)
            };
            let p = reconcile::prepare(&ctx, target.as_ref(), &opts).await?;
            reconcile::guard(&p, allow_empty, target.is_some())?;
            let mut reporter: Box<dyn Reporter> = match output {
                Output::Json => Box::new(JsonReporter(std::io::stdout())),
                Output::Text => Box::new(TextReporter {
                    out: std::io::stdout(),
                    style: Style::detect(),
                }),
            };
            reporter.event(Event::version());
            for w in &p.plan.warnings {
                reporter.event(Event::Warning { message: w.clone() });
            }
            if output == Output::Text {
                print!("{}", report::render_plan(&p.plan, Style::detect()));
            }
            if dry_run {
                reporter.event(Event::Summary {
                    applied: Default::default(),
                    failed: 0,
                    api_calls: p.runtime.api_calls(),
                    files_hashed: p.observed.files_hashed,
                    duration_ms: started.elapsed().as_millis(),
                });
                return Ok(exit::OK);
            }
            let outcome = reconcile::execute(&ctx, &p, reporter.as_mut()).await;
            reporter.event(Event::Summary {
                applied: outcome.applied,
                failed: outcome.failures.len(),
                api_calls: p.runtime.api_calls(),
                files_hashed: p.observed.files_hashed,
                duration_ms: started.elapsed().as_millis(),
            });
            if outcome.failures.is_empty() {
                Ok(exit::OK)
            } else {
                Err(reconcile::ApplyError::Incomplete {
                    failed: outcome.failures.len(),
                }
                .into())
            }
        }
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
