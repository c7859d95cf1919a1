//! A tenant sets limits and grants on its own plugin bindings through the
//! API, never past the operator's `[self_service]`; a plugin it uploads
//! starts from its manifest's defaults and the capabilities it asks for,
//! held to the same maxima.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::canary::{app, publish_to};
use crate::http::send;
use crate::support::plugin_dir;

async fn put(app: &axum::Router, what: &str, body: Value) -> (StatusCode, Value) {
    let uri = format!("/v1/tenants/shop/plugins/pricing/{what}");
    send(app, "PUT", &uri, Some("token-shop"), Some(body.to_string())).await
}

async fn binding(app: &axum::Router) -> Value {
    let (status, body) = send(app, "GET", "/v1/tenants/shop/plugins/pricing", Some("token-shop"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn a_tenant_sets_its_bindings_limits_and_grants_within_the_operators_maxima() {
    let (app, _engine, _dir) = app();
    let before = binding(&app).await;
    assert_eq!(before["limits"]["timeout_ms"], 100);
    assert_eq!(before["may_set"]["limits"]["timeout_ms"], 1000);

    let (status, body) = put(&app, "limits", json!({ "timeout_ms": 800, "fuel": 50_000_000 })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let after = binding(&app).await;
    assert_eq!(
        (after["limits"]["timeout_ms"].as_u64(), after["limits"]["fuel"].as_u64()),
        (Some(800), Some(50_000_000))
    );

    let (status, body) = put(&app, "limits", json!({ "timeout_ms": 5000 })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let said = body["error"]["message"].as_str().unwrap_or_default();
    assert!(said.contains("timeout_ms = 5000") && said.contains("[self_service]"), "{said}");
    assert_eq!(binding(&app).await["limits"]["timeout_ms"], 800, "nothing changed");

    let (status, body) = put(&app, "grants", json!({ "log": true, "kv": true })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(binding(&app).await["grants"]["log"], true);
    let (status, body) = put(&app, "grants", json!({ "http": ["api.example.com"] })).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "no host is the tenant's to allow by default: {body}"
    );
    let (status, _) = put(&app, "limits", json!({ "secrets": { "x": "y" } })).await;
    assert!(status.is_client_error(), "secrets are never the tenant's to set");
    let (status, _) = send(&app, "GET", "/v1/tenants/shop/plugins/pricing", Some("token-other"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_uploaded_plugin_starts_from_its_manifests_defaults_held_to_the_maxima() {
    use switchboard_runtime::manifest::{self, Manifest};
    let (app, _engine, _dir) = app();
    let wasm = std::fs::read(plugin_dir().join("pricing_calculator.wasm")).expect("built");
    let manifest: Manifest = serde_json::from_value(json!({
        "name": "pricing", "version": "2.0.0", "language": "rust",
        "defaults": { "timeout_ms": 5000, "fuel": 20_000_000 },
        "capabilities": { "log": true },
    }))
    .expect("a manifest");
    let wasm = manifest::embed(&wasm, &manifest).expect("embedded");
    let (status, body) = send(&app, "GET", "/v1/tenants/shop/plugins/fresh", Some("token-shop"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = publish_to(&app, "fresh", &[("component", &wasm)]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, fresh) = send(&app, "GET", "/v1/tenants/shop/plugins/fresh", Some("token-shop"), None).await;
    assert_eq!(fresh["limits"]["fuel"], 20_000_000, "{fresh}");
    assert_eq!(fresh["limits"]["timeout_ms"], 1000, "held to the tenant's maximum: {fresh}");
    assert_eq!(
        (fresh["grants"]["log"].as_bool(), fresh["grants"]["kv"].as_bool()),
        (Some(true), Some(false))
    );
}
