//! keygate's own API over HTTP against the DynamoDB emulator (run with scripts/test).

mod api_keys;
mod auth;
mod authorizer;
mod errors;
mod sessions;
mod surfaces;
mod users;
