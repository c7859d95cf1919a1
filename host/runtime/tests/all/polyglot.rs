//! The Python and JavaScript plugins, built from source by
//! `scripts/build-plugins.sh`, run through the same runtime as Rust ones.

use std::sync::OnceLock;

use switchboard_core::contract::{Crash, CrashKind, Decision, Message, PluginConfig, StepError, Value};
use switchboard_core::failure::FailureCode;
use switchboard_runtime::{FailureKind, Grants, Plugin, StepFailure};

use crate::support::{NOW, context, context_with, input, load, plugin_config};

fn slot_picker() -> &'static Plugin {
    static PLUGIN: OnceLock<Plugin> = OnceLock::new();
    PLUGIN.get_or_init(|| load("slot_picker"))
}

fn contact_validator() -> &'static Plugin {
    static PLUGIN: OnceLock<Plugin> = OnceLock::new();
    PLUGIN.get_or_init(|| load("contact_validator"))
}

/// 2026-01-05 08:00 in Yerevan, a Monday.
const MONDAY_MORNING: i64 = 1_767_585_600_000;

#[test]
fn python_slot_picker_offers_three_evening_slots_in_armenian() {
    let mut step = input("salon", "offer-slots");
    step.now = MONDAY_MORNING;
    step.contact.locale = "hy".into();
    step.config = plugin_config("slot-picker-py/config.json");
    step.fields.insert("time_of_day".into(), Value::Text("երեկո".into()));
    let outcome = slot_picker().call(&step, context()).expect("offers slots");
    let [Decision::OfferSlots(slots), Decision::Reply(reply)] = outcome.decisions.as_slice() else {
        panic!("expected slots and a reply, got {:?}", outcome.decisions);
    };
    let labels: Vec<&str> = slots.iter().map(|slot| slot.label.as_str()).collect();
    assert_eq!(labels, ["Երկ 05.01 17:00", "Երկ 05.01 18:00", "Երք 06.01 17:00"]);
    assert_eq!(slots[0].start, MONDAY_MORNING + 9 * 3_600_000);
    assert_eq!(reply.quick_replies.len(), 3);
    assert_eq!(reply.quick_replies[0].payload, format!("slot:{}", slots[0].start));
}

#[test]
fn python_plugin_errors_are_typed() {
    let mut step = input("salon", "offer-slots");
    step.config = serde_json::json!({ "offers": 9 }).into();
    let failure = slot_picker().call(&step, context()).expect_err("bad config");
    assert_eq!(
        failure.kind,
        FailureKind::Guest(StepError::InvalidConfig("offers must be between 2 and 4".into()))
    );

    let mut closed = input("salon", "offer-slots");
    closed.config = serde_json::json!({ "hours": {} }).into();
    let failure = slot_picker().call(&closed, context()).expect_err("nothing free");
    assert!(matches!(failure.kind, FailureKind::Guest(StepError::Refused(_))), "{:?}", failure.kind);
}

fn answer(text: &str, locale: &str, config: PluginConfig) -> Result<Vec<Decision>, FailureKind> {
    let mut step = input("shop", "validate");
    step.now = MONDAY_MORNING;
    step.contact.locale = locale.into();
    step.message = Some(Message { text: text.into(), payload: None, received_at: NOW });
    step.config = config;
    contact_validator()
        .call(&step, context())
        .map(|outcome| outcome.decisions)
        .map_err(|failure| failure.kind)
}

#[test]
fn javascript_validator_normalises_a_valid_phone() {
    let decisions = answer("099 12-34-56", "ru", plugin_config("contact-validator-js/config.json"));
    assert_eq!(
        decisions,
        Ok(vec![Decision::SetField { name: "phone".into(), value: Value::Text("+37499123456".into()) }])
    );
}

#[test]
fn javascript_validator_explains_in_the_customers_language_and_asks_again() {
    let decisions =
        answer("позвоните мне", "ru", plugin_config("contact-validator-js/config.json")).expect("runs");
    let [Decision::Reply(reply), Decision::Ask(ask)] = decisions.as_slice() else {
        panic!("expected a reply and an ask, got {decisions:?}");
    };
    assert!(reply.text.starts_with("Похоже, это не номер телефона"), "{}", reply.text);
    assert_eq!(ask.field, "phone");
}

#[test]
fn javascript_validator_turns_tomorrow_into_a_datetime() {
    let config =
        serde_json::json!({ "field": "visit_date", "kind": "date", "utc_offset_minutes": 240 }).into();
    let decisions = answer("վաղը", "hy", config);
    let tomorrow_local_midnight = MONDAY_MORNING + 16 * 3_600_000; // 2026-01-05T20:00Z
    assert_eq!(
        decisions,
        Ok(vec![Decision::SetField {
            name: "visit_date".into(),
            value: Value::Datetime(tomorrow_local_midnight)
        }])
    );
}

#[test]
fn javascript_plugin_errors_are_typed() {
    let decisions = answer("x", "en", serde_json::json!({ "kind": "fax" }).into());
    assert_eq!(
        decisions,
        Err(FailureKind::Guest(StepError::InvalidConfig(
            "config needs \"field\" and \"kind\" (phone, email or date)".into()
        )))
    );
}

/// `tests/fixtures/crashing-py` and `crashing-js`: steps that break on purpose.
fn crashing(language: &str) -> &'static Plugin {
    static PYTHON: OnceLock<Plugin> = OnceLock::new();
    static JAVASCRIPT: OnceLock<Plugin> = OnceLock::new();
    match language {
        "py" => PYTHON.get_or_init(|| load("crashing_py")),
        _ => JAVASCRIPT.get_or_init(|| load("crashing_js")),
    }
}

fn break_on_purpose(language: &str, step: &str) -> StepFailure {
    let grants = Grants { log: true, ..Grants::default() };
    crashing(language).call(&input("shop", step), context_with(grants)).expect_err(step)
}

fn crash(failure: &StepFailure) -> &Crash {
    match &failure.kind {
        FailureKind::Crashed(crash) => crash,
        other => panic!("expected a crash with its cause, got {other:?}"),
    }
}

#[test]
fn a_python_exception_reaches_the_host_with_its_type_message_traceback_and_logs() {
    let failure = break_on_purpose("py", "key-error");
    assert_eq!(failure.kind.code(), FailureCode::Exception);
    let crash = crash(&failure);
    assert_eq!(crash.message, "KeyError: 'deposit'");
    assert!(crash.traceback.contains("in deposit"), "the frame it happened in: {}", crash.traceback);
    assert_eq!(failure.kind.to_string(), "uncaught exception: KeyError: 'deposit'");
    let logs: Vec<&str> = failure.logs.iter().map(|line| line.message.as_str()).collect();
    assert_eq!(logs, ["looking up the deposit"], "what it logged before failing is kept");
}

#[test]
fn a_javascript_exception_reaches_the_host_with_its_type_message_and_stack() {
    let failure = break_on_purpose("js", "type-error");
    assert_eq!(failure.kind.code(), FailureCode::Exception);
    let crash = crash(&failure);
    assert!(crash.message.starts_with("TypeError: "), "{}", crash.message);
    assert!(crash.message.contains("amount"), "names what it read: {}", crash.message);
}

#[test]
fn an_answer_out_of_shape_is_bad_output_naming_where_in_python_and_javascript() {
    for (language, step, expected) in [
        ("py", "not-a-list", "run is Decision_Reply"),
        ("py", "nested", "run[0].value.text is int 42, not str"),
        ("js", "not-a-list", "decisions is an object with keys [\"tag\",\"val\"], not an array"),
        (
            "js",
            "date-as-text",
            "decisions[0].val.value.val is the string \"2026-01-05\", not a 64-bit integer",
        ),
    ] {
        let failure = break_on_purpose(language, step);
        assert_eq!(failure.kind.code(), FailureCode::BadOutput, "{language} {step}: {:?}", failure.kind);
        let crash = crash(&failure);
        assert_eq!(crash.kind, CrashKind::BadOutput);
        assert!(crash.message.starts_with(expected), "{language} {step}: {}", crash.message);
    }
}

#[test]
fn the_guard_lets_refusals_and_good_answers_through_and_javascript_modules_bundle() {
    for language in ["py", "js"] {
        let failure = break_on_purpose(language, "refuse");
        assert_eq!(
            failure.kind,
            FailureKind::Guest(StepError::Refused("closed on Sundays".into())),
            "{language}"
        );
    }
    let outcome = crashing("js").call(&input("shop", "fine"), context()).expect("runs");
    let [Decision::Reply(reply)] = outcome.decisions.as_slice() else { panic!("{:?}", outcome.decisions) };
    assert_eq!(reply.text, "HELLO 15.00 AMD", "each module kept its own `format`");
}
