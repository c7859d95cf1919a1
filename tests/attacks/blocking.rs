//! Plugins that hold the host's time: sleeping, slow to start, costly to
//! compile.
//!
//! - **H1**: `std::thread::sleep` in a step is `subscribe-duration` plus
//!   `pollable.block`, time spent in the host where epochs cannot reach: a
//!   3 s sleep outlived a 100 ms deadline, sleeping calls used up the
//!   instance pool, and turns waiting on one sleeping conversation's lock
//!   filled the blocking pool until every tenant and `/readyz` hung. Host
//!   calls now end at the call's deadline, each tenant runs a bounded number
//!   of turns at once, and turn-lock waits are async.
//! - **H2**: a component whose start function sleeps hung its upload under
//!   the process-wide edit lock, and after a restart `serve` never listened.
//!   Instantiating it is bounded by the deadline too, edit locks are per
//!   tenant, and `serve` listens while tenants load in parallel.
//! - **H3**: a compile bomb (deeply nested blocks) took minutes and a
//!   gigabyte to compile, under the edit lock. Compiles run in a child
//!   process with CPU and memory limits, and a bomb is refused with a 422.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{
    ATTACKER, Baseline, Options, Server, assert_benign_ok_during, bearer, component, http_from, with_benign,
};

/// A tenant whose one intent runs the hostile fixture's `sleep` step (3 s
/// of `std::thread::sleep`) against a 100 ms deadline.
const SLEEP_FLOW: &str = r#"
version = "sleepy-1"
default_locale = "en"
menu.en = "Say go."
[handoff]
phrases.en = ["human"]
[[intents]]
name = "sleep"
title.en = "Sleep"
triggers.en = ["go"]
[[intents.steps]]
name = "sleep"
plugin = "hostile"
on_failure = "default"
default.en = "The step did not finish."
[intents.done]
reply.en = "Done."
state = "resolved"
"#;

/// The hostile fixture's sleep, unbounded.
const FIXTURE_SLEEP: Duration = Duration::from_secs(3);
/// The default step deadline, which the sleeping tenant's binding keeps.
const STEP_DEADLINE: Duration = Duration::from_millis(100);

/// Concurrent attack clients: new conversations each turn, and all on one.
const NEW_CONVERSATION_CLIENTS: usize = 16;
const ONE_CONVERSATION_CLIENTS: usize = 200;
const ATTACK_TIME: Duration = Duration::from_secs(8);

/// A tenant `name` running [`SLEEP_FLOW`] with the hostile fixture bound.
pub fn sleepy_tenant(server: &Server, name: &str) -> String {
    let key = server.create_tenant(name);
    let auth = bearer(&key);
    let headers = [("authorization", auth.as_str())];
    let path = format!("/v1/tenants/{name}/plugins/hostile/component");
    let response = server.put_wasm(&path, &headers, &component("hostile_fixture"));
    assert_eq!(response.status, 200, "uploading the hostile fixture: {}", response.body);
    let response = server.put_toml(&format!("/v1/tenants/{name}/flow"), &headers, SLEEP_FLOW);
    assert_eq!(response.status, 200, "the sleeping flow: {}", response.body);
    key
}

pub fn go(server: &Server, name: &str, contact: &str) -> std::io::Result<(Duration, Value)> {
    let body = json!({ "contact": { "id": contact }, "text": "go" }).to_string();
    let path = format!("/v1/tenants/{name}/messages");
    let started = Instant::now();
    let response = http_from(
        ATTACKER,
        server.addr,
        "POST",
        &path,
        &[("content-type", "application/json")],
        Some(&body),
    )?;
    Ok((started.elapsed(), response.json()))
}

#[test]
fn h1_a_sleeping_step_ends_at_its_deadline_and_wedges_no_one() {
    let server = Server::start(Options::new());
    sleepy_tenant(&server, "sleepy");

    // One sleeping turn alone: the step fails at its deadline, not after 3 s.
    let (took, turn) = go(&server, "sleepy", "alone").expect("a turn");
    let failed = turn["events"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|event| event["type"] == "step.failed")
        .cloned()
        .unwrap_or_else(|| panic!("the sleeping step did not fail: {turn}"));
    assert_eq!(failed["data"]["code"], json!("deadline"), "{failed}");
    assert!(took < FIXTURE_SLEEP / 2, "a sleeping turn took {took:?}: the sleep outlived its deadline");

    let baseline = Baseline::measure(&server);
    let stop = AtomicBool::new(false);
    let turns = AtomicUsize::new(0);
    let worst_ready = assert_benign_ok_during(&server, baseline, || {
        std::thread::scope(|scope| {
            for client in 0..NEW_CONVERSATION_CLIENTS {
                let (server, stop, turns) = (&server, &stop, &turns);
                scope.spawn(move || {
                    let mut round = 0;
                    while !stop.load(Ordering::SeqCst) {
                        round += 1;
                        if go(server, "sleepy", &format!("flood-{client}-{round}")).is_ok() {
                            turns.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
            // Many turns queued on one conversation's lock, each waiting for
            // the sleeping turn ahead of it.
            for _ in 0..ONE_CONVERSATION_CLIENTS {
                let (server, stop) = (&server, &stop);
                scope.spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        let _ = go(server, "sleepy", "one-conversation");
                    }
                });
            }
            // Readiness answers throughout, and says ready: nothing is stuck.
            let started = Instant::now();
            let mut worst = Duration::ZERO;
            while started.elapsed() < ATTACK_TIME {
                let asked = Instant::now();
                let ready = server.get("/readyz", &[]);
                worst = worst.max(asked.elapsed());
                assert_eq!(ready.status, 200, "/readyz during the attack: {}", ready.body);
                std::thread::sleep(Duration::from_millis(250));
            }
            stop.store(true, Ordering::SeqCst);
            worst
        })
    });
    let turns = turns.load(Ordering::Relaxed);
    eprintln!("{turns} sleeping turns answered; /readyz took at most {worst_ready:?}");
    // Turns queued on one conversation hold none of the tenant's slots, so
    // its other conversations go on: at least one slot's worth of turns.
    let one_slot = (ATTACK_TIME.as_millis() / STEP_DEADLINE.as_millis()) as usize;
    assert!(turns >= one_slot, "the sleeping tenant's other conversations were starved: {turns} turns");
    assert!(worst_ready < Duration::from_secs(2), "/readyz took {worst_ready:?}");
}

/// Deeply nested blocks, which Cranelift compiles in time that grows with
/// the square of their depth: a component of one such function.
fn compile_bomb(depth: usize) -> Vec<u8> {
    let mut text = String::from("(component (core module (func\n");
    text.push_str(&"block\n".repeat(depth));
    text.push_str(&"end\n".repeat(depth));
    text.push_str(")))");
    wat::parse_str(&text).expect("the bomb parses")
}

#[test]
fn h3_a_compile_bomb_is_refused_quickly_and_never_reaches_start_up() {
    const CPU_SECS: u64 = 2;
    let mut server = Server::start(Options::new().flag("--compile-cpu-secs", &CPU_SECS.to_string()));
    let key = server.create_tenant("bomber");
    let auth = bearer(&key);
    let headers = [("authorization", auth.as_str())];
    // About 300 KB: minutes of compiling without the limit.
    let bomb = compile_bomb(100_000);
    let baseline = Baseline::measure(&server);
    let (took, response) = assert_benign_ok_during(&server, baseline, || {
        let started = Instant::now();
        let response = server.put_wasm("/v1/tenants/bomber/plugins/bomb/component", &headers, &bomb);
        (started.elapsed(), response)
    });
    eprintln!("the bomb was answered in {took:?}: {}", response.body);
    assert_eq!(response.status, 422, "{}", response.body);
    let message = response.json()["error"]["message"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains("component refused"), "{message}");
    assert!(took < Duration::from_secs(CPU_SECS * 10), "refusing the bomb took {took:?}");

    // Nothing of it stayed behind to be compiled again at start-up.
    let plugins = server.tenants_dir().join("bomber").join("plugins");
    let left: Vec<_> =
        std::fs::read_dir(&plugins).into_iter().flatten().flatten().map(|entry| entry.path()).collect();
    assert!(left.is_empty(), "the bomb's files stayed: {left:?}");
    let started = Instant::now();
    server.restart();
    eprintln!("restarted in {:?}", started.elapsed());
    let listed = server.get("/v1/tenants/bomber/channels", &headers);
    assert_eq!(listed.status, 200, "the tenant did not come back: {}", listed.body);
}

#[test]
fn h2_a_component_whose_start_sleeps_holds_up_no_one() {
    let slow_start = component("slow_start_fixture");
    let mut server = Server::start(Options::new());
    let key = server.create_tenant("slowpoke");
    let auth = bearer(&key);
    let headers = [("authorization", auth.as_str())];
    let other_key = server.create_tenant("bystander");
    let other_auth = bearer(&other_key);
    let other = [("authorization", other_auth.as_str())];

    // While the upload is checked, another tenant's edits go through.
    let (upload, bystander_edits) = with_benign(&server, || {
        std::thread::scope(|scope| {
            let uploading = scope.spawn(|| {
                let started = Instant::now();
                let response =
                    server.put_wasm("/v1/tenants/slowpoke/plugins/slow/component", &headers, &slow_start);
                (started.elapsed(), response)
            });
            let mut edits = Vec::new();
            while !uploading.is_finished() || edits.is_empty() {
                let started = Instant::now();
                let response = server.send_json(
                    "PUT",
                    "/v1/tenants/bystander/calendar",
                    &other,
                    &json!({ "timezone": "UTC" }),
                );
                assert_eq!(response.status, 200, "the bystander's edit: {}", response.body);
                edits.push(started.elapsed());
            }
            (uploading.join().expect("the upload"), edits)
        })
    });
    let (took, response) = upload;
    eprintln!("upload answered in {took:?}: {}; bystander edits: {bystander_edits:?}", response.body);
    assert_eq!(response.status, 422, "a component that cannot start was taken: {}", response.body);
    assert!(took < Duration::from_secs(10), "checking the upload took {took:?}");
    let slowest = bystander_edits.iter().max().copied().unwrap_or_default();
    assert!(slowest < Duration::from_secs(2), "a bystander's edit took {slowest:?}");

    // Planted by the operator instead, it keeps only its own tenant from
    // loading: serve listens, the others serve, and it answers 503.
    let planted = server.tenants_dir().join("slowpoke");
    std::fs::write(planted.join("slow_start.wasm"), &slow_start).expect("plant the component");
    let tenant_toml = std::fs::read_to_string(planted.join("tenant.toml")).expect("tenant.toml");
    std::fs::write(
        planted.join("tenant.toml"),
        format!("{tenant_toml}\n[plugins.slow]\ncomponent = \"slow_start.wasm\"\n"),
    )
    .expect("bind it");
    server.restart();
    let answer = server.get("/v1/tenants/slowpoke/channels", &headers);
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(answer.json()["error"]["code"], json!("tenant_unavailable"), "{}", answer.body);
    let bystander = server.get("/v1/tenants/bystander/channels", &other);
    assert_eq!(bystander.status, 200, "{}", bystander.body);
    crate::support::benign_quote(&server);
}
