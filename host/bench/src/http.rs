//! `switchboard-bench http`: signed WhatsApp webhooks over loopback HTTP
//! against the real app (`server::app`, as `serve` runs it), from a load
//! generator in the same process: many keep-alive connections, each posting
//! one message at a time for its own customers, as fast as acknowledgments
//! come back. Every acknowledgment means the turn is handled and on disk.
//!
//! It reports sustained webhooks/s and p50/p99 acknowledgment latency. The
//! baseline, measured in the same run over the same connections, is a route
//! that answers at once: the cost of HTTP alone on this machine.
//!
//! With `--store postgres://…`, the webhooks go to 1, 2 or 3 nodes
//! (`--nodes 1,2,3`) on that database, next to sled in the same run: each
//! node an engine with its own connection pool and its own listener, as
//! separate `serve` processes are, the connections spread round robin
//! across them (no load balancer).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hmac::{Hmac, Mac};
use switchboard::engine::Engine;
use switchboard::server;
use switchboard::tenant::Tenant;
use switchboard_store::Store;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Concurrent connections (each a customer stream).
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// How long to send for, per run.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also run on this PostgreSQL database (`postgres://user@host/db`).
    #[arg(long)]
    store: Option<String>,
    /// On PostgreSQL, how many nodes share the load, one run each.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    nodes: Vec<usize>,
}

pub const SECRET: &str = "bench-app-secret";

/// Each customer asks, is asked for an email, gives it: two turns, repeated.
pub const FLOW: &str = r#"
version = "bench-http"
default_locale = "en"
menu.en = "Ask me for the opening hours."
[[intents]]
name = "hours"
title.en = "Opening hours"
triggers.en = ["hours"]
[[intents.fields]]
name = "email"
type = "email"
prompt.en = "Your email, so we can send them?"
[intents.done]
reply.en = "Sent to {email}."
state = "resolved"
"#;

#[derive(Debug, serde::Serialize)]
struct Run {
    target: String,
    requests: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let work = tempfile::tempdir().context("failed to make a temp dir")?;
    let tenant_dir = write_tenant(work.path())?;
    let runtime = crate::common::runtime()?;
    let node = |store: Arc<dyn switchboard_store::Backend>| -> anyhow::Result<axum::Router> {
        let engine = Arc::new(Engine::on(store, runtime.clone()));
        engine.add_tenant(Tenant::load(&tenant_dir, Path::new("target/plugins"), &runtime, &|_| None)?)?;
        Ok(server::app(engine, server::Options::default()))
    };
    let sled = node(Arc::new(Store::open(&work.path().join("store"))?))?;
    let mut clusters = vec![("sled".to_owned(), vec![sled])];
    if let Some(url) = &args.store {
        for &count in &args.nodes {
            let nodes = (0..count.max(1))
                .map(|_| node(Arc::new(switchboard_store_postgres::PgStore::connect(url)?)))
                .collect::<anyhow::Result<Vec<_>>>()?;
            clusters.push((format!("postgres, {count} node{}", if count == 1 { "" } else { "s" }), nodes));
        }
    }

    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let duration = Duration::from_secs(args.seconds);
    let runs = tokio.block_on(async move {
        let mut runs = Vec::new();
        for (index, (store, apps)) in clusters.into_iter().enumerate() {
            let mut addrs = Vec::new();
            for app in apps {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                addrs.push(listener.local_addr()?);
                tokio::spawn(async move { axum::serve(listener, app).await });
            }
            if index == 0 {
                runs.push(load(&addrs, args.connections, duration, Target::Health, "").await?);
            }
            // Message ids are the run's own: one database holds every run.
            let run = format!("{}-{index}", std::process::id());
            let mut webhooks = load(&addrs, args.connections, duration, Target::Webhook, &run).await?;
            webhooks.target = format!("signed WhatsApp webhook, {store}");
            runs.push(webhooks);
        }
        anyhow::Ok(runs)
    })?;
    let (baseline, webhooks) = (&runs[0], &runs[1]);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
    } else {
        println!(
            "{} connections, {} s each, loopback, generator in the same process",
            args.connections, args.seconds
        );
        println!("{:>44} {:>9} {:>10} {:>9} {:>9}", "target", "requests", "per s", "p50 ms", "p99 ms");
        for run in &runs {
            println!(
                "{:>44} {:>9} {:>10.0} {:>9.3} {:>9.3}",
                run.target, run.requests, run.per_second, run.p50_ms, run.p99_ms
            );
        }
        println!(
            "webhooks on sled: {:.1}% of the bare HTTP rate; p50 {:.1}x the bare HTTP p50",
            100.0 * webhooks.per_second / baseline.per_second,
            webhooks.p50_ms / baseline.p50_ms
        );
        for run in &runs[2..] {
            println!(
                "{}: {:.2}x sled's rate; p99 {:.1}x sled's",
                run.target.trim_start_matches("signed WhatsApp webhook, "),
                run.per_second / webhooks.per_second,
                run.p99_ms / webhooks.p99_ms
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Clone, Copy)]
enum Target {
    /// `GET /healthz`: HTTP and nothing else.
    Health,
    /// `POST /webhooks/bench/whatsapp`, signed, one text message.
    Webhook,
}

async fn load(
    addrs: &[std::net::SocketAddr],
    connections: usize,
    duration: Duration,
    target: Target,
    run: &str,
) -> anyhow::Result<Run> {
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..connections)
        .map(|connection| {
            let addr = addrs[connection % addrs.len()];
            tokio::spawn(connection_loop(addr, connection, deadline, target, run.to_owned()))
        })
        .collect();
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    Ok(Run {
        target: match target {
            Target::Health => "GET /healthz (baseline)",
            Target::Webhook => "signed WhatsApp webhook",
        }
        .to_owned(),
        requests: latencies.len(),
        per_second: latencies.len() as f64 / elapsed,
        p50_ms: crate::common::percentile(&latencies, 0.50),
        p99_ms: crate::common::percentile(&latencies, 0.99),
    })
}

/// One keep-alive connection sending until `deadline`; each request's latency.
async fn connection_loop(
    addr: std::net::SocketAddr,
    connection: usize,
    deadline: Instant,
    target: Target,
    run: String,
) -> anyhow::Result<Vec<Duration>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut stream = BufReader::new(stream);
    let mut latencies = Vec::new();
    let mut sequence = 0_usize;
    while Instant::now() < deadline {
        let request = match target {
            Target::Health => format!("GET /healthz HTTP/1.1\r\nhost: {addr}\r\n\r\n").into_bytes(),
            Target::Webhook => {
                // Ten customers per connection, each asking then answering.
                let customer = format!("374{:05}{:03}", connection, sequence / 2 % 10);
                let text = if sequence.is_multiple_of(2) { "hours?" } else { "ani@example.com" };
                webhook(
                    addr,
                    "bench",
                    "PNID",
                    &customer,
                    &format!("wamid.{run}.{connection}.{sequence}"),
                    text,
                )
            }
        };
        let sent = Instant::now();
        stream.get_mut().write_all(&request).await?;
        let status = read_response(&mut stream).await?;
        latencies.push(sent.elapsed());
        anyhow::ensure!(status == 200, "the server answered {status}");
        sequence += 1;
    }
    Ok(latencies)
}

/// A signed WhatsApp webhook carrying one text message, as raw HTTP/1.1.
pub fn webhook(
    addr: std::net::SocketAddr,
    tenant: &str,
    phone_number_id: &str,
    customer: &str,
    id: &str,
    text: &str,
) -> Vec<u8> {
    let body = serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "WABA", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550000000", "phone_number_id": phone_number_id },
            "contacts": [{ "profile": { "name": "Bench" }, "wa_id": customer }],
            "messages": [{ "from": customer, "id": id, "timestamp": "1767600000", "type": "text", "text": { "body": text } }]
        }}]}]
    })
    .to_string();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("HMAC takes any key");
    mac.update(body.as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    format!(
        "POST /webhooks/{tenant}/whatsapp HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         x-hub-signature-256: sha256={signature}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Read one HTTP/1.1 response (with a content-length body); its status.
pub async fn read_response(stream: &mut BufReader<TcpStream>) -> anyhow::Result<u16> {
    let mut line = String::new();
    stream.read_line(&mut line).await?;
    let status = line.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let mut length = 0;
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            anyhow::bail!("the server closed the connection");
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse()?;
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await?;
    Ok(status)
}

fn write_tenant(dir: &Path) -> anyhow::Result<PathBuf> {
    let tenant = dir.join("tenant");
    std::fs::create_dir_all(&tenant)?;
    std::fs::write(tenant.join("flow.toml"), FLOW)?;
    std::fs::write(
        tenant.join("tenant.toml"),
        format!(
            "name = \"bench\"\nflow = \"flow.toml\"\n[calendar]\ntimezone = \"UTC\"\n\
             [channels.whatsapp]\napp_secret = \"{SECRET}\"\nverify_token = \"v\"\n"
        ),
    )?;
    Ok(tenant)
}
