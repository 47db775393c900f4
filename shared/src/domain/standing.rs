//! Whether an owner may act at all: a tenant the operator suspended, a user a tenant admin
//! deactivated. Both flags ride on the owner's budget meter items (`KEY#<tid>.tenant` and
//! `KEY#<tid>.<uid>` / `METER`), which every verification reads with the credential, so a
//! suspension or a deactivation costs the verify path no item and no round trip.

use super::credential::Unusable;

/// What the owner items read with a credential say about its tenant and its user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Standing {
    pub tenant_suspended_at: Option<i64>,
    pub user_deactivated_at: Option<i64>,
}

impl Standing {
    /// Why every credential of this owner is refused, if it is; a suspended tenant first.
    pub const fn refusal(&self) -> Option<Unusable> {
        if self.tenant_suspended_at.is_some() {
            Some(Unusable::Suspended)
        } else if self.user_deactivated_at.is_some() {
            Some(Unusable::Deactivated)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suspended_tenant_outranks_a_deactivated_user() {
        assert_eq!(Standing::default().refusal(), None);
        let deactivated = Standing {
            user_deactivated_at: Some(5),
            ..Standing::default()
        };
        assert_eq!(deactivated.refusal(), Some(Unusable::Deactivated));
        let both = Standing {
            tenant_suspended_at: Some(9),
            ..deactivated
        };
        assert_eq!(both.refusal(), Some(Unusable::Suspended));
    }
}
