//! **L4**: what errors and public pages told a stranger.
//!
//! - 422 bodies named server paths (`failed to read component /srv/…`);
//!   errors now name files as the tenant's files name them.
//! - A tenant's API answered `unknown_tenant` before checking the key, so
//!   anyone could list which tenants a host serves; now every request
//!   without a valid key gets the same 401.
//! - `/` listed every tenant; outside the demo (`serve --demo`) it names none.

use serde_json::json;

use crate::support::{Options, Server, bearer, component, with_benign};

#[test]
fn l4_a_tenant_api_says_nothing_about_a_tenant_before_the_key_is_checked() {
    let server = Server::start(Options::new().env("MOVING_API_TOKEN", "the-moving-token"));
    with_benign(&server, || probe_tenant_names(&server));
}

fn probe_tenant_names(server: &Server) {
    let wrong = [("authorization", "Bearer sbk_0000_guess")];
    let mut answers = Vec::new();
    for tenant in ["moving", "no-such-tenant", "office"] {
        for path in ["conversations", "channels", "keys", "events"] {
            let response = server.get(&format!("/v1/tenants/{tenant}/{path}"), &wrong);
            assert_eq!(response.status, 401, "{tenant}/{path}: {}", response.body);
            let unauthenticated = server.get(&format!("/v1/tenants/{tenant}/{path}"), &[]);
            assert_eq!(unauthenticated.status, 401, "{tenant}/{path}: {}", unauthenticated.body);
            answers.push(response.body);
            answers.push(unauthenticated.body);
        }
    }
    answers.dedup();
    assert_eq!(answers.len(), 1, "the answers tell tenants apart: {answers:?}");
    // With the key, the tenant answers.
    let right = bearer("the-moving-token");
    let response = server.get("/v1/tenants/moving/channels", &[("authorization", right.as_str())]);
    assert_eq!(response.status, 200, "{}", response.body);
}

#[test]
fn l4_the_front_page_names_no_tenant_outside_the_demo() {
    let server = Server::start(Options::new());
    with_benign(&server, || {
        let page = server.get("/", &[]);
        assert_eq!(page.status, 200);
        for tenant in ["moving", "salon", "webshop", "office", "Swift Movers"] {
            assert!(!page.body.contains(tenant), "/ names {tenant:?}: {}", page.body);
        }
    });
    drop(server);
    let demo = Server::start(Options::new().switch("--demo"));
    let page = demo.get("/", &[]);
    assert!(page.body.contains("/chat/moving"), "the demo lists its tenants: {}", page.body);
    assert!(!page.body.contains("/chat/office"), "the demo lists an internal tenant: {}", page.body);
}

#[test]
fn l4_errors_name_no_path_of_the_server() {
    let server = Server::start(Options::new());
    with_benign(&server, || provoke_errors(&server));
}

fn provoke_errors(server: &Server) {
    let key = server.create_tenant("curious");
    let auth = bearer(&key);
    let headers = [("authorization", auth.as_str())];
    let tenants = server.tenants_dir().display().to_string();
    let paths = [tenants.as_str(), env!("CARGO_MANIFEST_DIR"), "/tmp/", "/root", "/home/"];
    let mut bodies = Vec::new();

    // Not a component; a component that exports nothing; a binding the
    // flow does not know with a config; a time zone that does not exist.
    for wasm in [b"not wasm at all".to_vec(), wat::parse_str("(component)").expect("wat")] {
        let response = server.put_wasm("/v1/tenants/curious/plugins/probe/component", &headers, &wasm);
        assert_eq!(response.status, 422, "{}", response.body);
        bodies.push(response.body);
    }
    let response = server.send_json(
        "PUT",
        "/v1/tenants/curious/calendar",
        &headers,
        &json!({ "timezone": "Mars/Olympus" }),
    );
    assert_eq!(response.status, 422, "{}", response.body);
    bodies.push(response.body);
    let response =
        server.put_toml("/v1/tenants/curious/flow", &headers, "version = 1\n[[intents]]\nname = 3\n");
    assert_eq!(response.status, 422, "{}", response.body);
    bodies.push(response.body);
    // A step that reads files and one that panics fail in events the tenant reads.
    let response = server.put_wasm(
        "/v1/tenants/curious/plugins/hostile/component",
        &headers,
        &component("hostile_fixture"),
    );
    assert_eq!(response.status, 200, "{}", response.body);
    let flow = r#"
version = "curious-1"
default_locale = "en"
menu.en = "Say go."
[handoff]
phrases.en = ["human"]
[[intents]]
name = "go"
title.en = "Go"
triggers.en = ["go"]
[[intents.steps]]
name = "open-file"
plugin = "hostile"
on_failure = "skip"
[[intents.steps]]
name = "panic"
plugin = "hostile"
on_failure = "skip"
[intents.done]
reply.en = "Done."
state = "resolved"
"#;
    let response = server.put_toml("/v1/tenants/curious/flow", &headers, flow);
    assert_eq!(response.status, 200, "{}", response.body);
    let turn =
        server.post_json("/v1/tenants/curious/messages", &json!({ "contact": { "id": "c" }, "text": "go" }));
    assert_eq!(turn.status, 200, "{}", turn.body);
    let failed = turn.json()["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|event| event["type"] == "step.failed")
        .count();
    assert_eq!(failed, 2, "both steps fail: {}", turn.body);
    bodies.push(turn.body);
    let events = server.get("/v1/tenants/curious/events", &headers);
    bodies.push(events.body);

    for body in &bodies {
        for path in paths {
            assert!(!body.contains(path), "{path:?} in {body}");
        }
    }
}
