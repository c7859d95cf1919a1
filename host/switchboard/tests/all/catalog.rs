//! An agency publishes a build to the operator's catalog once and installs
//! it into two tenants, each with its own config; a config that breaks the
//! manifest's schema is refused for its tenant alone; a version is
//! published once; no tenant key reads the catalog.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::http::{app, send};
use crate::support::plugin_dir;

fn build(version: &str) -> Vec<u8> {
    use switchboard_runtime::manifest::{self, Manifest};
    let wasm = std::fs::read(plugin_dir().join("pricing_calculator.wasm")).expect("built");
    let manifest: Manifest = serde_json::from_value(json!({
        "name": "pricing", "version": version, "language": "rust", "description": "Quotes a move",
        "config_schema": { "type": "object", "required": ["currency"],
                           "properties": { "currency": { "type": "string" } } },
    }))
    .expect("a manifest");
    manifest::embed(&wasm, &manifest).expect("embedded")
}

async fn publish(app: &Router, token: &str, wasm: Vec<u8>) -> (StatusCode, Value) {
    let request = Request::builder()
        .method("POST")
        .uri("/v1/catalog/plugins")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/wasm")
        .body(Body::from(wasm))
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_build_published_once_is_installed_into_many_tenants_each_with_its_own_config() {
    let (app, _dir) = app();
    let (status, entry) = publish(&app, "admin-key", build("1.0.0")).await;
    assert_eq!(
        (status, entry["name"].as_str(), entry["version"].as_str()),
        (StatusCode::CREATED, Some("pricing"), Some("1.0.0")),
        "{entry}"
    );
    assert_eq!(publish(&app, "admin-key", build("1.0.0")).await.0, StatusCode::OK, "the same build again");
    let mut other = build("1.0.0");
    other.extend_from_slice(&[0, 3, 1, b'x', 0]); // a custom section: another build
    let (status, body) = publish(&app, "admin-key", other).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("bump the version"), "{body}");
    let plain = std::fs::read(plugin_dir().join("pricing_calculator.wasm")).expect("built");
    assert_eq!(publish(&app, "admin-key", plain).await.0, StatusCode::UNPROCESSABLE_ENTITY, "no manifest");
    assert_eq!(publish(&app, "token-alpha", build("9.0.0")).await.0, StatusCode::UNAUTHORIZED);
    let (status, _) = send(&app, "GET", "/v1/catalog/plugins", Some("token-alpha"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a tenant never sees the catalog");

    // Each tenant's own pricing, which the plugin's `init` parses when it is bound.
    let pricing = |currency: &str| {
        let mut config: Value =
            serde_json::from_str(include_str!("../../../../plugins/pricing-calculator/config/moving.json"))
                .expect("JSON");
        config["currency"] = json!(currency);
        config
    };
    let installs = json!({ "installs": [
        { "tenant": "alpha", "binding": "pricing", "config": pricing("AMD") },
        { "tenant": "beta", "binding": "pricing", "config": pricing("RUB") },
        { "tenant": "beta", "binding": "broken", "config": { "currency": 7 } },
        { "tenant": "nobody", "binding": "pricing" },
    ]});
    let (status, body) = send(
        &app,
        "POST",
        "/v1/catalog/plugins/pricing/1.0.0/install",
        Some("admin-key"),
        Some(installs.to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["installed"].as_u64(), body["failed"].as_u64()), (Some(2), Some(2)), "{body}");
    let results = body["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results[0]["version"]["note"], "catalog pricing 1.0.0");
    assert!(results[2]["error"]["message"].as_str().unwrap_or_default().contains("config_schema"), "{body}");
    assert_eq!(results[3]["error"]["code"], "unknown_tenant");

    let config_of = |tenant: &'static str| {
        let app = app.clone();
        async move {
            let uri = format!("/v1/tenants/{tenant}/plugins/pricing");
            let (status, binding) = send(&app, "GET", &uri, Some(&format!("token-{tenant}")), None).await;
            assert_eq!(status, StatusCode::OK, "{binding}");
            (
                binding["config"].as_str().unwrap_or_default().to_owned(),
                binding["manifest"]["version"].clone(),
            )
        }
    };
    let (alpha, beta) = (config_of("alpha").await, config_of("beta").await);
    assert_ne!(alpha.0, beta.0, "each tenant its own config");
    assert_eq!(alpha.1, "1.0.0");

    // An upgrade rolls out to the tenants chosen: alpha only.
    assert_eq!(publish(&app, "admin-key", build("1.1.0")).await.0, StatusCode::CREATED);
    let upgrade = json!({ "installs": [{ "tenant": "alpha", "binding": "pricing" }] });
    let (status, body) = send(
        &app,
        "POST",
        "/v1/catalog/plugins/pricing/1.1.0/install",
        Some("admin-key"),
        Some(upgrade.to_string()),
    )
    .await;
    assert_eq!((status, body["installed"].as_u64()), (StatusCode::OK, Some(1)), "{body}");
    assert_eq!(config_of("alpha").await, (alpha.0, json!("1.1.0")), "the config it had stays");
    assert_eq!(config_of("beta").await.1, "1.0.0", "beta was not chosen");
    let (_, listed) = send(&app, "GET", "/v1/catalog/plugins", Some("admin-key"), None).await;
    assert_eq!(listed["plugins"].as_array().map(Vec::len), Some(2), "{listed}");
}
