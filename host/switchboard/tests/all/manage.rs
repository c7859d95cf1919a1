//! A tenant edits its own flow, hours, channel credentials and plugins over
//! the API; a bad edit changes nothing, and secrets never come back out.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::http::{app, send};
use crate::support::HOURS_FLOW;

async fn put(app: &Router, uri: &str, token: &str, content_type: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let request = Request::builder()
        .method("PUT")
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", content_type)
        .body(Body::from(body))
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn first_reply(app: &Router, contact: &str) -> String {
    let body = json!({ "contact": { "id": contact }, "text": "hello" }).to_string();
    let (_, answer) = send(app, "POST", "/v1/tenants/alpha/messages", None, Some(body)).await;
    answer["replies"][0]["text"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_tenant_replaces_its_flow_and_a_broken_one_changes_nothing() {
    let (app, _dir) = app();
    let broken = HOURS_FLOW.replace("type = \"email\"", "type = \"emial\"");
    let (status, body) =
        put(&app, "/v1/tenants/alpha/flow", "token-alpha", "text/plain", broken.into_bytes()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]["message"].as_str().unwrap_or_default().contains("unknown variant `emial`"),
        "{body}"
    );
    assert_eq!(first_reply(&app, "v1").await, "Ask me for the opening hours.", "the old flow still runs");

    let renamed = HOURS_FLOW
        .replace("version = \"1\"", "version = \"2\"")
        .replace("Ask me for the opening hours.", "Ask me when we are open.");
    let (status, body) =
        put(&app, "/v1/tenants/alpha/flow", "token-alpha", "text/plain", renamed.into_bytes()).await;
    assert_eq!((status, body["flow_version"].clone()), (StatusCode::OK, json!("2")));
    assert_eq!(first_reply(&app, "v2").await, "Ask me when we are open.");

    let (status, _) =
        put(&app, "/v1/tenants/alpha/flow", "token-beta", "text/plain", HOURS_FLOW.into()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "beta's key cannot edit alpha");
}

#[tokio::test]
async fn hours_and_channel_secrets_go_in_and_secrets_never_come_out() {
    let (app, _dir) = app();
    let bad = json!({ "timezone": "Mars/Olympus" }).to_string().into_bytes();
    let (status, _) = put(&app, "/v1/tenants/alpha/calendar", "token-alpha", "application/json", bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let good = json!({ "timezone": "Asia/Yerevan", "hours": { "mon": ["10:00-19:00"] }, "holidays": ["2026-12-31"] });
    let (status, _) = put(
        &app,
        "/v1/tenants/alpha/calendar",
        "token-alpha",
        "application/json",
        good.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let secrets = json!({ "secret_token": "brand-new-secret", "bot_token": "123:TOKEN" });
    let (status, shown) = put(
        &app,
        "/v1/tenants/alpha/channels/telegram",
        "token-alpha",
        "application/json",
        secrets.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["telegram"]["set"], json!(["secret_token", "bot_token"]));
    let (_, listed) = send(&app, "GET", "/v1/tenants/alpha/channels", Some("token-alpha"), None).await;
    for text in [shown.to_string(), listed.to_string()] {
        assert!(!text.contains("brand-new-secret") && !text.contains("123:TOKEN"), "{text}");
    }
    // The API token in tenant.toml survived the edits: we are still let in.
    assert_eq!(
        send(&app, "GET", "/v1/tenants/alpha/channels", Some("token-alpha"), None).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_component_that_is_not_one_is_refused_and_nothing_changes() {
    let (app, _dir) = app();
    let (status, body) = put(
        &app,
        "/v1/tenants/alpha/plugins/pricing/component",
        "token-alpha",
        "application/wasm",
        b"\0asm-but-not-really".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(first_reply(&app, "c1").await, "Ask me for the opening hours.");
    let (status, _) =
        put(&app, "/v1/tenants/alpha/plugins/../x/config", "token-alpha", "application/json", b"{}".to_vec())
            .await;
    assert_ne!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_tenant_uploads_a_component_and_its_config() {
    let (app, dir) = app();
    let wasm = std::fs::read(crate::support::plugin_dir().join("pricing_calculator.wasm")).expect("built");
    let (status, body) =
        put(&app, "/v1/tenants/alpha/plugins/pricing/component", "token-alpha", "application/wasm", wasm)
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let config =
        std::fs::read(crate::support::repo_root().join("plugins/pricing-calculator/config/moving.json"))
            .expect("config");
    let (status, body) =
        put(&app, "/v1/tenants/alpha/plugins/pricing/config", "token-alpha", "application/json", config)
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let tenant_file = std::fs::read_to_string(dir.path().join("alpha/tenant.toml")).expect("tenant.toml");
    assert!(tenant_file.contains("component = \"plugins/pricing.wasm\""), "{tenant_file}");
    assert!(tenant_file.contains("config_file = \"plugins/pricing.json\""), "{tenant_file}");
}
