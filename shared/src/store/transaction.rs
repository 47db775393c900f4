//! A transaction built item by item, keeping where each guarded item sits, so a
//! cancellation is read by the condition that failed rather than by a bare index.

use aws_sdk_dynamodb::types::TransactWriteItem;

use super::{Store, TransactError, condition_failed_at};

/// The items of one TransactWriteItems call, in order.
#[derive(Default)]
pub(crate) struct Transaction {
    items: Vec<TransactWriteItem>,
}

/// Where a guarded item sits in its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Guard(usize);

impl Guard {
    /// Whether this item's condition is what cancelled the transaction.
    pub(crate) fn failed(self, error: &TransactError) -> bool {
        condition_failed_at(error, self.0)
    }
}

impl Transaction {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds an item whose failed condition the caller tells apart; returns where it sits.
    pub(crate) fn guarded(&mut self, item: TransactWriteItem) -> Guard {
        self.items.push(item);
        Guard(self.items.len() - 1)
    }

    /// Adds an item no answer depends on by name (an audit event, a new item's put).
    pub(crate) fn add(&mut self, item: TransactWriteItem) {
        self.items.push(item);
    }

    pub(crate) async fn send(self, store: &Store) -> Result<(), TransactError> {
        store
            .client
            .transact_write_items()
            .set_transact_items(Some(self.items))
            .send()
            .await
            .map(|_| ())
    }
}
