//! `switchboard store stats` and `switchboard store compact`: what the store
//! under `--data` holds, per tenant and kind, and making it smaller. Both
//! open the store, so they run while `serve` does not.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use switchboard::tenant::{Retention, read_retention, tenant_dirs};
use switchboard_store::{Compaction, Stats, Store, Usage};

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// The store's directory (`serve --data`).
    #[arg(long, default_value = ".switchboard/data")]
    data: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct CompactArgs {
    /// The store's directory (`serve --data`).
    #[arg(long, default_value = ".switchboard/data")]
    data: PathBuf,
    /// The tenants' directory (`serve --tenants`), for each tenant's
    /// `[retention]`. Without it, no retention is applied; a tenant the
    /// store holds but this directory does not is left alone.
    #[arg(long)]
    tenants: Option<PathBuf>,
    /// Where expired events are exported first. Default: `exports` in `--data`.
    #[arg(long)]
    export_dir: Option<PathBuf>,
    /// Only apply retention; do not rewrite the database.
    #[arg(long)]
    no_rewrite: bool,
}

pub fn stats(args: StatsArgs) -> anyhow::Result<ExitCode> {
    let store = open(&args.data)?;
    let spinner = spinner("counting keys");
    let stats = store.stats(|counted| spinner.set_message(format!("{counted} keys counted")))?;
    spinner.finish_and_clear();
    let report = format!("{}\n{}", stats_table(&stats), disk_table(&args.data));
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), report.as_bytes());
    Ok(ExitCode::SUCCESS)
}

pub fn compact(args: CompactArgs) -> anyhow::Result<ExitCode> {
    finish_interrupted(&args.data)?;
    let before = dir_size(&args.data);
    let store = open(&args.data)?;
    match &args.tenants {
        Some(root) => apply_retention(&store, root, &args)?,
        None => println!(
            "no --tenants: retention not applied (each tenant's [retention] is in its tenant.toml); rewriting only"
        ),
    }
    if args.no_rewrite {
        return Ok(ExitCode::SUCCESS);
    }
    let keys = store.key_count()?;
    // The rewrite is checked against the store (a checksum of every key
    // and value) before anything is moved.
    rewrite(store, keys, &args.data)?;
    let old = Compaction::of(&args.data).old;
    std::fs::remove_dir_all(&old)
        .with_context(|| format!("failed to remove the old store at {}; remove it by hand", old.display()))?;
    let reopened = open(&args.data)?.key_count()?;
    anyhow::ensure!(reopened == keys, "the compacted store opens with {reopened} keys, not {keys}");
    let after = dir_size(&args.data);
    println!("{}: {} before, {} after", args.data.display(), human(before), human(after));
    Ok(ExitCode::SUCCESS)
}

/// Every tenant's retention, as its `tenant.toml` under `root` says; a
/// tenant the store holds but `root` does not is left alone.
fn apply_retention(store: &Store, root: &Path, args: &CompactArgs) -> anyhow::Result<()> {
    let retentions = tenant_dirs(root)?
        .iter()
        .map(|dir| read_retention(dir))
        .collect::<anyhow::Result<BTreeMap<String, Retention>>>()?;
    let export_dir = args.export_dir.clone().unwrap_or_else(|| args.data.join("exports"));
    let now = jiff::Timestamp::now().as_millisecond();
    for tenant in store.tenants()? {
        let Some(retention) = retentions.get(&tenant) else {
            println!("{tenant}: not in {}; retention not applied", root.display());
            continue;
        };
        // The store is ours alone (`compact` holds its lock): no turn runs.
        let swept = store.sweep(&tenant, &retention.cutoffs(now, &export_dir), |_| Some(()))?;
        let exported = match swept.exported.len() {
            0 => String::new(),
            files => format!(", exported to {files} file(s) in {}", export_dir.join(&tenant).display()),
        };
        println!(
            "{tenant}: {} events, {} message ids and {} conversations past retention removed ({}){exported}",
            swept.events,
            swept.dedupe_ids,
            swept.conversations,
            human(swept.bytes)
        );
    }
    Ok(())
}

/// Finish or undo a compaction that was cut short, from what it left:
/// - the old store set aside and none in place: the swap was cut short, so
///   the old one goes back;
/// - the old store set aside and the new one in place: the timer log,
///   exports and component files move over, and the old one goes;
/// - only a rewrite in progress: it goes (the store was never touched).
fn finish_interrupted(data: &Path) -> anyhow::Result<()> {
    let Compaction { fresh, old } = Compaction::of(data);
    if old.exists() && !data.exists() {
        std::fs::rename(&old, data).with_context(|| format!("failed to move {} back", old.display()))?;
        println!("an interrupted compaction was undone: {} is as it was", data.display());
    } else if old.exists() {
        move_beside(&old, data)?;
        std::fs::remove_dir_all(&old).with_context(|| format!("failed to remove {}", old.display()))?;
        println!("an interrupted compaction was finished");
    }
    if fresh.exists() {
        std::fs::remove_dir_all(&fresh).with_context(|| format!("failed to remove {}", fresh.display()))?;
        println!("removed {}, a rewrite that was cut short", fresh.display());
    }
    Ok(())
}

/// Move the timer log, the exports, the component files and the secrets
/// key (without which the tenant catalog does not open) from the store at
/// `from` to the one at `to`, where it has none.
fn move_beside(from: &Path, to: &Path) -> anyhow::Result<()> {
    for kept in ["timers", "exports", "components", switchboard::sealing::KEY_FILE] {
        let (source, target) = (from.join(kept), to.join(kept));
        if source.exists() && !target.exists() {
            std::fs::rename(&source, &target)
                .with_context(|| format!("failed to move {} to {}", source.display(), target.display()))?;
        }
    }
    Ok(())
}

/// Rewrite the database (`keys` of them, for the progress bar) into a
/// sibling directory, checked against the original; set the old one aside,
/// put the new one in place, and move the timer log, exports and component
/// files over. Each step is a rename, and a cut-short run is finished or
/// undone by the next (`finish_interrupted`); until then the store does
/// not open.
fn rewrite(store: Store, keys: u64, data: &Path) -> anyhow::Result<()> {
    let Compaction { fresh, old } = Compaction::of(data);
    let bar = ProgressBar::new(keys).with_style(
        ProgressStyle::with_template("rewriting {bar:40} {pos}/{len} keys ({eta} left)")
            .expect("a valid template"),
    );
    store.rewrite_into(&fresh, |copied| bar.set_position(copied))?;
    bar.finish_and_clear();
    drop(store);
    std::fs::rename(data, &old).with_context(|| format!("failed to move {} aside", data.display()))?;
    std::fs::rename(&fresh, data).with_context(|| format!("failed to put {} in place", fresh.display()))?;
    move_beside(&old, data)
}

pub(crate) fn open(data: &Path) -> anyhow::Result<Store> {
    anyhow::ensure!(data.exists(), "no store at {} (give `--data`, as `serve` had it)", data.display());
    Store::open(data).map_err(|error| {
        let locked = format!("{error:?}").contains("lock");
        if locked {
            anyhow::anyhow!(
                "the store at {} is open in another process: stop `switchboard serve` first",
                data.display()
            )
        } else {
            error.into()
        }
    })
}

fn stats_table(stats: &Stats) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let widest = stats.tenants.keys().map(String::len).max().unwrap_or(6).max("(shared)".len());
    let largest = stats.tenants.keys().map(|tenant| stats.tenant_total(tenant).bytes).max().unwrap_or(0);
    let _ = writeln!(out, "{:<widest$}  {:<28} {:>10} {:>10}", "tenant", "kind", "keys", "size");
    for (tenant, kinds) in &stats.tenants {
        for (kind, usage) in kinds {
            let _ =
                writeln!(out, "{tenant:<widest$}  {kind:<28} {:>10} {:>10}", usage.keys, human(usage.bytes));
        }
        let total = stats.tenant_total(tenant);
        let _ = writeln!(
            out,
            "{tenant:<widest$}  {:<28} {:>10} {:>10}  {}",
            "total",
            total.keys,
            human(total.bytes),
            bar(total.bytes, largest)
        );
    }
    for (kind, usage) in &stats.shared {
        let _ = writeln!(
            out,
            "{:<widest$}  {kind:<28} {:>10} {:>10}",
            "(shared)",
            usage.keys,
            human(usage.bytes)
        );
    }
    let all =
        stats.tenants.keys().map(|tenant| stats.tenant_total(tenant)).chain(stats.shared.values().copied());
    let sum: Usage = all.sum();
    let _ = writeln!(out, "{:<widest$}  {:<28} {:>10} {:>10}", "all", "", sum.keys, human(sum.bytes));
    out
}

/// On disk: sled's files (its log holds space it has not yet reclaimed),
/// the components, the timer log and the exports.
fn disk_table(data: &Path) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let [timers, exports, components] =
        ["timers", "exports", "components"].map(|dir| dir_size(&data.join(dir)));
    let total = dir_size(data);
    let sled = total.saturating_sub(timers + exports + components);
    let _ = writeln!(out, "on disk in {}: {} in all", data.display(), human(total));
    let _ = writeln!(out, "  sled database   {:>10}", human(sled));
    let _ = writeln!(out, "  components      {:>10}", human(components));
    let _ = writeln!(out, "  timer log       {:>10}", human(timers));
    let _ = writeln!(
        out,
        "  exports         {:>10}  (move them off the machine to free the space)",
        human(exports)
    );
    out
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else { return 0 };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => dir_size(&entry.path()),
            _ => entry.metadata().map_or(0, |meta| meta.len()),
        })
        .sum()
}

fn human(bytes: u64) -> String {
    match bytes {
        0..1_024 => format!("{bytes} B"),
        1_024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1_024.0),
        1_048_576..1_073_741_824 => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
        _ => format!("{:.2} GiB", bytes as f64 / 1_073_741_824.0),
    }
}

/// A bar of `value` against `largest`, 30 cells wide.
fn bar(value: u64, largest: u64) -> String {
    let cells = if largest == 0 { 0 } else { (value as f64 / largest as f64 * 30.0).round() as usize };
    "█".repeat(cells.max(usize::from(value > 0)))
}

fn spinner(message: &str) -> ProgressBar {
    let spinner = ProgressBar::new_spinner().with_message(message.to_owned());
    spinner.enable_steady_tick(Duration::from_millis(100));
    spinner
}
