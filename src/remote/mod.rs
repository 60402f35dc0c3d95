//! The handoff on an engine that is not on this machine (SPEC v3 §9, issue 18): no local path
//! is mounted there, so each instance × agent gets a labelled Docker volume mounted at the
//! agent's target, and jackin puts, reads and removes files through the engine API.
//!
//! `apply` reaches it through [`crate::runtime::Engine`]'s `handoff_*` calls: observe reads each
//! managed path, the executor puts, replaces and removes.
//!
//! # What this relies on from the engine's archive endpoints (checked on 20.10.24, API 1.41)
//! - `PUT /containers/{id}/archive?path=DIR` resolves `DIR` inside the container (symlinks are
//!   followed *in the container's scope*, never on the engine's host) and extracts the tar
//!   chrooted into the container's root (since 18.09.7 / 19.03.1: the fix of CVE-2018-15664,
//!   moby#39292). Before it creates an entry it removes whatever non-directory is at that name:
//!   a link planted there is *replaced*, not written through; an entry with `..` is refused.
//! - `GET /containers/{id}/archive?path=P` lstats `P` (a final link is not followed) and streams
//!   a tar whose first real header is that lstat: type, size, mode, uid, gid. The same facts
//!   are in the `X-Docker-Container-Path-Stat` header, which bollard 0.19 does not expose, so
//!   [`read`] trusts the tar header and stops reading at the first refused header.
//! - Both work on a created (never started) container: the engine mounts its volumes for the
//!   copy. Neither can rename or delete; those need a running container (an exec of `mv`/`rm`).
//!
//! Advisories on these endpoints: CVE-2018-15664 (symlink-exchange race in `docker cp`, host
//! read/write; fixed 18.09.7 / 19.03.1), CVE-2019-14271 (`docker cp` loaded the container's
//! `libnss` into the engine; fixed 19.03.1). `doctor` should warn below 19.03.1.

mod archive;
mod handoff;
mod volume;

pub use archive::{Found, Header};
pub use handoff::RemoteHandoff;
pub use volume::{create_volume, list_volumes, remove_volume, VolumeLabels};

use crate::error::{Code, Coded};

/// What went wrong on the remote side.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// An engine call failed (unreachable, 404 on the container, 500 …).
    #[error("{op}: {detail}")]
    Api { op: String, detail: String },
    /// A managed path holds something jackin will not read or write through.
    #[error("{path} in container {container} is {what}: left alone")]
    Refused {
        container: String,
        path: String,
        what: String,
    },
    /// The engine's tar could not be parsed, or an exec to rename/remove failed.
    #[error("{op}: {detail}")]
    Protocol { op: String, detail: String },
    /// A volume that is not jackin's (or not this project's) was asked to be removed.
    #[error("volume {0} is not labelled as this project's: left alone")]
    NotOurs(String),
}

impl Coded for RemoteError {
    fn code(&self) -> Code {
        match self {
            RemoteError::Api { .. } | RemoteError::NotOurs(_) => Code::E021,
            RemoteError::Refused { .. } | RemoteError::Protocol { .. } => Code::E042,
        }
    }
    fn hint(&self) -> Option<String> {
        match self {
            RemoteError::Refused { .. } => Some("jackin never writes through a link or into a directory it did not make: remove that entry inside the container (`jackin exec WORKSPACE/ROLE -- rm -rf PATH`) and rerun apply".into()),
            RemoteError::Protocol { .. } => Some("jackin replaces and removes files in a volume with the image's own `mv` and `rm` (coreutils or busybox), run as the container's user: check that the image has them".into()),
            RemoteError::Api { .. } | RemoteError::NotOurs(_) => None,
        }
    }
}

fn api(op: impl Into<String>, e: &bollard::errors::Error) -> RemoteError {
    RemoteError::Api {
        op: op.into(),
        detail: e.to_string(),
    }
}
