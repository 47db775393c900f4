//! `GET /v1/audit`: the audit trail, newest first, cursor paged (one Query per page).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::views::{self, CursorPage};
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
    responses((status = 200, body = CursorPage<AuditEventView>)),
)]
pub(super) async fn list(
    State(services): State<Services>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<AuditQuery>,
) -> Result<Json<CursorPage<AuditEventView>>, Problem> {
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

/// Who acted.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditActor {
    /// `api_key`, `access_token`, `session`, `anonymous`, `secret_scanning` or `system`.
    pub kind: String,
    pub user_id: Option<String>,
    pub credential_id: Option<String>,
}

/// What was touched.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditTarget {
    /// `api_key`, `access_token`, `session`, `user`, `dataset`, `user_budget`,
    /// `tenant_budget` or `tenant`
    pub kind: &'static str,
    pub id: String,
}

/// One audit event, as `GET /v1/audit` shows it.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AuditEvent)]
pub struct AuditEventView {
    pub id: String,
    #[schema(format = DateTime)]
    pub at: String,
    #[serde(rename = "type")]
    pub event_type: &'static str,
    pub tenant_id: String,
    /// Whose trail the event is in: the owner of the target.
    pub user_id: String,
    pub actor: AuditActor,
    pub target: AuditTarget,
    pub ip: String,
    pub user_agent: String,
    /// For changes: `{field: {"old": .., "new": ..}}`; empty otherwise.
    #[schema(value_type = Object)]
    pub change: Map<String, Value>,
    /// Anything else worth keeping (a report's URL and source, a sign-in method).
    #[schema(value_type = Object)]
    pub detail: Map<String, Value>,
}

pub fn event(event: &AuditEvent) -> AuditEventView {
    AuditEventView {
        id: event.id.clone(),
        at: crate::domain::clock::to_rfc3339(event.at),
        event_type: event.event_type.as_str(),
        tenant_id: event.tenant_id.clone(),
        user_id: event.subject_user_id.clone(),
        actor: AuditActor {
            kind: event.actor.kind.clone(),
            user_id: event.actor.user_id.clone(),
            credential_id: event.actor.credential_id.clone(),
        },
        target: AuditTarget {
            kind: event.target.kind,
            id: event.target.id.clone(),
        },
        ip: event.origin.ip.clone(),
        user_agent: event.origin.user_agent.clone(),
        change: event.change.clone(),
        detail: event.detail.clone(),
    }
}
