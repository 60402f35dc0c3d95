//! One module per command: each turns its parsed arguments into calls of the library and an
//! exit code. `main.rs` only parses, dispatches here and renders an error.

mod completions;
pub mod console;
mod destroy;
mod doctor;
mod init;
pub(crate) mod reconcile_cmds;
pub(crate) mod session_cmds;

use crate::agents::AgentKind;
use crate::cli::{Cli, Command};
use crate::desired::AgentAuth;
use crate::error::{exit, Error};
use crate::observed::{HostError, HostLogin};
use crate::report::{JsonReporter, Output, Reporter, Style, TextReporter};
use std::path::Path;
use std::time::Duration;

/// Run one command; `Ok` is the exit code.
pub async fn run(cli: Cli) -> Result<i32, Error> {
    match cli.command {
        Command::Schema { document } => {
            print!("{}", document.schema_json());
            Ok(exit::OK)
        }
        Command::Validate { file } => reconcile_cmds::validate(file),
        Command::Destroy {
            file,
            purge,
            yes,
            host_timeout,
        } => destroy::destroy(file, purge, yes, Duration::from_secs(host_timeout)).await,
        Command::Init { format } => init::init(format),
        Command::Doctor { file } => doctor::doctor(file).await,
        Command::Completions { shell } => completions::completions(shell),
        Command::Man { dir } => completions::man(dir.as_deref()),
        Command::Exec {
            file,
            instance,
            command,
        } => session_cmds::exec(file, instance, command).await,
        Command::Login {
            file,
            instance,
            agent,
        } => session_cmds::login(file, instance, agent).await,
        Command::Logs {
            file,
            instance,
            follow,
            tail,
        } => session_cmds::logs(file, instance, follow, tail).await,
        Command::Attach { file, instance } => session_cmds::attach(file, instance).await,
        Command::Console { file } => console::run(file.file).await,
        Command::Plan { file, output, args } => reconcile_cmds::plan(file, output, args).await,
        Command::Status {
            file,
            output,
            host_timeout,
        } => reconcile_cmds::status(file, output, Duration::from_secs(host_timeout)).await,
        Command::Watch { file, output, args } => reconcile_cmds::watch(file, output, args).await,
        Command::Apply { file, output, args } => reconcile_cmds::apply(file, output, args).await,
    }
}

/// The event renderer `--output` asks for.
fn reporter(output: Output) -> Box<dyn Reporter> {
    match output {
        Output::Json => Box::new(JsonReporter(std::io::stdout())),
        Output::Text => Box::new(TextReporter::new(
            std::io::stdout(),
            Style::detect(),
            Style::detect_stderr(),
        )),
    }
}

/// Every catalogue agent's host login at its default folder under `home`, in catalogue
/// order, read with the rule a pass uses ([`crate::observed::host_login`]).
fn default_logins(
    home: &Path,
) -> impl Iterator<Item = (AgentAuth, Result<HostLogin, HostError>)> + '_ {
    AgentKind::ALL.into_iter().map(move |agent| {
        let auth = AgentAuth::default_for(agent, home);
        let login = crate::observed::host_login(&auth);
        (auth, login)
    })
}
