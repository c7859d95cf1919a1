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
use switchboard_store::{Stats, Store, Usage};

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
    /// `[retention]`; a tenant not found there keeps the defaults (90 days
    /// of events, 7 of message ids).
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
    let before = dir_size(&args.data);
    let store = open(&args.data)?;
    let retentions = match &args.tenants {
        Some(root) => tenant_dirs(root)?
            .iter()
            .map(|dir| read_retention(dir))
            .collect::<anyhow::Result<BTreeMap<String, Retention>>>()?,
        None => BTreeMap::new(),
    };
    let export_dir = args.export_dir.clone().unwrap_or_else(|| args.data.join("exports"));
    let now = jiff::Timestamp::now().as_millisecond();
    for tenant in store.tenants()? {
        let retention = retentions.get(&tenant).copied().unwrap_or_default();
        let before = |kept: Duration| now.saturating_sub(i64::try_from(kept.as_millis()).unwrap_or(i64::MAX));
        let swept = store.sweep(
            &tenant,
            &switchboard_store::Retention {
                events_before: before(retention.events),
                dedupe_before: before(retention.dedupe),
                export_to: retention.export.then(|| export_dir.clone()),
                now,
            },
        )?;
        println!(
            "{tenant}: {} events and {} message ids past retention removed ({}){}",
            swept.events,
            swept.dedupe_ids,
            human(swept.bytes),
            match swept.exported.len() {
                0 => String::new(),
                files => format!(", exported to {files} file(s) in {}", export_dir.join(&tenant).display()),
            }
        );
    }
    if args.no_rewrite {
        return Ok(ExitCode::SUCCESS);
    }
    let keys = store.key_count()?;
    rewrite(store, &args.data)?;
    // Open what is now in place: it must hold every key the old one did.
    let reopened = open(&args.data)?.key_count()?;
    anyhow::ensure!(
        reopened == keys,
        "the compacted store holds {reopened} keys, not {keys}: restore {} from a backup",
        args.data.display()
    );
    let after = dir_size(&args.data);
    println!("{}: {} before, {} after", args.data.display(), human(before), human(after));
    Ok(ExitCode::SUCCESS)
}

/// Rewrite the database into a sibling directory, then put it in place of
/// the old one with the timer log and exports moved over. The old one is
/// kept until the new one is in place, so a crash meanwhile loses nothing:
/// the message then says which directory holds what.
fn rewrite(store: Store, data: &Path) -> anyhow::Result<()> {
    let sibling = |suffix: &str| {
        let mut name = data.file_name().map(std::ffi::OsStr::to_os_string).unwrap_or_default();
        name.push(suffix);
        data.with_file_name(name)
    };
    let (fresh, old) = (sibling(".compacting"), sibling(".before-compact"));
    for leftover in [&fresh, &old] {
        anyhow::ensure!(
            !leftover.exists(),
            "{} exists: an earlier compaction was interrupted. If {} opens (`switchboard store stats --data {}`), remove {}; otherwise move it back to {}",
            leftover.display(),
            data.display(),
            data.display(),
            leftover.display(),
            data.display()
        );
    }
    let bar = ProgressBar::new(store.key_count()?).with_style(
        ProgressStyle::with_template("rewriting {bar:40} {pos}/{len} keys ({eta} left)")
            .expect("a valid template"),
    );
    store.rewrite_into(&fresh, |copied| bar.set_position(copied))?;
    bar.finish_and_clear();
    drop(store);
    for moved in ["timers", "exports"] {
        let from = data.join(moved);
        if from.exists() {
            std::fs::rename(&from, fresh.join(moved))
                .with_context(|| format!("failed to move {} into {}", from.display(), fresh.display()))?;
        }
    }
    std::fs::rename(data, &old).with_context(|| format!("failed to move {} aside", data.display()))?;
    std::fs::rename(&fresh, data).with_context(|| {
        format!(
            "failed to put {} in place; the data is whole in it: rename it to {}",
            fresh.display(),
            data.display()
        )
    })?;
    std::fs::remove_dir_all(&old).with_context(|| format!("compacted; remove {} by hand", old.display()))?;
    Ok(())
}

fn open(data: &Path) -> anyhow::Result<Store> {
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
    let sum = all.fold(Usage::default(), |sum, usage| Usage {
        keys: sum.keys + usage.keys,
        bytes: sum.bytes + usage.bytes,
    });
    let _ = writeln!(out, "{:<widest$}  {:<28} {:>10} {:>10}", "all", "", sum.keys, human(sum.bytes));
    out
}

/// On disk: sled's files (its log holds space it has not yet reclaimed),
/// the timer log and the exports.
fn disk_table(data: &Path) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let timers = dir_size(&data.join("timers"));
    let exports = dir_size(&data.join("exports"));
    let total = dir_size(data);
    let _ = writeln!(out, "on disk in {}: {} in all", data.display(), human(total));
    let _ = writeln!(out, "  sled database   {:>10}", human(total.saturating_sub(timers + exports)));
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
