//! The understanding pass on the messages real customers wrote, against the
//! demo tenants' flows.

use std::collections::BTreeSet;

use super::*;
use crate::calendar::CalendarConfig;

fn flow(source: &str) -> Flow {
    let plugins: BTreeSet<String> =
        ["slots", "phone-check", "pricing", "scoring", "approvals", "orders", "refunds"]
            .map(String::from)
            .into();
    Flow::parse("flow.toml", source, &plugins).expect("the demo flow parses")
}

fn salon() -> Flow {
    flow(include_str!("../../../../examples/salon/flow.toml"))
}

fn office() -> Flow {
    flow(include_str!("../../../../examples/office/flow.toml"))
}

fn webshop() -> Flow {
    flow(include_str!("../../../../examples/webshop/flow.toml"))
}

fn moving() -> Flow {
    flow(include_str!("../../../../examples/moving/flow.toml"))
}

fn yerevan() -> Calendar {
    Calendar::new(&CalendarConfig { timezone: "Asia/Yerevan".to_owned(), ..CalendarConfig::default() })
        .expect("zone")
}

/// Wednesday 2 December 2026, 12:00 in Yerevan.
fn now() -> i64 {
    "2026-12-02T12:00:00+04:00".parse::<jiff::Timestamp>().expect("time").as_millisecond()
}

fn value(flow: &Flow, intent: &str, field: &str, text: &str) -> Option<Value> {
    let calendar = yerevan();
    let clock = Clock { calendar: &calendar, now: now() };
    let spec = flow.intent(intent)?.field(field)?;
    understand(flow, text).value_for(intent, spec, clock)
}

fn day(text: &str) -> Value {
    let zoned = format!("{text}T00:00:00[Asia/Yerevan]").parse::<jiff::Zoned>().expect("zoned");
    Value::Datetime(zoned.timestamp().as_millisecond())
}

fn text(value: &str) -> Option<Value> {
    Some(Value::Text(value.to_owned()))
}

#[test]
fn a_booking_request_names_the_service_and_the_day() {
    let salon = salon();
    let message = "Можно записаться на завтра на стрижку?";
    assert_eq!(understand(&salon, message).intent().map(|c| c.intent.as_str()), Some("booking"));
    assert_eq!(value(&salon, "booking", "service", message), text("haircut"));
    assert_eq!(value(&salon, "booking", "preferred_date", message), Some(day("2026-12-03")));
    assert_eq!(value(&salon, "booking", "time_of_day", "завтра вечером"), text("evening"));
}

#[test]
fn a_purchase_request_carries_item_amount_and_branch() {
    let office = office();
    let message = "Нужно согласовать закупку 40 стульев на 600000 драм, филиал Арабкир";
    assert_eq!(understand(&office, message).intent().map(|c| c.intent.as_str()), Some("purchase"));
    assert_eq!(value(&office, "purchase", "item", message), text("40 стульев"));
    assert_eq!(
        value(&office, "purchase", "amount", message),
        Some(Value::Money(Money::new(60_000_000, "AMD")))
    );
    assert_eq!(value(&office, "purchase", "branch", message), text("arabkir"));
}

#[test]
fn a_day_answers_how_soon() {
    let office = office();
    assert_eq!(value(&office, "purchase", "urgency", "Послезавтра"), text("normal"));
    assert_eq!(value(&office, "purchase", "urgency", "сегодня"), text("urgent"));
    let moving = moving();
    assert_eq!(value(&moving, "quote", "urgency", "Послезавтра"), text("express"));
    assert_eq!(value(&moving, "quote", "urgency", "Վաղը"), text("express"));
    assert_eq!(value(&moving, "quote", "move_date", "Վաղը"), Some(day("2026-12-03")));
    assert_eq!(value(&moving, "quote", "urgency", "через две недели"), text("standard"));
}

#[test]
fn values_for_other_fields_are_found_whatever_was_asked() {
    let webshop = webshop();
    assert_eq!(value(&webshop, "refund", "condition", "пришел с браком"), text("defective"));
    assert_eq!(value(&webshop, "refund", "purchase_date", "пришел с браком"), None);
    // A purchase date looks back: 26.11 is last month, not next year.
    assert_eq!(value(&webshop, "refund", "purchase_date", "26.11"), Some(day("2026-11-26")));
    assert_eq!(value(&webshop, "refund", "order_id", "возврат по заказу A-1001"), text("A-1001"));
    let moving = moving();
    assert_eq!(
        value(&moving, "quote", "budget", "Бюджет около 150000 драм"),
        Some(Value::Money(Money::new(15_000_000, "AMD")))
    );
    assert_eq!(value(&moving, "quote", "move_date", "Бюджет около 150000 драм"), None);
    assert_eq!(value(&moving, "quote", "distance_km", "12 км"), Some(Value::Number(12.0)));
    // A number without its unit is not a distance unless it was asked for.
    assert_eq!(value(&moving, "quote", "distance_km", "12"), None);
}

#[test]
fn yes_no_words_pick_an_option_only_when_asked() {
    let moving = moving();
    // "Нет" is the Russian title of "nothing special", and a correction's first word.
    assert_eq!(value(&moving, "quote", "complexity", "нет, в пятницу"), None);
    assert_eq!(value(&moving, "quote", "complexity", "есть пианино"), text("piano"));
}

#[test]
fn reschedule_and_cancel_are_heard_over_the_booking_triggers() {
    let salon = salon();
    let reschedule = understand(&salon, "I need to reschedule my appointment");
    assert!(reschedule.signals.reschedule);
    assert!(understand(&salon, "Хочу перенести запись на пятницу").signals.reschedule);
    assert!(understand(&salon, "Отмените запись, пожалуйста").signals.cancel);
    assert!(!understand(&salon, "Можно записаться на завтра?").signals.cancel);
}

#[test]
fn phones_and_emails_are_found_in_a_sentence() {
    let salon = salon();
    let found = understand(&salon, "мой номер 091 12 34 56, почта ani@example.com");
    assert_eq!(found.phones, ["091123456"]);
    assert_eq!(found.emails, ["ani@example.com"]);
    assert!(found.quantities.is_empty(), "{:?}", found.quantities);
}
