//! jackin: a declarative reconciler for AI coding agent containers.
//!
//! Data flows one way: `manifest` (parse, validate) → `desired` (resolve scopes, env layers,
//! provenance, spec hash) → `observed` (one snapshot of Docker, handoff dirs and ledger) →
//! `plan` (pure, sorted, serialisable) → `exec` (carries no decision logic) → `report`.
//! `watch` is a loop around the same reconcile.

pub mod agents;
pub mod error;
pub mod manifest;
pub mod naming;
