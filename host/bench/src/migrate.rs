//! `switchboard-bench migrate`: how fast `switchboard store migrate` moves a
//! sled store into PostgreSQL. The sled store is filled through the engine
//! with the `engine` benchmark's script (seven messages per conversation,
//! two plugins per answer), so it holds what a deployment holds: states,
//! events, dedupe ids, KPI tallies, plugin configs and components. Then, in
//! one run:
//! - the baseline: reading every record of the sled store (the dump alone);
//! - the move into a fresh PostgreSQL database (read, write, commit);
//! - the check: reading the copy back and comparing it kind by kind.
//!
//! Each stage is reported in records/s and as a ratio to the baseline.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use switchboard::engine::Engine;
use switchboard::migration;
use switchboard::tenant::Tenant;
use switchboard_store::{Backend, Store};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the built components are (see `scripts/build-plugins.sh`).
    #[arg(long, default_value = "target/plugins")]
    plugins_dir: std::path::PathBuf,
    /// Conversations in the sled store (seven messages each).
    #[arg(long, default_value_t = 1_000)]
    conversations: usize,
    /// A PostgreSQL server (`postgres://user@host/db`, a role allowed to
    /// create databases and not a superuser): the move goes into a new
    /// database there, dropped afterwards.
    #[arg(long)]
    store: String,
    /// Records written per transaction (`store migrate --batch`).
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let work = tempfile::tempdir().context("failed to make a temp dir")?;
    let runtime = crate::common::runtime()?;
    let source = Arc::new(Store::open(&work.path().join("sled"))?);
    {
        let engine = Engine::on(source.clone(), runtime.clone());
        let tenant_dir = crate::engine::write_tenant(work.path())?;
        engine.add_tenant(Tenant::load(&tenant_dir, &args.plugins_dir, &runtime, &|_| None)?)?;
        eprintln!("filling sled: {} conversations of seven messages", args.conversations);
        crate::engine::drive(&engine, "migrate", args.conversations, 8)?;
    }
    let source: &dyn Backend = &*source;
    let tenants = source.stored_tenants()?;

    let started = Instant::now();
    let read = migration::inventory_of(source, &tenants)?;
    let dump = started.elapsed();
    let records: u64 = read.values().map(|inventory| inventory.total()).sum();

    let (url, drop_database) = fresh_database(&args.store)?;
    let target = switchboard_store_postgres::PgStore::connect(&url)?;
    migration::ensure_empty(&target, &tenants, &"the new database")?;
    let started = Instant::now();
    let moved = migration::copy(source, &target, &tenants, args.batch, &mut |_| {})?;
    let copy = started.elapsed();
    let started = Instant::now();
    let arrived = migration::inventory_of(&target, &tenants)?;
    let check = started.elapsed();
    drop(target);
    drop_database()?;
    anyhow::ensure!(moved == read && arrived == read, "the copy does not hold what the source does");

    println!(
        "{records} records ({} conversations of seven messages), batches of {}",
        args.conversations, args.batch
    );
    println!("{:>40} {:>9} {:>12} {:>10}", "stage", "seconds", "records/s", "x dump");
    let row = |stage: &str, took: Duration| {
        println!(
            "{stage:>40} {:>9.2} {:>12.0} {:>9.1}x",
            took.as_secs_f64(),
            records as f64 / took.as_secs_f64(),
            took.as_secs_f64() / dump.as_secs_f64()
        );
    };
    row("read the sled store (baseline)", dump);
    row("move into PostgreSQL", copy);
    row("read the copy back and compare", check);
    Ok(ExitCode::SUCCESS)
}

/// A new database on the server `url` names, and how to drop it.
fn fresh_database(url: &str) -> anyhow::Result<(String, impl FnOnce() -> anyhow::Result<()>)> {
    let name = format!("bench_migrate_{}", std::process::id());
    let admin = |sql: String| {
        let url = url.to_owned();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(async move {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            client.batch_execute(&sql).await?;
            anyhow::Ok(())
        })
    };
    // The name is ours, a prefix and a number: safe to splice.
    admin(format!("CREATE DATABASE {name}")).context("creating a database for the move")?;
    let base = url.rsplit_once('/').map_or(url, |(base, _)| base);
    let database = format!("{base}/{name}");
    Ok((database, move || {
        admin(format!("DROP DATABASE {name}")).context("dropping the benchmark's database")
    }))
}
