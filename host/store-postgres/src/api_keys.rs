//! Tenants' API keys, as SHA-256 hashes of their secrets.

use switchboard_store::{ApiKey, StoreError};

use crate::PgStore;
use crate::scope::{execute, in_tenant, query, query_opt};
use crate::turns::{decode, encode};

const PUT: &str = "INSERT INTO api_keys (tenant, id, key) VALUES ($1, $2, $3) \
     ON CONFLICT (tenant, id) DO UPDATE SET key = EXCLUDED.key";
const GET: &str = "SELECT key FROM api_keys WHERE tenant = $1 AND id = $2";
const LIST: &str = "SELECT key FROM api_keys WHERE tenant = $1 ORDER BY id";

pub(crate) async fn put(store: &PgStore, tenant: &str, key: &ApiKey) -> Result<(), StoreError> {
    let json = encode(&key.id, key)?;
    in_tenant(store, tenant, async |tx| {
        execute(tx, PUT, &[&tenant, &key.id, &json], "writing an API key").await.map(drop)
    })
    .await
}

pub(crate) async fn get(store: &PgStore, tenant: &str, id: &str) -> Result<Option<ApiKey>, StoreError> {
    in_tenant(store, tenant, async |tx| {
        let row = query_opt(tx, GET, &[&tenant, &id], "reading an API key").await?;
        row.map(|row| decode(id, row.get(0))).transpose()
    })
    .await
}

pub(crate) async fn list(store: &PgStore, tenant: &str) -> Result<Vec<ApiKey>, StoreError> {
    in_tenant(store, tenant, async |tx| {
        let rows = query(tx, LIST, &[&tenant], "listing API keys").await?;
        rows.iter().map(|row| decode("an API key", row.get(0))).collect()
    })
    .await
}
