//! Folding the engine's per-layer pull messages into one progress figure per image.
//!
//! The engine streams a message per layer and state ("Pulling fs layer", "Downloading" with
//! byte counts, "Download complete", "Extracting", "Pull complete", "Already exists"). An
//! operator wants one bar: bytes downloaded of the bytes known so far, and layers done. The
//! tracker reports only when that figure moves by a visible step (a layer finished, or another
//! tenth of the bytes), so the NDJSON stream stays short whatever the image size.

use crate::runtime::PullUpdate;
use serde::Serialize;
use std::collections::BTreeMap;

/// Bytes and layers of one image's pull, as reported in `pull_progress` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, schemars::JsonSchema)]
pub struct PullProgress {
    pub layers: usize,
    pub layers_done: usize,
    pub downloaded_bytes: u64,
    /// Sum of the sizes of the layers whose size is known yet (grows as downloads start).
    pub total_bytes: u64,
}

#[derive(Debug, Default)]
struct Layer {
    current: u64,
    total: u64,
    downloaded: bool,
    done: bool,
}

#[derive(Debug, Default)]
pub struct PullTracker {
    layers: BTreeMap<String, Layer>,
    reported: Option<(usize, u64)>,
}

/// Steps of the byte count worth a report.
const STEPS: u64 = 10;

impl PullTracker {
    /// Fold one message in; the new figure when it moved by a visible step.
    pub fn update(&mut self, u: &PullUpdate) -> Option<PullProgress> {
        let id = u.layer.as_deref()?;
        let layer = match u.status.as_str() {
            "Pulling fs layer" | "Waiting" | "Downloading" | "Verifying Checksum"
            | "Download complete" | "Extracting" | "Pull complete" | "Already exists" => {
                self.layers.entry(id.to_owned()).or_default()
            }
            // Other messages carry the tag as their id ("Pulling from …"): not a layer.
            _ => return None,
        };
        match u.status.as_str() {
            "Downloading" => {
                layer.total = u.total.unwrap_or(layer.total);
                layer.current = u.current.unwrap_or(layer.current);
            }
            "Verifying Checksum" | "Download complete" | "Extracting" => layer.downloaded = true,
            "Pull complete" => (layer.downloaded, layer.done) = (true, true),
            // Nothing to download: it counts as done, with no bytes.
            "Already exists" => layer.done = true,
            _ => {}
        }
        let now = self.progress();
        let step = (now.downloaded_bytes * STEPS)
            .checked_div(now.total_bytes)
            .unwrap_or(0);
        if self.reported == Some((now.layers_done, step)) {
            return None;
        }
        self.reported = Some((now.layers_done, step));
        Some(now)
    }

    pub fn progress(&self) -> PullProgress {
        let mut p = PullProgress {
            layers: self.layers.len(),
            ..PullProgress::default()
        };
        for l in self.layers.values() {
            p.layers_done += usize::from(l.done);
            p.total_bytes += l.total;
            p.downloaded_bytes += if l.downloaded { l.total } else { l.current };
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(layer: &str, status: &str, bytes: Option<(u64, u64)>) -> PullUpdate {
        PullUpdate {
            layer: Some(layer.into()),
            status: status.into(),
            current: bytes.map(|b| b.0),
            total: bytes.map(|b| b.1),
        }
    }

    /// The message sequence the engine (20.10) sent for a two-layer pull from a loopback
    /// registry, with one "Already exists" layer added.
    #[test]
    fn a_pull_is_one_figure_that_reaches_all_bytes_and_layers() {
        let mut t = PullTracker::default();
        let stream = [
            msg("v1", "Pulling from jackin-test/agent", None),
            msg("base", "Already exists", None),
            msg("a", "Pulling fs layer", None),
            msg("b", "Pulling fs layer", None),
            msg("b", "Downloading", Some((69_386, 4_195_840))),
            msg("a", "Downloading", Some((36_618, 2_027_520))),
            msg("a", "Downloading", Some((40_000, 2_027_520))),
            msg("a", "Downloading", Some((2_027_520, 2_027_520))),
            msg("a", "Verifying Checksum", None),
            msg("a", "Download complete", None),
            msg("b", "Download complete", None),
            msg("a", "Extracting", Some((32_768, 2_027_520))),
            msg("a", "Pull complete", None),
            msg("b", "Extracting", Some((65_536, 4_195_840))),
            msg("b", "Pull complete", None),
        ];
        let reports: Vec<_> = stream.iter().filter_map(|m| t.update(m)).collect();
        let last = *reports.last().unwrap();
        assert_eq!(
            last,
            PullProgress {
                layers: 3,
                layers_done: 3,
                downloaded_bytes: 6_223_360,
                total_bytes: 6_223_360
            }
        );
        // Extraction byte counts never move the download figure backwards.
        assert!(reports
            .windows(2)
            .all(|w| w[0].downloaded_bytes <= w[1].downloaded_bytes));
        // Small moves within one tenth are not reported: fewer reports than messages.
        assert!(
            reports.len() < stream.len() - 3,
            "{} reports: {reports:?}",
            reports.len()
        );
    }

    #[test]
    fn messages_about_the_tag_are_not_layers() {
        let mut t = PullTracker::default();
        assert_eq!(t.update(&msg("v1", "Pulling from x", None)), None);
        let digest = PullUpdate {
            layer: None,
            status: "Digest: sha256:00".into(),
            current: None,
            total: None,
        };
        assert_eq!(t.update(&digest), None);
        assert_eq!(t.progress().layers, 0);
    }
}
