//! KPIs on a generated month of traffic: thousands of conversations with
//! known outcomes are committed to the log, folded as they come, and every
//! KPI the dashboard answers is checked against the value computed here
//! from the outcomes themselves. Then a rebuild from the log must give the
//! very same tallies.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::json;
use switchboard::engine::{Engine, Granularity, KpiAnswer, KpiQuery};
use switchboard::tenant::Tenant;
use switchboard_core::contract::{Amount, Channel, LeadTier, Quote, Value};
use switchboard_core::event::{DomainEvent, EventBody, HandoffCard, Sender};
use switchboard_core::failure::FailureCode;
use switchboard_core::kpi::{Day, Unit, standard};
use switchboard_store::Store;

use crate::support::{plugin_dir, runtime, write_tenant};

const SECOND: i64 = 1000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// 2026-11-01T00:00:00Z.
const MONTH: i64 = 1_793_491_200_000;
const CONVERSATIONS: usize = 3000;

const FLOW: &str = r#"
version = "kpi-month"
default_locale = "en"
menu.en = "Hi"
[[intents]]
name = "booking"
title.en = "Book"
triggers.en = ["book"]
[[intents.fields]]
name = "service"
type = "text"
prompt.en = "Which service?"
[[intents.fields]]
name = "day"
type = "text"
prompt.en = "Which day?"
[intents.done]
state = "booked"
event = "booking.created"
[[intents]]
name = "quote"
title.en = "Quote"
triggers.en = ["price"]
[[intents.fields]]
name = "size"
type = "text"
prompt.en = "How big?"
[intents.done]
state = "quoted"
[[intents]]
name = "order"
title.en = "Order"
triggers.en = ["order"]
[[intents.fields]]
name = "order_id"
type = "text"
prompt.en = "Order number?"
[intents.done]
state = "resolved"
[[intents]]
name = "refund"
title.en = "Refund"
triggers.en = ["refund"]
[[intents.fields]]
name = "order_id"
type = "text"
prompt.en = "Order number?"
[intents.done]
state = "resolved"
event = "rma.created"
[[intents]]
name = "renewal"
title.en = "Renew"
triggers.en = ["renew"]
[[intents.fields]]
name = "plan"
type = "text"
prompt.en = "Which plan?"
[intents.done]
state = "resolved"
[[intents]]
name = "support"
title.en = "Help"
triggers.en = ["help"]
[[intents.fields]]
name = "topic"
type = "text"
prompt.en = "What about?"
[intents.done]
state = "resolved"
[[intents]]
name = "purchase"
title.en = "Purchase"
triggers.en = ["buy"]
[[intents.fields]]
name = "item"
type = "text"
prompt.en = "What?"
[intents.done]
state = "resolved"
"#;

const INTENTS: [&str; 7] = ["booking", "quote", "order", "refund", "renewal", "support", "purchase"];
const CUSTOMER_CHANNELS: [Channel; 5] =
    [Channel::Whatsapp, Channel::Telegram, Channel::Webchat, Channel::Instagram, Channel::Messenger];

/// xorshift64*: the same month every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn between(&mut self, low: i64, high: i64) -> i64 {
        low + self.below((high - low) as u64 + 1) as i64
    }
}

/// One conversation's known outcome.
#[derive(Debug, Clone)]
struct Plan {
    id: String,
    channel: Channel,
    intent: &'static str,
    start: i64,
    /// Its field came in a second message a minute later.
    late: bool,
    /// When the first reply reached the customer, after the first message.
    response: i64,
    /// The first grade and the last.
    grade: Option<(LeadTier, LeadTier)>,
    /// After the start: the cause, and when a person first wrote, after the handoff.
    handoff: Option<(i64, &'static str, Option<i64>)>,
    /// Booked at start + 2 min; whether they then did not show.
    booked: Option<bool>,
    /// Quoted after; paid after the quote, for this amount.
    quote: Option<(i64, Option<(i64, i64)>)>,
    order: Option<String>,
    feedback: Option<bool>,
    /// RMA after the start; refund completed after it; disputed.
    rma: Option<(i64, Option<i64>, bool)>,
    renewal: Option<(&'static str, &'static str)>,
    recovered: Option<i64>,
    /// A nudge a day in; whether they wrote back a day later.
    nudge: Option<bool>,
    /// Escalated; decided after the handoff; approved.
    approval: Option<(bool, i64, bool)>,
    /// Closed after the start, in this state.
    close: Option<(i64, &'static str)>,
    /// A second round this long after the close, about the same intent or not.
    again: Option<(i64, bool)>,
    /// A plugin step failed.
    failed: Option<FailureCode>,
}

fn plan(rng: &mut Rng, index: usize) -> Plan {
    let intent = INTENTS[rng.below(INTENTS.len() as u64) as usize];
    let channel = match intent {
        "purchase" => Channel::Internal,
        _ => CUSTOMER_CHANNELS[rng.below(CUSTOMER_CHANNELS.len() as u64) as usize],
    };
    let start = MONTH + rng.between(0, 29 * DAY + 23 * HOUR);
    let tiers = [LeadTier::Hot, LeadTier::Warm, LeadTier::Cold];
    let mut plan = Plan {
        id: format!("{}:{index}", channel.as_str()),
        channel,
        intent,
        start,
        late: rng.chance(40),
        response: rng.between(2 * SECOND, 90 * SECOND),
        grade: None,
        handoff: None,
        booked: None,
        quote: None,
        order: None,
        feedback: None,
        rma: None,
        renewal: None,
        recovered: None,
        nudge: None,
        approval: None,
        close: None,
        again: None,
        failed: rng.chance(3).then_some(FailureCode::FuelExhausted),
    };
    let causes = ["asked", "negative", "policy", "hot_lead"];
    if rng.chance(20) {
        let human = rng.chance(85).then(|| rng.between(20 * SECOND, 40 * MINUTE));
        plan.handoff = Some((rng.between(MINUTE, 10 * MINUTE), causes[rng.below(4) as usize], human));
    }
    match intent {
        "booking" | "quote" if rng.chance(75) => {
            let last = tiers[rng.below(3) as usize];
            let first = if rng.chance(15) { tiers[rng.below(3) as usize] } else { last };
            plan.grade = Some((first, last));
        }
        _ => {}
    }
    match intent {
        "booking" => plan.booked = rng.chance(55).then(|| rng.chance(12)),
        "quote" => {
            let paid = rng.chance(40).then(|| {
                // Most pay within the 30 days that count; some after.
                let after = if rng.chance(85) {
                    rng.between(HOUR, 20 * DAY)
                } else {
                    rng.between(31 * DAY, 40 * DAY)
                };
                (after, rng.between(50_000, 900_000))
            });
            plan.quote = rng.chance(80).then(|| (rng.between(30 * SECOND, 20 * MINUTE), paid));
        }
        "order" => {
            plan.order = Some(format!("A-{}", rng.below(100_000)));
            plan.feedback = rng.chance(60).then(|| rng.chance(80));
        }
        "refund" => {
            plan.rma = rng.chance(70).then(|| {
                (
                    rng.between(2 * MINUTE, 2 * HOUR),
                    rng.chance(80).then(|| rng.between(DAY, 14 * DAY)),
                    rng.chance(8),
                )
            });
        }
        "renewal" => {
            let outcomes = ["renewed", "renewed", "paused", "cancelled", "needs_follow_up"];
            let reasons = ["price", "not_using", "moved", ""];
            let outcome = outcomes[rng.below(5) as usize];
            plan.renewal =
                Some((outcome, if outcome == "cancelled" { reasons[rng.below(4) as usize] } else { "" }));
            plan.recovered = rng.chance(25).then(|| rng.between(10_000, 300_000));
        }
        "purchase" => {
            plan.handoff = Some((0, "plugin", None));
            plan.approval =
                rng.chance(90).then(|| (rng.chance(20), rng.between(10 * MINUTE, 5 * HOUR), rng.chance(75)));
        }
        _ => {}
    }
    // How the round ends.
    let closes = match intent {
        "purchase" => plan.approval.is_some(),
        "support" => rng.chance(70),
        _ => rng.chance(85),
    };
    if closes {
        let state = match (intent, plan.approval) {
            (_, Some((_, _, true))) => "approved",
            (_, Some((_, _, false))) => "rejected",
            ("booking", _) if plan.booked.is_some() => "booked",
            ("quote", _) if plan.quote.is_some() => "quoted",
            _ if rng.chance(10) => "cancelled",
            _ => "resolved",
        };
        // After everything else of the round.
        let last = [
            5 * MINUTE,
            plan.quote.map_or(0, |(after, _)| after),
            plan.rma.map_or(0, |(after, _, _)| after),
            plan.handoff.map_or(0, |(after, _, human)| after + human.unwrap_or(0)),
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        let after = match plan.approval {
            Some((_, decided, _)) => decided,
            None => rng.between(3 * MINUTE, 3 * HOUR).max(last + MINUTE),
        };
        plan.close = Some((after, state));
        if matches!(intent, "support" | "order") && rng.chance(30) {
            plan.again = Some((
                if rng.chance(70) { rng.between(HOUR, 6 * DAY) } else { rng.between(8 * DAY, 12 * DAY) },
                rng.chance(80),
            ));
        }
    } else if intent == "support" {
        plan.nudge = Some(rng.chance(35));
    }
    plan
}

fn event(plan: &Plan, at: i64, body: EventBody) -> DomainEvent {
    DomainEvent { at, tenant: "month".into(), conversation: plan.id.clone(), channel: plan.channel, body }
}

fn domain(name: &str, payload: serde_json::Value) -> EventBody {
    EventBody::Domain { name: name.into(), payload }
}

/// The events the engine would record for a plan, in order.
fn events(plan: &Plan) -> Vec<DomainEvent> {
    let t0 = plan.start;
    let mut events = Vec::new();
    let mut push = |at: i64, body: EventBody| events.push(event(plan, at, body));
    round(plan, t0, plan.intent, plan.late, &mut push);
    if let Some((first, last)) = plan.grade {
        push(t0 + 30 * SECOND, EventBody::LeadGraded { tier: first, reasons: vec![] });
        if first != last {
            push(t0 + 40 * SECOND, EventBody::LeadGraded { tier: last, reasons: vec![] });
        }
    }
    if let Some(code) = plan.failed.clone() {
        push(
            t0 + 45 * SECOND,
            EventBody::StepFailed {
                step: "price".into(),
                plugin: "pricing".into(),
                code,
                message: "out of fuel".into(),
                version: Some("abcdef0123456789".into()),
            },
        );
    }
    if let Some((after, _)) = plan.quote {
        let quote = Quote {
            line_items: vec![],
            total: Amount::Exact(1000),
            currency: "AMD".into(),
            valid_until: None,
            factors: vec![],
            locale: None,
        };
        push(t0 + after, EventBody::QuoteSent { quote });
    }
    if let Some(no_show) = plan.booked {
        push(t0 + 2 * MINUTE, domain("booking.created", json!({})));
        if no_show {
            push(t0 + DAY, domain("booking.no_show", json!({})));
        }
    }
    if let Some((after, cause, human)) = plan.handoff {
        let card = HandoffCard {
            name: None,
            contact: plan.id.clone(),
            channel: plan.channel,
            intent: Some(plan.intent.into()),
            fields: BTreeMap::new(),
            score: 0,
            tier: None,
            reason: "because".into(),
            cause: cause.into(),
            summary: String::new(),
            suggested_next_step: String::new(),
            queue: "desk".into(),
            priority: switchboard_core::contract::Priority::Normal,
            assignee: None,
        };
        push(t0 + after, EventBody::HandoffRequested { card });
        if let Some(human) = human {
            push(
                t0 + after + human,
                EventBody::MessageSent { text: "Hi, Anna here".into(), by: Sender::Agent },
            );
        }
    }
    if let Some(order) = &plan.order
        && let Some(helpful) = plan.feedback
    {
        let _ = order;
        push(t0 + 5 * MINUTE, domain("feedback.received", json!({ "helpful": helpful })));
    }
    if let Some((after, refund, disputed)) = plan.rma {
        push(t0 + after, domain("rma.created", json!({})));
        if disputed {
            push(t0 + after + HOUR, domain("payment.disputed", json!({})));
        }
        if let Some(refund) = refund {
            push(t0 + after + refund, domain("refund.completed", json!({})));
        }
    }
    if let Some((outcome, reason)) = plan.renewal {
        push(t0 + MINUTE, domain("renewal.outcome", json!({ "outcome": outcome, "reason": reason })));
    }
    if let Some(amount) = plan.recovered {
        push(t0 + 2 * MINUTE, domain("payment.recovered", json!({ "amount": amount })));
    }
    if let Some((escalated, decided, approved)) = plan.approval {
        if escalated {
            push(t0 + (2 * HOUR).min(decided - 1), domain("approval.escalated", json!({})));
        }
        let decision = if approved { "approved" } else { "rejected" };
        push(t0 + decided, domain("approval.decided", json!({ "decision": decision, "by": "anna" })));
        push(t0 + decided, EventBody::MessageSent { text: decision.into(), by: Sender::Agent });
    }
    if let Some(reactivated) = plan.nudge {
        push(
            t0 + DAY,
            EventBody::TimerFired {
                key: "n".into(),
                kind: "reactivation-d1".into(),
                due_at: t0 + DAY,
                late_ms: 0,
            },
        );
        if reactivated {
            push(t0 + 2 * DAY, EventBody::MessageReceived { text: "still there".into() });
        }
    }
    if let Some((after, state)) = plan.close {
        push(t0 + after, EventBody::ConversationClosed { state: state.into() });
        if let Some((gap, same)) = plan.again {
            let intent = if same { plan.intent } else { "booking" };
            let again = t0 + after + gap;
            round(plan, again, intent, false, &mut push);
            push(again + 10 * MINUTE, EventBody::ConversationClosed { state: "resolved".into() });
        }
    }
    if let Some((after, Some((paid_after, amount)))) = plan.quote {
        push(t0 + after + paid_after, domain("payment.received", json!({ "amount": amount })));
    }
    events.sort_by_key(|event| event.at);
    events
}

/// A round's opening: the message, the intent, its field, the first reply.
fn round(plan: &Plan, t0: i64, intent: &str, late: bool, push: &mut impl FnMut(i64, EventBody)) {
    push(t0, EventBody::MessageReceived { text: "hello".into() });
    push(t0, EventBody::IntentDetected { intent: intent.into() });
    let field = match intent {
        "booking" => "service",
        "quote" => "size",
        "order" | "refund" => "order_id",
        "renewal" => "plan",
        "purchase" => "item",
        _ => "topic",
    };
    let value = match (&plan.order, field) {
        (Some(order), "order_id") => order.clone(),
        _ => "x".to_owned(),
    };
    push(t0, EventBody::MessageSent { text: "ok".into(), by: Sender::Bot });
    if !matches!(plan.channel, Channel::Webchat | Channel::Internal) {
        push(
            t0 + plan.response,
            EventBody::MessageDelivered { text: "ok".into(), attempts: 1, provider_id: None },
        );
    }
    let field_at = if late { t0 + MINUTE } else { t0 };
    if field_at > t0 {
        push(field_at, EventBody::MessageReceived { text: "x".into() });
    }
    push(field_at, EventBody::FieldCollected { field: field.into(), value: Value::Text(value) });
}

/// The exact quantile as the histogram defines it: the smallest value with
/// at least `q` of them at or below it.
fn quantile(mut values: Vec<i64>, q: f64) -> Option<f64> {
    values.sort_unstable();
    let rank = ((q * values.len() as f64).ceil() as usize).max(1);
    values.get(rank - 1).map(|v| *v as f64)
}

fn ratio(numerator: usize, denominator: usize) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

/// Every KPI computed from the plans, not from events.
fn expected(plans: &[Plan]) -> BTreeMap<&'static str, Option<f64>> {
    let count = |keep: &dyn Fn(&Plan) -> bool| plans.iter().filter(|plan| keep(plan)).count();
    let agains = count(&|p| p.again.is_some());
    let rounds = plans.len() + agains;
    // First responses: every round, the second with the plan's delay too.
    let response =
        |p: &Plan| if matches!(p.channel, Channel::Webchat | Channel::Internal) { 0 } else { p.response };
    let mut responses: Vec<i64> = plans.iter().map(response).collect();
    responses.extend(plans.iter().filter(|p| p.again.is_some()).map(response));
    let in_standard = responses.iter().filter(|r| **r <= 30 * SECOND).count();
    let humans: Vec<(Channel, i64)> = plans
        .iter()
        .filter_map(|p| match (p.handoff, p.approval) {
            (_, Some((_, decided, _))) => Some((p.channel, decided)),
            (Some((_, _, Some(human))), None) => Some((p.channel, human)),
            _ => None,
        })
        .collect();
    let graded = count(&|p| p.grade.is_some());
    let qualified = count(&|p| matches!(p.grade, Some((_, LeadTier::Hot | LeadTier::Warm))));
    let graded_meeting = count(&|p| p.grade.is_some() && p.booked.is_some());
    let booked = count(&|p| p.booked.is_some());
    let booking_rounds =
        count(&|p| p.intent == "booking") + count(&|p| p.again.is_some_and(|(_, same)| !same));
    let quoted = count(&|p| p.quote.is_some());
    let paid_in_time: Vec<i64> = plans
        .iter()
        .filter_map(|p| match p.quote {
            Some((_, Some((after, _)))) if after <= 30 * DAY => Some(after),
            _ => None,
        })
        .collect();
    let payments: Vec<i64> =
        plans.iter().filter_map(|p| p.quote.and_then(|(_, paid)| paid.map(|(_, a)| a))).collect();
    let closed = count(&|p| p.close.is_some()) + agains;
    let by_bot = count(&|p| p.close.is_some() && p.handoff.is_none()) + agains;
    let reopened = count(
        &|p| matches!((p.close, p.again), (Some((_, state)), Some((gap, true))) if state != "cancelled" && gap <= 7 * DAY),
    );
    let mut resolutions: Vec<i64> = plans
        .iter()
        .filter_map(|p| p.close.filter(|(_, s)| *s != "cancelled").map(|(after, _)| after))
        .collect();
    resolutions.extend(std::iter::repeat_n(10 * MINUTE, agains));
    // Refunds name an order too (always "x" here, once per conversation).
    let refunds = count(&|p| p.intent == "refund");
    let order_rounds = count(&|p| p.order.is_some())
        + count(&|p| p.order.is_some() && p.again.is_some_and(|(_, same)| same))
        + refunds;
    let orders = count(&|p| p.order.is_some()) + refunds;
    let feedback = count(&|p| p.feedback.is_some());
    let rmas = count(&|p| p.rma.is_some());
    let renewals = count(&|p| p.renewal.is_some());
    let nudged = count(&|p| p.nudge.is_some());
    let complete = count(&|p| p.close.is_some() && !p.late) + agains;
    let qualified_f = qualified as f64;
    let win = ratio(paid_in_time.len(), quoted);
    let deal = (!payments.is_empty()).then(|| payments.iter().sum::<i64>() as f64 / payments.len() as f64);
    let cycle = (!paid_in_time.is_empty())
        .then(|| paid_in_time.iter().sum::<i64>() as f64 / paid_in_time.len() as f64 / DAY as f64);
    BTreeMap::from([
        ("first_response_time", quantile(responses.clone(), 0.5)),
        ("first_response_in_standard", ratio(in_standard, responses.len())),
        ("human_response_time", quantile(humans.iter().map(|(_, ms)| *ms).collect(), 0.5)),
        (
            "human_response_in_standard",
            ratio(humans.iter().filter(|(channel, ms)| *ms <= standard(*channel).1).count(), humans.len()),
        ),
        ("qualified_lead_share", ratio(qualified, graded)),
        ("lead_to_meeting", ratio(graded_meeting, graded)),
        ("handoff_rate", ratio(count(&|p| p.handoff.is_some()), rounds)),
        ("booking_conversion", ratio(booked, booking_rounds)),
        (
            "messages_to_booking",
            ratio(
                plans.iter().filter(|p| p.booked.is_some()).map(|p| if p.late { 2 } else { 1 }).sum(),
                booked,
            ),
        ),
        ("no_show_rate", ratio(count(&|p| p.booked == Some(true)), booked)),
        (
            "time_to_quote",
            quantile(plans.iter().filter_map(|p| p.quote.map(|(after, _)| after)).collect(), 0.5),
        ),
        ("quote_to_payment", win),
        ("quotes_needing_human", ratio(count(&|p| p.quote.is_some() && p.handoff.is_some()), quoted)),
        ("resolved_without_human", ratio(by_bot, closed)),
        ("repeat_contacts_per_order", ratio(order_rounds, orders)),
        ("csat", ratio(count(&|p| p.feedback == Some(true)), feedback)),
        (
            "time_to_rma",
            quantile(plans.iter().filter_map(|p| p.rma.map(|(after, _, _)| after)).collect(), 0.5),
        ),
        (
            "refund_cycle_time",
            quantile(plans.iter().filter_map(|p| p.rma.and_then(|(_, refund, _)| refund)).collect(), 0.5),
        ),
        ("disputed_share", ratio(count(&|p| p.rma.is_some_and(|(_, _, disputed)| disputed)), rmas)),
        ("renewal_rate", ratio(count(&|p| matches!(p.renewal, Some(("renewed", _)))), renewals)),
        ("revenue_recovered", Some(plans.iter().filter_map(|p| p.recovered).sum::<i64>() as f64)),
        ("first_contact_resolution", ratio(by_bot - reopened, closed)),
        ("resolution_time", quantile(resolutions, 0.5)),
        ("ticket_volume", Some(rounds as f64)),
        ("reopen_rate", ratio(reopened, closed)),
        ("reactivation_rate", ratio(count(&|p| p.nudge == Some(true)), nudged)),
        (
            "pipeline_velocity",
            match (win, deal, cycle) {
                (Some(win), Some(deal), Some(days)) => Some(qualified_f * win * deal / days.max(1.0 / 24.0)),
                _ => None,
            },
        ),
        (
            "approval_time",
            quantile(plans.iter().filter_map(|p| p.approval.map(|(_, d, _)| d)).collect(), 0.5),
        ),
        ("escalations", Some(count(&|p| p.approval.is_some_and(|(escalated, _, _)| escalated)) as f64)),
        ("complete_request_share", ratio(complete, closed)),
    ])
}

fn answer(engine: &Engine) -> KpiAnswer {
    let day = |at: i64| (at.div_euclid(DAY)) as Day;
    let query = KpiQuery {
        from: day(MONTH),
        to: day(MONTH + 80 * DAY),
        channel: None,
        intent: None,
        granularity: Granularity::Week,
    };
    engine.kpis("month", &query).expect("kpis")
}

#[test]
fn a_month_of_traffic_gives_every_kpi_its_independently_computed_value_and_a_rebuild_agrees() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tenant_dir = write_tenant(dir.path(), "month", "");
    std::fs::write(tenant_dir.join("flow.toml"), FLOW).expect("flow");
    let runtime = runtime();
    let store = Store::open(&dir.path().join("data")).expect("store");
    let engine = Engine::new(store.clone(), Arc::clone(&runtime));
    engine
        .add_tenant(Tenant::load(&tenant_dir, &plugin_dir(), &runtime, &|_| None).expect("loads"))
        .expect("added");

    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut plans: Vec<Plan> = (0..CONVERSATIONS).map(|index| plan(&mut rng, index)).collect();
    plans.sort_by_key(|plan| plan.start);
    let mut committed = 0;
    for (index, plan) in plans.iter().enumerate() {
        let events = events(plan);
        committed += events.len();
        store.append_events("month", &events, None).expect("appended");
        // Folded as traffic comes, not once at the end.
        if index % 250 == 0 {
            engine.fold_kpis("month").expect("folded");
        }
    }
    assert!(committed > 20_000, "a month of traffic: {committed} events");

    let answer_before = answer(&engine);
    let expected = expected(&plans);
    let mut wrong = Vec::new();
    for (id, want) in &expected {
        let got = answer_before.total.kpis.get(id).and_then(|value| value.value);
        let close_enough = match (got, want) {
            (Some(got), Some(want)) => {
                // Durations come from 8 %-wide buckets: within 4 % of the exact value.
                let unit = switchboard_core::kpi::DEFINITIONS.iter().find(|d| d.id == *id).map(|d| d.unit);
                let tolerance = if unit == Some(Unit::Duration) { 0.045 } else { 1e-9 };
                (got - want).abs() <= tolerance * want.abs().max(1.0)
            }
            (None, None) => true,
            _ => false,
        };
        if !close_enough {
            wrong.push(format!("{id}: got {got:?}, computed {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "KPIs that disagree with the month's outcomes:\n{}", wrong.join("\n"));
    let defined: BTreeSet<&str> = switchboard_core::kpi::DEFINITIONS.iter().map(|d| d.id).collect();
    assert_eq!(defined, expected.keys().copied().collect(), "every KPI defined is checked here");

    // Breakdowns the dashboard draws.
    let total = &answer_before.total;
    let handoffs: usize = plans.iter().filter(|p| p.handoff.is_some()).count();
    assert_eq!(total.handoffs.values().sum::<i64>() as usize, handoffs);
    let cancelled = plans.iter().filter(|p| matches!(p.close, Some((_, "cancelled")))).count();
    assert_eq!(total.terminal_states.get("cancelled").copied().unwrap_or(0) as usize, cancelled);
    let failed = plans.iter().filter(|p| p.failed.is_some()).count() as i64;
    assert_eq!(total.step_failures.get("fuel_exhausted"), Some(&failed));
    assert_eq!(total.step_failures_by_version.get("pricing@abcdef012345"), Some(&failed));
    let booking = &total.funnels["booking"];
    assert_eq!(booking[0].step, "started");
    assert_eq!(booking.last().map(|step| step.step.as_str()), Some("closed"));
    // Per channel: web chat answers on commit, so its first response is 0.
    let webchat = &answer_before.by_channel[&Channel::Webchat]["first_response_time"];
    assert_eq!(webchat.value, Some(0.0));
    // The weekly series adds up to the whole span.
    let weekly_rounds: f64 = answer_before.series.iter().filter_map(|p| p.kpis["ticket_volume"].value).sum();
    assert_eq!(weekly_rounds, expected["ticket_volume"].expect("rounds"));

    // A rebuild from the log gives the very same tallies.
    let day = |at: i64| (at.div_euclid(DAY)) as Day;
    let tallies_before = engine.kpi_days("month", day(MONTH), day(MONTH + 80 * DAY)).expect("tallies");
    let folded = engine.rebuild_kpis("month", &|_| {}).expect("rebuilt");
    assert_eq!(folded, engine.tenant_events("month", None, usize::MAX).expect("log").len());
    let tallies_after = engine.kpi_days("month", day(MONTH), day(MONTH + 80 * DAY)).expect("tallies");
    assert_eq!(tallies_before.len(), tallies_after.len());
    assert!(tallies_before == tallies_after, "the rebuild's tallies differ from the incremental ones");
    assert_eq!(answer(&engine).total, answer_before.total);
}

/// The README's KPI table is the definitions' own: written once, in code.
#[test]
fn the_readme_defines_every_kpi_as_the_code_does() {
    let readme = std::fs::read_to_string(crate::support::repo_root().join("README.md")).expect("README.md");
    let (_, rest) = readme.split_once("<!-- kpi-definitions:start -->\n").expect("the README's KPI table");
    let (table, _) = rest.split_once("<!-- kpi-definitions:end -->").expect("its end");
    assert_eq!(
        table,
        switchboard_core::kpi::markdown(),
        "README.md's KPI table is stale: paste `switchboard kpis definitions --markdown` between its markers"
    );
}

/// A raw GET through the app: status, content type, body.
async fn get_raw(app: &axum::Router, uri: &str, token: &str) -> (u16, String, String) {
    use tower::ServiceExt;
    let request = axum::http::Request::builder()
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .expect("a request");
    let response = app.clone().oneshot(request).await.expect("a response");
    let status = response.status().as_u16();
    let kind =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), 64 << 20).await.expect("a body");
    (status, kind, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn the_log_exports_as_resumable_ndjson_and_the_kpis_as_csv() {
    let (app, _dir) = crate::http::app();
    for index in 0..30 {
        let body = json!({ "contact": { "id": format!("v{index}") }, "text": "human", "message_id": format!("m{index}") });
        let (status, _) =
            crate::http::send(&app, "POST", "/v1/tenants/alpha/messages", None, Some(body.to_string())).await;
        assert_eq!(status, axum::http::StatusCode::OK);
    }
    let (status, kind, all) = get_raw(&app, "/v1/tenants/alpha/events/export", "token-alpha").await;
    assert_eq!((status, kind.as_str()), (200, "application/x-ndjson"));
    let lines: Vec<serde_json::Value> =
        all.lines().map(|line| serde_json::from_str(line).expect("a JSON line")).collect();
    assert!(lines.len() >= 90, "{} lines", lines.len());
    assert!(lines.windows(2).all(|pair| pair[0]["seq"].as_u64() <= pair[1]["seq"].as_u64()), "in log order");
    // A download cut after line 40 resumes from its seq and loses nothing.
    let cut = lines[40]["seq"].as_u64().expect("a seq");
    let (_, _, rest) =
        get_raw(&app, &format!("/v1/tenants/alpha/events/export?after={cut}"), "token-alpha").await;
    let resumed: Vec<&str> =
        all.lines().skip_while(|line| !line.contains(&format!("\"seq\":{cut},"))).collect();
    let resumed: Vec<&str> =
        resumed.into_iter().skip_while(|line| line.contains(&format!("\"seq\":{cut},"))).collect();
    assert_eq!(rest.lines().collect::<Vec<_>>(), resumed);
    let (status, _, _) = get_raw(&app, "/v1/tenants/alpha/events/export", "token-beta").await;
    assert_eq!(status, 401, "another tenant's key exports nothing");

    let (status, kind, csv) = get_raw(&app, "/v1/tenants/alpha/kpis?format=csv", "token-alpha").await;
    assert_eq!((status, kind.as_str()), (200, "text/csv; charset=utf-8"));
    let mut rows = csv.lines();
    assert_eq!(rows.next(), Some("period,channel,intent,kpi,value,numerator,denominator"));
    let handoffs = csv.lines().find(|row| row.starts_with("total,all,all,handoff_rate,")).expect("a row");
    assert_eq!(handoffs, "total,all,all,handoff_rate,1,30,30", "{csv}");
    let (status, _, _) = get_raw(&app, "/v1/tenants/alpha/kpis?from=2026-13-01", "token-alpha").await;
    assert_eq!(status, 400, "a bad day is the caller's to fix");
}

/// The subscriptions demo's own outcomes, recorded by its flow (fields in
/// the flow's tagged shape, not a plugin's plain JSON), feed the renewal
/// rate, the churn reasons and the revenue recovered.
#[test]
fn a_flows_own_outcome_events_feed_the_renewal_kpis() {
    let runtime = runtime();
    let engine = Engine::new(Store::temporary().expect("a store"), Arc::clone(&runtime));
    let dir = crate::support::repo_root().join("examples/subscriptions");
    engine.add_tenant(Tenant::load(&dir, &plugin_dir(), &runtime, &|_| None).expect("loads")).expect("added");
    let at = 1_767_600_000_000; // 2026-01-05
    let message =
        |id: &str, text: &str, payload: Option<&str>, minute: i64| switchboard::engine::InboundMessage {
            channel: Channel::Telegram,
            contact: switchboard_core::contract::Contact {
                id: id.to_owned(),
                display_name: None,
                locale: "en".to_owned(),
            },
            text: text.to_owned(),
            payload: payload.map(str::to_owned),
            message_id: Some(format!("{id}-{minute}")),
            at: at + minute * 60_000,
        };
    // Two cancel for a reason (one pauses instead), one renews.
    for (id, reason, outcome) in [("a", "price", "cancelled"), ("b", "moving", "paused")] {
        engine.handle("subscriptions", message(id, "cancel my membership", None, 0)).expect("a turn");
        engine.handle("subscriptions", message(id, reason, Some(reason), 1)).expect("a turn");
        engine.handle("subscriptions", message(id, outcome, Some(outcome), 2)).expect("a turn");
    }
    // "Renew" names the intent and answers its question at once.
    engine.handle("subscriptions", message("c", "Renew my membership please", None, 0)).expect("a turn");
    let recovered = switchboard::engine::Signal {
        to: "c".to_owned(),
        channel: Channel::Telegram,
        name: "payment.recovered".to_owned(),
        fields: [(
            "amount".to_owned(),
            Value::Money(switchboard_core::contract::Money::new(1_800_000, "AMD")),
        )]
        .into(),
        id: Some("billing-1".to_owned()),
        locale: None,
        display_name: None,
        at: at + 5 * 60_000,
    };
    engine.signal("subscriptions", recovered).expect("a signal");
    let day = switchboard::engine::parse_day("2026-01-05").expect("a day");
    let query = KpiQuery { from: day, to: day, channel: None, intent: None, granularity: Granularity::Day };
    let report = engine.kpis("subscriptions", &query).expect("kpis").total;
    let renewal = &report.kpis["renewal_rate"];
    assert_eq!((renewal.numerator, renewal.denominator), (Some(1.0), Some(3.0)), "{renewal:?}");
    assert_eq!(report.churn_reasons.get("price"), Some(&1), "{:?}", report.churn_reasons);
    assert_eq!(report.kpis["revenue_recovered"].value, Some(1_800_000.0));
}
