//! `switchboard-bench timers`: the scheduler at scale. Conversations each
//! complete an intent that sets ten follow-up timers, one a minute for ten
//! minutes (one turn, one durable write per conversation), until a million
//! timers are pending. Then the scheduler fires them all, each firing a
//! real turn that writes its message to the outbox, in two regimes:
//!
//! - **steady**: the clock moves a minute at a time for the first half, so
//!   every turn fires one timer (each conversation has one due at a time);
//! - **catch-up**: then the clock jumps a year, as after downtime, and every
//!   remaining timer is due at once; a conversation's due timers fire in one
//!   turn.
//!
//! It reports the insert rate, the firing rate over every timer and in each
//! regime (with the process's CPU time per fired timer), and resident memory
//! along the way. The baseline, measured in the same run on the same disk,
//! is the raw cost of the due index alone: indexing as many entries, then
//! handing them out and settling them in the same page size, one disk sync
//! per page.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use switchboard::engine::{Engine, InboundMessage};
use switchboard::scheduler;
use switchboard::tenant::Tenant;
use switchboard_core::contract::{Channel, Contact};
use switchboard_store::{DueTimer, Store};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Timers to insert and fire.
    #[arg(long, default_value_t = 1_000_000)]
    timers: usize,
    /// Threads inserting (each drives its own conversations), and firing.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Timers each conversation sets.
const PER_CONVERSATION: usize = 10;

#[derive(Debug, serde::Serialize)]
struct Report {
    timers: usize,
    conversations: usize,
    insert_per_second: f64,
    /// Every timer, both regimes together.
    fire_per_second: f64,
    steady_fire_per_second: f64,
    catch_up_fire_per_second: f64,
    /// Process CPU time (every thread, sled's included) per fired timer.
    steady_cpu_us_per_timer: f64,
    catch_up_cpu_us_per_timer: f64,
    baseline_index_per_second: f64,
    fire_over_baseline: f64,
    rss_mib_start: f64,
    rss_mib_at_10_percent: f64,
    rss_mib_all_pending: f64,
    rss_mib_after_firing: f64,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let work = tempfile::tempdir().context("failed to make a temp dir")?;
    let tenant_dir = write_tenant(work.path())?;
    let runtime = crate::common::runtime()?;
    let store = Store::open(&work.path().join("store"))?;
    let engine = Arc::new(Engine::new(store, runtime.clone()));
    engine.add_tenant(Tenant::load(&tenant_dir, Path::new("target/plugins"), &runtime, &|_| None)?)?;

    let conversations = args.timers.div_ceil(PER_CONVERSATION);
    let rss_start = rss_mib();
    let start_ms = jiff::Timestamp::now().as_millisecond();
    // Insert in two legs, to see memory at a tenth of the timers and at all of them.
    let tenth = conversations / 10;
    let started = Instant::now();
    insert(&engine, 0..tenth, args.workers, start_ms)?;
    let rss_tenth = rss_mib();
    insert(&engine, tenth..conversations, args.workers, start_ms)?;
    let insert_seconds = started.elapsed().as_secs_f64();
    let pending = engine.pending_timer_count()?;
    anyhow::ensure!(pending == conversations * PER_CONVERSATION, "{pending} timers pending");
    let rss_pending = rss_mib();

    // Steady: a minute at a time, one timer of every conversation falls due.
    let started = Instant::now();
    let cpu_started = cpu_seconds();
    let mut steady = 0;
    for minute in 1..=PER_CONVERSATION / 2 {
        let fired = scheduler::fire_due_on(&engine, start_ms + minute as i64 * 60_000, args.workers)?;
        anyhow::ensure!(fired == conversations, "minute {minute} fired {fired} of {conversations}");
        steady += fired;
    }
    let steady_seconds = started.elapsed().as_secs_f64();
    let steady_per_second = steady as f64 / steady_seconds;
    let steady_cpu = cpu_seconds() - cpu_started;
    // Catch-up: a year later, everything left is due at once.
    let far = start_ms + 365 * 24 * 3_600_000;
    let started = Instant::now();
    let cpu_started = cpu_seconds();
    let caught_up = scheduler::fire_due_on(&engine, far, args.workers)?;
    let catch_up_seconds = started.elapsed().as_secs_f64();
    let catch_up_per_second = caught_up as f64 / catch_up_seconds;
    let catch_up_cpu = cpu_seconds() - cpu_started;
    anyhow::ensure!(steady + caught_up == pending, "fired {} of {pending}", steady + caught_up);
    anyhow::ensure!(engine.next_due()?.is_none(), "timers left after firing");
    let rss_fired = rss_mib();
    drop(engine);

    let baseline = index_baseline(&work.path().join("baseline"), pending, start_ms)?;
    let report = Report {
        timers: pending,
        conversations,
        insert_per_second: pending as f64 / insert_seconds,
        fire_per_second: pending as f64 / (steady_seconds + catch_up_seconds),
        steady_fire_per_second: steady_per_second,
        catch_up_fire_per_second: catch_up_per_second,
        steady_cpu_us_per_timer: steady_cpu * 1e6 / steady as f64,
        catch_up_cpu_us_per_timer: catch_up_cpu * 1e6 / caught_up as f64,
        baseline_index_per_second: baseline,
        fire_over_baseline: baseline / steady_per_second,
        rss_mib_start: rss_start,
        rss_mib_at_10_percent: rss_tenth,
        rss_mib_all_pending: rss_pending,
        rss_mib_after_firing: rss_fired,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{} timers on {} conversations", report.timers, report.conversations);
        println!("insert: {:.0} timers/s (one turn per conversation sets ten)", report.insert_per_second);
        println!("fire, all:      {:.0} timers/s, both regimes together", report.fire_per_second);
        println!(
            "fire, steady:   {:.0} timers/s ({:.0} us of CPU each), one per turn, each with its message \
             in the outbox ({:.1}x slower than the bare index drain, {:.0} entries/s)",
            report.steady_fire_per_second,
            report.steady_cpu_us_per_timer,
            report.fire_over_baseline,
            report.baseline_index_per_second
        );
        println!(
            "fire, catch-up: {:.0} timers/s ({:.0} us of CPU each), a conversation's due timers in one turn",
            report.catch_up_fire_per_second, report.catch_up_cpu_us_per_timer
        );
        println!(
            "resident memory: {:.0} MiB at start, {:.0} MiB with 10% pending, {:.0} MiB with all pending, {:.0} MiB after firing",
            report.rss_mib_start,
            report.rss_mib_at_10_percent,
            report.rss_mib_all_pending,
            report.rss_mib_after_firing
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Conversations `range`, split across `workers` threads; each completes the
/// intent that sets its ten timers.
fn insert(
    engine: &Arc<Engine>,
    range: std::ops::Range<usize>,
    workers: usize,
    now: i64,
) -> anyhow::Result<()> {
    let workers = workers.max(1);
    let handles: Vec<_> = (0..workers)
        .map(|worker| {
            let engine = engine.clone();
            let range = range.clone();
            std::thread::spawn(move || -> anyhow::Result<()> {
                for index in range.skip(worker).step_by(workers) {
                    let message = InboundMessage {
                        channel: Channel::Telegram,
                        contact: Contact {
                            id: format!("telegram:{index}"),
                            display_name: None,
                            locale: "en".into(),
                        },
                        text: "remind me".to_owned(),
                        payload: None,
                        message_id: None,
                        at: now,
                    };
                    engine.handle("bench", message)?;
                }
                Ok(())
            })
        })
        .collect();
    for handle in handles {
        handle.join().map_err(|_| anyhow::anyhow!("an inserting thread panicked"))??;
    }
    Ok(())
}

/// Entries per second for the due index alone: index `count` entries shaped
/// like the benchmark's, then hand them out and settle them in
/// scheduler-sized pages, one disk sync each.
fn index_baseline(path: &Path, count: usize, start_ms: i64) -> anyhow::Result<f64> {
    let store = Store::open(path)?;
    let entries: Vec<DueTimer> = (0..count)
        .map(|index| DueTimer {
            due_at: start_ms + (index % PER_CONVERSATION) as i64 * 60_000,
            tenant: "bench".to_owned(),
            conversation: format!("telegram:{}", index / PER_CONVERSATION),
            key: format!("ping-{}", index % PER_CONVERSATION),
        })
        .collect();
    for chunk in entries.chunks(10_000) {
        let parked: Vec<(&DueTimer, Option<i64>)> =
            chunk.iter().map(|timer| (timer, Some(timer.due_at))).collect();
        store.park_timers(&parked)?;
    }
    let far = start_ms + 365 * 24 * 3_600_000;
    let started = Instant::now();
    let mut drained = 0;
    loop {
        let page = store.due_timers(far, scheduler::PAGE)?;
        if page.is_empty() {
            break;
        }
        store.durable()?;
        store.settle_timers(&page, far)?;
        drained += page.len();
    }
    anyhow::ensure!(drained == count, "drained {drained} of {count}");
    Ok(drained as f64 / started.elapsed().as_secs_f64())
}

fn write_tenant(dir: &Path) -> anyhow::Result<PathBuf> {
    let tenant = dir.join("tenant");
    std::fs::create_dir_all(&tenant)?;
    let mut flow = String::from(
        "version = \"bench\"\ndefault_locale = \"en\"\nmenu.en = \"Hi\"\n\n[[intents]]\nname = \"remind\"\n\
         title.en = \"Remind\"\ntriggers.en = [\"remind\"]\n[intents.done]\nreply.en = \"Will do.\"\nstate = \"closed\"\n",
    );
    for minutes in 0..PER_CONVERSATION {
        flow.push_str(&format!(
            "[[intents.done.timers]]\nkind = \"ping-{minutes}\"\nminutes_after = {}\nsay.en = \"Ping {minutes}\"\n",
            minutes + 1
        ));
    }
    std::fs::write(tenant.join("flow.toml"), flow)?;
    std::fs::write(
        tenant.join("tenant.toml"),
        "name = \"bench\"\nflow = \"flow.toml\"\n[calendar]\ntimezone = \"UTC\"\n\
         [channels.telegram]\nbot_token = \"1:bench\"\nsecret_token = \"s\"\n",
    )?;
    Ok(tenant)
}

/// CPU time this process has used, every thread, from /proc (0 where there is none).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime and stime
    // are the 12th and 13th, in clock ticks.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: f64 =
        after_name.split_whitespace().skip(11).take(2).filter_map(|field| field.parse::<f64>().ok()).sum();
    ticks / CLOCK_TICKS_PER_SECOND
}

/// `sysconf(_SC_CLK_TCK)`: Linux fixes `USER_HZ` at 100 for user space.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// Resident memory of this process, from /proc (0 where there is none).
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}
