//! `/v1/webhooks`: where a tenant's events are delivered (tenant admins with the `admin`
//! scope). The signing secret is in the answer only when it is made: at creation and at
//! `rotate-secret`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::views;
use crate::domain::clock::{now_epoch, to_rfc3339};
use crate::domain::delivery::Delivery;
use crate::domain::validation::bounded_limit;
use crate::domain::webhook::{Endpoint, EndpointInput, EndpointPatch};
use crate::http::{Caller, JsonBody, Problem, QueryParams, cursor};
use crate::services::webhooks::WithSecret;
use crate::services::{Error, Services};

pub fn routes() -> Router<Services> {
    Router::new()
        .route("/v1/webhooks", post(create).get(list))
        .route(
            "/v1/webhooks/{webhook_id}",
            get(read).patch(update).delete(remove),
        )
        .route(
            "/v1/webhooks/{webhook_id}/rotate-secret",
            post(rotate_secret),
        )
        .route("/v1/webhooks/{webhook_id}/test", post(send_test))
        .route("/v1/webhooks/{webhook_id}/deliveries", get(list_deliveries))
        .route(
            "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
            post(retry_delivery),
        )
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WebhookCreate)]
pub(super) struct CreateBody {
    /// `https://…` (plain `http://` to loopback only where the deployment allows it for
    /// development); every address its host resolves to must be public.
    #[schema(max_length = 2048)]
    url: String,
    /// The event types to deliver (absent or empty: every type).
    event_types: Option<Vec<String>>,
    #[schema(max_length = 256)]
    description: Option<String>,
    /// Default true.
    enabled: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WebhookUpdate)]
pub(super) struct UpdateBody {
    #[schema(max_length = 2048)]
    url: Option<String>,
    /// `[]`: every type.
    event_types: Option<Vec<String>>,
    #[schema(max_length = 256)]
    description: Option<String>,
    enabled: Option<bool>,
}

/// A webhook endpoint. `secret` (`whsec_…`) is present only in the answers that make one.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    /// The types delivered; null: every type.
    pub event_types: Option<Vec<String>>,
    pub description: String,
    pub enabled: bool,
    /// Why keygate disabled it (deliveries failing for 3 days), if it did.
    pub disabled_reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Until when the previous secret keeps signing beside the current one (after a
    /// rotation); null when only one signs.
    pub previous_secret_expires_at: Option<String>,
    /// The signing secret, shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl WebhookView {
    fn of(endpoint: &Endpoint, secret: Option<String>) -> Self {
        let now = now_epoch();
        Self {
            id: endpoint.id.clone(),
            url: endpoint.url.clone(),
            event_types: (!endpoint.event_types.is_empty()).then(|| endpoint.event_types.clone()),
            description: endpoint.description.clone(),
            enabled: endpoint.enabled,
            disabled_reason: endpoint.disabled_reason.clone(),
            created_at: to_rfc3339(endpoint.created_at),
            updated_at: to_rfc3339(endpoint.updated_at),
            previous_secret_expires_at: endpoint
                .previous_secret
                .as_ref()
                .filter(|(_, until)| *until > now)
                .map(|(_, until)| to_rfc3339(*until)),
            secret,
        }
    }

    fn with_secret(made: WithSecret) -> Self {
        Self::of(&made.endpoint, Some(made.secret))
    }
}

#[utoipa::path(
    post,
    path = "/v1/webhooks",
    tag = "webhooks",
    operation_id = "create_webhook",
    summary = "Register a webhook endpoint (admins); its signing secret is shown once",
    request_body = CreateBody,
    responses((status = 201, body = WebhookView)),
)]
pub(super) async fn create(
    State(services): State<Services>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<(StatusCode, Json<WebhookView>), Problem> {
    let input = EndpointInput {
        url: body.url,
        event_types: body.event_types,
        description: body.description,
        enabled: body.enabled,
    };
    let made = services.create_webhook(&caller, &input).await?;
    Ok((StatusCode::CREATED, Json(WebhookView::with_secret(made))))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/webhooks",
    tag = "webhooks",
    operation_id = "list_webhooks",
    summary = "List the tenant's webhook endpoints, oldest first (admins)",
    params(ListQuery),
    responses((status = 200, body = views::CursorPage<WebhookView>)),
)]
pub(super) async fn list(
    State(services): State<Services>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<views::CursorPage<WebhookView>>, Problem> {
    let limit = bounded_limit("limit", query.limit, 20, 1, 100).map_err(Error::from)?;
    let after = cursor::decode("cursor", query.cursor.as_deref()).map_err(Error::from)?;
    let (endpoints, next) = services
        .list_webhooks(&caller, limit, after.as_deref())
        .await?;
    Ok(Json(views::cursor_page(
        &endpoints,
        |endpoint| WebhookView::of(endpoint, None),
        next.as_deref(),
    )))
}

#[utoipa::path(
    get,
    path = "/v1/webhooks/{webhook_id}",
    tag = "webhooks",
    operation_id = "get_webhook",
    summary = "Read a webhook endpoint (admins)",
    params(("webhook_id" = String, Path)),
    responses((status = 200, body = WebhookView)),
)]
pub(super) async fn read(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(webhook_id): Path<String>,
) -> Result<Json<WebhookView>, Problem> {
    let endpoint = services.get_webhook(&caller, &webhook_id).await?;
    Ok(Json(WebhookView::of(&endpoint, None)))
}

#[utoipa::path(
    patch,
    path = "/v1/webhooks/{webhook_id}",
    tag = "webhooks",
    operation_id = "update_webhook",
    summary = "Change a webhook endpoint (admins); enabling it clears keygate's disabling",
    params(("webhook_id" = String, Path)),
    request_body = UpdateBody,
    responses((status = 200, body = WebhookView)),
)]
pub(super) async fn update(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(webhook_id): Path<String>,
    JsonBody(body): JsonBody<UpdateBody>,
) -> Result<Json<WebhookView>, Problem> {
    let patch = EndpointPatch {
        url: body.url,
        event_types: body.event_types,
        description: body.description,
        enabled: body.enabled,
    };
    let endpoint = services.patch_webhook(&caller, &webhook_id, &patch).await?;
    Ok(Json(WebhookView::of(&endpoint, None)))
}

#[utoipa::path(
    delete,
    path = "/v1/webhooks/{webhook_id}",
    tag = "webhooks",
    operation_id = "delete_webhook",
    summary = "Remove a webhook endpoint (admins)",
    params(("webhook_id" = String, Path)),
    responses((status = 204, description = "Removed")),
)]
pub(super) async fn remove(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(webhook_id): Path<String>,
) -> Result<StatusCode, Problem> {
    services.delete_webhook(&caller, &webhook_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/v1/webhooks/{webhook_id}/rotate-secret",
    tag = "webhooks",
    operation_id = "rotate_webhook_secret",
    summary = "Make a new signing secret, shown once; the old one signs beside it for 24 h",
    params(("webhook_id" = String, Path)),
    responses((status = 200, body = WebhookView)),
)]
pub(super) async fn rotate_secret(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(webhook_id): Path<String>,
) -> Result<Json<WebhookView>, Problem> {
    let made = services.rotate_webhook_secret(&caller, &webhook_id).await?;
    Ok(Json(WebhookView::with_secret(made)))
}

/// One event's delivery to one endpoint; its id is the event's (and the `webhook-id` header
/// is `msg_<id>`). Never the receiver's answer, only its status code.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryView {
    pub id: String,
    pub webhook_id: String,
    pub event_type: String,
    /// `pending` (another attempt is due), `delivered` (a 2xx answer) or `failed` (the
    /// retries are spent, or the endpoint is gone or disabled).
    pub status: String,
    /// Attempts begun.
    pub attempts: u32,
    /// The status code of the last answer; null when the last attempt got none.
    pub response_code: Option<u16>,
    /// Why the last attempt got no answer (refused before connecting, timeout ...).
    pub error: Option<String>,
    pub created_at: String,
    pub last_attempt_at: Option<String>,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<String>,
}

impl DeliveryView {
    fn of(delivery: &Delivery) -> Self {
        Self {
            id: delivery.id.clone(),
            webhook_id: delivery.endpoint_id.clone(),
            event_type: delivery.event_type.clone(),
            status: delivery.status.as_str().to_owned(),
            attempts: delivery.attempts,
            response_code: delivery.last_response_code,
            error: delivery.last_error.clone(),
            created_at: to_rfc3339(delivery.created_at),
            last_attempt_at: delivery.last_attempt_at.map(to_rfc3339),
            next_attempt_at: delivery.next_attempt_at.map(to_rfc3339),
        }
    }
}

#[utoipa::path(
    post,
    path = "/v1/webhooks/{webhook_id}/test",
    tag = "webhooks",
    operation_id = "test_webhook",
    summary = "Send a webhook.test event to this endpoint alone (admins); sent within moments",
    params(("webhook_id" = String, Path)),
    responses((status = 202, body = DeliveryView)),
)]
pub(super) async fn send_test(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(webhook_id): Path<String>,
) -> Result<(StatusCode, Json<DeliveryView>), Problem> {
    let delivery = services.test_webhook(&caller, &webhook_id).await?;
    Ok((StatusCode::ACCEPTED, Json(DeliveryView::of(&delivery))))
}

#[utoipa::path(
    get,
    path = "/v1/webhooks/{webhook_id}/deliveries",
    tag = "webhooks",
    operation_id = "list_webhook_deliveries",
    summary = "List an endpoint's deliveries, newest first (admins; kept 30 days)",
    params(("webhook_id" = String, Path), ListQuery),
    responses((status = 200, body = views::CursorPage<DeliveryView>)),
)]
pub(super) async fn list_deliveries(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(webhook_id): Path<String>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<views::CursorPage<DeliveryView>>, Problem> {
    let limit = bounded_limit("limit", query.limit, 20, 1, 100).map_err(Error::from)?;
    let after = cursor::decode("cursor", query.cursor.as_deref()).map_err(Error::from)?;
    let (deliveries, next) = services
        .list_deliveries(&caller, &webhook_id, limit, after.as_deref())
        .await?;
    Ok(Json(views::cursor_page(
        &deliveries,
        DeliveryView::of,
        next.as_deref(),
    )))
}

#[utoipa::path(
    post,
    path = "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
    tag = "webhooks",
    operation_id = "retry_webhook_delivery",
    summary = "Send a delivery again now, whatever became of it (admins)",
    params(("webhook_id" = String, Path), ("delivery_id" = String, Path)),
    responses((status = 202, body = DeliveryView)),
)]
pub(super) async fn retry_delivery(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path((webhook_id, delivery_id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<DeliveryView>), Problem> {
    let delivery = services
        .retry_delivery(&caller, &webhook_id, &delivery_id)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(DeliveryView::of(&delivery))))
}
