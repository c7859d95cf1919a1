//! `switchboard-bench kpis`: what keeping KPIs costs.
//!
//! 1. **Per turn.** Real turns (the `engine` bench's quote conversation,
//!    two wasm plugins a message, eight conversations sharing each disk
//!    sync) are timed; then folding the events they committed is timed.
//!    The fold's time per turn over the turn's own is the incremental cost
//!    (target: at most 5 %).
//! 2. **A year.** `--events` (a million by default) synthetic events over
//!    365 days are committed and folded; then the dashboard's year query
//!    (365 days by week, per channel and intent) is timed (target: at most
//!    50 ms), against reading one day's tally as the baseline.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;
use switchboard::engine::{Engine, Granularity, KpiQuery};
use switchboard::tenant::Tenant;
use switchboard_core::contract::{Amount, Channel, LeadTier, Quote, Value};
use switchboard_core::event::{DomainEvent, EventBody, Sender};
use switchboard_core::kpi::day_of;
use switchboard_store::Store;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, default_value = "target/plugins")]
    plugins_dir: PathBuf,
    /// Conversations of real turns for the per-turn cost.
    #[arg(long, default_value_t = 200)]
    conversations: usize,
    /// Synthetic events over a year, for the dashboard query.
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Year queries timed.
    #[arg(long, default_value_t = 20)]
    queries: usize,
    #[arg(long)]
    json: bool,
}

const DAY: i64 = 24 * 60 * 60 * 1000;
const CHANNELS: [Channel; 5] =
    [Channel::Whatsapp, Channel::Telegram, Channel::Webchat, Channel::Instagram, Channel::Messenger];
const INTENTS: [&str; 4] = ["quote", "booking", "refund", "support"];

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let work = tempfile::tempdir().context("failed to make a temp dir")?;
    let tenant_dir = crate::engine::write_tenant(work.path())?;
    let runtime = crate::common::runtime()?;
    let load = |store: Store| -> anyhow::Result<Arc<Engine>> {
        let engine = Arc::new(Engine::new(store, runtime.clone()));
        engine.add_tenant(Tenant::load(&tenant_dir, &args.plugins_dir, &runtime, &|_| None)?)?;
        Ok(engine)
    };

    // 1. The fold's cost per committed turn, against the turn's.
    let engine = load(Store::open(&work.path().join("turns"))?)?;
    crate::engine::drive(&engine, "warmup", 8, 8)?;
    engine.fold_kpis("bench")?;
    let started = Instant::now();
    let latencies = crate::engine::drive(&engine, "c", args.conversations, 8)?;
    let turns_took = started.elapsed();
    let turns = latencies.len();
    let started = Instant::now();
    let folded_events = engine.fold_kpis("bench")?;
    let fold_took = started.elapsed();
    let per_turn = turns_took.as_secs_f64() / turns as f64;
    let fold_per_turn = fold_took.as_secs_f64() / turns as f64;
    drop(engine);

    // 2. A year of synthetic events, folded, then the year's dashboard.
    let store = Store::open(&work.path().join("year"))?;
    let engine = load(store.clone())?;
    let zone = engine.tenant("bench")?.calendar.zone().clone();
    let end = jiff::Timestamp::now().as_millisecond();
    let start = end - 365 * DAY;
    let bar = indicatif::ProgressBar::new(args.events as u64).with_style(
        indicatif::ProgressStyle::with_template("{msg:>10} {bar:40} {pos}/{len} events ({per_sec}, {eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message("commit");
    let mut written = 0;
    let mut conversation = 0usize;
    let mut batch = Vec::new();
    while written < args.events {
        let at = start + (conversation as i64 * 365 * DAY) / (args.events as i64 / 10).max(1);
        batch.extend(synthetic(conversation, at.min(end - 60_000)));
        conversation += 1;
        if batch.len() >= 2000 {
            written += batch.len();
            bar.inc(batch.len() as u64);
            store.append_events("bench", &batch, None)?;
            batch.clear();
        }
    }
    written += batch.len();
    store.append_events("bench", &batch, None)?;
    bar.finish_and_clear();
    let bar = indicatif::ProgressBar::new_spinner().with_message(format!("folding {written} events"));
    bar.enable_steady_tick(Duration::from_millis(120));
    let started = Instant::now();
    let folded = engine.fold_kpis("bench")?;
    let year_fold_took = started.elapsed();
    bar.finish_and_clear();

    let query = |from, to| KpiQuery { from, to, channel: None, intent: None, granularity: Granularity::Week };
    let (first, last) = (day_of(&zone, start), day_of(&zone, end));
    let mut year = Vec::new();
    let mut one_day = Vec::new();
    for _ in 0..args.queries.max(1) {
        let started = Instant::now();
        let answer = engine.kpis("bench", &query(first, last))?;
        year.push(started.elapsed());
        anyhow::ensure!(answer.series.len() >= 52, "a year has {} weeks", answer.series.len());
        let started = Instant::now();
        engine.kpis("bench", &query(last, last))?;
        one_day.push(started.elapsed());
    }
    year.sort_unstable();
    one_day.sort_unstable();
    let year_p50 = crate::common::percentile(&year, 0.5);
    let day_p50 = crate::common::percentile(&one_day, 0.5);
    let started = Instant::now();
    let days = store.kpi_days("bench", first, last)?;
    let read_took = started.elapsed();
    let cells: usize = days.iter().map(|(_, tally)| tally.cells.len()).sum();

    let report = json!({
        "turns": turns,
        "turn_ms": per_turn * 1000.0,
        "fold_us_per_turn": fold_per_turn * 1e6,
        "fold_over_turn": fold_per_turn / per_turn,
        "turn_events_folded": folded_events,
        "year_events": folded,
        "year_fold_s": year_fold_took.as_secs_f64(),
        "year_fold_events_per_s": folded as f64 / year_fold_took.as_secs_f64(),
        "year_days_stored": days.len(),
        "year_cells": cells,
        "year_read_ms": read_took.as_secs_f64() * 1000.0,
        "year_query_p50_ms": year_p50,
        "day_query_p50_ms": day_p50,
        "year_over_day": year_p50 / day_p50,
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("per turn ({turns} real turns, 2 wasm plugins each, 8 conversations a sync):");
    println!("  turn              {:>10.3} ms", per_turn * 1000.0);
    println!(
        "  fold              {:>10.1} µs  = {:.2} % of the turn (target <= 5 %)",
        fold_per_turn * 1e6,
        100.0 * fold_per_turn / per_turn
    );
    println!("a year ({folded} events over {} stored days):", days.len());
    println!("  fold              {:>10.0} events/s", folded as f64 / year_fold_took.as_secs_f64());
    println!("  one day's query   {day_p50:>10.2} ms  (baseline)");
    println!(
        "  the year's query  {year_p50:>10.2} ms  = {:.1}x the day's (target <= 50 ms)",
        year_p50 / day_p50
    );
    println!("    of which reading {cells} cells: {:.2} ms", read_took.as_secs_f64() * 1000.0);
    Ok(ExitCode::SUCCESS)
}

/// One conversation's events: a round of an intent, with a quote, a
/// booking or a handoff by turns, about ten events.
fn synthetic(index: usize, at: i64) -> Vec<DomainEvent> {
    let channel = CHANNELS[index % CHANNELS.len()];
    let intent = INTENTS[(index / 5) % INTENTS.len()];
    let id = format!("{}:{index}", channel.as_str());
    let event = |offset: i64, body: EventBody| DomainEvent {
        at: at + offset,
        tenant: "bench".to_owned(),
        conversation: id.clone(),
        channel,
        body,
    };
    let mut events = vec![
        event(0, EventBody::MessageReceived { text: "hello".into() }),
        event(0, EventBody::IntentDetected { intent: intent.into() }),
        event(0, EventBody::FieldCollected { field: "city".into(), value: Value::Text("Yerevan".into()) }),
        event(0, EventBody::MessageSent { text: "Which day?".into(), by: Sender::Bot }),
        event(
            1500,
            EventBody::MessageDelivered { text: "Which day?".into(), attempts: 1, provider_id: None },
        ),
        event(40_000, EventBody::MessageReceived { text: "tomorrow".into() }),
        event(
            40_000,
            EventBody::FieldCollected { field: "day".into(), value: Value::Text("tomorrow".into()) },
        ),
        event(
            40_000,
            EventBody::LeadGraded {
                tier: [LeadTier::Hot, LeadTier::Warm, LeadTier::Cold][index % 3],
                reasons: vec![],
            },
        ),
    ];
    match index % 4 {
        0 => {
            let quote = Quote {
                line_items: vec![],
                total: Amount::Exact(100_000),
                currency: "AMD".into(),
                valid_until: None,
                factors: vec![],
                locale: None,
            };
            events.push(event(41_000, EventBody::QuoteSent { quote }));
        }
        1 => events
            .push(event(41_000, EventBody::Domain { name: "booking.created".into(), payload: json!({}) })),
        2 => events.push(event(
            41_000,
            EventBody::StepFailed {
                step: "quote".into(),
                plugin: "pricing".into(),
                code: switchboard_core::failure::FailureCode::FuelExhausted,
                message: String::new(),
                version: Some("0123456789abcdef".into()),
            },
        )),
        _ => {}
    }
    events.push(event(50_000, EventBody::ConversationClosed { state: "resolved".into() }));
    events
}
