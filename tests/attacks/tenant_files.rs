//! What a tenant writes about itself through its own API.
//!
//! - **C1**: values a tenant wrote went into `tenant.toml`, which is
//!   expanded with `${NAME}` from the server's environment, so
//!   `${SWITCHBOARD_ADMIN_KEY}` came back in `GET …/channels` and in a 422.
//!   Values written through the API are now literal, and never expanded.
//! - **C2**: the expansion ran over raw text, across values and lines, so two
//!   crafted values could write a tenant its own grants, limits and paths.
//!   Expansion is now per parsed value, in the operator's file only.
//! - **M1**: a crash during an edit left a tenant that did not load. Edits
//!   are journalled: a restart finds the old version or the new one.
//! - **M2**: concurrent edits lost acknowledged changes, since `tenant.toml`
//!   was read before the lock was taken. Each tenant's edits are serialised.
//! - **C3**: a multipart publish (`POST …/versions`) or conversation replay
//!   takes a component of up to 48 MiB, and the config, flow or id list
//!   beside it rode in under the same limit: a megabyte config went into the
//!   tenant's files and the store, past the 64 KiB `PUT …/config` allows.
//!   Every part but a component is now held to that 64 KiB (413).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{
    ADMIN_KEY, Baseline, Options, Server, assert_benign_ok_during, bearer, component, with_benign,
};

/// What an attacker tenant is called.
const ATTACKER: &str = "mallory";

#[test]
fn c1_a_variable_a_tenant_writes_reads_nothing_of_the_server() {
    let server = Server::start(Options::new());
    let key = server.create_tenant(ATTACKER);
    with_benign(&server, || read_the_servers_environment(&server, &key));
}

fn read_the_servers_environment(server: &Server, key: &str) {
    let auth = bearer(key);
    let headers = [("authorization", auth.as_str())];
    let variable = "${SWITCHBOARD_ADMIN_KEY}";

    let secrets = json!({ "app_secret": variable, "verify_token": variable, "phone_number_id": variable });
    let response = server.send_json("PUT", "/v1/tenants/mallory/channels/whatsapp", &headers, &secrets);
    assert_eq!(response.status, 200, "{}", response.body);
    let shown = server.get("/v1/tenants/mallory/channels", &headers);
    assert!(!shown.body.contains(ADMIN_KEY), "GET channels shows the admin key: {}", shown.body);
    assert_eq!(shown.json()["whatsapp"]["phone_number_id"], json!(variable), "{}", shown.body);

    let response =
        server.send_json("PUT", "/v1/tenants/mallory/calendar", &headers, &json!({ "timezone": variable }));
    assert_eq!(response.status, 422, "{}", response.body);
    assert!(!response.body.contains(ADMIN_KEY), "the 422 quotes the admin key: {}", response.body);

    // The default form, and a name the server surely has, read nothing either.
    for value in ["${HOME}", "${PATH:-x}", "$${SWITCHBOARD_ADMIN_KEY}"] {
        let secrets = json!({ "app_secret": "s", "verify_token": "v", "phone_number_id": value });
        let response = server.send_json("PUT", "/v1/tenants/mallory/channels/instagram", &headers, &secrets);
        assert_eq!(response.status, 200, "{}", response.body);
        assert_eq!(response.json()["instagram"]["phone_number_id"], json!(value), "{}", response.body);
    }
    assert_key_opens_only_its_own_tenant(server, key);
}

/// The tenant's key reaches its own tenant and nothing else.
fn assert_key_opens_only_its_own_tenant(server: &Server, key: &str) {
    let auth = bearer(key);
    let headers = [("authorization", auth.as_str())];
    for path in ["/v1/admin/tenants", "/v1/tenants/moving/channels", "/v1/tenants/moving/conversations"] {
        let response = server.get(path, &headers);
        assert_eq!(response.status, 401, "{path} with the tenant's key: {}", response.body);
    }
}

#[test]
fn c2_crafted_values_write_no_grants_limits_or_paths() {
    let server = Server::start(Options::new());
    let key = server.create_tenant(ATTACKER);
    with_benign(&server, || inject_settings(&server, &key));
}

fn inject_settings(server: &Server, key: &str) {
    let auth = bearer(key);
    let headers = [("authorization", auth.as_str())];
    // Before the fix, `${` in one value and `}` in the next spanned both and
    // the lines between, which then parsed as TOML of the tenant's choosing.
    let injection = concat!(
        "x}\"\n[plugins.evil]\ncomponent = \"hostile_fixture\"\n",
        "grants = { kv = true, http = [\"169.254.169.254\"] }\n",
        "limits = { fuel = 2000000000, memory_bytes = 536870912 }\n",
        "config_file = \"../webshop/refunds.json\"\n#${"
    );
    let secrets = json!({ "app_secret": "${", "verify_token": injection, "access_token": "}" });
    let response = server.send_json("PUT", "/v1/tenants/mallory/channels/messenger", &headers, &secrets);
    assert_eq!(response.status, 200, "{}", response.body);
    let secrets = json!({ "secret_token": injection, "bot_token": "${" });
    let response = server.send_json("PUT", "/v1/tenants/mallory/channels/telegram", &headers, &secrets);
    assert_eq!(response.status, 200, "{}", response.body);

    let response = server.send_json("PUT", "/v1/tenants/mallory/plugins/evil/config", &headers, &json!({}));
    assert_eq!(response.status, 404, "a binding named evil appeared: {}", response.body);
    let operator = [("authorization", bearer(ADMIN_KEY))];
    let operator = [(operator[0].0, operator[0].1.as_str())];
    let listed = server.get("/v1/admin/tenants", &operator).json();
    let mallory = listed["tenants"]
        .as_array()
        .and_then(|tenants| tenants.iter().find(|tenant| tenant["name"] == ATTACKER))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(mallory["plugins"], json!([]), "the tenant bound plugins of its own: {mallory}");
    let file = std::fs::read_to_string(server.tenants_dir().join(ATTACKER).join("managed.toml"))
        .expect("managed.toml");
    let parsed: toml::Table = toml::from_str(&file).expect("managed.toml parses");
    let bindings = parsed.get("plugins").and_then(toml::Value::as_table).map_or(0, toml::Table::len);
    assert_eq!(bindings, 0, "the tenant wrote plugin bindings: {file}");

    assert_key_opens_only_its_own_tenant(server, key);
}

/// Edits of the whatsapp channel, numbered, until told to stop; the last
/// number acknowledged.
fn edit_until(server: &Server, headers: &[(&str, &str)], stop: &AtomicBool, acked: &AtomicU64) {
    let mut number = acked.load(Ordering::SeqCst);
    while !stop.load(Ordering::SeqCst) {
        number += 1;
        let secrets =
            json!({ "app_secret": "s", "verify_token": "v", "phone_number_id": number.to_string() });
        let path = "/v1/tenants/mallory/channels/whatsapp";
        match crate::support::http(
            server.addr,
            "PUT",
            path,
            &json_headers(headers),
            Some(&secrets.to_string()),
        ) {
            Ok(response) if response.status == 200 => acked.store(number, Ordering::SeqCst),
            // The server was killed mid-request: this one was not acknowledged.
            _ => return,
        }
    }
}

fn json_headers<'a>(headers: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    [("content-type", "application/json")].into_iter().chain(headers.iter().copied()).collect()
}

fn phone_number_id(server: &Server, headers: &[(&str, &str)], channel: &str) -> Option<u64> {
    let shown = server.get("/v1/tenants/mallory/channels", headers);
    assert_eq!(shown.status, 200, "the tenant does not answer: {}", shown.body);
    shown.json()[channel]["phone_number_id"].as_str().and_then(|id| id.parse().ok())
}

#[test]
fn m1_a_crash_during_edits_leaves_the_old_version_or_the_new() {
    const CRASHES: u64 = 6;
    let mut server = Server::start(Options::new());
    let key = server.create_tenant(ATTACKER);
    let auth = bearer(&key);
    let headers = [("authorization", auth.as_str())];
    let acked = AtomicU64::new(0);
    for crash in 0..CRASHES {
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let editing = scope.spawn(|| edit_until(&server, &headers, &stop, &acked));
            // Crash at a different moment of an edit each time.
            std::thread::sleep(Duration::from_millis(150 + 37 * crash));
            stop.store(true, Ordering::SeqCst);
            // Not crash_and_restart: the editor still borrows the server.
            server.kill();
            editing.join().expect("the editor");
        });
        server.restart();
        // Every benign step succeeds again once the server is back.
        crate::support::benign_quote(&server);
        let acknowledged = acked.load(Ordering::SeqCst);
        let found = phone_number_id(&server, &headers, "whatsapp").unwrap_or(0);
        eprintln!("crash {crash}: {acknowledged} acknowledged, {found} after the restart");
        // The edit in flight at the crash may have committed unacknowledged.
        assert!(
            found == acknowledged || found == acknowledged + 1,
            "after crash {crash}: {acknowledged} edits acknowledged, the tenant has edit {found}"
        );
        acked.store(found, Ordering::SeqCst);
    }
    assert!(acked.load(Ordering::SeqCst) > 0, "no edit was acknowledged between the crashes");
}

#[test]
fn m2_concurrent_edits_of_one_tenant_all_stick() {
    const ROUNDS: u64 = 10;
    let server = Server::start(Options::new());
    let key = server.create_tenant(ATTACKER);
    let auth = bearer(&key);
    let headers = [("authorization", auth.as_str())];
    let baseline = Baseline::measure(&server);
    assert_benign_ok_during(&server, baseline, || {
        for round in 1..=ROUNDS {
            std::thread::scope(|scope| {
                for channel in ["whatsapp", "messenger", "instagram"] {
                    let headers = &headers;
                    let server = &server;
                    scope.spawn(move || {
                        let secrets = json!({ "app_secret": "s", "verify_token": "v", "phone_number_id": round.to_string() });
                        let path = format!("/v1/tenants/mallory/channels/{channel}");
                        let response = server.send_json("PUT", &path, headers, &secrets);
                        assert_eq!(response.status, 200, "PUT {path}: {}", response.body);
                    });
                }
            });
            for channel in ["whatsapp", "messenger", "instagram"] {
                assert_eq!(
                    phone_number_id(&server, &headers, channel),
                    Some(round),
                    "round {round}: the acknowledged edit of {channel} was lost"
                );
            }
        }
    });
}

/// A `multipart/form-data` body of `(name, bytes)` parts.
fn form(parts: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "attack-boundary";
    let mut body = Vec::new();
    for (name, bytes) in parts {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[test]
fn c3_a_config_or_flow_beside_a_component_is_held_to_what_its_own_endpoint_takes() {
    let server = Server::start(Options::new());
    let key = server.create_tenant("stuffer");
    let auth = bearer(&key);
    let headers = [("authorization", auth.as_str())];
    let wasm = component("pricing_calculator");
    let huge = format!("{{\"currency\": \"AMD\", \"pad\": \"{}\"}}", "x".repeat(1 << 20));

    let (content_type, body) = form(&[("component", &wasm), ("config", huge.as_bytes())]);
    let response = server.send_bytes(
        "POST",
        "/v1/tenants/stuffer/plugins/pricing/versions",
        &headers,
        &content_type,
        &body,
    );
    assert_eq!(response.status, 413, "{}", response.body);
    assert_eq!(response.json()["error"]["code"], json!("too_large"));

    let flow = format!("version = \"x\"\n# {}\n", "x".repeat(1 << 20));
    let (content_type, body) = form(&[("flow", flow.as_bytes())]);
    let response =
        server.send_bytes("POST", "/v1/tenants/stuffer/conversations/replay", &headers, &content_type, &body);
    assert_eq!(response.status, 413, "{}", response.body);

    // Within the limit, the same publish is taken: only the size was refused.
    // (A config the plugin's `init` can parse: one it refuses is a 422 too.)
    let config = include_str!("../../plugins/pricing-calculator/config/moving.json");
    let (content_type, body) = form(&[("component", &wasm), ("config", config.as_bytes())]);
    let response = server.send_bytes(
        "POST",
        "/v1/tenants/stuffer/plugins/pricing/versions",
        &headers,
        &content_type,
        &body,
    );
    assert_eq!(response.status, 201, "{}", response.body);
}
