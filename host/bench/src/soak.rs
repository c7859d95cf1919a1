//! `switchboard-bench soak`: steady mixed web chat traffic against the real
//! `switchboard serve` binary for `--minutes`, sampling throughput, p50/p99,
//! the server's resident memory and the data directory's bytes per message
//! over time (issue 15).
//!
//! The server is a child process started as an operator would: the binary
//! beside this one, the demo tenants `moving`, `salon` and `webshop` (Rust,
//! Python and JavaScript plugins), web chat's rate limits raised. Visitors
//! replay those tenants' conversations from the end-to-end cases
//! (`tests/cases/*/script.txt`, in Russian, Armenian and English), each time
//! under a new id, one message at a time; `[N]` taps the Nth quick reply of
//! the last answer. Messages go out open loop, `--rate` a second whatever the
//! server does, so a slow server shows as latency (timed from when a message
//! was due, waiting included), not as a lower rate. The web shop's order API
//! is a stand-in this bench serves on loopback.

use std::io::{BufRead, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How long to send for.
    #[arg(long, default_value_t = 30.0)]
    minutes: f64,
    /// Messages a second, all tenants together, sent whatever the server does.
    #[arg(long, default_value_t = 30.0)]
    rate: f64,
    /// Seconds between samples.
    #[arg(long, default_value_t = 30)]
    sample_secs: u64,
    /// Keep-alive connections the messages go out on.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Visitors mid-conversation at once; each sends its next message when
    /// its turn comes round, and a finished one is replaced by a new one.
    #[arg(long, default_value_t = 150)]
    visitors: usize,
    /// One more argument for `switchboard serve`, repeated: `--serve-arg=--foo --serve-arg=bar`.
    #[arg(long, allow_hyphen_values = true)]
    serve_arg: Vec<String>,
    /// Put the store here, and keep it, instead of in a temporary directory.
    #[arg(long)]
    keep_data: Option<PathBuf>,
    /// Keep each tenant's events, message ids, idle conversations and
    /// recorded step calls this long (`10m`, `2h`): written into its
    /// `[retention]`, with the server sweeping every tenth of it, so a run
    /// longer than this reaches the steady state retention keeps. Without
    /// it, the tenants keep the defaults (90 days, 7 days, for good, and 7
    /// days).
    #[arg(long)]
    retention: Option<String>,
    /// Also write the samples and the summary to this file, as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// The demo tenants under `examples/` that serve web chat.
const TENANTS: [&str; 3] = ["moving", "salon", "webshop"];

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.minutes > 0.0 && args.rate > 0.0, "--minutes and --rate must be positive");
    anyhow::ensure!(
        args.connections.min(args.visitors) > 0 && args.sample_secs > 0,
        "counts must be positive"
    );
    let scripts = scripts(Path::new("tests/cases"))?;
    let work = tempfile::tempdir().context("failed to make a temp dir")?;
    for tenant in TENANTS {
        copy_files(&Path::new("examples").join(tenant), &work.path().join("tenants").join(tenant))?;
    }
    let mut serve_args = args.serve_arg.clone();
    let retention = match &args.retention {
        Some(kept) => {
            let span: jiff::Span = kept.parse().with_context(|| format!("--retention {kept:?}"))?;
            let kept_for = Duration::try_from(span.to_duration(jiff::SpanRelativeTo::days_are_24_hours())?)?;
            for tenant in TENANTS {
                let file = work.path().join("tenants").join(tenant).join("tenant.toml");
                let operator = std::fs::read_to_string(&file)?;
                // A top-level key goes before the file's first table.
                let line = format!(
                    "retention = {{ events = \"{kept}\", dedupe = \"{kept}\", conversations = \"{kept}\", steps = \"{kept}\" }}\n"
                );
                std::fs::write(&file, line + &operator)?;
            }
            let every = (kept_for / 10).max(Duration::from_secs(5)).as_secs();
            serve_args.extend(["--retention-every-secs".to_owned(), every.to_string()]);
            // Exports are shipped off the machine: measured apart from the store.
            if !serve_args.iter().any(|arg| arg.starts_with("--export-dir")) {
                serve_args.push(format!("--export-dir={}", work.path().join("exports").display()));
            }
            Some(kept_for)
        }
        None => None,
    };
    let data = args.keep_data.clone().unwrap_or_else(|| work.path().join("data"));
    let shop = std::net::TcpListener::bind("127.0.0.1:0").context("failed to bind the stand-in shop")?;
    let server = Server::start(&work.path().join("tenants"), &data, shop.local_addr()?, &serve_args)?;
    let (minutes, rate, connections, visitors) = (args.minutes, args.rate, args.connections, args.visitors);
    let conversations = format!("{} conversations of {}", scripts.len(), TENANTS.join(", "));
    println!(
        "soak: {minutes} min, {rate}/s on {connections} connections, {visitors} visitors in {conversations}"
    );
    let traffic = Arc::new(Traffic {
        addr: server.addr,
        scripts,
        stamp: jiff::Timestamp::now().as_second(),
        serial: AtomicU64::new(0),
        stats: Mutex::default(),
    });
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let (samples, whole) = tokio.block_on(async {
        shop.set_nonblocking(true)?;
        let shop = tokio::net::TcpListener::from_std(shop)?;
        let routes = axum::Router::new().route("/shop/api/orders/{id}", axum::routing::get(order));
        tokio::spawn(async move { axum::serve(shop, routes).await });
        drive(&args, retention, traffic, &server, &data).await
    })?;
    let warnings = server.warnings();
    drop(server);
    report(&samples, &whole, &warnings);
    let exports = dir_size(&work.path().join("exports"))?;
    if exports > 0 {
        println!("expired events exported (outside the data directory): {:.1} MiB", mib(exports));
    }
    if let Some(path) = &args.json {
        let document = json!({ "rate": args.rate, "minutes": args.minutes, "retention": args.retention, "connections": args.connections,
            "visitors": args.visitors, "serve_args": args.serve_arg, "samples": samples, "whole_run": whole,
            "server_warnings": warnings.0 });
        std::fs::write(path, serde_json::to_string_pretty(&document)?)
            .with_context(|| format!("failed to write {}", path.display()))?;
    }
    let healthy = whole.counts.server_errors + whole.counts.failed == 0;
    Ok(if healthy { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Send for the whole duration and sample every `--sample-secs`; the last
/// sample is taken once the messages in flight are answered.
async fn drive(
    args: &Args,
    retention: Option<Duration>,
    traffic: Arc<Traffic>,
    server: &Server,
    data: &Path,
) -> anyhow::Result<(Vec<Sample>, Sample)> {
    let (idle, idle_queue) = mpsc::unbounded_channel();
    for _ in 0..args.visitors {
        idle.send(traffic.new_visitor())?;
    }
    let (jobs, job_queue) = mpsc::unbounded_channel();
    let job_queue = Arc::new(tokio::sync::Mutex::new(job_queue));
    let mut sampler = Sampler::new(server.pid(), data, retention)?;
    let duration = Duration::from_secs_f64(args.minutes * 60.0);
    let deadline = sampler.start.at + duration;
    let connections: Vec<_> = (0..args.connections)
        .map(|_| tokio::spawn(connection(traffic.clone(), job_queue.clone(), idle.clone())))
        .collect();
    let dispatcher = tokio::spawn(dispatch(args.rate, deadline, idle_queue, jobs));
    let bar = ProgressBar::new(duration.as_secs().max(1));
    bar.set_style(
        ProgressStyle::with_template("[{bar:30}] {pos}/{len} s {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    // Without a terminal the bar is hidden, and so is what it would print.
    let say = |line: &str| if bar.is_hidden() { println!("{line}") } else { bar.println(line) };
    say(Sample::HEADER);
    let mut samples = Vec::new();
    let mut next = sampler.start.at + Duration::from_secs(args.sample_secs);
    while next < deadline {
        wait_until(&bar, sampler.start.at, next).await;
        anyhow::ensure!(server.running(), "the server exited; its last warning: {}", server.warnings().1);
        let sample = sampler.take(&traffic)?;
        say(&sample.row());
        let (per_second, p99_ms, rss) = (sample.per_second, sample.p99_ms, mib(sample.rss_bytes));
        bar.set_message(format!("{per_second:.1}/s, p99 {p99_ms:.0} ms, RSS {rss:.0} MiB"));
        samples.push(sample);
        next += Duration::from_secs(args.sample_secs);
    }
    wait_until(&bar, sampler.start.at, deadline).await;
    dispatcher.await?;
    for connection in connections {
        connection.await?;
    }
    bar.finish_and_clear();
    samples.push(sampler.take(&traffic)?);
    Ok((samples, sampler.whole_run(&traffic)?))
}

async fn wait_until(bar: &ProgressBar, started: Instant, when: Instant) {
    while let Some(left) = when.checked_duration_since(Instant::now()).filter(|left| !left.is_zero()) {
        tokio::time::sleep(left.min(Duration::from_secs(1))).await;
        bar.set_position(started.elapsed().as_secs());
    }
}

/// What the connections share: where to send, the scripts, and the counts.
struct Traffic {
    addr: SocketAddr,
    scripts: Vec<Arc<Script>>,
    /// Part of every visitor id, so a kept data directory never sees one twice.
    stamp: i64,
    serial: AtomicU64,
    stats: Mutex<Stats>,
}

#[derive(Debug, Default)]
struct Stats {
    counts: Counts,
    /// Latencies since the last sample, and of the whole run.
    interval: Vec<Duration>,
    all: Vec<Duration>,
}

/// Answers by class. `failed`: no answer, even on a fresh connection.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
struct Counts {
    acked: u64,
    client_errors: u64,
    server_errors: u64,
    failed: u64,
}

/// One tenant's side of one customer's conversation in a case.
#[derive(Debug)]
struct Script {
    tenant: String,
    lines: Vec<String>,
}

/// A visitor replaying a script: the next line, and the last answer's quick replies.
struct Visitor {
    id: String,
    script: Arc<Script>,
    step: usize,
    /// `(title, payload)` of the last answer's quick replies.
    taps: Vec<(String, String)>,
}

/// A visitor's next message, due at `due`.
struct Job {
    visitor: Visitor,
    due: Instant,
}

impl Traffic {
    fn new_visitor(&self) -> Visitor {
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        let script = self.scripts[serial as usize % self.scripts.len()].clone();
        Visitor { id: format!("soak{}-{serial}", self.stamp), script, step: 0, taps: Vec::new() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Stats> {
        self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, status: Option<u16>, latency: Duration) {
        let mut stats = self.lock();
        let counts = &mut stats.counts;
        *match status {
            Some(200..=299) => &mut counts.acked,
            Some(400..=499) => &mut counts.client_errors,
            Some(_) => &mut counts.server_errors,
            None => &mut counts.failed,
        } += 1;
        stats.interval.push(latency);
        stats.all.push(latency);
    }
}

impl Visitor {
    /// The request for the next line of the script.
    fn request(&self, addr: SocketAddr) -> Vec<u8> {
        let line = &self.script.lines[self.step];
        let tap = line.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).and_then(|n| n.parse().ok());
        let (id, message_id) = (&self.id, format!("{}.{}", self.id, self.step));
        let body = match tap.and_then(|n: usize| self.taps.get(n.wrapping_sub(1))) {
            Some((title, payload)) => {
                json!({ "contact": { "id": id }, "text": title, "payload": payload, "message_id": message_id })
            }
            None => json!({ "contact": { "id": id }, "text": line, "message_id": message_id }),
        }
        .to_string();
        let tenant = &self.script.tenant;
        format!(
            "POST /v1/tenants/{tenant}/messages HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
             authorization: Bearer {}\r\ncontent-length: {}\r\n\r\n{body}",
            token(tenant),
            body.len()
        )
        .into_bytes()
    }

    /// Take in the answer; false once the script is done.
    fn answered(&mut self, body: &[u8]) -> bool {
        let turn: Value = serde_json::from_slice(body).unwrap_or_default();
        let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
        self.taps = (turn["replies"].as_array().into_iter().flatten().rev())
            .find_map(|reply| reply["quick_replies"].as_array().filter(|taps| !taps.is_empty()))
            .map(|taps| taps.iter().map(|tap| (text(&tap["title"]), text(&tap["payload"]))).collect())
            .unwrap_or_default();
        self.step += 1;
        self.step < self.script.lines.len()
    }
}

/// Each tenant's bootstrap token, set through the variable its tenant.toml
/// reads. The messages route is web chat's, public, so nothing checks it there.
fn token(tenant: &str) -> String {
    format!("soak-{tenant}-token")
}

/// Every `1 / rate` seconds, the next waiting visitor's message.
async fn dispatch(
    rate: f64,
    deadline: Instant,
    mut idle: mpsc::UnboundedReceiver<Visitor>,
    jobs: mpsc::UnboundedSender<Job>,
) {
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    loop {
        let due = ticks.tick().await.into_std();
        if due >= deadline {
            return;
        }
        let Some(visitor) = idle.recv().await else { return };
        if jobs.send(Job { visitor, due }).is_err() {
            return;
        }
    }
}

/// One keep-alive connection taking jobs until the dispatcher stops.
async fn connection(
    traffic: Arc<Traffic>,
    jobs: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Job>>>,
    idle: mpsc::UnboundedSender<Visitor>,
) {
    let mut stream = None;
    loop {
        let Some(Job { mut visitor, due }) = jobs.lock().await.recv().await else { return };
        let request = visitor.request(traffic.addr);
        // A kept-alive connection the server closed fails once; the message
        // id makes the retry on a fresh one safe.
        let mut answer = post(&mut stream, traffic.addr, &request).await;
        if answer.is_err() {
            stream = None;
            answer = post(&mut stream, traffic.addr, &request).await;
        }
        let (status, body) = answer.map_or((None, Vec::new()), |(status, body)| (Some(status), body));
        traffic.record(status, due.elapsed());
        if !visitor.answered(&body) {
            visitor = traffic.new_visitor();
        }
        if idle.send(visitor).is_err() {
            return;
        }
    }
}

/// Send `request` (connecting first if need be); the status and body.
async fn post(
    stream: &mut Option<BufReader<TcpStream>>,
    addr: SocketAddr,
    request: &[u8],
) -> anyhow::Result<(u16, Vec<u8>)> {
    if stream.is_none() {
        let connected = TcpStream::connect(addr).await?;
        connected.set_nodelay(true)?;
        *stream = Some(BufReader::new(connected));
    }
    let stream = stream.as_mut().context("no connection")?;
    stream.get_mut().write_all(request).await?;
    let mut line = String::new();
    stream.read_line(&mut line).await?;
    let status =
        line.split_whitespace().nth(1).and_then(|code| code.parse().ok()).context("no status line")?;
    let mut length = 0;
    loop {
        line.clear();
        anyhow::ensure!(stream.read_line(&mut line).await? > 0, "the server closed the connection");
        let Some((name, value)) = line.trim_end().split_once(':') else { break };
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse()?;
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await?;
    Ok((status, body))
}

/// The web shop's order API, as `serve --demo` stands it in.
async fn order(
    axum::extract::Path(id): axum::extract::Path<String>,
) -> (axum::http::StatusCode, axum::Json<Value>) {
    let today = jiff::Zoned::now().date();
    let day = |days: i64| today.checked_add(jiff::Span::new().days(days)).unwrap_or(today).to_string();
    let order = match id.as_str() {
        "A-1001" => json!({ "id": id, "status": "in_transit", "expected_date": day(2),
            "last_scan": { "place": "Yerevan sorting hub", "at": day(0) }, "phone": "+37491000001" }),
        "A-1002" => json!({ "id": id, "status": "in_transit", "expected_date": day(-5),
            "last_scan": { "place": "Gyumri depot", "at": day(-7) }, "phone": "+37491000002" }),
        _ => return (axum::http::StatusCode::NOT_FOUND, axum::Json(json!({ "error": "no such order" }))),
    };
    (axum::http::StatusCode::OK, axum::Json(order))
}

/// `switchboard serve` as a child process, stopped when dropped.
struct Server {
    child: Mutex<Child>,
    addr: SocketAddr,
    /// How many lines it logged at WARN or ERROR, and the last of them.
    warnings: Arc<Mutex<(u64, String)>>,
}

impl Server {
    /// Start the binary beside this one; return once it listens and `/readyz` says ready.
    fn start(tenants: &Path, data: &Path, shop: SocketAddr, extra: &[String]) -> anyhow::Result<Server> {
        let binary =
            std::env::current_exe().context("failed to find the bench")?.with_file_name("switchboard");
        anyhow::ensure!(
            binary.exists(),
            "no {}: run `cargo build --release -p switchboard`",
            binary.display()
        );
        anyhow::ensure!(
            Path::new("target/plugins").is_dir(),
            "no target/plugins: run from the workspace root, after scripts/build-plugins.sh"
        );
        let mut command = Command::new(&binary);
        command.args(["serve", "--listen", "127.0.0.1:0", "--plugins", "target/plugins", "--tenants"]);
        command.arg(tenants).arg("--data").arg(data);
        // One client address sending far past a visitor's limits, for far longer.
        for limit in ["--web-chat-per-ip-per-minute", "--web-chat-per-tenant-per-minute"] {
            command.args([limit, "100000000"]);
        }
        command.args(["--events-per-tenant-per-day", "1000000000000", "--allow-outbound", &shop.to_string()]);
        command.args(extra).env("SHOP_API", format!("http://{shop}/shop")).env("SHOP_HOST", shop.to_string());
        for tenant in TENANTS {
            command.env(format!("{}_API_TOKEN", tenant.to_uppercase()), token(tenant));
        }
        let mut child = (command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn())
            .with_context(|| format!("failed to start {}", binary.display()))?;
        let mut lines = std::io::BufReader::new(child.stderr.take().context("no stderr")?).lines();
        let mut said = Vec::new();
        let addr = loop {
            let Some(line) = lines.next().transpose()? else {
                anyhow::bail!("the server exited before it listened:\n{}", said.join("\n"));
            };
            if let Some(rest) = line.strip_prefix("switchboard is listening on http://") {
                break rest.trim_end_matches('/').parse().context("failed to parse the listen address")?;
            }
            said.push(line);
        };
        let warnings = Arc::new(Mutex::new((0, String::new())));
        let drained = warnings.clone();
        // Drain stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in
                lines.map_while(Result::ok).filter(|line| line.contains(" WARN ") || line.contains("ERROR"))
            {
                let mut warnings = drained.lock().unwrap_or_else(PoisonError::into_inner);
                *warnings = (warnings.0 + 1, line);
            }
        });
        let server = Server { child: Mutex::new(child), addr, warnings };
        let started = Instant::now();
        while !server.ready() {
            anyhow::ensure!(server.running(), "the server exited while loading tenants");
            // The first start compiles every component.
            anyhow::ensure!(started.elapsed() < Duration::from_secs(600), "the server did not get ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }

    fn ready(&self) -> bool {
        let Ok(mut stream) = std::net::TcpStream::connect(self.addr) else { return false };
        let request = format!("GET /readyz HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\r\n", self.addr);
        let mut response = String::new();
        stream.write_all(request.as_bytes()).is_ok()
            && stream.read_to_string(&mut response).is_ok()
            && response.starts_with("HTTP/1.1 200")
    }

    fn pid(&self) -> u32 {
        self.child.lock().unwrap_or_else(PoisonError::into_inner).id()
    }

    fn running(&self) -> bool {
        matches!(self.child.lock().unwrap_or_else(PoisonError::into_inner).try_wait(), Ok(None))
    }

    fn warnings(&self) -> (u64, String) {
        self.warnings.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Drop for Server {
    /// Ctrl-C, which `serve` stops on; killed if it takes longer than 10 s.
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(PoisonError::into_inner);
        let _ = Command::new("kill").arg("-INT").arg(child.id().to_string()).status();
        let asked = Instant::now();
        while matches!(child.try_wait(), Ok(None)) && asked.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// One sample: counts so far, the last interval's rate and latency, and the
/// server's memory and disk now.
#[derive(Debug, Clone, serde::Serialize)]
struct Sample {
    elapsed_s: f64,
    #[serde(flatten)]
    counts: Counts,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    rss_bytes: u64,
    disk_bytes: u64,
    /// The data directory over every message acknowledged so far.
    disk_per_message: f64,
    /// The data directory's growth over the interval's acknowledged messages.
    marginal_disk_per_message: f64,
    /// The data directory's growth since the start over the messages it
    /// still keeps: those acknowledged within the retention (all, without
    /// one). The components the tenants bring are in the start.
    kept_disk_per_message: f64,
}

impl Sample {
    const HEADER: &str =
        "    t s    acked   per s   p50 ms   p99 ms   4xx   5xx  RSS MiB  disk MiB   B/msg  marginal  B/kept";

    fn row(&self) -> String {
        let Sample { elapsed_s: t, per_second, p50_ms, p99_ms, disk_per_message: per_message, .. } = *self;
        let Counts { acked, client_errors, server_errors, failed } = self.counts;
        let (errors, rss, disk) = (server_errors + failed, mib(self.rss_bytes), mib(self.disk_bytes));
        let (marginal, kept) = (self.marginal_disk_per_message, self.kept_disk_per_message);
        format!(
            "{t:>7.0} {acked:>8} {per_second:>7.1} {p50_ms:>8.1} {p99_ms:>8.1} {client_errors:>5} {errors:>5} \
             {rss:>8.1} {disk:>9.1} {per_message:>7.0} {marginal:>9.0} {kept:>7.0}"
        )
    }
}

/// Takes samples, each over the interval since `last`.
struct Sampler {
    pid: u32,
    data: PathBuf,
    retention: Option<Duration>,
    start: Mark,
    last: Mark,
    /// Every sample's mark, oldest first, for what the retention still keeps.
    marks: Vec<Mark>,
}

/// When a sample was taken, and the counts then.
#[derive(Clone, Copy)]
struct Mark {
    at: Instant,
    acked: u64,
    disk_bytes: u64,
}

impl Sampler {
    fn new(pid: u32, data: &Path, retention: Option<Duration>) -> anyhow::Result<Sampler> {
        let start = Mark { at: Instant::now(), acked: 0, disk_bytes: dir_size(data)? };
        Ok(Sampler { pid, data: data.to_owned(), retention, start, last: start, marks: vec![start] })
    }

    /// Messages acknowledged before the retention's reach: the count at the
    /// last mark at least the retention old.
    fn expired(&self) -> u64 {
        let Some(retention) = self.retention else { return 0 };
        (self.marks.iter().rev()).find(|mark| mark.at.elapsed() >= retention).map_or(0, |mark| mark.acked)
    }

    fn take(&mut self, traffic: &Traffic) -> anyhow::Result<Sample> {
        let (counts, latencies) = {
            let mut stats = traffic.lock();
            (stats.counts, std::mem::take(&mut stats.interval))
        };
        let sample = self.since(self.last, counts, latencies)?;
        self.last = Mark { at: Instant::now(), acked: counts.acked, disk_bytes: sample.disk_bytes };
        self.marks.push(self.last);
        Ok(sample)
    }

    /// The whole run as one sample.
    fn whole_run(&self, traffic: &Traffic) -> anyhow::Result<Sample> {
        let (counts, latencies) = {
            let stats = traffic.lock();
            (stats.counts, stats.all.clone())
        };
        self.since(self.start, counts, latencies)
    }

    fn since(&self, mark: Mark, counts: Counts, mut latencies: Vec<Duration>) -> anyhow::Result<Sample> {
        latencies.sort_unstable();
        let (interval, disk_bytes) = (mark.at.elapsed().as_secs_f64(), dir_size(&self.data)?);
        let new = counts.acked - mark.acked;
        Ok(Sample {
            elapsed_s: self.start.at.elapsed().as_secs_f64(),
            counts,
            per_second: new as f64 / interval,
            p50_ms: crate::common::percentile(&latencies, 0.50),
            p99_ms: crate::common::percentile(&latencies, 0.99),
            rss_bytes: rss(self.pid)?,
            disk_bytes,
            disk_per_message: disk_bytes as f64 / counts.acked.max(1) as f64,
            marginal_disk_per_message: (disk_bytes as f64 - mark.disk_bytes as f64) / new.max(1) as f64,
            kept_disk_per_message: (disk_bytes as f64 - self.start.disk_bytes as f64)
                / counts.acked.saturating_sub(self.expired()).max(1) as f64,
        })
    }
}

/// The samples as a table, charts of RSS and disk per message, and the whole run.
fn report(samples: &[Sample], whole: &Sample, (warnings, last_warning): &(u64, String)) {
    println!("\n{}", Sample::HEADER);
    samples.iter().for_each(|sample| println!("{}", sample.row()));
    println!("{}  whole run (marginal: since the start)\n", whole.row());
    let rss: Vec<f64> = samples.iter().map(|sample| mib(sample.rss_bytes)).collect();
    chart("server RSS, MiB", &rss);
    chart(
        "disk bytes per message",
        &samples.iter().map(|sample| sample.disk_per_message).collect::<Vec<_>>(),
    );
    let (first, max) = (rss.first().copied().unwrap_or_default(), rss.iter().copied().fold(0.0, f64::max));
    let (acked, per_second, p99_ms, per_message) =
        (whole.counts.acked, whole.per_second, whole.p99_ms, whole.disk_per_message);
    let Counts { client_errors, server_errors, failed, .. } = whole.counts;
    println!(
        "{acked} messages acknowledged, {per_second:.1}/s, p99 {p99_ms:.1} ms; 4xx {client_errors}, 5xx {server_errors}, unanswered {failed}"
    );
    println!(
        "server RSS {first:.1} MiB first, {:.1} last, {max:.1} max; {per_message:.0} disk bytes per message",
        mib(whole.rss_bytes)
    );
    println!(
        "server lines logged at WARN or ERROR: {warnings}; the last: {}",
        Some(last_warning).filter(|line| !line.is_empty()).map_or("-", String::as_str)
    );
}

/// A ten-row chart of `values`, one column per sample.
fn chart(title: &str, values: &[f64]) {
    const ROWS: usize = 10;
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let step = (high - low).max(f64::EPSILON) / (ROWS - 1) as f64;
    println!("{title}");
    for row in (0..ROWS).rev() {
        let marks: String = (values.iter())
            .map(|value| if ((value - low) / step).round() as usize == row { '*' } else { ' ' })
            .collect();
        println!("{:>10.1} |{marks}", low + step * row as f64);
    }
    println!("{:>10} +{}\n", "", "-".repeat(values.len()));
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// The resident memory of process `pid` (`VmRSS` in /proc), in bytes.
fn rss(pid: u32) -> anyhow::Result<u64> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).context("failed to read the server's RSS")?;
    let kib = (status.lines().find_map(|line| line.strip_prefix("VmRSS:")))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .context("no VmRSS in /proc status")?;
    Ok(kib << 10)
}

/// The sizes of every file under `dir` (0 if it does not exist yet); a file
/// removed while walking counts as nothing.
fn dir_size(dir: &Path) -> anyhow::Result<u64> {
    let entries = match std::fs::read_dir(dir) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        entries => entries.with_context(|| format!("failed to read {}", dir.display()))?,
    };
    let mut total = 0;
    for (path, metadata) in entries.flatten().filter_map(|entry| Some((entry.path(), entry.metadata().ok()?)))
    {
        total += if metadata.is_dir() { dir_size(&path)? } else { metadata.len() };
    }
    Ok(total)
}

/// Every conversation of `TENANTS` in the end-to-end cases: one script per
/// case, tenant and customer.
fn scripts(cases: &Path) -> anyhow::Result<Vec<Arc<Script>>> {
    let mut scripts = std::collections::BTreeMap::<(PathBuf, &str), Script>::new();
    let dirs = std::fs::read_dir(cases)
        .with_context(|| format!("failed to read {}: run from the workspace root", cases.display()))?;
    let texts: Vec<_> = (dirs.flatten())
        .filter_map(|dir| Some((dir.path(), std::fs::read_to_string(dir.path().join("script.txt")).ok()?)))
        .collect();
    for (dir, text) in &texts {
        for (who, said) in
            text.lines().filter(|line| !line.starts_with('#')).filter_map(|line| line.split_once("> "))
        {
            let Some((tenant, _)) = who.split_once('/').filter(|(tenant, _)| TENANTS.contains(tenant)) else {
                continue;
            };
            let script = (scripts.entry((dir.clone(), who)))
                .or_insert_with(|| Script { tenant: tenant.to_owned(), lines: Vec::new() });
            script.lines.push(said.trim().to_owned());
        }
    }
    anyhow::ensure!(!scripts.is_empty(), "no conversations of {} in {}", TENANTS.join(", "), cases.display());
    Ok(scripts.into_values().map(Arc::new).collect())
}

/// Copy the files (not subdirectories) of `from` into a new `to`.
fn copy_files(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("failed to read {}", from.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))
                .with_context(|| format!("failed to copy {}", entry.path().display()))?;
        }
    }
    Ok(())
}
