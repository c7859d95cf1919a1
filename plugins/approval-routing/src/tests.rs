use switchboard_sdk::testing::{InputBuilder, input};
use switchboard_sdk::{Decision, Due, Field, Plugin, Priority, StepError, Value};

use crate::{ApprovalRouting, ESCALATE};

const OFFICE: &str = include_str!("../config/office.json");

fn request(branch: &str, amount_minor: i64) -> InputBuilder {
    input("approver")
        .config(OFFICE)
        .now(1_767_600_000_000)
        .text("branch", branch)
        .text("item", "printer")
        .money("amount", amount_minor, "AMD")
}

fn field(decisions: &[Decision], name: &str) -> Option<String> {
    decisions.iter().find_map(|decision| match decision {
        Decision::SetField(Field { name: set, value: Value::Text(text) }) if set == name => {
            Some(text.clone())
        }
        _ => None,
    })
}

#[test]
fn a_branch_request_goes_to_the_branch_approver_with_a_backup_and_a_deadline() {
    let decisions = ApprovalRouting::run(request("Gyumri", 12_000_000).build()).expect("routed");
    assert_eq!(field(&decisions, "approver").as_deref(), Some("narek"));
    assert_eq!(field(&decisions, "backup").as_deref(), Some("aram"));
    assert!(decisions.iter().any(|decision| matches!(
        decision,
        Decision::Route(route) if route.queue == "narek" && route.priority == Priority::Normal
    )));
    assert!(decisions.iter().any(|decision| matches!(
        decision,
        Decision::Schedule(timer) if timer.kind == ESCALATE && timer.due == Due::AfterMs(120 * 60_000)
    )));
    assert!(decisions.iter().any(|decision| matches!(decision, Decision::Handoff(_))));
}

#[test]
fn amounts_above_a_threshold_go_to_its_approver_whatever_the_branch() {
    let decisions = ApprovalRouting::run(request("yerevan", 60_000_000).build()).expect("routed");
    assert_eq!(field(&decisions, "approver").as_deref(), Some("lilit"));
    // Exactly the threshold is not above it.
    let decisions = ApprovalRouting::run(request("yerevan", 50_000_000).build()).expect("routed");
    assert_eq!(field(&decisions, "approver").as_deref(), Some("anna"));
}

#[test]
fn urgent_requests_jump_the_queue() {
    let decisions =
        ApprovalRouting::run(request("yerevan", 100).text("urgency", "urgent").build()).expect("routed");
    assert!(
        decisions
            .iter()
            .any(|decision| matches!(decision, Decision::Route(route) if route.priority == Priority::Urgent))
    );
}

#[test]
fn an_unknown_branch_or_currency_is_refused_clearly() {
    assert_eq!(
        ApprovalRouting::run(request("vanadzor", 100).build()),
        Err(StepError::Refused("no approver is set for branch \"vanadzor\"".to_owned()))
    );
    let dollars = input("approver").config(OFFICE).text("branch", "yerevan").money("amount", 100, "USD");
    assert!(matches!(ApprovalRouting::run(dollars.build()), Err(StepError::InvalidInput(_))));
}
