//! One event on its way to one webhook endpoint: what is sent, how often it was tried, and
//! what happens after an attempt. The audit event is the outbox; a delivery is made from it
//! once per endpoint that wants it, and every attempt sends the same bytes under the same
//! `webhook-id`, so a receiver de-duplicates on it.

use serde_json::{Value, json};

use super::audit::AuditEvent;
use super::clock::to_rfc3339;
use super::webhook::{DISABLE_AFTER_FAILING_SECS, Envelope, retry_delay};

/// How long an attempt holds a delivery before another sender may take it: longer than an
/// attempt can last (connect and answer within 5 s each), so one attempt runs at a time
/// unless its sender died.
pub const ATTEMPT_LEASE_SECS: i64 = 60;

/// A connection that has not answered by then is a failed attempt.
pub const ATTEMPT_TIMEOUT_SECS: u64 = 5;

/// How long a delivery's record is kept (DynamoDB TTL), for `GET .../deliveries`.
pub const KEPT_FOR_SECS: i64 = 30 * 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// A receiver answered 2xx.
    Delivered,
    /// Every retry failed, or the endpoint is gone or disabled.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|status| status.as_str() == raw)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The event's id: one delivery per event and endpoint.
    pub id: String,
    pub tenant_id: String,
    pub endpoint_id: String,
    pub event_type: String,
    /// The envelope, serialized once.
    pub body: String,
    pub status: DeliveryStatus,
    /// Attempts begun (an attempt in flight counts).
    pub attempts: u32,
    pub last_response_code: Option<u16>,
    /// Why the last attempt failed, when it did without an answer (never a response body).
    pub last_error: Option<String>,
    pub created_at: i64,
    pub last_attempt_at: Option<i64>,
    /// When the next attempt is due (while pending).
    pub next_attempt_at: Option<i64>,
}

impl Delivery {
    /// The delivery of `event` to an endpoint, its first attempt begun at `now`.
    pub fn first_attempt(event: &AuditEvent, endpoint_id: &str, now: i64) -> Self {
        Self {
            id: event.id.clone(),
            tenant_id: event.tenant_id.clone(),
            endpoint_id: endpoint_id.to_owned(),
            event_type: event.event_type.as_str().to_owned(),
            body: serde_json::to_string(&envelope_of(event)).expect("an envelope serializes"),
            status: DeliveryStatus::Pending,
            attempts: 1,
            last_response_code: None,
            last_error: None,
            created_at: now,
            last_attempt_at: Some(now),
            next_attempt_at: Some(now + ATTEMPT_LEASE_SECS),
        }
    }

    /// The `webhook-id` header: the same for every attempt.
    pub fn message_id(&self) -> String {
        format!("msg_{}", self.id)
    }

    /// This delivery once an attempt begun at `now` ended with `outcome`.
    pub fn after(mut self, outcome: &Outcome, now: i64) -> Self {
        self.last_attempt_at = Some(now);
        match outcome {
            Outcome::Answered(code) => {
                self.last_response_code = Some(*code);
                self.last_error = None;
            }
            Outcome::Failed(why) => {
                self.last_response_code = None;
                self.last_error = Some(why.clone());
            }
        }
        if outcome.succeeded() {
            self.status = DeliveryStatus::Delivered;
            self.next_attempt_at = None;
            return self;
        }
        match retry_delay(self.attempts as usize) {
            Some(wait) => self.next_attempt_at = Some(now + wait),
            None => {
                self.status = DeliveryStatus::Failed;
                self.next_attempt_at = None;
            }
        }
        self
    }

    /// This delivery with its next attempt begun at `now`.
    pub fn begun(mut self, now: i64) -> Self {
        self.status = DeliveryStatus::Pending;
        self.attempts += 1;
        self.last_attempt_at = Some(now);
        self.next_attempt_at = Some(now + ATTEMPT_LEASE_SECS);
        self
    }

    /// Given up without an attempt: the endpoint is gone or disabled.
    pub fn abandoned(mut self, why: &str, now: i64) -> Self {
        self.status = DeliveryStatus::Failed;
        self.last_error = Some(why.to_owned());
        self.last_attempt_at = Some(now);
        self.next_attempt_at = None;
        self
    }
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver answered with this status.
    Answered(u16),
    /// No answer: refused before connecting, no connection, TLS, timeout.
    Failed(String),
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        matches!(self, Self::Answered(code) if (200..300).contains(code))
    }
}

/// Whether an event (by its ULID) happened once the endpoint (by its ULID) existed: an
/// endpoint gets no event from before it was registered. Both ids carry their millisecond;
/// within the same millisecond the event counts as after.
pub fn event_is_for_endpoint(event_id: &str, endpoint_id: &str) -> bool {
    match (
        ulid::Ulid::from_string(event_id),
        ulid::Ulid::from_string(endpoint_id),
    ) {
        (Ok(event), Ok(endpoint)) => event.timestamp_ms() >= endpoint.timestamp_ms(),
        _ => false,
    }
}

/// Whether an endpoint that has failed every delivery since `failing_since` is disabled at
/// `now`.
pub fn disable_now(failing_since: i64, now: i64) -> bool {
    now - failing_since >= DISABLE_AFTER_FAILING_SECS
}

/// What a receiver gets for an audit event: its actor, target, change and detail; never the
/// caller's address or user agent, and never a secret or a hash (audit events hold none).
pub fn envelope_of(event: &AuditEvent) -> Envelope {
    Envelope {
        id: event.id.clone(),
        event_type: event.event_type.as_str().to_owned(),
        timestamp: to_rfc3339(event.at),
        tenant_id: event.tenant_id.clone(),
        data: json!({
            "actor": {
                "kind": event.actor.kind,
                "user_id": event.actor.user_id,
                "credential_id": event.actor.credential_id,
            },
            "target": { "kind": event.target.kind, "id": event.target.id },
            "subject_user_id": non_empty(&event.subject_user_id),
            "change": Value::Object(event.change.clone()),
            "detail": Value::Object(event.detail.clone()),
        }),
    }
}

fn non_empty(text: &str) -> Value {
    if text.is_empty() {
        Value::Null
    } else {
        Value::from(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit::{Actor, EventType, Origin, Target};

    fn event() -> AuditEvent {
        AuditEvent {
            id: "01KAAAAAAAAAAAAAAAAAAAAAAE".into(),
            at: 1_795_615_200,
            event_type: EventType::KeyRevoked,
            tenant_id: "01KAAAAAAAAAAAAAAAAAAAAAAT".into(),
            subject_user_id: "01KAAAAAAAAAAAAAAAAAAAAAAU".into(),
            actor: Actor {
                user_id: Some("01KAAAAAAAAAAAAAAAAAAAAAAU".into()),
                credential_id: Some("01KAAAAAAAAAAAAAAAAAAAAAAK".into()),
                kind: "api_key".into(),
            },
            target: Target {
                kind: "api_key",
                id: "01KAAAAAAAAAAAAAAAAAAAAAAK".into(),
            },
            origin: Origin {
                ip: "203.0.113.7".into(),
                user_agent: "curl/8".into(),
            },
            change: Default::default(),
            detail: Default::default(),
            purge_at: 0,
        }
    }

    #[test]
    fn the_envelope_carries_the_event_without_the_callers_address() {
        let delivery = Delivery::first_attempt(&event(), "01KAAAAAAAAAAAAAAAAAAAAAAW", 10);
        let body: Value = serde_json::from_str(&delivery.body).unwrap();
        assert_eq!(body["type"], "key.revoked");
        assert_eq!(body["timestamp"], "2026-11-25T14:00:00Z");
        assert_eq!(body["data"]["target"]["kind"], "api_key");
        assert!(!delivery.body.contains("203.0.113.7"));
        assert!(!delivery.body.contains("curl"));
        assert_eq!(delivery.message_id(), "msg_01KAAAAAAAAAAAAAAAAAAAAAAE");
    }

    #[test]
    fn failures_follow_the_schedule_then_give_up() {
        let mut delivery = Delivery::first_attempt(&event(), "w", 0);
        let failed = Outcome::Answered(500);
        delivery = delivery.after(&failed, 0);
        assert_eq!(
            delivery.next_attempt_at,
            Some(5),
            "the first retry within a minute"
        );
        for _ in 0..7 {
            delivery = delivery.begun(100).after(&failed, 100);
        }
        assert_eq!(delivery.attempts, 8);
        assert_eq!(delivery.status, DeliveryStatus::Failed);
        assert_eq!(delivery.next_attempt_at, None);
        let delivered = Delivery::first_attempt(&event(), "w", 0).after(&Outcome::Answered(204), 1);
        assert_eq!(delivered.status, DeliveryStatus::Delivered);
        assert!(
            !Outcome::Answered(302).succeeded(),
            "a redirect is not followed"
        );
    }
}
