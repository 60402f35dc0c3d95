//! jackin: a declarative reconciler for AI coding agent containers.
//!
//! Data flows one way: `manifest` (parse, validate) → `desired` (resolve scopes, env layers,
//! provenance, spec hash) → `observed` (one snapshot of Docker, handoff dirs and ledger) →
//! `plan` (pure, sorted, serialisable) → `exec` (carries no decision logic) → `report`.
//! `reconcile` strings them together for `plan` and `apply`; `watch` loops around it. Shared
//! words (`words`: `RelPath`, `Kind`, `Owner`) and capped reads (`bounded`) sit below them all;
//! `scripts/module-cycles.py` keeps the dependencies one way.

pub mod agents;
pub mod bounded;
pub mod cli;
pub mod commands;
pub mod desired;
pub mod error;
pub mod exec;
pub mod fingerprint;
pub mod handoff;
pub mod ledger;
pub mod lock;
pub mod manifest;
pub mod naming;
pub mod observed;
pub mod paths;
pub mod plan;
pub mod reconcile;
pub mod redact;
pub mod remote;
pub mod report;
pub mod runtime;
pub mod schema;
pub mod session;
pub mod watch;
pub mod words;
