use serde_json::json;
use switchboard_sdk::testing::{input, with_host};

use super::*;

const URL: &str = "https://shop.example/api/orders/A-1001";

fn config() -> String {
    json!({ "orders_url": "https://shop.example/api/orders/{order_id}", "delay_sla_days": 2 }).to_string()
}

fn order() -> serde_json::Value {
    json!({
        "id": "A-1001", "status": "in_transit", "expected_date": "2026-01-05",
        "last_scan": { "place": "Yerevan hub", "at": "2026-01-02" },
        "tracking_url": "https://track.example/A-1001",
        "phone": "+374 91 000 000", "email": "Ani@Example.com"
    })
}

fn run(contact: &str, locale: &str, now: i64) -> Result<Vec<Decision>, StepError> {
    let mut step =
        input("order_status").text("order_id", "A-1001").text("contact", contact).config(&config()).build();
    step.contact.locale = locale.to_owned();
    step.now = now;
    OrderStatus::run(step)
}

fn replies(decisions: &[Decision]) -> Vec<&str> {
    decisions
        .iter()
        .filter_map(|decision| match decision {
            Decision::Reply(reply) => Some(reply.text.as_str()),
            _ => None,
        })
        .collect()
}

fn jan(day: i64) -> i64 {
    parse_date("2026-01-01").expect("a date") + (day - 1) * DAY_MS
}

#[test]
fn an_order_on_time_gets_its_status_and_a_did_this_help() {
    with_host(|host| host.respond_json(URL, 200, &order()));
    let decisions = run("+37491000000", "en", jan(3)).expect("the step succeeds");
    let texts = replies(&decisions);
    assert_eq!(
        texts[0],
        "Order A-1001: on its way. Last scan: Yerevan hub (2026-01-02). Expected: 2026-01-05. Tracking: https://track.example/A-1001"
    );
    assert_eq!(texts[1], "Did this help?");
    assert!(decisions.contains(&Decision::set_field("order_status", Value::Text("in_transit".to_owned()))));
    with_host(|host| assert_eq!(host.requested, [URL]));
}

#[test]
fn the_email_matches_regardless_of_case_and_answers_in_armenian() {
    with_host(|host| host.respond_json(URL, 200, &order()));
    let texts = run("ani@example.COM", "hy-AM", jan(3)).expect("the step succeeds");
    assert!(replies(&texts)[0].starts_with("Պատվեր A-1001: ճանապարհին է."), "{:?}", replies(&texts));
}

#[test]
fn a_late_order_offers_escalate_resend_or_refund() {
    with_host(|host| host.respond_json(URL, 200, &order()));
    let decisions = run("91 000 000", "ru", jan(9)).expect("the step succeeds");
    let Decision::Reply(follow_up) = &decisions[2] else { panic!("{decisions:?}") };
    assert_eq!(follow_up.text, "Извините, заказ задерживается на 4 дн. Как лучше поступить?");
    let payloads: Vec<_> = follow_up.quick_replies.iter().map(|option| option.payload.as_str()).collect();
    assert_eq!(payloads, ["escalate", "resend", "refund"]);
}

#[test]
fn a_wrong_contact_reveals_nothing_and_asks_again() {
    with_host(|host| host.respond_json(URL, 200, &order()));
    let decisions = run("+37499999999", "en", jan(3)).expect("the step succeeds");
    assert!(!replies(&decisions).concat().contains("Yerevan"));
    assert!(decisions.contains(&Decision::ask("contact")));
}

#[test]
fn an_unknown_order_asks_for_the_number_again() {
    with_host(|host| host.respond_json(URL, 404, &json!({ "error": "not found" })));
    let decisions = run("+37491000000", "en", jan(3)).expect("the step succeeds");
    assert!(decisions.contains(&Decision::clear_field("order_id")));
    assert!(decisions.contains(&Decision::ask("order_id")));
}

#[test]
fn an_order_number_with_url_characters_is_never_sent() {
    let mut step =
        input("order_status").text("order_id", "../admin").text("contact", "x@y.z").config(&config()).build();
    step.contact.locale = "en".to_owned();
    let decisions = OrderStatus::run(step).expect("the step succeeds");
    assert!(decisions.contains(&Decision::ask("order_id")));
    with_host(|host| assert!(host.requested.is_empty()));
}

#[test]
fn a_failing_order_api_is_unavailable_and_a_denied_host_is_a_config_error() {
    with_host(|host| host.respond_json(URL, 503, &json!({})));
    assert!(matches!(run("+37491000000", "en", jan(3)), Err(StepError::Unavailable(_))));
    with_host(|host| host.http.clear());
    assert!(matches!(run("+37491000000", "en", jan(3)), Err(StepError::InvalidConfig(_))));
}

#[test]
fn dates_parse_to_utc_midnight() {
    assert_eq!(parse_date("1970-01-01"), Some(0));
    assert_eq!(parse_date("2026-01-01"), Some(1_767_225_600_000));
    assert_eq!(
        parse_date("2024-03-01").map(|at| at - parse_date("2024-02-28").expect("a date")),
        Some(2 * DAY_MS)
    );
    assert_eq!(parse_date("2026-13-01"), None);
    assert_eq!(parse_date("soon"), None);
}

#[test]
fn a_sensitive_order_says_nothing_until_a_code_to_the_phone_on_record_comes_back() {
    let mut sensitive = order();
    sensitive["sensitive"] = json!(true);
    with_host(|host| host.respond_json(URL, 200, &sensitive));
    let decisions = run("+37491000000", "en", jan(3)).expect("the step succeeds");
    assert!(replies(&decisions).is_empty(), "nothing about the order yet: {decisions:?}");
    assert!(
        decisions
            .contains(&Decision::set_field("phone_on_record", Value::Text("+374 91 000 000".to_owned())))
    );
    assert!(decisions.contains(&Decision::ask("verified")));

    let mut verified = input("order_status")
        .text("order_id", "A-1001")
        .text("contact", "+37491000000")
        .boolean("verified", true)
        .config(&config())
        .build();
    verified.now = jan(3);
    let decisions = OrderStatus::run(verified).expect("the step succeeds");
    assert!(replies(&decisions)[0].starts_with("Order A-1001: on its way."), "{decisions:?}");
}
