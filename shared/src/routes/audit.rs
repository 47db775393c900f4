//! `GET /v1/audit`: the audit trail, newest first, cursor paged (one Query per page).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::views;
use crate::domain::audit::AuditEvent;
use crate::domain::clock::parse_rfc3339;
use crate::http::{Caller, Problem, QueryParams, cursor};
use crate::services::Error;
use crate::services::Services;
use crate::services::audit::AuditFilter;

pub fn routes() -> Router<Services> {
    Router::new().route("/v1/audit", get(list))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct AuditQuery {
    limit: Option<i64>,
    cursor: Option<String>,
    actor: Option<String>,
    target: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/audit",
    tag = "activity",
    operation_id = "list_audit_events",
    summary = "The tenant's audit trail, newest first",
    params(AuditQuery),
    responses((status = 200, body = super::openapi::AuditPage)),
)]
pub(super) async fn list(
    State(services): State<Services>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<AuditQuery>,
) -> Result<Json<Value>, Problem> {
    let time = |field: &str, raw: Option<&str>| {
        raw.map(|raw| parse_rfc3339(field, raw))
            .transpose()
            .map_err(Error::from)
    };
    let filter = AuditFilter {
        limit: query.limit,
        cursor: cursor::decode_text("cursor", query.cursor.as_deref()).map_err(Error::from)?,
        actor: query.actor.filter(|a| !a.is_empty()),
        target: query.target.filter(|t| !t.is_empty()),
        event_type: query.event_type.filter(|t| !t.is_empty()),
        from: time("from", query.from.as_deref())?,
        to: time("to", query.to.as_deref())?,
    };
    let page = services.audit_trail(&caller, filter).await?;
    Ok(Json(views::cursor_page(
        &page.events,
        event,
        page.next.as_deref(),
    )))
}

/// An event as `GET /v1/audit` shows it.
pub fn event(event: &AuditEvent) -> Value {
    json!({
        "id": event.id,
        "at": views::time(Some(event.at)),
        "type": event.event_type.as_str(),
        "tenant_id": event.tenant_id,
        "user_id": event.subject_user_id,
        "actor": {
            "kind": event.actor.kind,
            "user_id": event.actor.user_id,
            "credential_id": event.actor.credential_id,
        },
        "target": { "kind": event.target.kind, "id": event.target.id },
        "ip": event.origin.ip,
        "user_agent": event.origin.user_agent,
        "change": event.change,
        "detail": event.detail,
    })
}
