//! Metering use cases: admitting a request against its key's limits and credits, recording
//! usage reported after an AI call, and reading usage back.

use std::collections::BTreeMap;

use super::auth::{above_keys, end_user_budgets, owner_meters};
use super::{Error, Services};
use crate::domain::api_key::ApiKey;
use crate::domain::clock::now_epoch;
use crate::domain::metering::{
    Budget, Credits, LimitStatus, MAX_UNITS_PER_REPORT, MeterStatus, Metering, RateLimit, Refusal,
    RefusalReason, parse_usage_kind, refill_period, window_start,
};
use crate::domain::principal::Principal;
use crate::domain::scope::{Scope, UserRole};
use crate::store::StoreError;
use crate::store::meter::{
    AdmitPlan, ChainAdmit, CreditsCheck, HourTotals, LimitCheck, MeterSnapshot, MeterStart,
    Reported, UsageCharge, UsagePlan,
};

const HOUR_SECS: i64 = 3600;
/// Rolls and retries one write may need: a window, a period and an hour can all roll at
/// once, and a concurrent roll can win the race; more than this is contention (503).
const MAX_ATTEMPTS: usize = 5;

/// What admission decided for an admitted request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// The key has no limits and no credits (or the route costs nothing): nothing counted.
    Unmetered,
    /// Every counter moved; where they stand now.
    Admitted(MeterStatus),
    /// Every counter of several budgets moved in one transaction, which says nothing of
    /// where they stand; the nearest budget's limits, for the `RateLimit-Policy` header.
    AdmittedUnseen(Vec<RateLimit>),
}

fn contention() -> Error {
    Error::Unavailable(StoreError::Unavailable(
        "metering contention: too many concurrent rolls or transactions".into(),
    ))
}

/// A short, growing, jittered pause after a transaction conflict, so that the requests
/// contending for one meter do not retry in step.
async fn conflict_pause(attempt: usize) {
    let mut byte = [0u8; 1];
    let jitter = if getrandom::fill(&mut byte).is_ok() {
        u64::from(byte[0] % 8)
    } else {
        4
    };
    let millis = (2u64 << attempt.min(4)) + jitter;
    tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
}

fn admit_plan(budget: &Budget, cost: i64, now: i64) -> AdmitPlan<'_> {
    AdmitPlan {
        meter_id: &budget.meter_id,
        hour: current_hour(now),
        limits: limit_checks(&budget.metering, now),
        cost,
        credits: credits_check(&budget.metering, now),
    }
}

/// The balance a key starts with, and the refill period it stands for.
pub(super) fn initial_balance(credits: &Credits, now: i64) -> (i64, Option<i64>) {
    (
        credits.remaining,
        credits
            .refill
            .as_ref()
            .map(|refill| refill_period(now, refill).0),
    )
}

/// A new meter's stamps, all current, and its starting balance: its first requests need no
/// roll. A key's meter and a user's or tenant's budget start this way.
pub(super) fn meter_start<'a>(
    metering: &'a Metering,
    credits: Option<&Credits>,
    now: i64,
) -> MeterStart<'a> {
    MeterStart {
        hour: now - now.rem_euclid(3600),
        windows: metering
            .ratelimits
            .iter()
            .map(|l| (l.name.as_str(), window_start(now, l.window_secs)))
            .collect(),
        credits: credits.map(|c| initial_balance(c, now)),
    }
}

/// Where a meter stands now as read: a window or refill period that has ended counts as
/// reset (the next admission rolls it), so nothing is reported as used up that is not.
pub(super) fn current_status(metering: &Metering, seen: &MeterSnapshot, now: i64) -> MeterStatus {
    let mut status = status_of(metering, seen, now);
    if let Some((period, amount)) = credits_check(metering, now).and_then(|c| c.period)
        && seen.period != Some(period)
    {
        status.credits_remaining = Some(amount);
    }
    status
}

fn current_hour(now: i64) -> i64 {
    now - now.rem_euclid(HOUR_SECS)
}

fn limit_checks(metering: &Metering, now: i64) -> Vec<LimitCheck<'_>> {
    metering
        .ratelimits
        .iter()
        .map(|limit| LimitCheck {
            name: &limit.name,
            limit: limit.limit,
            window_start: window_start(now, limit.window_secs),
            counts_requests: limit.counts_requests(),
        })
        .collect()
}

/// The windows a usage report of `kind` counts in: the limits of that unit.
fn unit_windows<'a>(metering: &'a Metering, kind: &str, now: i64) -> Vec<LimitCheck<'a>> {
    limit_checks(metering, now)
        .into_iter()
        .zip(&metering.ratelimits)
        .filter(|(_, limit)| limit.unit == kind)
        .map(|(check, _)| check)
        .collect()
}

fn credits_check(metering: &Metering, now: i64) -> Option<CreditsCheck> {
    metering.credits.as_ref().map(|policy| CreditsCheck {
        period: policy
            .refill
            .as_ref()
            .map(|refill| (refill_period(now, refill).0, refill.amount)),
        initial: policy.initial,
    })
}

/// Where every limit and the balance stand in `seen` (a snapshot with current stamps).
fn status_of(metering: &Metering, seen: &MeterSnapshot, now: i64) -> MeterStatus {
    let limits = metering
        .ratelimits
        .iter()
        .map(|limit| {
            let start = window_start(now, limit.window_secs);
            let used = match seen.windows.get(&limit.name) {
                Some((seen_start, count)) if *seen_start == start => *count,
                _ => 0,
            };
            LimitStatus {
                name: limit.name.clone(),
                limit: limit.limit,
                window_secs: limit.window_secs,
                remaining: (i64::from(limit.limit) - used).max(0) as u32,
                reset_secs: start + i64::from(limit.window_secs) - now,
            }
        })
        .collect();
    MeterStatus {
        limits,
        credits_remaining: metering
            .credits
            .as_ref()
            .map(|policy| seen.remaining.or(policy.initial).unwrap_or(0)),
    }
}

/// Whether every stamp `seen` carries is the current one (no roll needed).
fn is_current(
    seen: &MeterSnapshot,
    hour: i64,
    limits: &[LimitCheck],
    credits: Option<&CreditsCheck>,
) -> bool {
    seen.hour == Some(hour)
        && limits
            .iter()
            .all(|l| seen.windows.get(l.name).map(|w| w.0) == Some(l.window_start))
        && credits
            .and_then(|c| c.period)
            .is_none_or(|(period, _)| seen.period == Some(period))
        && credits.is_none_or(|c| c.initial.is_none() || seen.remaining.is_some())
}

/// The usage of one key over one period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsagePeriod {
    pub start: i64,
    pub admitted: i64,
    pub spent: i64,
    pub refused: BTreeMap<String, i64>,
    pub units: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Hour,
    Day,
}

/// A usage report, before validation.
#[derive(Debug, Default)]
pub struct UsageReport {
    pub credential_id: Option<String>,
    pub key_id: Option<String>,
    pub units: Option<i64>,
    pub kind: Option<String>,
    pub model: Option<String>,
    pub request_id: Option<String>,
}

/// What a usage report did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOutcome {
    pub key_id: String,
    pub duplicate: bool,
    pub credits_remaining: Option<i64>,
}

impl Services {
    /// Admits one request of `cost` against every budget of `principal`'s chain (its key's
    /// and those of the keys it was created by): one conditional write checks every limit
    /// and balance and moves every counter, or nothing moves and the request is refused
    /// (`Error::Throttled`). One budget is one UpdateItem; several are one
    /// TransactWriteItems. A chain with no budget, a session, or a free route costs no read
    /// and no write.
    pub async fn admit(&self, principal: &Principal, cost: i64) -> Result<Admission, Error> {
        if cost <= 0 {
            return Ok(Admission::Unmetered);
        }
        match principal.budgets().as_slice() {
            [] => Ok(Admission::Unmetered),
            [budget] => self.admit_one(budget, cost).await,
            chain => self.admit_chain(chain, cost).await,
        }
    }

    async fn admit_one(&self, budget: &Budget, cost: i64) -> Result<Admission, Error> {
        let metering = &budget.metering;
        let now = now_epoch();
        let plan = admit_plan(budget, cost, now);
        for _ in 0..MAX_ATTEMPTS {
            let seen = match self.store.try_admit(&plan).await? {
                Ok(after) => return Ok(Admission::Admitted(status_of(metering, &after, now))),
                Err(seen) => seen,
            };
            if !is_current(&seen, plan.hour, &plan.limits, plan.credits.as_ref()) {
                self.roll(&plan, &seen).await?;
                continue;
            }
            if let Some(refusal) = self.refusal_at(budget, &seen, cost, now).await {
                return Err(Error::Throttled(Box::new(refusal)));
            }
            // The state moved between the write and the read (a refill, a patch): retry.
        }
        Err(contention())
    }

    /// Several budgets: admitted only if every one admits, in one transaction.
    async fn admit_chain(&self, chain: &[Budget], cost: i64) -> Result<Admission, Error> {
        let now = now_epoch();
        let plans: Vec<AdmitPlan<'_>> = chain.iter().map(|b| admit_plan(b, cost, now)).collect();
        for attempt in 0..MAX_ATTEMPTS {
            let failed = match self.store.try_admit_all(&plans).await? {
                ChainAdmit::Admitted => {
                    return Ok(Admission::AdmittedUnseen(
                        chain[0].metering.ratelimits.clone(),
                    ));
                }
                ChainAdmit::Conflict => {
                    conflict_pause(attempt).await;
                    continue;
                }
                ChainAdmit::Refused(failed) => failed,
            };
            let mut rolled = false;
            for (index, seen) in &failed {
                let plan = &plans[*index];
                if !is_current(seen, plan.hour, &plan.limits, plan.credits.as_ref()) {
                    self.roll(plan, seen).await?;
                    rolled = true;
                }
            }
            if rolled {
                continue;
            }
            for (index, seen) in &failed {
                if let Some(refusal) = self.refusal_at(&chain[*index], seen, cost, now).await {
                    return Err(Error::Throttled(Box::new(refusal)));
                }
            }
        }
        Err(contention())
    }

    async fn roll(&self, plan: &AdmitPlan<'_>, seen: &MeterSnapshot) -> Result<(), Error> {
        self.store
            .roll_meter(
                plan.meter_id,
                seen,
                plan.hour,
                &plan.limits,
                plan.credits.as_ref(),
            )
            .await?;
        Ok(())
    }

    /// The refusal `budget` makes at `seen` (current stamps), counted in its hour's totals.
    async fn refusal_at(
        &self,
        budget: &Budget,
        seen: &MeterSnapshot,
        cost: i64,
        now: i64,
    ) -> Option<Refusal> {
        let status = status_of(&budget.metering, seen, now);
        let refusal = refusal(&budget.metering, &status, cost, now)?;
        if let Err(error) = self
            .store
            .count_refusal(
                &budget.meter_id,
                current_hour(now),
                refusal.reason.counter(),
            )
            .await
        {
            tracing::warn!(%error, "could not count a refusal");
        }
        Some(refusal)
    }

    /// Where every budget of `principal`'s chain stands, without spending: one strongly
    /// consistent read of their meters. Nearest first; empty when nothing is metered.
    pub async fn budget_status(&self, principal: &Principal) -> Result<Vec<MeterStatus>, Error> {
        let chain = principal.budgets();
        if chain.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_epoch();
        let ids: Vec<&str> = chain.iter().map(|b| b.meter_id.as_str()).collect();
        let meters = self.store.read_meters(&ids).await?;
        Ok(chain
            .iter()
            .zip(meters)
            .map(|(budget, seen)| current_status(&budget.metering, &seen, now))
            .collect())
    }

    /// The live credits balance of the meter `meter_id` (`ApiKey::meter_id`), when the key
    /// has credits.
    pub async fn credits_remaining(
        &self,
        meter_id: &str,
        metering: &Metering,
    ) -> Result<Option<i64>, Error> {
        if metering.credits.is_none() {
            return Ok(None);
        }
        let now = now_epoch();
        let seen = self.store.read_meter(meter_id).await?;
        let remaining = match credits_check(metering, now).and_then(|c| c.period) {
            // A period that ended refills on the next admission; show what it will hold.
            Some((period, amount)) if seen.period != Some(period) => amount,
            _ => seen.remaining.unwrap_or(0),
        };
        Ok(Some(remaining))
    }

    /// `POST /v1/usage`: the platform reports what an AI call really cost. Debits the key's
    /// credits by `units` (the balance may go below zero: the call already happened) and adds
    /// them to its usage totals; a repeated `request_id` charges nothing.
    pub async fn report_usage(
        &self,
        caller: &Principal,
        report: UsageReport,
    ) -> Result<ReportOutcome, Error> {
        caller.require_full_key()?;
        caller.require_scope(Scope::Usage)?;
        let units = report
            .units
            .ok_or_else(|| Error::invalid("units", "is required"))?;
        if !(0..=MAX_UNITS_PER_REPORT).contains(&units) {
            return Err(Error::invalid(
                "units",
                format!("must be an integer from 0 to {MAX_UNITS_PER_REPORT}"),
            ));
        }
        let kind = parse_usage_kind(
            "kind",
            report
                .kind
                .as_deref()
                .ok_or_else(|| Error::invalid("kind", "is required"))?,
        )?;
        if let Some(model) = &report.model
            && (model.is_empty() || model.len() > 128 || model.chars().any(char::is_control))
        {
            return Err(Error::invalid(
                "model",
                "must be 1 to 128 printable characters",
            ));
        }
        let request_id = match report.request_id.as_deref() {
            None => None,
            Some(id)
                if !id.is_empty()
                    && id.len() <= 128
                    && id.chars().all(|c| c.is_ascii_graphic()) =>
            {
                Some(id)
            }
            Some(_) => {
                return Err(Error::invalid(
                    "request_id",
                    "must be 1 to 128 visible ASCII characters",
                ));
            }
        };
        let (key_id, end_user) = match (report.key_id.as_deref(), report.credential_id.as_deref()) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "key_id",
                    "give key_id or credential_id, not both",
                ));
            }
            (Some(key_id), None) => (key_id.to_owned(), None),
            (None, Some(credential_id)) => {
                let key_id = self
                    .store
                    .key_behind_credential(credential_id)
                    .await?
                    .ok_or(Error::NotFound("credential"))?;
                // A token minted for an end user: that end user's budgets are charged too.
                let end_user = match key_id == credential_id {
                    true => None,
                    false => self
                        .store
                        .get_token(credential_id)
                        .await?
                        .and_then(|token| token.end_user),
                };
                (key_id, end_user)
            }
            (None, None) => {
                return Err(Error::invalid(
                    "key_id",
                    "key_id or credential_id is required",
                ));
            }
        };
        let key = match self.store.get_api_key(&key_id).await? {
            Some((key, _)) if key.tenant_id == caller.tenant_id => key,
            _ => return Err(Error::NotFound("API key")),
        };
        // The report is charged against every budget above the key too: its ancestors',
        // its user's and its tenant's.
        let meters = match self.config.owner_budgets {
            true => owner_meters(&key.tenant_id, &key.user_id),
            false => Vec::new(),
        };
        let chain = self
            .store
            .get_api_key_chain(&key.id, &key.lineage, &meters)
            .await?
            .ok_or(Error::NotFound("API key"))?;
        let ancestors: Vec<&ApiKey> = chain.ancestors.iter().flatten().collect();
        let above = above_keys(&meters, chain.owner_budgets.clone());
        if let Some(model) = report.model.as_deref()
            && !key
                .narrowed_by(ancestors.iter().copied())
                .models
                .intersection(&above.models)
                .allows(model)
        {
            // Refused before anything is charged: the call should not have been made.
            return Err(Error::Forbidden(format!(
                "the key may not use the model '{model}' (FORBIDDEN_MODEL); nothing was charged"
            )));
        }
        let end_users = end_user.as_deref().map_or_else(Vec::new, |end_user| {
            end_user_budgets(end_user, &key, &chain.ancestors)
        });
        let now = now_epoch();
        let hour = current_hour(now);
        // The key's own meter always records the units (its usage totals), metered or not;
        // a request id reported through a successor and again through its predecessor is
        // still charged once (they share the meter).
        let mut charges = vec![UsageCharge {
            meter_id: &key.meter_id,
            credits: credits_check(&key.metering, now),
            windows: unit_windows(&key.metering, &kind, now),
        }];
        for budget in &end_users {
            charges.push(UsageCharge {
                meter_id: &budget.meter_id,
                credits: credits_check(&budget.metering, now),
                windows: unit_windows(&budget.metering, &kind, now),
            });
        }
        for ancestor in &ancestors {
            if ancestor.metering.is_metered()
                && !charges.iter().any(|c| c.meter_id == ancestor.meter_id)
            {
                charges.push(UsageCharge {
                    meter_id: &ancestor.meter_id,
                    credits: credits_check(&ancestor.metering, now),
                    windows: unit_windows(&ancestor.metering, &kind, now),
                });
            }
        }
        for budget in &above.charged {
            charges.push(UsageCharge {
                meter_id: &budget.meter_id,
                credits: credits_check(&budget.metering, now),
                windows: unit_windows(&budget.metering, &kind, now),
            });
        }
        let plan = UsagePlan {
            charges,
            hour,
            kind: &kind,
            units,
            request_id,
            now,
        };
        for _ in 0..MAX_ATTEMPTS {
            match self.store.report_usage(&plan).await? {
                outcome @ (Reported::Recorded | Reported::Duplicate) => {
                    let remaining = self.credits_remaining(&key.meter_id, &key.metering).await?;
                    return Ok(ReportOutcome {
                        key_id: key.id.clone(),
                        duplicate: matches!(outcome, Reported::Duplicate),
                        credits_remaining: remaining,
                    });
                }
                Reported::Stale(index) => {
                    let charge = &plan.charges[index];
                    let seen = self.store.read_meter(charge.meter_id).await?;
                    self.store
                        .roll_meter(
                            charge.meter_id,
                            &seen,
                            hour,
                            &charge.windows,
                            charge.credits.as_ref(),
                        )
                        .await?;
                }
            }
        }
        Err(contention())
    }

    /// `GET /v1/api-keys/{id}/usage`: a key's usage per hour or day between `from` and `to`
    /// (epoch seconds). Tenant admins read any key of their tenant, users their own. Usage
    /// is its meter's: a rolled key and its successors answer the same figures.
    pub async fn read_usage(
        &self,
        caller: &Principal,
        key_id: &str,
        from: i64,
        to: i64,
        granularity: Granularity,
    ) -> Result<(Vec<UsagePeriod>, Option<i64>), Error> {
        caller.require_full_key()?;
        let key = match self.store.get_api_key(key_id).await? {
            Some((key, _))
                if key.tenant_id == caller.tenant_id
                    && (key.user_id == caller.user_id || caller.user_role == UserRole::Admin) =>
            {
                key
            }
            _ => return Err(Error::NotFound("API key")),
        };
        let (from_hour, to_hour) = (current_hour(from), current_hour(to));
        let max_hours = ((to_hour - from_hour) / HOUR_SECS + 1) as usize;
        let mut hours = self
            .store
            .usage_hours(&key.meter_id, from_hour, to_hour, max_hours)
            .await?;
        // The hour in progress still lives on the meter item.
        let meter = self.store.read_meter(&key.meter_id).await?;
        if let Some(hour) = meter.hour
            && (from_hour..=to_hour).contains(&hour)
            && !hours.iter().any(|h| h.hour == hour)
        {
            hours.push(meter.totals.clone());
        }
        let remaining = self.credits_remaining(&key.meter_id, &key.metering).await?;
        Ok((group(hours, granularity), remaining))
    }
}

/// Which limit (or the balance) refuses a request of `cost` at `status`, if any.
fn refusal(metering: &Metering, status: &MeterStatus, cost: i64, now: i64) -> Option<Refusal> {
    if let Some(full) = status.limits.iter().find(|l| l.remaining == 0) {
        let retry = status
            .limits
            .iter()
            .filter(|l| l.remaining == 0)
            .map(|l| l.reset_secs)
            .max()
            .unwrap_or(full.reset_secs);
        return Some(Refusal {
            reason: RefusalReason::RateLimited(full.name.clone()),
            status: status.clone(),
            retry_after_secs: Some(retry.max(1)),
        });
    }
    if let Some(remaining) = status.credits_remaining
        && remaining < cost
    {
        let next_refill = metering
            .credits
            .as_ref()
            .and_then(|c| c.refill.as_ref())
            .map(|refill| (refill_period(now, refill).1 - now).max(1));
        return Some(Refusal {
            reason: RefusalReason::CreditsExhausted,
            status: status.clone(),
            retry_after_secs: next_refill,
        });
    }
    None
}

fn group(mut hours: Vec<HourTotals>, granularity: Granularity) -> Vec<UsagePeriod> {
    hours.sort_by_key(|h| h.hour);
    let mut periods: Vec<UsagePeriod> = Vec::new();
    for hour in hours {
        let start = match granularity {
            Granularity::Hour => hour.hour,
            Granularity::Day => hour.hour - hour.hour.rem_euclid(86_400),
        };
        if periods.last().is_none_or(|p| p.start != start) {
            periods.push(UsagePeriod {
                start,
                ..UsagePeriod::default()
            });
        }
        let period = periods.last_mut().expect("pushed above");
        period.admitted += hour.admitted;
        period.spent += hour.spent;
        for (reason, count) in hour.refused {
            *period.refused.entry(reason).or_default() += count;
        }
        for (kind, units) in hour.units {
            *period.units.entry(kind).or_default() += units;
        }
    }
    periods
}
