//! The tenant catalog: each tenant's directory as one sealed bundle under
//! a revision, changed by compare-and-set so of two nodes changing one
//! tenant at once one wins.

use switchboard_store::{Publish, StoreError, TenantRevision};

use crate::PgStore;
use crate::scope::{Scope, in_scope, in_tenant, query, query_opt};

const REVISIONS: &str = "SELECT tenant, revision, bundle IS NULL FROM tenant_catalog ORDER BY tenant";
const BUNDLE: &str = "SELECT revision, bundle FROM tenant_catalog WHERE tenant = $1 AND bundle IS NOT NULL";
const REVISION: &str = "SELECT revision FROM tenant_catalog WHERE tenant = $1";
const FIRST: &str = "INSERT INTO tenant_catalog (tenant, revision, bundle) VALUES ($1, 1, $2) \
     ON CONFLICT DO NOTHING RETURNING revision";
const NEXT: &str = "UPDATE tenant_catalog SET revision = revision + 1, bundle = $3, at = now() \
     WHERE tenant = $1 AND revision = $2 RETURNING revision";

pub(crate) async fn revisions(store: &PgStore) -> Result<Vec<TenantRevision>, StoreError> {
    in_scope(store, Scope::AllTenants, async |tx| {
        let rows = query(tx, REVISIONS, &[], "listing the tenant catalog").await?;
        Ok(rows
            .iter()
            .map(|row| TenantRevision {
                tenant: row.get(0),
                revision: revision(row.get(1)),
                removed: row.get(2),
            })
            .collect())
    })
    .await
}

pub(crate) async fn bundle(store: &PgStore, tenant: &str) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
    in_tenant(store, tenant, async |tx| {
        let row = query_opt(tx, BUNDLE, &[&tenant], "reading a tenant's bundle").await?;
        Ok(row.map(|row| (revision(row.get(0)), row.get(1))))
    })
    .await
}

pub(crate) async fn publish(
    store: &PgStore,
    tenant: &str,
    based_on: u64,
    bundle: Option<&[u8]>,
) -> Result<Publish, StoreError> {
    let based_on_column = i64::try_from(based_on).unwrap_or(i64::MAX);
    in_tenant(store, tenant, async |tx| {
        let written = if based_on == 0 {
            query_opt(tx, FIRST, &[&tenant, &bundle], "publishing a tenant").await?
        } else {
            query_opt(tx, NEXT, &[&tenant, &based_on_column, &bundle], "publishing a tenant").await?
        };
        if let Some(row) = written {
            return Ok(Publish::Done(revision(row.get(0))));
        }
        let held = query_opt(tx, REVISION, &[&tenant], "reading a tenant's revision").await?;
        Ok(Publish::Moved(held.map_or(0, |row| revision(row.get(0)))))
    })
    .await
}

fn revision(column: i64) -> u64 {
    u64::try_from(column).unwrap_or_default()
}
