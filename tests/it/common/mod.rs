//! Integration-test harness, shared by every module of the `it` test binary.
//!
//! - [`agent_image`]: the local busybox agent image (built once per test process).
//! - [`Sandbox`]: a fake `$HOME`, `$JACKIN_HOME` and working directory, a unique Docker
//!   project name, and a `jackin` runner. Dropping it removes the project's containers.
//! - [`TreeSnapshot`]: bytes + metadata of a folder, to prove host folders stay unchanged.
//! - Docker helpers that go through the `docker` CLI, so tests observe the engine
//!   independently of the code under test.
//! - [`wait_until`]: poll observable state with a deadline (never fixed sleeps).
//! - [`registry::Registry`]: a loopback registry serving one local image, for real pulls.
//! - [`schema::assert_matches_schema`]: JSON output against the checked-in `schemas/` (no Docker).
//! - [`pty::Pty`]: a pseudo-terminal the test owns, for `jackin attach`/`exec` on a terminal.
//! - [`screen::Screen`]: `jackin attach` rendered by a terminal emulator (what a full-screen
//!   agent shows).
//! - [`provider::FakeProvider`]: the fake AI provider inside an agent's container (SPEC §10).

pub mod provider;
pub mod pty;
pub mod registry;
pub mod schema;
pub mod screen;
pub mod second_engine;

pub use pty::{plain, Pty};

mod docker;
mod image;
mod process;
mod proxy;
mod sandbox;
mod tree;

pub use docker::*;
pub use image::*;
pub use process::*;
pub use proxy::*;
pub use sandbox::*;
pub use tree::*;

/// How long a single `jackin` run may take before the test fails (it is killed).
use std::time::Duration;

pub const JACKIN_TIMEOUT: Duration = Duration::from_secs(180);

/// Run `f` to its end on a runtime of its own, within [`JACKIN_TIMEOUT`] (a liveness bound).
pub fn block<F: std::future::Future>(f: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        tokio::time::timeout(JACKIN_TIMEOUT, f)
            .await
            .expect("liveness bound")
    })
}
