//! Building audit events for the use cases, and reading the trail (`GET /v1/audit`).
//!
//! The request's origin (source IP, user agent) reaches the use cases through a task-local
//! set once per request by the routers' outer layer ([`with_origin`]), so every surface's
//! changes carry it without each use case taking another parameter.

use std::future::Future;

use super::{ClientInfo, Error, Services};
use crate::domain::audit::{Actor, AuditEvent, EventType, Origin, Target};
use crate::domain::clock::now_epoch;
use crate::domain::credential::new_ulid;
use crate::domain::principal::Principal;
use crate::domain::scope::{Scope, UserRole};
use crate::store::audit::AuditQuery;

tokio::task_local! {
    static ORIGIN: ClientInfo;
}

/// Runs `request` with `client` as the origin of the audit events it writes.
pub async fn with_origin<F: Future>(client: ClientInfo, request: F) -> F::Output {
    ORIGIN.scope(client, request).await
}

/// The current request's origin; outside a request (the admin command line) `local`.
fn current_origin() -> Origin {
    ORIGIN
        .try_with(|client| Origin {
            ip: client.ip.clone(),
            user_agent: client.user_agent.chars().take(512).collect(),
        })
        .unwrap_or_else(|_| Origin {
            ip: "local".into(),
            user_agent: String::new(),
        })
}

impl Actor {
    /// The caller: their user and the credential they presented.
    pub fn of(caller: &Principal) -> Self {
        Self {
            user_id: Some(caller.user_id.clone()),
            credential_id: Some(caller.credential_id.clone()),
            kind: caller.kind.as_str().to_owned(),
        }
    }

    /// A user acting without a credential yet (signing in).
    pub fn anonymous(user_id: &str) -> Self {
        Self {
            user_id: Some(user_id.to_owned()),
            credential_id: None,
            kind: "anonymous".into(),
        }
    }

    /// Something other than a user: `kind` names it, `id` identifies it (a signing key).
    pub fn system(kind: &str, id: Option<&str>) -> Self {
        Self {
            user_id: None,
            credential_id: id.map(str::to_owned),
            kind: kind.to_owned(),
        }
    }
}

/// The trail's filters, as a client gave them (validated by [`Services::audit_trail`]).
#[derive(Debug, Default)]
pub struct AuditFilter {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    pub actor: Option<String>,
    pub target: Option<String>,
    pub event_type: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// Opaque text for the next page's cursor.
    pub next: Option<String>,
}

impl Services {
    /// A new event in `tenant_id`, in `subject_user_id`'s trail, stamped now.
    pub(crate) fn audit_event(
        &self,
        event_type: EventType,
        tenant_id: &str,
        subject_user_id: &str,
        actor: Actor,
        target: Target,
    ) -> AuditEvent {
        let at = now_epoch();
        AuditEvent {
            id: new_ulid().to_string(),
            at,
            event_type,
            tenant_id: tenant_id.to_owned(),
            subject_user_id: subject_user_id.to_owned(),
            actor,
            target,
            origin: current_origin(),
            change: Default::default(),
            detail: Default::default(),
            purge_at: at + self.config.audit_retention_days * 24 * 3600,
        }
    }

    /// `GET /v1/audit`: a tenant admin holding the `admin` scope reads the tenant's trail,
    /// anyone else their own; newest first, one Query per page.
    pub async fn audit_trail(
        &self,
        caller: &Principal,
        filter: AuditFilter,
    ) -> Result<AuditPage, Error> {
        caller.require_full_key()?;
        let whole_tenant =
            caller.user_role == UserRole::Admin && caller.scopes.contains(Scope::Admin);
        let limit = crate::domain::validation::bounded_limit(
            "limit",
            filter.limit,
            crate::domain::audit::AUDIT_PAGE_DEFAULT,
            1,
            crate::domain::audit::AUDIT_PAGE_MAX,
        )?;
        let event_type = filter
            .event_type
            .as_deref()
            .map(|raw| {
                EventType::parse(raw).ok_or_else(|| {
                    Error::invalid("type", "is not an event type (see README.md, Audit trail)")
                })
            })
            .transpose()?;
        for (field, value) in [("actor", &filter.actor), ("target", &filter.target)] {
            if value.as_deref().is_some_and(|v| !is_filter_value(v)) {
                return Err(Error::invalid(
                    field,
                    "must be an id: 1 to 256 visible ASCII characters",
                ));
            }
        }
        let from = filter.from.unwrap_or(0);
        let to = filter.to.unwrap_or(i64::MAX / 1000 - 1);
        if from > to {
            return Err(Error::invalid("from", "must not be after `to`"));
        }
        let after = filter
            .cursor
            .as_deref()
            .map(|text| {
                text.split_once('.')
                    .filter(|(user, event)| is_id(user) && is_id(event))
                    .map(|(user, event)| (user.to_owned(), event.to_owned()))
                    .ok_or_else(|| Error::invalid("cursor", "is not a cursor this API returned"))
            })
            .transpose()?;
        // A user's own trail may only continue within that trail.
        if let Some((user, _)) = &after
            && !whole_tenant
            && *user != caller.user_id
        {
            return Err(Error::invalid(
                "cursor",
                "is not a cursor this API returned",
            ));
        }
        let (from_id, to_id) = (id_bound(from, false), id_bound(to, true));
        let (events, next) = self
            .store
            .list_audit_events(&AuditQuery {
                tenant_id: &caller.tenant_id,
                subject_user_id: (!whole_tenant).then_some(caller.user_id.as_str()),
                from_id: &from_id,
                to_id: &to_id,
                actor: filter.actor.as_deref(),
                target: filter.target.as_deref(),
                event_type,
                limit,
                after,
            })
            .await?;
        Ok(AuditPage {
            events,
            next: next.map(|(user, event)| format!("{user}.{event}")),
        })
    }
}

/// Actor and target filters name ids (ULIDs, a scanner's key identifier, a dataset's full
/// name): bounded before they reach a Query.
fn is_filter_value(text: &str) -> bool {
    !text.is_empty() && text.len() <= 256 && text.bytes().all(|b| b.is_ascii_graphic())
}

fn is_id(text: &str) -> bool {
    !text.is_empty() && text.len() <= 32 && text.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The lowest (or highest) ULID of the second `epoch`: event ids sort by time, so a time
/// window is a key range.
fn id_bound(epoch: i64, upper: bool) -> String {
    let millis = epoch.clamp(0, (1 << 48) / 1000 - 1) as u64 * 1000;
    if upper {
        ulid::Ulid::from_parts(millis + 999, u128::MAX).to_string()
    } else {
        ulid::Ulid::from_parts(millis, 0).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_bounds_enclose_ids_of_that_second() {
        let inside = ulid::Ulid::from_parts(1_800_000_000_500, 42).to_string();
        assert!(id_bound(1_800_000_000, false) <= inside);
        assert!(inside <= id_bound(1_800_000_000, true));
        assert!(id_bound(1_800_000_001, false) > inside);
    }
}
