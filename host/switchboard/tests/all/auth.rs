//! Auth as types, proven route by route: every operation in the OpenAPI
//! document that declares a bearer refuses a request without a key, with
//! another tenant's key and with a revoked key, and takes the right one.
//! Every other operation is on the short list of public ones. Together with
//! `http::the_openapi_document_covers_every_api_route_the_server_registers`,
//! no route the server registers can skip its check.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::http::{app, send};

/// The operations anyone may call, and why.
const PUBLIC: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/v1/openapi.json"),
    // Web chat visitors: anonymous by design, rate limited, `web:` identities only.
    ("post", "/v1/tenants/{tenant}/messages"),
    ("get", "/v1/tenants/{tenant}/chat/{session}/ws"),
    // People signing in to the console (rate limited), or asking who they
    // are and signing out with the session cookie they hold.
    ("get", "/v1/session"),
    ("post", "/v1/session/login"),
    ("post", "/v1/session/link"),
    ("post", "/v1/session/logout"),
    // Providers: authenticated by their signature or secret token instead.
    ("get", "/webhooks/{tenant}/{channel}"),
    ("post", "/webhooks/{tenant}/{channel}"),
];

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

#[tokio::test]
async fn every_route_that_declares_a_bearer_refuses_a_missing_a_foreign_and_a_revoked_key() {
    let (app, _dir) = app();
    let revoked = revoked_key_of_alpha(&app).await;
    // A stored key of beta's, whose record lives under beta's prefix.
    let label = Some(json!({ "label": "beta's own" }).to_string());
    let (status, minted) = send(&app, "POST", "/v1/tenants/beta/keys", Some("token-beta"), label).await;
    assert_eq!(status, StatusCode::CREATED, "{minted}");
    let betas_stored_key = minted["key"].as_str().expect("the key").to_owned();
    let (status, doc) = send(&app, "GET", "/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);

    let mut walked = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            let Some(operation) = item.get(method) else { continue };
            if !declares_bearer(operation) {
                assert!(
                    PUBLIC.contains(&(method, path.as_str())),
                    "{method} {path} declares no bearer and is not on the public list"
                );
                continue;
            }
            let operator =
                path.starts_with("/v1/admin") || path.starts_with("/v1/catalog") || path == "/metrics";
            // Another tenant's key for a tenant route; a tenant's own key for an operator route.
            let foreign = if operator { "token-alpha" } else { "token-beta" };
            let uri = concrete(path, "alpha");
            let keys = [
                ("no key", None),
                ("another's token", Some(foreign)),
                ("another's stored key", Some(&betas_stored_key[..])),
                ("a revoked key", Some(&revoked[..])),
            ];
            for (what, key) in keys {
                let (status, body) = send(&app, &method.to_uppercase(), &uri, key, None).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri} with {what}: {body}");
                assert_eq!(body["error"]["code"], "unauthorized", "{method} {uri} with {what}");
            }
            // The right key gets past the check (operator routes on a tenant
            // that does not exist, so nothing real is removed).
            let (uri, key) = match path.as_str() {
                "/metrics" => (uri, "metrics-token"),
                _ if operator => (concrete(path, "ghost"), "admin-key"),
                _ => (uri, "token-alpha"),
            };
            let (status, body) = send(&app, &method.to_uppercase(), &uri, Some(key), None).await;
            assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {uri} with its own key: {body}");
            walked += 1;
        }
    }
    assert!(walked >= 25, "only {walked} routes declare a bearer");
}

/// A key of `alpha`'s, minted and then revoked through the API.
async fn revoked_key_of_alpha(app: &axum::Router) -> String {
    let label = Some(json!({ "label": "soon revoked" }).to_string());
    let (status, minted) = send(app, "POST", "/v1/tenants/alpha/keys", Some("token-alpha"), label).await;
    assert_eq!(status, StatusCode::CREATED, "{minted}");
    let id = minted["id"].as_str().expect("an id");
    let (status, _) =
        send(app, "DELETE", &format!("/v1/tenants/alpha/keys/{id}"), Some("token-alpha"), None).await;
    assert_eq!(status, StatusCode::OK);
    minted["key"].as_str().expect("the key").to_owned()
}

fn declares_bearer(operation: &Value) -> bool {
    operation["security"].as_array().is_some_and(|requirements| {
        requirements.iter().any(|requirement| requirement.get("bearer").is_some())
    })
}

/// The path with `{tenant}` filled in, and any other parameter made up.
fn concrete(path: &str, tenant: &str) -> String {
    path.split('/')
        .map(|segment| match segment {
            "{tenant}" => tenant,
            segment if segment.starts_with('{') => "x",
            segment => segment,
        })
        .collect::<Vec<_>>()
        .join("/")
}
