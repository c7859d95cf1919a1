//! Replies on provider channels go out through the durable outbox to the
//! provider's send API, here a fake WhatsApp on loopback that records what it
//! gets and fails on demand. Loopback is not public, so the client these
//! tests use allows `127.0.0.1` as an operator would
//! (`serve --allow-outbound 127.0.0.1`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use switchboard::delivery::{Client, NOT_ALLOWED, deliver_due};
use switchboard::engine::{Engine, InboundMessage};
use switchboard::tenant::Tenant;
use switchboard_core::contract::{Channel, Contact};
use switchboard_core::event::EventBody;
use switchboard_runtime::OutboundPolicy;
use switchboard_store::Store;

use crate::support::{plugin_dir, runtime, write_tenant};

/// What the fake provider received: path, headers (lowercased) and JSON body.
pub type Received = Arc<Mutex<Vec<(String, String, Value)>>>;

/// Answers each request with the next status in `statuses` (then 200).
pub fn fake_whatsapp(statuses: Vec<u16>) -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let received: Received = Arc::default();
    let log = received.clone();
    std::thread::spawn(move || {
        let mut statuses = statuses.into_iter();
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            log.lock().expect("log").push(read_request(&mut reader));
            let status = statuses.next().unwrap_or(200);
            let reply = r#"{"messages":[{"id":"wamid.OUT"}]}"#;
            let _ = write!(
                reader.into_inner(),
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    (format!("http://{addr}"), received)
}

/// One HTTP/1.1 request with a content-length body: its path, its headers
/// (lowercased, one per line) and its body as JSON (`null` if it is not).
pub fn read_request(reader: &mut BufReader<std::net::TcpStream>) -> (String, String, Value) {
    let mut request_line = String::new();
    let _ = reader.read_line(&mut request_line);
    let (mut headers, mut length) = (String::new(), 0);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) <= 2 {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
        headers.push_str(&lower);
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_owned();
    (path, headers, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// The `Idempotency-Key` among headers as [`read_request`] gives them.
pub fn idempotency_key(headers: &str) -> Option<&str> {
    headers.lines().find_map(|line| line.strip_prefix("idempotency-key:")).map(str::trim)
}

/// A delivery client that may reach `127.0.0.1`, where the fake providers are.
pub fn loopback_client() -> Client {
    Client::new(OutboundPolicy::allowing(["127.0.0.1".parse().expect("an address")])).expect("a client")
}

pub fn engine_with_whatsapp(api_base: &str) -> (Arc<Engine>, tempfile::TempDir) {
    engine_with(&format!(
        "[channels.whatsapp]\napp_secret = \"s\"\nverify_token = \"v\"\naccess_token = \"EAAG-token\"\n\
         phone_number_id = \"1065\"\napi_base = \"{api_base}\""
    ))
}

/// An engine serving tenant `alpha`, `extra` appended to its tenant.toml.
pub fn engine_with(extra: &str) -> (Arc<Engine>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let tenant_dir = write_tenant(dir.path(), "alpha", extra);
    let runtime = runtime();
    let engine = Engine::new(Store::temporary().expect("store"), Arc::clone(&runtime));
    engine
        .add_tenant(Tenant::load(&tenant_dir, &plugin_dir(), &runtime, &|_| None).expect("loads"))
        .expect("added");
    (Arc::new(engine), dir)
}

pub fn whatsapp_message(engine: &Engine, id: &str, text: &str) {
    let message = InboundMessage {
        channel: Channel::Whatsapp,
        contact: Contact { id: "whatsapp:37491000001".to_owned(), display_name: None, locale: String::new() },
        text: text.to_owned(),
        payload: None,
        message_id: Some(id.to_owned()),
        at: 1_767_600_000_000,
    };
    engine.handle("alpha", message).expect("handled");
}

pub fn delivery_events(engine: &Engine) -> Vec<String> {
    let events = engine.conversation_events("alpha", "whatsapp:37491000001").expect("events");
    events
        .into_iter()
        .filter_map(|event| match event.body {
            EventBody::MessageDelivered { attempts, provider_id, .. } => {
                Some(format!("delivered after {attempts} as {}", provider_id.unwrap_or_default()))
            }
            EventBody::MessageFailed { attempts, gave_up, .. } => {
                Some(format!("failed {attempts} gave_up={gave_up}"))
            }
            EventBody::MessageParked { attempts, reason, .. } => {
                Some(format!("parked after {attempts}: {reason}"))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_reaches_the_whatsapp_send_api_and_a_failure_is_retried() {
    let (api, received) = fake_whatsapp(vec![503]);
    let (engine, _dir) = engine_with_whatsapp(&api);
    let handle = engine.clone();
    tokio::task::spawn_blocking(move || whatsapp_message(&handle, "wamid.1", "what are your hours?"))
        .await
        .expect("turn");
    let client = loopback_client();
    let now = 1_767_600_000_000;

    assert_eq!(deliver_due(&engine, &client, "alpha", now).await.expect("runs"), 1);
    assert_eq!(delivery_events(&engine), ["failed 1 gave_up=false"]);
    assert_eq!(deliver_due(&engine, &client, "alpha", now).await.expect("runs"), 0, "not before its backoff");
    assert_eq!(deliver_due(&engine, &client, "alpha", now + 120_000).await.expect("runs"), 1);
    assert_eq!(delivery_events(&engine), ["failed 1 gave_up=false", "delivered after 2 as wamid.OUT"]);
    assert_eq!(engine.outbox("alpha", None, 10).expect("outbox").read, 0, "nothing left in the outbox");

    let received = received.lock().expect("log").clone();
    assert_eq!(received.len(), 2);
    let (path, headers, body) = &received[1];
    assert_eq!(path, "/1065/messages");
    assert!(headers.contains("authorization: bearer eaag-token"), "{headers}");
    assert_eq!(
        body,
        &json!({ "messaging_product": "whatsapp", "recipient_type": "individual", "to": "37491000001",
                 "type": "text", "text": { "body": "Your email, so we can send them?" } })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_reply_is_given_up_with_an_event() {
    let (api, _received) = fake_whatsapp(vec![400]);
    let (engine, _dir) = engine_with_whatsapp(&api);
    let handle = engine.clone();
    tokio::task::spawn_blocking(move || whatsapp_message(&handle, "wamid.1", "hours")).await.expect("turn");
    deliver_due(&engine, &loopback_client(), "alpha", 1_767_600_000_000).await.expect("runs");
    assert_eq!(delivery_events(&engine), ["failed 1 gave_up=true"]);
    assert_eq!(engine.outbox("alpha", None, 10).expect("outbox").read, 0, "nothing left in the outbox");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handoff_card_is_posted_to_the_tenants_webhook_signed() {
    use hmac::{Hmac, Mac};

    let (hook, received) = fake_whatsapp(Vec::new());
    let (engine, _dir) =
        engine_with(&format!("[handoff_webhook]\nurl = \"{hook}/handoffs\"\nsecret = \"hook-secret\""));
    let handle = engine.clone();
    tokio::task::spawn_blocking(move || whatsapp_message(&handle, "wamid.H1", "I want a human"))
        .await
        .expect("turn");
    let client = loopback_client();
    assert_eq!(deliver_due(&engine, &client, "alpha", 1_767_600_000_000).await.expect("runs"), 1);

    let received = received.lock().expect("log").clone();
    let [(path, headers, body)] = received.as_slice() else { panic!("one request, got {received:?}") };
    assert_eq!(path, "/handoffs");
    assert_eq!(body["conversation"], "whatsapp:37491000001");
    assert_eq!(body["card"]["reason"], "the customer asked for a human");
    let signature = headers
        .lines()
        .find_map(|line| line.strip_prefix("x-switchboard-signature: "))
        .expect("signed")
        .trim();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"hook-secret").expect("key");
    mac.update(body.to_string().as_bytes());
    assert_eq!(signature, format!("sha256={}", hex::encode(mac.finalize().into_bytes())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_operators_opt_in_a_loopback_or_metadata_destination_is_refused_alike() {
    let (listening, received) = fake_whatsapp(Vec::new());
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", listener.local_addr().expect("addr"))
    };
    let by_name = listening.replace("127.0.0.1", "localhost");
    let client = Client::new(OutboundPolicy::default()).expect("a client");
    for destination in
        [listening.as_str(), &closed, &by_name, "http://169.254.169.254", "http://[::ffff:127.0.0.1]:9"]
    {
        // A reply on WhatsApp, and a handoff card for the webhook, both to `destination`.
        let (engine, _dir) = engine_with(&format!(
            "[channels.whatsapp]\napp_secret = \"s\"\nverify_token = \"v\"\naccess_token = \"t\"\n\
             phone_number_id = \"1065\"\napi_base = \"{destination}\"\n\
             [handoff_webhook]\nurl = \"{destination}/handoffs\"\nsecret = \"hook-secret\""
        ));
        let handle = engine.clone();
        tokio::task::spawn_blocking(move || whatsapp_message(&handle, "wamid.H1", "I want a human"))
            .await
            .expect("turn");
        let started = std::time::Instant::now();
        assert_eq!(deliver_due(&engine, &client, "alpha", 1_767_600_000_000).await.expect("runs"), 2);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "{destination}: refused before connecting"
        );
        let events = engine.conversation_events("alpha", "whatsapp:37491000001").expect("events");
        let failures: Vec<(String, bool)> = events
            .into_iter()
            .filter_map(|event| match event.body {
                EventBody::MessageFailed { reason, gave_up, .. } => Some((reason, gave_up)),
                _ => None,
            })
            .collect();
        assert_eq!(failures, vec![(NOT_ALLOWED.to_owned(), true); 2], "{destination}");
    }
    assert!(received.lock().expect("log").is_empty(), "a refused send reached the provider");
}

/// A signed Messenger (or Instagram) webhook in through the app, the turn,
/// and the Send API call out to the fake provider.
async fn meta_round_trip(channel: &str, object: &str) -> (String, Value) {
    use axum::body::Body;
    use axum::http::Request;
    use hmac::{Hmac, Mac};
    use tower::ServiceExt;

    let (api, received) = fake_whatsapp(Vec::new());
    let (engine, _dir) = engine_with(&format!(
        "[channels.{channel}]\napp_secret = \"meta-secret\"\nverify_token = \"v\"\naccess_token = \"PAGE-TOKEN\"\napi_base = \"{api}\""
    ));
    let app = switchboard::server::app(engine.clone(), switchboard::server::Options::default());

    let body = json!({
        "object": object,
        "entry": [{ "id": "PAGE", "time": 1767600000000_i64, "messaging": [{
            "sender": { "id": "PSID-7" }, "recipient": { "id": "PAGE" }, "timestamp": 1767600000000_i64,
            "message": { "mid": "m_meta_1", "text": "what are your hours?" }
        }]}]
    })
    .to_string();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"meta-secret").expect("key");
    mac.update(body.as_bytes());
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let request = Request::builder()
        .method("POST")
        .uri(format!("/webhooks/alpha/{channel}"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", signature)
        .body(Body::from(body))
        .expect("request");
    let response = app.oneshot(request).await.expect("response");
    assert_eq!(response.status(), 200);

    let client = loopback_client();
    assert_eq!(deliver_due(&engine, &client, "alpha", 1_767_600_000_000).await.expect("runs"), 1);
    let received = received.lock().expect("log").clone();
    let [(path, headers, body)] = received.as_slice() else { panic!("one send, got {received:?}") };
    assert!(headers.contains("authorization: bearer page-token"), "{headers}");
    (path.clone(), body.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messenger_and_instagram_round_trip_to_the_send_api() {
    for (channel, object) in [("messenger", "page"), ("instagram", "instagram")] {
        let (path, body) = meta_round_trip(channel, object).await;
        assert_eq!(path, "/me/messages", "{channel}");
        assert_eq!(
            body,
            json!({ "recipient": { "id": "PSID-7" }, "messaging_type": "RESPONSE",
                    "message": { "text": "Your email, so we can send them?" } }),
            "{channel}"
        );
    }
}
