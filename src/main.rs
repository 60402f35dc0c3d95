//! The `jackin` binary: parse arguments, run one command, render errors, exit.

use clap::Parser;
use jackin::cli::Cli;
use jackin::error::exit;

fn main() {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = match rt.block_on(jackin::commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprint!("{}", e.render());
            exit::ERROR
        }
    };
    // Every task is dropped before the process ends, and with it what it holds: an `ssh://`
    // host's master connection is closed and its control socket removed even when the HTTP
    // client left a connect waiting in the background. Nothing here blocks for long (the
    // bound only guards against a stuck blocking task).
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    std::process::exit(code);
}
