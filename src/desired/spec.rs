//! The canonical container spec, its versioned hash, and "what changed" between two specs.
//!
//! The summary is stored on the container as the `jackin.spec` label and hashed into
//! `jackin.spec-hash` (`v1:sha256:…`). Env values enter it only as keyed fingerprints, so the
//! label can explain a recreate ("env KIMI_API_KEY changed") without holding a secret, while
//! a rotated key still changes the hash. Bump [`HASH_VERSION`] when the canonical form changes.

use super::{InstanceSpec, MountSpec};
use crate::fingerprint::{sha256_hex, Fingerprinter};
use crate::handoff::Owner;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const HASH_VERSION: &str = "v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecSummary {
    pub image: String,
    pub image_id: String,
    pub command: Vec<String>,
    /// Env name → keyed fingerprint of its value.
    pub env: BTreeMap<String, String>,
    /// Sorted by dst; includes the handoff mounts.
    pub mounts: Vec<MountSpec>,
    pub workdir: Option<String>,
    /// Docker's `User` (`None`: the image's own).
    pub user: Option<String>,
    /// The uid:gid the container runs as, resolved, so also the handoff's owner (absent in
    /// labels written before v2).
    #[serde(default)]
    pub owner: Option<String>,
}

impl SpecSummary {
    /// `host` is jackin's own uid:gid (what `user = "host"` means); `owner` the resolved
    /// uid:gid the container runs as, when known.
    pub fn new(
        spec: &InstanceSpec,
        image: &str,
        image_id: &str,
        host: Owner,
        owner: Option<Owner>,
        fp: &Fingerprinter,
    ) -> Self {
        let mut mounts = spec.mounts.clone();
        mounts.sort_by(|a, b| a.dst.cmp(&b.dst));
        SpecSummary {
            image: image.to_owned(),
            image_id: image_id.to_owned(),
            command: spec.command.clone(),
            env: spec
                .env
                .iter()
                .map(|(k, v)| (k.clone(), fp.of(v.value.expose().as_bytes())))
                .collect(),
            mounts,
            workdir: spec.workdir.clone(),
            user: spec.user.docker_user(host),
            owner: owner.map(|o| format!("{}:{}", o.uid, o.gid)),
        }
    }

    /// The owner recorded in a label, when there is one.
    pub fn owner(&self) -> Option<Owner> {
        let (uid, gid) = self.owner.as_deref()?.split_once(':')?;
        Some(Owner {
            uid: uid.parse().ok()?,
            gid: gid.parse().ok()?,
        })
    }

    /// Canonical JSON: struct field order and BTreeMap keys make it deterministic.
    pub fn to_label(&self) -> String {
        serde_json::to_string(self).expect("summary serialises")
    }

    pub fn from_label(s: &str) -> Option<Self> {
        serde_json::from_str(s).ok()
    }

    pub fn hash(&self) -> String {
        format!(
            "{HASH_VERSION}:sha256:{}",
            sha256_hex(self.to_label().as_bytes())
        )
    }

    /// Human reasons for a recreate, old → new. Values of env vars are never shown.
    pub fn diff(&self, new: &SpecSummary) -> Vec<String> {
        let mut out = Vec::new();
        if self.image != new.image {
            out.push(format!("image {} → {}", self.image, new.image));
        } else if self.image_id != new.image_id {
            out.push(format!("image {} now has a different ID", new.image));
        }
        if self.command != new.command {
            out.push(format!(
                "command `{}` → `{}`",
                self.command.join(" "),
                new.command.join(" ")
            ));
        }
        let names = |f: &dyn Fn(&String) -> bool, m: &BTreeMap<String, String>| {
            m.keys().filter(|k| f(k)).cloned().collect::<Vec<_>>()
        };
        let added = names(&|k| !self.env.contains_key(k), &new.env);
        let removed = names(&|k| !new.env.contains_key(k), &self.env);
        let changed = names(
            &|k| self.env.get(k).is_some_and(|v| Some(v) != new.env.get(k)),
            &self.env,
        );
        for (what, list) in [("added", added), ("removed", removed), ("changed", changed)] {
            if !list.is_empty() {
                out.push(format!("env {what}: {}", list.join(", ")));
            }
        }
        if self.mounts != new.mounts {
            let gone: Vec<_> = self
                .mounts
                .iter()
                .filter(|m| !new.mounts.contains(m))
                .collect();
            let came: Vec<_> = new
                .mounts
                .iter()
                .filter(|m| !self.mounts.contains(m))
                .collect();
            let show = |v: Vec<&MountSpec>| {
                v.iter()
                    .map(|m| m.dst.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            out.push(format!(
                "mounts changed (removed: [{}], added: [{}])",
                show(gone),
                show(came)
            ));
        }
        if self.workdir != new.workdir {
            out.push(format!(
                "workdir {} → {}",
                self.workdir.as_deref().unwrap_or("(image default)"),
                new.workdir.as_deref().unwrap_or("(image default)")
            ));
        }
        if self.user != new.user {
            out.push(format!(
                "user {} → {}",
                self.user.as_deref().unwrap_or("(image default)"),
                new.user.as_deref().unwrap_or("(image default)")
            ));
        }
        if self.owner != new.owner {
            out.push(format!(
                "runs as {} → {}",
                self.owner.as_deref().unwrap_or("(unrecorded)"),
                new.owner.as_deref().unwrap_or("(unknown)")
            ));
        }
        if out.is_empty() {
            out.push("container spec changed".into());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(src: &str, dst: &str, readonly: bool) -> MountSpec {
        MountSpec {
            src: src.into(),
            dst: dst.into(),
            readonly,
        }
    }

    fn summary() -> SpecSummary {
        SpecSummary {
            image: "img:1".into(),
            image_id: "sha256:aaa".into(),
            command: vec!["kimi".into(), "--yolo".into()],
            env: BTreeMap::from([("A".into(), "hmac:1".into()), ("B".into(), "hmac:2".into())]),
            mounts: vec![mount("/h/kimi", "/home/agent/.kimi", false)],
            workdir: None,
            user: None,
            owner: Some("1000:1000".into()),
        }
    }

    #[test]
    fn identical_summaries_hash_identically_and_versioned() {
        assert_eq!(summary().hash(), summary().hash());
        assert!(summary().hash().starts_with("v1:sha256:"));
    }

    #[test]
    fn diff_names_what_changed_without_values() {
        let old = summary();
        let mut new = summary();
        new.command.extend(["--model".into(), "k2".into()]);
        new.env.insert("B".into(), "hmac:3".into());
        new.env.insert("C".into(), "hmac:4".into());
        new.mounts.push(mount("/src", "/workspace", true));
        let why = old.diff(&new);
        assert_eq!(
            why,
            vec![
                "command `kimi --yolo` → `kimi --yolo --model k2`",
                "env added: C",
                "env changed: B",
                "mounts changed (removed: [], added: [/workspace])",
            ]
        );
        assert_ne!(old.hash(), new.hash());
    }
}
