//! keygate's own API over HTTP against the DynamoDB emulator (run with scripts/test).

mod activity;
mod api_keys;
mod audit;
mod auth;
mod authorizer;
mod bounds;
mod chats;
mod dashboard;
mod datasets;
mod error_shapes;
mod errors;
mod escalation;
mod events;
mod faults;
mod metering;
mod openapi;
mod policy;
mod rights;
mod roll;
mod secret_scanning;
mod sessions;
mod sign_in_work;
mod surfaces;
mod tls;
mod users;
mod verify;
