//! A real `switchboard serve` on loopback, a tiny blocking HTTP client, and
//! the benign tenant's yardstick.
//!
//! Servers run one at a time ([`Server::start`] holds a process-wide lock
//! until the server is dropped): the machine may have two cores, and a
//! second server starting up would skew the other's latency measurements.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, mpsc};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The operator's key every server starts with.
pub const ADMIN_KEY: &str = "attack-admin-key";

/// Where attacks come from. Benign traffic comes from 127.0.0.1, so limits
/// per client address tell the two apart.
pub const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// The example tenants every server serves.
const TENANTS: [&str; 4] = ["moving", "salon", "webshop", "office"];

/// Listening and loading the tenants (which compiles their plugins the first
/// time; later runs hit the compile cache under `target/`).
const STARTUP_LIMIT: Duration = Duration::from_secs(120);

/// Any single HTTP exchange of the suite; far beyond a healthy turn.
const REQUEST_LIMIT: Duration = Duration::from_secs(10);

/// Benign turns for a baseline, and the bounds on turns timed during an attack.
const BASELINE_TURNS: usize = 20;
const MIN_TURNS_DURING: usize = 10;
const MAX_TURNS_DURING: usize = 2000;
const MAX_TIME_DURING: Duration = Duration::from_secs(30);
/// Benign turns during an attack start this far apart, so that they sample
/// the whole attack rather than its first moment.
const TURN_PACE: Duration = Duration::from_millis(10);

/// How much slower a benign turn may get while an attack runs.
const SLOWDOWN_ALLOWED: u32 = 2;

/// What to start `serve` with beyond the suite's defaults.
#[derive(Debug, Clone, Default)]
pub struct Options {
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Options {
    pub fn new() -> Self {
        Self::default()
    }

    /// `--name value` on the command line.
    pub fn flag(mut self, name: &str, value: &str) -> Self {
        self.args.extend([name.to_owned(), value.to_owned()]);
        self
    }

    /// `--name` on the command line, a switch without a value.
    pub fn switch(mut self, name: &str) -> Self {
        self.args.push(name.to_owned());
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// A running `switchboard serve`, killed on drop.
#[derive(Debug)]
pub struct Server {
    pub addr: SocketAddr,
    child: Mutex<Child>,
    log: Arc<Mutex<Vec<String>>>,
    options: Options,
    dirs: tempfile::TempDir,
    _one_at_a_time: MutexGuard<'static, ()>,
}

impl Server {
    /// Copy the example tenants to a temp dir and serve them on a free
    /// loopback port, with a fresh data dir and [`ADMIN_KEY`].
    pub fn start(options: Options) -> Self {
        Self::start_with(options, |_| {})
    }

    /// [`Server::start`], with `prepare` given the tenants' directory before
    /// `serve` starts (to plant a tenant, say).
    pub fn start_with(options: Options, prepare: impl FnOnce(&Path)) -> Self {
        static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
        // A test that failed while holding it poisons nothing we share.
        let one_at_a_time = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
        let dirs = tempfile::tempdir().expect("a temp dir");
        let tenants = dirs.path().join("tenants");
        for tenant in TENANTS {
            copy_dir(&repo_root().join("examples").join(tenant), &tenants.join(tenant));
        }
        prepare(&tenants);
        let (child, log, listening) = spawn(&options, dirs.path());
        let mut server = Self {
            addr: ([127, 0, 0, 1], 0).into(),
            child: Mutex::new(child),
            log,
            options,
            dirs,
            _one_at_a_time: one_at_a_time,
        };
        server.wait_until_ready(listening);
        server
    }

    /// Kill the server with SIGKILL, as a crash would.
    pub fn kill(&self) {
        let mut child = self.child.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Start the killed server again on the same tenants and data (on a new
    /// port), and wait until it is ready.
    pub fn restart(&mut self) {
        self.kill();
        let (child, log, listening) = spawn(&self.options, self.dirs.path());
        (self.child, self.log) = (Mutex::new(child), log);
        self.wait_until_ready(listening);
    }

    /// CPU time the server process has used so far (user and system).
    pub fn cpu_time(&self) -> Duration {
        let pid = self.child.lock().unwrap_or_else(PoisonError::into_inner).id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the server's /proc stat");
        // Fields after the command name, which is in parentheses and may hold spaces.
        let fields: Vec<&str> =
            stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("").split_whitespace().collect();
        let ticks = |index: usize| fields.get(index).and_then(|field| field.parse::<u64>().ok()).unwrap_or(0);
        // utime and stime are fields 14 and 15 of stat(5), 11 and 12 here;
        // Linux counts them in 100 Hz ticks (`getconf CLK_TCK`).
        Duration::from_millis((ticks(11) + ticks(12)) * 10)
    }

    /// Set an environment variable for the next [`Server::restart`].
    pub fn set_env(&mut self, name: &str, value: &str) {
        self.options.env.retain(|(set, _)| set != name);
        self.options.env.push((name.to_owned(), value.to_owned()));
    }

    /// The tenants' directory.
    pub fn tenants_dir(&self) -> PathBuf {
        self.dirs.path().join("tenants")
    }

    fn wait_until_ready(&mut self, listening: mpsc::Receiver<SocketAddr>) {
        let started = Instant::now();
        match listening.recv_timeout(STARTUP_LIMIT) {
            Ok(addr) => self.addr = addr,
            Err(_) => panic!("serve did not start listening; its log:\n{}", self.log().join("\n")),
        }
        // Tenants may still be loading once it listens: wait until it is ready.
        while !http(self.addr, "GET", "/readyz", &[], None).is_ok_and(|response| response.status == 200) {
            if started.elapsed() > STARTUP_LIMIT {
                panic!("serve did not get ready; its log:\n{}", self.log().join("\n"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The operator creates tenant `name` running a small flow, with web
    /// chat on; its key.
    pub fn create_tenant(&self, name: &str) -> String {
        let body = json!({ "name": name, "timezone": "UTC", "flow": SMALL_FLOW, "web_chat": true });
        let response =
            self.send_json("POST", "/v1/admin/tenants", &[("authorization", &bearer(ADMIN_KEY))], &body);
        assert_eq!(response.status, 201, "the operator could not create {name}: {}", response.body);
        response.json()["key"].as_str().expect("a key in the answer").to_owned()
    }

    /// Whether the process is still alive.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.get_mut().unwrap_or_else(PoisonError::into_inner).try_wait(), Ok(None))
    }

    /// What the server wrote to stderr so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        http(self.addr, "GET", path, headers, None).unwrap_or_else(|error| panic!("GET {path}: {error}"))
    }

    pub fn post_json(&self, path: &str, body: &Value) -> Response {
        self.send_json("POST", path, &[], body)
    }

    /// `PUT` a component (`application/wasm`).
    pub fn put_wasm(&self, path: &str, headers: &[(&str, &str)], wasm: &[u8]) -> Response {
        self.send_bytes("PUT", path, headers, "application/wasm", wasm)
    }

    /// A request with a body of any type (a multipart form, say).
    pub fn send_bytes(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        content_type: &str,
        body: &[u8],
    ) -> Response {
        let headers: Vec<_> =
            [("content-type", content_type)].into_iter().chain(headers.iter().copied()).collect();
        let stream = TcpStream::connect_timeout(&self.addr, REQUEST_LIMIT).expect("connects");
        exchange(stream, self.addr, method, path, &headers, Some(body))
            .unwrap_or_else(|error| panic!("{method} {path}: {error}"))
    }

    /// `PUT` a TOML document (a flow, say).
    pub fn put_toml(&self, path: &str, headers: &[(&str, &str)], text: &str) -> Response {
        let headers: Vec<_> =
            [("content-type", "application/toml")].into_iter().chain(headers.iter().copied()).collect();
        http(self.addr, "PUT", path, &headers, Some(text))
            .unwrap_or_else(|error| panic!("PUT {path}: {error}"))
    }

    /// A JSON request with extra headers (`authorization`, say).
    pub fn send_json(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &Value) -> Response {
        let body = body.to_string();
        let headers: Vec<_> =
            [("content-type", "application/json")].into_iter().chain(headers.iter().copied()).collect();
        http(self.addr, method, path, &headers, Some(&body))
            .unwrap_or_else(|error| panic!("{method} {path}: {error}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Start `serve` on the tenants and data under `root`. The child, its log
/// so far (stderr is read to its end, so the server never blocks on a full
/// pipe), and where the address it listens on arrives.
fn spawn(options: &Options, root: &Path) -> (Child, Arc<Mutex<Vec<String>>>, mpsc::Receiver<SocketAddr>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("serve")
        .arg("--tenants")
        .arg(root.join("tenants"))
        .arg("--plugins")
        .arg(plugin_dir())
        .arg("--data")
        .arg(root.join("data"))
        .args(["--listen", "127.0.0.1:0"])
        .args(&options.args)
        .args(suite_defaults(options))
        .env_remove("SWITCHBOARD_METRICS_TOKEN")
        .env("SWITCHBOARD_ADMIN_KEY", ADMIN_KEY)
        .env("RUST_LOG", "warn")
        .env("XDG_CACHE_HOME", target_dir().join("attacks-cache"))
        .envs(options.env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("switchboard serve starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let log = Arc::new(Mutex::new(Vec::new()));
    let (listening_tx, listening) = mpsc::channel();
    let lines = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = listening_address(&line) {
                let _ = listening_tx.send(addr);
            }
            eprintln!("serve: {line}");
            lines.lock().unwrap_or_else(PoisonError::into_inner).push(line);
        }
    });
    (child, log, listening)
}

/// Lift one of the benign yardstick's quotas (`web_chat_per_minute`,
/// `events_per_day`) out of the way in the moving tenant's `tenant.toml`,
/// for a test that sets the host's own quota low: the operator's override
/// for one tenant, as `[quotas]` allows.
pub fn unlimited_yardstick(tenants: &Path, quota: &str) {
    let file = tenants.join("moving").join("tenant.toml");
    let text = std::fs::read_to_string(&file).expect("moving's tenant.toml");
    let quotas = format!("web_chat = true\nquotas = {{ {quota} = 1000000000 }}\n");
    assert!(text.contains("web_chat = true\n"), "moving's tenant.toml changed shape");
    std::fs::write(&file, text.replacen("web_chat = true\n", &quotas, 1)).expect("moving's tenant.toml");
}

/// Web chat rate limits out of the way of the benign yardstick (hundreds of
/// messages a second from 127.0.0.1), unless a test sets its own.
fn suite_defaults(options: &Options) -> Vec<String> {
    let unlimited = "1000000000";
    ["--web-chat-per-ip-per-minute", "--web-chat-per-tenant-per-minute"]
        .into_iter()
        .filter(|flag| !options.args.iter().any(|arg| arg == flag))
        .flat_map(|flag| [flag.to_owned(), unlimited.to_owned()])
        .collect()
}

/// `Bearer {token}`, for an `authorization` header.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The flow of tenants an attack creates: one intent, one field.
pub const SMALL_FLOW: &str = include_str!("../fixtures/hours-flow.toml");

/// `switchboard is listening on http://ADDR/`, as `serve` prints it.
fn listening_address(line: &str) -> Option<SocketAddr> {
    line.strip_prefix("switchboard is listening on http://")?.trim_end_matches('/').parse().ok()
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| repo_root().join("target"))
}

/// The compiled example plugins; the moving tenant needs these two.
pub fn plugin_dir() -> PathBuf {
    let dir = target_dir().join("plugins");
    for plugin in ["pricing_calculator", "lead_scoring"] {
        assert!(
            dir.join(format!("{plugin}.wasm")).exists(),
            "{} has no {plugin}.wasm: run scripts/build-plugins.sh first",
            dir.display()
        );
    }
    dir
}

/// A compiled component of `target/plugins/` (`hostile_fixture`, say).
pub fn component(name: &str) -> Vec<u8> {
    let path = plugin_dir().join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|error| {
        panic!("{}: {error}; run scripts/build-plugins.sh rust first", path.display())
    })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a tenant dir");
    for entry in std::fs::read_dir(from).expect("an example dir") {
        let entry = entry.expect("a dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("a copied file");
        }
    }
}

/// An HTTP response, its body read whole.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// One HTTP/1.1 exchange on a new connection from 127.0.0.1, closed after.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> io::Result<Response> {
    let stream = TcpStream::connect_timeout(&addr, REQUEST_LIMIT)?;
    exchange(stream, addr, method, path, headers, body.map(str::as_bytes))
}

/// [`http`] from another loopback address ([`ATTACKER`], say).
pub fn http_from(
    from: IpAddr,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> io::Result<Response> {
    exchange(connect_from(from, addr)?, addr, method, path, headers, body.map(str::as_bytes))
}

fn exchange(
    mut stream: TcpStream,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> io::Result<Response> {
    stream.set_read_timeout(Some(REQUEST_LIMIT))?;
    stream.set_write_timeout(Some(REQUEST_LIMIT))?;
    let body = body.unwrap_or_default();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    stream.write_all(body)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> io::Result<Response> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let split = raw.windows(4).position(|window| window == b"\r\n\r\n").ok_or_else(|| invalid("no head"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .ok_or_else(|| invalid("no status"))?;
    let mut body = raw[split + 4..].to_vec();
    if head.lines().any(|line| line.starts_with("transfer-encoding:") && line.contains("chunked")) {
        body = unchunk(&body).ok_or_else(|| invalid("bad chunked body"))?;
    }
    Ok(Response { status, body: String::from_utf8_lossy(&body).into_owned() })
}

fn unchunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|window| window == b"\r\n")?;
        let size = std::str::from_utf8(&raw[..line_end]).ok()?.split(';').next()?.trim();
        let size = usize::from_str_radix(size, 16).ok()?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(raw.get(..size)?);
        raw = raw.get(size + 2..)?;
    }
}

/// A TCP connection to `to` from the loopback address `from` (127.0.0.2 and
/// the like: Linux routes all of 127/8 to loopback).
pub fn connect_from(from: IpAddr, to: SocketAddr) -> io::Result<TcpStream> {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime")
    });
    // std cannot bind a socket before connecting it; tokio can.
    let stream = runtime.block_on(async {
        let socket =
            if to.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
        socket.bind(SocketAddr::new(from, 0))?;
        match tokio::time::timeout(REQUEST_LIMIT, socket.connect(to)).await {
            Ok(connected) => connected?.into_std(),
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")),
        }
    })?;
    stream.set_nonblocking(false)?;
    Ok(stream)
}

/// Whether the server still holds `stream` open: reading finds neither the
/// end of the stream nor a reset, only nothing yet. Bytes the server sent
/// (a parting 408, say) are read and dropped.
pub fn is_open(stream: &TcpStream) -> bool {
    let mut stream = stream;
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let mut buffer = [0; 1024];
    let open = loop {
        match stream.read(&mut buffer) {
            Ok(0) => break false,
            Ok(_) => continue,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => break true,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break false,
        }
    };
    let _ = stream.set_nonblocking(false);
    open
}

/// How long until the server closes `stream`, if it does within `limit`.
pub fn closed_within(stream: &TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut stream = stream;
    let mut buffer = [0; 1024];
    loop {
        let left = limit.checked_sub(started.elapsed()).filter(|left| !left.is_zero())?;
        stream.set_read_timeout(Some(left)).ok()?;
        match stream.read(&mut buffer) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => continue,
            Err(error) if matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return None;
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Some(started.elapsed()),
        }
    }
}

/// A sample's value in Prometheus text, by its name and labels as printed
/// (`switchboard_connections_refused_total{reason="ip"}`).
pub fn metric(text: &str, sample: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The moving company's quote, as a new web chat visitor from 127.0.0.1
/// asks for it: every field answered, one turn each, until the pricing
/// plugin quotes. Panics unless every turn answers 200 with replies, the
/// last one sends a quote, and no step failed. Its latency, all turns.
pub fn benign_quote(server: &Server) -> Duration {
    static VISITORS: AtomicU64 = AtomicU64::new(0);
    let visitor = format!("benign-{}-{}", std::process::id(), VISITORS.fetch_add(1, Ordering::Relaxed));
    let answers = ["Сколько стоит переезд?", "Обычно", "Нет", "12", "завтра", "+374 91 123456"];
    let started = Instant::now();
    let mut events = Vec::new();
    for text in answers {
        let body = json!({ "contact": { "id": visitor }, "text": text });
        let response = server.post_json("/v1/tenants/moving/messages", &body);
        assert_eq!(response.status, 200, "a benign turn ({text:?}) failed: {}", response.body);
        let turn = response.json();
        let replies = turn["replies"].as_array().map_or(0, Vec::len);
        assert!(replies > 0, "a benign turn ({text:?}) had no replies: {}", response.body);
        events.extend(
            turn["events"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|event| event["type"].as_str().map(str::to_owned)),
        );
    }
    let took = started.elapsed();
    assert!(!events.iter().any(|event| event == "step.failed"), "a benign step failed: {events:?}");
    assert!(events.iter().any(|event| event == "quote.sent"), "the benign quote was never sent: {events:?}");
    took
}

/// The benign turn's median latency with nothing else going on.
#[derive(Debug, Clone, Copy)]
pub struct Baseline {
    pub median: Duration,
}

impl Baseline {
    pub fn measure(server: &Server) -> Self {
        // The first turns warm the instance pool and the store.
        for _ in 0..3 {
            benign_quote(server);
        }
        Self::sample(server)
    }

    /// The median of `BASELINE_TURNS` benign turns, taken now.
    fn sample(server: &Server) -> Self {
        let samples = (0..BASELINE_TURNS).map(|_| paced(|| benign_quote(server))).collect();
        Self { median: median(samples) }
    }
}

/// [`assert_benign_ok_during`] against a baseline measured first.
pub fn with_benign<T: Send>(server: &Server, attack: impl FnOnce() -> T + Send) -> T {
    let baseline = Baseline::measure(server);
    assert_benign_ok_during(server, baseline, attack)
}

/// Run `attack` on its own thread while benign turns are timed, then
/// assert that every benign turn succeeded and that their median stayed
/// within 2x the baseline. Returns what the attack returned.
///
/// The baseline is `baseline` or, if the benign turns alone are slower once
/// the attack is over, that (up to half again `baseline`): this machine is
/// shared, and its disk syncs (six per benign quote) drift by half or more
/// over a minute whatever the attack does, which a baseline taken only
/// before would count against it.
///
/// Benign turns go on while the attack runs, one per 10 ms at most (at
/// least 10 turns, at most 2000 or 30 seconds), so an attack should hold its
/// load until it has seen what it came for, and must end by itself.
pub fn assert_benign_ok_during<T: Send>(
    server: &Server,
    baseline: Baseline,
    attack: impl FnOnce() -> T + Send,
) -> T {
    std::thread::scope(|scope| {
        let attacking = scope.spawn(attack);
        let started = Instant::now();
        let mut samples = Vec::new();
        while samples.len() < MIN_TURNS_DURING
            || (!attacking.is_finished()
                && samples.len() < MAX_TURNS_DURING
                && started.elapsed() < MAX_TIME_DURING)
        {
            samples.push(paced(|| benign_quote(server)));
        }
        let turns = samples.len();
        let during = median(samples);
        let outcome = attacking.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let before = baseline.median;
        let after = (during > before * SLOWDOWN_ALLOWED).then(|| Baseline::sample(server).median);
        // At most half again the first: an attack whose harm outlasts it
        // must not excuse itself by slowing the turns after it.
        let yardstick = after.map_or(before, |after| after.min(before * 3 / 2).max(before));
        eprintln!(
            "benign quote median: baseline {before:?} (after the attack: {after:?}), during the attack \
             {during:?} ({turns} turns)"
        );
        assert!(
            during <= yardstick * SLOWDOWN_ALLOWED,
            "benign turns slowed from {before:?} (and {after:?} once the attack was over) to {during:?} \
             during the attack"
        );
        outcome
    })
}

/// Run `turn`, then wait out the rest of [`TURN_PACE`]: a baseline and the
/// turns during an attack are taken at the same rhythm, since a server that
/// idles between requests answers a little slower than a busy one.
fn paced<T>(turn: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let outcome = turn();
    std::thread::sleep(TURN_PACE.saturating_sub(started.elapsed()));
    outcome
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}
