//! Three `switchboard serve` processes on one PostgreSQL database, the
//! tenant imported into its catalog, and Telegram webhooks sent round robin
//! to the nodes by several senders at once, while one node and then another
//! is killed with -9. A sender whose node does not answer sends the same
//! update to the next node, as Telegram retries. Then, on what the last node
//! and the fake provider saw:
//! - every acknowledged message is in the log exactly once, and each
//!   conversation's messages in the order they were sent;
//! - every timer fired exactly once;
//! - every reply reached the provider, each under its own idempotency key
//!   and in its conversation's order, and none was delivered twice: a node
//!   killed after the provider took a reply but before it settled it leaves
//!   the reply to be sent again, under the same key, which the provider
//!   (as one honouring `Idempotency-Key` does) takes once.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard::sealing::SecretsKey;

use crate::crash::serve_in_env;
use crate::delivery::{idempotency_key, read_request};
use crate::scheduler::write_telegram_tenant;
use crate::support::{plugin_dir, postgres_database};

use crate::scheduler::{SECRET, TOKEN};
const CONVERSATIONS: i64 = 12;
const MESSAGES: i64 = 8;
const SENDERS: i64 = 3;

/// What the fake Telegram took: per idempotency key, every attempt's
/// `(chat, text)`, and the keys in the order they first came.
#[derive(Default)]
pub(crate) struct Provider {
    attempts: HashMap<String, Vec<(String, String)>>,
    first_seen: Vec<String>,
}

/// A fake Telegram bot API that answers each request on its own thread
/// after `latency`, as a provider across the internet would.
pub(crate) fn fake_telegram(latency: Duration) -> (String, Arc<Mutex<Provider>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let provider = Arc::new(Mutex::new(Provider::default()));
    let log = provider.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                let (_, headers, body) = read_request(&mut reader);
                let key = idempotency_key(&headers).unwrap_or_default().to_owned();
                let chat =
                    body["chat_id"].as_str().map_or_else(|| body["chat_id"].to_string(), str::to_owned);
                let text = body["text"].as_str().unwrap_or_default().to_owned();
                std::thread::sleep(latency);
                {
                    let mut log = log.lock().expect("log");
                    if !log.attempts.contains_key(&key) {
                        log.first_seen.push(key.clone());
                    }
                    log.attempts.entry(key).or_default().push((chat, text));
                }
                let reply = r#"{"ok":true,"result":{"message_id":1}}"#;
                let _ = write!(
                    reader.into_inner(),
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                    reply.len()
                );
            });
        }
    });
    (format!("http://{addr}"), provider)
}

/// A request, or `None` if the node did not answer (it is dead).
pub(crate) fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> Option<(u16, Value)> {
    let body = body.to_string();
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let extra: String = headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1).and_then(|code| code.parse().ok())?;
    Some((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

/// The nodes, and which of them were killed.
struct Cluster {
    addrs: Vec<String>,
    next: AtomicUsize,
    children: Mutex<Vec<std::process::Child>>,
}

impl Cluster {
    /// Send until some node acknowledges with 200, round robin from the
    /// next node; a node that does not answer, or answers 5xx, is passed
    /// over for the next, as a provider's retry would be (so is a 429).
    fn until_acknowledged(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &Value) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let node = self.next.fetch_add(1, Ordering::Relaxed) % self.addrs.len();
            match request(&self.addrs[node], method, path, headers, body) {
                Some((200, answer)) => return answer,
                Some((status, answer)) if status < 500 && status != 429 => {
                    panic!("{method} {path}: {status} {answer}")
                }
                _ => {}
            }
            assert!(Instant::now() < deadline, "no node acknowledged {method} {path}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&self, node: usize) {
        let mut children = self.children.lock().expect("children");
        children[node].kill().expect("SIGKILL");
        children[node].wait().expect("reaped");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.children.lock().expect("children").iter_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Every event of the tenant's log, in order, as the API gives it.
pub(crate) fn events(addr: &str) -> Vec<Value> {
    let auth = format!("Bearer {TOKEN}");
    let mut events = Vec::new();
    let mut after = None::<u64>;
    loop {
        let path = match after {
            Some(after) => format!("/v1/tenants/alpha/events?limit=1000&after={after}"),
            None => "/v1/tenants/alpha/events?limit=1000".to_owned(),
        };
        let (status, page) =
            request(addr, "GET", &path, &[("authorization", &auth)], &Value::Null).expect("answers");
        assert_eq!(status, 200, "{page}");
        let batch = page["events"].as_array().cloned().unwrap_or_default();
        if batch.is_empty() {
            return events;
        }
        after = page["next_after"].as_u64();
        events.extend(batch.into_iter().map(|logged| logged["event"].clone()));
    }
}

/// Per conversation, the texts of its events of `kind`, in log order.
fn texts_of(events: &[Value], kind: &str) -> BTreeMap<String, Vec<String>> {
    let mut texts: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for event in events.iter().filter(|event| event["type"] == kind) {
        let conversation = event["conversation"].as_str().unwrap_or_default().to_owned();
        let text = event["data"]["text"].as_str().or(event["data"]["kind"].as_str()).unwrap_or_default();
        texts.entry(conversation).or_default().push(text.to_owned());
    }
    texts
}

#[test]
fn three_nodes_lose_two_to_kill_9_and_nothing_is_lost_or_doubled() {
    let url = postgres_database();
    let key = SecretsKey::generate().expect("a key").to_hex();
    let env = [("SWITCHBOARD_SECRETS_KEY", key.as_str())];
    let (api, provider) = fake_telegram(Duration::from_millis(30));
    let dir = tempfile::tempdir().expect("temp dir");
    // The ping is set mid-conversation, so it fires while the customer writes on.
    write_telegram_tenant(&dir.path().join("import"), &api, "cancel_on_reply = false\n");
    let imported = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["tenants", "import"])
        .arg(dir.path().join("import"))
        .arg("--plugins")
        .arg(plugin_dir())
        .args(["--store", &url])
        .envs(env)
        .output()
        .expect("runs");
    assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));

    let mut children = Vec::new();
    let mut addrs = Vec::new();
    for node in 0..3 {
        let (tenants, data) =
            (dir.path().join(format!("node{node}/tenants")), dir.path().join(format!("node{node}/data")));
        std::fs::create_dir_all(&tenants).expect("mkdir");
        let extra = ["--store", &url, "--lease-ms", "1500", "--catalog-follow-ms", "200"];
        let (child, addr) = serve_in_env(&tenants, &data, &extra, &env);
        children.push(child);
        addrs.push(addr);
    }
    let cluster = Arc::new(Cluster { addrs, next: AtomicUsize::new(0), children: Mutex::new(children) });

    let acknowledged = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let (cluster, acknowledged) = (cluster.clone(), acknowledged.clone());
            std::thread::spawn(move || {
                for message in 0..MESSAGES {
                    for user in (1..=CONVERSATIONS).filter(|user| user % SENDERS == sender) {
                        let update_id = user * 1000 + message;
                        let update = json!({
                            "update_id": update_id,
                            "message": { "message_id": update_id, "date": 1_767_600_000,
                                         "from": { "id": user, "is_bot": false, "first_name": "A" },
                                         "chat": { "id": user, "type": "private" }, "text": format!("u{user} #{message}") }
                        });
                        let headers = [("x-telegram-bot-api-secret-token", SECRET)];
                        cluster.until_acknowledged("POST", "/webhooks/alpha/telegram", &headers, &update);
                        acknowledged.fetch_add(1, Ordering::SeqCst);
                        if message == 1 {
                            let due = jiff::Timestamp::now().as_millisecond() + 1_000;
                            let auth = format!("Bearer {TOKEN}");
                            let path = format!("/v1/tenants/alpha/conversations/telegram:{user}/timers");
                            let timer = json!({ "kind": "ping", "due": due });
                            cluster.until_acknowledged("POST", &path, &[("authorization", &auth)], &timer);
                        }
                    }
                }
            })
        })
        .collect();
    let killer = {
        let (cluster, acknowledged, done) = (cluster.clone(), acknowledged.clone(), done.clone());
        std::thread::spawn(move || {
            let total = (CONVERSATIONS * MESSAGES) as usize;
            for (node, at) in [(0, total / 3), (1, 2 * total / 3)] {
                while acknowledged.load(Ordering::SeqCst) < at && !done.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(5));
                }
                cluster.kill(node);
            }
        })
    };
    for sender in senders {
        sender.join().expect("a sender");
    }
    done.store(true, Ordering::SeqCst);
    killer.join().expect("the killer");
    let survivor = cluster.addrs[2].clone();

    // Every reply and ping out, the dead nodes' claims taken over.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (log, sent) = loop {
        let log = events(&survivor);
        let sent: usize = texts_of(&log, "message.sent").values().map(Vec::len).sum();
        let fired: usize = texts_of(&log, "timer.fired").values().map(Vec::len).sum();
        let delivered = provider.lock().expect("provider").first_seen.len();
        // Equal, not at least: a node sends before it records `message.sent`,
        // so the provider may be one ahead for a moment.
        if (fired as i64 >= CONVERSATIONS && delivered == sent) || Instant::now() > deadline {
            break (log, sent);
        }
        std::thread::sleep(Duration::from_millis(200));
    };

    let received = texts_of(&log, "message.received");
    assert_eq!(received.len() as i64, CONVERSATIONS, "{received:?}");
    for user in 1..=CONVERSATIONS {
        let expected: Vec<String> = (0..MESSAGES).map(|message| format!("u{user} #{message}")).collect();
        assert_eq!(received[&format!("telegram:{user}")], expected, "once each, in the order sent");
    }
    let fired = texts_of(&log, "timer.fired");
    for user in 1..=CONVERSATIONS {
        assert_eq!(
            fired.get(&format!("telegram:{user}")).map(Vec::len),
            Some(1),
            "user {user}'s ping fired once: {fired:?}"
        );
    }

    let provider = provider.lock().expect("provider");
    let sent_texts = texts_of(&log, "message.sent");
    assert_eq!(provider.first_seen.len(), sent, "every reply reached the provider, under a key of its own");
    let mut delivered: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut again = 0;
    for key in &provider.first_seen {
        let attempts = &provider.attempts[key];
        assert!(
            attempts.iter().all(|attempt| attempt == &attempts[0]),
            "key {key} carried two replies: {attempts:?}"
        );
        again += attempts.len() - 1;
        let (chat, text) = attempts[0].clone();
        delivered.entry(format!("telegram:{chat}")).or_default().push(text);
    }
    assert_eq!(delivered, sent_texts, "each conversation's replies, once each, in order");
    eprintln!(
        "{} messages, {sent} replies, {again} sent again after a kill and taken once by their idempotency key",
        CONVERSATIONS * MESSAGES
    );
}
