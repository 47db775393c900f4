//! Domain types and rules. Nothing here knows about DynamoDB or HTTP.

pub mod activity;
pub mod allowed_ips;
pub mod api_key;
pub mod audit;
pub mod base62;
pub mod chat;
pub mod clock;
pub mod credential;
pub mod dataset;
pub mod delivery;
pub mod ids;
pub mod key_change;
pub mod key_metadata;
pub mod key_plan;
pub mod metering;
pub mod models;
pub mod owner_budget;
pub mod password;
pub mod pepper;
pub mod principal;
pub mod route_policy;
pub mod route_table;
pub mod scope;
pub mod secret_scanning;
pub mod standing;
pub mod team;
pub mod tenant_policy;
pub mod token;
pub mod user;
pub mod validation;
pub mod webhook;

pub use validation::Invalid;
