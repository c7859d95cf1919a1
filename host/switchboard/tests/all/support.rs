//! Shared pieces: one runtime per test binary, paths, a fake order API and a
//! fake language-model API.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use switchboard_runtime::{AllowedDestination, OutboundPolicy, Runtime, RuntimeConfig};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| repo_root().join("target"))
}

pub fn plugin_dir() -> PathBuf {
    let dir = target_dir().join("plugins");
    assert!(
        dir.join("pricing_calculator.wasm").exists(),
        "{} is empty: run scripts/build-plugins.sh first",
        dir.display()
    );
    dir
}

pub fn runtime() -> Arc<Runtime> {
    static RUNTIME: OnceLock<Arc<Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let cache_dir = Some(target_dir().join("compile-cache"));
            Arc::new(
                Runtime::new(RuntimeConfig { cache_dir, ..RuntimeConfig::default() })
                    .expect("the runtime starts"),
            )
        })
        .clone()
}

/// A shop order API and an OpenAI-style chat-completions API on loopback,
/// for the web-shop tenant's order-status plugin and the LLM classifier.
/// Started once; each connection is answered on its own thread. Loopback is
/// not public, so it is allowed in this process's outbound policy, as an
/// operator would (`serve --allow-outbound 127.0.0.1:PORT`).
pub fn fake_shop() -> SocketAddr {
    static SHOP: OnceLock<SocketAddr> = OnceLock::new();
    *SHOP.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        OutboundPolicy::allowing([AllowedDestination::address(addr)]).install().expect("the only policy");
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || answer(stream));
            }
        });
        addr
    })
}

fn answer(stream: std::net::TcpStream) {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    let _ = reader.read_line(&mut request_line);
    let (mut length, mut authorization) = (0, String::new());
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|read| read > 2) {
        if let Some((name, value)) = line.split_once(':') {
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "authorization" => authorization = value.trim().to_owned(),
                _ => {}
            }
        }
        line.clear();
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_owned();
    let (status, body) = match path.as_str() {
        "/v1/chat/completions" => chat_completion(&authorization, &body),
        _ => {
            let (status, body) = order(&path);
            (status, body.to_owned())
        }
    };
    let mut stream = reader.into_inner();
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// The model behind `tests/cases/llm-understanding-ru`: canned answers keyed
/// on the customer's message, which the classifier sends as the `message` of
/// the JSON in the user turn. One message makes the model fail, one makes it
/// too slow; anything else it does not understand.
fn chat_completion(authorization: &str, body: &[u8]) -> (u16, String) {
    if authorization != "Bearer test-key" {
        return (401, r#"{"error": {"message": "Incorrect API key provided"}}"#.to_owned());
    }
    let request: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let user = request["messages"][1]["content"].as_str().unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(user).unwrap_or_default()["message"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    let answer = if message.contains("освежить образ") {
        serde_json::json!({"intent": "booking", "confidence": 0.92, "locale": "ru", "entities": [
            {"field": "service", "value": "haircut", "confidence": 0.85},
            {"field": "preferred_date", "value": "2026-01-09", "confidence": 0.9},
            {"field": "time_of_day", "value": "evening", "confidence": 0.8},
            {"field": "nonexistent", "value": "made up", "confidence": 1.0},
        ]})
    } else if message.contains("стрижку") {
        return (500, r#"{"error": {"message": "The server had an error"}}"#.to_owned());
    } else if message.contains("маникюр") {
        std::thread::sleep(std::time::Duration::from_secs(2));
        serde_json::json!({"intent": "booking", "confidence": 1.0, "entities": []})
    } else {
        serde_json::json!({"intent": null, "entities": []})
    };
    let completion = serde_json::json!({
        "id": "chatcmpl-test", "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.to_string()}, "finish_reason": "stop"}],
    });
    (200, completion.to_string())
}

fn order(path: &str) -> (u16, &'static str) {
    match path {
        "/api/orders/A-1001" => (
            200,
            r#"{"id": "A-1001", "status": "in_transit", "expected_date": "2026-01-07",
               "last_scan": {"place": "Yerevan sorting hub", "at": "2026-01-05"},
               "tracking_url": "https://track.example/A-1001", "phone": "+37491000001", "email": "ani@example.com"}"#,
        ),
        "/api/orders/A-1002" => (
            200,
            r#"{"id": "A-1002", "status": "in_transit", "expected_date": "2025-12-28",
               "last_scan": {"place": "Gyumri depot"}, "phone": "+37491000002", "email": "aram@example.com"}"#,
        ),
        "/api/orders/A-1004" => (
            200,
            r#"{"id": "A-1004", "status": "in_transit", "expected_date": "2026-01-07",
               "last_scan": {"place": "Yerevan sorting hub", "at": "2026-01-05"},
               "phone": "+37491000004", "email": "narek@example.com", "sensitive": true}"#,
        ),
        _ => (404, r#"{"error": "no such order"}"#),
    }
}

/// The variables tenant files are loaded with in tests.
pub fn vars(name: &str) -> Option<String> {
    match name {
        "SHOP_API" => Some(format!("http://{}", fake_shop())),
        "SHOP_HOST" => Some(fake_shop().to_string()),
        "LLM_API" => Some(format!("http://{}", fake_shop())),
        _ => None,
    }
}

/// A flow that needs no plugins: the opening hours, sent to an email.
pub const HOURS_FLOW: &str = include_str!("../../../../tests/fixtures/hours-flow.toml");

/// Write a tenant directory `dir/name` running [`HOURS_FLOW`]; `extra` is
/// appended to its tenant.toml (an API token, channel secrets).
pub fn write_tenant(dir: &std::path::Path, name: &str, extra: &str) -> PathBuf {
    let tenant = dir.join(name);
    std::fs::create_dir_all(&tenant).expect("mkdir");
    std::fs::write(tenant.join("flow.toml"), HOURS_FLOW).expect("write flow");
    let toml = format!(
        "name = \"{name}\"\nflow = \"flow.toml\"\nweb_chat = true\n{extra}\n[calendar]\ntimezone = \"UTC\"\n"
    );
    std::fs::write(tenant.join("tenant.toml"), toml).expect("write tenant");
    tenant
}

/// A Telegram message with a provider id, handled at `at` (Unix ms).
pub fn telegram(contact: &str, text: &str, id: &str, at: i64) -> switchboard::engine::InboundMessage {
    switchboard::engine::InboundMessage {
        channel: switchboard_core::contract::Channel::Telegram,
        contact: switchboard_core::contract::Contact {
            id: contact.to_owned(),
            display_name: None,
            locale: "en".to_owned(),
        },
        text: text.to_owned(),
        payload: None,
        message_id: Some(id.to_owned()),
        at,
    }
}

/// A new, empty database on the test PostgreSQL server that
/// `SWITCHBOARD_TEST_POSTGRES` names (`scripts/postgres.sh start` starts
/// one; scripts/test.sh does), as a URL.
pub fn postgres_database() -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let server = std::env::var("SWITCHBOARD_TEST_POSTGRES").unwrap_or_else(|_| {
        panic!(
            "SWITCHBOARD_TEST_POSTGRES is not set: start a throwaway server with \
             `eval \"$(scripts/postgres.sh start)\"` (scripts/test.sh does), then run the tests again"
        )
    });
    let name =
        format!("nodes_{}_{}", std::process::id(), NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
            .await
            .expect("connects to the test server");
        tokio::spawn(connection);
        // The name is ours, a prefix and numbers: safe to splice.
        client.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("creates a database");
    });
    let base = server.rsplit_once('/').map_or(server.as_str(), |(base, _)| base);
    format!("{base}/{name}")
}
