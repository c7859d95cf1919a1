//! The scope a transaction runs in, which row-level security checks: one
//! tenant, or (for the scheduler's claim only) all of them. Set with
//! `set_config(..., true)`, so it ends with the transaction and a pooled
//! connection carries nothing over.

use deadpool_postgres::Transaction;
use switchboard_store::StoreError;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::{PgStore, backend};

pub(crate) enum Scope<'a> {
    Tenant(&'a str),
    /// Every tenant's rows of the tables whose policies allow it (timers).
    AllTenants,
    /// Only rows that are no tenant's (blobs, named by their hash).
    Shared,
}

const SET_SCOPE: &str = "SELECT set_config('switchboard.tenant', $1, true), \
     set_config('switchboard.scope', $2, true), set_config('switchboard.retiring', '', true)";

/// Begin a transaction on `client` in `scope`.
pub(crate) async fn begin<'c>(
    client: &'c mut deadpool_postgres::Object,
    scope: Scope<'_>,
) -> Result<Transaction<'c>, StoreError> {
    let transaction = client.transaction().await.map_err(backend("beginning a transaction"))?;
    // Every setting the policies read, every time: a value a session or
    // role default left behind is never what a statement runs under.
    let (tenant, all_tenants) = match scope {
        Scope::Tenant(tenant) => (tenant, ""),
        Scope::AllTenants => ("", "all-tenants"),
        Scope::Shared => ("", ""),
    };
    let statement = transaction.prepare_cached(SET_SCOPE).await.map_err(backend("preparing the scope"))?;
    transaction.execute(&statement, &[&tenant, &all_tenants]).await.map_err(backend("setting the scope"))?;
    Ok(transaction)
}

/// Run `work` in a transaction of `tenant`'s, and commit it. An error (or
/// `work` returning early with one) rolls it back.
pub(crate) async fn in_tenant<T>(
    store: &PgStore,
    tenant: &str,
    work: impl AsyncFnOnce(&Transaction<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    in_scope(store, Scope::Tenant(tenant), work).await
}

pub(crate) async fn in_scope<T>(
    store: &PgStore,
    scope: Scope<'_>,
    work: impl AsyncFnOnce(&Transaction<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut client = store.client().await?;
    let transaction = begin(&mut client, scope).await?;
    let value = work(&transaction).await?;
    transaction.commit().await.map_err(backend("committing a transaction"))?;
    Ok(value)
}

/// Run a statement (prepared once per connection); the rows it changed.
pub(crate) async fn execute(
    transaction: &Transaction<'_>,
    sql: &'static str,
    params: &[&(dyn ToSql + Sync)],
    operation: &'static str,
) -> Result<u64, StoreError> {
    let statement = transaction.prepare_cached(sql).await.map_err(backend(operation))?;
    transaction.execute(&statement, params).await.map_err(backend(operation))
}

/// Run a query (prepared once per connection); its rows.
pub(crate) async fn query(
    transaction: &Transaction<'_>,
    sql: &'static str,
    params: &[&(dyn ToSql + Sync)],
    operation: &'static str,
) -> Result<Vec<Row>, StoreError> {
    let statement = transaction.prepare_cached(sql).await.map_err(backend(operation))?;
    transaction.query(&statement, params).await.map_err(backend(operation))
}

/// Run a query of at most one row.
pub(crate) async fn query_opt(
    transaction: &Transaction<'_>,
    sql: &'static str,
    params: &[&(dyn ToSql + Sync)],
    operation: &'static str,
) -> Result<Option<Row>, StoreError> {
    let statement = transaction.prepare_cached(sql).await.map_err(backend(operation))?;
    transaction.query_opt(&statement, params).await.map_err(backend(operation))
}

/// One read-only statement in `tenant`'s scope, in one round trip: BEGIN,
/// the scope, the statement and COMMIT go out together (tokio-postgres
/// sends a connection's requests in the order they are first polled), so
/// the scope stays the transaction's own, as for every other statement.
pub(crate) async fn read(
    store: &PgStore,
    tenant: &str,
    sql: &'static str,
    params: &[&(dyn ToSql + Sync)],
    operation: &'static str,
) -> Result<Vec<Row>, StoreError> {
    let client = store.client().await?;
    let scope = client.prepare_cached(SET_SCOPE).await.map_err(backend(operation))?;
    let statement = client.prepare_cached(sql).await.map_err(backend(operation))?;
    let scope_params: [&(dyn ToSql + Sync); 2] = [&tenant, &""];
    let (begun, scoped, rows, ended) = tokio::join!(
        client.batch_execute("BEGIN READ ONLY"),
        client.execute(&scope, &scope_params),
        client.query(&statement, params),
        client.batch_execute("COMMIT"),
    );
    begun.map_err(backend(operation))?;
    scoped.map_err(backend(operation))?;
    let rows = rows.map_err(backend(operation))?;
    ended.map_err(backend(operation))?;
    Ok(rows)
}
