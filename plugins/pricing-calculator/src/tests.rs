use switchboard_sdk::testing::input;
use switchboard_sdk::{Amount, Decision, Plugin, Quote, StepError, StepInput};

use crate::PricingCalculator;

const MOVING: &str = include_str!("../config/moving.json");
const PACKAGES: &str = include_str!("../config/cleaning-packages.json");
const CATALOG: &str = include_str!("../config/catalog.json");

fn run_quote(input: StepInput) -> Quote {
    let decisions = PricingCalculator::run(input).expect("pricing succeeds");
    match decisions.as_slice() {
        [Decision::Quote(quote)] => quote.clone(),
        other => panic!("expected one quote, got {other:?}"),
    }
}

#[test]
fn complete_inputs_give_an_exact_total_with_every_modifier_itemised() {
    let quote = run_quote(
        input("quote")
            .config(MOVING)
            .text("urgency", "Express")
            .text("complexity", "stairs")
            .number("distance_km", 25.0)
            .build(),
    );
    // 20,000.00 * 1.25 * 1.15 = 28,750.00, plus 15 km * 300.00 = 4,500.00
    assert_eq!(quote.total, Amount::Exact(3_325_000));
    assert_eq!(quote.currency, "AMD");
    let labels: Vec<&str> = quote.line_items.iter().map(|item| item.label.as_str()).collect();
    assert_eq!(
        labels,
        ["Move, up to 2 rooms", "Urgency (express)", "Complexity (stairs)", "Distance beyond 10 km"]
    );
    assert!(quote.factors.is_empty());
    assert_eq!(quote.line_items.iter().map(|item| item.total_minor).sum::<i64>(), 3_325_000);
}

#[test]
fn missing_inputs_widen_the_quote_into_a_range_and_name_the_factors() {
    let quote = run_quote(input("quote").config(MOVING).text("urgency", "standard").build());
    // low: 20,000 * 1.0 * 1.0 + 0 km; high: 20,000 * 1.5 + 50 km * 300
    assert_eq!(quote.total, Amount::Range((2_500_000, 4_500_000)));
    assert_eq!(quote.factors, ["Complexity", "Distance beyond 10 km"]);
}

#[test]
fn the_minimum_price_lifts_small_quotes_and_shows_as_a_line() {
    let quote = run_quote(
        input("quote")
            .config(MOVING)
            .text("urgency", "standard")
            .text("complexity", "simple")
            .number("distance_km", 3.0)
            .build(),
    );
    assert_eq!(quote.total, Amount::Exact(2_500_000));
    assert_eq!(quote.line_items.last().map(|item| item.label.as_str()), Some("Minimum order"));
}

#[test]
fn quotes_stay_valid_for_the_configured_hours() {
    let quote = run_quote(input("quote").config(MOVING).now(1_000).build());
    assert_eq!(quote.valid_until, Some(1_000 + 72 * 3_600_000));
}

#[test]
fn packages_quote_the_tier_plus_addons() {
    let quote = run_quote(
        input("quote")
            .config(PACKAGES)
            .text("package", "standard")
            .field(
                "addons",
                switchboard_sdk::Value::List(vec![
                    switchboard_sdk::Scalar::Text("windows".into()),
                    switchboard_sdk::Scalar::Text("Fridge".into()),
                ]),
            )
            .build(),
    );
    assert_eq!(quote.total, Amount::Exact(12_500));
    assert_eq!(quote.line_items.len(), 3);
}

#[test]
fn packages_without_a_tier_span_cheapest_to_dearest_above_the_minimum() {
    let quote = run_quote(input("quote").config(PACKAGES).build());
    assert_eq!(quote.total, Amount::Range((6_000, 15_000)));
    assert_eq!(quote.factors, ["package (Basic / Standard / Premium)"]);
}

#[test]
fn catalog_orders_aggregate_skus_and_apply_volume_discounts() {
    let items = (0..120).map(|n| if n % 2 == 0 { "box-m" } else { "tape*2" });
    let quote = run_quote(
        input("quote")
            .config(CATALOG)
            .field(
                "items",
                switchboard_sdk::Value::List(
                    items.map(|sku| switchboard_sdk::Scalar::Text(sku.into())).collect(),
                ),
            )
            .build(),
    );
    // 60 box-m at 5% off 4.00 = 3.80; 120 tape at 12% off 3.00 = 2.64
    assert_eq!(quote.total, Amount::Exact(60 * 380 + 120 * 264));
}

#[test]
fn unknown_options_and_bad_config_are_typed_errors() {
    let bad_option =
        PricingCalculator::run(input("quote").config(MOVING).text("urgency", "yesterday").build());
    assert!(matches!(bad_option, Err(StepError::InvalidInput(message)) if message.contains("urgency")));

    let bad_config = PricingCalculator::run(input("quote").config(r#"{"currency": 5}"#).build());
    assert!(matches!(bad_config, Err(StepError::InvalidConfig(_))));

    let negative = PricingCalculator::run(input("quote").config(MOVING).number("distance_km", -4.0).build());
    assert!(matches!(negative, Err(StepError::InvalidInput(_))));
}
