//! Webhook endpoints: `/v1/webhooks` (tenant admins with the `admin` scope). A destination
//! is checked when it is registered or changed — `https`, and every address its host
//! resolves to outside keygate's own network — and will be checked again at each delivery,
//! since DNS may change (README, "Webhooks").

use std::net::IpAddr;

use super::{Error, Services};
use crate::domain::Invalid;
use crate::domain::audit::{Actor, AuditEvent, EventType, Target};
use crate::domain::clock::now_epoch;
use crate::domain::credential::new_ulid;
use crate::domain::ids;
use crate::domain::pepper::HashedWith;
use crate::domain::principal::Principal;
use crate::domain::webhook::{
    Endpoint, EndpointInput, EndpointPatch, EndpointUrl, MAX_ENDPOINTS_PER_TENANT,
    ROTATION_OVERLAP_SECS, SecretSeed, SigningSecret, derivation_input, first_forbidden, new_seed,
    parse_description, parse_event_types,
};
use crate::store::webhooks::EndpointWrite;

/// An endpoint with its signing secret, as it is shown: once, at creation or rotation.
pub struct WithSecret {
    pub endpoint: Endpoint,
    pub secret: String,
}

impl Services {
    pub async fn create_webhook(
        &self,
        caller: &Principal,
        input: &EndpointInput,
    ) -> Result<WithSecret, Error> {
        caller.require_tenant_admin()?;
        let url = self.checked_destination("url", &input.url).await?;
        let now = now_epoch();
        let id = new_ulid().to_string();
        let (secret, seed) = self.new_secret(&id);
        let endpoint = Endpoint {
            id,
            tenant_id: caller.tenant_id.clone(),
            url: url.as_str().to_owned(),
            event_types: parse_event_types(
                "event_types",
                input.event_types.as_deref().unwrap_or_default(),
            )?,
            description: parse_description("description", input.description.as_deref())?,
            enabled: input.enabled.unwrap_or(true),
            created_at: now,
            updated_at: now,
            secret: seed,
            previous_secret: None,
            disabled_reason: None,
            failing_since: None,
        };
        let event = self
            .webhook_event(EventType::WebhookCreated, caller, &endpoint.id)
            .with_detail("url", endpoint.url.clone());
        match self
            .store
            .create_webhook(&endpoint, MAX_ENDPOINTS_PER_TENANT, &event)
            .await?
        {
            EndpointWrite::Done => Ok(WithSecret {
                endpoint,
                secret: secret.reveal(),
            }),
            EndpointWrite::LimitReached => Err(Error::LimitReached(format!(
                "a tenant may have at most {MAX_ENDPOINTS_PER_TENANT} webhook endpoints"
            ))),
            EndpointWrite::Missing => Err(Error::NotFound("tenant")),
        }
    }

    pub async fn list_webhooks(
        &self,
        caller: &Principal,
        limit: u32,
        after: Option<&str>,
    ) -> Result<(Vec<Endpoint>, Option<String>), Error> {
        caller.require_tenant_admin()?;
        if after.is_some_and(|id| !ids::is_id(id)) {
            return Err(Error::invalid("cursor", "is not a cursor of this list"));
        }
        Ok(self
            .store
            .list_webhooks(&caller.tenant_id, limit, after)
            .await?)
    }

    pub async fn get_webhook(&self, caller: &Principal, id: &str) -> Result<Endpoint, Error> {
        caller.require_tenant_admin()?;
        if !ids::is_id(id) {
            return Err(Error::NotFound("webhook"));
        }
        self.store
            .get_webhook(&caller.tenant_id, id)
            .await?
            .ok_or(Error::NotFound("webhook"))
    }

    pub async fn patch_webhook(
        &self,
        caller: &Principal,
        id: &str,
        patch: &EndpointPatch,
    ) -> Result<Endpoint, Error> {
        if patch.is_empty() {
            return Err(Error::invalid(
                "url",
                "give at least one of url, event_types, description, enabled",
            ));
        }
        let found = self.get_webhook(caller, id).await?;
        let mut changed = found.clone();
        let mut event = self.webhook_event(EventType::WebhookUpdated, caller, id);
        if let Some(raw) = &patch.url {
            changed.url = self
                .checked_destination("url", raw)
                .await?
                .as_str()
                .to_owned();
            event = event.changed("url", found.url.clone(), changed.url.clone());
        }
        if let Some(types) = &patch.event_types {
            changed.event_types = parse_event_types("event_types", types)?;
            event = event.changed(
                "event_types",
                found.event_types.clone(),
                changed.event_types.clone(),
            );
        }
        if let Some(description) = &patch.description {
            changed.description = parse_description("description", Some(description))?;
            event = event.changed(
                "description",
                found.description.clone(),
                changed.description.clone(),
            );
        }
        if let Some(enabled) = patch.enabled {
            changed.enabled = enabled;
            if enabled {
                // Turning it on again is the admin's answer to keygate's disabling.
                changed.disabled_reason = None;
                changed.failing_since = None;
            }
            event = event.changed("enabled", found.enabled, enabled);
        }
        changed.updated_at = now_epoch().max(found.updated_at + 1);
        self.replace_webhook(&changed, found.updated_at, &event)
            .await?;
        Ok(changed)
    }

    pub async fn delete_webhook(&self, caller: &Principal, id: &str) -> Result<(), Error> {
        let found = self.get_webhook(caller, id).await?;
        let event = self
            .webhook_event(EventType::WebhookDeleted, caller, id)
            .with_detail("url", found.url);
        match self
            .store
            .delete_webhook(&caller.tenant_id, id, &event)
            .await?
        {
            EndpointWrite::Done => Ok(()),
            _ => Err(Error::NotFound("webhook")),
        }
    }

    /// A new signing secret; the previous one keeps signing beside it for 24 hours, so
    /// receivers can move to the new one without missing a delivery.
    pub async fn rotate_webhook_secret(
        &self,
        caller: &Principal,
        id: &str,
    ) -> Result<WithSecret, Error> {
        let found = self.get_webhook(caller, id).await?;
        let now = now_epoch();
        let (secret, seed) = self.new_secret(id);
        let mut rotated = found.clone();
        rotated.previous_secret = Some((found.secret.clone(), now + ROTATION_OVERLAP_SECS));
        rotated.secret = seed;
        rotated.updated_at = now.max(found.updated_at + 1);
        let event = self.webhook_event(EventType::WebhookSecretRotated, caller, id);
        self.replace_webhook(&rotated, found.updated_at, &event)
            .await?;
        Ok(WithSecret {
            endpoint: rotated,
            secret: secret.reveal(),
        })
    }

    /// The secrets that sign an endpoint's deliveries now (the previous one too during a
    /// rotation's overlap); a secret whose pepper version was revoked no longer signs.
    pub fn signing_secrets(&self, endpoint: &Endpoint, now: i64) -> Vec<SigningSecret> {
        let hasher = self.hasher();
        endpoint
            .signing_seeds(now)
            .into_iter()
            .filter_map(|seed| {
                let with = match seed.pepper_version {
                    0 => HashedWith::Nothing,
                    version => HashedWith::Version(version),
                };
                hasher
                    .derive_again(with, &derivation_input(&endpoint.id, &seed.seed))
                    .map(SigningSecret::from_key)
            })
            .collect()
    }

    /// Checks a destination: its form, then every address its host resolves to. Nothing is
    /// sent to it.
    pub(crate) async fn checked_destination(
        &self,
        field: &str,
        raw: &str,
    ) -> Result<EndpointUrl, Error> {
        let url = EndpointUrl::parse(field, raw, self.config.webhook_plain_loopback)?;
        if url.is_plain_loopback() {
            return Ok(url);
        }
        let addresses = self.resolve(url.host(), url.port()).await.map_err(|_| {
            Error::from(Invalid::new(
                field,
                format!("{} does not resolve", url.host()),
            ))
        })?;
        if addresses.is_empty() {
            return Err(Invalid::new(field, format!("{} does not resolve", url.host())).into());
        }
        if let Some((address, why)) = first_forbidden(&addresses) {
            return Err(Invalid::new(
                field,
                format!(
                    "{} resolves to {address}, which is {why}: webhooks may only reach public addresses",
                    url.host()
                ),
            )
            .into());
        }
        Ok(url)
    }

    /// A host's addresses: from the configured map when it names the host, the host itself
    /// when it is an address, else DNS.
    pub(crate) async fn resolve(&self, host: &str, port: u16) -> std::io::Result<Vec<IpAddr>> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Some(mapped) = self.config.webhook_hosts.get(&host.to_ascii_lowercase()) {
            return Ok(mapped.clone());
        }
        if let Ok(address) = host.parse::<IpAddr>() {
            return Ok(vec![address]);
        }
        Ok(tokio::net::lookup_host((host, port))
            .await?
            .map(|socket| socket.ip())
            .collect())
    }

    fn new_secret(&self, endpoint_id: &str) -> (SigningSecret, SecretSeed) {
        let seed = new_seed();
        let (with, key) = self.hasher().derive(&derivation_input(endpoint_id, &seed));
        let pepper_version = match with {
            HashedWith::Nothing => 0,
            HashedWith::Version(version) => version,
        };
        (
            SigningSecret::from_key(key),
            SecretSeed {
                seed,
                pepper_version,
            },
        )
    }

    async fn replace_webhook(
        &self,
        endpoint: &Endpoint,
        read_at: i64,
        event: &AuditEvent,
    ) -> Result<(), Error> {
        match self.store.replace_webhook(endpoint, read_at, event).await? {
            EndpointWrite::Done => Ok(()),
            _ => Err(Error::Conflict(
                "the webhook changed meanwhile (or is gone): read it again".into(),
            )),
        }
    }

    fn webhook_event(&self, event_type: EventType, caller: &Principal, id: &str) -> AuditEvent {
        self.audit_event(
            event_type,
            &caller.tenant_id,
            "",
            Actor::of(caller),
            Target {
                kind: "webhook",
                id: id.to_owned(),
            },
        )
    }
}
