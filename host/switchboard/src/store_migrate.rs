//! `switchboard store migrate`: move a deployment's store to PostgreSQL,
//! whole, and show that it arrived (`switchboard::migration` does the
//! moving; this is the command, its report and what to do next).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use switchboard::migration::{self, Inventories, Progress};
use switchboard::sealing::KEY_VAR;
use switchboard::store_url::StoreUrl;
use switchboard_store::Backend;
use switchboard_store::portable::Inventory;

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
    /// The tenants' directory `serve` ran with (`--tenants`): any tenant
    /// there that the moved catalog lacks is named, with the import to run.
    #[arg(long)]
    tenants: Option<std::path::PathBuf>,
}

pub fn migrate(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        matches!(args.to, StoreUrl::Postgres(_)),
        "--to {}: a migration goes into PostgreSQL (postgres://user@host:port/db); the embedded sled store \
         cannot take one yet",
        args.to
    );
    anyhow::ensure!(args.from.to_string() != args.to.to_string(), "--from and --to name the same store");
    anyhow::ensure!(args.batch > 0, "--batch must be at least 1");
    let (source, retired): (Arc<dyn Backend>, u64) = match &args.from {
        StoreUrl::Sled(dir) => {
            anyhow::ensure!(
                dir.exists(),
                "no store at {} (--from sled:DIR names `serve --data`)",
                dir.display()
            );
            let store = crate::store_cli::open(dir)?;
            let retired = store.retired_keys()?;
            (Arc::new(store), retired)
        }
        StoreUrl::Postgres(_) => {
            // Nothing stops a node writing to a shared store meanwhile, and
            // what it writes after its tenant was read would stay behind.
            eprintln!(
                "note: stop every node on {} first: a migration does not see what they write",
                args.from
            );
            (args.from.open().with_context(|| format!("opening {}", args.from))?, 0)
        }
    };
    let target = args.to.open().with_context(|| format!("opening {}", args.to))?;
    let tenants = source.stored_tenants()?;
    migration::ensure_empty(&*target, &tenants, &args.to)?;

    let bar = ProgressBar::new(tenants.len() as u64 + 1).with_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    let moved = migration::copy(&*source, &*target, &tenants, args.batch, &mut |progress| match progress {
        Progress::Shared => {
            bar.set_message("blobs and catalogs");
            bar.inc(1);
        }
        Progress::Tenant { tenant, records } => bar.set_message(format!("{tenant}: {records} records")),
        Progress::TenantDone => bar.inc(1),
    })?;
    bar.set_message("reading the copy back");
    let arrived = migration::inventory_of(&*target, &tenants)?;
    bar.finish_and_clear();

    print!("{}", report(&moved, &arrived));
    if moved != arrived {
        eprintln!(
            "error: {} does not hold what {} does (the rows marked ✗ above); do not serve from it. \
             Drop it, create it again empty and run this again; if it differs again, report it with this table",
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
    let mut uncataloged: Vec<String> =
        tenants.iter().filter(|tenant| !cataloged.contains(tenant)).cloned().collect();
    if let Some(root) = &args.tenants {
        for dir in switchboard::tenant::tenant_dirs(root)? {
            let (name, _) = switchboard::tenant::read_retention(&dir)?;
            if !cataloged.contains(&name) && !uncataloged.contains(&name) {
                uncataloged.push(name);
            }
        }
    }
    println!("\n{}", next_steps(&args.from, &args.to, &uncataloged));
    if retired > 0 {
        println!(
            "\nLeft behind: {retired} keys of removed tenants, which a removal keeps out of every tenant's reach \
             for reading or restoring by hand; keep {} while you may need them.",
            args.from
        );
    }
    if matches!(args.from, StoreUrl::Postgres(_)) {
        println!(
            "\nLeft behind: removed tenants' rows (kept under retired/... names) and tenants the tenant catalog \
             does not name; keep {} while you may need them.",
            args.from
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// One row per tenant and kind: the counts on both sides, the digest, and
/// whether they agree.
fn report(moved: &Inventories, arrived: &Inventories) -> String {
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
            let (from, to) = (source.count(kind), target.count(kind));
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
