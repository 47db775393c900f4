//! User and tenant budgets. A budget's policy (`budget`: its limits and credits policy as
//! JSON, and `models` when it lists some) rides on the budget's own meter item, so the
//! verification that reads a credential reads the budgets above it in the same
//! BatchGetItem, and one read answers `GET .../budget` with policy and counters together.
//! The same items carry the owners' standing (`suspended_at` on the tenant's,
//! `deactivated_at` on a user's), read by the same BatchGetItem.

use std::collections::HashMap;

use super::item::{Item, Reader, list, n, s};
use super::keys::{PK, SK};
use super::meter::{
    HOUR, MeterSnapshot, MeterStart, PERIOD, REMAINING, WINDOW_COUNT_PREFIX, WINDOW_START_PREFIX,
    meter_key, snapshot,
};
use super::transaction::Transaction;
use super::{Store, StoreError};
use crate::domain::audit::AuditEvent;
use crate::domain::metering::Metering;
use crate::domain::models::AllowedModels;
use crate::domain::owner_budget::OwnerBudget;
use crate::domain::standing::Standing;

const BUDGET: &str = "budget";
const MODELS: &str = "models";
/// On the tenant's meter item: when the operator suspended the tenant.
pub(super) const SUSPENDED_AT: &str = "suspended_at";
/// On a user's meter item: when a tenant admin deactivated the user.
pub(super) const DEACTIVATED_AT: &str = "deactivated_at";

/// The budget on a meter item; `None` when the item holds no budget (or there is none).
fn budget_from(item: &Item) -> Option<OwnerBudget> {
    let r = Reader(item);
    let metering: Metering = r.json(BUDGET)?;
    let models = if item.contains_key(MODELS) {
        AllowedModels::only(r.strings(MODELS))
    } else {
        AllowedModels::any()
    };
    Some(OwnerBudget { metering, models })
}

/// The primary keys of these budgets' meter items, for a batch read.
pub(super) fn budget_keys(meter_ids: &[String]) -> Vec<Item> {
    meter_ids.iter().map(|id| meter_key(id)).collect()
}

/// The budgets with these meter ids among items read together, in the order asked.
pub(super) fn budgets_in(found: &[Item], meter_ids: &[String]) -> Vec<Option<OwnerBudget>> {
    meter_ids
        .iter()
        .map(|id| {
            let key = meter_key(id);
            found
                .iter()
                .find(|item| item.get(PK) == key.get(PK) && item.get(SK) == key.get(SK))
                .and_then(budget_from)
        })
        .collect()
}

/// The standing the owner items among `found` (those at `meter_ids`) record: a flag on
/// any of them refuses every credential below it.
pub(super) fn standing_in(found: &[Item], meter_ids: &[String]) -> Standing {
    let mut standing = Standing::default();
    for id in meter_ids {
        let key = meter_key(id);
        let Some(item) = found
            .iter()
            .find(|item| item.get(PK) == key.get(PK) && item.get(SK) == key.get(SK))
        else {
            continue;
        };
        let r = Reader(item);
        standing.tenant_suspended_at = standing.tenant_suspended_at.or(r.opt_number(SUSPENDED_AT));
        standing.user_deactivated_at = standing
            .user_deactivated_at
            .or(r.opt_number(DEACTIVATED_AT));
    }
    standing
}

impl Store {
    /// Sets a budget: its policy, its balance (when it has credits; none removes it) and,
    /// for limits it did not count before, a window starting now. Counts already running
    /// keep running: setting a budget again never hands out a fresh window.
    pub async fn put_owner_budget(
        &self,
        meter_id: &str,
        budget: &OwnerBudget,
        start: &MeterStart<'_>,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut names = HashMap::new();
        let mut values = Item::new();
        let mut sets = vec![
            "#type = :type".to_owned(),
            "#budget = :budget".to_owned(),
            "#h = if_not_exists(#h, :hour)".to_owned(),
        ];
        let mut removes = Vec::new();
        names.insert("#type".to_owned(), "type".to_owned());
        names.insert("#budget".to_owned(), BUDGET.to_owned());
        names.insert("#h".to_owned(), HOUR.to_owned());
        names.insert("#models".to_owned(), MODELS.to_owned());
        names.insert("#remaining".to_owned(), REMAINING.to_owned());
        names.insert("#p".to_owned(), PERIOD.to_owned());
        values.insert(":type".into(), s("Meter"));
        values.insert(
            ":budget".into(),
            s(serde_json::to_string(&budget.metering).unwrap_or_default()),
        );
        values.insert(":hour".into(), n(start.hour));
        values.insert(":zero".into(), n(0));
        match budget.models.names() {
            Some(models) => {
                sets.push("#models = :models".to_owned());
                values.insert(":models".into(), list(models.iter().map(String::as_str)));
            }
            None => removes.push("#models"),
        }
        for (index, (name, window_start)) in start.windows.iter().enumerate() {
            names.insert(
                format!("#ws{index}"),
                format!("{WINDOW_START_PREFIX}{name}"),
            );
            names.insert(
                format!("#wc{index}"),
                format!("{WINDOW_COUNT_PREFIX}{name}"),
            );
            values.insert(format!(":ws{index}"), n(*window_start));
            sets.push(format!(
                "#ws{index} = if_not_exists(#ws{index}, :ws{index})"
            ));
            sets.push(format!("#wc{index} = if_not_exists(#wc{index}, :zero)"));
        }
        match start.credits {
            Some((remaining, period)) => {
                sets.push("#remaining = :remaining".to_owned());
                values.insert(":remaining".into(), n(remaining));
                match period {
                    Some(period) => {
                        sets.push("#p = :p".to_owned());
                        values.insert(":p".into(), n(period));
                    }
                    None => removes.push("#p"),
                }
            }
            None => removes.extend(["#remaining", "#p"]),
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        self.client
            .transact_write_items()
            .transact_items(self.update_named(meter_key(meter_id), &expression, names, values))
            .transact_items(self.audit_put(event))
            .send()
            .await?;
        Ok(())
    }

    /// A budget and its meter as they stand (strongly consistent); `None`: no budget.
    pub async fn get_owner_budget(
        &self,
        meter_id: &str,
    ) -> Result<Option<(OwnerBudget, MeterSnapshot)>, StoreError> {
        let item = self.get(meter_key(meter_id), true).await?;
        Ok(item.and_then(|item| Some((budget_from(&item)?, snapshot(&item)))))
    }

    /// Budgets by meter id in one strongly consistent BatchGetItem, in the order asked:
    /// what the verification of a secret that names no owner reads after its credential.
    /// The owners' standing comes with them.
    pub async fn read_owner_budgets(
        &self,
        meter_ids: &[String],
    ) -> Result<(Vec<Option<OwnerBudget>>, Standing), StoreError> {
        let found = self.get_consistent_batch(budget_keys(meter_ids)).await?;
        Ok((
            budgets_in(&found, meter_ids),
            standing_in(&found, meter_ids),
        ))
    }

    /// Removes a budget (its counters stay, so setting it again resumes them); false when
    /// there was none.
    pub async fn delete_owner_budget(
        &self,
        meter_id: &str,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let names = HashMap::from([
            ("#budget".to_owned(), BUDGET.to_owned()),
            ("#models".to_owned(), MODELS.to_owned()),
        ]);
        let mut transaction = Transaction::new();
        let budget_set = transaction.guarded(self.update_named_if(
            meter_key(meter_id),
            "REMOVE #budget, #models",
            "attribute_exists(#budget)",
            names,
            Item::new(),
        ));
        transaction.add(self.audit_put(event));
        match transaction.send(self).await {
            Ok(()) => Ok(true),
            Err(error) if budget_set.failed(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }
}
