//! Building a function's state once per cold start, and running a router under Lambda.

use crate::config::{Config, ConfigError};
use crate::services::Services;
use crate::store::Store;

/// The state every handler shares: configuration, one DynamoDB client, caches.
pub type AppState = Services;

/// Reads the configuration and builds the DynamoDB client; the one network call is the
/// pepper's versions, read from SSM when a pepper parameter is named (README, "The pepper").
pub async fn state_from_env() -> Result<AppState, ConfigError> {
    let config = Config::from_env()?;
    let store = Store::connect(&config)?;
    Services::load(config, store).await
}

/// As [`state_from_env`], but a bad configuration ends the process with a readable message
/// (a Lambda init failure shows it in the function's log).
pub async fn state_from_env_or_exit() -> AppState {
    state_from_env().await.unwrap_or_else(|error| {
        eprintln!("keygate: {error}");
        std::process::exit(1)
    })
}

/// As [`state_from_env_or_exit`], and the route policy parsed now: for the authorizer and
/// the local server, which evaluate it on every request (a bad policy stops them at init,
/// naming the entry; the functions behind the authorizer parse it on first use).
pub async fn authorizer_state_from_env_or_exit() -> AppState {
    let state = state_from_env_or_exit().await;
    if let Err(error) = state.config.route_policy.get() {
        eprintln!("keygate: {error}");
        std::process::exit(1)
    }
    state
}

/// Logs as Lambda's `LoggingConfig` asks (`AWS_LAMBDA_LOG_FORMAT`, `AWS_LAMBDA_LOG_LEVEL`);
/// plain text at INFO when unset, as locally (see [`crate::logs`]).
pub fn init_tracing() {
    crate::logs::init_from_env();
}

/// The whole body of a function's `main`: state, then the group's router under Lambda.
pub async fn run_function(routes: fn(AppState) -> axum::Router) -> Result<(), lambda_http::Error> {
    init_tracing();
    lambda_http::run(routes(state_from_env_or_exit().await)).await
}

/// The notifier's `main`: the table's stream batches (Lambda's DynamoDB event source, with
/// partial batch failures reported) and the schedule's sweeps of due deliveries.
pub async fn run_notifier() -> Result<(), lambda_http::Error> {
    use lambda_http::lambda_runtime::{LambdaEvent, run, service_fn};
    init_tracing();
    let services = state_from_env_or_exit().await;
    run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let services = services.clone();
        async move {
            let answer = if event.payload.get("Records").is_some() {
                let failed = services.notify_from_stream(&event.payload).await;
                let failures: Vec<_> = failed
                    .into_iter()
                    .map(|sequence_number| serde_json::json!({ "itemIdentifier": sequence_number }))
                    .collect();
                serde_json::json!({ "batchItemFailures": failures })
            } else {
                let sent = services.deliver_due().await?;
                serde_json::json!({ "taken": sent })
            };
            Ok::<_, lambda_http::Error>(answer)
        }
    }))
    .await
}
