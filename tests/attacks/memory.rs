//! **M7**: 256 instances of 32 MiB meant one tenant could claim 8 GiB of
//! guest memory. Each step now reserves its binding's memory limit while it
//! runs, within a budget per tenant and one for the host
//! (`--guest-memory-per-tenant-mib`, `--guest-memory-mib`); a step past a
//! budget fails at once with `memory_busy`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::blocking::{go, sleepy_tenant};
use crate::support::{Baseline, Options, Server, assert_benign_ok_during, unlimited_yardstick};

/// Two steps at the default 32 MiB limit.
const TENANT_BUDGET_MIB: u64 = 64;
const STEP_MEMORY_MIB: u64 = 32;
/// The sleeping step holds its memory until its 100 ms deadline.
const STEP_DEADLINE: Duration = Duration::from_millis(100);
const CLIENTS: usize = 16;
/// The host's default web chat rate per tenant.
const ATTACKER_RATE_PER_MINUTE: u32 = 3_000;
const ATTACK_TIME: Duration = Duration::from_secs(4);

#[test]
fn m7_a_tenants_steps_hold_no_more_guest_memory_than_its_budget() {
    // The attacker's web chat is held to the default rate; the benign
    // yardstick's tenant gets a rate of its own, far above its traffic.
    let options = Options::new()
        .flag("--guest-memory-per-tenant-mib", &TENANT_BUDGET_MIB.to_string())
        .flag("--web-chat-per-tenant-per-minute", &ATTACKER_RATE_PER_MINUTE.to_string());
    let server = Server::start_with(options, |tenants| unlimited_yardstick(tenants, "web_chat_per_minute"));
    sleepy_tenant(&server, "hoarder");
    let baseline = Baseline::measure(&server);
    let stop = AtomicBool::new(false);
    let (ran, refused) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let took = assert_benign_ok_during(&server, baseline, || {
        let started = Instant::now();
        std::thread::scope(|scope| {
            for client in 0..CLIENTS {
                let (server, stop, ran, refused) = (&server, &stop, &ran, &refused);
                scope.spawn(move || {
                    let mut visit = 0;
                    while !stop.load(Ordering::SeqCst) {
                        visit += 1;
                        let Ok((_, turn)) = go(server, "hoarder", &format!("hoard-{client}-{visit}")) else {
                            continue;
                        };
                        if turn["error"]["code"] == "rate_limited" {
                            // The attacker's CPU is this machine's too: no spinning.
                            std::thread::sleep(Duration::from_millis(20));
                            continue;
                        }
                        let codes: Vec<String> = turn["events"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter(|event| event["type"] == "step.failed")
                            .filter_map(|event| event["data"]["code"].as_str().map(str::to_owned))
                            .collect();
                        match codes.first().map(String::as_str) {
                            Some("deadline") => ran.fetch_add(1, Ordering::Relaxed),
                            Some("memory_busy") => refused.fetch_add(1, Ordering::Relaxed),
                            other => panic!("the sleeping step ended with {other:?}: {turn}"),
                        };
                    }
                });
            }
            std::thread::sleep(ATTACK_TIME);
            stop.store(true, Ordering::SeqCst);
        });
        started.elapsed()
    });
    let (ran, refused) = (ran.load(Ordering::Relaxed), refused.load(Ordering::Relaxed));
    // At most this many steps fit in the budget at once, each for a deadline.
    let at_once = (TENANT_BUDGET_MIB / STEP_MEMORY_MIB) as f64;
    let most = at_once * took.as_secs_f64() / STEP_DEADLINE.as_secs_f64();
    eprintln!(
        "{ran} steps ran and {refused} were refused for memory in {took:?}; the budget allows {most:.0}"
    );
    assert!(refused > 0, "no step was refused: the budget was never reached");
    assert!(ran as f64 <= most * 1.2, "{ran} steps ran, more than {most:.0} fit in the budget");
    assert!(ran as f64 >= most * 0.3, "{ran} steps ran: the budget was not used");
}
