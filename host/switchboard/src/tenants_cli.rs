//! `switchboard tenants import` and `export`: the tenant catalog in the
//! directory form, the one operators keep in Git. Import loads each tenant
//! whole (flow, components in the sandbox) before it replaces the catalog's
//! copy, so a tenant that would not serve never reaches the nodes; they
//! take what was imported within a couple of seconds.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use switchboard::engine::Engine;
use switchboard::store_url::StoreUrl;
use switchboard::tenant::tenant_dirs;
use switchboard::tenants::Catalog;
use switchboard_runtime::{Runtime, RuntimeConfig};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Put tenant directories into the store's tenant catalog (replacing
    /// the catalog's copy of each), so every node serves them.
    Import(ImportArgs),
    /// Write every tenant the store's catalog serves out as directories.
    Export(ExportArgs),
}

#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// The store: `sled:DIR` or `postgres://…`. Default: sled in `--data`.
    #[arg(long, env = "SWITCHBOARD_STORE")]
    store: Option<StoreUrl>,
    /// The sled database directory, unless `--store` names another.
    #[arg(long, default_value = ".switchboard/data")]
    data: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// A tenant directory, or a directory of them.
    dir: PathBuf,
    /// Where components named without `.wasm` are found.
    #[arg(long, default_value = "target/plugins")]
    plugins: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Where the tenants go, one directory each; none of them may exist.
    dir: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Import(args) => import(args),
        Command::Export(args) => export(args),
    }
}

fn catalog(args: &StoreArgs, root: PathBuf) -> anyhow::Result<Catalog> {
    let url = args.store.clone().unwrap_or_else(|| StoreUrl::Sled(args.data.clone()));
    let key = url.secrets_key()?;
    let store = url.open().with_context(|| format!("opening the store {url}"))?;
    let runtime = Arc::new(Runtime::new(RuntimeConfig {
        cache_dir: switchboard::cache_dir(),
        ..RuntimeConfig::default()
    })?);
    let catalog = Catalog::new(Arc::new(Engine::on(store, runtime)), key, root);
    catalog.check_key()?;
    Ok(catalog)
}

fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let dirs = tenant_dirs(&args.dir)?;
    if dirs.is_empty() {
        anyhow::bail!("no tenant directory (one holding a tenant.toml) in {}", args.dir.display());
    }
    let catalog = catalog(&args.store, args.dir.clone())?;
    let bar = ProgressBar::new(dirs.len() as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let mut failed = 0;
    for dir in dirs {
        bar.set_message(format!("loading {}", dir.display()));
        let imported = catalog.import(&dir, &args.plugins);
        match imported {
            // Printed around the bar, which a pipe hides (the lines stay).
            Ok((name, revision)) => bar.suspend(|| println!("imported {name} (revision {revision})")),
            Err(error) => {
                failed += 1;
                bar.suspend(|| eprintln!("error: {} not imported: {error:#}", dir.display()));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if failed > 0 {
        eprintln!("{failed} not imported; the catalog keeps what it had for them");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let catalog = catalog(&args.store, args.dir.clone())?;
    std::fs::create_dir_all(&args.dir).with_context(|| format!("creating {}", args.dir.display()))?;
    let count = catalog.export(&args.dir)?;
    println!("exported {count} tenants into {}", args.dir.display());
    Ok(ExitCode::SUCCESS)
}
