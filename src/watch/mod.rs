//! `jackin watch` (SPEC §7): apply once, then keep converging for as long as it runs.
//!
//! Watch is a loop around the same [`reconcile::apply`] that `jackin apply` runs, one pass at
//! a time. Triggers — file events, Docker events, a resync timer, a retry timer — are hints
//! that something *may* have changed: they decide when a pass runs, never what it does. The
//! reason is logged and hidden from the reconciler, so every pass re-observes everything and
//! stays idempotent; a missed or spurious hint costs latency or one cheap no-op pass, never
//! correctness. The periodic resync bounds what any missed hint can cost.
//!
//! Failure policy, all in one place ([`Watch::settle`]):
//! - the state file is re-read at every pass; an invalid edit (or one that no longer
//!   resolves) is reported once and the last good state stays in force, so a typo never
//!   removes anything;
//! - a failed pass is retried with capped exponential backoff ([`policy::Backoff`]); Docker
//!   going away is reported once and its recovery announced;
//! - the project lock is taken per pass without waiting, so a manual `jackin apply` can run
//!   in between; a busy lock just moves the pass a second later;
//! - a host that did not answer rests ([`policy::Resting`]: 0.5 s, 1 s, … 30 s) and is not
//!   dialled until its rest is over: its instances are unknown at once, and the hosts that
//!   answer are not held up by `--host-timeout` pass after pass (SPEC v3 §9).
//!
//! SIGINT/SIGTERM end the loop between passes; one arriving mid-pass lets the pass finish
//! (and release the lock) first.

pub(crate) mod docker;
pub(crate) mod fs;
pub use fs::{inotify_usage, InotifyUsage, POLL_INTERVAL};
pub(crate) mod interest;
pub mod policy;

use crate::desired::Desired;
use crate::error::{exit, Code, Error};
use crate::manifest::Loaded;
use crate::plan::{PlanOptions, Summary};
use crate::reconcile::{self, ApplyOptions, Context};
use crate::report::{Event, PassResult, Reporter};
use crate::runtime::ContainerEvent;
use interest::{Interests, Kind};
use policy::{Backoff, Debounce};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::time::sleep_until;

#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Quiet period; the max wait is 5× this.
    pub debounce: Duration,
    /// A full pass at least this often, whatever the hints say.
    pub resync: Duration,
    /// How long a host may take to answer before it rests ([`policy::Resting`]).
    pub host_timeout: Duration,
    /// Human log lines (`--output text`) rather than NDJSON.
    pub text: bool,
}

/// A hint that a pass may be needed.
#[derive(Debug)]
pub enum Trigger {
    /// Raw paths from the file watcher, classified by the loop against the interests;
    /// `complete` when the event says the file is whole (renamed into place, or closed after
    /// writing): a pass then runs at once, the debounce only merges what is still going on.
    Fs {
        paths: Vec<PathBuf>,
        complete: bool,
    },
    /// The file watcher lost events: only a full pass is safe.
    Rescan,
    Docker(ContainerEvent),
    /// The Docker event stream reconnected after an outage.
    DockerBack,
}

/// A busy lock means someone else is applying right now: try again soon, not with backoff.
const LOCK_RETRY: Duration = Duration::from_secs(1);

/// At most this many triggers are named in a pass line (then "… and N more").
const TRIGGERS_SHOWN: usize = 4;

/// Run until SIGINT/SIGTERM. A state file that does not load and resolve *at start* is an
/// error (exit 1), as for `apply`: there is no good state to keep in force yet, and a
/// supervisor should see the failure rather than a process that silently does nothing.
pub async fn run(
    ctx: Context,
    opts: WatchOptions,
    reporter: &mut dyn Reporter,
) -> Result<i32, Error> {
    let loaded = ctx.load()?;
    ctx.resolve(&loaded)?;
    let mut signals = Signals::new();
    let mut w = Watch::new(ctx, opts, reporter, loaded);
    let code = match w.until_stopped(&mut signals).await {
        Ok(stopped_by) => {
            w.reporter.event(Event::WatchSummary {
                passes: w.passes,
                failed_passes: w.failed_passes,
                applied: w.totals,
                signal: stopped_by.to_owned(),
            });
            exit::OK
        }
        // A second signal: the pass in flight was dropped (its lock with it).
        Err(_) => exit::ERROR,
    };
    w.stop_docker();
    Ok(code)
}

struct Watch<'r> {
    ctx: Context,
    opts: WatchOptions,
    reporter: &'r mut dyn Reporter,
    /// The state every pass applies: the newest version of the file that loaded, validated
    /// and resolved.
    last_good: Loaded,
    interests: Interests,
    fs: fs::FsWatch,
    rx: UnboundedReceiver<Trigger>,
    tx: UnboundedSender<Trigger>,
    /// The Docker event follower, and the project it follows.
    docker: Option<docker::Followers>,
    passes: u64,
    failed_passes: u64,
    totals: Summary,
    backoff: Backoff,
    /// Hosts that did not answer, resting before they are dialled again.
    resting: policy::Resting,
    retry_at: Option<Instant>,
    last_pass: Instant,
    /// The last state-file error reported (each distinct one is reported once).
    state_problem: Option<String>,
    /// The last pass error reported (each distinct one is reported once).
    pass_problem: Option<String>,
    docker_down: bool,
    /// Warnings and failures shown by the previous pass: a pass repeats them silently.
    shown: HashSet<String>,
    watched_before: Vec<String>,
}

impl<'r> Watch<'r> {
    /// Starts the file watcher (its warning, if any, is reported); passes start later.
    fn new(
        ctx: Context,
        opts: WatchOptions,
        reporter: &'r mut dyn Reporter,
        loaded: Loaded,
    ) -> Self {
        let (tx, rx) = unbounded_channel();
        let (fs, warning) = fs::FsWatch::new(tx.clone());
        if let Some(message) = warning {
            reporter.event(Event::Warning { message });
        }
        Watch {
            interests: interests_of(&ctx, &loaded, None),
            last_good: loaded,
            ctx,
            opts,
            reporter,
            fs,
            rx,
            tx,
            docker: None,
            passes: 0,
            failed_passes: 0,
            totals: Summary::default(),
            backoff: Backoff::default(),
            resting: policy::Resting::default(),
            retry_at: None,
            last_pass: Instant::now(),
            state_problem: None,
            pass_problem: None,
            docker_down: false,
            shown: HashSet::new(),
            watched_before: Vec::new(),
        }
    }

    /// Passes, each on the hints gathered since the last, until a signal stops the watch:
    /// `Ok` with it once the pass in flight is done; `Err` when a second signal aborted
    /// that pass.
    async fn until_stopped(&mut self, signals: &mut Signals) -> Result<&'static str, &'static str> {
        let mut triggers = vec!["start".to_owned()];
        loop {
            if let Some(sig) = self.run_pass(triggers, signals).await? {
                return Ok(sig);
            }
            match self.next_batch(signals).await {
                Ok(batch) => triggers = batch,
                Err(sig) => return Ok(sig),
            }
        }
    }

    /// Stop following Docker events.
    fn stop_docker(&mut self) {
        self.docker = None;
    }

    /// Wait for the next batch of relevant hints, debounced; a timer (retry or resync) runs a
    /// pass at once. `Err` is the signal that ended the wait.
    async fn next_batch(&mut self, signals: &mut Signals) -> Result<Vec<String>, &'static str> {
        let mut batch = Vec::new();
        let mut debounce = Debounce::new(self.opts.debounce);
        loop {
            let resync_at = self.last_pass + self.opts.resync;
            let timer = self.retry_at.map_or(resync_at, |r| r.min(resync_at));
            let due = debounce.due().unwrap_or(timer);
            tokio::select! {
                biased;
                sig = signals.recv() => return Err(sig),
                _ = sleep_until(due.into()) => {
                    if batch.is_empty() {
                        let retry = self.retry_at.is_some_and(|r| r <= Instant::now());
                        batch.push(if retry { "retry" } else { "resync" }.to_owned());
                    }
                    return Ok(batch);
                }
                Some(t) = self.rx.recv() => {
                    let complete = matches!(t, Trigger::Fs { complete: true, .. });
                    if let Some(why) = self.describe(t) {
                        if !batch.contains(&why) {
                            batch.push(why);
                        }
                        if complete {
                            debounce.complete(Instant::now());
                        } else {
                            debounce.hit(Instant::now());
                        }
                    }
                }
            }
        }
    }

    /// Why a hint matters, or `None` when it does not (most directory events).
    fn describe(&self, t: Trigger) -> Option<String> {
        describe(&self.interests, &self.ctx, t)
    }

    /// One pass, with signals noted but not acted on until it is done. Returns the signal
    /// that should end the loop, if one arrived; a second one aborts the pass at once
    /// (`Err`, with that signal): the caller ends the watch.
    async fn run_pass(
        &mut self,
        triggers: Vec<String>,
        signals: &mut Signals,
    ) -> Result<Option<&'static str>, &'static str> {
        let mut stop = None;
        let pass = self.pass(triggers);
        tokio::pin!(pass);
        loop {
            tokio::select! {
                biased;
                () = &mut pass => return Ok(stop),
                sig = signals.recv() => {
                    if stop.is_some() {
                        eprintln!("{sig} again: aborting the pass in flight");
                        return Err(sig);
                    }
                    eprintln!("{sig}: finishing the pass in flight, then exiting (send it again to abort)");
                    stop = Some(sig);
                }
            }
        }
    }

    async fn pass(&mut self, mut triggers: Vec<String>) {
        self.passes += 1;
        let pass = self.passes;
        let started = Instant::now();
        if triggers.len() > TRIGGERS_SHOWN {
            let more = triggers.len() - TRIGGERS_SHOWN;
            triggers.truncate(TRIGGERS_SHOWN);
            triggers.push(format!("… and {more} more"));
        }
        self.reporter.event(Event::Pass {
            pass,
            triggers: triggers.clone(),
        });
        let desired = self.reload();
        self.refresh_hints(desired.as_ref());
        let (opts, dialled) = self.pass_options(desired.as_ref());
        let mut pr = PassReporter {
            inner: &mut *self.reporter,
            text: self.opts.text,
            shown: &self.shown,
            now_shown: HashSet::new(),
            applied: Summary::default(),
        };
        // The state in force was resolved once for this pass (its hints too); when the last
        // good state no longer resolves (an env file gone), apply says why.
        let result = match desired {
            Some(d) => {
                reconcile::apply_resolved(&self.ctx, &self.last_good, d, &opts, &mut pr).await
            }
            None => reconcile::apply(&self.ctx, &self.last_good, &opts, &mut pr).await,
        };
        if let Ok(outcome) = &result {
            self.resting
                .after_pass(&dialled, &outcome.unreachable, Instant::now());
        }
        let (applied, now_shown) = (pr.applied, pr.now_shown);
        self.shown = now_shown;
        self.totals += applied;
        let (outcome, repeated) = self.settle(result);
        if outcome == PassResult::Failed || outcome == PassResult::Incomplete {
            self.failed_passes += 1;
        }
        self.last_pass = Instant::now();
        // A pass that failed the same way as the last one says nothing new in text.
        if !(self.opts.text && repeated) {
            self.reporter.event(Event::PassEnd {
                pass,
                triggers,
                result: outcome,
                applied,
                duration_ms: started.elapsed().as_millis(),
            });
        }
    }

    /// A pass's apply options, with the hosts it will dial (those not resting).
    fn pass_options(&self, desired: Option<&Desired>) -> (ApplyOptions, Vec<String>) {
        let resting = self.resting.at(Instant::now());
        let dialled = desired
            .map(|d| {
                let hosts = d.hosts.keys().filter(|h| !resting.contains_key(*h));
                hosts.cloned().collect()
            })
            .unwrap_or_default();
        let opts = ApplyOptions {
            plan: PlanOptions {
                host_timeout: Some(self.opts.host_timeout),
                resting,
                ..PlanOptions::default()
            },
            allow_empty: false,
            dry_run: false,
            lock_timeout: Duration::ZERO,
        };
        (opts, dialled)
    }

    /// Re-read the state file. A version that loads, validates and resolves becomes the last
    /// good state; anything else is reported (once) and the last good state stays in force.
    /// Returns the resolved desired state of whatever is in force, for the hints.
    fn reload(&mut self) -> Option<Desired> {
        let candidate = self
            .ctx
            .load()
            .and_then(|l| self.ctx.resolve(&l).map(|d| (l, d)));
        match candidate {
            Ok((loaded, desired)) => {
                if self.state_problem.take().is_some() {
                    self.reporter.event(Event::Notice {
                        message: "the state file is valid again; converging to it".into(),
                    });
                }
                self.last_good = loaded;
                Some(desired)
            }
            Err(e) => {
                let rendered = e.render();
                if self.state_problem.as_deref() != Some(&rendered) {
                    self.report(
                        &e,
                        format!(
                            "the last good state of project {} stays in force ({} file(s)); nothing changes because of this edit",
                            self.last_good.project,
                            self.last_good.files.len()
                        ),
                    );
                    self.state_problem = Some(rendered);
                }
                self.ctx.resolve(&self.last_good).ok()
            }
        }
    }

    /// Point the file watches and the Docker event follower at what this pass reads, before
    /// it reads it: a change made while the pass runs is then a hint for the next one.
    fn refresh_hints(&mut self, desired: Option<&Desired>) {
        if desired.is_some() {
            self.interests = interests_of(&self.ctx, &self.last_good, desired);
        }
        for message in self.fs.sync(&self.interests.watches()) {
            self.reporter.event(Event::Warning { message });
        }
        // Every host of the state in force, each followed on its own; while the state does
        // not resolve, the hosts followed so far (or `local`).
        let hosts = match (desired, &self.docker) {
            (Some(d), _) => d.hosts.clone(),
            (None, Some(f)) => f.following.1.clone(),
            (None, None) => {
                let local = crate::desired::hosts::Host::local();
                [(local.name.clone(), local)].into()
            }
        };
        let wanted = (self.last_good.project.clone(), hosts);
        if self.docker.as_ref().map(|f| &f.following) != Some(&wanted) {
            self.stop_docker();
            let (project, hosts) = &wanted;
            self.docker = Some(docker::Followers::start(
                project,
                hosts,
                docker::DRIFT,
                &self.tx,
            ));
        }
        let paths = self.fs.paths();
        if paths != self.watched_before {
            self.reporter.event(Event::Watching {
                backend: self.fs.backend(),
                paths: paths
                    .iter()
                    .map(|p| tilde(Path::new(p), &self.ctx.home))
                    .collect(),
                project: self.last_good.project.clone(),
            });
            self.watched_before = paths;
        }
    }

    /// The error policy: what a pass's result means for the next one. Returns how the pass
    /// ended and whether it failed exactly like the previous one.
    fn settle(&mut self, result: Result<crate::exec::Outcome, Error>) -> (PassResult, bool) {
        match result {
            Ok(outcome) if outcome.failures.is_empty() => {
                if std::mem::take(&mut self.docker_down) {
                    self.reporter.event(Event::Notice {
                        message: "the Docker engine is reachable again".into(),
                    });
                }
                self.pass_problem = None;
                self.retry_at = None;
                self.backoff.reset();
                let changed = outcome.applied.has_changes();
                (
                    if changed {
                        PassResult::Changed
                    } else {
                        PassResult::NoChanges
                    },
                    false,
                )
            }
            Ok(outcome) => {
                // The executor reported each failure; converge the rest later.
                let key = format!(
                    "{:?}",
                    outcome
                        .failures
                        .iter()
                        .map(|f| &f.message)
                        .collect::<Vec<_>>()
                );
                let repeated = self.pass_problem.as_deref() == Some(&key);
                self.pass_problem = Some(key);
                self.retry_at = Some(Instant::now() + self.backoff.next_delay());
                (PassResult::Incomplete, repeated)
            }
            Err(e) => (PassResult::Failed, self.pass_failed(&e)),
        }
    }

    /// A pass that stopped before executing: when to retry, and what to say about it (once:
    /// not again while it fails the same way, nor for the engine still being down). Whether
    /// it failed like the previous one.
    fn pass_failed(&mut self, e: &Error) -> bool {
        let delay = if e.code() == Code::E030 {
            LOCK_RETRY
        } else {
            self.backoff.next_delay()
        };
        self.retry_at = Some(Instant::now() + delay);
        let rendered = e.render();
        let repeated = self.pass_problem.as_deref() == Some(&rendered)
            || (e.code() == Code::E020 && self.docker_down);
        if !repeated {
            let then = match e.code() {
                Code::E030 => "retrying every second until it is released".to_owned(),
                Code::E020 => format!(
                    "retrying with backoff ({} ms doubling to {} s); this is reported once",
                    Backoff::MIN.as_millis(),
                    Backoff::MAX.as_secs()
                ),
                _ => format!(
                    "retrying in {} ms, backing off to {} s",
                    delay.as_millis(),
                    Backoff::MAX.as_secs()
                ),
            };
            self.report(e, then);
        }
        self.docker_down |= e.code() == Code::E020;
        self.pass_problem = Some(rendered);
        repeated
    }

    fn report(&mut self, e: &Error, then: String) {
        self.reporter.event(Event::WatchError {
            code: e.code(),
            message: e.message(),
            hint: e.hint(),
            then,
        });
    }
}

/// Shapes apply's events for a long-running process: in text, a pass with nothing to do
/// prints no plan and the pass line replaces apply's summary; in both formats, warnings and
/// failures already shown by the previous pass are not repeated every pass.
struct PassReporter<'a> {
    inner: &'a mut dyn Reporter,
    text: bool,
    shown: &'a HashSet<String>,
    now_shown: HashSet<String>,
    applied: Summary,
}

impl PassReporter<'_> {
    /// Whether `key` was shown by the previous pass (it is remembered for the next either way).
    fn seen(&mut self, key: String) -> bool {
        let seen = self.shown.contains(&key);
        self.now_shown.insert(key);
        seen
    }
}

impl Reporter for PassReporter<'_> {
    fn event(&mut self, mut event: Event) {
        // A lasting problem of one instance's handoff is told once, not in every pass's plan.
        if let Event::Plan(plan) = &mut event {
            for inst in &mut plan.instances {
                let container = inst.container.clone();
                inst.problems
                    .retain(|p| !self.seen(format!("p:{container}{}{}", p.code, p.message)));
            }
        }
        let repeatable = match &event {
            Event::Warning { message } => Some(format!("w:{message}")),
            Event::Failed {
                container,
                code,
                message,
            } => Some(format!("f:{container:?}{code}{message}")),
            _ => None,
        };
        if let Some(key) = repeatable {
            if self.seen(key) {
                return;
            }
        }
        match &event {
            Event::Plan(plan) if self.text && !plan.has_changes() => return,
            Event::Summary { applied, .. } => {
                self.applied = *applied;
                if self.text {
                    return;
                }
            }
            _ => {}
        }
        self.inner.event(event);
    }
}

/// The inotify watches `jackin watch` would hold for this state (one per directory it
/// watches; see [`interest`]), given the resolved desired state when there is one.
pub fn inotify_watches_needed(ctx: &Context, loaded: &Loaded, desired: Option<&Desired>) -> usize {
    fs::watches_for(&interests_of(ctx, loaded, desired).watches(), 1_000_000)
}

/// What makes a pass (or a console refresh) worth running when it changes, for this state: the
/// state file(s), host logins, env files and build contexts, from the command's context.
pub(crate) fn interests_of(ctx: &Context, loaded: &Loaded, desired: Option<&Desired>) -> Interests {
    Interests::compute(
        &ctx.cwd,
        ctx.file.as_deref(),
        ctx.jackin_home.root(),
        loaded,
        desired,
        &ctx.home,
    )
}

/// `~/…` for paths under `$HOME`: shorter log lines, same meaning.
pub(crate) fn tilde(p: &Path, home: &Path) -> String {
    match p.strip_prefix(home) {
        Ok(rest) if home != Path::new("/") => format!("~/{}", rest.display()),
        _ => p.display().to_string(),
    }
}

struct Signals {
    int: Signal,
    term: Signal,
}

impl Signals {
    fn new() -> Self {
        let install = |kind| signal(kind).expect("install a SIGINT/SIGTERM handler");
        Signals {
            int: install(SignalKind::interrupt()),
            term: install(SignalKind::terminate()),
        }
    }

    /// The next SIGINT or SIGTERM (one that arrived while nobody waited is not lost).
    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
        }
    }
}

/// Why a hint matters against these interests, or `None` when it does not (most directory
/// events). Shared with `console`, which refreshes on the same hints.
pub(crate) fn describe(interests: &Interests, ctx: &Context, t: Trigger) -> Option<String> {
    match t {
        Trigger::Fs { paths, .. } => paths.iter().find_map(|p| {
            let what = match interests.classify(p)? {
                Kind::StateFile => "state file",
                Kind::HostLogin => "host login",
                Kind::EnvFile => "env file",
                Kind::BuildContext => "build context",
            };
            let shown = match p.strip_prefix(&ctx.cwd) {
                Ok(rel) => rel.display().to_string(),
                Err(_) => tilde(p, &ctx.home),
            };
            Some(format!("{what} {shown}"))
        }),
        Trigger::Rescan => Some("file events lost".into()),
        Trigger::Docker(ev) => Some(format!("docker {} {}", ev.action, ev.container)),
        Trigger::DockerBack => Some("docker events back".into()),
    }
}
