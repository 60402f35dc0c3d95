//! Reporting: one event stream, rendered for humans (text) or machines (NDJSON), and the
//! plan document (text blocks or versioned JSON).
//!
//! Nothing here ever receives a secret value: events and plans carry names, causes and
//! keyed fingerprints only.

pub mod pull;
mod status;
mod text;
pub mod time;

pub use status::{InstanceStatus, Status};
pub use text::{clock, render_plan, Style};

use crate::agents::AgentKind;
use crate::plan::{
    ContainerAction, ContainerCause, FileAction, FileCause, Summary, FORMAT_VERSION,
};
use schemars::JsonSchema;
use serde::Serialize;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Text,
    Json,
}

/// One line of `apply`/`watch --output json` (NDJSON); its schema is `schemas/events.schema.json`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Version {
        format_version: u32,
        jackin: &'static str,
    },
    Warning {
        message: String,
    },
    /// The plan about to be executed (the whole `plan --output json` document).
    Plan(Box<crate::plan::Plan>),
    Image {
        image: String,
        status: String,
    },
    /// A pull moved by a visible step (a layer done, or another tenth of the bytes).
    PullProgress {
        image: String,
        #[serde(flatten)]
        progress: pull::PullProgress,
    },
    File {
        container: String,
        agent: AgentKind,
        path: crate::words::RelPath,
        action: FileAction,
        cause: FileCause,
        fingerprint: Option<String>,
    },
    Container {
        container: String,
        action: ContainerAction,
        cause: ContainerCause,
    },
    Failed {
        container: Option<String>,
        code: crate::error::Code,
        message: String,
    },
    Summary {
        applied: Summary,
        failed: usize,
        api_calls: usize,
        files_hashed: usize,
        duration_ms: u128,
    },
    /// `watch`: what is watched (sent at start and whenever the set changes).
    Watching {
        backend: &'static str,
        paths: Vec<String>,
        project: String,
    },
    /// `watch`: a pass begins. Triggers say why, but every pass is a full reconcile.
    Pass {
        pass: u64,
        triggers: Vec<String>,
    },
    /// `watch`: a pass ended (after apply's own `summary`, when it got that far).
    PassEnd {
        pass: u64,
        triggers: Vec<String>,
        result: PassResult,
        applied: Summary,
        duration_ms: u128,
    },
    /// `watch`: an error watch survives, and what it does about it.
    WatchError {
        code: crate::error::Code,
        message: String,
        hint: Option<String>,
        then: String,
    },
    /// `watch`: the loop itself changed state (Docker back, lock busy, stopping, …).
    Notice {
        message: String,
    },
    /// `watch`: the last event, on SIGINT/SIGTERM.
    WatchSummary {
        passes: u64,
        failed_passes: u64,
        applied: Summary,
        signal: String,
    },
}

/// How a `watch` pass ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PassResult {
    /// Something was changed and everything converged.
    Changed,
    /// Nothing to do.
    NoChanges,
    /// Some instances failed; the others were applied.
    Incomplete,
    /// The pass stopped before executing (Docker unreachable, lock busy, guard, …).
    Failed,
}

impl Event {
    pub fn version() -> Self {
        Event::Version {
            format_version: FORMAT_VERSION,
            jackin: env!("CARGO_PKG_VERSION"),
        }
    }
}

pub trait Reporter {
    fn event(&mut self, event: Event);
}

/// Events kept in order, for a caller that reads them afterwards (tests, the console).
impl Reporter for Vec<Event> {
    fn event(&mut self, event: Event) {
        self.push(event);
    }
}

/// NDJSON on stdout: first a `version` event, last a `summary`.
pub struct JsonReporter<W: Write>(pub W);

impl<W: Write> Reporter for JsonReporter<W> {
    fn event(&mut self, event: Event) {
        let _ = serde_json::to_writer(&mut self.0, &event);
        let _ = writeln!(self.0);
        let _ = self.0.flush();
    }
}

/// Human progress lines on stdout; warnings, errors and the pull progress bar on stderr.
pub struct TextReporter<W: Write> {
    out: W,
    /// Colour of what goes to `out`, and of what goes to stderr: each stream decides its own.
    style: Style,
    err_style: Style,
    /// The pull in flight (images are pulled one at a time). indicatif draws it only when
    /// stderr is a terminal, so logs and pipes get the "pulling"/"pulled" lines alone.
    pull: Option<indicatif::ProgressBar>,
}

impl<W: Write> TextReporter<W> {
    pub fn new(out: W, style: Style, err_style: Style) -> Self {
        TextReporter {
            out,
            style,
            err_style,
            pull: None,
        }
    }
}

/// Hidden until the caller has set its figures, so the first frame is never an empty bar.
fn pull_bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::hidden();
    let style = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec})",
    )
    .expect("a valid template")
    .progress_chars("=> ");
    bar.set_style(style);
    bar
}

impl<W: Write> TextReporter<W> {
    /// The bar is drawn on stderr from its first figures on, so it never shows empty.
    fn pull_progress(&mut self, image: &str, progress: &pull::PullProgress) {
        let fresh = self.pull.is_none();
        let bar = self.pull.get_or_insert_with(pull_bar);
        bar.set_length(progress.total_bytes);
        bar.set_position(progress.downloaded_bytes);
        bar.set_message(format!(
            "{image}: {}/{} layers",
            progress.layers_done, progress.layers
        ));
        if fresh {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
    }
}

impl<W: Write> Reporter for TextReporter<W> {
    fn event(&mut self, event: Event) {
        if let Event::PullProgress { image, progress } = &event {
            self.pull_progress(image, progress);
            return;
        }
        // Any other event ends the pull in flight: its bar must not sit between lines.
        if let Some(bar) = self.pull.take() {
            bar.finish_and_clear();
        }
        match event {
            Event::Plan(plan) => {
                let _ = write!(self.out, "{}", render_plan(&plan, self.style));
            }
            Event::Warning { message } => {
                eprintln!("{} {message}", self.err_style.yellow("warning:"));
            }
            Event::Failed {
                container,
                code,
                message,
            } => {
                let who = container.map(|c| format!("{c}: ")).unwrap_or_default();
                let code = self.err_style.red(&crate::error::head(code));
                eprintln!("{code} {who}{message}");
            }
            Event::WatchError {
                code,
                message,
                hint,
                then,
            } => eprint_watch_error(code, &message, hint.as_deref(), &then, self.err_style),
            shown => {
                if let Some(line) = stdout_line(shown, self.style) {
                    let _ = writeln!(self.out, "{line}");
                    let _ = self.out.flush();
                }
            }
        }
    }
}

/// A watch error on stderr: its first line stamped, the rest indented, then what watch does.
fn eprint_watch_error(
    code: crate::error::Code,
    message: &str,
    hint: Option<&str>,
    then: &str,
    e: Style,
) {
    let mut lines = message.lines();
    eprintln!(
        "{} {} {}",
        text::clock(),
        e.red(&crate::error::head(code)),
        lines.next().unwrap_or_default()
    );
    for line in lines {
        eprintln!("  {line}");
    }
    if let Some(hint) = hint {
        eprintln!("  {}", crate::error::what_to_try(hint));
    }
    eprintln!("  watch: {then}");
}

/// The stdout line of an event; `None` for those with none (machine-only, or shown on
/// stderr by [`TextReporter::event`]).
fn stdout_line(event: Event, s: Style) -> Option<String> {
    let line = match event {
        Event::Version { .. }
        | Event::Plan(_)
        | Event::PullProgress { .. }
        | Event::Pass { .. }
        | Event::Warning { .. }
        | Event::Failed { .. }
        | Event::WatchError { .. } => return None,
        Event::Image { image, status } => format!("image {image}: {status}"),
        Event::File {
            container,
            agent,
            path,
            action,
            cause,
            ..
        } => format!(
            "{container}: {} {agent}/{path} ({})",
            text::file_verb(action),
            text::file_cause(cause)
        ),
        Event::Container {
            container,
            action,
            cause,
        } => format!(
            "{container}: {} ({})",
            text::container_verb(action),
            text::container_cause(&cause)
        ),
        Event::Summary {
            applied,
            failed,
            duration_ms,
            ..
        } => text::summary_line(&applied, failed, duration_ms, s),
        Event::Watching {
            backend,
            paths,
            project,
        } => text::watching_line(backend, &paths, &project),
        Event::PassEnd {
            pass,
            triggers,
            result,
            applied,
            duration_ms,
        } => text::pass_line(pass, &triggers, result, &applied, duration_ms, s),
        Event::Notice { message } => format!("{} {message}", text::clock()),
        Event::WatchSummary {
            passes,
            failed_passes,
            applied,
            signal,
        } => text::watch_summary_line(passes, failed_passes, &applied, &signal),
    };
    Some(line)
}
