//! The example plugins, run as components: the production path.

use switchboard_core::contract::{Amount, Decision, LeadTier, Money, Remedy, StepInput, Value, Verdict};

use crate::support::{NOW, context, input, load, plugin_config};

const DAY_MS: i64 = 86_400_000;

fn with_fields(mut input: StepInput, fields: &[(&str, Value)]) -> StepInput {
    input.fields.extend(fields.iter().map(|(name, value)| ((*name).to_owned(), value.clone())));
    input
}

#[test]
fn pricing_quotes_through_the_sandbox() {
    let mut step = input("movers", "quote");
    step.config = plugin_config("pricing-calculator/config/moving.json");
    let step = with_fields(
        step,
        &[
            ("urgency", Value::Text("express".into())),
            ("complexity", Value::Text("stairs".into())),
            ("distance_km", Value::Number(25.0)),
        ],
    );
    let outcome = load("pricing_calculator").call(&step, context()).expect("quotes");
    match outcome.decisions.as_slice() {
        [Decision::Quote(quote)] => {
            assert_eq!(quote.total, Amount::Exact(3_325_000));
            assert_eq!(quote.line_items.len(), 4);
        }
        other => panic!("expected a quote, got {other:?}"),
    }
    assert!(outcome.report.fuel_used > 0);
    assert!(outcome.report.peak_memory_bytes > 0);
}

#[test]
fn lead_scoring_grades_through_the_sandbox() {
    let mut step = input("movers", "score");
    step.config = plugin_config("lead-scoring/config/moving.json");
    let step = with_fields(
        step,
        &[
            ("move_date", Value::Datetime(NOW + 2 * DAY_MS)),
            ("budget", Value::Money(Money::new(40_000_000, "AMD"))),
            ("city", Value::Text("Երևան".into())),
            ("phone", Value::Text("+37499000000".into())),
        ],
    );
    let outcome = load("lead_scoring").call(&step, context()).expect("scores");
    let grade = outcome.decisions.iter().find_map(|decision| match decision {
        Decision::Grade(grade) => Some(grade),
        _ => None,
    });
    assert_eq!(grade.map(|grade| grade.tier), Some(LeadTier::Hot));
}

#[test]
fn refund_policy_decides_through_the_sandbox() {
    let mut step = input("shop", "refund");
    step.config = plugin_config("refund-policy/config/webshop.json");
    let step = with_fields(
        step,
        &[
            ("purchase_date", Value::Datetime(NOW - 2 * DAY_MS)),
            ("amount", Value::Money(Money::new(1_000_000, "AMD"))),
            ("condition", Value::Text("defective".into())),
        ],
    );
    let outcome = load("refund_policy").call(&step, context()).expect("decides");
    assert_eq!(
        outcome.decisions,
        [Decision::Verdict(Verdict::Allow(vec![
            Remedy::FullRefund(Money::new(1_000_000, "AMD")),
            Remedy::Exchange
        ]))]
    );
}

#[test]
fn bad_tenant_config_is_the_plugins_typed_error() {
    let mut step = input("movers", "quote");
    step.config = serde_json::json!({ "currency": 42 }).into();
    let failure = load("pricing_calculator").call(&step, context()).expect_err("rejects the config");
    assert!(matches!(
        failure.kind,
        switchboard_runtime::FailureKind::Guest(switchboard_core::contract::StepError::InvalidConfig(_))
    ));
}
