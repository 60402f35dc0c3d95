//! jackin's integration tests, one binary: one link instead of one per file, the test images
//! built once per run, and the shared harness (`common`) compiled once. One module per area
//! of behaviour, each against the real Docker engine unless its doc says otherwise; run one
//! with `cargo test --test it hostile::`.

mod common;

mod admin;
mod agents;
mod bad_input;
mod console;
mod examples;
mod handoff_props;
mod handoff_rules;
mod hostile;
mod hosts;
mod kimi_apply;
mod lifecycle;
mod own_files;
mod plan_snapshots;
mod real_claude;
mod real_codex;
mod real_kimi;
mod remote_handoff;
mod secrets_and_host;
mod session;
mod shared_logins;
mod watch;
