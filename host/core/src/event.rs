//! The domain events every turn records, append-only. KPIs are computed from
//! them, so each one carries its tenant, conversation, channel and time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::contract::{Channel, LeadTier, Priority, Quote, Slot, Value, Verdict};
use crate::failure::FailureCode;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainEvent {
    /// Unix milliseconds.
    pub at: i64,
    pub tenant: String,
    pub conversation: String,
    pub channel: Channel,
    #[serde(flatten)]
    pub body: EventBody,
}

/// What happened. The `type` names are stable: dashboards and KPIs use them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum EventBody {
    #[serde(rename = "conversation.started")]
    ConversationStarted { flow_version: String, locale: String },
    #[serde(rename = "message.received")]
    MessageReceived { text: String },
    #[serde(rename = "message.sent")]
    MessageSent { text: String, by: Sender },
    /// A provider accepted a reply.
    #[serde(rename = "message.delivered")]
    MessageDelivered {
        text: String,
        attempts: u32,
        /// The provider's id for it, which its delivery receipts refer to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider_id: Option<String>,
    },
    /// A provider refused a reply, or kept failing until we gave up.
    #[serde(rename = "message.failed")]
    MessageFailed { text: String, attempts: u32, reason: String, gave_up: bool },
    /// A reply delivery set aside because it cannot be sent as it is (the
    /// channel's credentials are gone, or its messaging window closed with
    /// no template or tag to fall back on). It is kept, listed by
    /// `GET …/outbox/parked`, and sent again by `POST …/outbox/parked/redrive`.
    #[serde(rename = "message.parked")]
    MessageParked { text: String, attempts: u32, reason: String },
    #[serde(rename = "intent.detected")]
    IntentDetected { intent: String },
    #[serde(rename = "intent.unclear")]
    IntentUnclear { candidates: Vec<String> },
    #[serde(rename = "field.collected")]
    FieldCollected { field: String, value: Value },
    #[serde(rename = "field.invalid")]
    FieldInvalid { field: String, reason: String, attempt: u32 },
    #[serde(rename = "field.skipped")]
    FieldSkipped { field: String },
    #[serde(rename = "lead.scored")]
    LeadScored { delta: i32, score: i32, reason: String },
    #[serde(rename = "lead.graded")]
    LeadGraded { tier: LeadTier, reasons: Vec<String> },
    #[serde(rename = "quote.sent")]
    QuoteSent { quote: Quote },
    #[serde(rename = "slot.offered")]
    SlotOffered { slots: Vec<Slot> },
    #[serde(rename = "policy.decided")]
    PolicyDecided { verdict: Verdict },
    #[serde(rename = "step.failed")]
    StepFailed {
        step: String,
        plugin: String,
        code: FailureCode,
        message: String,
        /// The SHA-256 of the component that failed, when one ran.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<String>,
    },
    /// A plugin step answered: which build (`version`, the component's
    /// SHA-256), and what it used. Recorded by the host after the turn's
    /// own events.
    #[serde(rename = "step.ran")]
    StepRan { step: String, plugin: String, version: String, fuel: u64, wall_time_us: u64 },
    /// A timer was set or moved. `requested_at` is the time asked for when
    /// business hours moved it to `due_at`.
    #[serde(rename = "timer.requested")]
    TimerRequested {
        key: String,
        kind: String,
        due_at: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        requested_at: Option<i64>,
    },
    /// A timer could not be set: its anchor field holds no date.
    #[serde(rename = "timer.unresolved")]
    TimerUnresolved { key: String, kind: String, field: String },
    /// `reason`: `reply`, `opt_out`, `closed`, `agent`, `plugin`.
    #[serde(rename = "timer.cancelled")]
    TimerCancelled {
        key: String,
        #[serde(default)]
        reason: String,
    },
    #[serde(rename = "timer.fired")]
    TimerFired { key: String, kind: String, due_at: i64, late_ms: i64 },
    /// Due, but not sent: `too_late`, `window_closed` or `resolved`.
    #[serde(rename = "timer.skipped")]
    TimerSkipped { key: String, kind: String, reason: String },
    /// The customer tapped a button of a timer's message.
    #[serde(rename = "timer.answered")]
    TimerAnswered { kind: String, answer: String },
    /// A provider's receipt for a sent message: `sent`, `delivered`, `read`
    /// or `failed` (with the provider's reason).
    #[serde(rename = "message.status")]
    MessageStatus {
        provider_id: String,
        status: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A channel identity now continues this conversation: `by` is `phone`
    /// or `email` (verified in a flow), `agent`, or `user_changed_number`.
    #[serde(rename = "contact.linked")]
    ContactLinked { identity: String, conversation: String, by: String },
    /// A message that was not sent, and why (e.g. `window_closed`).
    #[serde(rename = "message.refused")]
    MessageRefused { text: String, reason: String },
    #[serde(rename = "conversation.routed")]
    ConversationRouted { queue: String, priority: Priority, assignee: Option<String>, after_hours: bool },
    #[serde(rename = "handoff.requested")]
    HandoffRequested { card: HandoffCard },
    #[serde(rename = "handoff.returned")]
    HandoffReturned { by: String },
    /// A person took a handed-off conversation, or gave it to someone
    /// (`assignee` none: back to its queue). `by`: who did it.
    #[serde(rename = "conversation.assigned")]
    ConversationAssigned { assignee: Option<String>, by: String },
    #[serde(rename = "conversation.closed")]
    ConversationClosed { state: String },
    /// A plugin binding runs a new version (an upload, a reload, a
    /// restore, a promotion), or a canary of one started: the tenant's own
    /// event, with no conversation. `by` is the API key's id.
    #[serde(rename = "plugin.version")]
    PluginVersion {
        plugin: String,
        seq: u64,
        component: String,
        config: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        manifest: Option<String>,
        /// The share of new conversations, for a canary.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        canary: Option<u8>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// A canary now serves every new conversation.
    #[serde(rename = "plugin.promoted")]
    PluginPromoted { plugin: String, component: String, by: String },
    /// A canary was withdrawn: `by` is `auto` when its failures, fuel or
    /// latency crossed the tenant's thresholds (`reason` says which).
    /// Conversations it served go back to the binding's version.
    #[serde(rename = "plugin.rolled_back")]
    PluginRolledBack { plugin: String, component: String, reason: String, by: String },
    /// A flow's `done.event` (e.g. `booking.created`) or a plugin's `emit`.
    #[serde(rename = "domain")]
    Domain { name: String, payload: serde_json::Value },
}

impl EventBody {
    /// The stable name: the `type` tag, or the domain event's own name.
    pub fn name(&self) -> String {
        match self {
            EventBody::Domain { name, .. } => name.clone(),
            other => serde_json::to_value(other)
                .ok()
                .and_then(|value| value.get("type").and_then(|name| name.as_str()).map(str::to_owned))
                .unwrap_or_default(),
        }
    }
}

/// The built-in events a conversation's turn records, which a flow's timers
/// may be set `on` or cancelled by. Delivery reports, plugin lifecycle and
/// step timings are recorded outside turns, so no flow reacts to them.
pub const TURN_EVENTS: &[&str] = &[
    "message.received",
    "message.sent",
    "intent.detected",
    "intent.unclear",
    "field.collected",
    "field.invalid",
    "field.skipped",
    "lead.scored",
    "lead.graded",
    "quote.sent",
    "slot.offered",
    "policy.decided",
    "step.failed",
    "timer.requested",
    "timer.unresolved",
    "timer.cancelled",
    "timer.fired",
    "timer.skipped",
    "timer.answered",
    "message.refused",
    "conversation.routed",
    "handoff.requested",
    "handoff.returned",
    "conversation.assigned",
    "conversation.closed",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sender {
    Bot,
    Agent,
}

/// What a human agent sees when a conversation is handed over, so the
/// customer never has to repeat themselves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoffCard {
    pub name: Option<String>,
    pub contact: String,
    pub channel: Channel,
    pub intent: Option<String>,
    pub fields: BTreeMap<String, Value>,
    pub score: i32,
    pub tier: Option<LeadTier>,
    pub reason: String,
    /// Why, as a stable name to group by: `asked`, `negative`, `hot_lead`,
    /// `policy`, `invalid_answers`, `step_failed` or `plugin`. Empty in
    /// events recorded before it was added.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cause: String,
    /// Two or three lines.
    pub summary: String,
    pub suggested_next_step: String,
    pub queue: String,
    pub priority: Priority,
    pub assignee: Option<String>,
}

#[cfg(test)]
mod tests {
    /// Every name in [`super::TURN_EVENTS`] is an event's `type`, so a flow
    /// never waits on a name no event has.
    #[test]
    fn the_turn_events_flows_may_name_are_real_event_types() {
        let source = include_str!("event.rs");
        let types: Vec<&str> = source
            .lines()
            .filter_map(|line| line.trim().strip_prefix("#[serde(rename = \""))
            .filter_map(|rest| rest.split_once('"').map(|(name, _)| name))
            .collect();
        for name in super::TURN_EVENTS {
            assert!(types.contains(name), "{name} is not an event type");
        }
    }
}
