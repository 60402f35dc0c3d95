//! The canonical container spec, its versioned hash, and "what changed" between two specs.
//!
//! The summary is stored on the container as the `jackin.spec` label and hashed into
//! `jackin.spec-hash` (`v1:sha256:…`). Env values enter it only as keyed fingerprints, so the
//! label can explain a recreate ("env KIMI_API_KEY changed") without holding a secret, while
//! a rotated key still changes the hash. Bump [`HASH_VERSION`] when the canonical form changes.

use super::{InstanceSpec, MountSpec};
use crate::fingerprint::{sha256_hex, Fingerprinter};
use crate::words::Owner;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const HASH_VERSION: &str = "v1";

/// The labels jackin puts on a container: ownership (`managed` + `project`) and the spec it
/// was created from. Written by the executor, read back by observe.

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

    /// Why a container built from `self` must be recreated to become `new`, old → new.
    /// Values of env vars are never part of it.
    pub fn diff(&self, new: &SpecSummary) -> Vec<SpecChange> {
        let mut out = Vec::new();
        let or = |v: &Option<String>, default: &str| v.clone().unwrap_or_else(|| default.into());
        if self.image != new.image {
            out.push(SpecChange::Image {
                from: self.image.clone(),
                to: new.image.clone(),
            });
        } else if self.image_id != new.image_id {
            out.push(SpecChange::ImageId {
                image: new.image.clone(),
            });
        }
        if self.command != new.command {
            out.push(SpecChange::Command {
                from: self.command.join(" "),
                to: new.command.join(" "),
            });
        }
        env_changes(&self.env, &new.env, &mut out);
        if self.mounts != new.mounts {
            let dsts = |a: &[MountSpec], b: &[MountSpec]| {
                a.iter()
                    .filter(|m| !b.contains(m))
                    .map(|m| m.dst.clone())
                    .collect()
            };
            out.push(SpecChange::Mounts {
                removed: dsts(&self.mounts, &new.mounts),
                added: dsts(&new.mounts, &self.mounts),
            });
        }
        if self.workdir != new.workdir {
            out.push(SpecChange::Workdir {
                from: or(&self.workdir, "(image default)"),
                to: or(&new.workdir, "(image default)"),
            });
        }
        if self.user != new.user {
            out.push(SpecChange::User {
                from: or(&self.user, "(image default)"),
                to: or(&new.user, "(image default)"),
            });
        }
        if self.owner != new.owner {
            out.push(SpecChange::RunsAs {
                from: or(&self.owner, "(unrecorded)"),
                to: or(&new.owner, "(unknown)"),
            });
        }
        if out.is_empty() {
            out.push(SpecChange::Unexplained);
        }
        out
    }
}

/// The env vars added, removed and changed from `old` to `new`: their names only (the
/// values are fingerprints, and a change says which, never what).
fn env_changes(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
    out: &mut Vec<SpecChange>,
) {
    let names = |f: &dyn Fn(&String) -> bool, m: &BTreeMap<String, String>| {
        m.keys().filter(|k| f(k)).cloned().collect::<Vec<_>>()
    };
    let added = names(&|k| !old.contains_key(k), new);
    let removed = names(&|k| !new.contains_key(k), old);
    let changed = names(&|k| old.get(k).is_some_and(|v| Some(v) != new.get(k)), old);
    for (what, names) in [("added", added), ("removed", removed), ("changed", changed)] {
        if !names.is_empty() {
            out.push(SpecChange::Env { what, names });
        }
    }
}

/// One reason a container is recreated. It travels as its sentence (JSON too), which names
/// env vars but never holds their values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecChange {
    Image {
        from: String,
        to: String,
    },
    ImageId {
        image: String,
    },
    /// The image is not on the engine any more (it is pulled or built again).
    ImageAbsent {
        image: String,
    },
    Command {
        from: String,
        to: String,
    },
    Env {
        what: &'static str,
        names: Vec<String>,
    },
    Mounts {
        removed: Vec<String>,
        added: Vec<String>,
    },
    Workdir {
        from: String,
        to: String,
    },
    User {
        from: String,
        to: String,
    },
    RunsAs {
        from: String,
        to: String,
    },
    /// The container carries no spec label (made by an older jackin or by hand).
    NoLabel,
    /// The hash differs but no field does (a change in the canonical form itself).
    Unexplained,
}

impl std::fmt::Display for SpecChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpecChange::Image { from, to } => write!(f, "image {from} → {to}"),
            SpecChange::ImageId { image } => write!(f, "image {image} now has a different ID"),
            SpecChange::ImageAbsent { image } => write!(f, "image {image} is not present locally"),
            SpecChange::Command { from, to } => write!(f, "command `{from}` → `{to}`"),
            SpecChange::Env { what, names } => write!(f, "env {what}: {}", names.join(", ")),
            SpecChange::Mounts { removed, added } => write!(
                f,
                "mounts changed (removed: [{}], added: [{}])",
                removed.join(", "),
                added.join(", ")
            ),
            SpecChange::Workdir { from, to } => write!(f, "workdir {from} → {to}"),
            SpecChange::User { from, to } => write!(f, "user {from} → {to}"),
            SpecChange::RunsAs { from, to } => write!(f, "runs as {from} → {to}"),
            SpecChange::NoLabel => f.write_str("container has no jackin spec label"),
            SpecChange::Unexplained => f.write_str("container spec changed"),
        }
    }
}

impl Serialize for SpecChange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl schemars::JsonSchema for SpecChange {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SpecChange".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "One reason for a recreate, as a sentence; names env vars, never their values."
        })
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
            volume: false,
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
        let why: Vec<String> = old.diff(&new).iter().map(ToString::to_string).collect();
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
