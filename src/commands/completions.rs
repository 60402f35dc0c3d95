//! `jackin completions SHELL` and `jackin man [DIR]`: both generated from the same clap types
//! as the parser (`crate::cli`), so they cannot drift from what jackin accepts.

use crate::cli::{Cli, Shell};
use crate::error::{exit, Code, Coded, Error};
use clap::CommandFactory;
use std::path::{Path, PathBuf};

/// A file the operator asked jackin to write could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct WriteError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

impl Coded for WriteError {
    fn code(&self) -> Code {
        Code::E008
    }
    fn hint(&self) -> Option<String> {
        Some("check that the folder exists and is writable by you, or choose another one".into())
    }
}

pub fn completions(shell: Shell) -> Result<i32, Error> {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
        Shell::Powershell => clap_complete::Shell::PowerShell,
    };
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "jackin", &mut std::io::stdout());
    Ok(exit::OK)
}

/// jackin(1) on stdout, or every page (jackin.1, jackin-plan.1, …) into `dir`.
pub fn man(dir: Option<&Path>) -> Result<i32, Error> {
    let cmd = Cli::command();
    let Some(dir) = dir else {
        let mut out = Vec::new();
        clap_mangen::Man::new(cmd)
            .render(&mut out)
            .expect("rendering into memory does not fail");
        use std::io::Write as _;
        let _ = std::io::stdout().write_all(&out);
        return Ok(exit::OK);
    };
    let fail = |source| WriteError {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut pages = vec!["jackin.1".to_owned()];
    pages.extend(
        cmd.get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| format!("jackin-{}.1", s.get_name())),
    );
    clap_mangen::generate_to(cmd, dir).map_err(fail)?;
    println!(
        "Wrote {} man page(s) to {}: {}",
        pages.len(),
        dir.display(),
        pages.join(", ")
    );
    Ok(exit::OK)
}
