//! A container's run as the one list call tells it: Docker's `Status` text (`Up 3 minutes`,
//! `Exited (137) 2 minutes ago`) is all the list carries of its uptime and exit code, and an
//! inspect per container would cost a no-op more than its single call. The text is the
//! engine's (`go-units` `HumanDuration`), read back to the precision it has.

/// How long it has been up, in seconds, rounded as Docker rounds it (`Up About a minute` is
/// 60); `None` unless the text says it is up.
pub fn up_for(status: &str) -> Option<u64> {
    let rest = status.strip_prefix("Up ")?;
    // `Up 2 hours (healthy)`, `Up 3 minutes (Paused)`.
    let human = rest.split(" (").next().unwrap_or(rest);
    let (count, unit) = match human.split_once(' ')? {
        ("Less", _) => return Some(0),
        ("About", unit) => (1, unit.trim_start_matches("a ").trim_start_matches("an ")),
        (n, unit) => (n.parse::<u64>().ok()?, unit),
    };
    let unit_secs = match unit.trim_end_matches('s') {
        "second" => 1,
        "minute" => 60,
        "hour" => 3_600,
        "day" => 86_400,
        "week" => 7 * 86_400,
        "month" => 30 * 86_400,
        "year" => 365 * 86_400,
        _ => return None,
    };
    Some(count * unit_secs)
}

/// The exit code of `Exited (137) 2 minutes ago` or `Restarting (1) 3 seconds ago`.
pub fn exit_code(status: &str) -> Option<i64> {
    let (_, after) = status.split_once(" (")?;
    after.split_once(')')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_is_read_back_from_dockers_words() {
        for (text, secs) in [
            ("Up Less than a second", Some(0)),
            ("Up 1 second", Some(1)),
            ("Up 42 seconds", Some(42)),
            ("Up About a minute", Some(60)),
            ("Up 3 minutes", Some(180)),
            ("Up About an hour", Some(3_600)),
            ("Up 2 hours (healthy)", Some(7_200)),
            ("Up 3 minutes (Paused)", Some(180)),
            ("Up 5 days", Some(5 * 86_400)),
            ("Up 3 weeks", Some(21 * 86_400)),
            ("Up 2 months", Some(60 * 86_400)),
            ("Up 2 years", Some(730 * 86_400)),
            ("Exited (0) 3 minutes ago", None),
            ("Created", None),
            ("Up for a while", None),
        ] {
            assert_eq!(up_for(text), secs, "{text}");
        }
    }

    #[test]
    fn the_exit_code_is_read_from_exited_and_restarting() {
        assert_eq!(exit_code("Exited (137) 2 minutes ago"), Some(137));
        assert_eq!(exit_code("Exited (0) Less than a second ago"), Some(0));
        assert_eq!(exit_code("Restarting (1) 3 seconds ago"), Some(1));
        assert_eq!(exit_code("Up 2 hours (healthy)"), None);
        assert_eq!(exit_code("Created"), None);
    }
}
