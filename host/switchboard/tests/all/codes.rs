//! One-time codes: the code goes to the phone on record and nowhere else.
//! Not to the chat that asked for it (its HTTP answer, the web chat), not
//! into the conversation the API shows, not into the event log.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::json;
use switchboard::engine::Engine;
use switchboard::server;
use switchboard::tenant::Tenant;
use switchboard_store::Store;

use crate::http::send;
use crate::support::{plugin_dir, repo_root, runtime, vars};

#[tokio::test]
async fn a_code_reaches_only_the_phone_on_record() {
    // The web shop, able to send on WhatsApp.
    let dir = tempfile::tempdir().expect("a temp dir");
    let shop = dir.path().join("webshop");
    std::fs::create_dir_all(&shop).expect("mkdir");
    let example = repo_root().join("examples/webshop");
    for file in ["flow.toml", "refunds.json"] {
        std::fs::copy(example.join(file), shop.join(file)).expect("copy");
    }
    let tenant = std::fs::read_to_string(example.join("tenant.toml")).expect("tenant.toml")
        + "\n[channels.whatsapp]\napp_secret = \"s\"\nverify_token = \"v\"\naccess_token = \"t\"\nphone_number_id = \"1\"\n";
    std::fs::write(shop.join("tenant.toml"), tenant).expect("write");
    let runtime = runtime();
    let engine = Arc::new(Engine::new(Store::temporary().expect("a store"), Arc::clone(&runtime)));
    engine.add_tenant(Tenant::load(&shop, &plugin_dir(), &runtime, &vars).expect("loads")).expect("added");
    let app = server::app(
        Arc::clone(&engine),
        server::Options { plugin_dir: plugin_dir(), ..server::Options::default() },
    );

    let say = |text: &str| json!({ "contact": { "id": "visitor" }, "text": text }).to_string();
    let (status, _) =
        send(&app, "POST", "/v1/tenants/webshop/messages", None, Some(say("Where is my order A-1004?")))
            .await;
    assert_eq!(status, StatusCode::OK);
    let (status, turn) =
        send(&app, "POST", "/v1/tenants/webshop/messages", None, Some(say("narek@example.com"))).await;
    assert_eq!(status, StatusCode::OK, "{turn}");

    let stored = engine.conversation("webshop", "web:visitor").expect("read").expect("exists");
    let code = stored.conversation.pending_code.expect("a code is awaited").code;
    assert_eq!(code.len(), 6);
    assert!(!turn.to_string().contains(&code), "the chat's answer shows the code: {turn}");
    assert!(!turn.to_string().contains("91000004"), "the visitor learns the phone on record: {turn}");

    let token = "demo-webshop-token";
    let (_, detail) =
        send(&app, "GET", "/v1/tenants/webshop/conversations/web:visitor", Some(token), None).await;
    assert!(!detail.to_string().contains(&code), "the conversation view shows the code: {detail}");
    let (_, events) = send(&app, "GET", "/v1/tenants/webshop/events", Some(token), None).await;
    assert!(events.to_string().contains("code.sent"), "{events}");
    assert!(!events.to_string().contains(&code), "the event log holds the code");

    let outbox = engine.outbox("webshop", None, 100).expect("the outbox").entries;
    let to_phone: Vec<_> = outbox.iter().filter(|(_, entry)| entry.text.contains(&code)).collect();
    assert_eq!(to_phone.len(), 1, "{outbox:?}");
    assert_eq!((to_phone[0].1.channel.as_str(), to_phone[0].1.to.as_str()), ("whatsapp", "37491000004"));
}
