//! Plugin `kv` state on sled, within each tenant's quota.
//!
//! Beside its plugins' keys, each tenant has one usage record,
//! `t/{tenant}/kvusage` (keys, and bytes of keys and values), which a write
//! updates in the same sled transaction as the key it writes, so the count
//! is exact however many calls write at once. State written before the
//! record existed is not counted.

use std::sync::Arc;

use sled::transaction::{ConflictableTransactionError, TransactionError};
use switchboard_core::kv::{KvBackend, KvQuota, KvQuotaExceeded, KvScope};

use crate::database::Database;
use crate::keys;

/// The sled-backed [`KvBackend`]: one tree, keys scoped by tenant then plugin.
#[derive(Debug, Clone)]
pub struct SledKv {
    database: Arc<Database>,
}

impl SledKv {
    pub(crate) fn new(database: Arc<Database>) -> Self {
        Self { database }
    }
}

impl KvBackend for SledKv {
    fn get(&self, scope: &KvScope, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self
            .database
            .trees()?
            .plugin_state
            .get(keys::plugin_state(&scope.tenant, &scope.plugin, key))?
            .map(|value| value.to_vec()))
    }

    fn set(&self, scope: &KvScope, key: &str, value: &[u8], quota: &KvQuota) -> anyhow::Result<()> {
        let entry = keys::plugin_state(&scope.tenant, &scope.plugin, key);
        let usage_key = keys::kv_usage(&scope.tenant);
        let size = (key.len() + value.len()) as u64;
        self.update(|tx| {
            let mut usage = Usage::decode(tx.get(&usage_key)?.as_deref());
            match tx.get(&entry)? {
                Some(old) => usage.bytes = usage.bytes.saturating_sub((key.len() + old.len()) as u64),
                None => usage.keys += 1,
            }
            usage.bytes += size;
            if usage.keys > quota.keys {
                return Err(ConflictableTransactionError::Abort(KvQuotaExceeded {
                    what: "keys",
                    limit: quota.keys,
                }));
            }
            if usage.bytes > quota.bytes {
                return Err(ConflictableTransactionError::Abort(KvQuotaExceeded {
                    what: "bytes",
                    limit: quota.bytes,
                }));
            }
            tx.insert(entry.as_slice(), value)?;
            tx.insert(usage_key.as_slice(), usage.encode().as_slice())?;
            Ok(())
        })
    }

    fn delete(&self, scope: &KvScope, key: &str) -> anyhow::Result<()> {
        let entry = keys::plugin_state(&scope.tenant, &scope.plugin, key);
        let usage_key = keys::kv_usage(&scope.tenant);
        self.update(|tx| {
            if let Some(old) = tx.remove(entry.as_slice())? {
                let mut usage = Usage::decode(tx.get(&usage_key)?.as_deref());
                usage.keys = usage.keys.saturating_sub(1);
                usage.bytes = usage.bytes.saturating_sub((key.len() + old.len()) as u64);
                tx.insert(usage_key.as_slice(), usage.encode().as_slice())?;
            }
            Ok(())
        })
    }
}

type Transaction<'a> = &'a sled::transaction::TransactionalTree;

impl SledKv {
    /// Run `change` as one sled transaction (retried on conflict).
    fn update(
        &self,
        change: impl Fn(Transaction<'_>) -> Result<(), ConflictableTransactionError<KvQuotaExceeded>>,
    ) -> anyhow::Result<()> {
        let trees = self.database.writable()?;
        trees.touched();
        match trees.plugin_state.transaction(|tx| change(tx)) {
            Ok(()) => Ok(()),
            Err(TransactionError::Abort(exceeded)) => Err(exceeded.into()),
            Err(TransactionError::Storage(error)) => Err(self.database.failed(&trees, error).into()),
        }
    }
}

/// A tenant's kv usage: keys, and bytes of keys and values.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) keys: u64,
    pub(crate) bytes: u64,
}

impl Usage {
    pub(crate) fn decode(bytes: Option<&[u8]>) -> Self {
        let Some(bytes) = bytes.filter(|bytes| bytes.len() == 16) else { return Self::default() };
        let (keys, rest) = bytes.split_at(8);
        let number = |part: &[u8]| part.try_into().map_or(0, u64::from_be_bytes);
        Self { keys: number(keys), bytes: number(rest) }
    }

    fn encode(self) -> [u8; 16] {
        let mut encoded = [0; 16];
        encoded[..8].copy_from_slice(&self.keys.to_be_bytes());
        encoded[8..].copy_from_slice(&self.bytes.to_be_bytes());
        encoded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    #[test]
    fn state_is_scoped_to_tenant_and_plugin() -> anyhow::Result<()> {
        let kv = Store::temporary()?.plugin_kv();
        let mine = KvScope { tenant: "salon".into(), plugin: "slots".into() };
        let other_tenant = KvScope { tenant: "movers".into(), plugin: "slots".into() };
        let other_plugin = KvScope { tenant: "salon".into(), plugin: "pricing".into() };
        kv.set(&mine, "k", b"v", &KvQuota::default())?;
        assert_eq!(kv.get(&mine, "k")?, Some(b"v".to_vec()));
        assert_eq!(kv.get(&other_tenant, "k")?, None);
        assert_eq!(kv.get(&other_plugin, "k")?, None);
        kv.delete(&mine, "k")?;
        assert_eq!(kv.get(&mine, "k")?, None);
        Ok(())
    }

    #[test]
    fn a_tenants_state_stays_within_its_quota_across_its_plugins() -> anyhow::Result<()> {
        let kv = Store::temporary()?.plugin_kv();
        let quota = KvQuota { keys: 3, bytes: 40 };
        let one = KvScope { tenant: "salon".into(), plugin: "slots".into() };
        let two = KvScope { tenant: "salon".into(), plugin: "pricing".into() };
        kv.set(&one, "a", b"1", &quota)?;
        kv.set(&two, "b", b"2", &quota)?;
        kv.set(&one, "a", b"rewritten", &quota)?;
        kv.set(&two, "c", b"3", &quota)?;
        let error = kv.set(&one, "d", b"4", &quota).expect_err("a fourth key");
        assert_eq!(error.downcast_ref::<KvQuotaExceeded>().map(|exceeded| exceeded.what), Some("keys"));
        kv.delete(&two, "c")?;
        kv.set(&one, "d", b"4", &quota)?;
        let error = kv.set(&one, "d", &[0; 64], &quota).expect_err("too many bytes");
        assert_eq!(error.downcast_ref::<KvQuotaExceeded>().map(|exceeded| exceeded.what), Some("bytes"));
        assert_eq!(kv.get(&one, "d")?, Some(b"4".to_vec()), "a refused write changes nothing");
        // Another tenant has a quota of its own.
        kv.set(&KvScope { tenant: "movers".into(), plugin: "slots".into() }, "a", b"1", &quota)?;
        Ok(())
    }
}
