//! **L5**: what a tenant exposes and for how long.
//!
//! - An internal tenant answered anonymous web chat. A tenant now serves
//!   web chat only when its `tenant.toml` says `web_chat = true`.
//! - The bootstrap `api_token` of `tenant.toml` could be neither revoked
//!   nor rotated. It is listed among the keys as `bootstrap`, revoked with
//!   `DELETE …/keys/bootstrap` (across restarts), and a new value the
//!   operator sets replaces it.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::json;

use crate::support::{Options, Server, bearer, with_benign};

#[test]
fn l5_an_internal_tenant_serves_no_web_chat() {
    let server = Server::start(Options::new());
    with_benign(&server, || chat_with_the_internal_tenant(&server));
}

fn chat_with_the_internal_tenant(server: &Server) {
    let message = json!({ "contact": { "id": "stranger" }, "text": "I need 40 chairs" });
    let response = server.post_json("/v1/tenants/office/messages", &message);
    assert_eq!(response.status, 404, "{}", response.body);
    assert_eq!(response.json()["error"]["code"], json!("web_chat_off"), "{}", response.body);
    let page = server.get("/chat/office", &[]);
    assert_eq!(page.status, 404, "{}", page.body);
    assert_eq!(websocket_status(server, "office"), 404, "the internal tenant's web chat socket opened");
    // A tenant that declares web chat answers it.
    let response = server.post_json("/v1/tenants/moving/messages", &message);
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(websocket_status(server, "moving"), 101);
}

/// The status a web chat WebSocket handshake gets.
fn websocket_status(server: &Server, tenant: &str) -> u16 {
    let mut stream = TcpStream::connect(server.addr).expect("connects");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("a timeout");
    let handshake = format!(
        "GET /v1/tenants/{tenant}/chat/stranger/ws HTTP/1.1\r\nhost: {}\r\nconnection: upgrade\r\n\
         upgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        server.addr
    );
    stream.write_all(handshake.as_bytes()).expect("a handshake");
    let mut status_line = String::new();
    BufReader::new(stream).read_line(&mut status_line).expect("a status line");
    status_line.split_whitespace().nth(1).and_then(|status| status.parse().ok()).unwrap_or(0)
}

#[test]
fn l5_the_bootstrap_token_can_be_revoked_and_rotated() {
    let mut server = Server::start(Options::new().env("MOVING_API_TOKEN", "first-token"));
    let first = bearer("first-token");
    let first = [("authorization", first.as_str())];
    let listed = server.get("/v1/tenants/moving/keys", &first);
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.json()["keys"][0]["id"], json!("bootstrap"), "{}", listed.body);
    assert!(!listed.body.contains("first-token"), "{}", listed.body);

    // Mint a stored key, then revoke the bootstrap token with it.
    let stored = with_benign(&server, || revoke_bootstrap(&server, &first));
    let stored = [("authorization", stored.as_str())];
    server.restart();
    assert_eq!(
        server.get("/v1/tenants/moving/channels", &first).status,
        401,
        "revocation did not survive a restart"
    );
    assert_eq!(
        server.get("/v1/tenants/moving/channels", &stored).status,
        200,
        "the stored key stopped working"
    );

    // The operator rotates it: a new value works, and the revoked one stays out.
    server.set_env("MOVING_API_TOKEN", "second-token");
    server.restart();
    let second = bearer("second-token");
    assert_eq!(server.get("/v1/tenants/moving/channels", &[("authorization", second.as_str())]).status, 200);
    assert_eq!(server.get("/v1/tenants/moving/channels", &first).status, 401);
}

/// Mint a stored key with the bootstrap token, revoke the bootstrap token
/// with the stored key; the stored key's bearer header value.
fn revoke_bootstrap(server: &Server, first: &[(&str, &str)]) -> String {
    let minted = server.send_json("POST", "/v1/tenants/moving/keys", first, &json!({ "label": "ops" }));
    assert_eq!(minted.status, 201, "{}", minted.body);
    let stored = bearer(minted.json()["key"].as_str().expect("a key"));
    let revoked = server.send_json(
        "DELETE",
        "/v1/tenants/moving/keys/bootstrap",
        &[("authorization", stored.as_str())],
        &json!({}),
    );
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(server.get("/v1/tenants/moving/channels", first).status, 401, "the revoked token still works");
    assert_eq!(server.get("/v1/tenants/moving/channels", &[("authorization", stored.as_str())]).status, 200);

    stored
}
