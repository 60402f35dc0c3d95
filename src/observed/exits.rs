//! An agent that exits right after its start (SPEC v3 §5): kimi-cli 1.52.0's entry point that
//! only prints a deprecation notice, codex without `ps`, a flag the client rejects. Such a
//! container is not "started" again and again: it is that instance's failure, with its exit
//! code and the last lines it wrote, until something about it changes.

use crate::runtime::Engine;
use schemars::JsonSchema;
use serde::Serialize;
use std::time::{Duration, SystemTime};

/// How soon after its start an exit counts as "at once". An agent's TUI waits for its
/// operator; one gone within this is broken as launched. Every observe (plan, apply, status,
/// watch) judges a stopped container by it.
pub const AT_ONCE: Duration = Duration::from_secs(5);

/// How long `apply` waits after its last start, for all the containers it started at once,
/// to report an agent that exits at once in the same run (kimi-cli 1.52.0 exits 0.24 s after
/// its start here; a rejected flag sooner). Short, because every apply that starts something
/// pays it: an agent that stops later within [`AT_ONCE`] is reported by the next observe.
pub const APPLY_WAITS: Duration = Duration::from_secs(2);

/// The exit codes of `docker stop` and `docker kill` (128 + SIGTERM, 128 + SIGKILL, as
/// Docker's init reports them): a container stopped from outside is started again, not
/// judged.
const STOPPED_FROM_OUTSIDE: [i64; 2] = [143, 137];

/// How many of its last lines are shown.
const LINES: u64 = 5;

/// What an agent that exited at once left behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct QuickExit {
    pub exit_code: i64,
    /// Milliseconds from its start to its exit.
    pub after_ms: u64,
    /// RFC 3339, as the engine says it.
    pub started_at: String,
    pub finished_at: String,
    /// Its last lines, secrets redacted and control characters shown escaped.
    pub lines: Vec<String>,
}

impl QuickExit {
    /// `exited (code 0) 0.2 s after start`.
    pub fn state(&self) -> String {
        format!(
            "exited (code {}) {:.1} s after start",
            self.exit_code,
            self.after_ms as f64 / 1000.0
        )
    }

    /// The state and the last lines, on one line.
    pub fn describe(&self, agent: &str) -> String {
        let lines = if self.lines.is_empty() {
            "it wrote nothing".to_owned()
        } else {
            format!("its last lines: {}", self.lines.join(" | "))
        };
        format!(
            "{agent} exited (code {}) {:.1} s after its start; {lines}",
            self.exit_code,
            self.after_ms as f64 / 1000.0
        )
    }
}

/// The agent in `container` exited at once, if it did: it is not running, and its last run
/// lasted less than [`AT_ONCE`]. One inspect, and a log read only when it did.
pub async fn quick_exit(runtime: &impl Engine, container: &str) -> Option<QuickExit> {
    let d = runtime.inspect_container(container).await.ok()??;
    if d.running {
        return None;
    }
    let (started_at, finished_at) = (d.started_at?, d.finished_at?);
    let lasted = ran_for(&started_at, &finished_at)?;
    let code = d.exit_code.unwrap_or(0);
    if lasted >= AT_ONCE || STOPPED_FROM_OUTSIDE.contains(&code) {
        return None;
    }
    let lines = runtime
        .last_lines(container, LINES)
        .await
        .iter()
        .map(|l| crate::redact::shown(l))
        .collect();
    Some(QuickExit {
        exit_code: code,
        after_ms: u64::try_from(lasted.as_millis()).unwrap_or(u64::MAX),
        started_at,
        finished_at,
        lines,
    })
}

/// How long a run from `started` to `finished` (RFC 3339) lasted; `None` when either is not
/// a time (a container never started) or it has not finished. A process that exits the moment
/// it starts can be recorded as finished before the engine notes its start: no time at all.
fn ran_for(started: &str, finished: &str) -> Option<Duration> {
    let start: SystemTime = humantime::parse_rfc3339(started).ok()?;
    let end: SystemTime = humantime::parse_rfc3339(finished).ok()?;
    Some(end.duration_since(start).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_measured_from_the_engines_times() {
        assert_eq!(
            ran_for(
                "2026-12-05T16:45:56.613521438Z",
                "2026-12-05T16:45:56.852573131Z"
            ),
            Some(Duration::from_nanos(239_051_693))
        );
        // Exited before the engine noted its start (Docker sets `StartedAt` after the start
        // returns; an instant exit can be handled first): it ran for no time, not "unknown".
        assert_eq!(
            ran_for(
                "2026-12-05T16:45:56.852573131Z",
                "2026-12-05T16:45:56.852501000Z"
            ),
            Some(Duration::ZERO)
        );
        // A container that never stopped has the zero time as its finish.
        assert_eq!(
            ran_for("2026-12-05T16:45:56.6Z", "0001-01-01T00:00:00Z"),
            None
        );
    }

    #[test]
    fn the_state_and_lines_read_as_one_line() {
        let q = QuickExit {
            exit_code: 0,
            after_ms: 240,
            started_at: String::new(),
            finished_at: String::new(),
            lines: vec!["kimi-cli is no longer maintained.".into(), "bye".into()],
        };
        assert_eq!(q.state(), "exited (code 0) 0.2 s after start");
        assert_eq!(
            q.describe("kimi"),
            "kimi exited (code 0) 0.2 s after its start; its last lines: kimi-cli is no longer maintained. | bye"
        );
    }
}
