//! Events out: the notifier turns each new audit item on the table's stream (the outbox)
//! into one delivery per endpoint of its tenant that wants it, sends it at once, and sends
//! again what is due (`deliver_due`, every minute in AWS, every moment locally). A change's
//! own write path gains nothing: everything here happens after the change committed.

use std::collections::HashMap;
use std::net::IpAddr;

use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::{Error, Services};
use crate::domain::audit::{Actor, AuditEvent, EventType, Target};
use crate::domain::clock::{now_epoch, to_rfc3339};
use crate::domain::credential::new_ulid;
use crate::domain::delivery::{
    Delivery, DeliveryStatus, Outcome, disable_now, event_is_for_endpoint,
};
use crate::domain::principal::Principal;
use crate::domain::webhook::{
    DISABLE_AFTER_FAILING_SECS, Endpoint, EndpointUrl, Envelope, MAX_ENDPOINTS_PER_TENANT,
    first_forbidden, signature_header, wants,
};
use crate::outbound::webhook_sender::Attempt;
use crate::store::stream::outbox_records;

/// How many due deliveries one sweep takes.
const SWEEP_LIMIT: u32 = 50;

impl Services {
    /// A batch of stream records (as Lambda hands them over, or as the local server reads
    /// them): the sequence number of the first record that could not be fanned out, if
    /// any. The stream is retried from there, which keeps events in order; deliveries
    /// already made are not made twice.
    pub async fn notify_from_stream(&self, batch: &Value) -> Option<String> {
        // A batch's events mostly share a few tenants: each tenant's endpoints are read once.
        let mut endpoints_of = HashMap::new();
        for record in outbox_records(batch) {
            let handled = match record.event {
                Ok(Some(event)) => {
                    let fanned = self.fan_out(&event, &mut endpoints_of).await;
                    if event.target.kind == "webhook" {
                        // An endpoint changed: later events of the batch read them again.
                        endpoints_of.remove(&event.tenant_id);
                    }
                    fanned
                }
                Ok(None) => Ok(()),
                Err(error) => Err(error.into()),
            };
            if let Err(error) = handled {
                tracing::error!(error = %error, sequence_number = %record.sequence_number, "an event was not fanned out");
                return Some(record.sequence_number);
            }
        }
        None
    }

    /// One delivery of `event` to every enabled endpoint of its tenant that wants its type
    /// and existed when it happened, each sent at once.
    async fn fan_out(
        &self,
        event: &AuditEvent,
        endpoints_of: &mut HashMap<String, Vec<Endpoint>>,
    ) -> Result<(), Error> {
        if !endpoints_of.contains_key(&event.tenant_id) {
            let (endpoints, _) = self
                .store
                .list_webhooks(&event.tenant_id, MAX_ENDPOINTS_PER_TENANT, None)
                .await?;
            endpoints_of.insert(event.tenant_id.clone(), endpoints);
        }
        let now = now_epoch();
        let mut sends = JoinSet::new();
        for endpoint in endpoints_of[&event.tenant_id].iter().cloned() {
            let wanted = endpoint.enabled
                && event_is_for_endpoint(&event.id, &endpoint.id)
                && wants(&endpoint.event_types, event.event_type.as_str());
            if !wanted {
                continue;
            }
            let delivery = Delivery::first_attempt(event, &endpoint.id, now);
            if self.store.start_delivery(&delivery).await? {
                let services = self.clone();
                sends.spawn(async move { services.attempt(&endpoint, delivery).await });
            }
        }
        finish(sends).await
    }

    /// Sends every delivery due now (up to a sweep's worth): each is taken by one sender,
    /// then sent, or given up when its endpoint is gone or disabled.
    pub async fn deliver_due(&self) -> Result<usize, Error> {
        let now = now_epoch();
        let due = self.store.due_deliveries(now, SWEEP_LIMIT).await?;
        let taken = due.len();
        let mut sends = JoinSet::new();
        for delivery in due {
            let services = self.clone();
            sends.spawn(async move { services.take_and_send(delivery, now).await });
        }
        finish(sends).await?;
        Ok(taken)
    }

    async fn take_and_send(&self, delivery: Delivery, now: i64) -> Result<(), Error> {
        let seen = delivery.attempts;
        let endpoint = self
            .store
            .get_webhook(&delivery.tenant_id, &delivery.endpoint_id)
            .await?;
        let Some(endpoint) = endpoint.filter(|e| e.enabled) else {
            let gone = delivery.abandoned("the endpoint was deleted or disabled", now);
            self.store.replace_delivery(&gone, seen).await?;
            return Ok(());
        };
        let begun = delivery.begun(now);
        if self.store.replace_delivery(&begun, seen).await? {
            self.attempt(&endpoint, begun).await?;
        }
        Ok(())
    }

    /// One attempt of a delivery this sender holds, and its outcome recorded.
    async fn attempt(&self, endpoint: &Endpoint, delivery: Delivery) -> Result<(), Error> {
        let seen = delivery.attempts;
        let outcome = self.send(endpoint, &delivery).await;
        let now = now_epoch();
        let recorded = delivery.after(&outcome, now);
        tracing::info!(
            endpoint_id = %endpoint.id,
            delivery_id = %recorded.id,
            attempt = recorded.attempts,
            status = recorded.status.as_str(),
            response_code = recorded.last_response_code,
            "webhook delivery"
        );
        self.store.replace_delivery(&recorded, seen).await?;
        if outcome.succeeded() {
            if endpoint.failing_since.is_some() {
                self.store
                    .note_delivery_succeeded(&endpoint.tenant_id, &endpoint.id)
                    .await?;
            }
            return Ok(());
        }
        let since = self
            .store
            .note_delivery_failed(&endpoint.tenant_id, &endpoint.id, now)
            .await?;
        if let Some(since) = since.filter(|since| disable_now(*since, now)) {
            self.disable_failing(endpoint, since).await?;
        }
        Ok(())
    }

    /// Sends one attempt: the destination checked again (DNS may have changed since it was
    /// registered), then a POST to the address that passed, signed with every secret in use.
    async fn send(&self, endpoint: &Endpoint, delivery: &Delivery) -> Outcome {
        let url = match EndpointUrl::parse("url", &endpoint.url, self.config.webhook_plain_loopback)
        {
            Ok(url) => url,
            Err(refused) => return Outcome::Failed(format!("refused: url {}", refused.message)),
        };
        let address = match self.destination_address(&url).await {
            Ok(address) => address,
            Err(why) => return Outcome::Failed(why),
        };
        let timestamp = now_epoch();
        let message_id = delivery.message_id();
        let secrets = self.signing_secrets(endpoint, timestamp);
        let signature = signature_header(
            &secrets.iter().collect::<Vec<_>>(),
            &message_id,
            timestamp,
            &delivery.body,
        );
        let headers = [
            ("webhook-id", message_id),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ];
        self.sender
            .send(Attempt {
                url: &url,
                address,
                headers: &headers,
                body: &delivery.body,
            })
            .await
    }

    /// The address a delivery connects to: the first the host resolves to, once every one
    /// of them is allowed. A refusal is decided here, before any connection.
    async fn destination_address(&self, url: &EndpointUrl) -> Result<IpAddr, String> {
        let addresses = self
            .resolve(url.host(), url.port())
            .await
            .map_err(|e| format!("{} does not resolve: {e}", url.host()))?;
        if !url.is_plain_loopback()
            && let Some((address, why)) = first_forbidden(&addresses)
        {
            return Err(format!(
                "refused before connecting: {} resolves to {address}, which is {why}",
                url.host()
            ));
        }
        addresses
            .first()
            .copied()
            .ok_or_else(|| format!("{} does not resolve", url.host()))
    }

    /// Disables an endpoint that has failed every delivery for three days, with a
    /// `webhook.disabled` event (which its tenant's other endpoints receive).
    async fn disable_failing(&self, endpoint: &Endpoint, since: i64) -> Result<(), Error> {
        let reason = format!(
            "every delivery failed from {} for {} days",
            to_rfc3339(since),
            DISABLE_AFTER_FAILING_SECS / 86_400
        );
        let event = self
            .audit_event(
                EventType::WebhookDisabled,
                &endpoint.tenant_id,
                "",
                Actor::system("notifier", None),
                Target {
                    kind: "webhook",
                    id: endpoint.id.clone(),
                },
            )
            .with_detail("reason", reason.clone());
        self.store
            .disable_failing_webhook(&endpoint.tenant_id, &endpoint.id, since, &reason, &event)
            .await?;
        Ok(())
    }

    /// How many connections this instance's deliveries have begun to open.
    pub fn webhook_connections_opened(&self) -> u64 {
        self.sender.connections_opened()
    }

    /// `POST /v1/webhooks/{id}/test`: a `webhook.test` event for this endpoint alone, due at
    /// once (the next sweep sends it).
    pub async fn test_webhook(&self, caller: &Principal, id: &str) -> Result<Delivery, Error> {
        let endpoint = self.get_webhook(caller, id).await?;
        let now = now_epoch();
        let event_id = new_ulid().to_string();
        let envelope = Envelope {
            id: event_id.clone(),
            event_type: "webhook.test".into(),
            timestamp: to_rfc3339(now),
            tenant_id: endpoint.tenant_id.clone(),
            data: json!({ "endpoint_id": endpoint.id }),
        };
        let delivery = Delivery {
            id: event_id,
            tenant_id: endpoint.tenant_id.clone(),
            endpoint_id: endpoint.id.clone(),
            event_type: envelope.event_type.clone(),
            body: serde_json::to_string(&envelope).expect("an envelope serializes"),
            status: DeliveryStatus::Pending,
            attempts: 0,
            last_response_code: None,
            last_error: None,
            created_at: now,
            last_attempt_at: None,
            next_attempt_at: Some(now),
        };
        self.store.start_delivery(&delivery).await?;
        Ok(delivery)
    }

    /// `GET /v1/webhooks/{id}/deliveries`: newest first.
    pub async fn list_deliveries(
        &self,
        caller: &Principal,
        id: &str,
        limit: u32,
        after: Option<&str>,
    ) -> Result<(Vec<Delivery>, Option<String>), Error> {
        let endpoint = self.get_webhook(caller, id).await?;
        Ok(self
            .store
            .list_deliveries(&endpoint.tenant_id, &endpoint.id, limit, after)
            .await?)
    }

    /// `POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry`: due again at once, whatever
    /// became of it (a receiver de-duplicates on its `webhook-id`).
    pub async fn retry_delivery(
        &self,
        caller: &Principal,
        id: &str,
        delivery_id: &str,
    ) -> Result<Delivery, Error> {
        let endpoint = self.get_webhook(caller, id).await?;
        let found = self
            .store
            .get_delivery(&endpoint.tenant_id, &endpoint.id, delivery_id)
            .await?
            .ok_or(Error::NotFound("delivery"))?;
        let seen = found.attempts;
        let mut due = found;
        due.status = DeliveryStatus::Pending;
        due.next_attempt_at = Some(now_epoch());
        if !self.store.replace_delivery(&due, seen).await? {
            return Err(Error::Conflict(
                "the delivery is being attempted: try again in a minute".into(),
            ));
        }
        Ok(due)
    }
}

/// Waits for every send; the first store failure among them is the batch's.
async fn finish(mut sends: JoinSet<Result<(), Error>>) -> Result<(), Error> {
    let mut first_error = None;
    while let Some(joined) = sends.join_next().await {
        let result = joined.unwrap_or_else(|panic| Err(Error::Internal(panic.to_string().into())));
        if let (Err(error), None) = (result, &first_error) {
            first_error = Some(error);
        }
    }
    first_error.map_or(Ok(()), Err)
}
