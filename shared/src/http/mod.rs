//! HTTP plumbing for keygate's own API: request parsing, caller resolution, error mapping.

pub mod access_log;
pub mod bare_errors;
pub mod caller;
pub mod client_info;
pub mod credentials;
pub mod cursor;
pub mod json;
pub mod metering;
pub mod problem;
pub(crate) mod views;

pub use caller::{AnyCaller, Caller};
pub use client_info::Client;
pub use json::{JsonBody, QueryParams};
pub use problem::Problem;
