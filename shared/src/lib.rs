//! keygate's common crate.
//!
//! Layers, each ignorant of the ones above it:
//! - [`domain`]: what keys, tokens and users are, and their rules (no AWS, no HTTP);
//! - [`store`]: the single-table DynamoDB mapping (the only place that knows keys and expressions);
//! - [`services`]: the use cases, written once and called by every API surface;
//! - [`http`] and [`routes`]: keygate's own HTTP API on axum;
//! - [`dialects`]: other platforms' API surfaces, translated onto the services;
//! - [`authorizer`]: the API Gateway Lambda authorizer.

pub mod app;
pub mod authorizer;
pub mod config;
pub mod dialects;
pub mod domain;
pub mod http;
pub mod logs;
pub mod metrics;
pub mod routes;
pub mod services;
pub mod store;

pub use app::{AppState, init_tracing};
pub use config::Config;
