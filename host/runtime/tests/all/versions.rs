//! Every released contract keeps working: a component built against the
//! frozen `wit/since_v0.1.0` (no SDK) loads, runs and uses its capabilities
//! next to 0.2.0 components, and what a component exports decides what it can
//! be bound as.

use std::sync::Arc;

use switchboard_core::contract::{Amount, Ask, Decision, Reply, StepError, Value};
use switchboard_runtime::{ApiVersion, CallContext, FailureKind, Grants, KvBackend, MemoryKv};

use crate::support::{context, context_with, input, load, plugin_config};

fn granted(kv: &Arc<MemoryKv>) -> CallContext {
    let backend: Arc<dyn KvBackend> = kv.clone();
    CallContext { kv: Some(backend), ..context_with(Grants::all()) }
}

#[test]
fn a_0_1_0_component_runs_unchanged() {
    let plugin = load("contract_v0_1_fixture");
    assert_eq!(plugin.api_version(), ApiVersion::V0_1);
    assert!(plugin.is_step() && !plugin.is_classifier());

    let kv = Arc::new(MemoryKv::default());
    let mut step = input("salon", "greet");
    step.contact.display_name = Some("Ani".to_owned());
    step.contact.locale = "hy".to_owned();
    let outcome = plugin.call(&step, granted(&kv)).expect("runs");
    match outcome.decisions.as_slice() {
        [
            Decision::Reply(Reply { text, locale: None, .. }),
            Decision::Ask(Ask { field, locale: None, .. }),
            Decision::SetField { name, value: Value::Number(visits) },
            Decision::Quote(quote),
        ] => {
            assert_eq!(text, "Hello Ani from 0.1.0");
            assert_eq!(field, "rooms");
            assert_eq!((name.as_str(), *visits), ("visits", 1.0));
            assert_eq!((quote.total, quote.locale.as_deref()), (Amount::Exact(1_000), None));
            assert_eq!(quote.line_items[0].label, "Move");
        }
        other => panic!("every 0.1.0 decision converted, got {other:?}"),
    }
    assert!(outcome.logs.iter().any(|line| line.message == "0.1.0 step running"), "{:?}", outcome.logs);

    let again = plugin.call(&step, granted(&kv)).expect("runs again");
    assert!(
        again
            .decisions
            .contains(&Decision::SetField { name: "visits".to_owned(), value: Value::Number(2.0) }),
        "kv kept across calls: {:?}",
        again.decisions
    );
}

#[test]
fn a_0_1_0_refusal_is_the_plugins_own() {
    let failure =
        load("contract_v0_1_fixture").call(&input("salon", "refuse"), context()).expect_err("refuses");
    assert_eq!(failure.kind, FailureKind::Guest(StepError::Refused("0.1.0 refuses".to_owned())));
}

#[test]
fn a_0_1_0_component_denied_kv_still_answers() {
    let outcome = load("contract_v0_1_fixture").call(&input("salon", "greet"), context()).expect("runs");
    assert!(
        outcome
            .decisions
            .contains(&Decision::SetField { name: "visits".to_owned(), value: Value::Number(-1.0) }),
        "{:?}",
        outcome.decisions
    );
}

#[test]
fn an_sdk_step_is_0_2_0_and_tags_its_language() {
    let plugin = load("pricing_calculator");
    assert_eq!(plugin.api_version(), ApiVersion::V0_2);
    assert!(plugin.is_step() && !plugin.is_classifier());

    let mut step = input("movers", "quote");
    step.contact.locale = "ru".to_owned();
    step.config = plugin_config("pricing-calculator/config/moving.json");
    step.fields.insert("urgency".to_owned(), Value::Text("standard".to_owned()));
    step.fields.insert("distance_km".to_owned(), Value::Number(10.0));
    let outcome = plugin.call(&step, context()).expect("quotes");
    let quote = outcome.decisions.iter().find_map(|decision| match decision {
        Decision::Quote(quote) => Some(quote),
        _ => None,
    });
    assert_eq!(quote.and_then(|quote| quote.locale.as_deref()), Some("ru"), "{:?}", outcome.decisions);
}

#[test]
fn a_classifier_is_not_a_step() {
    let plugin = load("llm_classifier");
    assert_eq!(plugin.api_version(), ApiVersion::V0_2);
    assert!(plugin.is_classifier() && !plugin.is_step());
    let failure = plugin.call(&input("salon", "quote"), context()).expect_err("no handler to run");
    assert!(failure.kind.to_string().contains("no step handler"), "{failure:?}");
}

#[test]
fn a_step_is_not_a_classifier() {
    let step = input("salon", "understanding");
    let classify = switchboard_core::contract::ClassifyInput {
        tenant: step.tenant,
        conversation: step.conversation,
        channel: step.channel,
        contact: step.contact,
        text: "hello".to_owned(),
        intents: Vec::new(),
        active_intent: None,
        asking: None,
        fields: Default::default(),
        now: step.now,
        config: Default::default(),
    };
    let failure =
        load("contract_v0_1_fixture").classify(&classify, context()).expect_err("no classify export");
    assert!(failure.kind.to_string().contains("exports no `understanding`"), "{failure:?}");
}

/// A released contract is never edited: a change is a new version (a new
/// `wit/since_vX.Y.Z/` and package version), so that every component built
/// against an old one keeps meaning what it meant. The SHA-256 of each file
/// as it was released.
const RELEASED: [(&str, &str); 4] = [
    ("since_v0.1.0/types.wit", "93c53d9c92666c1d941188e71129174673480ec058675e2e2592743eaafb7827"),
    ("since_v0.1.0/world.wit", "8c3e15b8586459b651804dcd0cfda3c23195bc2b1d1e7130802de69878d5bca4"),
    ("since_v0.2.0/types.wit", "33dc8291ff12add3929cebc373e0aa297a7d16c5d99756693deca236a0d62913"),
    ("since_v0.2.0/world.wit", "4553b4a09d8793038f24ddcc00b1e05492ef9a8296ddce709e7c85cc3d7a36ba"),
];

#[test]
fn released_contracts_are_never_edited() {
    use sha2::Digest;
    let wit = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit");
    for (file, released) in RELEASED {
        let text = std::fs::read(wit.join(file)).unwrap_or_else(|error| panic!("{file}: {error}"));
        assert_eq!(
            hex::encode(sha2::Sha256::digest(&text)),
            released,
            "wit/{file} changed after its release: put the change in a new version instead \
             (wit/since_v0.3.0/, package switchboard:plugin@0.3.0), which the host loads beside this one"
        );
    }
}
