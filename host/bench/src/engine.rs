//! `switchboard-bench engine`: end-to-end engine throughput, in process, no
//! HTTP. Each conversation is a 7-message qualification and quote (the intent,
//! then six answers); every answer re-prices and re-scores the lead, so it
//! calls two wasm plugins. Every turn is committed to sled and flushed to
//! disk before it is acknowledged (before `handle_many` returns), as it is
//! before a webhook is acknowledged.
//!
//! It reports messages per second and p50/p99 latency per message on 1 and 2
//! worker threads, first with one conversation in flight per worker (every
//! message waits for its own sync), then with `--in-flight` conversations
//! per worker whose next messages are handled together and share a sync, as
//! concurrent customers' messages do in the server. The baseline, measured
//! in the same run, is the p50 of a bare sled insert + flush of a record of
//! the same size: the floor any durable acknowledgment pays on this disk.
//!
//! With `--store postgres://...` the same runs go on PostgreSQL too, after
//! sled's, in the same process: a turn is then one transaction, and the
//! messages of a round commit one transaction each (PostgreSQL's own group
//! commit shares their WAL flushes).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use switchboard::engine::{Engine, InboundMessage};
use switchboard::tenant::Tenant;
use switchboard_core::contract::{Channel, Contact};
use switchboard_store::Store;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the built components are (see `scripts/build-plugins.sh`).
    #[arg(long, default_value = "target/plugins")]
    plugins_dir: PathBuf,
    /// Conversations per worker thread.
    #[arg(long, default_value_t = 400)]
    conversations: usize,
    /// Conversations each worker keeps in flight in the second set of runs;
    /// their messages share a disk sync (`Engine::handle_many`).
    #[arg(long, default_value_t = 8)]
    in_flight: usize,
    /// Also run on this PostgreSQL database (`postgres://user@host/db`; the
    /// role must not be a superuser), after sled, in the same run.
    #[arg(long)]
    store: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

const SCRIPT: [&str; 7] =
    ["Сколько стоит переезд?", "express", "piano", "25", "завтра", "Yerevan", "+374 91 123456"];

const FLOW: &str = r#"
version = "bench"
default_locale = "ru"
menu.ru = "Чем помочь?"

[[intents]]
name = "quote"
title.ru = "Переезд"
triggers.ru = ["сколько стоит", "переезд"]

[[intents.fields]]
name = "urgency"
type = "choice"
prompt.ru = "Насколько срочно?"
options = [{ value = "standard", title.ru = "Обычно" }, { value = "express", title.ru = "Срочно" }]
on_collect = [{ name = "quote", plugin = "pricing", on_failure = "skip" }, { name = "score", plugin = "scoring", on_failure = "skip" }]

[[intents.fields]]
name = "complexity"
type = "choice"
prompt.ru = "Сложности?"
options = [{ value = "simple", title.ru = "Нет" }, { value = "piano", title.ru = "Пианино" }]
on_collect = [{ name = "quote", plugin = "pricing", on_failure = "skip" }, { name = "score", plugin = "scoring", on_failure = "skip" }]

[[intents.fields]]
name = "distance_km"
type = "number"
prompt.ru = "Сколько км?"
on_collect = [{ name = "quote", plugin = "pricing", on_failure = "skip" }, { name = "score", plugin = "scoring", on_failure = "skip" }]

[[intents.fields]]
name = "move_date"
type = "date"
prompt.ru = "Когда?"
on_collect = [{ name = "quote", plugin = "pricing", on_failure = "skip" }, { name = "score", plugin = "scoring", on_failure = "skip" }]

[[intents.fields]]
name = "city"
type = "text"
prompt.ru = "Город?"
on_collect = [{ name = "quote", plugin = "pricing", on_failure = "skip" }, { name = "score", plugin = "scoring", on_failure = "skip" }]

[[intents.fields]]
name = "phone"
type = "phone"
prompt.ru = "Телефон?"
on_collect = [{ name = "quote", plugin = "pricing", on_failure = "skip" }, { name = "score", plugin = "scoring", on_failure = "skip" }]

[intents.done]
reply.ru = "Спасибо!"
state = "quoted"
"#;

#[derive(Debug, serde::Serialize)]
struct Row {
    store: &'static str,
    workers: usize,
    in_flight: usize,
    messages: usize,
    messages_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    p50_over_flush: f64,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let work = tempfile::tempdir().context("failed to make a temp dir")?;
    let tenant_dir = write_tenant(work.path())?;
    let runtime = crate::common::runtime()?;
    let flush_p50 = flush_baseline(&work.path().join("baseline"))?;
    anyhow::ensure!(args.in_flight > 0, "--in-flight must be at least 1");
    let mut rows = Vec::new();
    let postgres = args.store.as_deref().map(|url| ("postgres", url));
    let runs = [(1, 1), (2, 1), (1, args.in_flight), (2, args.in_flight)];
    let backends = std::iter::once(("sled", "")).chain(postgres);
    for ((backend, url), (workers, in_flight)) in backends.flat_map(|backend| runs.map(|run| (backend, run)))
    {
        let store: Arc<dyn switchboard_store::Backend> = match backend {
            "sled" => Arc::new(Store::open(&work.path().join(format!("store-{workers}-{in_flight}")))?),
            _ => Arc::new(switchboard_store_postgres::PgStore::connect(url)?),
        };
        let engine = Arc::new(Engine::on(store, runtime.clone()));
        let tenant = Tenant::load(&tenant_dir, &args.plugins_dir, &runtime, &|_| None)?;
        engine.add_tenant(tenant)?;
        // Warm up: compile caches, first-touch allocations.
        // Conversations are named by the run, as one database holds every
        // PostgreSQL run (and any earlier run's).
        let run = format!("{backend}-{workers}-{in_flight}-{}", std::process::id());
        drive(&engine, &format!("{run}-warmup"), 5, 1)?;
        let started = Instant::now();
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                let engine = engine.clone();
                let conversations = args.conversations;
                let prefix = format!("{run}-w{worker}");
                std::thread::spawn(move || drive(&engine, &prefix, conversations, in_flight))
            })
            .collect();
        let mut latencies = Vec::new();
        for handle in handles {
            latencies.extend(handle.join().map_err(|_| anyhow::anyhow!("a worker panicked"))??);
        }
        let elapsed = started.elapsed();
        latencies.sort_unstable();
        let p50 = crate::common::percentile(&latencies, 0.50);
        rows.push(Row {
            store: backend,
            workers,
            in_flight,
            messages: latencies.len(),
            messages_per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
            p50_ms: p50,
            p99_ms: crate::common::percentile(&latencies, 0.99),
            p50_over_flush: p50 / flush_p50,
        });
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "flush_p50_ms": flush_p50, "runs": rows }))?
        );
    } else {
        println!("baseline: sled insert + flush of one turn-sized record, p50 {flush_p50:.3} ms");
        println!(
            "{:>8} {:>7} {:>9} {:>9} {:>12} {:>9} {:>9} {:>13}",
            "store", "workers", "in flight", "messages", "messages/s", "p50 ms", "p99 ms", "p50/flush"
        );
        for row in &rows {
            println!(
                "{:>8} {:>7} {:>9} {:>9} {:>12.0} {:>9.3} {:>9.3} {:>12.2}x",
                row.store,
                row.workers,
                row.in_flight,
                row.messages,
                row.messages_per_second,
                row.p50_ms,
                row.p99_ms,
                row.p50_over_flush
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Run `count` conversations of the script, `in_flight` at a time: each
/// round handles the next message of every conversation in flight as one
/// `handle_many`, so they share a disk sync. A message's latency runs from
/// the start of its round to the round's return, when it is on disk.
pub(crate) fn drive(
    engine: &Engine,
    prefix: &str,
    count: usize,
    in_flight: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut latencies = Vec::with_capacity(count * SCRIPT.len());
    let now = jiff::Timestamp::now().as_millisecond();
    let ids: Vec<usize> = (0..count).collect();
    for group in ids.chunks(in_flight) {
        for (index, text) in SCRIPT.iter().enumerate() {
            let messages: Vec<InboundMessage> = group
                .iter()
                .map(|conversation| InboundMessage {
                    channel: Channel::Whatsapp,
                    contact: Contact {
                        id: format!("{prefix}-{conversation}"),
                        display_name: None,
                        locale: "ru".to_owned(),
                    },
                    text: (*text).to_owned(),
                    payload: None,
                    message_id: Some(format!("{prefix}-{conversation}-{index}")),
                    at: now + index as i64 * 1_000,
                })
                .collect();
            let started = Instant::now();
            let outcomes = engine.handle_many("bench", messages)?;
            let took = started.elapsed();
            for (outcome, conversation) in outcomes.iter().zip(group) {
                anyhow::ensure!(
                    !outcome.replies.is_empty() && !outcome.duplicate,
                    "message {index} of {prefix}-{conversation} got no reply"
                );
                latencies.push(took);
            }
        }
    }
    Ok(latencies)
}

pub(crate) fn write_tenant(dir: &Path) -> anyhow::Result<PathBuf> {
    let tenant = dir.join("tenant");
    std::fs::create_dir_all(&tenant)?;
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/moving");
    std::fs::copy(examples.join("pricing.json"), tenant.join("pricing.json"))?;
    std::fs::copy(examples.join("scoring.json"), tenant.join("scoring.json"))?;
    std::fs::write(tenant.join("flow.toml"), FLOW)?;
    std::fs::write(
        tenant.join("tenant.toml"),
        "name = \"bench\"\nflow = \"flow.toml\"\n[calendar]\ntimezone = \"Asia/Yerevan\"\n\
         [plugins.pricing]\ncomponent = \"pricing_calculator\"\nconfig_file = \"pricing.json\"\n\
         [plugins.scoring]\ncomponent = \"lead_scoring\"\nconfig_file = \"scoring.json\"\n",
    )?;
    Ok(tenant)
}

/// p50 of inserting a 4 KiB record and flushing, in ms.
fn flush_baseline(path: &Path) -> anyhow::Result<f64> {
    let db = sled::open(path)?;
    let record = vec![7_u8; 4096];
    let mut samples = Vec::new();
    for index in 0..300_u32 {
        let started = Instant::now();
        db.insert(index.to_be_bytes(), record.as_slice())?;
        db.flush()?;
        samples.push(started.elapsed());
    }
    samples.sort_unstable();
    Ok(crate::common::percentile(&samples, 0.5))
}
