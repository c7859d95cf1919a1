//! The scheduler in real time, end to end: `switchboard serve`, a Telegram
//! webhook in, a timer set through the API, and the fake provider receiving
//! what it sends; then the same with the server killed while timers are due.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::crash::serve;
use crate::delivery::{Received, fake_whatsapp};
use crate::support::HOURS_FLOW;

pub const TOKEN: &str = "token-alpha";
pub const SECRET: &str = "tg-secret";

/// A tenant on Telegram whose bot API is the fake provider at `api`.
fn write_tenant(dir: &Path, api: &str) {
    write_telegram_tenant(dir, api, "");
}

/// [`write_tenant`], with `ping` (TOML lines) added to its ping timer.
pub fn write_telegram_tenant(dir: &Path, api: &str, ping: &str) {
    let tenant = dir.join("alpha");
    std::fs::create_dir_all(&tenant).expect("mkdir");
    let flow =
        format!("{HOURS_FLOW}\n[[timers]]\nkind = \"ping\"\nminutes_after = 0\n{ping}say.en = \"Ping!\"\n");
    std::fs::write(tenant.join("flow.toml"), flow).expect("write flow");
    let toml = format!(
        "name = \"alpha\"\nflow = \"flow.toml\"\napi_token = \"{TOKEN}\"\n\
         [channels.telegram]\nsecret_token = \"{SECRET}\"\nbot_token = \"123:abc\"\napi_base = \"{api}\"\n\
         [calendar]\ntimezone = \"UTC\"\n"
    );
    std::fs::write(tenant.join("tenant.toml"), toml).expect("write tenant");
}

fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &Value) -> (u16, Value) {
    let body = body.to_string();
    let mut stream = TcpStream::connect(addr).expect("connect");
    let extra: String = headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("a response");
    let status = head.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// A Telegram user writes; their conversation is `telegram:{user}`.
fn telegram_message(addr: &str, user: i64, update_id: i64) {
    let update = json!({
        "update_id": update_id,
        "message": { "message_id": update_id, "date": 1_767_600_000, "from": { "id": user, "is_bot": false, "first_name": "A" },
                     "chat": { "id": user, "type": "private" }, "text": "opening hours?" }
    });
    let (status, body) = request(
        addr,
        "POST",
        "/webhooks/alpha/telegram",
        &[("x-telegram-bot-api-secret-token", SECRET)],
        &update,
    );
    assert_eq!(status, 200, "{body}");
}

fn schedule_ping(addr: &str, user: i64, due_ms: i64) {
    let path = format!("/v1/tenants/alpha/conversations/telegram:{user}/timers");
    let auth = format!("Bearer {TOKEN}");
    let (status, body) =
        request(addr, "POST", &path, &[("authorization", &auth)], &json!({ "kind": "ping", "due": due_ms }));
    assert_eq!(status, 200, "{body}");
}

fn pings(received: &Received) -> Vec<String> {
    let received = received.lock().expect("log");
    received
        .iter()
        .filter(|(path, _, body)| path.ends_with("/sendMessage") && body["text"] == "Ping!")
        .map(|(_, _, body)| {
            body["chat_id"].as_str().map_or_else(|| body["chat_id"].to_string(), str::to_owned)
        })
        .collect()
}

/// Wait until `count` pings arrived (or ten seconds passed), then a little
/// longer, so a duplicate would have time to show.
fn wait_for_pings(received: &Received, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while pings(received).len() < count && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(700));
    let mut pings = pings(received);
    pings.sort();
    pings
}

/// Kills the server when the test ends, passing or not.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(tenants: &Path, data: &Path) -> (Server, String) {
    let (child, addr) = serve(tenants, data);
    (Server(child), addr)
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

#[test]
fn a_timer_set_through_the_api_reaches_the_provider_once() {
    let (api, received) = fake_whatsapp(Vec::new());
    let dir = tempfile::tempdir().expect("temp dir");
    write_tenant(&dir.path().join("tenants"), &api);
    let (_server, addr) = start(&dir.path().join("tenants"), &dir.path().join("data"));
    telegram_message(&addr, 42, 1);
    schedule_ping(&addr, 42, now_ms() + 300);
    assert_eq!(wait_for_pings(&received, 1), ["42"]);
}

#[test]
fn timers_due_while_the_server_was_killed_fire_exactly_once_after_restart() {
    let (api, received) = fake_whatsapp(Vec::new());
    let dir = tempfile::tempdir().expect("temp dir");
    let (tenants, data) = (dir.path().join("tenants"), dir.path().join("data"));
    write_tenant(&tenants, &api);

    let (first, addr) = start(&tenants, &data);
    for user in [1, 2, 3] {
        telegram_message(&addr, user, 100 + user);
    }
    // Due while the server is down.
    let due = now_ms() + 1_000;
    for user in [1, 2, 3] {
        schedule_ping(&addr, user, due);
    }
    drop(first); // SIGKILL
    std::thread::sleep(Duration::from_millis(1_200));
    assert!(pings(&received).is_empty(), "nothing fired while the server was down");

    let (second, _) = start(&tenants, &data);
    assert_eq!(wait_for_pings(&received, 3), ["1", "2", "3"]);
    drop(second);

    // A third start finds nothing left to fire.
    let (_third, _) = start(&tenants, &data);
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!(pings(&received).len(), 3);
}
