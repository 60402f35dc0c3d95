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
    about = "Declarative reconciler for AI coding agent containers and their credentials",
    after_help = "Run 'jackin COMMAND --help' for more information on a command."
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
    /// Write a starter state file from the host logins found
    ///
    /// Writes jackin.toml (or jackin.yaml) in the current folder: one role with every agent
    /// whose host login is present, and this folder as the workspace, mounted at
    /// /workspace/NAME. Never overwrites a state file.
    Init {
        /// The starter file's format: jackin.toml or jackin.yaml.
        #[arg(long, value_enum, default_value_t = InitFormat::Toml)]
        format: InitFormat,
    },
    /// Check the state file
    ///
    /// Reads no host env, host files or Docker, so CI can lint a GitOps repo without secrets.
    Validate {
        #[command(flatten)]
        file: FileArg,
    },
    /// Show what apply would do
    Plan {
        #[command(flatten)]
        file: FileArg,
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
        #[command(flatten)]
        args: PlanArgs,
    },
    /// Converge containers and credentials to the state file
    Apply {
        #[command(flatten)]
        file: FileArg,
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
        #[command(flatten)]
        args: ApplyArgs,
    },
    /// Show every instance: container, auth, handoff, last sync, drift
    Status {
        #[command(flatten)]
        file: FileArg,
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
        /// Seconds a host may take to answer; one that does not shows its instances unknown.
        #[arg(long, value_name = "SECS", default_value_t = 10)]
        host_timeout: u64,
    },
    /// Apply, then keep converging as things change
    ///
    /// Re-reconciles on state-file edits, host login changes, env files, build contexts,
    /// Docker events of the project's containers and a periodic resync.
    Watch {
        #[command(flatten)]
        file: FileArg,
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
        #[command(flatten)]
        args: WatchArgs,
    },
    /// Remove the project's containers (and handoff state with --purge)
    ///
    /// Only containers carrying the project's jackin labels are removed. Asks on a terminal;
    /// without one, --yes is required.
    Destroy {
        #[command(flatten)]
        file: FileArg,
        /// Also delete the handoff directories and ledgers of the project's instances.
        #[arg(long)]
        purge: bool,
        /// Do not ask (needed when stdin is not a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
        /// Seconds a host may take to answer; one that does not is named and left as it is.
        #[arg(long, value_name = "SECS", default_value_t = 10)]
        host_timeout: u64,
    },
    /// Check that jackin can work here, with a fix for each problem
    ///
    /// One line per check with its verdict (ok, info, warn, fail) and, when it is not ok, the
    /// fix. Changes nothing. Exits 1 when a check fails (where plan or apply would fail), 0
    /// otherwise; warnings (an absent login, a missing image apply would pull) do not fail.
    Doctor {
        #[command(flatten)]
        file: FileArg,
    },
    /// Run a command in an instance (default: a login shell)
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
    /// Live full-screen view: instances, auth, plan, events
    ///
    /// Refreshes (observe and plan, never apply) on Docker events of the project's
    /// containers, state-file and host-login changes and a slow resync. Keys: 1-4 tabs,
    /// up/down select, a attach, l logs, e shell, r replace, p apply (both confirmed with y),
    /// ? help, q quit.
    Console {
        #[command(flatten)]
        file: FileArg,
    },
    /// Log an instance's agent in with its own login (its own grant)
    ///
    /// Runs the agent's own login command (its device-code flow where it has one) inside the
    /// instance, attached to this terminal, so the instance holds a login of its own instead
    /// of sharing the host's (one refresh token held by several logs the others out). The
    /// agent's auth mode there must be `ignore`; jackin then keeps that login across
    /// recreates.
    Login {
        #[command(flatten)]
        file: FileArg,
        /// The instance; ROLE may be left out when the workspace has one.
        #[arg(value_name = "WS[/ROLE]")]
        instance: Target,
        /// The agent to log in (default: the one the instance launches).
        #[arg(value_name = "AGENT")]
        agent: Option<crate::agents::AgentKind>,
    },
    /// Show an instance's output (its agent's terminal)
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
    /// Attach to the agent's terminal (detach: ctrl-p ctrl-q)
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
    /// Print the JSON Schema of the state file or of the JSON output
    Schema {
        #[arg(value_enum, default_value_t = Document::State)]
        document: Document,
    },
    /// Print a shell completion script
    ///
    /// bash: `jackin completions bash > ~/.local/share/bash-completion/completions/jackin`;
    /// zsh: `jackin completions zsh > "${fpath[1]}/_jackin"`;
    /// fish: `jackin completions fish > ~/.config/fish/completions/jackin.fish`;
    /// PowerShell: `jackin completions powershell >> $PROFILE`.
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the man page, or write every page into a folder
    ///
    /// Without DIR, prints jackin(1) on stdout (`jackin man | man -l -`). With DIR, writes
    /// jackin.1 and one page per command (jackin-plan.1, …) there, e.g.
    /// `jackin man ~/.local/share/man/man1`.
    Man {
        #[arg(value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// The format `jackin init` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InitFormat {
    Toml,
    Yaml,
}

/// Shells `jackin completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

/// `plan`'s flags beyond `-f` and `--output`.
#[derive(Debug, Args, Clone)]
pub struct PlanArgs {
    /// Exit 2 when the plan has changes, 0 when it has none.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Only WORKSPACE or WORKSPACE/ROLE.
    #[arg(long, value_name = "WS[/ROLE]")]
    pub target: Option<Target>,
    /// Recreate these instances even when nothing changed (repeatable).
    #[arg(long, value_name = "WS[/ROLE]")]
    pub replace: Vec<Target>,
    /// Seconds a host may take to answer; one that does not is that host's error.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub host_timeout: u64,
}

/// `watch`'s timing.
#[derive(Debug, Args, Clone)]
pub struct WatchArgs {
    /// Quiet period after the last change before a pass runs (a pass runs at the latest
    /// after 5× this, even while changes keep coming).
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub debounce_ms: u64,
    /// Seconds between full resyncs when nothing else triggered a pass.
    #[arg(long, value_name = "S", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    pub resync_secs: u64,
    /// Seconds a host may take to answer; one that does not rests (0.5 s, 1 s, … 30 s)
    /// before it is dialled again, so the others are not held up.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub host_timeout: u64,
}

/// `apply`'s flags beyond `-f` and `--output`.
#[derive(Debug, Args, Clone)]
pub struct ApplyArgs {
    /// Plan only (the same as `plan`).
    #[arg(long)]
    pub dry_run: bool,
    /// Only WORKSPACE or WORKSPACE/ROLE.
    #[arg(long, value_name = "WS[/ROLE]")]
    pub target: Option<Target>,
    /// Recreate these instances even when nothing changed (repeatable), e.g. an agent
    /// that is stuck.
    #[arg(long, value_name = "WS[/ROLE]")]
    pub replace: Vec<Target>,
    /// Also delete the handoff state of removed instances.
    #[arg(long)]
    pub purge_removed: bool,
    /// Allow removing every container of the project.
    #[arg(long)]
    pub allow_empty: bool,
    /// Seconds to wait for another apply of the same project.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub lock_timeout: u64,
    /// Seconds a host may take to answer; one that does not is that host's error and the
    /// others converge (SPEC §9).
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub host_timeout: u64,
}
