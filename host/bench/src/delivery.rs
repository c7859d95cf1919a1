//! `switchboard-bench delivery`: webhooks in and replies out, through the
//! real app, engine, store and delivery worker, to a fake WhatsApp send API
//! on loopback that behaves like a real one is slow: every send waits
//! `--latency-ms` (200 ms) before it is answered, and a sending number gets
//! at most `--per-sender` (80) sends a second, the rest 429.
//!
//! `--tenants` tenants (50), each with its own sending number, have
//! `--customers` customers each. A customer posts two signed webhooks (a
//! question, then the email it asks for), waits until both replies reached
//! the provider, and starts again. Three runs:
//! - **healthy**: replies delivered per second, and p50/p99 from a
//!   webhook's post to its reply's arrival at the provider;
//! - **hanging**: the first tenant's provider never answers; the other
//!   tenants' p99 against the healthy run's;
//! - **outage**: every send fails (500) for `--outage-seconds` (60) while
//!   customers keep writing, a pair each per second; then it recovers.
//!   Every reply must arrive, and the time from recovery to the last one is
//!   the drain time.
//!
//! Every run checks that no conversation's replies arrived out of order
//! (their outbox sequence numbers, sent as `Idempotency-Key`, rise).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use indicatif::{ProgressBar, ProgressStyle};
use switchboard::delivery::{Client, Limits, Worker};
use switchboard::engine::Engine;
use switchboard::server;
use switchboard::tenant::Tenant;
use switchboard_runtime::OutboundPolicy;
use switchboard_store::Store;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::http::{FLOW, SECRET, read_response, webhook};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 50)]
    tenants: usize,
    /// Customers per tenant, each with one conversation.
    #[arg(long, default_value_t = 12)]
    customers: usize,
    /// How long the fake provider takes to answer a send.
    #[arg(long, default_value_t = 200)]
    latency_ms: u64,
    /// Sends a second the fake provider accepts per sending number.
    #[arg(long, default_value_t = 80)]
    per_sender: u32,
    /// How long the healthy and hanging runs send for.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// How long the provider is down in the outage run.
    #[arg(long, default_value_t = 60)]
    outage_seconds: u64,
    /// In the outage run, each customer writes a pair every this many seconds.
    #[arg(long, default_value_t = 10)]
    outage_pair_every: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Default, serde::Serialize)]
struct Run {
    name: String,
    /// Replies that reached the provider (of the measured tenants).
    replies: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Replies whose webhook was acknowledged but that never arrived.
    missing: usize,
    /// Conversations whose replies arrived out of order.
    out_of_order: usize,
    /// Outage run: from recovery to the last reply.
    drain_s: Option<f64>,
}

/// A reply at the provider: when, and its outbox sequence number.
type Receipt = (Instant, u64);

/// The fake provider's state.
struct Provider {
    latency: Duration,
    limit: DefaultKeyedRateLimiter<String>,
    /// Every send fails with 500.
    down: AtomicBool,
    /// A sending number whose sends are never answered.
    hanging: RwLock<Option<String>>,
    /// Replies by recipient, to the customer waiting for them.
    customers: RwLock<HashMap<String, mpsc::UnboundedSender<Receipt>>>,
    throttled: AtomicU64,
}

async fn send_api(
    State(provider): State<Arc<Provider>>,
    axum::extract::Path(number): axum::extract::Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (StatusCode, &'static str) {
    let hangs = provider.hanging.read().unwrap_or_else(std::sync::PoisonError::into_inner).as_deref()
        == Some(number.as_str());
    if hangs {
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(provider.latency).await;
    if provider.down.load(Ordering::SeqCst) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "{}");
    }
    if provider.limit.check_key(&number).is_err() {
        provider.throttled.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::TOO_MANY_REQUESTS, "{}");
    }
    let seq = headers
        .get("idempotency-key")
        .and_then(|key| key.to_str().ok())
        .and_then(|key| key.rsplit('-').next())
        .and_then(|seq| seq.parse().ok())
        .unwrap_or(0);
    let to = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|body| body["to"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let customers = provider.customers.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(customer) = customers.get(&to) {
        let _ = customer.send((Instant::now(), seq));
    }
    (StatusCode::OK, r#"{"messages":[{"id":"wamid.BENCH"}]}"#)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let work = tempfile::tempdir().context("failed to make a temp dir")?;
    let per_sender = std::num::NonZeroU32::new(args.per_sender).context("--per-sender must be at least 1")?;
    let provider = Arc::new(Provider {
        latency: Duration::from_millis(args.latency_ms),
        limit: RateLimiter::keyed(Quota::per_second(per_sender)),
        down: AtomicBool::new(false),
        hanging: RwLock::new(None),
        customers: RwLock::default(),
        throttled: AtomicU64::new(0),
    });
    let runs = tokio.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let api = listener.local_addr()?;
        let routes = axum::Router::new()
            .route("/{number}/messages", axum::routing::post(send_api))
            .with_state(provider.clone());
        tokio::spawn(async move { axum::serve(listener, routes).await });

        let runtime = crate::common::runtime()?;
        let engine = Arc::new(Engine::new(Store::open(&work.path().join("store"))?, runtime.clone()));
        for index in 0..args.tenants {
            let dir = write_tenant(work.path(), index, api)?;
            engine.add_tenant(Tenant::load(&dir, Path::new("target/plugins"), &runtime, &|_| None)?)?;
        }
        let app = server::app(engine.clone(), server::Options::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = Client::new(OutboundPolicy::allowing(["127.0.0.1".parse()?]))?;
        tokio::spawn(Worker::new(engine.clone(), client, Limits::default()).run());

        let load =
            Load { addr, provider: provider.clone(), tenants: args.tenants, customers: args.customers };
        let seconds = Duration::from_secs(args.seconds);
        let healthy = load.closed_loop("healthy", seconds, None).await?;
        let hanging = load.closed_loop("one tenant's provider hangs", seconds, Some(0)).await?;
        // What the hanging tenant left backing off does not leak into the outage run.
        *provider.hanging.write().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        let outage = load
            .outage(Duration::from_secs(args.outage_seconds), Duration::from_secs(args.outage_pair_every))
            .await?;
        anyhow::Ok(vec![healthy, hanging, outage])
    })?;
    report(&args, &runs, provider.throttled.load(Ordering::Relaxed))?;
    let broken = runs.iter().any(|run| run.out_of_order > 0) || runs[2].missing > 0;
    Ok(if broken { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn report(args: &Args, runs: &[Run], throttled: u64) -> anyhow::Result<()> {
    if args.json {
        println!("{}", serde_json::to_string_pretty(runs)?);
        return Ok(());
    }
    println!(
        "{} tenants x {} customers, provider latency {} ms, {} sends/s per sender, loopback, 2 webhooks per cycle",
        args.tenants, args.customers, args.latency_ms, args.per_sender
    );
    println!(
        "{:>28} {:>8} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8}",
        "run", "replies", "per s", "p50 ms", "p99 ms", "missing", "disorder", "drain s"
    );
    for run in runs {
        let drain = run.drain_s.map_or("-".to_owned(), |drain| format!("{drain:.1}"));
        println!(
            "{:>28} {:>8} {:>9.0} {:>9.0} {:>9.0} {:>8} {:>8} {:>8}",
            run.name,
            run.replies,
            run.per_second,
            run.p50_ms,
            run.p99_ms,
            run.missing,
            run.out_of_order,
            drain
        );
    }
    if let [healthy, hanging, _] = runs {
        println!(
            "the other tenants' p99 with one provider hanging: {:.2}x the healthy p99; \
             sends the provider throttled (429): {throttled}",
            hanging.p99_ms / healthy.p99_ms.max(f64::EPSILON)
        );
    }
    Ok(())
}

/// The load generator: customers posting webhooks to the app.
struct Load {
    addr: SocketAddr,
    provider: Arc<Provider>,
    tenants: usize,
    customers: usize,
}

/// One customer: whom they are, their connection, their replies.
struct Customer {
    tenant: usize,
    number: String,
    stream: BufReader<TcpStream>,
    replies: mpsc::UnboundedReceiver<Receipt>,
    sent: usize,
    /// Latencies of the replies received.
    latencies: Vec<Duration>,
    last_seq: u64,
    out_of_order: bool,
    missing: usize,
    last_arrival: Option<Instant>,
}

impl Customer {
    async fn post(&mut self, addr: SocketAddr, text: &str) -> anyhow::Result<Instant> {
        let id = format!("wamid.{}.{}", self.number, self.sent);
        let request =
            webhook(addr, &tenant_name(self.tenant), &phone_id(self.tenant), &self.number, &id, text);
        let sent = Instant::now();
        self.stream.get_mut().write_all(&request).await?;
        let status = read_response(&mut self.stream).await?;
        anyhow::ensure!(status == 200, "the app answered {status}");
        self.sent += 1;
        Ok(sent)
    }

    fn record(&mut self, (arrived, seq): Receipt, sent: Instant) {
        self.latencies.push(arrived - sent);
        self.out_of_order |= seq <= self.last_seq;
        self.last_seq = seq;
        self.last_arrival = Some(arrived);
    }

    /// Wait for a reply to the message posted at `sent`, up to `patience`.
    async fn expect(&mut self, sent: Instant, patience: Duration) {
        match tokio::time::timeout(patience, self.replies.recv()).await {
            Ok(Some(receipt)) => self.record(receipt, sent),
            _ => self.missing += 1,
        }
    }
}

impl Load {
    async fn customers(&self) -> anyhow::Result<Vec<Customer>> {
        let mut customers = Vec::new();
        let mut routes = HashMap::new();
        let run = RUN.fetch_add(1, Ordering::Relaxed);
        for tenant in 0..self.tenants {
            for index in 0..self.customers {
                // A new number per run: a fresh conversation, nothing left over.
                let number = format!("37{run}{tenant:03}{index:04}");
                let (tx, replies) = mpsc::unbounded_channel();
                routes.insert(number.clone(), tx);
                let stream = TcpStream::connect(self.addr).await?;
                stream.set_nodelay(true)?;
                customers.push(Customer {
                    tenant,
                    number,
                    stream: BufReader::new(stream),
                    replies,
                    sent: 0,
                    latencies: Vec::new(),
                    last_seq: 0,
                    out_of_order: false,
                    missing: 0,
                    last_arrival: None,
                });
            }
        }
        *self.provider.customers.write().unwrap_or_else(std::sync::PoisonError::into_inner) = routes;
        Ok(customers)
    }

    /// Customers ask, answer, and wait for both replies, for `duration`.
    async fn closed_loop(
        &self,
        name: &'static str,
        duration: Duration,
        hang: Option<usize>,
    ) -> anyhow::Result<Run> {
        *self.provider.hanging.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
            hang.map(phone_id);
        let customers = self.customers().await?;
        let progress = progress(name, duration);
        let started = Instant::now();
        let deadline = started + duration;
        let addr = self.addr;
        let tasks: Vec<_> = customers
            .into_iter()
            .map(|mut customer| {
                tokio::spawn(async move {
                    let hanging = Some(customer.tenant) == hang;
                    while Instant::now() < deadline {
                        let asked = customer.post(addr, "hours?").await?;
                        let answered = customer.post(addr, "ani@example.com").await?;
                        if hanging {
                            // Keeps its outbox full; its replies never come.
                            tokio::time::sleep(Duration::from_millis(500)).await;
                            continue;
                        }
                        customer.expect(asked, Duration::from_secs(30)).await;
                        customer.expect(answered, Duration::from_secs(30)).await;
                    }
                    anyhow::Ok(customer)
                })
            })
            .collect();
        let ticker = tick(progress.clone());
        let mut done = Vec::new();
        for task in tasks {
            done.push(task.await??);
        }
        ticker.abort();
        progress.finish_and_clear();
        let elapsed = started.elapsed();
        Ok(summarise(
            name,
            done.into_iter().filter(|customer| Some(customer.tenant) != hang).collect(),
            elapsed,
        ))
    }

    /// Every send fails for `duration` while customers keep writing; then
    /// the provider recovers and every reply must arrive.
    async fn outage(&self, duration: Duration, every: Duration) -> anyhow::Result<Run> {
        let name = format!("{} s outage, then recovery", duration.as_secs());
        let customers = self.customers().await?;
        self.provider.down.store(true, Ordering::SeqCst);
        let progress = progress(&name, duration);
        let ticker = tick(progress.clone());
        let started = Instant::now();
        let addr = self.addr;
        let tasks: Vec<_> = customers
            .into_iter()
            .map(|mut customer| {
                tokio::spawn(async move {
                    let mut sent = Vec::new();
                    while started.elapsed() < duration {
                        sent.push(customer.post(addr, "hours?").await?);
                        sent.push(customer.post(addr, "ani@example.com").await?);
                        tokio::time::sleep(every).await;
                    }
                    anyhow::Ok((customer, sent))
                })
            })
            .collect();
        let mut written = Vec::new();
        for task in tasks {
            written.push(task.await??);
        }
        ticker.abort();
        progress.finish_and_clear();
        self.provider.down.store(false, Ordering::SeqCst);
        let recovered = Instant::now();
        let waits: Vec<_> = written
            .into_iter()
            .map(|(mut customer, sent)| {
                tokio::spawn(async move {
                    for at in sent {
                        customer.expect(at, Duration::from_secs(120)).await;
                    }
                    customer
                })
            })
            .collect();
        let mut done = Vec::new();
        for wait in waits {
            done.push(wait.await?);
        }
        let last = done.iter().filter_map(|customer| customer.last_arrival).max();
        let mut run = summarise(name, done, recovered - started);
        // Its rate is of the outage's writing, not of the provider's capacity.
        run.drain_s = last.map(|last| last.saturating_duration_since(recovered).as_secs_f64());
        Ok(run)
    }
}

static RUN: AtomicU64 = AtomicU64::new(1);

fn summarise(name: impl Into<String>, customers: Vec<Customer>, elapsed: Duration) -> Run {
    let mut latencies: Vec<Duration> =
        customers.iter().flat_map(|customer| customer.latencies.clone()).collect();
    latencies.sort_unstable();
    Run {
        name: name.into(),
        replies: latencies.len(),
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: crate::common::percentile(&latencies, 0.50),
        p99_ms: crate::common::percentile(&latencies, 0.99),
        missing: customers.iter().map(|customer| customer.missing).sum(),
        out_of_order: customers.iter().filter(|customer| customer.out_of_order).count(),
        drain_s: None,
    }
}

fn progress(name: &str, duration: Duration) -> ProgressBar {
    let bar = ProgressBar::new(duration.as_secs().max(1));
    bar.set_style(
        ProgressStyle::with_template("{msg:>28} [{bar:30}] {pos}/{len} s")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(name.to_owned());
    bar
}

fn tick(bar: ProgressBar) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_secs(1));
        interval.tick().await;
        loop {
            interval.tick().await;
            bar.inc(1);
        }
    })
}

fn tenant_name(index: usize) -> String {
    format!("t{index:03}")
}

fn phone_id(index: usize) -> String {
    format!("PN{index:03}")
}

fn write_tenant(dir: &Path, index: usize, api: SocketAddr) -> anyhow::Result<PathBuf> {
    let name = tenant_name(index);
    let tenant = dir.join(&name);
    std::fs::create_dir_all(&tenant)?;
    std::fs::write(tenant.join("flow.toml"), FLOW)?;
    std::fs::write(
        tenant.join("tenant.toml"),
        format!(
            "name = \"{name}\"\nflow = \"flow.toml\"\n[calendar]\ntimezone = \"UTC\"\n\
             [channels.whatsapp]\napp_secret = \"{SECRET}\"\nverify_token = \"v\"\naccess_token = \"bench\"\n\
             phone_number_id = \"{}\"\napi_base = \"http://{api}\"\n",
            phone_id(index)
        ),
    )?;
    Ok(tenant)
}
