//! Plugins' `kv` state. A write locks its tenant's usage row, so writes on
//! every node take their turn and the quota holds exactly.

use switchboard_core::kv::{KvBackend, KvQuota, KvQuotaExceeded, KvScope};
use switchboard_store::StoreError;

use crate::PgStore;
use crate::scope::{execute, in_tenant, query_opt};
use crate::turns::text_key;

const GET: &str = "SELECT value FROM plugin_state WHERE tenant = $1 AND plugin = $2 AND key = $3";
const USAGE_ROW: &str = "INSERT INTO kv_usage (tenant, keys, bytes) VALUES ($1, 0, 0) ON CONFLICT DO NOTHING";
const LOCK_USAGE: &str = "SELECT keys, bytes FROM kv_usage WHERE tenant = $1 FOR UPDATE";
const OLD_SIZE: &str =
    "SELECT length(value) FROM plugin_state WHERE tenant = $1 AND plugin = $2 AND key = $3";
const PUT: &str = "INSERT INTO plugin_state (tenant, plugin, key, value) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (tenant, plugin, key) DO UPDATE SET value = EXCLUDED.value";
const DELETE: &str =
    "DELETE FROM plugin_state WHERE tenant = $1 AND plugin = $2 AND key = $3 RETURNING length(value)";
const SET_USAGE: &str = "UPDATE kv_usage SET keys = $2, bytes = $3 WHERE tenant = $1";

/// The PostgreSQL [`KvBackend`].
#[derive(Debug, Clone)]
pub(crate) struct PgKv {
    pub(crate) store: PgStore,
}

impl KvBackend for PgKv {
    fn get(&self, scope: &KvScope, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let (tenant, plugin) = (scope.tenant.as_str(), scope.plugin.as_str());
        // A plugin chooses its keys, NUL included: `text` refuses NUL.
        let stored_key = text_key(key);
        Ok(self.store.block(in_tenant(&self.store, tenant, async |tx| {
            Ok(query_opt(tx, GET, &[&tenant, &plugin, &stored_key], "reading plugin state")
                .await?
                .map(|row| row.get(0)))
        }))?)
    }

    fn set(&self, scope: &KvScope, key: &str, value: &[u8], quota: &KvQuota) -> anyhow::Result<()> {
        let (tenant, plugin) = (scope.tenant.as_str(), scope.plugin.as_str());
        // A plugin chooses its keys, NUL included: `text` refuses NUL.
        let stored_key = text_key(key);
        let outcome = self.store.block(in_tenant(&self.store, tenant, async |tx| {
            let (mut keys, mut bytes) = lock_usage(tx, tenant).await?;
            let old =
                query_opt(tx, OLD_SIZE, &[&tenant, &plugin, &stored_key], "reading plugin state").await?;
            match old.map(|row| row.get::<_, i32>(0)) {
                Some(old) => bytes -= (key.len() as i64) + i64::from(old),
                None => keys += 1,
            }
            bytes += (key.len() + value.len()) as i64;
            let limit = |what, limit: u64| Ok(Err(KvQuotaExceeded { what, limit }));
            if keys > i64::try_from(quota.keys).unwrap_or(i64::MAX) {
                return limit("keys", quota.keys);
            }
            if bytes > i64::try_from(quota.bytes).unwrap_or(i64::MAX) {
                return limit("bytes", quota.bytes);
            }
            execute(tx, PUT, &[&tenant, &plugin, &stored_key, &value], "writing plugin state").await?;
            execute(tx, SET_USAGE, &[&tenant, &keys, &bytes], "counting plugin state").await?;
            Ok(Ok(()))
        }))?;
        Ok(outcome?)
    }

    fn delete(&self, scope: &KvScope, key: &str) -> anyhow::Result<()> {
        let (tenant, plugin) = (scope.tenant.as_str(), scope.plugin.as_str());
        // A plugin chooses its keys, NUL included: `text` refuses NUL.
        let stored_key = text_key(key);
        Ok(self.store.block(in_tenant(&self.store, tenant, async |tx| {
            let (keys, bytes) = lock_usage(tx, tenant).await?;
            let removed =
                query_opt(tx, DELETE, &[&tenant, &plugin, &stored_key], "removing plugin state").await?;
            if let Some(old) = removed.map(|row| row.get::<_, i32>(0)) {
                let bytes = (bytes - key.len() as i64 - i64::from(old)).max(0);
                execute(tx, SET_USAGE, &[&tenant, &(keys - 1).max(0), &bytes], "counting plugin state")
                    .await?;
            }
            Ok(())
        }))?)
    }
}

/// The tenant's usage, its row locked until the transaction ends.
async fn lock_usage(tx: &deadpool_postgres::Transaction<'_>, tenant: &str) -> Result<(i64, i64), StoreError> {
    execute(tx, USAGE_ROW, &[&tenant], "starting plugin state usage").await?;
    let row = query_opt(tx, LOCK_USAGE, &[&tenant], "locking plugin state usage").await?;
    Ok(row.map_or((0, 0), |row| (row.get(0), row.get(1))))
}
