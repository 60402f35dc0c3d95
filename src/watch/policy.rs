//! Timing decisions of the watch loop, kept pure so they are unit-tested without clocks:
//! when a burst of hints becomes a pass ([`Debounce`]) and how long to wait before retrying a
//! pass that failed ([`Backoff`]).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A quiet period with a cap: a pass runs once hints stop for `quiet`, or `max_wait` after
/// the first hint of the burst, whichever comes first — or at once after a hint that says a
/// file is complete (renamed into place, closed after writing: SPEC v3 §8, a login tool's
/// save is a finished file, and waiting out the quiet period only delays the handoff).
///
/// The cap is what keeps a file rewritten every 100 ms (a log, an agent's token refresher)
/// from postponing the pass forever; the quiet period is what turns an editor's
/// write-temp-then-rename into one pass instead of three.
#[derive(Debug, Clone)]
pub struct Debounce {
    quiet: Duration,
    max_wait: Duration,
    first: Option<Instant>,
    last: Option<Instant>,
    /// When a complete write arrived, if one did in this burst.
    complete: Option<Instant>,
}

impl Debounce {
    /// `max_wait` is 5× the quiet period.
    pub fn new(quiet: Duration) -> Self {
        Debounce {
            quiet,
            max_wait: quiet * 5,
            first: None,
            last: None,
            complete: None,
        }
    }

    /// A relevant hint arrived at `now`.
    pub fn hit(&mut self, now: Instant) {
        self.first.get_or_insert(now);
        self.last = Some(now);
    }

    /// A hint that a file is complete arrived at `now`: the pass is due at once.
    pub fn complete(&mut self, now: Instant) {
        self.hit(now);
        self.complete.get_or_insert(now);
    }

    /// When the pass is due; `None` while no hint is pending.
    pub fn due(&self) -> Option<Instant> {
        let waited = (self.last? + self.quiet).min(self.first? + self.max_wait);
        Some(self.complete.map_or(waited, |c| c.min(waited)))
    }

    pub fn reset(&mut self) {
        self.first = None;
        self.last = None;
        self.complete = None;
    }
}

/// Capped exponential backoff: 0.5 s, 1 s, 2 s, … 30 s, then 30 s until [`Backoff::reset`].
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    pub const MIN: Duration = Duration::from_millis(500);
    pub const MAX: Duration = Duration::from_secs(30);

    /// The delay before the next attempt (and double the one after it).
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (d * 2).min(Self::MAX);
        d
    }

    pub fn reset(&mut self) {
        self.next = Self::MIN;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: Self::MIN }
    }
}

/// Hosts that did not answer, resting before they are dialled again (SPEC v3 §9: watch
/// reconnects each host on its own, with backoff). A pass marks a resting host unknown at once
/// instead of waiting out `--host-timeout` for it again, so the hosts that answer are not held
/// up pass after pass; a host is dialled again once its rest is over.
#[derive(Debug, Default)]
pub struct Resting {
    hosts: BTreeMap<String, Rest>,
}

#[derive(Debug)]
struct Rest {
    backoff: Backoff,
    failed: u32,
    until: Instant,
    why: String,
}

impl Resting {
    /// The hosts not to dial at `now`, each with why.
    pub fn at(&self, now: Instant) -> BTreeMap<String, String> {
        self.hosts
            .iter()
            .filter(|(_, r)| now < r.until)
            .map(|(h, r)| {
                let left = r.until.saturating_duration_since(now).as_secs_f64();
                let why = format!(
                    "not dialled: resting {left:.0} s more after {} failed tr{} ({})",
                    r.failed,
                    if r.failed == 1 { "y" } else { "ies" },
                    r.why
                );
                (h.clone(), why)
            })
            .collect()
    }

    /// After a pass at `now` that dialled `tried`: those in `down` rest longer, the others
    /// answered and rest no more.
    pub fn after_pass<'a>(
        &mut self,
        tried: impl IntoIterator<Item = &'a String>,
        down: &BTreeMap<String, String>,
        now: Instant,
    ) {
        for host in tried {
            let Some(why) = down.get(host) else {
                self.hosts.remove(host);
                continue;
            };
            let rest = self.hosts.entry(host.clone()).or_insert_with(|| Rest {
                backoff: Backoff::default(),
                failed: 0,
                until: now,
                why: String::new(),
            });
            rest.failed += 1;
            rest.until = now + rest.backoff.next_delay();
            rest.why.clone_from(why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_host_that_did_not_answer_rests_longer_each_time_and_not_at_all_once_it_answers() {
        let t0 = Instant::now();
        let (se, local) = ("se".to_owned(), "local".to_owned());
        let down: BTreeMap<String, String> = [(se.clone(), "no answer".to_owned())].into();
        let mut r = Resting::default();
        r.after_pass([&se, &local], &down, t0);
        assert_eq!(
            r.at(t0).keys().collect::<Vec<_>>(),
            [&se],
            "only the silent one rests"
        );
        assert!(
            r.at(t0)[&se].contains("after 1 failed try (no answer)"),
            "{:?}",
            r.at(t0)
        );
        assert!(
            r.at(t0 + Backoff::MIN).is_empty(),
            "dialled again after its rest"
        );
        r.after_pass([&se], &down, t0 + Backoff::MIN);
        let second = t0 + Backoff::MIN;
        assert!(
            r.at(second + Backoff::MIN).contains_key(&se),
            "rests twice as long"
        );
        assert!(r.at(second + 2 * Backoff::MIN).is_empty());
        r.after_pass([&se], &BTreeMap::new(), second + 2 * Backoff::MIN);
        assert!(
            r.at(second + 2 * Backoff::MIN).is_empty(),
            "it answered: no rest"
        );
    }

    #[test]
    fn a_burst_runs_one_pass_after_the_quiet_period() {
        let t0 = Instant::now();
        let mut d = Debounce::new(100 * MS);
        assert_eq!(d.due(), None);
        d.hit(t0);
        d.hit(t0 + 30 * MS);
        d.hit(t0 + 60 * MS);
        assert_eq!(d.due(), Some(t0 + 160 * MS));
    }

    #[test]
    fn constant_writes_cannot_postpone_a_pass_past_the_max_wait() {
        let t0 = Instant::now();
        let mut d = Debounce::new(100 * MS);
        for i in 0..100 {
            d.hit(t0 + i * 50 * MS);
        }
        assert_eq!(d.due(), Some(t0 + 500 * MS));
        d.reset();
        assert_eq!(d.due(), None);
    }

    #[test]
    fn a_complete_write_is_due_at_once_and_a_burst_before_it_goes_with_it() {
        let t0 = Instant::now();
        let mut d = Debounce::new(500 * MS);
        d.hit(t0);
        d.hit(t0 + 10 * MS);
        assert_eq!(d.due(), Some(t0 + 510 * MS));
        d.complete(t0 + 20 * MS);
        assert_eq!(d.due(), Some(t0 + 20 * MS));
        d.reset();
        d.complete(t0 + 30 * MS);
        assert_eq!(d.due(), Some(t0 + 30 * MS));
    }

    #[test]
    fn backoff_doubles_to_a_cap_and_resets() {
        let mut b = Backoff::default();
        let delays: Vec<_> = (0..9).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(
            delays,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        b.reset();
        assert_eq!(b.next_delay(), Backoff::MIN);
    }
}
