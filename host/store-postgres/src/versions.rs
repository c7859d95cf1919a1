//! Plugin versions, withdrawn components, recorded step calls, and the
//! operator's catalog.

use switchboard_store::{CatalogEntry, NewVersion, PluginVersion, Published, StoreError};

use crate::PgStore;
use crate::scope::{Scope, execute, in_scope, in_tenant, query, query_opt};
use crate::turns::{decode, encode};

/// One recorder of a binding's versions at a time, on any node.
const LOCK_BINDING: &str =
    "SELECT pg_advisory_xact_lock(hashtextextended('plugin-version' || chr(31) || $1 || chr(31) || $2, 0))";
const LATEST: &str = "SELECT version FROM plugin_versions \
     WHERE tenant = $1 AND binding = $2 AND canary = $3 ORDER BY seq DESC LIMIT 1";
const LAST_SEQ: &str = "SELECT coalesce(max(seq), 0) FROM plugin_versions WHERE tenant = $1 AND binding = $2";
const INSERT_VERSION: &str = "INSERT INTO plugin_versions (tenant, binding, seq, canary, version) \
     VALUES ($1, $2, $3, $4, $5)";
const VERSIONS: &str = "SELECT version FROM plugin_versions WHERE tenant = $1 AND binding = $2 ORDER BY seq";
const WITHDRAW: &str = "INSERT INTO withdrawn_components (tenant, binding, component) VALUES ($1, $2, $3) \
     ON CONFLICT DO NOTHING";
const UNWITHDRAW: &str =
    "DELETE FROM withdrawn_components WHERE tenant = $1 AND binding = $2 AND component = $3";
const WITHDRAWN: &str =
    "SELECT binding, component FROM withdrawn_components WHERE tenant = $1 ORDER BY binding, component";
const RECORD_CALLS: &str = "INSERT INTO step_calls (tenant, at, seq, record) \
     SELECT $1, at, nextval('step_call_seq'), record FROM unnest($2::bigint[], $3::bytea[]) WITH ORDINALITY AS u(at, record, n) \
     ORDER BY n";
const CALLS: &str = "SELECT at, seq, record FROM step_calls WHERE tenant = $1 AND (at, seq) >= ($2, $3) \
     ORDER BY at, seq LIMIT $4";
const PUBLISH: &str = "INSERT INTO catalog (name, version, entry) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
const CATALOG_ENTRY: &str = "SELECT entry FROM catalog WHERE name = $1 AND version = $2";
const CATALOG: &str = "SELECT entry FROM catalog ORDER BY name, version";

pub(crate) async fn record(
    store: &PgStore,
    tenant: &str,
    binding: &str,
    new: NewVersion,
) -> Result<(PluginVersion, bool), StoreError> {
    in_tenant(store, tenant, async |tx| {
        query(tx, LOCK_BINDING, &[&tenant, &binding], "locking a binding's versions").await?;
        let canary = new.canary.is_some();
        let latest =
            query_opt(tx, LATEST, &[&tenant, &binding, &canary], "reading a binding's version").await?;
        if let Some(latest) = latest {
            let latest: PluginVersion = decode(binding, latest.get(0))?;
            if latest.component == new.component && latest.config == new.config && latest.canary == new.canary
            {
                return Ok((latest, false));
            }
        }
        let last: i64 = query_opt(tx, LAST_SEQ, &[&tenant, &binding], "numbering a version")
            .await?
            .map_or(0, |row| row.get(0));
        let version = PluginVersion {
            seq: u64::try_from(last).unwrap_or_default() + 1,
            component: new.component,
            config: new.config,
            manifest: new.manifest,
            at: new.at,
            canary: new.canary,
            by: new.by,
            note: new.note,
        };
        let json = encode(binding, &version)?;
        let seq = last + 1;
        execute(tx, INSERT_VERSION, &[&tenant, &binding, &seq, &canary, &json], "recording a version")
            .await?;
        Ok((version, true))
    })
    .await
}

pub(crate) async fn versions(
    store: &PgStore,
    tenant: &str,
    binding: &str,
) -> Result<Vec<PluginVersion>, StoreError> {
    in_tenant(store, tenant, async |tx| {
        let rows = query(tx, VERSIONS, &[&tenant, &binding], "listing versions").await?;
        rows.iter().map(|row| decode(binding, row.get(0))).collect()
    })
    .await
}

pub(crate) async fn withdraw(
    store: &PgStore,
    tenant: &str,
    binding: &str,
    component: &str,
    withdrawn: bool,
) -> Result<(), StoreError> {
    let sql = if withdrawn { WITHDRAW } else { UNWITHDRAW };
    in_tenant(store, tenant, async |tx| {
        execute(tx, sql, &[&tenant, &binding, &component], "withdrawing a component").await.map(drop)
    })
    .await
}

pub(crate) async fn withdrawn(store: &PgStore, tenant: &str) -> Result<Vec<(String, String)>, StoreError> {
    in_tenant(store, tenant, async |tx| {
        let rows = query(tx, WITHDRAWN, &[&tenant], "listing withdrawn components").await?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    })
    .await
}

pub(crate) async fn record_calls(
    store: &PgStore,
    tenant: &str,
    calls: &[(i64, Vec<u8>)],
) -> Result<(), StoreError> {
    if calls.is_empty() {
        return Ok(());
    }
    let at: Vec<i64> = calls.iter().map(|(at, _)| *at).collect();
    let records: Vec<&[u8]> = calls.iter().map(|(_, record)| record.as_slice()).collect();
    in_tenant(store, tenant, async |tx| {
        execute(tx, RECORD_CALLS, &[&tenant, &at, &records], "recording step calls").await.map(drop)
    })
    .await
}

pub(crate) async fn calls(
    store: &PgStore,
    tenant: &str,
    from: (i64, u64),
    limit: usize,
) -> Result<Vec<(i64, u64, Vec<u8>)>, StoreError> {
    let seq = i64::try_from(from.1).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    in_tenant(store, tenant, async |tx| {
        let rows = query(tx, CALLS, &[&tenant, &from.0, &seq, &limit], "reading step calls").await?;
        Ok(rows
            .iter()
            .map(|row| (row.get(0), u64::try_from(row.get::<_, i64>(1)).unwrap_or_default(), row.get(2)))
            .collect())
    })
    .await
}

pub(crate) async fn publish(store: &PgStore, entry: CatalogEntry) -> Result<Published, StoreError> {
    let json = encode(&entry.name, &entry)?;
    in_scope(store, Scope::Shared, async |tx| {
        let inserted =
            execute(tx, PUBLISH, &[&entry.name, &entry.version, &json], "publishing to the catalog").await?;
        if inserted == 1 {
            return Ok(Published::New(entry));
        }
        let held =
            query_opt(tx, CATALOG_ENTRY, &[&entry.name, &entry.version], "reading the catalog").await?;
        let held: CatalogEntry = match held {
            Some(row) => decode(&entry.name, row.get(0))?,
            None => return Ok(Published::New(entry)),
        };
        Ok(if held.component == entry.component { Published::Again(held) } else { Published::Taken(held) })
    })
    .await
}

pub(crate) async fn catalog(store: &PgStore) -> Result<Vec<CatalogEntry>, StoreError> {
    in_scope(store, Scope::Shared, async |tx| {
        let rows = query(tx, CATALOG, &[], "reading the catalog").await?;
        rows.iter().map(|row| decode("a catalog entry", row.get(0))).collect()
    })
    .await
}

pub(crate) async fn catalog_entry(
    store: &PgStore,
    name: &str,
    version: &str,
) -> Result<Option<CatalogEntry>, StoreError> {
    in_scope(store, Scope::Shared, async |tx| {
        let row = query_opt(tx, CATALOG_ENTRY, &[&name, &version], "reading the catalog").await?;
        row.map(|row| decode(name, row.get(0))).transpose()
    })
    .await
}
