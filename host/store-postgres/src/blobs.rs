//! Blobs named by their SHA-256 (components, flow sources), shared and
//! stored once; flow versions and plugin configs, a tenant's own.

use sha2::{Digest, Sha256};
use switchboard_store::StoreError;

use crate::PgStore;
use crate::scope::{Scope, execute, in_scope, in_tenant, query_opt};

const PUT_BLOB: &str = "INSERT INTO blobs (hash, bytes) VALUES ($1, $2) ON CONFLICT DO NOTHING";
const BLOB: &str = "SELECT bytes FROM blobs WHERE hash = $1";
const PUT_FLOW: &str = "INSERT INTO flows (tenant, version, hash) VALUES ($1, $2, $3) \
     ON CONFLICT (tenant, version) DO UPDATE SET hash = EXCLUDED.hash";
const FLOW: &str =
    "SELECT b.bytes FROM flows f JOIN blobs b ON b.hash = f.hash WHERE f.tenant = $1 AND f.version = $2";
const PUT_CONFIG: &str =
    "INSERT INTO plugin_configs (tenant, hash, text) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
const CONFIG: &str = "SELECT text FROM plugin_configs WHERE tenant = $1 AND hash = $2";

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub(crate) async fn put_blob(store: &PgStore, bytes: &[u8]) -> Result<String, StoreError> {
    let hash = sha256(bytes);
    // Blobs belong to no tenant: any scope writes them.
    in_scope(store, Scope::Shared, async |tx| {
        execute(tx, PUT_BLOB, &[&hash, &bytes], "writing a blob").await
    })
    .await?;
    Ok(hash)
}

pub(crate) async fn blob(store: &PgStore, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let row =
        in_scope(store, Scope::Shared, async |tx| query_opt(tx, BLOB, &[&hash], "reading a blob").await)
            .await?;
    let Some(bytes) = row.map(|row| row.get::<_, Vec<u8>>(0)) else { return Ok(None) };
    checked(hash, bytes).map(Some)
}

fn checked(hash: &str, bytes: Vec<u8>) -> Result<Vec<u8>, StoreError> {
    verify(hash, &bytes)?;
    Ok(bytes)
}

/// Refuse bytes that `hash` does not name.
pub(crate) fn verify(hash: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let actual = sha256(bytes);
    if actual != hash {
        return Err(StoreError::Corrupt { expected: hash.to_owned(), actual });
    }
    Ok(())
}

pub(crate) async fn put_flow(
    store: &PgStore,
    tenant: &str,
    version: &str,
    source: &str,
) -> Result<(), StoreError> {
    let hash = put_blob(store, source.as_bytes()).await?;
    in_tenant(store, tenant, async |tx| {
        execute(tx, PUT_FLOW, &[&tenant, &version, &hash], "writing a flow version").await.map(drop)
    })
    .await
}

pub(crate) async fn flow(store: &PgStore, tenant: &str, version: &str) -> Result<Option<String>, StoreError> {
    let row = in_tenant(store, tenant, async |tx| {
        query_opt(tx, FLOW, &[&tenant, &version], "reading a flow").await
    })
    .await?;
    Ok(row.map(|row| String::from_utf8_lossy(&row.get::<_, Vec<u8>>(0)).into_owned()))
}

pub(crate) async fn put_config(store: &PgStore, tenant: &str, text: &str) -> Result<String, StoreError> {
    let hash = sha256(text.as_bytes());
    in_tenant(store, tenant, async |tx| {
        execute(tx, PUT_CONFIG, &[&tenant, &hash, &text], "writing a plugin config").await.map(drop)
    })
    .await?;
    Ok(hash)
}

pub(crate) async fn config(store: &PgStore, tenant: &str, hash: &str) -> Result<Option<String>, StoreError> {
    let row = in_tenant(store, tenant, async |tx| {
        query_opt(tx, CONFIG, &[&tenant, &hash], "reading a plugin config").await
    })
    .await?;
    Ok(row.map(|row| row.get(0)))
}
