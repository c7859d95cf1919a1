//! Empty credentials that used to switch a check off.
//!
//! - L2: an empty metrics token matched a request with no token, so
//!   `/metrics` was open to anyone. An empty token now means metrics are off.
//! - L3: an empty Meta `app_secret` or `verify_token`, or Telegram
//!   `secret_token`, was accepted, so anyone could sign or answer for it and
//!   forge deliveries. They are now refused wherever they are set.

use serde_json::json;

use crate::support::{Options, Server, with_benign};

const TENANT_TOKEN: &str = "attack-moving-token";

#[test]
fn l2_an_empty_metrics_token_leaves_metrics_off() {
    let server = Server::start(Options::new().env("SWITCHBOARD_METRICS_TOKEN", ""));
    with_benign(&server, || {
        for headers in [&[][..], &[("authorization", "Bearer ")][..]] {
            let response = server.get("/metrics", headers);
            assert_eq!(response.status, 404, "/metrics with {headers:?}: {}", response.body);
        }
    });
}

#[test]
fn l3_a_tenant_cannot_set_an_empty_channel_secret() {
    let server = Server::start(Options::new().env("MOVING_API_TOKEN", TENANT_TOKEN));
    let bearer = format!("Bearer {TENANT_TOKEN}");
    let headers = [("authorization", bearer.as_str())];
    with_benign(&server, || attempt_blank_secrets(&server, &headers));
}

fn attempt_blank_secrets(server: &Server, headers: &[(&str, &str)]) {
    let blank = "  ";
    for (channel, secrets, field) in [
        ("whatsapp", json!({ "app_secret": "", "verify_token": "v" }), "app_secret"),
        ("messenger", json!({ "app_secret": "s", "verify_token": blank }), "verify_token"),
        ("telegram", json!({ "secret_token": "" }), "secret_token"),
    ] {
        let path = format!("/v1/tenants/moving/channels/{channel}");
        let response = server.send_json("PUT", &path, headers, &secrets);
        assert_eq!(response.status, 400, "PUT {path} {secrets}: {}", response.body);
        let message = response.json()["error"]["message"].as_str().unwrap_or_default().to_owned();
        assert!(message.contains(&format!("{field} must not be empty")), "{message:?}");
    }
    // The same request with real secrets is taken: the refusals were about emptiness.
    let path = "/v1/tenants/moving/channels/telegram";
    let response = server.send_json("PUT", path, headers, &json!({ "secret_token": "a-real-secret" }));
    assert_eq!(response.status, 200, "PUT {path}: {}", response.body);
}
