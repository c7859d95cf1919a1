//! Staff, console sessions and one-time login links. Tokens are stored by
//! their SHA-256 only, so a copy of the database signs no one in.

use switchboard_store::StoreError;

use crate::PgStore;
use crate::scope::{Scope, execute, in_scope, in_tenant, query, query_opt};

const MEMBER: &str = "SELECT record FROM staff WHERE tenant = $1 AND id = $2";
const STAFF: &str = "SELECT id, record FROM staff WHERE tenant = $1 ORDER BY id";
const PUT_MEMBER: &str = "INSERT INTO staff (tenant, id, record) VALUES ($1, $2, $3) \
     ON CONFLICT (tenant, id) DO UPDATE SET record = EXCLUDED.record";
const REMOVE_MEMBER: &str = "DELETE FROM staff WHERE tenant = $1 AND id = $2";
const SESSION: &str = "SELECT record FROM sessions WHERE token_hash = $1";
const PUT_SESSION: &str = "INSERT INTO sessions (token_hash, record) VALUES ($1, $2) \
     ON CONFLICT (token_hash) DO UPDATE SET record = EXCLUDED.record";
const REMOVE_SESSION: &str = "DELETE FROM sessions WHERE token_hash = $1";
const PUT_LINK: &str = "INSERT INTO login_links (token_hash, record) VALUES ($1, $2) \
     ON CONFLICT (token_hash) DO UPDATE SET record = EXCLUDED.record";
const TAKE_LINK: &str = "DELETE FROM login_links WHERE token_hash = $1 RETURNING record";
const ALL_SESSIONS: &str = "SELECT token_hash, record FROM sessions FOR UPDATE";
const ALL_LINKS: &str = "SELECT token_hash, record FROM login_links FOR UPDATE";
const REMOVE_SESSIONS: &str = "DELETE FROM sessions WHERE token_hash = ANY($1)";
const REMOVE_LINKS: &str = "DELETE FROM login_links WHERE token_hash = ANY($1)";

pub(crate) async fn member(store: &PgStore, tenant: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
    in_tenant(store, tenant, async |tx| {
        Ok(query_opt(tx, MEMBER, &[&tenant, &id], "reading a staff member").await?.map(|row| row.get(0)))
    })
    .await
}

pub(crate) async fn staff(store: &PgStore, tenant: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    in_tenant(store, tenant, async |tx| {
        Ok(query(tx, STAFF, &[&tenant], "listing staff")
            .await?
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect())
    })
    .await
}

pub(crate) async fn put_member(
    store: &PgStore,
    tenant: &str,
    id: &str,
    record: &[u8],
) -> Result<(), StoreError> {
    in_tenant(store, tenant, async |tx| {
        execute(tx, PUT_MEMBER, &[&tenant, &id, &record], "writing a staff member").await.map(drop)
    })
    .await
}

pub(crate) async fn remove_member(
    store: &PgStore,
    tenant: &str,
    id: &str,
    holds: &dyn Fn(&[u8]) -> bool,
) -> Result<bool, StoreError> {
    // One transaction: a removed member's sessions never outlive them.
    in_tenant(store, tenant, async |tx| {
        let existed = execute(tx, REMOVE_MEMBER, &[&tenant, &id], "removing a staff member").await? == 1;
        remove_sessions(tx, holds).await?;
        Ok(existed)
    })
    .await
}

/// Remove the sessions and links `which` picks, in one transaction.
pub(crate) async fn sweep(store: &PgStore, which: &dyn Fn(&[u8]) -> bool) -> Result<usize, StoreError> {
    in_scope(store, Scope::Shared, async |tx| remove_sessions(tx, which).await).await
}

/// Remove the sessions and login links whose record `which` picks; how many.
async fn remove_sessions(
    tx: &deadpool_postgres::Transaction<'_>,
    which: &dyn Fn(&[u8]) -> bool,
) -> Result<usize, StoreError> {
    let mut removed = 0;
    for (all, remove) in [(ALL_SESSIONS, REMOVE_SESSIONS), (ALL_LINKS, REMOVE_LINKS)] {
        let rows = query(tx, all, &[], "reading sessions").await?;
        let picked: Vec<Vec<u8>> = rows
            .iter()
            .filter(|row| which(row.get::<_, &[u8]>(1)))
            .map(|row| row.get::<_, Vec<u8>>(0))
            .collect();
        if !picked.is_empty() {
            removed += usize::try_from(execute(tx, remove, &[&picked], "removing sessions").await?)
                .unwrap_or_default();
        }
    }
    Ok(removed)
}

pub(crate) async fn session(store: &PgStore, token_hash: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
    let hash = token_hash.as_slice();
    in_scope(store, Scope::Shared, async |tx| {
        Ok(query_opt(tx, SESSION, &[&hash], "reading a session").await?.map(|row| row.get(0)))
    })
    .await
}

pub(crate) async fn put(
    store: &PgStore,
    link: bool,
    token_hash: &[u8; 32],
    record: &[u8],
) -> Result<(), StoreError> {
    let (sql, hash) = (if link { PUT_LINK } else { PUT_SESSION }, token_hash.as_slice());
    in_scope(store, Scope::Shared, async |tx| {
        execute(tx, sql, &[&hash, &record], "writing a session").await.map(drop)
    })
    .await
}

pub(crate) async fn remove_session(store: &PgStore, token_hash: &[u8; 32]) -> Result<(), StoreError> {
    let hash = token_hash.as_slice();
    in_scope(store, Scope::Shared, async |tx| {
        execute(tx, REMOVE_SESSION, &[&hash], "removing a session").await.map(drop)
    })
    .await
}

pub(crate) async fn take_link(store: &PgStore, token_hash: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
    let hash = token_hash.as_slice();
    in_scope(store, Scope::Shared, async |tx| {
        Ok(query_opt(tx, TAKE_LINK, &[&hash], "taking a login link").await?.map(|row| row.get(0)))
    })
    .await
}
