//! **M5**: no quotas or rate limits. Anonymous web chat could write about
//! 17 MB/s to disk and take the host's CPU from every tenant, a kv-granted
//! plugin could write about 640 MB/s, and a turn could store 8 MiB of
//! replies. Now:
//!
//! - web chat messages are rate limited per client address and per tenant
//!   (`server/rate.rs`): 429 `rate_limited` with `Retry-After`;
//! - a tenant's plugins keep at most `--kv-keys-per-tenant` keys and
//!   `--kv-mib-per-tenant` of kv state together: past it the guest gets
//!   `host-error::limit`;
//! - a step's decisions take at most 64 KiB (`output_too_large`, a
//!   `step.failed` event), and a visitor's message 4096 characters (413
//!   `message_too_long`);
//! - a tenant commits at most `--events-per-tenant-per-day` events per UTC
//!   day; past it, new messages get 429 `quota_exceeded` until the next.
//!
//! Refusals before a turn (rate, message size, the day's events) are
//! counted in metrics and the server's log, not as events: writing an
//! event per refused message would be the very write the limit prevents.
//!
//! The operator sets each; a tenant's `tenant.toml` `[quotas]` overrides the
//! rate and kv quotas for that tenant.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;

use crate::support::{
    ATTACKER, Baseline, Options, Server, assert_benign_ok_during, http_from, unlimited_yardstick, with_benign,
};

fn post(server: &Server, from: IpAddr, tenant: &str, visitor: &str) -> crate::support::Response {
    let body = json!({ "contact": { "id": visitor }, "text": "hello" }).to_string();
    let path = format!("/v1/tenants/{tenant}/messages");
    http_from(from, server.addr, "POST", &path, &[("content-type", "application/json")], Some(&body))
        .expect("an answer")
}

fn events_of(server: &Server, tenant: &str, token: &str) -> usize {
    let events = server.get(
        &format!("/v1/tenants/{tenant}/events?limit=1000"),
        &[("authorization", &format!("Bearer {token}"))],
    );
    assert_eq!(events.status, 200, "{}", events.body);
    // Conversations' events only: the tenant's own (its plugin versions) are not turns.
    let logged = events.json()["events"].as_array().cloned().unwrap_or_default();
    logged.iter().filter(|logged| logged["event"]["conversation"] != "").count()
}

#[test]
fn m5_one_address_gets_its_burst_of_web_chat_then_429() {
    const PER_MINUTE: u32 = 60;
    let server = Server::start(
        Options::new()
            .flag("--web-chat-per-ip-per-minute", &PER_MINUTE.to_string())
            .env("SALON_API_TOKEN", "salon-token"),
    );
    let mut statuses = Vec::new();
    for visit in 0..40 {
        statuses.push(post(&server, ATTACKER, "salon", &format!("flood-{visit}")));
    }
    let accepted = statuses.iter().filter(|response| response.status == 200).count();
    let limited: Vec<_> = statuses.iter().filter(|response| response.status == 429).collect();
    eprintln!("{accepted} accepted, {} limited", limited.len());
    // The burst is five seconds' worth; a test this quick earns little more.
    assert!((5..=8).contains(&accepted), "{accepted} of 40 accepted at {PER_MINUTE}/min");
    assert_eq!(accepted + limited.len(), 40);
    assert_eq!(limited[0].json()["error"]["code"], json!("rate_limited"), "{}", limited[0].body);
    // Refused messages wrote nothing: the tenant's log holds the accepted turns only.
    let per_turn = statuses[0].json()["events"].as_array().map_or(0, Vec::len);
    let logged = events_of(&server, "salon", "salon-token");
    assert_eq!(logged, per_turn * accepted, "refused messages were logged");
    // Another address is not held back by this one.
    let other = post(&server, IpAddr::V4(Ipv4Addr::new(127, 0, 3, 1)), "salon", "someone-else");
    assert_eq!(other.status, 200, "{}", other.body);
}

#[test]
fn m5_a_flooded_tenant_is_limited_and_the_others_go_on() {
    const PER_MINUTE: u32 = 600;
    let options = Options::new().flag("--web-chat-per-tenant-per-minute", &PER_MINUTE.to_string());
    // The benign yardstick's tenant has a rate of its own in its tenant.toml.
    let server = Server::start_with(options, |tenants| unlimited_yardstick(tenants, "web_chat_per_minute"));
    let baseline = Baseline::measure(&server);
    let stop = AtomicBool::new(false);
    let (accepted, limited) = (AtomicUsize::new(0), AtomicUsize::new(0));
    assert_benign_ok_during(&server, baseline, || {
        std::thread::scope(|scope| {
            // From many addresses, so only the tenant's own limit holds them.
            for client in 0..8u8 {
                let (server, stop, accepted, limited) = (&server, &stop, &accepted, &limited);
                scope.spawn(move || {
                    let from = IpAddr::V4(Ipv4Addr::new(127, 0, 4, client + 1));
                    let mut visit = 0;
                    while !stop.load(Ordering::SeqCst) {
                        visit += 1;
                        match post(server, from, "webshop", &format!("f-{client}-{visit}")).status {
                            200 => accepted.fetch_add(1, Ordering::Relaxed),
                            429 => {
                                // The attacker's CPU is this machine's too: no spinning.
                                std::thread::sleep(Duration::from_millis(20));
                                limited.fetch_add(1, Ordering::Relaxed)
                            }
                            other => panic!("the flood got {other}"),
                        };
                    }
                });
            }
            std::thread::sleep(Duration::from_secs(3));
            stop.store(true, Ordering::SeqCst);
        });
    });
    let (accepted, limited) = (accepted.load(Ordering::Relaxed), limited.load(Ordering::Relaxed));
    eprintln!("the flooded tenant took {accepted} messages and refused {limited}");
    // Five seconds' burst plus three seconds at the rate, with some slack.
    let allowed = (PER_MINUTE / 12 + PER_MINUTE / 20) as usize;
    assert!(accepted <= allowed + allowed / 5, "{accepted} accepted, the limit allows about {allowed}");
    assert!(limited > 0, "the flood was never limited");
}

/// A tenant the operator set up with the hostile fixture, its `kv` granted.
fn plant_kv_tenant(tenants: &std::path::Path) {
    let dir = tenants.join("hog");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("tenant.toml"),
        "name = \"hog\"\nflow = \"flow.toml\"\nweb_chat = true\napi_token = \"hog-token\"\n\
         [calendar]\ntimezone = \"UTC\"\n\
         [plugins.hostile]\ncomponent = \"hostile_fixture\"\ngrants = { kv = true }\n\
         limits = { timeout_ms = 2000 }\n",
    )
    .expect("tenant.toml");
    let flow = r#"
version = "hog-1"
default_locale = "en"
menu.en = "Say flood or huge."
[handoff]
phrases.en = ["human"]
[[intents]]
name = "flood"
title.en = "Flood"
triggers.en = ["flood"]
[[intents.steps]]
name = "kv-flood"
plugin = "hostile"
on_failure = "skip"
[intents.done]
reply.en = "Flooded."
state = "resolved"
[[intents]]
name = "huge"
title.en = "Huge"
triggers.en = ["huge"]
[[intents.steps]]
name = "huge-reply"
plugin = "hostile"
on_failure = "skip"
[intents.done]
reply.en = "Said it."
state = "resolved"
"#;
    std::fs::write(dir.join("flow.toml"), flow).expect("flow.toml");
}

fn hog_says(server: &Server, visitor: &str, text: &str) -> crate::support::Response {
    server.post_json("/v1/tenants/hog/messages", &json!({ "contact": { "id": visitor }, "text": text }))
}

/// What the kv flood wrote before the host said no, and what it said.
fn flood(server: &Server, visitor: &str) -> (u64, String) {
    let turn = hog_says(server, visitor, "flood");
    assert_eq!(turn.status, 200, "{}", turn.body);
    // What the plugin set is the tenant's to read, through its API.
    let token = crate::support::bearer("hog-token");
    let path = format!("/v1/tenants/hog/conversations/web:{visitor}");
    let turn = server.get(&path, &[("authorization", token.as_str())]);
    assert_eq!(turn.status, 200, "{}", turn.body);
    let events = turn.json()["events"].as_array().cloned().unwrap_or_default();
    let field = |name: &str| {
        events
            .iter()
            .find(|event| event["type"] == "field.collected" && event["data"]["field"] == name)
            .map(|event| event["data"]["value"].clone())
            .unwrap_or_else(|| panic!("no {name} in {}", turn.body))
    };
    let written = field("kv-written")["number"].as_f64().unwrap_or(-1.0);
    (written as u64, field("kv-error")["text"].as_str().unwrap_or_default().to_owned())
}

#[test]
fn m5_a_plugins_kv_state_stays_within_its_tenants_quota() {
    const KEYS: u64 = 300;
    let mut server =
        Server::start_with(Options::new().flag("--kv-keys-per-tenant", &KEYS.to_string()), plant_kv_tenant);
    let (written, error) = with_benign(&server, || flood(&server, "first"));
    eprintln!("the flood wrote {written} keys, then: {error}");
    assert_eq!(written, KEYS, "the quota is {KEYS} keys");
    assert!(error.contains("Limit") && error.contains("quota"), "{error}");
    // The quota holds across conversations and restarts: the flood rewrites
    // its own keys (which fit), and its first new key is refused.
    server.restart();
    let (written, error) = flood(&server, "second");
    assert_eq!(written, KEYS, "after a restart the flood wrote {written} keys, past the quota");
    assert!(error.contains("quota"), "{error}");
}

#[test]
fn m5_a_steps_output_and_a_visitors_message_are_capped() {
    let server = Server::start_with(Options::new(), plant_kv_tenant);
    with_benign(&server, || say_too_much(&server));
}

fn say_too_much(server: &Server) {
    let turn = hog_says(server, "big", "huge");
    assert_eq!(turn.status, 200, "{}", turn.body);
    assert!(turn.body.len() < 64 << 10, "a 1 MiB reply reached the customer: {} bytes", turn.body.len());
    let failed = turn.json()["events"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|event| event["type"] == "step.failed")
        .cloned()
        .unwrap_or_else(|| panic!("the huge step did not fail: {}", turn.body));
    assert_eq!(failed["data"]["code"], json!("output_too_large"), "{failed}");
    let events = server.get("/v1/tenants/hog/events", &[("authorization", "Bearer hog-token")]);
    assert!(
        events.body.len() < 64 << 10,
        "the 1 MiB reply was stored: {} bytes of events",
        events.body.len()
    );

    let long = "я".repeat(5000);
    let response = hog_says(server, "talker", &long);
    assert_eq!(response.status, 413, "{}", response.body);
    assert_eq!(response.json()["error"]["code"], json!("message_too_long"), "{}", response.body);
}

#[test]
fn m5_a_tenant_past_its_events_for_the_day_takes_no_new_message_and_the_others_do() {
    const EVENTS: u64 = 40;
    // The benign yardstick's tenant has a quota of its own in its tenant.toml.
    let options = Options::new().flag("--events-per-tenant-per-day", &EVENTS.to_string());
    let server = Server::start_with(options, |tenants| unlimited_yardstick(tenants, "events_per_day"));
    let (written, refused) = with_benign(&server, || {
        let mut written = 0;
        for visit in 0..EVENTS {
            let response = post(&server, ATTACKER, "salon", &format!("daily-{visit}"));
            match response.status {
                200 => written += response.json()["events"].as_array().map_or(0, Vec::len) as u64,
                _ => return (written, Some(response)),
            }
        }
        (written, None)
    });
    let refused = refused.unwrap_or_else(|| panic!("{written} events and no refusal"));
    eprintln!("refused after {written} events: {}", refused.body);
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.json()["error"]["code"], json!("quota_exceeded"), "{}", refused.body);
    assert!(written >= EVENTS, "refused at {written} events, before the quota of {EVENTS}");
    // One turn's events may go past it, never a second turn's.
    assert!(written < EVENTS * 2, "{written} events written");
}
