//! Outbound requests a tenant can aim: at the server's own machine, its
//! network, and the cloud metadata address.
//!
//! - **M4**: a tenant's `api_base` (and the handoff webhook) was POSTed to
//!   wherever it pointed, and the `message.failed` reason told a closed port
//!   (`connection refused`) from an open one (delivered) from a filtered one
//!   (a timeout): a port scanner with the server's address. Every outbound
//!   connection now goes through one policy that refuses addresses that are
//!   not public before connecting, and the tenant reads the same
//!   `destination not allowed`, as soon, whatever the port or its state.
//! - **M6**: a plugin's HTTP grant matched the host by name only, so a name
//!   the tenant controls could resolve to 127.0.0.1 at connect time, and a
//!   bare host allowed every port. The resolved address is now checked
//!   against the same policy, and a bare host means its scheme's default
//!   port only.
//!
//! The operator's opt-in (`--allow-outbound`, `SWITCHBOARD_ALLOW_OUTBOUND`)
//! is what makes loopback reachable again; M6 checks that it does.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Options, Server, bearer, with_benign};

/// A delivery that was refused before connecting is settled by the next
/// round of the delivery worker: well within this, where a filtered port's
/// timeout took 15 s.
const SETTLED_WITHIN: Duration = Duration::from_secs(3);

const TELEGRAM_SECRET: &str = "attack-telegram-secret";

#[test]
fn m4_a_tenant_cannot_scan_the_servers_network_through_its_api_base() {
    let server = Server::start(Options::new());
    with_benign(&server, || scan_through_api_base(&server));
}

fn scan_through_api_base(server: &Server) {
    let key = server.create_tenant("scanner");
    let auth = bearer(&key);
    let headers = [("authorization", auth.as_str())];
    let provider = FakeServer::start(r#"{"ok": true, "result": {"message_id": 7}}"#);
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.local_addr().expect("an address").port()
    };
    let open = provider.addr.port();
    let destinations = [
        format!("http://127.0.0.1:{open}"),
        format!("http://127.0.0.1:{closed}"),
        format!("http://localhost:{open}"),
        format!("http://[::ffff:127.0.0.1]:{open}"),
        format!("http://2130706433:{open}"),
        "http://169.254.169.254".to_owned(),
        "http://10.255.255.1:81".to_owned(),
    ];
    let mut reasons = Vec::new();
    for (user, api_base) in (1..).zip(&destinations) {
        let secrets =
            json!({ "secret_token": TELEGRAM_SECRET, "bot_token": "123:abc", "api_base": api_base });
        let response = server.send_json("PUT", "/v1/tenants/scanner/channels/telegram", &headers, &secrets);
        assert_eq!(response.status, 200, "PUT api_base {api_base}: {}", response.body);
        let started = Instant::now();
        telegram_message(server, "scanner", user, "hours");
        let failed = wait_for_failure(server, &headers, &format!("telegram:{user}"));
        let took = started.elapsed();
        let reason = failed["reason"].as_str().unwrap_or_default().to_owned();
        eprintln!("{api_base}: {reason:?} after {took:?}");
        assert!(took < SETTLED_WITHIN, "{api_base}: settled after {took:?}, as if a connection was tried");
        assert_eq!(failed["gave_up"], json!(true), "{api_base}: {failed}");
        for leak in [open.to_string(), closed.to_string(), "refused".to_owned(), "os error".to_owned()] {
            assert!(!reason.contains(&leak), "{api_base}: the reason {reason:?} tells {leak:?}");
        }
        reasons.push(reason);
    }
    assert!(reasons.iter().all(|reason| reason == "destination not allowed"), "{reasons:?}");
    assert_eq!(provider.connections(), 0, "a refused destination was connected to");
}

#[test]
fn m6_an_allowlisted_name_that_resolves_to_loopback_is_refused_at_connect_time() {
    // The operator granted the web shop's plugin `localhost:PORT`, a name
    // that (like a tenant's own domain could) resolves to 127.0.0.1.
    let orders = FakeServer::start(ORDER);
    let port = orders.addr.port();
    let mut server = Server::start(
        Options::new()
            .env("SHOP_API", &format!("http://localhost:{port}"))
            .env("SHOP_HOST", &format!("localhost:{port}")),
    );
    let outcome = with_benign(&server, || order_status(&server, "m6-name"));
    assert!(outcome.contains("step.failed"), "the lookup was not refused: {outcome}");
    assert_eq!(orders.connections(), 0, "the plugin connected to loopback by name");

    // Loopback allowed by the operator, but the grant is the bare host: its
    // default port (80) only, not the order API's.
    server.set_env("SWITCHBOARD_ALLOW_OUTBOUND", "127.0.0.1");
    server.set_env("SHOP_HOST", "localhost");
    server.restart();
    let outcome = order_status(&server, "m6-bare-host");
    assert!(outcome.contains("step.failed"), "a bare host reached another port: {outcome}");
    assert_eq!(orders.connections(), 0, "a bare host reached another port");

    // Both opt-ins, the operator's and the grant's port: the lookup works,
    // so the refusals above were the policy's and the grant's.
    server.set_env("SHOP_HOST", &format!("localhost:{port}"));
    server.restart();
    let outcome = order_status(&server, "m6-allowed");
    assert!(outcome.contains("Order A-1001: on its way"), "the allowed lookup failed: {outcome}");
    assert_eq!(orders.connections(), 1);
}

/// The order the fake order API answers with, whatever is asked.
const ORDER: &str = r#"{"id": "A-1001", "status": "in_transit", "expected_date": "2026-01-07",
    "last_scan": {"place": "Yerevan sorting hub"}, "phone": "+37491000001"}"#;

/// A web chat visitor asks the web shop for order A-1001; the event types
/// of the turn that ran the order-status step, and its replies.
fn order_status(server: &Server, visitor: &str) -> String {
    let mut last = Value::Null;
    for text in ["where is my order", "A-1001", "+374 91 000001"] {
        let body = json!({ "contact": { "id": visitor }, "text": text });
        let response = server.post_json("/v1/tenants/webshop/messages", &body);
        assert_eq!(response.status, 200, "{text:?}: {}", response.body);
        last = response.json();
    }
    let types: Vec<&str> =
        last["events"].as_array().into_iter().flatten().filter_map(|event| event["type"].as_str()).collect();
    format!("{types:?} {}", last["replies"])
}

/// An update from Telegram user `user`, as the tenant can send itself: it
/// set the secret token.
fn telegram_message(server: &Server, tenant: &str, user: i64, text: &str) {
    let update = json!({
        "update_id": user,
        "message": { "message_id": user, "date": 1_767_600_000, "from": { "id": user, "is_bot": false, "first_name": "A" },
                     "chat": { "id": user, "type": "private" }, "text": text }
    });
    let headers = [("x-telegram-bot-api-secret-token", TELEGRAM_SECRET)];
    let response = server.send_json("POST", &format!("/webhooks/{tenant}/telegram"), &headers, &update);
    assert_eq!(response.status, 200, "the Telegram update: {}", response.body);
}

/// The data of the first `message.failed` event of `conversation`, once
/// there is one. Panics after 20 s, or if the reply was delivered.
fn wait_for_failure(server: &Server, headers: &[(&str, &str)], conversation: &str) -> Value {
    let started = Instant::now();
    loop {
        let response = server.get("/v1/tenants/scanner/events?limit=1000", headers);
        assert_eq!(response.status, 200, "{}", response.body);
        let events = response.json()["events"].as_array().cloned().unwrap_or_default();
        let ours =
            events.iter().map(|entry| &entry["event"]).filter(|event| event["conversation"] == conversation);
        for event in ours {
            match event["type"].as_str() {
                Some("message.failed") => return event["data"].clone(),
                Some("message.delivered") => panic!("{conversation}: the reply was delivered: {event}"),
                _ => {}
            }
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{conversation}: no message.failed in 20 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An HTTP server on 127.0.0.1 that answers every request `200` with one
/// JSON body, and counts the connections it got.
struct FakeServer {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
}

impl FakeServer {
    fn start(body: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("an address");
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&connections);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                counted.fetch_add(1, Ordering::SeqCst);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut reader = BufReader::new(stream);
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) <= 2 {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(value) = lower.strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let _ = reader.read_exact(&mut vec![0; length]);
                let _ = write!(
                    reader.into_inner(),
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Self { addr, connections }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}
