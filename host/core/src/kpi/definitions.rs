//! Every KPI of SCENARIOS.md, defined once: what it counts, and how it is
//! computed from the fold's tallies. The README's KPI table is generated
//! from [`DEFINITIONS`] (`switchboard kpis definitions`), and a test keeps
//! the two equal.

use std::collections::BTreeMap;

use serde::Serialize;

use super::tally::{Measure, Tally};
use crate::flow::Flow;

/// How a KPI's value reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Milliseconds; the median, with the 90th percentile beside it.
    Duration,
    /// A share between 0 and 1, with its numerator and denominator.
    Share,
    /// How many.
    Count,
    /// An average per item.
    Mean,
    /// A sum of amounts in minor units (cents, luma).
    Money,
    /// Money per day.
    MoneyPerDay,
}

/// One KPI.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Definition {
    pub id: &'static str,
    /// Its scenario in SCENARIOS.md; 0 for the cross-cutting channel standards.
    pub scenario: u8,
    pub title: &'static str,
    pub unit: Unit,
    /// What starts and stops its clock, and what counts.
    pub definition: &'static str,
    #[serde(skip)]
    compute: fn(&Tally, &FlowShape) -> Value,
}

/// A KPI's value over some span, channel and intent.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Value {
    /// `None` when nothing was counted.
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numerator: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denominator: Option<f64>,
    /// Durations: the 90th percentile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p90: Option<f64>,
}

/// What the KPIs need to know of a tenant's flow: each intent's fields in
/// order (for its funnel), and the domain event its completion records.
#[derive(Debug, Clone, Default)]
pub struct FlowShape {
    pub intents: Vec<IntentShape>,
}

#[derive(Debug, Clone, Default)]
pub struct IntentShape {
    pub name: String,
    pub fields: Vec<String>,
    pub done_event: Option<String>,
}

impl FlowShape {
    pub fn of(flow: &Flow) -> Self {
        let intents = flow
            .intents
            .iter()
            .map(|intent| IntentShape {
                name: intent.name.clone(),
                fields: intent.fields.iter().map(|field| field.name.clone()).collect(),
                done_event: intent.done.event.clone(),
            })
            .collect();
        Self { intents }
    }

    /// Intents whose completion records `event`.
    fn completing(&self, event: &str) -> impl Iterator<Item = &str> {
        self.intents
            .iter()
            .filter(move |intent| intent.done_event.as_deref() == Some(event))
            .map(|i| i.name.as_str())
    }
}

fn share(numerator: f64, denominator: f64) -> Value {
    Value {
        value: (denominator > 0.0).then(|| numerator / denominator),
        numerator: Some(numerator),
        denominator: Some(denominator),
        p90: None,
    }
}

fn count_share(tally: &Tally, numerator: Measure, denominator: Measure) -> Value {
    share(tally.count(numerator) as f64, tally.count(denominator) as f64)
}

fn median(tally: &Tally, measure: Measure) -> Value {
    let histogram = tally.histogram(measure);
    Value {
        value: histogram.quantile(0.5),
        numerator: None,
        denominator: Some(histogram.count() as f64),
        p90: histogram.quantile(0.9),
    }
}

fn count(value: i64) -> Value {
    Value { value: Some(value as f64), ..Value::default() }
}

/// Rounds begun: counted without an intent, so a tally narrowed to one
/// intent counts the rounds that took it up instead.
pub fn rounds(tally: &Tally) -> i64 {
    match tally.count(Measure::Rounds) {
        0 => tally.count(Measure::IntentRounds),
        rounds => rounds,
    }
}

fn label_share(tally: &Tally, measure: Measure, label: &str) -> Value {
    let labels = tally.by_label(measure);
    share(labels.get(label).copied().unwrap_or(0) as f64, labels.values().sum::<i64>() as f64)
}

/// Every KPI, in the order of SCENARIOS.md.
pub const DEFINITIONS: &[Definition] = &[
    Definition {
        id: "first_response_time",
        scenario: 1,
        title: "First-response time",
        unit: Unit::Duration,
        definition: "Starts at a round's first customer message (a round is a conversation from its first message, or the first after it closed, to its close). Stops when the first reply reaches the customer: the provider accepts it (`message.delivered`), or, on web chat and staff chat, it is sent. Median.",
        compute: |tally, _| median(tally, Measure::FirstResponse),
    },
    Definition {
        id: "first_response_in_standard",
        scenario: 0,
        title: "First responses within the channel standard",
        unit: Unit::Share,
        definition: "First responses within 30 s (the scenarios' acknowledgement target) over all first responses.",
        compute: |tally, _| count_share(tally, Measure::FirstResponseInStandard, Measure::FirstResponse),
    },
    Definition {
        id: "human_response_time",
        scenario: 0,
        title: "Human response after handoff",
        unit: Unit::Duration,
        definition: "Starts at a round's `handoff.requested`; stops at the first message a person sends. Median.",
        compute: |tally, _| median(tally, Measure::HumanResponse),
    },
    Definition {
        id: "human_response_in_standard",
        scenario: 0,
        title: "Human responses within the channel standard",
        unit: Unit::Share,
        definition: "Human responses within the channel's standard (web chat 1 min; WhatsApp and Instagram 5 min; Telegram and Messenger 15 min; staff 2 h) over all human responses.",
        compute: |tally, _| count_share(tally, Measure::HumanResponseInStandard, Measure::HumanResponse),
    },
    Definition {
        id: "qualified_lead_share",
        scenario: 1,
        title: "Qualified leads",
        unit: Unit::Share,
        definition: "Graded rounds whose last grade (`lead.graded`) is hot or warm, over graded rounds.",
        compute: |tally, _| count_share(tally, Measure::Qualified, Measure::Graded),
    },
    Definition {
        id: "lead_to_meeting",
        scenario: 1,
        title: "Lead-to-meeting rate",
        unit: Unit::Share,
        definition: "Graded rounds that reach `booking.created`, `callback.requested` or `meeting.booked`, over graded rounds.",
        compute: |tally, _| count_share(tally, Measure::GradedMeeting, Measure::Graded),
    },
    Definition {
        id: "handoff_rate",
        scenario: 1,
        title: "Handoff rate",
        unit: Unit::Share,
        definition: "Rounds with at least one `handoff.requested`, over rounds begun.",
        compute: |tally, _| share(tally.count(Measure::HandedOff) as f64, rounds(tally) as f64),
    },
    Definition {
        id: "booking_conversion",
        scenario: 2,
        title: "Booking conversion",
        unit: Unit::Share,
        definition: "`booking.created` over rounds that took up an intent whose `done.event` is `booking.created`.",
        compute: |tally, shape| {
            let booking: Vec<&str> = shape.completing("booking.created").collect();
            let started = tally
                .filtered(|cell| {
                    cell.measure == Measure::IntentRounds && booking.contains(&cell.intent.as_str())
                })
                .count(Measure::IntentRounds);
            share(tally.count(Measure::Booked) as f64, started as f64)
        },
    },
    Definition {
        id: "messages_to_booking",
        scenario: 2,
        title: "Messages until booking",
        unit: Unit::Mean,
        definition: "Customer messages in a round up to its `booking.created`, averaged over bookings.",
        compute: |tally, _| {
            let value =
                share(tally.sum(Measure::MessagesToBooking), tally.count(Measure::MessagesToBooking) as f64);
            Value { value: value.value, ..value }
        },
    },
    Definition {
        id: "no_show_rate",
        scenario: 2,
        title: "No-show rate",
        unit: Unit::Share,
        definition: "`booking.no_show` over `booking.created` in the same span.",
        compute: |tally, _| count_share(tally, Measure::NoShow, Measure::Booked),
    },
    Definition {
        id: "time_to_quote",
        scenario: 3,
        title: "Time to quote",
        unit: Unit::Duration,
        definition: "Starts at a round's first customer message; stops at its first `quote.sent`. Median.",
        compute: |tally, _| median(tally, Measure::TimeToQuote),
    },
    Definition {
        id: "quote_to_payment",
        scenario: 3,
        title: "Quote-to-payment conversion",
        unit: Unit::Share,
        definition: "Quoted rounds followed by `payment.received` within 30 days, over quoted rounds.",
        compute: |tally, _| count_share(tally, Measure::QuotePaid, Measure::Quoted),
    },
    Definition {
        id: "quotes_needing_human",
        scenario: 3,
        title: "Quotes needing a human",
        unit: Unit::Share,
        definition: "Quoted rounds that were also handed to a human, over quoted rounds.",
        compute: |tally, _| count_share(tally, Measure::QuotedHandedOff, Measure::Quoted),
    },
    Definition {
        id: "resolved_without_human",
        scenario: 4,
        title: "Resolved without a human",
        unit: Unit::Share,
        definition: "Rounds closed without ever going to a human, over rounds closed.",
        compute: |tally, _| count_share(tally, Measure::ClosedByBot, Measure::Closed),
    },
    Definition {
        id: "repeat_contacts_per_order",
        scenario: 4,
        title: "Contacts per order",
        unit: Unit::Mean,
        definition: "Rounds that named an order (a collected field whose name contains `order`), over distinct orders named by each conversation.",
        compute: |tally, _| count_share(tally, Measure::OrderContacts, Measure::Orders),
    },
    Definition {
        id: "csat",
        scenario: 4,
        title: "CSAT",
        unit: Unit::Share,
        definition: "`feedback.received` that is positive (`helpful: true`, or `score` 4-5), over all feedback.",
        compute: |tally, _| label_share(tally, Measure::Feedback, "positive"),
    },
    Definition {
        id: "time_to_rma",
        scenario: 5,
        title: "Time to RMA",
        unit: Unit::Duration,
        definition: "Starts at a round's first customer message; stops at its `rma.created`. Median.",
        compute: |tally, _| median(tally, Measure::TimeToRma),
    },
    Definition {
        id: "refund_cycle_time",
        scenario: 5,
        title: "Refund cycle time",
        unit: Unit::Duration,
        definition: "Starts at `rma.created`; stops at the conversation's next `refund.completed`. Median.",
        compute: |tally, _| median(tally, Measure::RefundCycle),
    },
    Definition {
        id: "disputed_share",
        scenario: 5,
        title: "Disputed transactions",
        unit: Unit::Share,
        definition: "`payment.disputed` over `rma.created` in the same span.",
        compute: |tally, _| count_share(tally, Measure::Disputed, Measure::Rmas),
    },
    Definition {
        id: "renewal_rate",
        scenario: 6,
        title: "Renewal rate",
        unit: Unit::Share,
        definition: "`renewal.outcome` with `outcome: renewed`, over all renewal outcomes (renewed, paused, cancelled, needs_follow_up). Cancellations count by `reason` under churn reasons.",
        compute: |tally, _| label_share(tally, Measure::RenewalOutcome, "renewed"),
    },
    Definition {
        id: "revenue_recovered",
        scenario: 6,
        title: "Revenue recovered after failed payments",
        unit: Unit::Money,
        definition: "The sum of `amount` (minor units) over `payment.recovered`.",
        compute: |tally, _| Value {
            value: Some(tally.sum(Measure::Recovered)),
            numerator: None,
            denominator: Some(tally.count(Measure::Recovered) as f64),
            p90: None,
        },
    },
    Definition {
        id: "first_contact_resolution",
        scenario: 7,
        title: "First-contact resolution",
        unit: Unit::Share,
        definition: "Rounds closed without a human, less rounds that reopened a resolved one, over rounds closed.",
        compute: |tally, _| {
            let resolved = (tally.count(Measure::ClosedByBot) - tally.count(Measure::Reopened)).max(0);
            share(resolved as f64, tally.count(Measure::Closed) as f64)
        },
    },
    Definition {
        id: "resolution_time",
        scenario: 7,
        title: "Resolution time",
        unit: Unit::Duration,
        definition: "Starts at a round's first customer message; stops at its `conversation.closed` in any state but `cancelled`. Median.",
        compute: |tally, _| median(tally, Measure::Resolution),
    },
    Definition {
        id: "ticket_volume",
        scenario: 7,
        title: "Ticket volume",
        unit: Unit::Count,
        definition: "Rounds begun.",
        compute: |tally, _| count(rounds(tally)),
    },
    Definition {
        id: "reopen_rate",
        scenario: 7,
        title: "Reopen rate",
        unit: Unit::Share,
        definition: "Rounds that took up the same intent within 7 days of a resolved close, over rounds closed.",
        compute: |tally, _| count_share(tally, Measure::Reopened, Measure::Closed),
    },
    Definition {
        id: "reactivation_rate",
        scenario: 8,
        title: "Reactivation rate",
        unit: Unit::Share,
        definition: "Conversations that wrote within 7 days of a reactivation nudge (a fired timer whose kind starts with `reactivat`, `win-back`, `winback` or `nudge`), over nudged conversations.",
        compute: |tally, _| count_share(tally, Measure::Reactivated, Measure::Nudged),
    },
    Definition {
        id: "pipeline_velocity",
        scenario: 8,
        title: "Pipeline velocity",
        unit: Unit::MoneyPerDay,
        definition: "Qualified leads x quote-to-payment conversion x average payment, over the mean days from quote to payment.",
        compute: |tally, _| {
            let qualified = tally.count(Measure::Qualified) as f64;
            let win = count_share(tally, Measure::QuotePaid, Measure::Quoted).value;
            let payments = tally.count(Measure::Payments) as f64;
            let deal = (payments > 0.0).then(|| tally.sum(Measure::Revenue) / payments);
            let paid = tally.count(Measure::QuoteToPayment) as f64;
            let cycle_days = (paid > 0.0).then(|| tally.sum(Measure::QuoteToPayment) / paid / 86_400_000.0);
            let value = match (win, deal, cycle_days) {
                (Some(win), Some(deal), Some(days)) => Some(qualified * win * deal / days.max(1.0 / 24.0)),
                _ => None,
            };
            Value { value, ..Value::default() }
        },
    },
    Definition {
        id: "approval_time",
        scenario: 9,
        title: "Approval time",
        unit: Unit::Duration,
        definition: "Starts at a request's first handoff to its approver (else its first message); stops at `approval.decided`. Median.",
        compute: |tally, _| median(tally, Measure::ApprovalTime),
    },
    Definition {
        id: "escalations",
        scenario: 9,
        title: "Escalations",
        unit: Unit::Count,
        definition: "`approval.escalated`: requests moved to the backup approver after the approver's silence.",
        compute: |tally, _| count(tally.count(Measure::Escalations)),
    },
    Definition {
        id: "complete_request_share",
        scenario: 9,
        title: "Complete requests",
        unit: Unit::Share,
        definition: "Rounds closed whose fields all came in their first message (nothing had to be asked), over rounds closed with fields.",
        compute: |tally, _| count_share(tally, Measure::CompleteRequest, Measure::Closed),
    },
];

impl Definition {
    pub fn compute(&self, tally: &Tally, shape: &FlowShape) -> Value {
        (self.compute)(tally, shape)
    }
}

/// The KPI table for README.md, generated so the two never disagree.
pub fn markdown() -> String {
    let mut table = String::from("| scenario | KPI | unit | definition |\n|---|---|---|---|\n");
    for definition in DEFINITIONS {
        let scenario = match definition.scenario {
            0 => "channel standards".to_owned(),
            n => n.to_string(),
        };
        let unit =
            serde_json::to_value(definition.unit).ok().and_then(|unit| unit.as_str().map(str::to_owned));
        table.push_str(&format!(
            "| {scenario} | **{}** (`{}`) | {} | {} |\n",
            definition.title,
            definition.id,
            unit.unwrap_or_default(),
            definition.definition
        ));
    }
    table
}

/// One step of an intent's funnel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelStep {
    pub step: String,
    pub reached: i64,
    /// Reached the step before but not this one.
    pub dropped: i64,
}

/// Everything the dashboard shows for one span, channel and intent.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    pub kpis: BTreeMap<&'static str, Value>,
    /// Per intent: started, each field, quote, offer, decision, closed.
    pub funnels: BTreeMap<String, Vec<FunnelStep>>,
    /// Rounds closed, by terminal state.
    pub terminal_states: BTreeMap<String, i64>,
    /// Handoffs by cause.
    pub handoffs: BTreeMap<String, i64>,
    /// Plugin step failures by code, and by plugin and version.
    pub step_failures: BTreeMap<String, i64>,
    pub step_failures_by_version: BTreeMap<String, i64>,
    /// Cancellations by the reason given.
    pub churn_reasons: BTreeMap<String, i64>,
}

impl Report {
    pub fn of(tally: &Tally, shape: &FlowShape) -> Self {
        let kpis =
            DEFINITIONS.iter().map(|definition| (definition.id, definition.compute(tally, shape))).collect();
        Self {
            kpis,
            funnels: funnels(tally, shape),
            terminal_states: tally.by_label(Measure::Closed),
            handoffs: tally.by_label(Measure::HandoffCause),
            step_failures: tally.by_label(Measure::StepFailed),
            step_failures_by_version: tally.by_label(Measure::StepFailedVersion),
            churn_reasons: tally.by_label(Measure::ChurnReason),
        }
    }
}

/// Each intent's funnel: the intents of the flow in its order, then any
/// others the tallies name (an intent since removed).
fn funnels(tally: &Tally, shape: &FlowShape) -> BTreeMap<String, Vec<FunnelStep>> {
    let mut intents: Vec<IntentShape> = shape.intents.clone();
    for cell in tally.cells.keys() {
        if cell.measure == Measure::IntentRounds && !intents.iter().any(|intent| intent.name == cell.intent) {
            intents.push(IntentShape { name: cell.intent.clone(), ..IntentShape::default() });
        }
    }
    let mut funnels = BTreeMap::new();
    for intent in intents {
        let mine = tally.filtered(|cell| cell.intent == intent.name);
        let started = mine.count(Measure::IntentRounds);
        if started == 0 {
            continue;
        }
        let fields = mine.by_label(Measure::FieldReached);
        let mut steps: Vec<(String, i64)> = vec![("started".to_owned(), started)];
        steps.extend(
            intent.fields.iter().map(|field| (field.clone(), fields.get(field).copied().unwrap_or(0))),
        );
        for (step, measure) in
            [("quote", Measure::Quoted), ("offer", Measure::Offered), ("decision", Measure::Decided)]
        {
            let reached = mine.count(measure);
            if reached > 0 {
                steps.push((step.to_owned(), reached));
            }
        }
        steps.push(("closed".to_owned(), mine.count(Measure::Closed)));
        let mut previous = started;
        let funnel = steps
            .into_iter()
            .map(|(step, reached)| {
                let dropped = (previous - reached).max(0);
                previous = reached;
                FunnelStep { step, reached, dropped }
            })
            .collect();
        funnels.insert(intent.name, funnel);
    }
    funnels
}
