//! Command-line surface (SPEC §6): clap types only, no I/O.

use crate::desired::Target;
use crate::report::Output;
use crate::schema::Document;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "jackin",
    version,
    about = "Declarative reconciler for AI coding agent containers and their credentials"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct FileArg {
    /// State file, or a directory whose *.toml|*.yaml|*.yml files are merged.
    /// Default: jackin.toml, jackin.yaml or jackin.yml in the working directory.
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the state file (no host env, host files or Docker are read).
    Validate {
        #[command(flatten)]
        file: FileArg,
    },
    /// Show what apply would do.
    Plan {
        #[command(flatten)]
        file: FileArg,
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
        /// Exit 2 when the plan has changes, 0 when it has none.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Only WORKSPACE or WORKSPACE/ROLE.
        #[arg(long, value_name = "WS[/ROLE]")]
        target: Option<Target>,
    },
    /// Converge containers and credentials to the state file.
    Apply {
        #[command(flatten)]
        file: FileArg,
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
        /// Plan only (the same as `plan`).
        #[arg(long)]
        dry_run: bool,
        /// Only WORKSPACE or WORKSPACE/ROLE.
        #[arg(long, value_name = "WS[/ROLE]")]
        target: Option<Target>,
        /// Also delete the handoff state of removed instances.
        #[arg(long)]
        purge_removed: bool,
        /// Allow removing every container of the project.
        #[arg(long)]
        allow_empty: bool,
        /// Seconds to wait for another apply of the same project.
        #[arg(long, value_name = "SECS", default_value_t = 60)]
        lock_timeout: u64,
    },
    /// Show every instance: container state, agent, auth and its scope, handoff, drift.
    Status {
        #[command(flatten)]
        file: FileArg,
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
    },
    /// Apply, then keep converging on state-file edits, host login changes and Docker events.
    Watch {
        #[command(flatten)]
        file: FileArg,
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
        /// Quiet period after the last change before a pass runs (a pass runs at the latest
        /// after 5× this, even while changes keep coming).
        #[arg(long, value_name = "MS", default_value_t = 500)]
        debounce_ms: u64,
        /// Seconds between full resyncs when nothing else triggered a pass.
        #[arg(long, value_name = "S", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
        resync_secs: u64,
    },
    /// Run a command in an instance's container (default: a login shell).
    ///
    /// Runs as the container's user, with its env and working directory; a TTY when stdin and
    /// stdout are terminals. jackin exits with the command's exit code.
    Exec {
        #[command(flatten)]
        file: FileArg,
        /// The instance; ROLE may be left out when the workspace has one.
        #[arg(value_name = "WS[/ROLE]")]
        instance: Target,
        /// The command and its arguments, after `--` (default: `sh -l`).
        #[arg(last = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// Show an instance's output (its agent's terminal).
    Logs {
        #[command(flatten)]
        file: FileArg,
        /// The instance; ROLE may be left out when the workspace has one.
        #[arg(value_name = "WS[/ROLE]")]
        instance: Target,
        /// Keep printing new output until the container stops.
        #[arg(long)]
        follow: bool,
        /// Only the last N lines.
        #[arg(long, value_name = "N")]
        tail: Option<u64>,
    },
    /// Attach to an instance's agent terminal (detach with ctrl-p ctrl-q).
    ///
    /// jackin's terminal is switched to raw mode and its size follows the window; ctrl-p ctrl-q
    /// detaches and leaves the agent running. Needs a terminal on stdin.
    Attach {
        #[command(flatten)]
        file: FileArg,
        /// The instance; ROLE may be left out when the workspace has one.
        #[arg(value_name = "WS[/ROLE]")]
        instance: Target,
    },
    /// Print the JSON Schema of the state file, or of the plan, status or events JSON output.
    Schema {
        #[arg(value_enum, default_value_t = Document::State)]
        document: Document,
    },
}
