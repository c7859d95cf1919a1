//! `switchboard store migrate`: move a deployment's store to PostgreSQL,
//! whole, and show that it arrived.
//!
//! Every record goes over in its portable form (`switchboard_store::portable`),
//! sequence numbers kept, so API readers' event cursors stay valid. The
//! source is counted and digested per kind as it is read; the target is read
//! back afterwards and counted the same way, and the two must agree.
//!
//! The target must hold nothing: a migration never overwrites. Console
//! sessions and login links stay behind (people sign in again).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use switchboard::sealing::KEY_VAR;
use switchboard::store_url::StoreUrl;
use switchboard_store::portable::{Inventory, Record, Shared, dump_shared, dump_tenant};
use switchboard_store::{Backend, StoreError};

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// The store to move, as `serve --store` names it (`sled:.switchboard/data`);
    /// stop `serve` first.
    #[arg(long)]
    from: StoreUrl,
    /// An empty PostgreSQL database to move it into (`postgres://user@host:port/db`).
    #[arg(long)]
    to: StoreUrl,
    /// Records written per transaction.
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
}

/// Shared records (components weigh up to 30 MB each) go over in batches
/// of about this many bytes.
const SHARED_BATCH_BYTES: usize = 64 * 1024 * 1024;

/// The inventory of what holds no tenant's, in the report.
const SHARED_SCOPE: &str = "(shared)";

pub fn migrate(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        matches!(args.to, StoreUrl::Postgres(_)),
        "--to {}: a migration goes into PostgreSQL (postgres://user@host:port/db); the embedded sled store \
         cannot take one yet",
        args.to
    );
    anyhow::ensure!(args.from.to_string() != args.to.to_string(), "--from and --to name the same store");
    anyhow::ensure!(args.batch > 0, "--batch must be at least 1");
    let source: Arc<dyn Backend> = match &args.from {
        StoreUrl::Sled(dir) => Arc::new(crate::store_cli::open(dir)?),
        StoreUrl::Postgres(_) => args.from.open().with_context(|| format!("opening {}", args.from))?,
    };
    let target = args.to.open().with_context(|| format!("opening {}", args.to))?;
    let tenants = source.stored_tenants()?;
    ensure_empty(&*target, &tenants, &args.to)?;

    let progress = ProgressBar::new(tenants.len() as u64 + 1).with_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    progress.enable_steady_tick(std::time::Duration::from_millis(100));
    let mut moved: BTreeMap<String, Inventory> = BTreeMap::new();
    progress.set_message("blobs and catalogs");
    moved.insert(SHARED_SCOPE.to_owned(), copy_shared(&*source, &*target)?);
    progress.inc(1);
    for tenant in &tenants {
        progress.set_message(tenant.clone());
        let inventory = copy_tenant(&*source, &*target, tenant, args.batch, &progress)
            .with_context(|| format!("moving tenant {tenant}; the target is now partly written: drop it, create it again empty, and run this again"))?;
        moved.insert(tenant.clone(), inventory);
        progress.inc(1);
    }
    progress.set_message("reading the copy back");
    let arrived = inventory_of(&*target, &tenants)?;
    progress.finish_and_clear();

    print!("{}", report(&moved, &arrived));
    if moved != arrived {
        eprintln!(
            "error: {} does not hold what {} does (the rows marked ✗ above); do not serve from it",
            args.to, args.from
        );
        return Ok(ExitCode::FAILURE);
    }
    let records: u64 = moved.values().map(Inventory::total).sum();
    println!(
        "\nevery record arrived: {records} records of {} tenant(s), checked by count and SHA-256 per kind.",
        tenants.len()
    );
    let cataloged: Vec<String> =
        target.tenant_revisions()?.into_iter().map(|revision| revision.tenant).collect();
    let uncataloged: Vec<String> =
        tenants.iter().filter(|tenant| !cataloged.contains(tenant)).cloned().collect();
    println!("\n{}", next_steps(&args.from, &args.to, &uncataloged));
    Ok(ExitCode::SUCCESS)
}

/// Refuse a target that holds anything a migration would write.
fn ensure_empty(target: &dyn Backend, tenants: &[String], url: &StoreUrl) -> anyhow::Result<()> {
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
    progress: &ProgressBar,
) -> Result<Inventory, StoreError> {
    let mut inventory = Inventory::default();
    let mut batch: Vec<Record> = Vec::with_capacity(batch_size);
    dump_tenant(source, tenant, &mut |record| {
        inventory.record(&record)?;
        batch.push(record);
        if batch.len() >= batch_size {
            target.restore_tenant(tenant, &std::mem::take(&mut batch))?;
            progress.set_message(format!("{tenant}: {} records", inventory.total()));
        }
        Ok(())
    })?;
    target.restore_tenant(tenant, &batch)?;
    Ok(inventory)
}

/// What `store` holds, counted as the copy was: shared records and each
/// of `tenants`' records.
fn inventory_of(store: &dyn Backend, tenants: &[String]) -> Result<BTreeMap<String, Inventory>, StoreError> {
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

/// One row per tenant and kind: the counts on both sides, the digest, and
/// whether they agree.
fn report(moved: &BTreeMap<String, Inventory>, arrived: &BTreeMap<String, Inventory>) -> String {
    use std::fmt::Write;
    let empty = Inventory::default();
    let widest = moved.keys().map(String::len).max().unwrap_or(0).max("tenant".len());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<widest$}  {:<22} {:>9} {:>9}  {:<16}",
        "tenant", "kind", "source", "target", "sha-256 (sum)"
    );
    for (scope, source) in moved {
        let target = arrived.get(scope).unwrap_or(&empty);
        let mut kinds: Vec<&'static str> =
            source.kinds().chain(target.kinds()).map(|(kind, _)| kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        for kind in kinds {
            let count = |inventory: &Inventory| {
                inventory.kinds().find(|(name, _)| *name == kind).map(|(_, count)| *count)
            };
            let (from, to) = (count(source), count(target));
            let mark = if from == to { "✓" } else { "✗" };
            let records =
                |count: Option<switchboard_store::portable::Count>| count.map_or(0, |count| count.records);
            let digest = from.map(|count| count.digest()).unwrap_or_default();
            let _ = writeln!(
                out,
                "{scope:<widest$}  {kind:<22} {:>9} {:>9}  {:<16} {mark}",
                records(from),
                records(to),
                digest.get(..16).unwrap_or_default(),
            );
        }
    }
    out
}

/// What the operator does next: the key the nodes need, the tenants the
/// catalog lacks, and how to start the nodes.
fn next_steps(from: &StoreUrl, to: &StoreUrl, uncataloged: &[String]) -> String {
    let key = match (std::env::var_os(KEY_VAR), from) {
        (Some(_), _) => format!("the same {KEY_VAR} this ran with"),
        (None, StoreUrl::Sled(dir)) if dir.join("secrets.key").exists() => {
            format!("export {KEY_VAR}=$(cat {})", shell_path(&dir.join("secrets.key")))
        }
        (None, _) => format!("the {KEY_VAR} the old nodes ran with"),
    };
    let mut steps = vec![format!("give every node the key that sealed the tenant catalog:\n       {key}")];
    if !uncataloged.is_empty() {
        steps.push(format!(
            "import the directories of the tenants the catalog does not hold ({}), which a node would not serve:\n       \
             switchboard tenants import DIR --store '{to}'",
            uncataloged.join(", ")
        ));
    }
    steps.push(format!("start the nodes on the new store:\n       switchboard serve --store '{to}'"));
    let numbered: Vec<String> =
        steps.iter().enumerate().map(|(index, step)| format!("  {}. {step}", index + 1)).collect();
    format!("Next:\n{}", numbered.join("\n"))
}

fn shell_path(path: &Path) -> String {
    let text = path.display().to_string();
    if text.chars().all(|char| char.is_ascii_alphanumeric() || "/._-".contains(char)) {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}
