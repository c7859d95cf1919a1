//! Per-tenant sequences: RMA and booking numbers no two customers share.
//!
//! A number is taken before the turn that uses it commits, and the turn's
//! sync makes it durable (sled's log is ordered). A turn that never commits
//! leaves a gap, never a repeat.

use crate::{Store, StoreError, keys};

impl Store {
    /// The next number of `tenant`'s `sequence`, starting at 1.
    pub fn next_number(&self, tenant: &str, sequence: &str) -> Result<u64, StoreError> {
        let key = keys::number(tenant, sequence);
        let next = self.database.write(|trees| {
            trees.turns.update_and_fetch(&key, |last| {
                let last = last.and_then(|bytes| bytes.try_into().ok()).map_or(0, u64::from_be_bytes);
                Some(last.saturating_add(1).to_be_bytes().to_vec())
            })
        })?;
        Ok(next.and_then(|bytes| bytes.as_ref().try_into().ok()).map_or(1, u64::from_be_bytes))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use crate::Store;

    #[test]
    fn racing_turns_never_share_a_number_and_tenants_count_apart() {
        let store = Arc::new(Store::temporary().expect("a store"));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    (0..50).map(|_| store.next_number("shop", "rma").expect("a number")).collect::<Vec<_>>()
                })
            })
            .collect();
        let numbers: Vec<u64> =
            threads.into_iter().flat_map(|thread| thread.join().expect("joins")).collect();
        let unique: BTreeSet<u64> = numbers.iter().copied().collect();
        assert_eq!(unique.len(), 200, "every number once");
        assert_eq!(unique.last(), Some(&200));
        assert_eq!(
            store.next_number("other", "rma").expect("a number"),
            1,
            "another tenant counts on its own"
        );
        assert_eq!(
            store.next_number("shop", "booking").expect("a number"),
            1,
            "and so does another sequence"
        );
    }
}
