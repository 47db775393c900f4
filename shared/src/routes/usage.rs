//! Metering on keygate's own API: usage reported after an AI call (`POST /v1/usage`) and a
//! key's usage read back (`GET /v1/api-keys/{id}/usage`).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::views::Balance;
use crate::domain::clock::{now_epoch, parse_rfc3339, to_rfc3339};
use crate::http::{Caller, JsonBody, Problem, QueryParams};
use crate::services::metering::{Granularity, UsagePeriod, UsageReport};
use crate::services::{Error, Services};

/// The longest range one read may cover, by granularity (hours read: 7 × 24, 31 × 24).
const MAX_HOURLY_RANGE_SECS: i64 = 7 * 86_400;
const MAX_DAILY_RANGE_SECS: i64 = 31 * 86_400;

pub fn routes() -> Router<Services> {
    Router::new()
        .route("/v1/usage", post(report))
        .route("/v1/api-keys/{key_id}/usage", get(read))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UsageReport)]
pub(super) struct ReportBody {
    credential_id: Option<String>,
    key_id: Option<String>,
    units: Option<i64>,
    kind: Option<String>,
    model: Option<String>,
    request_id: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/usage",
    tag = "metering",
    operation_id = "report_usage",
    summary = "Report the units an AI call used (service keys with the usage scope)",
    request_body = ReportBody,
    responses((status = 200, body = UsageRecorded)),
)]
pub(super) async fn report(
    State(services): State<Services>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<ReportBody>,
) -> Result<Json<UsageRecorded>, Problem> {
    let outcome = services
        .report_usage(
            &caller,
            UsageReport {
                credential_id: body.credential_id,
                key_id: body.key_id,
                units: body.units,
                kind: body.kind,
                model: body.model,
                request_id: body.request_id,
            },
        )
        .await?;
    Ok(Json(UsageRecorded {
        key_id: outcome.key_id,
        recorded: !outcome.duplicate,
        duplicate: outcome.duplicate,
        credits: outcome
            .credits_remaining
            .map(|remaining| Balance { remaining }),
    }))
}

/// A usage report's outcome.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageRecorded {
    /// The key charged.
    pub key_id: String,
    /// False when `request_id` was reported before (nothing charged again).
    pub recorded: bool,
    pub duplicate: bool,
    /// The key's balance after the report, when it has credits.
    pub credits: Option<Balance>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct UsageQuery {
    from: Option<String>,
    to: Option<String>,
    granularity: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/api-keys/{key_id}/usage",
    tag = "metering",
    operation_id = "read_key_usage",
    summary = "A key's usage per hour or day",
    params(("key_id" = String, Path, description = "the key's id"), UsageQuery),
    responses((status = 200, body = KeyUsage)),
)]
pub(super) async fn read(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(key_id): Path<String>,
    QueryParams(query): QueryParams<UsageQuery>,
) -> Result<Json<KeyUsage>, Problem> {
    let granularity = match query.granularity.as_deref() {
        None | Some("hour") => Granularity::Hour,
        Some("day") => Granularity::Day,
        Some(_) => return Err(Error::invalid("granularity", "must be \"hour\" or \"day\"").into()),
    };
    let max_range = match granularity {
        Granularity::Hour => MAX_HOURLY_RANGE_SECS,
        Granularity::Day => MAX_DAILY_RANGE_SECS,
    };
    let to = match query.to.as_deref() {
        Some(raw) => parse_rfc3339("to", raw).map_err(Error::from)?,
        None => now_epoch(),
    };
    let from = match query.from.as_deref() {
        Some(raw) => parse_rfc3339("from", raw).map_err(Error::from)?,
        None => to - 86_400,
    };
    if from > to {
        return Err(Error::invalid("from", "must not be after to").into());
    }
    if to - from > max_range {
        return Err(Error::invalid(
            "from",
            format!(
                "the range may cover at most {} days at this granularity",
                max_range / 86_400
            ),
        )
        .into());
    }
    let (periods, remaining) = services
        .read_usage(&caller, &key_id, from, to, granularity)
        .await?;
    Ok(Json(KeyUsage {
        key_id,
        from: to_rfc3339(from),
        to: to_rfc3339(to),
        granularity: match granularity {
            Granularity::Hour => "hour",
            Granularity::Day => "day",
        },
        items: periods.iter().map(period).collect(),
        credits: remaining.map(|remaining| Balance { remaining }),
    }))
}

/// A key's usage counters per period.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyUsage {
    pub key_id: String,
    #[schema(format = DateTime)]
    pub from: String,
    #[schema(format = DateTime)]
    pub to: String,
    /// `hour` or `day`
    pub granularity: &'static str,
    pub items: Vec<UsagePeriodView>,
    /// The key's live balance, when it has credits.
    pub credits: Option<Balance>,
}

/// One hour's or day's counters.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UsagePeriod)]
pub struct UsagePeriodView {
    #[schema(format = DateTime)]
    pub start: String,
    pub requests_admitted: i64,
    /// Refused requests by reason.
    pub requests_refused: BTreeMap<String, i64>,
    pub credits_spent: i64,
    /// Reported units by kind (`tokens_out` ...).
    pub units: BTreeMap<String, i64>,
}

fn period(period: &UsagePeriod) -> UsagePeriodView {
    UsagePeriodView {
        start: to_rfc3339(period.start),
        requests_admitted: period.admitted,
        requests_refused: period.refused.clone(),
        credits_spent: period.spent,
        units: period.units.clone(),
    }
}
