//! A tenant edits its own flow, hours, channel credentials and plugins over
//! the API; a bad edit changes nothing, and secrets never come back out.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use switchboard::tenant::Tenant;

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
    let managed = std::fs::read_to_string(dir.path().join("alpha/managed.toml")).expect("managed.toml");
    assert!(managed.contains("component = \"plugins/pricing-"), "{managed}");
    assert!(managed.contains("config_file = \"plugins/pricing-"), "{managed}");
    let operator_file = std::fs::read_to_string(dir.path().join("alpha/tenant.toml")).expect("tenant.toml");
    assert!(!operator_file.contains("pricing"), "the operator's file is never written: {operator_file}");
}

/// C1: values a tenant writes are never expanded, so `${VAR}` in them reads
/// nothing of the server's environment.
#[tokio::test]
async fn a_variable_a_tenant_writes_stays_literal() {
    // SAFETY: set once before any thread reads it; other tests do not read this name.
    unsafe { std::env::set_var("SWITCHBOARD_TEST_SERVER_SECRET", "the-servers-own-secret") };
    let (app, _dir) = app();
    let secrets = json!({ "app_secret": "s", "verify_token": "v", "phone_number_id": "${SWITCHBOARD_TEST_SERVER_SECRET}" });
    let (status, shown) = put(
        &app,
        "/v1/tenants/alpha/channels/whatsapp",
        "token-alpha",
        "application/json",
        secrets.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["whatsapp"]["phone_number_id"], json!("${SWITCHBOARD_TEST_SERVER_SECRET}"));
    let calendar = json!({ "timezone": "${SWITCHBOARD_TEST_SERVER_SECRET}" }).to_string().into_bytes();
    let (status, body) =
        put(&app, "/v1/tenants/alpha/calendar", "token-alpha", "application/json", calendar).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!body.to_string().contains("the-servers-own-secret"), "{body}");
}

/// C2: a crafted value cannot add keys of its own (grants, limits, paths).
#[tokio::test]
async fn a_crafted_value_adds_nothing_to_the_tenant() {
    let (app, dir) = app();
    let injection = "x}\"\n[plugins.evil]\ncomponent = \"hostile_fixture\"\ngrants = { kv = true }\n#${";
    let secrets = json!({ "app_secret": injection, "verify_token": injection, "access_token": "${" });
    let (status, shown) = put(
        &app,
        "/v1/tenants/alpha/channels/messenger",
        "token-alpha",
        "application/json",
        secrets.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    let (status, body) =
        put(&app, "/v1/tenants/alpha/plugins/evil/config", "token-alpha", "application/json", b"{}".to_vec())
            .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no binding named evil appeared: {body}");
    let managed = std::fs::read_to_string(dir.path().join("alpha/managed.toml")).expect("managed.toml");
    let parsed: toml::Table = toml::from_str(&managed).expect("managed.toml parses");
    assert!(parsed.get("plugins").is_none_or(|plugins| plugins.get("evil").is_none()), "{managed}");
}

/// C2: a tenant file cannot name a file outside its directory, nor raise
/// its limits past the host's ceiling.
#[test]
fn paths_stay_inside_the_tenant_and_limits_under_the_ceiling() {
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = crate::support::runtime();
    let other = crate::support::write_tenant(dir.path(), "other", "");
    std::fs::write(other.join("secret.json"), "{\"other tenant's\": true}").expect("write");
    let attempts = [
        ("config_file = \"../other/secret.json\"", "must be a relative path inside"),
        ("config_file = \"/etc/hostname\"", "must be a relative path inside"),
        ("config_file = \"link.json\"", "leads outside"),
        ("component = \"../../etc/x\"", "neither a name"),
        ("component = \"../other/x.wasm\"", "must be a relative path inside"),
        ("limits = { fuel = 2000000000 }", "above this host's ceiling"),
        ("limits = { memory_bytes = 536870912 }", "above this host's ceiling"),
    ];
    for (index, (line, expected)) in attempts.into_iter().enumerate() {
        let component =
            if line.starts_with("component") { "" } else { "component = \"pricing_calculator\"\n" };
        let name = format!("t{index}");
        let extra = format!("[plugins.pricing]\n{component}{line}");
        let tenant = crate::support::write_tenant(dir.path(), &name, "");
        let text = std::fs::read_to_string(tenant.join("tenant.toml")).expect("read");
        std::fs::write(tenant.join("tenant.toml"), format!("{text}{extra}\n")).expect("write");
        std::os::unix::fs::symlink(other.join("secret.json"), tenant.join("link.json")).expect("symlink");
        let error = Tenant::load(&tenant, &crate::support::plugin_dir(), &runtime, &|_| None)
            .map(|_| ())
            .expect_err(line);
        let error = format!("{error:#}");
        assert!(error.contains(expected), "{line}: {error}");
        assert!(!error.contains(&dir.path().display().to_string()), "no server path in {error}");
    }
}

/// A binding is checked against what the flow calls it for: a step needs a
/// `handler` export, the flow's `[understanding]` needs `classify`.
#[test]
fn a_plugin_bound_as_what_it_does_not_export_is_refused_at_load() {
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = crate::support::runtime();
    let flow = std::fs::read_to_string(
        crate::support::repo_root().join("tests/cases/llm-understanding-ru/tenant/flow.toml"),
    )
    .expect("the case's flow");
    let attempts = [
        (
            flow.replace("plugin = \"llm\"", "plugin = \"pricing\""),
            "does not export `understanding.classify`",
        ),
        (
            format!("{flow}\n[[intents.steps]]\nname = \"guess\"\nplugin = \"llm\"\n"),
            "exports only `understanding`",
        ),
    ];
    for (index, (flow, expected)) in attempts.into_iter().enumerate() {
        let tenant = dir.path().join(format!("t{index}"));
        std::fs::create_dir_all(&tenant).expect("mkdir");
        std::fs::write(tenant.join("flow.toml"), flow).expect("write flow");
        let toml = format!(
            "name = \"t{index}\"\nflow = \"flow.toml\"\n[calendar]\ntimezone = \"UTC\"\n\
             [plugins.llm]\ncomponent = \"llm_classifier\"\n[plugins.pricing]\ncomponent = \"pricing_calculator\"\n"
        );
        std::fs::write(tenant.join("tenant.toml"), toml).expect("write tenant");
        let error = Tenant::load(&tenant, &crate::support::plugin_dir(), &runtime, &|_| None)
            .map(|_| ())
            .expect_err(expected);
        assert!(format!("{error:#}").contains(expected), "{error:#}");
    }
}

/// A manifest for the hostile fixture: its config needs an integer `limit`,
/// and its samples are `steps`, each expecting the reply "fine".
fn with_manifest(samples: &[&str]) -> Vec<u8> {
    use switchboard_runtime::manifest::{self, Manifest};
    let wasm = std::fs::read(crate::support::plugin_dir().join("hostile_fixture.wasm")).expect("built");
    let samples: Vec<Value> = samples
        .iter()
        .map(|step| {
            json!({
                "name": format!("step {step}"),
                "input": { "tenant": "alpha", "conversation": "sample", "step": step, "channel": "telegram",
                           "contact": { "id": "c-1" }, "now": 1_767_585_600_000_i64 },
                "expect": { "decisions": [{ "reply": { "text": "fine" } }] }
            })
        })
        .collect();
    let manifest: Manifest = serde_json::from_value(json!({
        "name": "hostile", "version": "1.0.0", "language": "rust",
        "config_schema": { "type": "object", "properties": { "limit": { "type": "integer" } },
                           "additionalProperties": false },
        "samples": samples,
    }))
    .expect("a manifest");
    manifest::embed(&wasm, &manifest).expect("embedded")
}

#[tokio::test]
async fn an_upload_runs_its_manifests_samples_and_a_config_must_satisfy_its_schema() {
    let (app, _dir) = app();
    let upload = |wasm: Vec<u8>| {
        let app = app.clone();
        async move {
            put(&app, "/v1/tenants/alpha/plugins/hostile/component", "token-alpha", "application/wasm", wasm)
                .await
        }
    };
    // A build that traps on every call is refused, naming the sample.
    let (status, body) = upload(with_manifest(&["ok", "panic"])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "samples_failed");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("sample \"step panic\"") && message.contains(r#"got {"failure":"panic"}"#),
        "{message}"
    );
    assert!(!message.contains("step ok"), "only the failing sample is named: {message}");

    // An answer of a megabyte is shown by its start, not echoed whole.
    let (status, body) = upload(with_manifest(&["huge-reply"])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("sample \"step huge-reply\"") && message.len() < 4000,
        "{} bytes",
        message.len()
    );

    let (status, body) = upload(with_manifest(&["ok"])).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let config = |value: Value| {
        let app = app.clone();
        async move {
            let body = value.to_string().into_bytes();
            put(&app, "/v1/tenants/alpha/plugins/hostile/config", "token-alpha", "application/json", body)
                .await
        }
    };
    let (status, body) = config(json!({ "limit": "ten" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("does not satisfy hostile 1.0.0's config_schema") && message.contains("/limit"),
        "{message}"
    );
    let (status, body) = config(json!({ "limt": 10 })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a typo: {body}");
    let (status, body) = config(json!({ "limit": 10 })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn every_change_of_a_binding_is_a_version_that_can_run_again() {
    let (app, _dir) = app();
    let put_config = |limit: u32| {
        let app = app.clone();
        async move {
            let body = json!({ "limit": limit }).to_string().into_bytes();
            put(&app, "/v1/tenants/alpha/plugins/hostile/config", "token-alpha", "application/json", body)
                .await
        }
    };
    let versions = || {
        let app = app.clone();
        async move {
            let (status, body) =
                send(&app, "GET", "/v1/tenants/alpha/plugins/hostile/versions", Some("token-alpha"), None)
                    .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["versions"].as_array().cloned().unwrap_or_default()
        }
    };
    let wasm = with_manifest(&["ok"]);
    let (status, body) =
        put(&app, "/v1/tenants/alpha/plugins/hostile/component", "token-alpha", "application/wasm", wasm)
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(put_config(1).await.0, StatusCode::OK);
    assert_eq!(put_config(2).await.0, StatusCode::OK);

    let listed = versions().await;
    let configs: Vec<&Value> = listed.iter().map(|version| &version["config"]).collect();
    assert_eq!(listed.len(), 3, "the upload, then each config: {listed:?}");
    assert_eq!(listed[0]["manifest"], "hostile 1.0.0");
    assert!(listed.iter().all(|version| version["component"] == listed[0]["component"]));
    assert_ne!(configs[1], configs[2]);

    let restore = |seq: u64| {
        let app = app.clone();
        async move {
            let uri = format!("/v1/tenants/alpha/plugins/hostile/versions/{seq}/restore");
            send(&app, "POST", &uri, Some("token-alpha"), None).await
        }
    };
    let (status, body) = restore(2).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed = versions().await;
    assert_eq!(listed.len(), 4, "a restore is a version of its own");
    assert_eq!((&listed[3]["config"], listed[3]["seq"].as_u64()), (configs[1], Some(4)));

    let (status, body) = restore(1).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "version 1 ran without a config, which cannot be said now: {body}"
    );
    assert_eq!(versions().await.len(), 4, "nothing changed");
    let (status, body) = restore(99).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("unknown_version")));
    let (status, _) =
        send(&app, "GET", "/v1/tenants/alpha/plugins/hostile/versions", Some("token-beta"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "beta's key cannot read alpha's versions");
}
