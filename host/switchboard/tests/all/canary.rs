//! A version published whole over the API, as a canary on half of the new
//! conversations: it is compared with the binding's own version call by
//! call, and rolled back by itself when it fails, taking its conversations
//! back to the binding's version. Every step is an event.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

use switchboard::engine::Engine;
use switchboard::server;
use switchboard::tenant::Tenant;
use switchboard_store::Store;

use crate::http::send;
use crate::support::{plugin_dir, runtime};

const FLOW: &str = "version = \"v1\"\ndefault_locale = \"en\"\nmenu.en = \"?\"\n\
    [[intents]]\nname = \"quote\"\ntitle.en = \"Quote\"\ntriggers.en = [\"price\"]\n\
    [[intents.fields]]\nname = \"rooms\"\ntype = \"number\"\nprompt.en = \"Rooms?\"\n\
    [[intents.steps]]\nname = \"price\"\nplugin = \"pricing\"\non_failure = \"skip\"\n\
    [intents.confirm]\nprompt.en = \"Total {total}. Book?\"\n\
    [intents.done]\nreply.en = \"Booked.\"\nstate = \"booked\"\n";

pub fn app() -> (Router, Arc<Engine>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let tenant_dir = dir.path().join("shop");
    std::fs::create_dir_all(&tenant_dir).expect("mkdir");
    std::fs::write(
        tenant_dir.join("tenant.toml"),
        "name = \"shop\"\nflow = \"flow.toml\"\napi_token = \"token-shop\"\nweb_chat = true\n\
         [calendar]\ntimezone = \"UTC\"\n[canary]\nmin_calls = 3\n\
         [self_service]\nlimits = { fuel = 100000000, timeout_ms = 1000, memory_mb = 64 }\n\
         grants = { log = true, kv = true }\n\
         [plugins.pricing]\ncomponent = \"pricing_calculator\"\n\
         config = { currency = \"AMD\", pricing = { modifiers = { base_minor = 1000000, base_label = \"Move\", modifiers = [] } } }\n",
    )
    .expect("tenant");
    std::fs::write(tenant_dir.join("flow.toml"), FLOW).expect("flow");
    let runtime = runtime();
    let engine = Arc::new(Engine::new(Store::temporary().expect("store"), Arc::clone(&runtime)));
    engine
        .add_tenant(Tenant::load(&tenant_dir, &plugin_dir(), &runtime, &|_| None).expect("loads"))
        .expect("added");
    let options = server::Options {
        tenants_root: Some(dir.path().to_owned()),
        plugin_dir: plugin_dir(),
        ..server::Options::default()
    };
    (server::app(engine.clone(), options), engine, dir)
}

/// A `multipart/form-data` body of `(name, bytes)` parts.
fn form(parts: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "switchboard-test-boundary";
    let mut body = Vec::new();
    for (name, bytes) in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn publish(app: &Router, parts: &[(&str, &[u8])]) -> (StatusCode, Value) {
    publish_to(app, "pricing", parts).await
}

/// Publish a version of `binding` of the tenant `shop`.
pub async fn publish_to(app: &Router, binding: &str, parts: &[(&str, &[u8])]) -> (StatusCode, Value) {
    publish_at(app, &format!("/v1/tenants/shop/plugins/{binding}/versions"), parts).await
}

async fn publish_at(app: &Router, uri: &str, parts: &[(&str, &[u8])]) -> (StatusCode, Value) {
    let (content_type, body) = form(parts);
    let request = Request::builder()
        .method("POST")
        .uri(uri)
        .header(header::AUTHORIZATION, "Bearer token-shop")
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn quote(app: &Router, contact: &str) -> Vec<String> {
    let mut replies = Vec::new();
    for text in ["price", "3"] {
        let body = json!({ "contact": { "id": contact }, "text": text }).to_string();
        let (status, answer) = send(app, "POST", "/v1/tenants/shop/messages", None, Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        replies.extend(
            answer["replies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["text"].as_str().map(str::to_owned)),
        );
    }
    replies
}

#[tokio::test]
async fn a_failing_canary_on_half_the_conversations_is_rolled_back_by_itself() {
    let (app, engine, _dir) = app();
    let failing = std::fs::read(plugin_dir().join("hostile_fixture.wasm")).expect("built");
    let (status, body) =
        publish(&app, &[("component", &failing), ("canary", b"50"), ("note", b"v2, on half")]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        (body["version"]["canary"].as_u64(), body["version"]["by"].as_str()),
        (Some(50), Some("bootstrap"))
    );
    assert_eq!(body["version"]["note"], "v2, on half");

    let (status, body) = publish(&app, &[("component", &failing)]).await;
    assert_eq!(status, StatusCode::CONFLICT, "a version for everyone waits for the canary: {body}");

    // Half of new conversations, by a hash of their id: some of these 40 run it.
    let mut totals = 0;
    for n in 0..40 {
        let replies = quote(&app, &format!("c{n}")).await;
        totals += replies.iter().filter(|reply| reply.starts_with("Total 10,000")).count();
    }
    assert!((5..40).contains(&totals), "the binding's version served the rest: {totals} of 40");

    // It failed on its first three calls, so it is withdrawn, and the
    // control plane takes it out of the tenant's settings.
    for _ in 0..100 {
        if engine.tenant("shop").expect("tenant").plugins["pricing"].canary.is_none() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(engine.tenant("shop").expect("tenant").plugins["pricing"].canary.is_none(), "rolled back");
    let after: Vec<String> = quote(&app, "after-rollback").await;
    assert!(after.iter().any(|reply| reply.starts_with("Total 10,000")), "{after:?}");

    let (_, page) = send(&app, "GET", "/v1/tenants/shop/events?limit=1000", Some("token-shop"), None).await;
    let events: Vec<&Value> =
        page["events"].as_array().into_iter().flatten().map(|logged| &logged["event"]).collect();
    let names: Vec<&str> = events.iter().filter_map(|event| event["type"].as_str()).collect();
    assert!(names.contains(&"plugin.version"), "{names:?}");
    let rolled_back = events
        .iter()
        .find(|event| event["type"] == "plugin.rolled_back")
        .unwrap_or_else(|| panic!("a rollback event: {names:?}"));
    assert_eq!(rolled_back["data"]["by"], "auto");
    assert!(
        rolled_back["data"]["reason"].as_str().is_some_and(|reason| reason.contains("calls failed")),
        "{rolled_back}"
    );

    let canary_failed = events
        .iter()
        .find(|event| event["type"] == "step.failed")
        .unwrap_or_else(|| panic!("the canary's failures: {names:?}"));
    let hostile = switchboard_runtime::ContentHash::of(&failing).to_string();
    assert_eq!(
        canary_failed["data"]["version"],
        hostile.as_str(),
        "a failure names the build: {canary_failed}"
    );
    let ran = events.iter().find(|event| event["type"] == "step.ran").expect("the binding's answers");
    assert_ne!(ran["data"]["version"], hostile.as_str());

    let (status, _) =
        send(&app, "GET", "/v1/tenants/shop/plugins/pricing/canary", Some("token-shop"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no canary any more");
    let (_, versions) =
        send(&app, "GET", "/v1/tenants/shop/plugins/pricing/versions", Some("token-shop"), None).await;
    assert_eq!(versions["versions"].as_array().map(Vec::len), Some(2), "{versions}");
    // Published again on purpose (a retry), it serves again.
    let (status, body) = publish(&app, &[("component", &failing), ("canary", b"10")]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, standing) =
        send(&app, "GET", "/v1/tenants/shop/plugins/pricing/canary", Some("token-shop"), None).await;
    assert_eq!(
        (standing["withdrawn"].as_bool(), standing["canary"]["calls"].as_u64()),
        (Some(false), Some(0)),
        "{standing}"
    );
}

#[tokio::test]
async fn a_healthy_canary_is_watched_then_promoted_and_a_config_comes_with_its_code() {
    let (app, engine, _dir) = app();
    let same = std::fs::read(plugin_dir().join("pricing_calculator.wasm")).expect("built");
    let dearer = br#"{"currency": "AMD", "pricing": {"modifiers": {"base_minor": 2000000, "base_label": "Move", "modifiers": []}}}"#;
    let (status, body) = publish(&app, &[("component", &same), ("config", dearer), ("canary", b"100")]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(quote(&app, "new").await.last().map(String::as_str), Some("Total 20,000 AMD. Book?"));
    let (status, standing) =
        send(&app, "GET", "/v1/tenants/shop/plugins/pricing/canary", Some("token-shop"), None).await;
    assert_eq!((status, standing["percent"].as_u64()), (StatusCode::OK, Some(100)), "{standing}");
    assert_eq!(standing["canary"]["calls"], 1);

    let (status, body) =
        send(&app, "POST", "/v1/tenants/shop/plugins/pricing/canary/promote", Some("token-shop"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let tenant = engine.tenant("shop").expect("tenant");
    assert!(tenant.plugins["pricing"].canary.is_none());
    assert!(
        tenant.plugins["pricing"].config.as_str().contains("2000000"),
        "the canary's config came with it"
    );
    let (status, _) =
        send(&app, "POST", "/v1/tenants/shop/plugins/pricing/canary/promote", Some("token-shop"), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "nothing left to promote");
}

#[tokio::test]
async fn a_version_published_in_the_background_is_followed_as_a_job() {
    let (app, engine, _dir) = app();
    let uri = "/v1/tenants/shop/plugins/pricing/versions?async=true";
    let same = std::fs::read(plugin_dir().join("pricing_calculator.wasm")).expect("built");
    let dearer = br#"{"currency": "AMD", "pricing": {"modifiers": {"base_minor": 3000000, "base_label": "Move", "modifiers": []}}}"#;
    let (status, body) = publish_at(&app, uri, &[("component", &same), ("config", dearer)]).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["job"]["id"].as_u64().expect("a job id");
    let follow = |id: u64| {
        let app = app.clone();
        async move {
            for _ in 0..200 {
                let (status, job) =
                    send(&app, "GET", &format!("/v1/tenants/shop/jobs/{id}"), Some("token-shop"), None).await;
                assert_eq!(status, StatusCode::OK, "{job}");
                if job["stage"] == "done" || job["stage"] == "failed" {
                    return job;
                }
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            panic!("job {id} never finished");
        }
    };
    let job = follow(id).await;
    assert_eq!(job["stage"], "done", "{job}");
    assert_eq!(job["result"]["version"]["seq"], 2, "{job}");
    assert!(engine.tenant("shop").expect("tenant").plugins["pricing"].config.as_str().contains("3000000"));

    let (status, body) = publish_at(&app, uri, &[("component", b"not wasm")]).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let job = follow(body["job"]["id"].as_u64().expect("an id")).await;
    assert_eq!(
        (job["stage"].as_str(), job["error"]["code"].as_str()),
        (Some("failed"), Some("invalid_component")),
        "{job}"
    );
    let (status, _) =
        send(&app, "GET", &format!("/v1/tenants/shop/jobs/{}", id + 100), Some("token-shop"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_shadow_answers_beside_the_binding_on_the_same_inputs_and_is_never_applied() {
    let (app, _engine, _dir) = app();
    let same = std::fs::read(plugin_dir().join("pricing_calculator.wasm")).expect("built");
    let dearer = br#"{"currency": "AMD", "pricing": {"modifiers": {"base_minor": 2000000, "base_label": "Move", "modifiers": []}}}"#;
    let (status, body) =
        publish(&app, &[("component", &same), ("config", dearer), ("shadow", b"true")]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for n in 0..4 {
        let replies = quote(&app, &format!("s{n}")).await;
        assert_eq!(
            replies.last().map(String::as_str),
            Some("Total 10,000 AMD. Book?"),
            "only the live answer is applied"
        );
    }
    let mut standing = Value::Null;
    for _ in 0..100 {
        let (status, body) =
            send(&app, "GET", "/v1/tenants/shop/plugins/pricing/canary", Some("token-shop"), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        standing = body;
        if standing["shadow"]["calls"] == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let shadow = &standing["shadow"];
    assert_eq!((shadow["calls"].as_u64(), shadow["changed"].as_u64()), (Some(4), Some(4)), "{standing}");
    let difference = &shadow["differences"][0];
    assert!(difference["recorded"].to_string().contains("1000000"), "{difference}");
    assert!(difference["candidate"].to_string().contains("2000000"), "{difference}");
    assert_eq!(standing["canary"]["calls"], 0, "a shadow serves no conversation");

    let (status, body) = publish(&app, &[("component", &same), ("shadow", b"true"), ("canary", b"5")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a canary or a shadow: {body}");
}
