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
    std::process::exit(code);
}
