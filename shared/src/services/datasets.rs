//! Datasets: creating, listing and deleting them, and sharing them with other users of the
//! same tenant at read, write or admin permission.

use super::{Error, Services};
use crate::domain::Invalid;
use crate::domain::audit::{Actor, AuditEvent, EventType, Target};
use crate::domain::clock::now_epoch;
use crate::domain::dataset::{
    Classification, Dataset, DatasetName, FullName, Grant, NameError, Permission, VisibleDataset,
    classify,
};
use crate::domain::principal::Principal;
use crate::domain::scope::Scope;
use crate::domain::user::{Email, User};
use crate::store::datasets::ListingPosition;

/// How often a change to a dataset is tried again after it changed between reading and
/// writing (another admin was quicker): each try reads it afresh and decides anew.
const ATTEMPTS: usize = 4;

/// One page of the datasets a user can see: owned ones first, then shared ones.
pub struct DatasetPage {
    pub items: Vec<VisibleDataset>,
    /// Where the next page starts (text for an opaque cursor); `None` at the end.
    pub next: Option<String>,
}

/// A grant and the dataset it opens.
pub struct DatasetGrant {
    pub dataset: FullName,
    pub grant: Grant,
}

/// Whether a grant was new, or changed the level an existing grantee holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granted {
    New,
    Changed,
}

/// Where a listing page starts: the owned side is read first, then the shared side.
enum ListFrom {
    Start,
    Owned(ListingPosition),
    Shared(Option<ListingPosition>),
}

impl ListFrom {
    fn parse(field: &str, text: Option<&str>) -> Result<Self, Invalid> {
        let Some(text) = text else {
            return Ok(Self::Start);
        };
        let refused = || Invalid::new(field, "is not a cursor this API returned");
        let mut parts = text.splitn(3, '.');
        let side = parts.next().unwrap_or_default();
        let position = match (parts.next(), parts.next()) {
            (None, None) => None,
            (Some(listed_id), Some(full_name)) => {
                let id_ok =
                    listed_id.len() == 26 && listed_id.bytes().all(|b| b.is_ascii_alphanumeric());
                if !id_ok {
                    return Err(refused());
                }
                Some(ListingPosition {
                    listed_id: listed_id.to_owned(),
                    full_name: FullName::parse(field, full_name).map_err(|_| refused())?,
                })
            }
            _ => return Err(refused()),
        };
        match (side, position) {
            ("owned", Some(position)) => Ok(Self::Owned(position)),
            ("shared", position) => Ok(Self::Shared(position)),
            _ => Err(refused()),
        }
    }

    fn to_text(&self) -> String {
        let at = |side: &str, position: &ListingPosition| {
            format!(
                "{side}.{}.{}",
                position.listed_id,
                position.full_name.as_str()
            )
        };
        match self {
            Self::Start => String::new(),
            Self::Owned(position) => at("owned", position),
            Self::Shared(Some(position)) => at("shared", position),
            Self::Shared(None) => "shared".to_owned(),
        }
    }
}

fn name_error(error: NameError) -> Error {
    match error {
        NameError::Invalid(invalid) => Error::Invalid(invalid),
        NameError::TooLong(invalid) => Error::NameTooLong(invalid),
    }
}

impl Services {
    /// Creates a dataset owned by the caller. A CUI dataset (`CUI-` name prefix or
    /// classification `cui`) needs an account a tenant admin marked CAC-verified.
    pub async fn create_dataset(
        &self,
        caller: &Principal,
        name: Option<&str>,
        classification: Option<&str>,
    ) -> Result<VisibleDataset, Error> {
        caller.require_full_key()?;
        caller.require_scope(Scope::Write)?;
        let name = DatasetName::parse("name", name.unwrap_or_default()).map_err(name_error)?;
        let classification = classification
            .map(|raw| Classification::parse("classification", raw))
            .transpose()?;
        let name = classify(name, classification, "classification")?;
        if name.is_cui() {
            // The mark is read fresh: an admin may have just granted or withdrawn it.
            let owner = self
                .store
                .get_user(&caller.tenant_id, &caller.user_id)
                .await?;
            if !owner.is_some_and(|user| user.cac_verified) {
                return Err(Error::CacRequired(
                    "CUI datasets need an account a tenant admin has marked CAC-verified".into(),
                ));
            }
        }
        let dataset = Dataset {
            tenant_id: caller.tenant_id.clone(),
            full_name: FullName::new(&caller.user_id, &name),
            name: name.as_string(),
            owner_id: caller.user_id.clone(),
            owner_email: caller.email.clone(),
            cui: name.is_cui(),
            created_at: now_epoch(),
            grants: Vec::new(),
            revision: 0,
        };
        if !self.store.create_dataset(&dataset).await? {
            return Err(Error::Conflict(format!(
                "you already have a dataset named {}",
                dataset.name
            )));
        }
        dataset
            .seen_by(&caller.user_id, true)
            .ok_or(Error::NotFound("dataset"))
    }

    /// The datasets the caller owns (newest first), then those shared with them (most
    /// recently shared first), each with the caller's permission and, when asked, every
    /// grantee. One Query per side; `cursor` is the text of a previous page's `next`.
    pub async fn list_datasets(
        &self,
        caller: &Principal,
        with_grantees: bool,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<DatasetPage, Error> {
        caller.require_full_key()?;
        caller.require_scope(Scope::Read)?;
        let (tenant, user) = (caller.tenant_id.as_str(), caller.user_id.as_str());
        let (read_owned, owned_after, shared_after) = match ListFrom::parse("cursor", cursor)? {
            ListFrom::Start => (true, None, None),
            ListFrom::Owned(position) => (true, Some(position), None),
            ListFrom::Shared(after) => (false, None, after),
        };
        let mut items = Vec::new();
        if read_owned {
            let (owned, more) = self
                .store
                .list_owned_datasets(tenant, user, limit, owned_after.as_ref())
                .await?;
            items.extend(
                owned
                    .into_iter()
                    .filter_map(|dataset| dataset.seen_by(user, with_grantees)),
            );
            if let Some(position) = more {
                return Ok(DatasetPage {
                    items,
                    next: Some(ListFrom::Owned(position).to_text()),
                });
            }
        }
        let room = limit.saturating_sub(items.len() as u32);
        if room == 0 {
            return Ok(DatasetPage {
                items,
                next: Some(ListFrom::Shared(None).to_text()),
            });
        }
        let (mut shared, more) = self
            .store
            .list_shared_datasets(tenant, user, room, shared_after.as_ref())
            .await?;
        if with_grantees {
            shared = self.with_grantees(caller, shared).await?;
        }
        items.extend(shared);
        Ok(DatasetPage {
            items,
            next: more.map(|position| ListFrom::Shared(Some(position)).to_text()),
        })
    }

    /// Shared datasets read afresh with every grantee (one batch read for the page); one
    /// deleted or unshared meanwhile is left out.
    async fn with_grantees(
        &self,
        caller: &Principal,
        shared: Vec<VisibleDataset>,
    ) -> Result<Vec<VisibleDataset>, Error> {
        let names: Vec<FullName> = shared.into_iter().map(|d| d.full_name).collect();
        let mut found = self.store.get_datasets(&caller.tenant_id, &names).await?;
        Ok(names
            .iter()
            .filter_map(|name| {
                let at = found.iter().position(|d| &d.full_name == name)?;
                found.swap_remove(at).seen_by(&caller.user_id, true)
            })
            .collect())
    }

    /// Deletes a dataset and every grant on it. Only its owner or a holder of admin may.
    /// `dataset` is a full name, or the short name of one of the caller's own datasets.
    pub async fn delete_dataset(
        &self,
        caller: &Principal,
        dataset: &str,
    ) -> Result<VisibleDataset, Error> {
        caller.require_full_key()?;
        caller.require_scope(Scope::Write)?;
        let full_name = named_dataset(caller, dataset)?;
        for _ in 0..ATTEMPTS {
            let current = self
                .dataset_for(caller, &full_name, Permission::Admin)
                .await?;
            if self.store.delete_dataset(&current).await? {
                return current
                    .seen_by(&caller.user_id, true)
                    .ok_or(Error::NotFound("dataset"));
            }
        }
        Err(changed_meanwhile())
    }

    /// Grants `email`'s user `permission` on a dataset, or changes the level they hold.
    /// Needs admin on the dataset; the grantee must be another user of the same tenant.
    pub async fn grant_dataset(
        &self,
        caller: &Principal,
        dataset: &str,
        email: &str,
        permission: Option<&str>,
    ) -> Result<(DatasetGrant, Granted), Error> {
        caller.require_full_key()?;
        caller.require_scope(Scope::Write)?;
        let full_name = named_dataset(caller, dataset)?;
        let email = Email::parse("email", email)?;
        let permission = match permission {
            Some(raw) => Permission::parse("permission", raw)?,
            None => {
                return Err(Error::invalid(
                    "permission",
                    "is required: \"read\", \"write\" or \"admin\"",
                ));
            }
        };
        if email.as_str() == caller.email {
            return Err(Error::invalid(
                "email",
                "you cannot grant a dataset to yourself",
            ));
        }
        let mut grantee: Option<User> = None;
        for _ in 0..ATTEMPTS {
            let current = self
                .dataset_for(caller, &full_name, Permission::Admin)
                .await?;
            if email.as_str() == current.owner_email {
                return Err(Error::invalid(
                    "email",
                    "the dataset's owner always holds admin",
                ));
            }
            let (grant, granted) = match current.grant_to_email(email.as_str()) {
                Some(existing) => (
                    Grant {
                        permission,
                        ..existing.clone()
                    },
                    Granted::Changed,
                ),
                None => {
                    if grantee.is_none() {
                        grantee = self
                            .store
                            .find_user_by_email(&caller.tenant_id, email.as_str())
                            .await?;
                    }
                    let user = grantee.as_ref().ok_or(Error::NotFound("user"))?;
                    if current.grants.len() >= Dataset::MAX_GRANTS {
                        return Err(Error::LimitReached(format!(
                            "a dataset may be shared with at most {} users",
                            Dataset::MAX_GRANTS
                        )));
                    }
                    (
                        Grant {
                            user_id: user.id.clone(),
                            email: user.email.clone(),
                            permission,
                            granted_at: now_epoch(),
                        },
                        Granted::New,
                    )
                }
            };
            let event = self
                .grant_event(EventType::DatasetShared, caller, &current, &grant)
                .changed(
                    "permission",
                    current
                        .permission_of(&grant.user_id)
                        .map(|p| p.as_str().to_owned()),
                    grant.permission.as_str(),
                );
            if self
                .store
                .put_grant(
                    &current,
                    &grant,
                    &caller.user_id,
                    Dataset::MAX_GRANTS,
                    &event,
                )
                .await?
            {
                let dataset = current.full_name;
                return Ok((DatasetGrant { dataset, grant }, granted));
            }
        }
        Err(changed_meanwhile())
    }

    /// Removes one grantee's access. Needs admin on the dataset.
    pub async fn revoke_grant(
        &self,
        caller: &Principal,
        dataset: &str,
        email: &str,
    ) -> Result<DatasetGrant, Error> {
        caller.require_full_key()?;
        caller.require_scope(Scope::Write)?;
        let full_name = named_dataset(caller, dataset)?;
        let email = Email::parse("email", email)?;
        for _ in 0..ATTEMPTS {
            let current = self
                .dataset_for(caller, &full_name, Permission::Admin)
                .await?;
            let grant = current
                .grant_to_email(email.as_str())
                .cloned()
                .ok_or(Error::NotFound("grant"))?;
            let event = self
                .grant_event(EventType::DatasetUnshared, caller, &current, &grant)
                .changed("permission", grant.permission.as_str(), None::<String>);
            if self
                .store
                .remove_grant(&current, &grant.user_id, &caller.user_id, &event)
                .await?
            {
                let dataset = current.full_name;
                return Ok(DatasetGrant { dataset, grant });
            }
        }
        Err(changed_meanwhile())
    }

    /// An event about a grant on `dataset`, in its owner's trail.
    fn grant_event(
        &self,
        event_type: EventType,
        caller: &Principal,
        dataset: &Dataset,
        grant: &Grant,
    ) -> AuditEvent {
        self.audit_event(
            event_type,
            &dataset.tenant_id,
            &dataset.owner_id,
            Actor::of(caller),
            Target {
                kind: "dataset",
                id: dataset.full_name.as_str().to_owned(),
            },
        )
        .with_detail("grantee_user_id", grant.user_id.as_str())
        .with_detail("grantee_email", grant.email.as_str())
    }

    /// The dataset, if the caller holds at least `needed` on it. A dataset the caller
    /// cannot see at all is "not found"; one they see with too low a level is forbidden.
    async fn dataset_for(
        &self,
        caller: &Principal,
        full_name: &FullName,
        needed: Permission,
    ) -> Result<Dataset, Error> {
        let dataset = self
            .store
            .get_dataset(&caller.tenant_id, full_name)
            .await?
            .ok_or(Error::NotFound("dataset"))?;
        match dataset.permission_of(&caller.user_id) {
            None => Err(Error::NotFound("dataset")),
            Some(held) if held < needed => Err(Error::Forbidden(format!(
                "this needs {} permission on the dataset; you hold {}",
                needed.as_str(),
                held.as_str()
            ))),
            Some(_) => Ok(dataset),
        }
    }
}

/// The dataset a request names; naming none is Ask Sage's "Required information missing".
fn named_dataset(caller: &Principal, raw: &str) -> Result<FullName, Error> {
    FullName::resolve("dataset", raw, &caller.user_id)?.ok_or(Error::MissingInformation("dataset"))
}

fn changed_meanwhile() -> Error {
    Error::Conflict("the dataset's grants kept changing meanwhile; try again".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_cursors_round_trip_and_refuse_forgeries() {
        let position = ListingPosition {
            listed_id: "01KAAAAAAAAAAAAAAAAAAAAAAA".into(),
            full_name: FullName::parse("f", "user_custom_01X_CUI-Notes_content").unwrap(),
        };
        for from in [
            ListFrom::Owned(position.clone()),
            ListFrom::Shared(Some(position)),
            ListFrom::Shared(None),
        ] {
            let text = from.to_text();
            assert_eq!(
                ListFrom::parse("cursor", Some(&text)).unwrap().to_text(),
                text
            );
        }
        assert!(matches!(
            ListFrom::parse("cursor", None),
            Ok(ListFrom::Start)
        ));
        for forged in [
            "",
            "owned",
            "mine.01KAAAAAAAAAAAAAAAAAAAAAAA.user_custom_1_x_content",
            "owned.short.user_custom_1_x_content",
            "owned.01KAAAAAAAAAAAAAAAAAAAAAAA.DATASET#x",
            "shared.01KAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(ListFrom::parse("cursor", Some(forged)).is_err(), "{forged}");
        }
    }
}
