//! Signals over HTTP: the business's systems post what happened to a
//! customer, and the flow acts on it. Names the flow does not declare,
//! malformed identities and fields are refused with what to do instead; a
//! repeat of a signal's id does nothing twice.

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use serde_json::json;
use switchboard::engine::Engine;
use switchboard::server;
use switchboard::tenant::Tenant;
use switchboard_store::Store;

use crate::http::send;
use crate::support::{plugin_dir, repo_root, runtime};

const TOKEN: &str = "demo-subscriptions-token";

fn app() -> Router {
    let runtime = runtime();
    let engine = Engine::new(Store::temporary().expect("a store"), Arc::clone(&runtime));
    let dir = repo_root().join("examples/subscriptions");
    let tenant = Tenant::load(&dir, &plugin_dir(), &runtime, &|_| None).expect("the example loads");
    engine.add_tenant(tenant).expect("added");
    server::app(Arc::new(engine), server::Options { plugin_dir: plugin_dir(), ..server::Options::default() })
}

async fn post(app: &Router, body: serde_json::Value) -> (StatusCode, serde_json::Value) {
    send(app, "POST", "/v1/tenants/subscriptions/signals", Some(TOKEN), Some(body.to_string())).await
}

#[tokio::test]
async fn a_declared_signal_starts_its_intent_and_the_bot_writes_first_through_the_template() {
    let app = app();
    let signal = json!({
        "name": "payment.failed",
        "to": "whatsapp:37491234567",
        "fields": { "plan": "Gold", "amount": { "money": { "amount_minor": 1800000, "currency": "AMD" } } },
        "id": "billing-evt-1",
        "locale": "en",
    });
    let (status, turn) = post(&app, signal.clone()).await;
    assert_eq!(status, StatusCode::OK, "{turn}");
    let text = turn["replies"][0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("18,000 AMD") && text.contains("Gold"), "{turn}");
    assert_eq!(turn["replies"][0]["outside_window"]["template"]["name"], "payment_failed", "{turn}");
    let (status, again) = post(&app, signal).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["duplicate"], true, "a repeated id is done once: {again}");
}

#[tokio::test]
async fn what_the_flow_does_not_take_is_refused_with_what_to_do() {
    let app = app();
    let unknown = json!({ "name": "order.shipped", "to": "whatsapp:37491234567" });
    let (status, body) = post(&app, unknown).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("payment.failed") && message.contains("[[signals]]"), "{message}");

    for (to, why) in [
        ("37491234567", "channel:id"),
        ("internal:x", "internal"),
        ("fax:1", "channel:id"),
        ("web:a b", "contact.id"),
    ] {
        let (status, body) = post(&app, json!({ "name": "payment.failed", "to": to })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{to}: {body}");
        assert!(body["error"]["message"].as_str().unwrap_or_default().contains(why), "{to}: {body}");
    }
    // Only the fields the flow declares for the signal: nothing else lands
    // in the conversation (an approver, the phone a code goes to).
    let undeclared = json!({ "name": "payment.failed", "to": "telegram:5", "fields": { "phone_on_record": "+37400000000" } });
    let (status, body) = post(&app, undeclared).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("plan, amount"), "{body}");
    // Nor a time far from now, which would skew quotas, retention and timers.
    let future = json!({ "name": "payment.failed", "to": "telegram:5", "at": "2030-01-01T00:00:00Z" });
    let (status, body) = post(&app, future).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let bad_field = json!({ "name": "payment.failed", "to": "telegram:5", "fields": { "amount": [1, 2] } });
    let (status, body) = post(&app, bad_field).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("\"amount\""), "{body}");
}

#[tokio::test]
async fn a_signal_never_takes_over_a_conversation_a_person_has() {
    let app = app();
    // The member asks for a person, then billing's signal arrives.
    let message = json!({ "contact": { "id": "s1" }, "text": "I want to talk to a person" });
    let (status, _) =
        send(&app, "POST", "/v1/tenants/subscriptions/messages", None, Some(message.to_string())).await;
    assert_eq!(status, StatusCode::OK);
    let signal = json!({ "name": "payment.failed", "to": "web:s1", "fields": { "plan": "Gold" } });
    let (status, turn) = post(&app, signal).await;
    assert_eq!(status, StatusCode::OK, "{turn}");
    assert_eq!(turn["replies"], json!([]), "the person answers, not the bot: {turn}");
    let events: Vec<&str> = turn["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|event| event["type"].as_str())
        .collect();
    assert!(events.contains(&"domain"), "recorded all the same: {events:?}");
}
