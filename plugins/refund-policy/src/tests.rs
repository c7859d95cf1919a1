use switchboard_sdk::testing::{InputBuilder, input};
use switchboard_sdk::time::DAY_MS;
use switchboard_sdk::{Decision, Money, Plugin, Remedy, Scalar, StepError, Value, Verdict};

use crate::RefundPolicy;

const WEBSHOP: &str = include_str!("../config/webshop.json");
const NOW: i64 = 1_767_225_600_000;

fn claim(days_ago: i64, amount: i64, condition: &str) -> InputBuilder {
    input("refund")
        .config(WEBSHOP)
        .now(NOW)
        .datetime("purchase_date", NOW - days_ago * DAY_MS)
        .money("amount", amount, "AMD")
        .text("condition", condition)
}

fn verdict(builder: InputBuilder) -> Verdict {
    match RefundPolicy::run(builder.build()).expect("policy decides").as_slice() {
        [Decision::Verdict(verdict)] => verdict.clone(),
        other => panic!("expected one verdict, got {other:?}"),
    }
}

#[test]
fn unopened_within_the_window_gets_every_remedy() {
    assert_eq!(
        verdict(claim(3, 2_000_000, "Unopened")),
        Verdict::Allow(vec![
            Remedy::FullRefund(Money::new(2_000_000, "AMD")),
            Remedy::Exchange,
            Remedy::StoreCredit(Money::new(2_000_000, "AMD")),
        ])
    );
}

#[test]
fn opened_items_get_a_partial_refund_at_the_configured_share() {
    let Verdict::Allow(remedies) = verdict(claim(3, 2_000_000, "opened")) else { panic!("allowed") };
    assert_eq!(remedies[0], Remedy::PartialRefund(Money::new(1_400_000, "AMD")));
}

#[test]
fn outside_the_window_is_denied_with_the_reason() {
    assert_eq!(
        verdict(claim(20, 2_000_000, "unopened")),
        Verdict::Deny("bought 20 days ago; returns are accepted within 14 days".into())
    );
}

#[test]
fn defective_outside_the_window_but_under_warranty_is_exchanged() {
    assert_eq!(verdict(claim(100, 2_000_000, "defective")), Verdict::Allow(vec![Remedy::Exchange]));
}

#[test]
fn final_sale_is_denied_unless_defective() {
    assert!(matches!(verdict(claim(1, 500_000, "unopened").text("category", "Clearance")), Verdict::Deny(_)));
    assert!(matches!(
        verdict(claim(1, 500_000, "defective").text("category", "clearance")),
        Verdict::Allow(_)
    ));
}

#[test]
fn high_amounts_repeat_claims_and_fraud_signals_escalate() {
    assert!(
        matches!(verdict(claim(1, 20_000_000, "unopened")), Verdict::Escalate(reason) if reason.contains("threshold"))
    );
    assert!(matches!(
        verdict(claim(1, 500_000, "unopened").number("prior_claims", 3.0)),
        Verdict::Escalate(reason) if reason.starts_with("repeat claims")
    ));
    assert_eq!(
        verdict(claim(1, 500_000, "unopened").boolean("address_mismatch", true)),
        Verdict::Escalate("fraud signal: address_mismatch".into())
    );
    assert_eq!(
        verdict(
            claim(1, 500_000, "unopened")
                .field("risk_flags", Value::List(vec![Scalar::Text("chargeback_history".into())]))
        ),
        Verdict::Escalate("fraud signal: chargeback_history".into())
    );
}

#[test]
fn conditions_without_remedies_are_denied_and_unknown_ones_escalate() {
    assert!(matches!(verdict(claim(1, 500_000, "damaged by customer")), Verdict::Deny(_)));
    assert!(matches!(verdict(claim(1, 500_000, "soggy")), Verdict::Escalate(_)));
}

#[test]
fn a_claim_without_its_facts_is_invalid_input() {
    let result = RefundPolicy::run(input("refund").config(WEBSHOP).build());
    assert_eq!(result, Err(StepError::InvalidInput("missing field purchase_date".into())));
}

#[test]
fn the_customer_saying_final_sale_denies_unless_defective() {
    assert!(matches!(verdict(claim(1, 500_000, "unopened").boolean("final_sale", true)), Verdict::Deny(_)));
    assert!(matches!(verdict(claim(1, 500_000, "defective").boolean("final_sale", true)), Verdict::Allow(_)));
    assert!(matches!(verdict(claim(1, 500_000, "unopened").boolean("final_sale", false)), Verdict::Allow(_)));
}

#[test]
fn a_second_claim_on_one_order_escalates_with_its_earlier_return() {
    let texts = |items: &[&str]| Value::List(items.iter().map(|item| Scalar::Text((*item).into())).collect());
    let second = claim(1, 500_000, "unopened")
        .text("order_id", "a1001")
        .number("prior_claims", 2.0)
        .field("prior_claims_order_id", texts(&["B-2001", "A-1001"]))
        .field("prior_claims_rma", texts(&["R-000001", "R-000002"]));
    assert_eq!(verdict(second), Verdict::Escalate("this order already has return R-000002".into()));
    let other_order = claim(1, 500_000, "unopened")
        .text("order_id", "C-3001")
        .number("prior_claims", 2.0)
        .field("prior_claims_order_id", texts(&["B-2001", "A-1001"]));
    assert!(matches!(verdict(other_order), Verdict::Allow(_)));
}
