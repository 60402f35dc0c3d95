//! Times for people and for programs (SPEC v2 §6): text says how long ago (`3 min ago`), JSON
//! carries RFC 3339 (`2026-11-26T10:15:29Z`). Both take the instant as unix seconds, as the
//! ledger records it; relative times take `now` as a parameter, so a rendering is
//! reproducible (and snapshot-testable).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Unix seconds as an instant (before 1970: the epoch; never in practice).
fn instant(unix_secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(unix_secs).unwrap_or(0))
}

/// `2026-11-26T10:15:29Z`: RFC 3339 in UTC, whole seconds.
pub fn rfc3339(unix_secs: i64) -> String {
    humantime::format_rfc3339_seconds(instant(unix_secs)).to_string()
}

/// How long before `now` it was, in the largest whole unit: `12 s ago`, `3 min ago`,
/// `5 h ago`, `2 days ago`; past a month the date (`on 2026-01-03`), which reads better than a
/// count of days. An instant after `now` (a clock set back since) is shown as its date and
/// time rather than as a negative age.
pub fn ago(unix_secs: i64, now: SystemTime) -> String {
    let then = instant(unix_secs);
    let Ok(age) = now.duration_since(then) else {
        return format!("at {}", rfc3339(unix_secs));
    };
    match age.as_secs() {
        secs @ 0..=2_591_999 => format!("{} ago", span(secs)),
        _ => format!("on {}", &rfc3339(unix_secs)[..10]),
    }
}

/// How long from `unix_secs` to `now` (`3 min`, `2 days`: an uptime); an instant after
/// `now` is 0 s.
pub fn since(unix_secs: i64, now: SystemTime) -> String {
    span(
        now.duration_since(instant(unix_secs))
            .map_or(0, |d| d.as_secs()),
    )
}

/// A length of time in its largest whole unit: `12 s`, `3 min`, `5 h`, `2 days`.
fn span(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3_599 => format!("{} min", secs / 60),
        3_600..=172_799 => format!("{} h", secs / 3_600),
        _ => format!("{} days", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_795_709_729;

    fn at(unix_secs: i64) -> SystemTime {
        instant(unix_secs)
    }

    #[test]
    fn json_times_are_rfc3339_utc() {
        assert_eq!(rfc3339(T), "2026-11-26T16:15:29Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn people_read_the_largest_whole_unit() {
        for (age, shown) in [
            (0, "0 s ago"),
            (59, "59 s ago"),
            (60, "1 min ago"),
            (3 * 60 + 12, "3 min ago"),
            (3_599, "59 min ago"),
            (3_600, "1 h ago"),
            (47 * 3_600, "47 h ago"),
            (48 * 3_600, "2 days ago"),
            (29 * 86_400, "29 days ago"),
            (30 * 86_400, "on 2026-11-26"),
        ] {
            assert_eq!(ago(T, at(T + age)), shown, "{age} s");
        }
    }

    #[test]
    fn an_uptime_has_the_same_units_without_a_date() {
        assert_eq!(since(T, at(T + 3 * 60 + 12)), "3 min");
        assert_eq!(since(T, at(T + 45 * 86_400)), "45 days");
        assert_eq!(since(T, at(T - 5)), "0 s");
    }

    #[test]
    fn a_time_after_now_is_shown_as_a_date_not_a_negative_age() {
        assert_eq!(ago(T, at(T - 5)), "at 2026-11-26T16:15:29Z");
    }
}
