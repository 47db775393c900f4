//! keygate's common crate.
//!
//! Layers, lowest first, each ignorant of the ones above it (`tests/layering.rs` holds the
//! same table and fails on any import that points up, or sideways between peers):
//! - [`domain`]: what keys, tokens, users and routes are, and their rules (no AWS, no HTTP);
//!   the read models every surface renders and the authorizer context's contract live here;
//! - [`config`] and [`metrics`] (EMF records), then [`logs`] (the log line's shape);
//! - [`store`]: the single-table DynamoDB mapping (the only place that knows keys and expressions),
//!   and its peer [`outbound`]: one webhook POST to an address already checked;
//! - [`services`]: the use cases, written once and called by every API surface;
//! - [`http`]: HTTP plumbing every surface shares (extractors, caller resolution,
//!   problem+json, the shared views);
//! - [`dialects`]: other platforms' API surfaces, translated onto the services;
//! - [`routes`] (keygate's own API on axum, and each function's router, which merges the
//!   dialects') and [`authorizer`] (the API Gateway Lambda authorizer), peers;
//! - [`app`]: a function's state, built once per cold start, and its router under Lambda.

pub mod app;
pub mod authorizer;
pub mod config;
pub mod dialects;
pub mod domain;
pub mod http;
pub mod logs;
pub mod metrics;
pub mod outbound;
pub mod routes;
pub mod services;
pub mod store;

pub use app::{AppState, init_tracing};
pub use config::Config;
