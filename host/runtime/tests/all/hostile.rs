//! Plugins that misbehave on purpose: each ends in its typed failure, within
//! its limits, and the host keeps serving everyone else.

use std::time::Duration;

use switchboard_core::contract::{Decision, StepError, Value};
use switchboard_runtime::{CallContext, FailureKind, Limits, StepFailure};

use crate::support::{context, hostile, input};

fn attack(step: &str, context: CallContext) -> StepFailure {
    match hostile().call(&input("mallory", step), context) {
        Ok(outcome) => panic!("{step} should fail, but returned {:?}", outcome.decisions),
        Err(failure) => failure,
    }
}

fn refused(failure: &StepFailure) -> &str {
    match &failure.kind {
        FailureKind::Guest(StepError::Refused(message)) => message,
        other => panic!("expected the guest to report a blocked attempt, got {other:?}"),
    }
}

#[test]
fn an_infinite_loop_runs_out_of_fuel_at_the_budget() {
    let limits = Limits { fuel: 1_000_000, ..Limits::default() };
    let failure = attack("loop", CallContext { limits, ..context() });
    assert_eq!(failure.kind, FailureKind::FuelExhausted { budget: 1_000_000 });
    assert_eq!(failure.report.fuel_used, 1_000_000);
}

#[test]
fn a_busy_loop_with_ample_fuel_hits_the_wall_clock_deadline() {
    let limits = Limits { fuel: u64::MAX / 2, timeout: Duration::from_millis(30), ..Limits::default() };
    let failure = attack("busy-wait", CallContext { limits, ..context() });
    assert_eq!(failure.kind, FailureKind::Deadline { timeout: Duration::from_millis(30) });
    // Bounded, not exact: epochs tick every millisecond and the machine is shared.
    assert!(failure.report.wall_time < Duration::from_secs(5), "took {:?}", failure.report.wall_time);
}

/// Issue 12, H1: a sleep blocks in the host, where epochs cannot reach; the
/// bounded `wasi:io/poll` gives up at the deadline all the same.
#[test]
fn a_sleep_in_the_host_ends_at_the_deadline() {
    let limits = Limits { timeout: Duration::from_millis(50), ..Limits::default() };
    let started = std::time::Instant::now();
    let failure = attack("sleep", CallContext { limits, ..context() });
    assert_eq!(failure.kind, FailureKind::Deadline { timeout: Duration::from_millis(50) });
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
}

#[test]
fn a_memory_bomb_stops_at_the_memory_limit() {
    let limits = Limits { memory_bytes: 16 << 20, ..Limits::default() };
    let failure = attack("memory-bomb", CallContext { limits, ..context() });
    match failure.kind {
        FailureKind::MemoryLimit { limit_bytes, requested_bytes } => {
            assert_eq!(limit_bytes, 16 << 20);
            assert!(requested_bytes > limit_bytes);
        }
        other => panic!("expected a memory limit failure, got {other:?}"),
    }
    assert!(failure.report.peak_memory_bytes <= 16 << 20);
}

#[test]
fn deep_recursion_is_a_stack_overflow() {
    assert_eq!(attack("recursion", context()).kind, FailureKind::StackOverflow);
}

#[test]
fn a_panic_is_reported_with_its_message() {
    match attack("panic", context()).kind {
        FailureKind::Panic { message } => assert_eq!(message, "the hostile plugin panics on purpose"),
        other => panic!("expected a panic, got {other:?}"),
    }
}

#[test]
fn a_denial_that_names_the_next_intent_crosses_the_boundary() {
    use switchboard_core::contract::{Decision, Verdict};
    let outcome = hostile().call(&input("mallory", "deny-then"), context()).expect("answered");
    assert_eq!(
        outcome.decisions,
        [Decision::Verdict(Verdict::DenyThen { reason: "final sale".into(), next: "exchange".into() })]
    );
}

#[test]
fn a_guest_error_is_a_refusal_not_a_trap() {
    let failure = attack("guest-error", context());
    assert_eq!(failure.kind, FailureKind::Guest(StepError::Refused("no, on purpose".into())));
}

#[test]
fn a_refusal_or_crash_of_megabytes_is_cut_to_what_the_host_keeps() {
    match attack("huge-refusal", context()).kind {
        FailureKind::Guest(StepError::Refused(message)) => assert_eq!(message.chars().count(), 1001),
        other => panic!("expected a refusal, got {other:?}"),
    }
    match attack("huge-crash", context()).kind {
        FailureKind::Crashed(crash) => {
            assert_eq!(crash.message.chars().count(), 1001, "the message's head and an ellipsis");
            assert_eq!(crash.traceback.chars().count(), 4000, "the traceback's innermost end");
        }
        other => panic!("expected a crash, got {other:?}"),
    }
}

#[test]
fn the_filesystem_is_not_there() {
    assert!(refused(&attack("open-file", context())).starts_with("blocked: open /etc/passwd"));
    assert!(refused(&attack("list-root", context())).starts_with("blocked: read_dir /"));
}

#[test]
fn the_environment_and_arguments_are_empty() {
    assert_eq!(refused(&attack("read-env", context())), "blocked: no environment, no arguments");
}

#[test]
fn sockets_are_denied() {
    let message = refused(&attack("open-socket", context())).to_owned();
    assert!(message.starts_with("blocked: "), "{message}");
}

#[test]
fn the_clock_is_the_steps_now_not_the_hosts() {
    let outcome = hostile().call(&input("mallory", "clock"), context()).expect("clock step runs");
    assert_eq!(
        outcome.decisions,
        [Decision::SetField {
            name: "wall-clock-ms".into(),
            value: Value::Number(crate::support::NOW as f64)
        }]
    );
}

#[test]
fn every_call_gets_a_fresh_instance() {
    for _ in 0..3 {
        let outcome = hostile().call(&input("mallory", "static-counter"), context()).expect("runs");
        assert_eq!(
            outcome.decisions,
            [Decision::SetField { name: "calls".into(), value: Value::Number(1.0) }]
        );
    }
}

#[test]
fn the_host_keeps_serving_while_plugins_misbehave() {
    let attacks = ["loop", "busy-wait", "memory-bomb", "recursion", "panic", "open-file", "open-socket"];
    std::thread::scope(|scope| {
        let attackers: Vec<_> = attacks
            .iter()
            .map(|step| {
                scope.spawn(move || {
                    let limits = Limits { timeout: Duration::from_millis(200), ..Limits::default() };
                    for _ in 0..3 {
                        let result =
                            hostile().call(&input("mallory", step), CallContext { limits, ..context() });
                        assert!(result.is_err(), "{step} should fail");
                    }
                })
            })
            .collect();
        let good = scope.spawn(|| {
            for _ in 0..200 {
                let outcome = hostile().call(&input("alice", "ok"), context()).expect("good calls succeed");
                assert_eq!(outcome.decisions.len(), 1);
            }
        });
        good.join().expect("the good caller never panics");
        for attacker in attackers {
            attacker.join().expect("attackers end in typed failures");
        }
    });
}
