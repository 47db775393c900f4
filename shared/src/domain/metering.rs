//! Metering rules: named rate limits over fixed windows, a credits balance with an optional
//! refill, what a request may spend, and why one is refused. Counting happens in the store;
//! this module only says what the numbers mean.

use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use super::Invalid;

pub const MAX_RATE_LIMITS: usize = 5;
pub const MAX_WINDOW_SECS: u32 = 86_400;
pub const MAX_LIMIT: u32 = 1_000_000_000;
pub const MAX_CREDITS: i64 = 1_000_000_000_000;
const DAY_SECS: i64 = 86_400;

/// What a limit counts when it names no unit: admitted requests.
pub const REQUESTS: &str = "requests";

/// At most `limit` of `unit` per fixed window of `window_secs`, windows aligned on the epoch.
/// The unit `requests` counts admitted requests; any other unit (`tokens_out` ...) counts
/// what usage reports of that kind record, and admission refuses while the window is at or
/// over its limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub name: String,
    pub limit: u32,
    pub window_secs: u32,
    #[serde(default = "requests_unit", skip_serializing_if = "is_requests")]
    pub unit: String,
}

fn requests_unit() -> String {
    REQUESTS.to_owned()
}

fn is_requests(unit: &str) -> bool {
    unit == REQUESTS
}

impl RateLimit {
    /// Whether admission counts this limit (else usage reports of its unit do).
    pub fn counts_requests(&self) -> bool {
        is_requests(&self.unit)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefillInterval {
    Daily,
    Monthly,
}

impl RefillInterval {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Daily => "daily",
            Self::Monthly => "monthly",
        }
    }
}

/// At each period start (UTC midnight, or the `day` of each month) the balance becomes `amount`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refill {
    pub interval: RefillInterval,
    pub amount: i64,
    /// Day of the month a monthly refill happens (1..=28); 1 when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<u8>,
}

/// The credits a key holds: `remaining` is the balance when set (the store keeps it live).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credits {
    pub remaining: i64,
    pub refill: Option<Refill>,
}

/// What a key is metered by. Empty (no limits, no credits) means unmetered: nothing is counted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Metering {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ratelimits: Vec<RateLimit>,
    /// Present when the key has a credits balance (the balance itself lives in the store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credits: Option<CreditsPolicy>,
}

/// The stored, static part of a key's credits: whether and how it refills.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CreditsPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refill: Option<Refill>,
    /// The balance a meter starts with when first used (an end-user budget: each end
    /// user's meter is made by its first request). A key's meter is made with the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial: Option<i64>,
}

impl Metering {
    pub fn is_metered(&self) -> bool {
        !self.ratelimits.is_empty() || self.credits.is_some()
    }
}

/// One budget a request is charged against: the meter that counts it and what that meter
/// is metered by. A request is charged against its key's budget and every budget above it
/// (the keys the key was created by), and admitted only if all of them admit it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub meter_id: String,
    pub metering: Metering,
}

/// The budgets a request of a key is charged against, nearest first: the key's own (when it
/// is metered), then each metered key of its lineage. Two keys sharing a meter (a roll's
/// successor under its predecessor) count once.
pub fn budget_chain<'a>(
    own: Option<(&'a str, &'a Metering)>,
    ancestors: impl IntoIterator<Item = (&'a str, &'a Metering)>,
) -> Vec<Budget> {
    let mut chain: Vec<Budget> = Vec::new();
    for (meter_id, metering) in own.into_iter().chain(ancestors) {
        if metering.is_metered() && !chain.iter().any(|b| b.meter_id == meter_id) {
            chain.push(Budget {
                meter_id: meter_id.to_owned(),
                metering: metering.clone(),
            });
        }
    }
    chain
}

/// The meter of one end user under a key with an end-user budget: every temp token minted
/// for that end user through the key draws on it. (A meter id is a 26-character ULID, so the
/// pair is unambiguous; `/` is not among an end user's characters.)
pub fn end_user_meter_id(key_meter_id: &str, end_user: &str) -> String {
    format!("{key_meter_id}/{end_user}")
}

/// Client input for an end-user budget (`end_user_budget`), before validation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndUserBudgetInput {
    pub ratelimits: Option<Vec<RateLimitInput>>,
    pub credits: Option<CreditsInput>,
}

/// Validates an end-user budget: limits and credits as a key's (each end user starts with
/// `credits.remaining`); at least one of them.
pub fn parse_end_user_budget(field: &str, raw: &EndUserBudgetInput) -> Result<Metering, Invalid> {
    let ratelimits = match &raw.ratelimits {
        Some(limits) => parse_ratelimits(&format!("{field}.ratelimits"), limits)?,
        None => Vec::new(),
    };
    let credits = raw
        .credits
        .as_ref()
        .map(|credits| parse_credits(&format!("{field}.credits"), credits))
        .transpose()?
        .map(|credits| CreditsPolicy {
            refill: credits.refill,
            initial: Some(credits.remaining),
        });
    let budget = Metering {
        ratelimits,
        credits,
    };
    if !budget.is_metered() {
        return Err(Invalid::new(
            field,
            "needs ratelimits or credits (null removes the budget)",
        ));
    }
    Ok(budget)
}

/// Client input for rate limits, before validation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitInput {
    pub name: String,
    pub limit: i64,
    pub window_secs: i64,
    /// `requests` (the default) or a usage kind (`tokens_out` ...).
    #[serde(default)]
    pub unit: Option<String>,
}

/// Client input for credits, before validation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditsInput {
    pub remaining: i64,
    pub refill: Option<RefillInput>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefillInput {
    pub interval: String,
    pub amount: i64,
    pub day: Option<i64>,
}

/// Validates rate limits: 1..=5 of them, names unique, window 1 s .. 1 day.
pub fn parse_ratelimits(field: &str, raw: &[RateLimitInput]) -> Result<Vec<RateLimit>, Invalid> {
    if raw.len() > MAX_RATE_LIMITS {
        return Err(Invalid::new(
            field,
            format!("at most {MAX_RATE_LIMITS} rate limits"),
        ));
    }
    let mut limits: Vec<RateLimit> = Vec::with_capacity(raw.len());
    for (index, input) in raw.iter().enumerate() {
        let at = |name: &str| format!("{field}[{index}].{name}");
        let name = input.name.trim();
        let name_ok = !name.is_empty()
            && name.len() <= 32
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !name_ok {
            return Err(Invalid::new(
                at("name"),
                "must be 1 to 32 letters, digits, '_' or '-'",
            ));
        }
        if limits.iter().any(|l| l.name == name) {
            return Err(Invalid::new(at("name"), "names must be unique"));
        }
        if !(1..=i64::from(MAX_LIMIT)).contains(&input.limit) {
            return Err(Invalid::new(
                at("limit"),
                format!("must be an integer from 1 to {MAX_LIMIT}"),
            ));
        }
        if !(1..=i64::from(MAX_WINDOW_SECS)).contains(&input.window_secs) {
            return Err(Invalid::new(
                at("window_secs"),
                format!("must be an integer from 1 to {MAX_WINDOW_SECS} (one day)"),
            ));
        }
        let unit = match input.unit.as_deref() {
            None | Some(REQUESTS) => REQUESTS.to_owned(),
            Some(kind) => parse_usage_kind(&at("unit"), kind)?,
        };
        limits.push(RateLimit {
            name: name.to_owned(),
            limit: input.limit as u32,
            window_secs: input.window_secs as u32,
            unit,
        });
    }
    Ok(limits)
}

/// Validates credits: a balance of 0.. and an optional refill (daily, or monthly on day 1..=28).
pub fn parse_credits(field: &str, raw: &CreditsInput) -> Result<Credits, Invalid> {
    if !(0..=MAX_CREDITS).contains(&raw.remaining) {
        return Err(Invalid::new(
            format!("{field}.remaining"),
            format!("must be an integer from 0 to {MAX_CREDITS}"),
        ));
    }
    let refill = match &raw.refill {
        None => None,
        Some(refill) => {
            let interval = match refill.interval.as_str() {
                "daily" => RefillInterval::Daily,
                "monthly" => RefillInterval::Monthly,
                _ => {
                    return Err(Invalid::new(
                        format!("{field}.refill.interval"),
                        "must be \"daily\" or \"monthly\"",
                    ));
                }
            };
            if !(1..=MAX_CREDITS).contains(&refill.amount) {
                return Err(Invalid::new(
                    format!("{field}.refill.amount"),
                    format!("must be an integer from 1 to {MAX_CREDITS}"),
                ));
            }
            let day = match (interval, refill.day) {
                (_, None) => None,
                (RefillInterval::Monthly, Some(day)) if (1..=28).contains(&day) => Some(day as u8),
                (RefillInterval::Monthly, Some(_)) => {
                    return Err(Invalid::new(
                        format!("{field}.refill.day"),
                        "must be a day of the month from 1 to 28",
                    ));
                }
                (RefillInterval::Daily, Some(_)) => {
                    return Err(Invalid::new(
                        format!("{field}.refill.day"),
                        "applies only to a monthly refill",
                    ));
                }
            };
            Some(Refill {
                interval,
                amount: refill.amount,
                day,
            })
        }
    };
    Ok(Credits {
        remaining: raw.remaining,
        refill,
    })
}

/// The start of the fixed window holding `now`.
pub fn window_start(now: i64, window_secs: u32) -> i64 {
    now - now.rem_euclid(i64::from(window_secs))
}

/// The start of the refill period holding `now`, and the start of the next one (UTC).
pub fn refill_period(now: i64, refill: &Refill) -> (i64, i64) {
    match refill.interval {
        RefillInterval::Daily => {
            let start = now - now.rem_euclid(DAY_SECS);
            (start, start + DAY_SECS)
        }
        RefillInterval::Monthly => {
            let day = refill.day.unwrap_or(1);
            let today = OffsetDateTime::from_unix_timestamp(now)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH)
                .date();
            let (mut year, mut month) = (today.year(), today.month());
            if today.day() < day {
                (year, month) = previous_month(year, month);
            }
            let (next_year, next_month) = next_month(year, month);
            (
                month_day_epoch(year, month, day),
                month_day_epoch(next_year, next_month, day),
            )
        }
    }
}

fn previous_month(year: i32, month: Month) -> (i32, Month) {
    match month {
        Month::January => (year - 1, Month::December),
        other => (year, other.previous()),
    }
}

fn next_month(year: i32, month: Month) -> (i32, Month) {
    match month {
        Month::December => (year + 1, Month::January),
        other => (year, other.next()),
    }
}

fn month_day_epoch(year: i32, month: Month, day: u8) -> i64 {
    Date::from_calendar_date(year, month, day)
        .map(|date| {
            PrimitiveDateTime::new(date, Time::MIDNIGHT)
                .assume_utc()
                .unix_timestamp()
        })
        .unwrap_or(0)
}

/// Rights only narrow: a key's metering may be set only as tight as the caller's own.
/// Every caller limit must be matched by a limit at least as tight (a window that is a whole
/// multiple of the caller's, so each caller window lies inside one of it, and no higher
/// count); a caller with credits may hand out only credits (no more than its `balance`,
/// refilling no more and no more often than its own).
pub fn within(
    wanted: &Metering,
    wanted_remaining: Option<i64>,
    caller: &Metering,
    caller_balance: Option<i64>,
) -> Result<(), String> {
    for own in &caller.ratelimits {
        let covered = wanted.ratelimits.iter().any(|limit| {
            limit.unit == own.unit
                && limit.window_secs % own.window_secs == 0
                && limit.limit <= own.limit
        });
        if !covered {
            return Err(format!(
                "this credential is limited to {} {} per {} s (\"{}\"); it may set only limits at least as tight",
                own.limit, own.unit, own.window_secs, own.name
            ));
        }
    }
    if let Some(own) = &caller.credits {
        let Some(credits) = &wanted.credits else {
            return Err("this credential has credits; it may not set a key without them".into());
        };
        if wanted_remaining.unwrap_or(0) > caller_balance.unwrap_or(0) {
            return Err("a key may not be given more credits than this credential holds".into());
        }
        let refill_ok = match (&credits.refill, &own.refill) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(new), Some(own)) => {
                new.amount <= own.amount
                    && (new.interval == own.interval || new.interval == RefillInterval::Monthly)
            }
        };
        if !refill_ok {
            return Err("a key's refill may not exceed this credential's own".into());
        }
    }
    Ok(())
}

/// Where one limit stands after (or at) an admission decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitStatus {
    pub name: String,
    pub limit: u32,
    pub window_secs: u32,
    pub remaining: u32,
    /// Seconds until the window resets.
    pub reset_secs: i64,
}

/// The state of every limit and the balance, for headers and the verify API.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MeterStatus {
    pub limits: Vec<LimitStatus>,
    pub credits_remaining: Option<i64>,
}

impl MeterStatus {
    /// Where a chain of budgets stands together, nearest first: every limit of each, and
    /// the smallest balance (the most the chain may still spend).
    pub fn combined(statuses: Vec<MeterStatus>) -> Option<MeterStatus> {
        if statuses.is_empty() {
            return None;
        }
        let credits_remaining = statuses.iter().filter_map(|s| s.credits_remaining).min();
        Some(MeterStatus {
            limits: statuses.into_iter().flat_map(|s| s.limits).collect(),
            credits_remaining,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusalReason {
    /// The named limit is used up for its current window.
    RateLimited(String),
    /// The balance cannot cover the request's cost.
    CreditsExhausted,
}

impl RefusalReason {
    /// The counter a refusal is recorded under in usage totals.
    pub const fn counter(&self) -> &'static str {
        match self {
            Self::RateLimited(_) => "rate_limited",
            Self::CreditsExhausted => "usage_exceeded",
        }
    }
}

/// Why a request was refused, where every counter stands, and when trying again may succeed
/// (`None`: credits that never refill).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: RefusalReason,
    pub status: MeterStatus,
    pub retry_after_secs: Option<i64>,
}

impl Refusal {
    pub fn message(&self) -> String {
        match &self.reason {
            RefusalReason::RateLimited(name) => {
                let limit = self.status.limits.iter().find(|l| &l.name == name);
                match limit {
                    Some(l) => format!(
                        "rate limit \"{}\" ({} per {} s) reached; retry in {} s",
                        l.name, l.limit, l.window_secs, l.reset_secs
                    ),
                    None => format!("rate limit \"{name}\" reached"),
                }
            }
            RefusalReason::CreditsExhausted => "credits exhausted".to_owned(),
        }
    }
}

/// A usage kind: `tokens_in`, `tokens_out`, or any short lowercase name.
pub fn parse_usage_kind(field: &str, raw: &str) -> Result<String, Invalid> {
    let ok = !raw.is_empty()
        && raw.len() <= 32
        && raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(Invalid::new(
            field,
            "must be 1 to 32 lowercase letters, digits or '_' (e.g. tokens_in, tokens_out)",
        ))
    }
}

/// Units in one usage report: 0..=MAX_UNITS_PER_REPORT (the overspend bound uses it).
pub const MAX_UNITS_PER_REPORT: i64 = 10_000_000;

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(name: &str, limit: i64, window_secs: i64) -> RateLimitInput {
        RateLimitInput {
            name: name.into(),
            limit,
            window_secs,
            unit: None,
        }
    }

    #[test]
    fn a_limit_counts_requests_unless_it_names_a_unit() {
        let requests = parse_ratelimits("ratelimits", &[limit("r", 5, 60)]).unwrap();
        assert!(requests[0].counts_requests());
        let tpm = RateLimitInput {
            unit: Some("tokens_out".into()),
            ..limit("tpm", 100_000, 60)
        };
        let parsed = parse_ratelimits("ratelimits", std::slice::from_ref(&tpm)).unwrap();
        assert_eq!(parsed[0].unit, "tokens_out");
        assert!(!parsed[0].counts_requests());
        let bad = RateLimitInput {
            unit: Some("Tokens Out".into()),
            ..tpm
        };
        assert_eq!(
            parse_ratelimits("ratelimits", &[bad]).unwrap_err().field,
            "ratelimits[0].unit"
        );
        // Stored without a unit (every key before units existed) reads as requests.
        let stored: RateLimit =
            serde_json::from_str(r#"{"name":"r","limit":1,"window_secs":1}"#).unwrap();
        assert!(stored.counts_requests());
        assert_eq!(
            serde_json::to_string(&stored).unwrap(),
            r#"{"name":"r","limit":1,"window_secs":1}"#
        );
        // A unit limit is covered only by a limit of the same unit.
        let caller = Metering {
            ratelimits: parsed,
            credits: None,
        };
        let by_requests = Metering {
            ratelimits: parse_ratelimits("ratelimits", &[limit("x", 10, 60)]).unwrap(),
            credits: None,
        };
        assert!(within(&by_requests, None, &caller, None).is_err());
        assert!(within(&caller, None, &caller, None).is_ok());
    }

    #[test]
    fn rate_limits_are_validated_naming_the_field() {
        assert_eq!(
            parse_ratelimits("ratelimits", &[limit("requests", 100, 60)]).unwrap()[0].limit,
            100
        );
        let err = parse_ratelimits("ratelimits", &[limit("a", 1, 1), limit("b", 0, 1)]);
        assert_eq!(err.unwrap_err().field, "ratelimits[1].limit");
        let err = parse_ratelimits("ratelimits", &[limit("a", 1, 86_401)]);
        assert_eq!(err.unwrap_err().field, "ratelimits[0].window_secs");
        let err = parse_ratelimits("ratelimits", &[limit("a", 1, 1), limit("a", 2, 2)]);
        assert_eq!(err.unwrap_err().field, "ratelimits[1].name");
        let six: Vec<_> = (0..6).map(|i| limit(&format!("l{i}"), 1, 1)).collect();
        assert_eq!(
            parse_ratelimits("ratelimits", &six).unwrap_err().field,
            "ratelimits"
        );
    }

    #[test]
    fn credits_are_validated_naming_the_field() {
        let input = |interval: &str, day| CreditsInput {
            remaining: 10,
            refill: Some(RefillInput {
                interval: interval.into(),
                amount: 5,
                day,
            }),
        };
        assert!(parse_credits("credits", &input("monthly", Some(28))).is_ok());
        assert_eq!(
            parse_credits("credits", &input("monthly", Some(29)))
                .unwrap_err()
                .field,
            "credits.refill.day"
        );
        assert_eq!(
            parse_credits("credits", &input("weekly", None))
                .unwrap_err()
                .field,
            "credits.refill.interval"
        );
        assert_eq!(
            parse_credits("credits", &input("daily", Some(3)))
                .unwrap_err()
                .field,
            "credits.refill.day"
        );
    }

    #[test]
    fn windows_and_periods_are_aligned_in_utc() {
        assert_eq!(window_start(125, 60), 120);
        let daily = Refill {
            interval: RefillInterval::Daily,
            amount: 1,
            day: None,
        };
        // 2026-11-25T14:00:00Z
        let now = 1_795_615_200;
        assert_eq!(refill_period(now, &daily), (1_795_564_800, 1_795_651_200));
        let monthly = Refill {
            interval: RefillInterval::Monthly,
            amount: 1,
            day: Some(28),
        };
        // 2026-10-28T00:00:00Z .. 2026-11-28T00:00:00Z
        assert_eq!(refill_period(now, &monthly), (1_793_145_600, 1_795_824_000));
        let first = Refill {
            day: None,
            ..monthly
        };
        // 2026-11-01 .. 2026-12-01
        assert_eq!(refill_period(now, &first), (1_793_491_200, 1_796_083_200));
    }

    #[test]
    fn rights_only_narrow() {
        let caller = Metering {
            ratelimits: vec![RateLimit {
                name: "requests".into(),
                limit: 10,
                window_secs: 1,
                unit: REQUESTS.into(),
            }],
            credits: Some(CreditsPolicy::default()),
        };
        let tighter = Metering {
            ratelimits: vec![RateLimit {
                name: "x".into(),
                limit: 5,
                window_secs: 2,
                unit: REQUESTS.into(),
            }],
            credits: Some(CreditsPolicy::default()),
        };
        assert!(within(&tighter, Some(5), &caller, Some(10)).is_ok());
        assert!(within(&tighter, Some(11), &caller, Some(10)).is_err());
        assert!(within(&Metering::default(), None, &caller, Some(10)).is_err());
        let looser = Metering {
            ratelimits: vec![RateLimit {
                name: "x".into(),
                limit: 50,
                window_secs: 1,
                unit: REQUESTS.into(),
            }],
            ..tighter
        };
        assert!(within(&looser, Some(1), &caller, Some(10)).is_err());
        assert!(within(&looser, None, &Metering::default(), None).is_ok());
    }

    #[test]
    fn metered_means_a_limit_or_credits() {
        assert!(!Metering::default().is_metered());
        let limited = Metering {
            ratelimits: vec![RateLimit {
                name: "r".into(),
                limit: 1,
                window_secs: 1,
                unit: REQUESTS.into(),
            }],
            credits: None,
        };
        assert!(limited.is_metered());
        let with_credits = Metering {
            ratelimits: Vec::new(),
            credits: Some(CreditsPolicy::default()),
        };
        assert!(with_credits.is_metered());
        assert_eq!(RefillInterval::Daily.as_str(), "daily");
        assert_eq!(RefillInterval::Monthly.as_str(), "monthly");
    }

    #[test]
    fn rate_limits_are_accepted_up_to_their_bounds() {
        let five: Vec<_> = (0..5).map(|i| limit(&format!("l{i}"), 1, 1)).collect();
        assert_eq!(parse_ratelimits("r", &five).unwrap().len(), 5);
        let top = parse_ratelimits("r", &[limit(&"n".repeat(32), 1_000_000_000, 86_400)]);
        assert_eq!(
            top.unwrap(),
            [RateLimit {
                name: "n".repeat(32),
                limit: 1_000_000_000,
                window_secs: 86_400,
                unit: REQUESTS.into(),
            }]
        );
        for bad in [
            limit(&"n".repeat(33), 1, 1),
            limit("", 1, 1),
            limit("a b", 1, 1),
            limit("a", 1_000_000_001, 1),
            limit("a", 1, 0),
        ] {
            assert!(
                parse_ratelimits("r", std::slice::from_ref(&bad)).is_err(),
                "{bad:?}"
            );
        }
        assert!(parse_ratelimits("r", &[limit("a_b-1", 1, 1)]).is_ok());
    }

    #[test]
    fn credits_are_accepted_up_to_their_bounds() {
        let credits = |remaining, amount, interval: &str, day| CreditsInput {
            remaining,
            refill: Some(RefillInput {
                interval: interval.into(),
                amount,
                day,
            }),
        };
        let top = parse_credits("c", &credits(MAX_CREDITS, MAX_CREDITS, "daily", None)).unwrap();
        assert_eq!(top.remaining, MAX_CREDITS);
        assert_eq!(
            top.refill,
            Some(Refill {
                interval: RefillInterval::Daily,
                amount: MAX_CREDITS,
                day: None
            })
        );
        let first = parse_credits("c", &credits(0, 1, "monthly", Some(1))).unwrap();
        assert_eq!(first.refill.unwrap().day, Some(1));
        for (bad, field) in [
            (credits(-1, 1, "daily", None), "c.remaining"),
            (credits(MAX_CREDITS + 1, 1, "daily", None), "c.remaining"),
            (credits(0, 0, "daily", None), "c.refill.amount"),
            (
                credits(0, MAX_CREDITS + 1, "daily", None),
                "c.refill.amount",
            ),
            (credits(0, 1, "monthly", Some(0)), "c.refill.day"),
        ] {
            assert_eq!(parse_credits("c", &bad).unwrap_err().field, field);
        }
        let none = parse_credits(
            "c",
            &CreditsInput {
                remaining: 3,
                refill: None,
            },
        )
        .unwrap();
        assert_eq!(
            none,
            Credits {
                remaining: 3,
                refill: None
            }
        );
    }

    #[test]
    fn windows_start_on_their_boundary() {
        assert_eq!(window_start(120, 60), 120);
        assert_eq!(window_start(179, 60), 120);
        assert_eq!(window_start(-1, 60), -60);
        let daily = Refill {
            interval: RefillInterval::Daily,
            amount: 1,
            day: None,
        };
        assert_eq!(refill_period(86_400, &daily), (86_400, 172_800));
        // A monthly refill on its very day starts that day; in December the next is January.
        let on_the_5th = Refill {
            interval: RefillInterval::Monthly,
            amount: 1,
            day: Some(5),
        };
        // 2026-12-05T00:00:00Z .. 2027-01-05T00:00:00Z
        assert_eq!(
            refill_period(1_796_428_800, &on_the_5th),
            (1_796_428_800, 1_799_107_200)
        );
        // 2027-01-04T12:00:00Z: still the period from 2026-12-05.
        assert_eq!(
            refill_period(1_799_064_000, &on_the_5th),
            (1_796_428_800, 1_799_107_200)
        );
    }

    fn limited(limit: u32, window_secs: u32) -> Metering {
        Metering {
            ratelimits: vec![RateLimit {
                name: "r".into(),
                limit,
                window_secs,
                unit: REQUESTS.into(),
            }],
            credits: None,
        }
    }

    #[test]
    fn a_request_is_charged_once_against_every_metered_budget_of_its_chain() {
        let tight = limited(1, 60);
        let loose = limited(100, 60);
        let unmetered = Metering::default();
        let ids = |chain: Vec<Budget>| chain.into_iter().map(|b| b.meter_id).collect::<Vec<_>>();
        let chain = budget_chain(
            Some(("key", &tight)),
            [
                ("parent", &unmetered),
                ("grandparent", &loose),
                ("key", &tight),
                ("grandparent", &loose),
            ],
        );
        assert_eq!(chain[0].metering, tight);
        assert_eq!(chain[1].metering, loose);
        assert_eq!(ids(chain), ["key", "grandparent"]);
        assert_eq!(ids(budget_chain(None, [("parent", &tight)])), ["parent"]);
        assert!(budget_chain(Some(("key", &unmetered)), [("parent", &unmetered)]).is_empty());
    }

    #[test]
    fn a_chain_stands_at_every_limit_and_its_smallest_balance() {
        let status = |name: &str, credits: Option<i64>| MeterStatus {
            limits: vec![LimitStatus {
                name: name.into(),
                limit: 10,
                window_secs: 60,
                remaining: 3,
                reset_secs: 7,
            }],
            credits_remaining: credits,
        };
        assert_eq!(MeterStatus::combined(Vec::new()), None);
        let combined = MeterStatus::combined(vec![
            status("own", None),
            status("parent", Some(40)),
            status("top", Some(5)),
        ])
        .unwrap();
        let names: Vec<&str> = combined.limits.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["own", "parent", "top"]);
        assert_eq!(combined.credits_remaining, Some(5));
        assert_eq!(
            MeterStatus::combined(vec![status("own", None)]),
            Some(status("own", None))
        );
    }

    #[test]
    fn limits_as_tight_as_the_callers_pass_and_no_looser() {
        let caller = limited(10, 60);
        assert!(
            within(&limited(10, 60), None, &caller, None).is_ok(),
            "equal"
        );
        assert!(
            within(&limited(10, 120), None, &caller, None).is_ok(),
            "a multiple"
        );
        assert!(
            within(&limited(11, 60), None, &caller, None).is_err(),
            "more"
        );
        assert!(
            within(&limited(10, 90), None, &caller, None).is_err(),
            "not a multiple"
        );
        assert!(
            within(&limited(10, 30), None, &caller, None).is_err(),
            "shorter"
        );
        assert!(
            within(&Metering::default(), None, &caller, None).is_err(),
            "none"
        );
    }

    #[test]
    fn credits_and_refills_no_larger_than_the_callers() {
        let refill = |interval, amount| {
            Some(Refill {
                interval,
                amount,
                day: None,
            })
        };
        let with = |r: Option<Refill>| Metering {
            ratelimits: Vec::new(),
            credits: Some(CreditsPolicy {
                refill: r,
                initial: None,
            }),
        };
        let caller = with(refill(RefillInterval::Daily, 100));
        let ok =
            |wanted: &Metering, remaining| within(wanted, remaining, &caller, Some(50)).is_ok();
        assert!(ok(&with(None), Some(50)), "the whole balance");
        assert!(!ok(&with(None), Some(51)), "more than the balance");
        assert!(ok(&with(None), None), "no balance given: none");
        assert!(
            ok(&with(refill(RefillInterval::Daily, 100)), Some(0)),
            "the same refill"
        );
        assert!(
            !ok(&with(refill(RefillInterval::Daily, 101)), Some(0)),
            "a larger one"
        );
        assert!(
            ok(&with(refill(RefillInterval::Monthly, 100)), Some(0)),
            "less often"
        );
        let monthly = with(refill(RefillInterval::Monthly, 100));
        assert!(
            within(
                &with(refill(RefillInterval::Daily, 1)),
                Some(0),
                &monthly,
                Some(50)
            )
            .is_err(),
            "more often"
        );
        let no_refill = with(None);
        assert!(
            within(
                &with(refill(RefillInterval::Monthly, 1)),
                Some(0),
                &no_refill,
                Some(50)
            )
            .is_err(),
            "a refill the caller lacks"
        );
        assert!(
            within(&limited(1, 1), None, &no_refill, Some(50)).is_err(),
            "credits dropped"
        );
    }

    #[test]
    fn a_refusal_says_which_limit_and_when() {
        let status = MeterStatus {
            limits: vec![LimitStatus {
                name: "burst".into(),
                limit: 10,
                window_secs: 1,
                remaining: 0,
                reset_secs: 1,
            }],
            credits_remaining: None,
        };
        let refusal = Refusal {
            reason: RefusalReason::RateLimited("burst".into()),
            status: status.clone(),
            retry_after_secs: Some(1),
        };
        assert_eq!(
            refusal.message(),
            "rate limit \"burst\" (10 per 1 s) reached; retry in 1 s"
        );
        assert_eq!(refusal.reason.counter(), "rate_limited");
        assert_eq!(RefusalReason::CreditsExhausted.counter(), "usage_exceeded");
        let other = Refusal {
            reason: RefusalReason::RateLimited("other".into()),
            ..refusal
        };
        assert_eq!(other.message(), "rate limit \"other\" reached");
        let broke = Refusal {
            reason: RefusalReason::CreditsExhausted,
            status,
            retry_after_secs: None,
        };
        assert_eq!(broke.message(), "credits exhausted");
    }

    #[test]
    fn usage_kinds_are_short_lowercase_names() {
        assert_eq!(parse_usage_kind("k", "tokens_in").unwrap(), "tokens_in");
        assert!(parse_usage_kind("k", &"a".repeat(32)).is_ok());
        assert!(parse_usage_kind("k", &"a".repeat(33)).is_err());
        assert!(parse_usage_kind("k", "").is_err());
        assert!(parse_usage_kind("k", "Tokens").is_err());
        assert!(parse_usage_kind("k", "t1").is_ok());
    }
}
