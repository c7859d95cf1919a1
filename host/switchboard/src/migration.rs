//! Moving a deployment's records from one store to another, whole, and
//! showing that they arrived (`switchboard store migrate`, `bench migrate`).
//!
//! Every record goes over in its portable form (`switchboard_store::portable`),
//! sequence numbers kept, so API readers' event cursors stay valid. The
//! source is counted and digested per kind as it is read; the target is read
//! back afterwards and counted the same way, and the two must agree.
//!
//! The target must hold nothing: a migration never overwrites. Console
//! sessions and login links stay behind (people sign in again).

use std::collections::BTreeMap;

use switchboard_store::portable::{Inventory, Record, Shared, dump_shared, dump_tenant};
use switchboard_store::{Backend, StoreError};

/// Shared records (components weigh up to 30 MB each) go over in batches
/// of about this many bytes.
const SHARED_BATCH_BYTES: usize = 64 * 1024 * 1024;

/// The inventory of what holds no tenant's, by this name.
pub const SHARED_SCOPE: &str = "(shared)";

/// What a migration wrote: per tenant (and [`SHARED_SCOPE`]), the
/// inventory of the records read from the source.
pub type Inventories = BTreeMap<String, Inventory>;

/// Where a migration is: what it is moving, and how many records of it so far.
#[derive(Debug)]
pub enum Progress<'a> {
    Shared,
    Tenant { tenant: &'a str, records: u64 },
    TenantDone,
}

/// Refuse a target that holds anything a migration would write.
pub fn ensure_empty(
    target: &dyn Backend,
    tenants: &[String],
    url: &impl std::fmt::Display,
) -> anyhow::Result<()> {
    let mut held = Vec::new();
    if !target.tenant_revisions()?.is_empty() {
        held.push("a tenant catalog".to_owned());
    }
    if !target.catalog()?.is_empty() {
        held.push("a plugin catalog".to_owned());
    }
    if !target.blob_hashes()?.is_empty() {
        held.push("blobs".to_owned());
    }
    for tenant in tenants {
        let mut records = 0u64;
        dump_tenant(target, tenant, &mut |_| {
            records += 1;
            Ok(())
        })?;
        if records > 0 {
            held.push(format!("{records} records of tenant {tenant}"));
        }
    }
    anyhow::ensure!(
        held.is_empty(),
        "{url} holds {} already; a migration writes only into an empty database, so nothing is overwritten. \
         Create a new one (`createdb switchboard_new`) and migrate into it",
        held.join(", ")
    );
    Ok(())
}

fn copy_shared(source: &dyn Backend, target: &dyn Backend) -> Result<Inventory, StoreError> {
    let mut inventory = Inventory::default();
    let mut batch = Vec::new();
    let mut bytes = 0;
    dump_shared(source, &mut |record| {
        inventory.shared(&record)?;
        bytes += match &record {
            Shared::Blob { bytes, .. } => bytes.len(),
            Shared::TenantBundle { bundle, .. } => bundle.as_ref().map_or(0, Vec::len),
            Shared::CatalogEntry(_) => 0,
        };
        batch.push(record);
        if bytes >= SHARED_BATCH_BYTES {
            target.restore_shared(&std::mem::take(&mut batch))?;
            bytes = 0;
        }
        Ok(())
    })?;
    target.restore_shared(&batch)?;
    Ok(inventory)
}

fn copy_tenant(
    source: &dyn Backend,
    target: &dyn Backend,
    tenant: &str,
    batch_size: usize,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Inventory, StoreError> {
    let mut inventory = Inventory::default();
    let mut batch: Vec<Record> = Vec::with_capacity(batch_size);
    dump_tenant(source, tenant, &mut |record| {
        inventory.record(&record)?;
        batch.push(record);
        if batch.len() >= batch_size {
            target.restore_tenant(tenant, &std::mem::take(&mut batch))?;
            progress(Progress::Tenant { tenant, records: inventory.total() });
        }
        Ok(())
    })?;
    target.restore_tenant(tenant, &batch)?;
    Ok(inventory)
}

/// What `store` holds, counted as the copy was: shared records and each
/// of `tenants`' records.
pub fn inventory_of(store: &dyn Backend, tenants: &[String]) -> Result<Inventories, StoreError> {
    let mut inventories = BTreeMap::new();
    let mut shared = Inventory::default();
    dump_shared(store, &mut |record| shared.shared(&record))?;
    inventories.insert(SHARED_SCOPE.to_owned(), shared);
    for tenant in tenants {
        let mut inventory = Inventory::default();
        dump_tenant(store, tenant, &mut |record| inventory.record(&record))?;
        inventories.insert(tenant.clone(), inventory);
    }
    Ok(inventories)
}

/// Copy every shared record and every record of `tenants` from `source`
/// into `target`, `batch` tenant records per transaction.
pub fn copy(
    source: &dyn Backend,
    target: &dyn Backend,
    tenants: &[String],
    batch: usize,
    progress: &mut dyn FnMut(Progress<'_>),
) -> anyhow::Result<Inventories> {
    use anyhow::Context;
    anyhow::ensure!(batch > 0, "a batch holds at least one record");
    // Before anything is written: a KPI rebuild a crash cut short is
    // finished, as the next fold would (its half-cleared tallies are not
    // moved as they are), and every key is of a kind this version moves.
    for tenant in tenants {
        source
            .finish_kpi_rebuild(tenant)
            .with_context(|| format!("finishing tenant {tenant}'s interrupted KPI rebuild"))?;
        source.dump_listed(tenant, &mut |_| Ok(())).with_context(|| format!("reading tenant {tenant}"))?;
    }
    let mut moved = Inventories::new();
    progress(Progress::Shared);
    let shared = copy_shared(source, target).context(
        "moving blobs and catalogs; the target is now partly written: drop it, create it again empty, and run this again",
    )?;
    moved.insert(SHARED_SCOPE.to_owned(), shared);
    for tenant in tenants {
        let inventory = copy_tenant(source, target, tenant, batch, progress).with_context(|| {
            format!(
                "moving tenant {tenant}; the target is now partly written: drop it, create it again empty, \
                 and run this again"
            )
        })?;
        moved.insert(tenant.clone(), inventory);
        progress(Progress::TenantDone);
    }
    if let Err(error) = target.finish_restore() {
        // Every record is written: the copy is whole, only slower to read
        // until the database gathers its statistics itself.
        tracing::warn!(%error, "every record was written, but gathering planner statistics failed: run ANALYZE on the target database");
    }
    Ok(moved)
}
