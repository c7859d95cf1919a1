//! The scope a transaction runs in, which row-level security checks: one
//! tenant, or (for the scheduler's claim only) all of them. Set with
//! `set_config(..., true)`, so it ends with the transaction and a pooled
//! connection carries nothing over.

use deadpool_postgres::Transaction;
use switchboard_store::StoreError;

use crate::backend;

pub(crate) enum Scope<'a> {
    Tenant(&'a str),
    /// Every tenant's rows of the tables whose policies allow it (timers).
    AllTenants,
}

/// Begin a transaction on `client` in `scope`.
pub(crate) async fn begin<'c>(
    client: &'c mut deadpool_postgres::Object,
    scope: Scope<'_>,
) -> Result<Transaction<'c>, StoreError> {
    let transaction = client.transaction().await.map_err(backend("beginning a transaction"))?;
    match scope {
        Scope::Tenant(tenant) => {
            let statement = transaction
                .prepare_cached("SELECT set_config('switchboard.tenant', $1, true)")
                .await
                .map_err(backend("preparing the tenant scope"))?;
            transaction.execute(&statement, &[&tenant]).await.map_err(backend("setting the tenant scope"))?;
        }
        Scope::AllTenants => {
            let statement = transaction
                .prepare_cached("SELECT set_config('switchboard.scope', 'all-tenants', true)")
                .await
                .map_err(backend("preparing the all-tenants scope"))?;
            transaction.execute(&statement, &[]).await.map_err(backend("setting the all-tenants scope"))?;
        }
    }
    Ok(transaction)
}
