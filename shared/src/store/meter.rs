//! A key's meter: ONE item (`KEY#<meter id>` / `METER`) holding every counter of the key — the
//! count of each rate limit in its current window, the credits balance with its refill
//! period, and the current hour's usage totals. Admission is one conditional UpdateItem on
//! it: its condition checks every limit and the balance, its update moves every counter, so
//! either all move or none does (1 write unit while the item stays under 1 KB).
//!
//! Windows, the refill period and the hour are stamps on the item. A write names the stamps
//! it expects; when one is stale the caller "rolls" the item first: one conditional write,
//! guarded by the old stamps, that resets the stale counters (and refills the balance, and
//! moves the finished hour's totals to its own `USAGE#<hour>` item in the same
//! transaction). The guard makes each roll happen exactly once whatever the concurrency.
//!
//! The meter id is the key's own id, except for a rolled key's successor, which counts
//! against its predecessor's meter (`ApiKey::meter_id`): the meter item, the hourly usage
//! items and the usage-report markers all live in that key's partition.

use std::collections::HashMap;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use super::item::{Item, Reader, n, s};
use super::keys::{self, PK, PURGE_AT, SK};
use super::transaction::Transaction;
use super::{Store, StoreError, condition_held, primary_key};

/// Hourly usage totals are kept this long (DynamoDB TTL).
const USAGE_RETENTION_SECS: i64 = 400 * 86_400;
/// A usage report's request id is remembered this long (retries within it never charge twice).
pub const REPORT_MARKER_SECS: i64 = 7 * 86_400;

pub(super) const HOUR: &str = "h";
pub(super) const PERIOD: &str = "p";
pub(super) const REMAINING: &str = "remaining";
const ADMITTED: &str = "h_admitted";
const SPENT: &str = "h_spent";
const REFUSED_PREFIX: &str = "h_refused_";
const UNITS_PREFIX: &str = "hu_";
pub(super) const WINDOW_START_PREFIX: &str = "ws_";
pub(super) const WINDOW_COUNT_PREFIX: &str = "wc_";

/// One hour's usage totals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HourTotals {
    pub hour: i64,
    pub admitted: i64,
    pub spent: i64,
    /// Refusals by reason (`rate_limited`, `usage_exceeded`).
    pub refused: HashMap<String, i64>,
    /// Reported units by kind (`tokens_in` ...).
    pub units: HashMap<String, i64>,
}

/// The meter item as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeterSnapshot {
    pub exists: bool,
    pub hour: Option<i64>,
    /// Limit name → (window start, count).
    pub windows: HashMap<String, (i64, i64)>,
    pub remaining: Option<i64>,
    pub period: Option<i64>,
    pub totals: HourTotals,
}

/// A new key's meter: the current hour, each limit's current window, and its balance with
/// the refill period it stands for.
pub struct MeterStart<'a> {
    pub hour: i64,
    pub windows: Vec<(&'a str, i64)>,
    pub credits: Option<(i64, Option<i64>)>,
}

/// One limit as an admission checks it.
pub struct LimitCheck<'a> {
    pub name: &'a str,
    pub limit: u32,
    pub window_start: i64,
    /// Admission moves the count (a `requests` limit); else only usage reports do, and
    /// admission only checks it.
    pub counts_requests: bool,
}

/// What an admission expects and moves.
pub struct AdmitPlan<'a> {
    pub meter_id: &'a str,
    pub hour: i64,
    pub limits: Vec<LimitCheck<'a>>,
    pub cost: i64,
    /// Present when the key has credits: the cost must be covered by the balance.
    pub credits: Option<CreditsCheck>,
}

/// The balance's refill period, when it refills: (current period start, refill amount).
pub struct CreditsCheck {
    pub period: Option<(i64, i64)>,
    /// The balance a meter made by its first request starts with (end-user meters).
    pub initial: Option<i64>,
}

/// A usage report: debit each balance (where there is one) and add to each hour's totals,
/// on the reporting key's meter and every budget above it.
pub struct UsagePlan<'a> {
    /// The meters charged, the reporting key's first (its partition holds the marker).
    pub charges: Vec<UsageCharge<'a>>,
    pub hour: i64,
    pub kind: &'a str,
    pub units: i64,
    pub request_id: Option<&'a str>,
    pub now: i64,
}

/// One meter a usage report charges, with its balance's refill period when it has credits
/// and the windows of its limits counting the report's unit.
pub struct UsageCharge<'a> {
    pub meter_id: &'a str,
    pub credits: Option<CreditsCheck>,
    pub windows: Vec<LimitCheck<'a>>,
}

pub enum Reported {
    Recorded,
    /// The stamps of `charges[index]` were stale; roll it and try again.
    Stale(usize),
    /// This request id was reported before: nothing was charged again.
    Duplicate,
}

pub(super) fn meter_key(meter_id: &str) -> Item {
    primary_key(keys::api_key(meter_id), keys::METER_SK)
}

pub(super) fn snapshot(item: &Item) -> MeterSnapshot {
    let r = Reader(item);
    let mut windows: HashMap<String, (i64, i64)> = HashMap::new();
    let mut totals = HourTotals {
        hour: r.opt_number(HOUR).unwrap_or(0),
        admitted: r.opt_number(ADMITTED).unwrap_or(0),
        spent: r.opt_number(SPENT).unwrap_or(0),
        ..HourTotals::default()
    };
    for name in item.keys() {
        let value = r.opt_number(name).unwrap_or(0);
        if let Some(limit) = name.strip_prefix(WINDOW_START_PREFIX) {
            windows.entry(limit.to_owned()).or_default().0 = value;
        } else if let Some(limit) = name.strip_prefix(WINDOW_COUNT_PREFIX) {
            windows.entry(limit.to_owned()).or_default().1 = value;
        } else if let Some(reason) = name.strip_prefix(REFUSED_PREFIX) {
            totals.refused.insert(reason.to_owned(), value);
        } else if let Some(kind) = name.strip_prefix(UNITS_PREFIX) {
            totals.units.insert(kind.to_owned(), value);
        }
    }
    MeterSnapshot {
        exists: !item.is_empty(),
        hour: r.opt_number(HOUR),
        windows,
        remaining: r.opt_number(REMAINING),
        period: r.opt_number(PERIOD),
        totals,
    }
}

fn totals_from(item: &Item) -> HourTotals {
    let r = Reader(item);
    let mut totals = HourTotals {
        hour: r.opt_number("hour").unwrap_or(0),
        admitted: r.opt_number("admitted").unwrap_or(0),
        spent: r.opt_number("spent").unwrap_or(0),
        ..HourTotals::default()
    };
    for name in item.keys() {
        if let Some(reason) = name.strip_prefix("refused_") {
            totals
                .refused
                .insert(reason.to_owned(), r.opt_number(name).unwrap_or(0));
        } else if let Some(kind) = name.strip_prefix("u_") {
            totals
                .units
                .insert(kind.to_owned(), r.opt_number(name).unwrap_or(0));
        }
    }
    totals
}

/// Builds expressions with numbered placeholders.
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: Item,
}

impl Expr {
    fn name(&mut self, attribute: &str) -> String {
        let placeholder = format!("#a{}", self.names.len());
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    fn value(&mut self, value: aws_sdk_dynamodb::types::AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }
}

/// How a multi-meter admission ended.
pub enum ChainAdmit {
    /// Every meter admitted the request and every counter moved.
    Admitted,
    /// Nothing moved: these meters' conditions failed (by position in the plans), each with
    /// the item as its check saw it.
    Refused(Vec<(usize, MeterSnapshot)>),
    /// Nothing moved: another transaction held one of the meters meanwhile.
    Conflict,
}

/// The conditional update one admission makes on one meter.
struct Admission {
    expr: Expr,
    update: String,
    condition: String,
}

impl Admission {
    /// The condition checks the hour, each limit's window and count, and the balance (with
    /// its refill period); the update moves every count, the balance and the hour's totals.
    fn of(plan: &AdmitPlan<'_>) -> Self {
        let mut expr = Expr::default();
        let mut sets = Vec::new();
        let mut conditions = Vec::new();
        let one = expr.value(n(1));
        let hour_name = expr.name(HOUR);
        let hour_value = expr.value(n(plan.hour));
        conditions.push(format!("{hour_name} = {hour_value}"));
        for limit in &plan.limits {
            let start = expr.name(&format!("{WINDOW_START_PREFIX}{}", limit.name));
            let count = expr.name(&format!("{WINDOW_COUNT_PREFIX}{}", limit.name));
            let start_value = expr.value(n(limit.window_start));
            let limit_value = expr.value(n(i64::from(limit.limit)));
            conditions.push(format!(
                "{start} = {start_value} AND {count} < {limit_value}"
            ));
            if limit.counts_requests {
                sets.push(format!("{count} = {count} + {one}"));
            }
        }
        let cost = expr.value(n(plan.cost));
        if let Some(credits) = &plan.credits {
            let remaining = expr.name(REMAINING);
            conditions.push(format!("{remaining} >= {cost}"));
            sets.push(format!("{remaining} = {remaining} - {cost}"));
            if let Some((period, _)) = credits.period {
                let period_name = expr.name(PERIOD);
                let period_value = expr.value(n(period));
                conditions.push(format!("{period_name} = {period_value}"));
            }
        }
        let admitted = expr.name(ADMITTED);
        let spent = expr.name(SPENT);
        let mut update = format!("ADD {admitted} {one}, {spent} {cost}");
        if !sets.is_empty() {
            update = format!("SET {} {update}", sets.join(", "));
        }
        Self {
            expr,
            update,
            condition: conditions.join(" AND "),
        }
    }
}

/// Admission writes are sent once: a retry after a lost answer could count a request twice.
fn no_retries() -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::config::Config::builder().retry_config(RetryConfig::disabled())
}

impl Store {
    /// The key's meter item (strongly consistent: it decides refusals and rolls).
    pub async fn read_meter(&self, meter_id: &str) -> Result<MeterSnapshot, StoreError> {
        let item = self.get(meter_key(meter_id), true).await?;
        Ok(item.as_ref().map(snapshot).unwrap_or_default())
    }

    /// Several meters in one strongly consistent BatchGetItem, in the order asked (an absent
    /// meter reads as empty).
    pub async fn read_meters(&self, meter_ids: &[&str]) -> Result<Vec<MeterSnapshot>, StoreError> {
        let mut distinct: Vec<&str> = meter_ids.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        let found = self
            .get_consistent_batch(distinct.iter().map(|id| meter_key(id)).collect())
            .await?;
        Ok(meter_ids
            .iter()
            .map(|id| {
                let pk = keys::api_key(id);
                found
                    .iter()
                    .find(|item| item.get(PK).and_then(|v| v.as_s().ok()) == Some(&pk))
                    .map(snapshot)
                    .unwrap_or_default()
            })
            .collect())
    }

    /// The meter of a new key, for the transaction that creates it: its balance and every
    /// stamp already current, so its first requests need no roll.
    pub(crate) fn new_meter(
        &self,
        meter_id: &str,
        start: &MeterStart<'_>,
    ) -> aws_sdk_dynamodb::types::TransactWriteItem {
        let mut item = meter_key(meter_id);
        item.insert("type".into(), s("Meter"));
        item.insert(HOUR.into(), n(start.hour));
        for (name, window_start) in &start.windows {
            item.insert(format!("{WINDOW_START_PREFIX}{name}"), n(*window_start));
            item.insert(format!("{WINDOW_COUNT_PREFIX}{name}"), n(0));
        }
        if let Some((remaining, period)) = start.credits {
            item.insert(REMAINING.into(), n(remaining));
            if let Some(period) = period {
                item.insert(PERIOD.into(), n(period));
            }
        }
        self.put(item)
    }

    /// Sets the balance (and starts its refill period) when a key is given credits: a write
    /// for the transaction that patches the key.
    pub(crate) fn set_credits(
        &self,
        meter_id: &str,
        remaining: i64,
        period: Option<i64>,
    ) -> aws_sdk_dynamodb::types::TransactWriteItem {
        let mut expr = Expr::default();
        let remaining_name = expr.name(REMAINING);
        let remaining_value = expr.value(n(remaining));
        let type_name = expr.name("type");
        let type_value = expr.value(s("Meter"));
        let mut sets = vec![
            format!("{remaining_name} = {remaining_value}"),
            format!("{type_name} = {type_value}"),
        ];
        let period_name = expr.name(PERIOD);
        let removes = match period {
            Some(period) => {
                let value = expr.value(n(period));
                sets.push(format!("{period_name} = {value}"));
                String::new()
            }
            None => format!(" REMOVE {period_name}"),
        };
        self.update_item(
            meter_key(meter_id),
            &format!("SET {}{removes}", sets.join(", ")),
            None,
            expr.names,
            expr.values,
        )
    }

    /// One admission: `Ok(after)` when admitted (every counter moved), `Err(seen)` when the
    /// condition failed (a limit, the balance, or a stale stamp: nothing moved), with the
    /// item as the failed check saw it (no second read).
    ///
    /// Not retried by the SDK: a retry after a lost answer could count one request twice.
    /// A failure or timeout is a 503; after a timeout the request may have been counted
    /// (an over-count refuses early, it never admits more than a limit).
    pub async fn try_admit(
        &self,
        plan: &AdmitPlan<'_>,
    ) -> Result<Result<MeterSnapshot, MeterSnapshot>, StoreError> {
        let admission = Admission::of(plan);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(meter_key(plan.meter_id)))
            .update_expression(admission.update)
            .condition_expression(admission.condition)
            .set_expression_attribute_names(Some(admission.expr.names))
            .set_expression_attribute_values(Some(admission.expr.values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .customize()
            .config_override(no_retries())
            .send()
            .await;
        match result {
            Ok(output) => Ok(Ok(snapshot(&output.attributes.unwrap_or_default()))),
            Err(error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    Ok(Err(failed.item().map(snapshot).unwrap_or_default()))
                }
                _ => Err(error.into()),
            },
        }
    }

    /// One admission against several meters at once (a key and the keys above it): ONE
    /// TransactWriteItems of one conditional update per meter, so every counter of every
    /// meter moves, or none does. A transaction returns no values when it commits, so an
    /// admitted request learns nothing of where the counters stand.
    ///
    /// Not retried by the SDK, for the same reason as [`Store::try_admit`].
    pub async fn try_admit_all(&self, plans: &[AdmitPlan<'_>]) -> Result<ChainAdmit, StoreError> {
        let items = plans
            .iter()
            .map(|plan| {
                let admission = Admission::of(plan);
                TransactWriteItem::builder()
                    .update(
                        Update::builder()
                            .table_name(&self.table)
                            .set_key(Some(meter_key(plan.meter_id)))
                            .update_expression(admission.update)
                            .condition_expression(admission.condition)
                            .set_expression_attribute_names(Some(admission.expr.names))
                            .set_expression_attribute_values(Some(admission.expr.values))
                            .return_values_on_condition_check_failure(
                                ReturnValuesOnConditionCheckFailure::AllOld,
                            )
                            .build()
                            .expect("key, table and update expression are set"),
                    )
                    .build()
            })
            .collect();
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .customize()
            .config_override(no_retries())
            .send()
            .await;
        let error = match result {
            Ok(_) => return Ok(ChainAdmit::Admitted),
            Err(error) => error,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            error.as_service_error()
        else {
            return Err(error.into());
        };
        let reasons = cancelled.cancellation_reasons();
        let failed: Vec<(usize, MeterSnapshot)> = reasons
            .iter()
            .enumerate()
            .filter(|(_, reason)| reason.code() == Some("ConditionalCheckFailed"))
            .map(|(index, reason)| (index, reason.item().map(snapshot).unwrap_or_default()))
            .collect();
        if !failed.is_empty() {
            return Ok(ChainAdmit::Refused(failed));
        }
        if reasons
            .iter()
            .any(|reason| reason.code() == Some("TransactionConflict"))
        {
            // Another transaction held one of the meters: nothing moved, try again.
            return Ok(ChainAdmit::Conflict);
        }
        Err(error.into())
    }

    /// Brings every stale stamp of `seen` up to `plan`'s: resets the counts of limits whose
    /// window ended, refills the balance when its period ended, and moves a finished hour's
    /// totals to its own item. Guarded by the stamps as read, so a roll happens once however
    /// many requests try it; false when another request rolled first (read again).
    pub async fn roll_meter(
        &self,
        meter_id: &str,
        seen: &MeterSnapshot,
        hour: i64,
        limits: &[LimitCheck<'_>],
        credits: Option<&CreditsCheck>,
    ) -> Result<bool, StoreError> {
        let mut expr = Expr::default();
        let mut sets = Vec::new();
        let mut removes = Vec::new();
        let mut conditions = Vec::new();
        let zero = expr.value(n(0));
        let mut guard = |expr: &mut Expr, attribute: &str, seen: Option<i64>| {
            let name = expr.name(attribute);
            conditions.push(match seen {
                Some(value) => {
                    let value = expr.value(n(value));
                    format!("{name} = {value}")
                }
                None => format!("attribute_not_exists({name})"),
            });
            name
        };
        let hour_stale = seen.hour != Some(hour);
        if hour_stale {
            let name = guard(&mut expr, HOUR, seen.hour);
            let value = expr.value(n(hour));
            sets.push(format!("{name} = {value}"));
            for attribute in [ADMITTED.to_owned(), SPENT.to_owned()]
                .into_iter()
                .chain(
                    seen.totals
                        .refused
                        .keys()
                        .map(|r| format!("{REFUSED_PREFIX}{r}")),
                )
                .chain(
                    seen.totals
                        .units
                        .keys()
                        .map(|k| format!("{UNITS_PREFIX}{k}")),
                )
            {
                removes.push(expr.name(&attribute));
            }
        }
        for limit in limits {
            let seen_start = seen.windows.get(limit.name).map(|(start, _)| *start);
            if seen_start == Some(limit.window_start) {
                continue;
            }
            let start = guard(
                &mut expr,
                &format!("{WINDOW_START_PREFIX}{}", limit.name),
                seen_start,
            );
            let count = expr.name(&format!("{WINDOW_COUNT_PREFIX}{}", limit.name));
            let value = expr.value(n(limit.window_start));
            sets.push(format!("{start} = {value}, {count} = {zero}"));
        }
        if let Some((period, amount)) = credits.and_then(|c| c.period)
            && seen.period != Some(period)
        {
            let name = guard(&mut expr, PERIOD, seen.period);
            let remaining = expr.name(REMAINING);
            let period_value = expr.value(n(period));
            // A meter's first period starts with its initial balance, when it has one.
            let start = match credits.and_then(|c| c.initial) {
                Some(initial) if seen.remaining.is_none() => initial,
                _ => amount,
            };
            let amount_value = expr.value(n(start));
            sets.push(format!(
                "{name} = {period_value}, {remaining} = {amount_value}"
            ));
        }
        // An end user's meter is made by its first request, with the budget's balance.
        if let Some(initial) = credits.and_then(|c| c.initial)
            && seen.remaining.is_none()
            && credits.is_some_and(|c| c.period.is_none())
        {
            let remaining = guard(&mut expr, REMAINING, None);
            let value = expr.value(n(initial));
            sets.push(format!("{remaining} = {value}"));
        }
        if sets.is_empty() {
            return Ok(true);
        }
        let type_name = expr.name("type");
        let type_value = expr.value(s("Meter"));
        sets.push(format!("{type_name} = {type_value}"));
        let mut update = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            update.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        let roll = self.update_named_if(
            meter_key(meter_id),
            &update,
            &conditions.join(" AND "),
            expr.names,
            expr.values,
        );
        let finished = &seen.totals;
        let has_totals = finished.admitted != 0
            || finished.spent != 0
            || finished.refused.values().any(|v| *v != 0)
            || finished.units.values().any(|v| *v != 0);
        let mut transaction = Transaction::new();
        let unchanged_meter = transaction.guarded(roll);
        if hour_stale
            && has_totals
            && let Some(old_hour) = seen.hour
        {
            transaction.add(self.put(usage_item(meter_id, old_hour, finished)));
        }
        match transaction.send(self).await {
            Ok(()) => Ok(true),
            Err(error) if unchanged_meter.failed(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Counts a refused request in the hour's totals (best effort: only the hour stamp is
    /// checked, so a refusal landing just after the hour rolled is not counted at all).
    pub async fn count_refusal(
        &self,
        meter_id: &str,
        hour: i64,
        reason: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(meter_key(meter_id)))
            .update_expression("ADD #refused :one")
            .condition_expression("#hour = :hour")
            .expression_attribute_names("#refused", format!("{REFUSED_PREFIX}{reason}"))
            .expression_attribute_names("#hour", HOUR)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":hour", n(hour))
            .send()
            .await;
        condition_held(result)?;
        Ok(())
    }

    /// Records reported usage: debits each balance by `units` (it may go below zero: the
    /// call already happened) and adds them to each hour's totals, in one transaction. With
    /// a request id, a marker item is put in the same transaction, so a retry never charges
    /// twice.
    pub async fn report_usage(&self, plan: &UsagePlan<'_>) -> Result<Reported, StoreError> {
        let mut transaction = Transaction::new();
        let first_report = plan.request_id.map(|request_id| {
            let mut marker = primary_key(
                keys::api_key(plan.charges[0].meter_id),
                keys::usage_report_sk(request_id),
            );
            marker.insert("type".into(), s("UsageReport"));
            marker.insert("at".into(), n(plan.now));
            marker.insert(PURGE_AT.into(), n(plan.now + REPORT_MARKER_SECS));
            transaction.guarded(self.put_if(marker, "attribute_not_exists(PK)"))
        });
        let charges: Vec<_> = plan
            .charges
            .iter()
            .map(|charge| transaction.guarded(self.usage_charge(plan, charge)))
            .collect();
        match transaction.send(self).await {
            Ok(()) => Ok(Reported::Recorded),
            Err(error) if first_report.is_some_and(|marker| marker.failed(&error)) => {
                Ok(Reported::Duplicate)
            }
            Err(error) => match charges.iter().position(|charge| charge.failed(&error)) {
                Some(index) => Ok(Reported::Stale(index)),
                None => Err(error.into()),
            },
        }
    }

    /// The update one usage report makes on one meter.
    fn usage_charge(&self, plan: &UsagePlan<'_>, charge: &UsageCharge<'_>) -> TransactWriteItem {
        let mut expr = Expr::default();
        let mut conditions = Vec::new();
        let hour_name = expr.name(HOUR);
        let hour_value = expr.value(n(plan.hour));
        conditions.push(format!("{hour_name} = {hour_value}"));
        let units_name = expr.name(&format!("{UNITS_PREFIX}{}", plan.kind));
        let units = expr.value(n(plan.units));
        let mut update = format!("ADD {units_name} {units}");
        for window in &charge.windows {
            let start = expr.name(&format!("{WINDOW_START_PREFIX}{}", window.name));
            let count = expr.name(&format!("{WINDOW_COUNT_PREFIX}{}", window.name));
            let start_value = expr.value(n(window.window_start));
            conditions.push(format!("{start} = {start_value}"));
            update.push_str(&format!(", {count} {units}"));
        }
        if let Some(credits) = &charge.credits {
            let remaining = expr.name(REMAINING);
            let spent = expr.name(SPENT);
            conditions.push(format!("attribute_exists({remaining})"));
            update = format!("SET {remaining} = {remaining} - {units} {update}, {spent} {units}");
            if let Some((period, _)) = credits.period {
                let period_name = expr.name(PERIOD);
                let period_value = expr.value(n(period));
                conditions.push(format!("{period_name} = {period_value}"));
            }
        }
        self.update_named_if(
            meter_key(charge.meter_id),
            &update,
            &conditions.join(" AND "),
            expr.names,
            expr.values,
        )
    }

    /// The finished hours of a key between two hour starts (inclusive), oldest first.
    pub async fn usage_hours(
        &self,
        meter_id: &str,
        from_hour: i64,
        to_hour: i64,
        max: usize,
    ) -> Result<Vec<HourTotals>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(keys::api_key(meter_id)))
            .expression_attribute_values(":from", s(keys::usage_sk(from_hour)))
            .expression_attribute_values(":to", s(keys::usage_sk(to_hour)));
        let items = self.query_pages(query, Some(max)).await?;
        Ok(items.iter().map(totals_from).collect())
    }
}

fn usage_item(meter_id: &str, hour: i64, totals: &HourTotals) -> Item {
    let mut item = primary_key(keys::api_key(meter_id), keys::usage_sk(hour));
    item.insert("type".into(), s("Usage"));
    item.insert("hour".into(), n(hour));
    item.insert("admitted".into(), n(totals.admitted));
    item.insert("spent".into(), n(totals.spent));
    for (reason, count) in &totals.refused {
        item.insert(format!("refused_{reason}"), n(*count));
    }
    for (kind, units) in &totals.units {
        item.insert(format!("u_{kind}"), n(*units));
    }
    item.insert(PURGE_AT.into(), n(hour + USAGE_RETENTION_SECS));
    item
}
