//! Retiring a removed tenant's data, so a new tenant given the same name
//! starts empty.
//!
//! Everything a tenant owns lives under `t/{tenant}/` (conversations, the
//! event log, the outbox, contacts, API keys, plugin state, flow versions). Retiring moves
//! all of it under `x/{retired at}/{tenant}/`, where no tenant's prefix
//! reaches: a tenant created later under the name sees no conversation, no
//! event and no key of the old one, and the old keys stop working at once.
//! The data is kept, not deleted, so an operator can still read it (and,
//! with care, bring it back); deleting it is a separate decision.
//!
//! A tenant may have more keys than one batch should hold, so the move goes
//! in pages. A marker `z/{tenant}` is written first and removed last: a
//! crash in between leaves the marker, and the next [`Store::open`]
//! finishes the move before anything else runs.
//!
//! Pending timers are not moved: they live in the timer log, not under the
//! tenant's prefix. A timer of a retired tenant finds no conversation when
//! it comes due, or a new tenant's conversation that does not hold it, and
//! fires nothing either way (`Conversation::fire_due_timers` fires only
//! what the conversation itself holds).

use crate::{Store, StoreError, keys};

/// Keys moved per atomic batch.
const PAGE: usize = 1_000;

impl Store {
    /// Move every key of `tenant` out of its reach (see the module doc),
    /// durably. How many keys moved.
    pub fn retire_tenant(&self, tenant: &str, retired_at: i64) -> Result<u64, StoreError> {
        self.database.write(|trees| trees.turns.insert(keys::retiring(tenant), &retired_at.to_be_bytes()))?;
        self.flush()?;
        let moved = self.finish_retiring(tenant, retired_at)?;
        self.flush()?;
        Ok(moved)
    }

    /// Finish retirements a crash interrupted; how many tenants.
    pub(crate) fn finish_retirements(&self) -> Result<usize, StoreError> {
        let mut pending = Vec::new();
        for entry in self.trees()?.turns.scan_prefix(keys::RETIRING_PREFIX) {
            let (key, value) = entry?;
            let tenant = keys::retiring_tenant(&key);
            let at = value.as_ref().try_into().map(i64::from_be_bytes);
            if let (Some(tenant), Ok(at)) = (tenant, at) {
                pending.push((tenant, at));
            }
        }
        for (tenant, at) in &pending {
            self.finish_retiring(tenant, *at)?;
        }
        if !pending.is_empty() {
            self.flush()?;
        }
        Ok(pending.len())
    }

    fn finish_retiring(&self, tenant: &str, retired_at: i64) -> Result<u64, StoreError> {
        let prefix = keys::tenant_prefix(tenant);
        self.database.write(|trees| {
            let mut moved = 0;
            for tree in [&trees.turns, &trees.plugin_state, &trees.blobs] {
                loop {
                    let mut batch = sled::Batch::default();
                    let mut in_batch = 0;
                    for entry in tree.scan_prefix(&prefix).take(PAGE) {
                        let (key, value) = entry?;
                        batch.insert(keys::retired(retired_at, &key), value);
                        batch.remove(key);
                        in_batch += 1;
                    }
                    if in_batch == 0 {
                        break;
                    }
                    tree.apply_batch(batch)?;
                    moved += in_batch;
                }
            }
            trees.turns.remove(keys::retiring(tenant))?;
            Ok(moved)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ApiKey;

    fn key(id: &str) -> ApiKey {
        ApiKey {
            id: id.to_owned(),
            label: String::new(),
            secret_sha256: "hash".to_owned(),
            created_at: 1,
            revoked_at: None,
        }
    }

    #[test]
    fn a_retired_tenants_keys_and_state_are_out_of_reach_of_its_name() {
        let store = Store::temporary().unwrap();
        store.put_api_key("acme", &key("k1")).unwrap();
        store.put_api_key("acme-other", &key("k2")).unwrap();
        for page in 0..3 {
            for index in 0..PAGE {
                let name = format!("{page}-{index}");
                store
                    .trees()
                    .unwrap()
                    .plugin_state
                    .insert(keys::plugin_state("acme", "p", &name), b"v".as_slice())
                    .unwrap();
            }
        }
        let moved = store.retire_tenant("acme", 42).unwrap();
        assert_eq!(moved, 1 + 3 * PAGE as u64);
        assert!(store.api_key("acme", "k1").unwrap().is_none(), "the old key still opens the name");
        assert_eq!(store.trees().unwrap().plugin_state.scan_prefix(keys::tenant_prefix("acme")).count(), 0);
        assert!(store.api_key("acme-other", "k2").unwrap().is_some(), "another tenant lost its key");
        assert_eq!(
            store.trees().unwrap().turns.scan_prefix(keys::RETIRING_PREFIX).count(),
            0,
            "the marker stays"
        );
    }

    #[test]
    fn an_interrupted_retirement_is_finished_when_the_store_opens() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.put_api_key("acme", &key("k1")).unwrap();
            // As if the process died right after writing the marker.
            store.trees().unwrap().turns.insert(keys::retiring("acme"), &7_i64.to_be_bytes()).unwrap();
            store.flush().unwrap();
        }
        let store = Store::open(dir.path()).expect("opens again");
        assert!(store.api_key("acme", "k1").unwrap().is_none());
        assert_eq!(store.trees().unwrap().turns.scan_prefix(keys::RETIRING_PREFIX).count(), 0);
    }
}
