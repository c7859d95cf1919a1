//! The fold: each committed event, in log order, updates its conversation's
//! [`Marks`] and adds to the day's [`Tally`]. What starts and stops every
//! clock is decided here, once; `definitions.rs` turns the tallies into KPIs.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::tally::{Measure, Tally};
use crate::contract::{Channel, LeadTier, Value};
use crate::event::{DomainEvent, EventBody, Sender};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// A round of the same intent this soon after a resolved one is a reopening.
pub const REOPEN_WITHIN_MS: i64 = 7 * DAY_MS;
/// A payment this soon after a quote converts it.
pub const PAYMENT_WITHIN_MS: i64 = 30 * DAY_MS;
/// A reply this soon after a reactivation nudge reactivates.
pub const REACTIVATED_WITHIN_MS: i64 = 7 * DAY_MS;
/// Orders remembered per conversation, for repeat contacts.
const ORDERS_KEPT: usize = 32;

/// Domain events that count as a meeting for lead-to-meeting.
pub const MEETING_EVENTS: [&str; 3] = ["booking.created", "callback.requested", "meeting.booked"];

/// A channel's response standards (SCENARIOS.md, "channel standards"), in
/// milliseconds: the bot's first response, and a person's after a handoff.
pub fn standard(channel: Channel) -> (i64, i64) {
    const SECOND: i64 = 1000;
    const MINUTE: i64 = 60 * SECOND;
    match channel {
        // "Acknowledge within 30 s"; "web chat: routing within 1 min".
        Channel::Webchat => (30 * SECOND, MINUTE),
        // "Acknowledge in 1-5 min during business hours."
        Channel::Whatsapp | Channel::Instagram => (30 * SECOND, 5 * MINUTE),
        // "Acknowledge in 5 min, resolution or next step within 15 min."
        Channel::Telegram | Channel::Messenger => (30 * SECOND, 15 * MINUTE),
        // Staff requests: an approver has 2 hours before escalation.
        Channel::Internal => (30 * SECOND, 120 * MINUTE),
    }
}

/// What the fold remembers of one conversation between its events. Stored
/// in a binary format that is not self-describing: no field is skipped, and
/// a change here means rebuilding the tallies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Marks {
    round: Option<Round>,
    /// The last round's close.
    closed: Option<Close>,
    /// The last quote not yet paid: when, and where it was counted.
    quote: Option<Mark>,
    /// The last RMA whose refund is not complete.
    rma: Option<Mark>,
    /// The reactivation nudge not yet answered.
    nudged: Option<Mark>,
    /// Orders this conversation named, newest last.
    orders: Vec<String>,
}

/// A moment and where its measures were counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Mark {
    at: i64,
    channel: Channel,
    intent: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Close {
    at: i64,
    intent: String,
    resolved: bool,
}

/// A round: from a customer's first message (or the first after the
/// conversation ended) to its close.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Round {
    start: i64,
    intent: String,
    intents: BTreeSet<String>,
    fields: BTreeSet<String>,
    /// A field came after the round's first message.
    late_field: bool,
    inbound: u32,
    /// The first response has not reached the customer yet.
    awaiting_response: bool,
    handed_off_at: Option<i64>,
    /// A handoff waiting for a person's first message.
    human_waiting: Option<i64>,
    quoted: bool,
    offered: bool,
    decided: bool,
    /// The grade counted, where and when, so a regrade can take it back
    /// from the day it was counted on.
    grade: Option<(LeadTier, Channel, String, i64)>,
    meeting: bool,
    graded_meeting: bool,
    reopened: bool,
    named_order: bool,
}

impl Round {
    fn new(start: i64) -> Self {
        Self {
            start,
            intent: String::new(),
            intents: BTreeSet::new(),
            fields: BTreeSet::new(),
            late_field: false,
            inbound: 0,
            awaiting_response: true,
            handed_off_at: None,
            human_waiting: None,
            quoted: false,
            offered: false,
            decided: false,
            grade: None,
            meeting: false,
            graded_meeting: false,
            reopened: false,
            named_order: false,
        }
    }
}

/// Where a fold adds: the tally of the day an event happened on.
pub trait Days {
    fn day(&mut self, at: i64) -> &mut Tally;
}

impl Marks {
    /// Fold one event of this conversation.
    pub fn observe(&mut self, event: &DomainEvent, days: &mut impl Days) {
        let (at, channel) = (event.at, event.channel);
        let mut to = To { days, at, channel };
        match &event.body {
            EventBody::MessageReceived { .. } => {
                if let Some(nudged) = self.nudged.take()
                    && at - nudged.at <= REACTIVATED_WITHIN_MS
                {
                    to.count(Measure::Reactivated, &nudged.intent, "", 1);
                }
                let round = self.round.get_or_insert_with(|| {
                    to.count(Measure::Rounds, "", "", 1);
                    Round::new(at)
                });
                round.inbound += 1;
            }
            EventBody::IntentDetected { intent } => {
                let round = self.round.get_or_insert_with(|| Round::new(at));
                round.intent = intent.clone();
                if round.intents.insert(intent.clone()) {
                    to.count(Measure::IntentRounds, intent, "", 1);
                }
                let reopens = self.closed.as_ref().is_some_and(|closed| {
                    closed.resolved && closed.intent == *intent && at - closed.at <= REOPEN_WITHIN_MS
                });
                if reopens && !round.reopened {
                    round.reopened = true;
                    to.count(Measure::Reopened, intent, "", 1);
                }
            }
            EventBody::FieldCollected { field, value } => {
                let Some(round) = self.round.as_mut() else { return };
                let intent = round.intent.clone();
                if round.fields.insert(field.clone()) {
                    to.count(Measure::FieldReached, &intent, field, 1);
                }
                if at > round.start {
                    round.late_field = true;
                }
                if let (true, Value::Text(order)) = (field.contains("order"), value) {
                    if !round.named_order {
                        round.named_order = true;
                        to.count(Measure::OrderContacts, &intent, "", 1);
                    }
                    if !self.orders.contains(order) {
                        to.count(Measure::Orders, &intent, "", 1);
                        if self.orders.len() >= ORDERS_KEPT {
                            self.orders.remove(0);
                        }
                        self.orders.push(order.clone());
                    }
                }
            }
            EventBody::QuoteSent { .. } => {
                let Some(round) = self.round.as_mut() else { return };
                if !round.quoted {
                    round.quoted = true;
                    to.count(Measure::Quoted, &round.intent, "", 1);
                    to.duration(Measure::TimeToQuote, &round.intent, at - round.start);
                    if round.handed_off_at.is_some() {
                        to.count(Measure::QuotedHandedOff, &round.intent, "", 1);
                    }
                }
                self.quote = Some(Mark { at, channel, intent: round.intent.clone() });
            }
            EventBody::SlotOffered { .. } => {
                self.first_of_round(|round| &mut round.offered, Measure::Offered, &mut to)
            }
            EventBody::PolicyDecided { .. } => {
                self.first_of_round(|round| &mut round.decided, Measure::Decided, &mut to)
            }
            EventBody::LeadGraded { tier, .. } => {
                let Some(round) = self.round.as_mut() else { return };
                if let Some((old, old_channel, old_intent, old_at)) = round.grade.take() {
                    to.count_at(old_at, old_channel, Measure::Graded, &old_intent, -1);
                    if qualified(old) {
                        to.count_at(old_at, old_channel, Measure::Qualified, &old_intent, -1);
                    }
                }
                let intent = round.intent.clone();
                to.count(Measure::Graded, &intent, "", 1);
                if qualified(*tier) {
                    to.count(Measure::Qualified, &intent, "", 1);
                }
                round.grade = Some((*tier, channel, intent.clone(), at));
                if round.meeting && !round.graded_meeting {
                    round.graded_meeting = true;
                    to.count(Measure::GradedMeeting, &intent, "", 1);
                }
            }
            EventBody::MessageSent { by, .. } => {
                let Some(round) = self.round.as_mut() else { return };
                let intent = round.intent.clone();
                if *by == Sender::Agent
                    && let Some(since) = round.human_waiting.take()
                {
                    to.duration(Measure::HumanResponse, &intent, at - since);
                    if at - since <= standard(channel).1 {
                        to.count(Measure::HumanResponseInStandard, &intent, "", 1);
                    }
                }
                // Web chat and staff chat answer on commit; providers on delivery.
                if matches!(channel, Channel::Webchat | Channel::Internal) {
                    self.responded(&mut to);
                }
            }
            EventBody::MessageDelivered { .. } => self.responded(&mut to),
            EventBody::HandoffRequested { card } => {
                let intent = self.intent();
                let cause = if card.cause.is_empty() { cause_of(&card.reason) } else { card.cause.as_str() };
                to.count(Measure::HandoffCause, &intent, cause, 1);
                let Some(round) = self.round.as_mut() else { return };
                if round.human_waiting.is_none() {
                    round.human_waiting = Some(at);
                }
                if round.handed_off_at.is_none() {
                    round.handed_off_at = Some(at);
                    to.count(Measure::HandedOff, &intent, "", 1);
                    if round.quoted {
                        to.count(Measure::QuotedHandedOff, &intent, "", 1);
                    }
                }
            }
            EventBody::HandoffReturned { .. } => {
                if let Some(round) = self.round.as_mut() {
                    round.human_waiting = None;
                }
            }
            EventBody::ConversationClosed { state } => {
                let Some(round) = self.round.take() else { return };
                let intent = round.intent.clone();
                to.count(Measure::Closed, &intent, state, 1);
                let resolved = state != "cancelled";
                if round.handed_off_at.is_none() {
                    to.count(Measure::ClosedByBot, &intent, "", 1);
                }
                if resolved {
                    to.duration(Measure::Resolution, &intent, at - round.start);
                }
                if !round.late_field && !round.fields.is_empty() {
                    to.count(Measure::CompleteRequest, &intent, "", 1);
                }
                self.closed = Some(Close { at, intent, resolved });
            }
            // A second nudge of the same silence is not a new one.
            EventBody::TimerFired { kind, .. } if is_reactivation(kind) && self.nudged.is_none() => {
                let intent = self.intent();
                to.count(Measure::Nudged, &intent, "", 1);
                self.nudged = Some(Mark { at, channel, intent });
            }
            EventBody::StepRan { plugin, .. } => to.count(Measure::StepRan, &self.intent(), plugin, 1),
            EventBody::StepFailed { plugin, code, version, .. } => {
                let intent = self.intent();
                let code = serde_json::to_value(code).ok().and_then(|code| code.as_str().map(str::to_owned));
                to.count(Measure::StepFailed, &intent, code.as_deref().unwrap_or("unknown"), 1);
                let version =
                    version.as_deref().map_or("unknown", |version| &version[..version.len().min(12)]);
                to.count(Measure::StepFailedVersion, &intent, &format!("{plugin}@{version}"), 1);
            }
            EventBody::Domain { name, payload } => self.domain(&mut to, name, payload),
            _ => {}
        }
    }

    /// A domain event: a flow's `done.event`, a plugin's `emit`, or one a
    /// tenant's system posted.
    fn domain(&mut self, to: &mut To<'_, impl Days>, name: &str, payload: &serde_json::Value) {
        let intent = self.intent();
        let at = to.at;
        // A plugin's or the tenant's system's plain JSON (`"outcome":
        // "renewed"`, `"amount": 150000`), or a flow's collected fields
        // (`"outcome": {"text": "renewed"}`, `"amount": {"money": {...}}`).
        let field = |key: &str| {
            let value = payload.get(key)?;
            Some(value.get("text").or_else(|| value.get("number")).unwrap_or(value).clone())
        };
        let text =
            |key: &str| field(key).and_then(|value| value.as_str().map(str::to_owned)).unwrap_or_default();
        let amount = payload
            .get("amount")
            .and_then(|value| value.pointer("/money/amount_minor"))
            .and_then(serde_json::Value::as_f64)
            .or_else(|| field("amount").and_then(|value| value.as_f64()))
            .unwrap_or(0.0);
        if MEETING_EVENTS.contains(&name)
            && let Some(round) = self.round.as_mut()
        {
            round.meeting = true;
            if let Some((_, graded_channel, graded_intent, _)) = round.grade.as_ref()
                && !round.graded_meeting
            {
                round.graded_meeting = true;
                to.count_on(*graded_channel, Measure::GradedMeeting, graded_intent, 1);
            }
        }
        match name {
            "booking.created" => {
                let inbound = self.round.as_ref().map_or(0, |round| round.inbound);
                to.count(Measure::Booked, &intent, "", 1);
                to.sum(Measure::MessagesToBooking, &intent, f64::from(inbound));
            }
            "booking.no_show" => to.count(Measure::NoShow, &intent, "", 1),
            "payment.received" => {
                to.count(Measure::Payments, &intent, "", 1);
                to.sum(Measure::Revenue, &intent, amount);
                if let Some(quote) = self.quote.take()
                    && at - quote.at <= PAYMENT_WITHIN_MS
                {
                    to.count_on(quote.channel, Measure::QuotePaid, &quote.intent, 1);
                    to.duration_on(quote.channel, Measure::QuoteToPayment, &quote.intent, at - quote.at);
                }
            }
            "feedback.received" => {
                let positive = match (payload.get("helpful"), payload.get("score")) {
                    (Some(helpful), _) => helpful.as_bool(),
                    (None, Some(score)) => score.as_f64().map(|score| score >= 4.0),
                    (None, None) => None,
                };
                if let Some(positive) = positive {
                    to.count(Measure::Feedback, &intent, if positive { "positive" } else { "negative" }, 1);
                }
            }
            "rma.created" => {
                to.count(Measure::Rmas, &intent, "", 1);
                if let Some(round) = self.round.as_ref() {
                    to.duration(Measure::TimeToRma, &intent, at - round.start);
                }
                self.rma = Some(Mark { at, channel: to.channel, intent });
            }
            "refund.completed" => {
                if let Some(rma) = self.rma.take() {
                    to.duration_on(rma.channel, Measure::RefundCycle, &rma.intent, at - rma.at);
                }
            }
            "payment.disputed" => to.count(Measure::Disputed, &intent, "", 1),
            "renewal.outcome" => {
                let outcome = text("outcome");
                if outcome == "cancelled" {
                    let reason = text("reason");
                    to.count(
                        Measure::ChurnReason,
                        &intent,
                        if reason.is_empty() { "unspecified" } else { &reason },
                        1,
                    );
                }
                to.count(Measure::RenewalOutcome, &intent, &outcome, 1);
            }
            "payment.recovered" => to.sum(Measure::Recovered, &intent, amount),
            "approval.decided" => {
                to.count(Measure::ApprovalDecided, &intent, &text("decision"), 1);
                if let Some(round) = self.round.as_ref() {
                    let since = round.handed_off_at.unwrap_or(round.start);
                    to.duration(Measure::ApprovalTime, &intent, at - since);
                }
            }
            "approval.escalated" => to.count(Measure::Escalations, &intent, "", 1),
            _ => {}
        }
    }

    /// A reply reached the customer: the round's first stops its clock.
    fn responded(&mut self, to: &mut To<'_, impl Days>) {
        let Some(round) = self.round.as_mut().filter(|round| round.awaiting_response) else { return };
        round.awaiting_response = false;
        let waited = to.at - round.start;
        to.duration(Measure::FirstResponse, &round.intent, waited);
        if waited <= standard(to.channel).0 {
            to.count(Measure::FirstResponseInStandard, &round.intent, "", 1);
        }
    }

    fn first_of_round(
        &mut self,
        flag: impl Fn(&mut Round) -> &mut bool,
        measure: Measure,
        to: &mut To<'_, impl Days>,
    ) {
        let Some(round) = self.round.as_mut() else { return };
        let seen = flag(round);
        if !*seen {
            *seen = true;
            to.count(measure, &round.intent, "", 1);
        }
    }

    /// The intent measures count under: the round's, else the last one's.
    fn intent(&self) -> String {
        match (&self.round, &self.closed) {
            (Some(round), _) if !round.intent.is_empty() => round.intent.clone(),
            (None, Some(closed)) => closed.intent.clone(),
            _ => String::new(),
        }
    }
}

/// Where one event's measures go: its day, and (unless said) its channel.
struct To<'d, D> {
    days: &'d mut D,
    at: i64,
    channel: Channel,
}

impl<D: Days> To<'_, D> {
    fn count(&mut self, measure: Measure, intent: &str, label: &str, n: i64) {
        self.days.day(self.at).stat(measure, self.channel, intent, label).n += n;
    }

    /// Counted on this event's day, in an earlier event's channel.
    fn count_on(&mut self, channel: Channel, measure: Measure, intent: &str, n: i64) {
        self.days.day(self.at).stat(measure, channel, intent, "").n += n;
    }

    /// Counted on an earlier event's day and channel (a regrade takes back
    /// the grade there, so no span sees it twice or half).
    fn count_at(&mut self, at: i64, channel: Channel, measure: Measure, intent: &str, n: i64) {
        self.days.day(at).stat(measure, channel, intent, "").n += n;
    }

    /// One more, adding `amount` to the sum.
    fn sum(&mut self, measure: Measure, intent: &str, amount: f64) {
        let stat = self.days.day(self.at).stat(measure, self.channel, intent, "");
        stat.n += 1;
        stat.sum += amount;
    }

    fn duration(&mut self, measure: Measure, intent: &str, ms: i64) {
        self.duration_on(self.channel, measure, intent, ms);
    }

    fn duration_on(&mut self, channel: Channel, measure: Measure, intent: &str, ms: i64) {
        let ms = ms.max(0);
        let stat = self.days.day(self.at).stat(measure, channel, intent, "");
        stat.n += 1;
        stat.sum += ms as f64;
        stat.hist.get_or_insert_with(Default::default).record(ms);
    }
}

fn qualified(tier: LeadTier) -> bool {
    matches!(tier, LeadTier::Hot | LeadTier::Warm)
}

/// Timers whose firing is a reactivation nudge, by the kind's name.
pub fn is_reactivation(kind: &str) -> bool {
    ["reactivat", "win-back", "winback", "nudge"].iter().any(|prefix| kind.starts_with(prefix))
}

/// A handoff's cause, for events recorded before cards named it.
fn cause_of(reason: &str) -> &'static str {
    match reason {
        r if r.starts_with("the customer asked") => "asked",
        r if r.starts_with("negative signal") => "negative",
        r if r.starts_with("hot lead") => "hot_lead",
        r if r.starts_with("policy escalation") => "policy",
        r if r.starts_with("repeated invalid") => "invalid_answers",
        r if r.ends_with("step failed") => "step_failed",
        _ => "plugin",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// Tallies by UTC day.
    #[derive(Default)]
    struct Utc(BTreeMap<i64, Tally>);

    impl Days for Utc {
        fn day(&mut self, at: i64) -> &mut Tally {
            self.0.entry(at.div_euclid(DAY_MS)).or_default()
        }
    }

    fn event(at: i64, body: EventBody) -> DomainEvent {
        DomainEvent { at, tenant: "t".into(), conversation: "c".into(), channel: Channel::Telegram, body }
    }

    #[test]
    fn a_regrade_on_another_day_takes_the_grade_back_from_its_own_day() {
        let (mut marks, mut days) = (Marks::default(), Utc::default());
        marks.observe(&event(DAY_MS + 10, EventBody::MessageReceived { text: "hi".into() }), &mut days);
        marks.observe(
            &event(DAY_MS + 20, EventBody::LeadGraded { tier: LeadTier::Warm, reasons: vec![] }),
            &mut days,
        );
        marks.observe(
            &event(2 * DAY_MS + 5, EventBody::LeadGraded { tier: LeadTier::Cold, reasons: vec![] }),
            &mut days,
        );
        let (monday, tuesday) = (&days.0[&1], &days.0[&2]);
        assert_eq!((monday.count(Measure::Graded), monday.count(Measure::Qualified)), (0, 0), "{monday:?}");
        assert_eq!(
            (tuesday.count(Measure::Graded), tuesday.count(Measure::Qualified)),
            (1, 0),
            "{tuesday:?}"
        );
    }
}
