//! The HTTP app without a socket (`tower::ServiceExt::oneshot`), on tenants
//! that need no plugins.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use switchboard::engine::Engine;
use switchboard::server;
use switchboard::tenant::Tenant;
use switchboard_store::Store;
use tower::ServiceExt;

use crate::support::{plugin_dir, runtime, write_tenant};

/// Two tenants, `alpha` and `beta`, with their own API tokens and channel
/// secrets (`wa-secret-alpha`, `tg-secret-alpha`, …). Only `alpha` links
/// identities by a shared phone or email.
pub fn app() -> (Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let runtime = runtime();
    let engine = Engine::new(Store::temporary().expect("a store"), Arc::clone(&runtime));
    for name in ["alpha", "beta"] {
        let extra = format!(
            "api_token = \"token-{name}\"\nlink_by_contact = {}\n\
             [channels.whatsapp]\napp_secret = \"wa-secret-{name}\"\nverify_token = \"wa-verify\"\n\
             [channels.telegram]\nsecret_token = \"tg-secret-{name}\"",
            name == "alpha"
        );
        let tenant_dir = write_tenant(dir.path(), name, &extra);
        let tenant = Tenant::load(&tenant_dir, &plugin_dir(), &runtime, &|_| None).expect("loads");
        engine.add_tenant(tenant).expect("added");
    }
    let options = server::Options {
        metrics_token: Some("metrics-token".to_owned()),
        admin_key: Some("admin-key".to_owned()),
        tenants_root: Some(dir.path().to_owned()),
        plugin_dir: plugin_dir(),
        ..server::Options::default()
    };
    (server::app(Arc::new(engine), options), dir)
}

pub async fn send(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<String>,
) -> (StatusCode, Value) {
    let mut request =
        Request::builder().method(method).uri(uri).header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request.body(body.map_or_else(Body::empty, Body::from)).expect("a request");
    let response = app.clone().oneshot(request).await.expect("a response");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("a body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn say(app: &Router, tenant: &str, contact: &str, text: &str, message_id: &str) -> (StatusCode, Value) {
    let body = json!({ "contact": { "id": contact }, "text": text, "message_id": message_id }).to_string();
    send(app, "POST", &format!("/v1/tenants/{tenant}/messages"), None, Some(body)).await
}

fn replies(body: &Value) -> Vec<String> {
    body["replies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|reply| reply["text"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_message_gets_the_flows_answer() {
    let (app, _dir) = app();
    let (status, body) = say(&app, "alpha", "c1", "when are you open?", "m1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(replies(&body), ["Your email, so we can send them?"]);
    let (_, body) = say(&app, "alpha", "c1", "ani@example.com", "m2").await;
    assert_eq!(replies(&body), ["Sent to ani@example.com."]);
    assert_eq!(body["status"], json!({ "status": "ended", "state": "resolved" }));
}

#[tokio::test]
async fn a_retried_delivery_is_answered_once() {
    let (app, _dir) = app();
    let (_, first) = say(&app, "alpha", "c1", "hours", "wamid.1").await;
    let (status, again) = say(&app, "alpha", "c1", "hours", "wamid.1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((first["duplicate"].clone(), again["duplicate"].clone()), (json!(false), json!(true)));
    assert!(replies(&again).is_empty());
    let (_, log) = send(&app, "GET", "/v1/tenants/alpha/events", Some("token-alpha"), None).await;
    let received = log["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|entry| entry["event"]["type"] == "message.received")
        .count();
    assert_eq!(received, 1);
}

#[tokio::test]
async fn bad_input_gets_a_clear_json_error() {
    let (app, _dir) = app();
    let (status, body) = say(&app, "nobody", "c1", "hi", "m1").await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("unknown_tenant")));
    let (status, body) =
        send(&app, "POST", "/v1/tenants/alpha/messages", None, Some("{\"contact\":".to_owned())).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_json")));
    let (status, body) = send(
        &app,
        "POST",
        "/v1/tenants/alpha/messages",
        None,
        Some(json!({ "contact": { "id": "c" } }).to_string()),
    )
    .await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_request")));
    let huge = json!({ "contact": { "id": "c" }, "text": "x".repeat(100_000) }).to_string();
    let (status, body) = send(&app, "POST", "/v1/tenants/alpha/messages", None, Some(huge)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large")));
}

#[tokio::test]
async fn each_tenants_api_needs_its_own_token() {
    let (app, _dir) = app();
    say(&app, "alpha", "secret-customer", "hours", "m1").await;
    let uri = "/v1/tenants/alpha/conversations";
    assert_eq!(send(&app, "GET", uri, None, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(send(&app, "GET", uri, Some("token-beta"), None).await.0, StatusCode::UNAUTHORIZED);
    let (status, body) = send(&app, "GET", uri, Some("token-alpha"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["conversations"][0]["id"], "web:secret-customer");
    let (_, beta) = send(&app, "GET", "/v1/tenants/beta/conversations", Some("token-beta"), None).await;
    assert_eq!(beta["conversations"], json!([]), "beta sees none of alpha's conversations");
}

#[tokio::test]
async fn the_conversation_list_comes_in_pages_that_cover_each_once() {
    let (app, _dir) = app();
    for (index, visitor) in ["ann", "bob", "cy"].iter().enumerate() {
        say(&app, "alpha", visitor, "hours", &format!("m{index}")).await;
    }
    let page = |after: Option<String>| {
        let app = app.clone();
        async move {
            let uri = match after {
                Some(after) => format!("/v1/tenants/alpha/conversations?limit=2&after={after}"),
                None => "/v1/tenants/alpha/conversations?limit=2".to_owned(),
            };
            send(&app, "GET", &uri, Some("token-alpha"), None).await.1
        }
    };
    let ids = |body: &Value| -> Vec<String> {
        body["conversations"].as_array().expect("a list").iter().map(|c| c["id"].to_string()).collect()
    };
    let first = page(None).await;
    assert_eq!(ids(&first).len(), 2, "{first}");
    let after = first["next_after"].as_str().expect("more to come").to_owned();
    let second = page(Some(after.replace(':', "%3A"))).await;
    assert_eq!(ids(&second).len(), 1, "{second}");
    assert_eq!(second["next_after"], Value::Null, "the last page says so");
    let mut all = [ids(&first), ids(&second)].concat();
    all.sort();
    assert_eq!(all, ["\"web:ann\"", "\"web:bob\"", "\"web:cy\""]);
}

#[tokio::test]
async fn an_agent_takes_over_replies_and_hands_back() {
    let (app, _dir) = app();
    say(&app, "alpha", "c1", "hours", "m1").await;
    let (_, body) = say(&app, "alpha", "c1", "I want a human", "m2").await;
    assert_eq!(body["status"]["status"], "human");
    let (_, body) = say(&app, "alpha", "c1", "hello?", "m3").await;
    assert!(replies(&body).is_empty(), "the bot is silent while a human has the conversation");
    let base = "/v1/tenants/alpha/conversations/web:c1";
    let (status, body) = send(
        &app,
        "POST",
        &format!("{base}/reply"),
        Some("token-alpha"),
        Some(json!({ "text": "Hi, Anna here." }).to_string()),
    )
    .await;
    assert_eq!((status, replies(&body)), (StatusCode::OK, vec!["Hi, Anna here.".to_owned()]));
    let (_, body) = send(
        &app,
        "POST",
        &format!("{base}/hand-back"),
        Some("token-alpha"),
        Some(json!({ "agent": "anna" }).to_string()),
    )
    .await;
    assert_eq!(body["status"]["status"], "bot");
    let (_, body) = say(&app, "alpha", "c1", "hours", "m4").await;
    assert_eq!(replies(&body), ["Your email, so we can send them?"]);
    let (_, conversation) = send(&app, "GET", base, Some("token-alpha"), None).await;
    let card = conversation["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|event| event["type"] == "handoff.requested")
        .cloned();
    assert_eq!(card.expect("a handoff card")["data"]["card"]["reason"], "the customer asked for a human");
}

#[tokio::test]
async fn the_widget_may_post_from_another_site_but_the_admin_api_may_not() {
    let (app, _dir) = app();
    let preflight = |uri: &str| {
        Request::builder()
            .method("OPTIONS")
            .uri(uri)
            .header(header::ORIGIN, "https://salon.example")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
            .body(Body::empty())
            .expect("request")
    };
    let response = app.clone().oneshot(preflight("/v1/tenants/alpha/messages")).await.expect("response");
    assert_eq!(
        response.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).map(|v| v.as_bytes()),
        Some(&b"*"[..])
    );
    let response = app.clone().oneshot(preflight("/v1/tenants/alpha/conversations")).await.expect("response");
    assert!(response.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
}

#[tokio::test]
async fn metrics_count_events_by_tenant_and_type_for_the_operator_only() {
    switchboard::telemetry::install();
    let (app, _dir) = app();
    say(&app, "beta", "metrics-1", "when are you open?", "metrics-m1").await;
    let request = |token: Option<&str>| {
        let mut request = Request::builder().uri("/metrics");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let app = app.clone();
        async move {
            let response =
                app.oneshot(request.body(Body::empty()).expect("request")).await.expect("response");
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
            (status, String::from_utf8_lossy(&body).into_owned())
        }
    };
    assert_eq!(request(None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(request(Some("token-beta")).await.0, StatusCode::UNAUTHORIZED, "a tenant key is not enough");
    let (status, text) = request(Some("metrics-token")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.lines().any(|line| line.starts_with("switchboard_events_total{")
            && line.contains("tenant=\"beta\"")
            && line.contains("type=\"intent.detected\"")),
        "{text}"
    );
    assert!(text.contains("switchboard_turn_seconds"), "{text}");
}

#[tokio::test]
async fn the_public_endpoint_speaks_for_web_chat_only() {
    let (app, _dir) = app();
    // Posing as a WhatsApp customer would let anyone make the tenant message any number.
    let body = json!({ "contact": { "id": "whatsapp:37491000001" }, "channel": "whatsapp", "text": "hi" })
        .to_string();
    let (status, answer) = send(&app, "POST", "/v1/tenants/alpha/messages", None, Some(body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let body = json!({ "contact": { "id": "whatsapp:37491000001" }, "text": "hi" }).to_string();
    let (status, _) = send(&app, "POST", "/v1/tenants/alpha/messages", None, Some(body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a web session id has no channel prefix");
    let (_, list) = send(&app, "GET", "/v1/tenants/alpha/conversations", Some("token-alpha"), None).await;
    assert_eq!(list["conversations"], json!([]));
}

#[tokio::test]
async fn the_openapi_document_covers_every_api_route_the_server_registers() {
    let (app, _dir) = app();
    let (status, doc) = send(&app, "GET", "/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().is_some_and(|version| version.starts_with("3.")), "{doc}");
    let documented = doc["paths"].as_object().expect("paths");
    // Every route in server.rs, except the pages a browser loads (the chat
    // page, the widget, the console) and the demo shop.
    let source = include_str!("../../src/server.rs");
    let routes: Vec<&str> = source
        .split(".route(")
        .skip(1)
        .filter_map(|rest| rest.trim_start().strip_prefix('"')?.split('"').next())
        .filter(|route| {
            !matches!(*route, "/" | "/chat/{tenant}" | "/widget.js")
                && !route.starts_with("/demo/")
                && !route.starts_with("/console")
        })
        .collect();
    assert!(routes.contains(&"/v1/tenants/{tenant}/conversations/{id}/timers"), "{routes:?}");
    for route in routes {
        assert!(documented.contains_key(route), "{route} is served but not in /v1/openapi.json");
    }
    // And every method each route serves, so the auth walk sees them all.
    let (mut considered, mut methods) = (0, 0);
    for registration in source.split(".route(").skip(1) {
        let registration = registration.split(".route(").next().unwrap_or_default();
        let Some(route) = registration.trim_start().strip_prefix('"').and_then(|rest| rest.split('"').next())
        else {
            continue;
        };
        let Some(operations) = documented.get(route) else { continue };
        considered += 1;
        for method in ["get", "post", "put", "delete", "patch"] {
            let serves = registration.match_indices(&format!("{method}(")).any(|(at, _)| {
                !registration[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            });
            if serves {
                assert!(
                    operations.get(method).is_some(),
                    "{method} {route} is served but not in /v1/openapi.json"
                );
                methods += 1;
            }
        }
    }
    assert!(
        considered >= 30 && methods > considered,
        "{considered} routes, {methods} methods: the scan found too few"
    );
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
}

#[tokio::test]
async fn readiness_says_whether_the_host_can_serve() {
    let (app, _dir) = app();
    let (status, body) = send(&app, "GET", "/readyz", None, None).await;
    assert_eq!(
        (status, body["ready"].clone(), body["tenants"].clone()),
        (StatusCode::OK, json!(true), json!(2))
    );
}

#[tokio::test]
async fn readiness_is_withdrawn_before_the_stores_disk_is_full() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let runtime = runtime();
    let engine = Engine::new(Store::temporary().expect("a store"), Arc::clone(&runtime));
    let tenant_dir = write_tenant(dir.path(), "alpha", "");
    engine
        .add_tenant(Tenant::load(&tenant_dir, &plugin_dir(), &runtime, &|_| None).expect("loads"))
        .expect("added");
    let free_mib = engine.store_free_bytes().expect("free space").expect("sled is on this disk") >> 20;
    // The same filesystem, once needing less than it has and once more.
    let enough = server::app(
        Arc::new(engine),
        server::Options {
            plugin_dir: plugin_dir(),
            min_free_disk_mib: Some(free_mib / 2),
            ..Default::default()
        },
    );
    let (status, body) = send(&enough, "GET", "/readyz", None, None).await;
    assert_eq!((status, body["ready"].clone()), (StatusCode::OK, json!(true)), "{body}");

    let engine = Engine::new(Store::temporary().expect("a store"), Arc::clone(&runtime));
    engine
        .add_tenant(Tenant::load(&tenant_dir, &plugin_dir(), &runtime, &|_| None).expect("loads"))
        .expect("added");
    let short = server::app(
        Arc::new(engine),
        server::Options {
            plugin_dir: plugin_dir(),
            min_free_disk_mib: Some(free_mib * 2 + 1),
            ..Default::default()
        },
    );
    let (status, body) = send(&short, "GET", "/readyz", None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body["reason"].as_str().is_some_and(|reason| reason.contains("MiB free")), "{body}");
}

#[tokio::test]
async fn stored_keys_are_shown_once_work_for_their_tenant_only_and_can_be_revoked() {
    let (app, _dir) = app();
    say(&app, "alpha", "c1", "hours", "k1").await;
    let label = Some(json!({ "label": "CRM sync" }).to_string());
    let (status, _) =
        send(&app, "POST", "/v1/admin/tenants/alpha/keys", Some("token-alpha"), label.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a tenant token is not the admin key");
    let (status, minted) = send(&app, "POST", "/v1/admin/tenants/alpha/keys", Some("admin-key"), label).await;
    assert_eq!(status, StatusCode::CREATED, "{minted}");
    let key = minted["key"].as_str().expect("the key, once").to_owned();
    let id = minted["id"].as_str().expect("an id").to_owned();

    let conversations = |tenant: &str| format!("/v1/tenants/{tenant}/conversations");
    assert_eq!(send(&app, "GET", &conversations("alpha"), Some(&key), None).await.0, StatusCode::OK);
    assert_eq!(send(&app, "GET", &conversations("beta"), Some(&key), None).await.0, StatusCode::UNAUTHORIZED);

    let (_, listed) = send(&app, "GET", "/v1/tenants/alpha/keys", Some(&key), None).await;
    // The bootstrap token of tenant.toml is listed first, then the stored keys.
    assert_eq!(listed["keys"][0]["id"], "bootstrap");
    assert_eq!(listed["keys"][1]["label"], "CRM sync");
    assert!(!listed.to_string().contains(&key[key.len() - 16..]), "the secret is never shown again");
    assert!(!listed.to_string().contains("token-alpha"), "nor is the bootstrap token");
    assert!(listed["keys"][1].get("hash").is_none());

    let (status, _) =
        send(&app, "DELETE", &format!("/v1/tenants/alpha/keys/{id}"), Some("token-alpha"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        send(&app, "GET", &conversations("alpha"), Some(&key), None).await.0,
        StatusCode::UNAUTHORIZED
    );

    let (_, tenants) = send(&app, "GET", "/v1/admin/tenants", Some("admin-key"), None).await;
    assert_eq!(tenants["tenants"][0]["name"], "alpha");
    assert_eq!(tenants["tenants"][0]["channels"], json!(["whatsapp", "telegram"]));
    assert!(!tenants.to_string().contains("wa-secret-alpha"), "channel secrets are never echoed");
}

#[tokio::test]
async fn the_operator_creates_and_removes_tenants() {
    let (app, dir) = app();
    let new = |name: &str, flow: &str| {
        Some(json!({ "name": name, "timezone": "Asia/Yerevan", "flow": flow, "web_chat": true }).to_string())
    };
    let flow = crate::support::HOURS_FLOW;
    let (status, _) = send(&app, "POST", "/v1/admin/tenants", Some("token-alpha"), new("gamma", flow)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, created) =
        send(&app, "POST", "/v1/admin/tenants", Some("admin-key"), new("gamma", flow)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let key = created["key"].as_str().expect("a first key").to_owned();
    let (status, _) = say(&app, "gamma", "g1", "hours?", "g-m1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        send(&app, "GET", "/v1/tenants/gamma/conversations", Some(&key), None).await.0,
        StatusCode::OK
    );

    let (status, _) = send(&app, "POST", "/v1/admin/tenants", Some("admin-key"), new("gamma", flow)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) =
        send(&app, "POST", "/v1/admin/tenants", Some("admin-key"), new("delta", "version = ")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(!dir.path().join("delta").exists(), "nothing is left of a tenant that failed to load");

    let (status, _) = send(&app, "DELETE", "/v1/admin/tenants/gamma", Some("admin-key"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(say(&app, "gamma", "g1", "hours?", "g-m2").await.0, StatusCode::NOT_FOUND);
    assert!(dir.path().join(".removed").exists(), "its directory is set aside, not deleted");
}
