//! The single-table DynamoDB store: the only code that knows key strings and expressions.
//! One module per aggregate; see README.md, "Table design".

mod item;
pub mod keys;

pub mod api_keys;
pub mod audit;
pub mod chats;
pub mod datasets;
pub mod deliveries;
pub mod erasure;
mod https;
pub mod logins;
pub mod meter;
pub mod offboarding;
pub mod owner_budgets;
mod peppers;
pub mod prompt_logs;
pub mod schema;
pub mod stream;
pub mod teams;
pub mod tenant_policies;
pub mod tenants;
pub mod tokens;
mod transaction;
mod trust;
pub mod users;
pub mod webhooks;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{
    Credentials, Region, SharedCredentialsProvider, StalledStreamProtectionConfig,
    timeout::TimeoutConfig,
};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};
use std::collections::HashMap;
use std::time::Duration;

use crate::config::{Config, ConfigError};

/// DynamoDB did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// It did not answer, failed, or asked to slow down: nothing was done and the client
    /// may retry (503 with `Retry-After`).
    #[error("DynamoDB is unavailable: {0}")]
    Unavailable(String),
    /// It refused the request itself (a ValidationException, a denied permission ...):
    /// keygate sent something it should not have, and a retry would fail again (500).
    #[error("DynamoDB refused the request: {0}")]
    Refused(String),
    #[error("a stored item is malformed: {0}")]
    Corrupt(String),
}

/// Client-side (4xx) error codes that depend on the moment, not on the request: throttling,
/// contention, a table not (yet) there, rotating credentials. Every other 4xx is a refusal.
const RETRYABLE_CODES: [&str; 14] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestLimitExceeded",
    "LimitExceededException",
    "TransactionConflictException",
    "TransactionInProgressException",
    "ConditionalCheckFailedException",
    "ResourceNotFoundException",
    "ExpiredTokenException",
    "RequestTimeoutException",
];

/// Every failed DynamoDB call passes here: it is counted (`StoreFailures` by operation) and
/// described by its error chain's messages, never its `Debug` form, which can hold the items
/// (a failed condition may return the old item, hash included).
impl<E> From<aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>>
    for StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    fn from(
        error: aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    ) -> Self {
        let operation = crate::metrics::operation_of::<E>();
        crate::metrics::store_failure(operation);
        let mut described = format!("{operation}: {error}");
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            described.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        if is_refusal(&error) {
            Self::Refused(described)
        } else {
            Self::Unavailable(described)
        }
    }
}

/// Whether DynamoDB (or the SDK, before sending) refused the request itself, so that
/// retrying it cannot help. Timeouts, dispatch failures, 5xx and throttling are not.
fn is_refusal<E>(
    error: &aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + 'static,
{
    use aws_sdk_dynamodb::error::SdkError;
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match error {
        SdkError::ConstructionFailure(_) => true,
        SdkError::ServiceError(service) => {
            if !service.raw().status().is_client_error() {
                return false;
            }
            // A cancelled transaction is a refusal only when one of its items was invalid;
            // conditions, conflicts and throttling may pass on a retry.
            let any: &dyn std::any::Any = service.err();
            if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
                any.downcast_ref::<TransactWriteItemsError>()
            {
                return cancelled
                    .cancellation_reasons()
                    .iter()
                    .any(|reason| reason.code() == Some("ValidationError"));
            }
            !service
                .err()
                .code()
                .is_some_and(|code| RETRYABLE_CODES.contains(&code))
        }
        _ => false,
    }
}

/// The DynamoDB client every function builds at init (and `benches/hello-sdk` measures).
/// Credentials come from the Lambda environment (no profile files, no instance metadata
/// probing); against an emulator without credentials in the environment, static dummy ones
/// are used. TLS trusts the embedded Amazon roots, or `KEYGATE_TLS_CA_FILE` (the only error:
/// that file is bad).
pub fn dynamodb_client(
    region: &str,
    endpoint: Option<&str>,
    tls_ca_file: Option<&std::path::Path>,
    attempt_timeout: Duration,
) -> Result<Client, ConfigError> {
    let http_client = https::https_client(trust::trust_store(tls_ca_file)?);
    let mut builder = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .http_client(http_client)
        // Stalled-stream protection watches a body's throughput on every poll, for large
        // downloads; keygate's calls are small and each attempt has a timeout already.
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(attempt_timeout)
                .operation_timeout(attempt_timeout * 2 + Duration::from_secs(2))
                .build(),
        );
    builder.set_credentials_provider(Some(credentials(endpoint)));
    if let Some(endpoint) = endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    Ok(Client::from_conf(builder.build()))
}

/// Credentials from the Lambda environment; against an emulator without credentials in the
/// environment, static dummy ones.
fn credentials(endpoint: Option<&str>) -> SharedCredentialsProvider {
    let env_has_credentials = std::env::var_os("AWS_ACCESS_KEY_ID").is_some();
    if env_has_credentials || endpoint.is_none() {
        SharedCredentialsProvider::new(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        )
    } else {
        SharedCredentialsProvider::new(Credentials::new(
            "local",
            "local",
            None,
            None,
            "keygate-emulator",
        ))
    }
}

/// A handle on the table; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Builds the DynamoDB client once per cold start (see [`dynamodb_client`]).
    pub fn connect(config: &Config) -> Result<Self, ConfigError> {
        let client = dynamodb_client(
            &config.region,
            config.dynamodb_endpoint.as_deref(),
            config.tls_ca_file.as_deref(),
            config.dynamodb_attempt_timeout,
        )?;
        Ok(Self::new(client, &config.table_name))
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// A transactional Put of `item` guarded by `condition`.
    pub(crate) fn put_if(&self, item: item::Item, condition: &str) -> TransactWriteItem {
        self.put_where(item, Some(condition), item::Item::new())
    }

    /// A transactional Put of `item` guarded by `condition`, which reads `values`.
    pub(crate) fn put_if_values(
        &self,
        item: item::Item,
        condition: &str,
        values: item::Item,
    ) -> TransactWriteItem {
        self.put_where(item, Some(condition), values)
    }

    /// A transactional unconditional Put of `item`.
    pub(crate) fn put(&self, item: item::Item) -> TransactWriteItem {
        self.put_where(item, None, item::Item::new())
    }

    fn put_where(
        &self,
        item: item::Item,
        condition: Option<&str>,
        values: item::Item,
    ) -> TransactWriteItem {
        TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .set_condition_expression(condition.map(str::to_owned))
                    .set_expression_attribute_values((!values.is_empty()).then_some(values))
                    .build()
                    .expect("table and item are set"),
            )
            .build()
    }

    /// A transactional Update of the item at `key`.
    pub(crate) fn update_if(
        &self,
        key: item::Item,
        expression: &str,
        condition: &str,
        values: item::Item,
    ) -> TransactWriteItem {
        self.update_item(key, expression, Some(condition), HashMap::new(), values)
    }

    /// A transactional Update of the item at `key`, whatever its current state.
    pub(crate) fn update(
        &self,
        key: item::Item,
        expression: &str,
        values: item::Item,
    ) -> TransactWriteItem {
        self.update_item(key, expression, None, HashMap::new(), values)
    }

    /// A transactional Update, whatever the item's state, whose expressions name attributes
    /// through `#placeholders`.
    pub(crate) fn update_named(
        &self,
        key: item::Item,
        expression: &str,
        names: HashMap<String, String>,
        values: item::Item,
    ) -> TransactWriteItem {
        self.update_item(key, expression, None, names, values)
    }

    /// A transactional Update whose expressions name attributes through `#placeholders`
    /// (map keys such as user ids cannot appear in an expression literally).
    pub(crate) fn update_named_if(
        &self,
        key: item::Item,
        expression: &str,
        condition: &str,
        names: HashMap<String, String>,
        values: item::Item,
    ) -> TransactWriteItem {
        self.update_item(key, expression, Some(condition), names, values)
    }

    fn update_item(
        &self,
        key: item::Item,
        expression: &str,
        condition: Option<&str>,
        names: HashMap<String, String>,
        values: item::Item,
    ) -> TransactWriteItem {
        TransactWriteItem::builder()
            .update(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key))
                    .update_expression(expression)
                    .set_condition_expression(condition.map(str::to_owned))
                    .set_expression_attribute_names((!names.is_empty()).then_some(names))
                    .set_expression_attribute_values((!values.is_empty()).then_some(values))
                    .build()
                    .expect("table, key and expression are set"),
            )
            .build()
    }

    /// A transactional Delete of the item at `key`, whatever it holds.
    pub(crate) fn delete_at(&self, key: item::Item) -> TransactWriteItem {
        self.delete_if(key, None, HashMap::new(), item::Item::new())
    }

    /// A transactional Delete of the item at `key`, guarded by `condition` when given.
    pub(crate) fn delete_if(
        &self,
        key: item::Item,
        condition: Option<&str>,
        names: HashMap<String, String>,
        values: item::Item,
    ) -> TransactWriteItem {
        TransactWriteItem::builder()
            .delete(
                Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key))
                    .set_condition_expression(condition.map(str::to_owned))
                    .set_expression_attribute_names((!names.is_empty()).then_some(names))
                    .set_expression_attribute_values((!values.is_empty()).then_some(values))
                    .build()
                    .expect("table and key are set"),
            )
            .build()
    }
}

impl Store {
    /// Sends a batch write, re-sending what DynamoDB left unprocessed a few times.
    pub(crate) async fn batch_write(
        &self,
        mut requests: Vec<aws_sdk_dynamodb::types::WriteRequest>,
    ) -> Result<(), StoreError> {
        for _ in 0..5 {
            let output = self
                .client
                .batch_write_item()
                .request_items(&self.table, requests)
                .send()
                .await?;
            requests = output
                .unprocessed_items
                .and_then(|mut rest| rest.remove(&self.table))
                .unwrap_or_default();
            if requests.is_empty() {
                return Ok(());
            }
        }
        Err(StoreError::Unavailable(
            "BatchWriteItem left items unprocessed".into(),
        ))
    }

    /// The item at `key`, if any; `consistent` asks for a strongly consistent read.
    pub(crate) async fn get(
        &self,
        key: item::Item,
        consistent: bool,
    ) -> Result<Option<item::Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(consistent)
            .send()
            .await?;
        Ok(output.item)
    }

    /// The items at `keys` (distinct), read strongly consistent in one BatchGetItem; keys
    /// DynamoDB leaves unprocessed (throttling) are asked for again, up to twice more, and
    /// then the read fails as unavailable (503): a missing item always means "not there",
    /// never "not read".
    pub(crate) async fn get_consistent_batch(
        &self,
        keys: Vec<item::Item>,
    ) -> Result<Vec<item::Item>, StoreError> {
        let mut pending = Some(
            aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                .consistent_read(true)
                .set_keys(Some(keys))
                .build()
                .expect("keys are set"),
        );
        let mut found = Vec::new();
        for _ in 0..3 {
            let Some(request) = pending.take() else { break };
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await?;
            if let Some(mut responses) = output.responses {
                found.extend(responses.remove(&self.table).unwrap_or_default());
            }
            pending = output
                .unprocessed_keys
                .and_then(|mut unprocessed| unprocessed.remove(&self.table))
                .filter(|rest| !rest.keys().is_empty());
        }
        if pending.is_some() {
            return Err(StoreError::Unavailable(
                "BatchGetItem left keys unprocessed".into(),
            ));
        }
        Ok(found)
    }

    /// The items `query` finds, page after page, until its key range ends or, given `max`,
    /// `max` items are read (each page then asks only for what is still missing). A Query
    /// stops at 1 MB, so large items may take more pages than their count suggests.
    pub(crate) async fn query_pages(
        &self,
        query: QueryFluentBuilder,
        max: Option<usize>,
    ) -> Result<Vec<item::Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<item::Item> = None;
        loop {
            let mut page = query.clone().set_exclusive_start_key(start);
            if let Some(max) = max {
                if items.len() >= max {
                    return Ok(items);
                }
                page = page.limit((max - items.len()).min(i32::MAX as usize) as i32);
            }
            let output = page.send().await?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// A single conditional UpdateItem; false when the condition failed.
    pub(crate) async fn update_where(
        &self,
        key: item::Item,
        expression: &str,
        condition: &str,
        values: item::Item,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(expression)
            .condition_expression(condition)
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .send()
            .await;
        condition_held(result)
    }
}

/// The outcome of a conditional write: `Ok(true)` when it happened, `Ok(false)` when its
/// condition did not hold, an error when DynamoDB failed.
pub(crate) fn condition_held<O, E>(
    result: Result<
        O,
        aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    >,
) -> Result<bool, StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(error)
            if error.as_service_error().and_then(|e| e.code())
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(error) => Err(error.into()),
    }
}

/// The primary key of an item.
pub(crate) fn primary_key(pk: String, sk: impl Into<String>) -> item::Item {
    item::Item::from([
        (keys::PK.to_owned(), item::s(pk)),
        (keys::SK.to_owned(), item::s(sk)),
    ])
}

pub(crate) type TransactError = aws_sdk_dynamodb::error::SdkError<
    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
    aws_sdk_dynamodb::config::http::HttpResponse,
>;

/// The per-item reason codes of a cancelled transaction (empty for any other error).
fn cancellation_codes(error: &TransactError) -> Vec<Option<&str>> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => cancelled
            .cancellation_reasons()
            .iter()
            .map(|reason| reason.code())
            .collect(),
        _ => Vec::new(),
    }
}

/// True when a transaction was cancelled because condition number `index` failed.
pub(crate) fn condition_failed_at(error: &TransactError, index: usize) -> bool {
    cancellation_codes(error).get(index) == Some(&Some("ConditionalCheckFailed"))
}

/// True when any condition of a cancelled transaction failed.
pub(crate) fn any_condition_failed(error: &TransactError) -> bool {
    cancellation_codes(error).contains(&Some("ConditionalCheckFailed"))
}

/// True when a transaction was cancelled because a condition failed or another transaction
/// touched the same items meanwhile: either way, re-reading and trying again may succeed.
pub(crate) fn lost_a_race(error: &TransactError) -> bool {
    cancellation_codes(error)
        .iter()
        .any(|code| matches!(code, Some("ConditionalCheckFailed" | "TransactionConflict")))
}
