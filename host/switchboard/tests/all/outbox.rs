//! Delivery drops nothing and keeps up: a reply is retried for as long as
//! its provider fails, set aside (parked, listed, re-driven through the API)
//! when it cannot go out as it is, and the worker delivers many
//! conversations at once, each in order, without a failing one holding up
//! the rest.

use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard::delivery::{Limits, NO_CREDENTIALS, WINDOW_CLOSED, Worker, deliver_due};
use switchboard::engine::{Engine, InboundMessage};
use switchboard::tenant::Tenant;
use switchboard_core::contract::{Channel, Contact};
use switchboard_core::event::EventBody;

use crate::delivery::{
    delivery_events, engine_with, engine_with_whatsapp, fake_whatsapp, loopback_client, read_request,
    whatsapp_message,
};
use crate::support::{plugin_dir, runtime, write_tenant};

const AT: i64 = 1_767_600_000_000;

fn whatsapp(api: &str, extra: &str) -> String {
    format!(
        "api_token = \"token-alpha\"\n[channels.whatsapp]\napp_secret = \"s\"\nverify_token = \"v\"\n\
         phone_number_id = \"1065\"\napi_base = \"{api}\"\n{extra}"
    )
}

/// Load `alpha` again from a tenant.toml with `extra`, as an edit and reload would.
fn replace_alpha(engine: &Engine, dir: &std::path::Path, extra: &str) {
    let tenant_dir = write_tenant(dir, "alpha", extra);
    let runtime = runtime();
    engine
        .add_tenant(Tenant::load(&tenant_dir, &plugin_dir(), &runtime, &|_| None).expect("loads"))
        .expect("added");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_is_retried_past_any_fixed_count_until_the_provider_accepts_it() {
    let (api, received) = fake_whatsapp(vec![503; 9]);
    let (engine, _dir) = engine_with_whatsapp(&api);
    let handle = engine.clone();
    tokio::task::spawn_blocking(move || whatsapp_message(&handle, "wamid.1", "hours")).await.expect("turn");
    let client = loopback_client();
    for minute in 0..10 {
        assert_eq!(deliver_due(&engine, &client, "alpha", AT + minute * 60_000).await.expect("runs"), 1);
    }
    let mut expected: Vec<String> = (1..=9).map(|n| format!("failed {n} gave_up=false")).collect();
    expected.push("delivered after 10 as wamid.OUT".to_owned());
    assert_eq!(delivery_events(&engine), expected);
    assert_eq!(received.lock().expect("log").len(), 10);
    assert!(engine.outbox("alpha", None, 10).expect("outbox").entries.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_whose_credentials_were_removed_is_parked_listed_and_redriven() {
    let (api, received) = fake_whatsapp(Vec::new());
    let (engine, dir) = engine_with(&whatsapp(&api, "access_token = \"EAAG-token\""));
    let handle = engine.clone();
    tokio::task::spawn_blocking(move || whatsapp_message(&handle, "wamid.1", "hours")).await.expect("turn");
    replace_alpha(&engine, dir.path(), &whatsapp(&api, ""));
    let client = loopback_client();

    assert_eq!(deliver_due(&engine, &client, "alpha", AT).await.expect("runs"), 1);
    assert_eq!(delivery_events(&engine), [format!("parked after 0: {NO_CREDENTIALS}")]);
    assert!(engine.outbox("alpha", None, 10).expect("outbox").entries.is_empty(), "out of the outbox");
    assert_eq!(deliver_due(&engine, &client, "alpha", AT + 60_000).await.expect("runs"), 0, "not retried");
    assert!(received.lock().expect("log").is_empty());

    let app = switchboard::server::app(engine.clone(), switchboard::server::Options::default());
    let (status, listed) =
        crate::http::send(&app, "GET", "/v1/tenants/alpha/outbox/parked", Some("token-alpha"), None).await;
    assert_eq!(status, 200, "{listed}");
    let parked = listed["parked"].as_array().expect("a list");
    assert_eq!(parked.len(), 1, "{listed}");
    assert_eq!(parked[0]["conversation"], "whatsapp:37491000001");
    assert_eq!(parked[0]["reason"], NO_CREDENTIALS);
    let (status, _) =
        crate::http::send(&app, "GET", "/v1/tenants/alpha/outbox/parked", Some("wrong"), None).await;
    assert_eq!(status, 401, "another key sees nothing");

    replace_alpha(&engine, dir.path(), &whatsapp(&api, "access_token = \"EAAG-token\""));
    let (status, body) =
        crate::http::send(&app, "POST", "/v1/tenants/alpha/outbox/parked/redrive", Some("token-alpha"), None)
            .await;
    assert_eq!((status.as_u16(), body["redriven"].as_u64()), (200, Some(1)), "{body}");
    assert_eq!(deliver_due(&engine, &client, "alpha", AT + 120_000).await.expect("runs"), 1);
    assert_eq!(
        delivery_events(&engine),
        [format!("parked after 0: {NO_CREDENTIALS}"), "delivered after 1 as wamid.OUT".to_owned()]
    );
    assert!(engine.parked_outbox("alpha", None, 10).expect("parked").entries.is_empty());
    assert_eq!(received.lock().expect("log").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_unsent_when_the_window_closes_goes_as_the_fallback_template_or_is_parked() {
    let day = 24 * 60 * 60 * 1000;
    let (api, received) = fake_whatsapp(Vec::new());
    let (engine, dir) = engine_with(&whatsapp(&api, "access_token = \"t\""));
    let handle = engine.clone();
    tokio::task::spawn_blocking(move || whatsapp_message(&handle, "wamid.1", "hours")).await.expect("turn");
    let client = loopback_client();
    assert_eq!(deliver_due(&engine, &client, "alpha", AT + day + 1).await.expect("runs"), 1);
    assert_eq!(delivery_events(&engine), [format!("parked after 0: {WINDOW_CLOSED}")]);
    assert!(received.lock().expect("log").is_empty(), "a plain reply is not sent outside the window");

    replace_alpha(
        &engine,
        dir.path(),
        &whatsapp(&api, "access_token = \"t\"\nwindow_fallback = \"reply_later\""),
    );
    assert_eq!(engine.redrive_parked("alpha").expect("redrive"), 1);
    assert_eq!(deliver_due(&engine, &client, "alpha", AT + day + 2).await.expect("runs"), 1);
    let received = received.lock().expect("log").clone();
    let [(_, _, body)] = received.as_slice() else { panic!("one send, got {received:?}") };
    assert_eq!(body["type"], "template", "{body}");
    assert_eq!(body["template"]["name"], "reply_later", "{body}");
    assert_eq!(
        body["template"]["components"][0]["parameters"][0]["text"],
        "Your email, so we can send them?"
    );
}

/// Sends the fake provider got: (recipient, idempotency key), in arrival order.
type Log = Arc<Mutex<Vec<(String, u64)>>>;

/// A WhatsApp send API that answers each connection on its own thread after
/// `latency`: 503 for `failing`, 200 for anyone else. It records the most
/// requests it had in flight at once.
fn concurrent_provider(latency: Duration, failing: &'static str) -> (String, Log, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let log: Log = Arc::default();
    let peak = Arc::new(AtomicUsize::new(0));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let (log_, peak_) = (log.clone(), peak.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (log, peak, in_flight) = (log_.clone(), peak_.clone(), in_flight.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                let (_, headers, body) = read_request(&mut reader);
                let key = crate::delivery::idempotency_key(&headers)
                    .and_then(|value| value.rsplit(['-', ':']).next()?.parse().ok())
                    .unwrap_or(0);
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(latency);
                in_flight.fetch_sub(1, Ordering::SeqCst);
                let to = body["to"].as_str().unwrap_or_default().to_owned();
                let status = if to == failing { 503 } else { 200 };
                if status == 200 {
                    log.lock().expect("log").push((to, key));
                }
                let reply = r#"{"messages":[{"id":"wamid.OUT"}]}"#;
                let _ = write!(
                    reader.into_inner(),
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                    reply.len()
                );
            });
        }
    });
    (format!("http://{addr}"), log, peak)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_delivers_conversations_at_once_each_in_order_and_a_failing_one_holds_up_no_other() {
    let (api, log, peak) = concurrent_provider(Duration::from_millis(40), "37491000666");
    let (engine, _dir) = engine_with(&whatsapp(&api, "access_token = \"t\""));
    let now = jiff::Timestamp::now().as_millisecond();
    let numbers: Vec<String> =
        (0..12).map(|n| format!("374910001{n:02}")).chain(["37491000666".to_owned()]).collect();
    let handle = engine.clone();
    let senders = numbers.clone();
    tokio::task::spawn_blocking(move || {
        // The failing conversation first, so a worker that stopped at it would send nothing.
        for round in 0..3 {
            for number in senders.iter().rev() {
                let message = InboundMessage {
                    channel: Channel::Whatsapp,
                    contact: Contact {
                        id: format!("whatsapp:{number}"),
                        display_name: None,
                        locale: String::new(),
                    },
                    text: "hours".to_owned(),
                    payload: None,
                    message_id: Some(format!("wamid.{number}.{round}")),
                    at: now,
                };
                handle.handle("alpha", message).expect("handled");
            }
        }
    })
    .await
    .expect("turns");
    let worker =
        tokio::spawn(Worker::new(engine.clone(), loopback_client(), Limits { host: 8, tenant: 4 }).run());
    let healthy = (numbers.len() - 1) * 3;
    let started = Instant::now();
    let settled = || {
        let waiting = engine.outbox("alpha", None, 100).expect("outbox").entries;
        log.lock().expect("log").len() >= healthy
            && waiting.iter().all(|(_, entry)| entry.conversation == "whatsapp:37491000666")
    };
    // The provider logs a send before it answers; the entry goes once it has.
    while !settled() && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.abort();
    let log = log.lock().expect("log").clone();
    assert_eq!(log.len(), healthy, "every healthy reply delivered: {log:?}");
    for number in &numbers[..numbers.len() - 1] {
        let keys: Vec<u64> = log.iter().filter(|(to, _)| to == number).map(|(_, key)| *key).collect();
        assert_eq!(keys.len(), 3, "{number}: {log:?}");
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]), "{number} out of order: {keys:?}");
    }
    let peak = peak.load(Ordering::SeqCst);
    assert!((2..=4).contains(&peak), "sends overlap, within the tenant's limit of 4: peak {peak}");
    let waiting = engine.outbox("alpha", None, 10).expect("outbox").entries;
    assert_eq!(waiting.len(), 3, "the failing conversation's replies wait, none dropped: {waiting:?}");
    assert!(waiting.iter().all(|(_, entry)| entry.conversation == "whatsapp:37491000666"));
    let events = engine.conversation_events("alpha", "whatsapp:37491000666").expect("events");
    assert!(events.iter().any(|event| matches!(event.body, EventBody::MessageFailed { gave_up: false, .. })));
    assert!(!events.iter().any(|event| matches!(
        event.body,
        EventBody::MessageFailed { gave_up: true, .. } | EventBody::MessageParked { .. }
    )));
}
