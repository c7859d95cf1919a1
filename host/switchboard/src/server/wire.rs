//! The API's response shapes. Only the server knows JSON (rust-analyzer's
//! rule): each shape here is built from the engine's and core's types field
//! by field, so renaming a field in core or in the store's records changes
//! neither the public API nor, through it, anyone's integration, and the
//! OpenAPI document describes what is really sent.
//!
//! Event bodies are the exception by design: an event's `type` and `data`
//! are the event schema of `switchboard_core::event`, the one contract that
//! the event log, the API and the KPIs share. This module owns their
//! envelope.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value as Json;
use switchboard_core::contract::{Contact, Route};
use switchboard_core::conversation::{Conversation, Outbound, OutsideWindow, Status};
use switchboard_core::event::DomainEvent;

use crate::engine::TurnOutcome;

/// What a turn did: the replies, the events it recorded and the state it left.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Turn {
    pub conversation: String,
    pub replies: Vec<Reply>,
    pub events: Vec<Event>,
    pub status: ConversationStatus,
    /// The message id was seen before: nothing was done.
    pub duplicate: bool,
}

/// One message to the customer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Reply {
    pub text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub quick_replies: Vec<QuickReply>,
    /// How it goes out once the channel's 24 h window has closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outside_window: Option<AfterWindow>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QuickReply {
    pub title: String,
    pub payload: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AfterWindow {
    /// A WhatsApp template approved for the tenant.
    Template { name: String, language: String },
    /// A Messenger or Instagram message tag.
    Tag(String),
}

/// Who is answering the conversation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ConversationStatus {
    /// The bot.
    Bot,
    /// A human; the bot is silent until they hand it back or close it.
    Human { queue: String, assignee: Option<String> },
    /// Finished; the next message starts afresh.
    Ended { state: String },
}

/// One domain event: `{at, tenant, conversation, channel, type, data}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Event {
    /// Unix milliseconds.
    pub at: i64,
    pub tenant: String,
    pub conversation: String,
    pub channel: &'static str,
    /// e.g. `message.received`, `quote.sent`, `handoff.requested`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The event's own fields, as `switchboard_core::event` documents them.
    #[schema(value_type = Object)]
    pub data: Json,
}

/// A line of the conversations list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConversationSummary {
    pub id: String,
    pub channel: &'static str,
    pub status: ConversationStatus,
    pub intent: Option<String>,
    pub score: i32,
    pub updated_at: i64,
}

/// A conversation as an agent sees it: what is known and what it waits
/// for (with the attempts at the current question). The engine's
/// bookkeeping (the next step's index, score shares, the intent's failed
/// validations) is not part of the API.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConversationState {
    /// The customer's stable id: the identity they first wrote from.
    pub id: String,
    pub tenant: String,
    /// Where they wrote from last, and replies go.
    pub channel: &'static str,
    pub contact: Customer,
    /// The flow version it runs, kept until it ends.
    pub flow_version: String,
    pub status: ConversationStatus,
    pub intent: Option<String>,
    /// What was collected, by field name.
    #[schema(value_type = Object)]
    pub fields: BTreeMap<String, Json>,
    /// Fields given up on, never asked again.
    pub skipped: Vec<String>,
    /// What the bot waits for: `{"awaiting": "nothing" | "intent" | "field" | "choice" | "confirm", ...}`.
    #[schema(value_type = Object)]
    pub awaiting: Json,
    /// The customer confirmed the current request.
    pub confirmed: bool,
    pub score: i32,
    /// `hot`, `warm` or `cold`, once graded.
    pub tier: Option<Json>,
    /// The queue and people it is routed to, once routed.
    pub route: Option<Routed>,
    pub started_at: i64,
    pub updated_at: i64,
    /// When the customer last wrote: messaging windows count from it.
    pub last_customer_at: i64,
    /// What holds beyond one request (phone, email, name), never asked again.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = Object)]
    pub profile: BTreeMap<String, Json>,
    /// Timers waiting to fire, by key.
    pub timers: BTreeMap<String, Pending>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Pending {
    pub kind: String,
    /// Unix milliseconds.
    pub due_at: i64,
    /// A customer message cancels it.
    pub cancel_on_reply: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Customer {
    /// The identity replies go to (`channel:id`).
    pub id: String,
    pub display_name: Option<String>,
    pub locale: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Routed {
    pub queue: String,
    pub assignee: Option<String>,
    pub backup: Option<String>,
    pub priority: Json,
}

impl From<TurnOutcome> for Turn {
    fn from(outcome: TurnOutcome) -> Self {
        Self {
            conversation: outcome.conversation,
            replies: outcome.replies.into_iter().map(Reply::from).collect(),
            events: outcome.events.iter().map(Event::from).collect(),
            status: (&outcome.status).into(),
            duplicate: outcome.duplicate,
        }
    }
}

impl From<Outbound> for Reply {
    fn from(reply: Outbound) -> Self {
        Self {
            text: reply.text,
            quick_replies: reply
                .quick_replies
                .into_iter()
                .map(|quick| QuickReply { title: quick.title, payload: quick.payload })
                .collect(),
            outside_window: reply.outside_window.map(|after| match after {
                OutsideWindow::Template { name, language } => AfterWindow::Template { name, language },
                OutsideWindow::Tag(tag) => AfterWindow::Tag(tag),
            }),
        }
    }
}

impl From<&Status> for ConversationStatus {
    fn from(status: &Status) -> Self {
        match status {
            Status::Bot => Self::Bot,
            Status::Human { queue, assignee } => {
                Self::Human { queue: queue.clone(), assignee: assignee.clone() }
            }
            Status::Ended { state } => Self::Ended { state: state.clone() },
        }
    }
}

impl From<&DomainEvent> for Event {
    fn from(event: &DomainEvent) -> Self {
        let mut body = to_json(&event.body);
        Self {
            at: event.at,
            tenant: event.tenant.clone(),
            conversation: event.conversation.clone(),
            channel: event.channel.as_str(),
            kind: body.get("type").and_then(Json::as_str).unwrap_or_default().to_owned(),
            data: body.get_mut("data").map(Json::take).unwrap_or_default(),
        }
    }
}

impl From<&Conversation> for ConversationSummary {
    fn from(conversation: &Conversation) -> Self {
        Self {
            id: conversation.id.clone(),
            channel: conversation.channel.as_str(),
            status: (&conversation.status).into(),
            intent: conversation.intent.clone(),
            score: conversation.score,
            updated_at: conversation.updated_at,
        }
    }
}

impl From<&Conversation> for ConversationState {
    fn from(conversation: &Conversation) -> Self {
        let Contact { id, display_name, locale } = conversation.contact.clone();
        Self {
            id: conversation.id.clone(),
            tenant: conversation.tenant.clone(),
            channel: conversation.channel.as_str(),
            contact: Customer { id, display_name, locale },
            flow_version: conversation.flow_version.clone(),
            status: (&conversation.status).into(),
            intent: conversation.intent.clone(),
            fields: values(&conversation.fields),
            skipped: conversation.skipped.iter().cloned().collect(),
            awaiting: to_json(&conversation.awaiting),
            confirmed: conversation.confirmed,
            score: conversation.score,
            tier: conversation.tier.as_ref().map(to_json),
            route: conversation.route.as_ref().map(|route| {
                let Route { queue, assignee, backup, priority } = route.clone();
                Routed { queue, assignee, backup, priority: to_json(&priority) }
            }),
            started_at: conversation.started_at,
            updated_at: conversation.updated_at,
            last_customer_at: conversation.last_customer_at,
            profile: values(&conversation.profile),
            timers: conversation
                .timers
                .iter()
                .map(|(key, timer)| {
                    let pending = Pending {
                        kind: timer.kind.clone(),
                        due_at: timer.due_at,
                        cancel_on_reply: timer.cancel_on_reply,
                    };
                    (key.clone(), pending)
                })
                .collect(),
        }
    }
}

/// Field values by name, as the contract writes them.
fn values(by_name: &BTreeMap<String, switchboard_core::contract::Value>) -> BTreeMap<String, Json> {
    by_name.iter().map(|(name, value)| (name.clone(), to_json(value))).collect()
}

/// A domain value (a field's value, a tier) as the contract writes it.
fn to_json(value: &impl Serialize) -> Json {
    serde_json::to_value(value).unwrap_or_else(|error| {
        tracing::error!(%error, "a value that does not serialise");
        Json::Null
    })
}

/// A page of conversations.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConversationPage {
    pub conversations: Vec<ConversationSummary>,
    /// The `after` of the next page; null on the last.
    pub next_after: Option<String>,
}

/// A conversation's state, the components it is pinned to, and its transcript.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConversationDetail {
    pub conversation: ConversationState,
    /// Plugin binding to the hash of the component this conversation runs.
    pub plugin_pins: BTreeMap<String, String>,
    /// Plugin binding to the SHA-256 of the config this conversation runs
    /// it with (of no text, for a binding without a config).
    pub config_pins: BTreeMap<String, String>,
    pub events: Vec<Event>,
    /// The channel's messaging window, for an agent about to reply.
    pub window: Window,
    /// An internal request waiting for its approver's decision.
    pub approval: Option<Approval>,
}

/// Whether an agent's free-form reply can go out now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Window {
    /// The channel has a customer-service window (WhatsApp, Messenger, Instagram).
    pub applies: bool,
    pub open: bool,
    /// Unix ms; null where no window applies.
    pub closes_at: Option<i64>,
    /// What can still go out once it closed: the channel's template or tag.
    pub templates: Vec<String>,
}

/// Who decides an internal request.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Approval {
    pub approver: Option<String>,
    pub backup: Option<String>,
}

/// A page of the tenant's event log, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventPage {
    pub events: Vec<LoggedEvent>,
    /// The `after` of the next page; null when nothing was read.
    pub next_after: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoggedEvent {
    /// The event's place in the log.
    pub seq: u64,
    pub event: Event,
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use switchboard_core::contract::{Channel, QuickReply as CoreQuickReply};
    use switchboard_core::event::EventBody;

    use super::*;

    #[test]
    fn a_turn_is_written_in_the_shape_the_api_documents() {
        let outcome = TurnOutcome {
            conversation: "telegram:42".into(),
            replies: vec![Outbound {
                text: "Which day?".into(),
                quick_replies: vec![CoreQuickReply { title: "Tomorrow".into(), payload: "day:1".into() }],
                outside_window: None,
                to: None,
            }],
            events: vec![DomainEvent {
                at: 7,
                tenant: "acme".into(),
                conversation: "telegram:42".into(),
                channel: Channel::Telegram,
                body: EventBody::MessageReceived { text: "hi".into() },
            }],
            status: Status::Human { queue: "sales".into(), assignee: None },
            duplicate: false,
        };
        let written = serde_json::to_value(Turn::from(outcome)).expect("serialises");
        assert_eq!(
            written,
            json!({
                "conversation": "telegram:42",
                "replies": [{ "text": "Which day?", "quick_replies": [{ "title": "Tomorrow", "payload": "day:1" }] }],
                "events": [{
                    "at": 7, "tenant": "acme", "conversation": "telegram:42", "channel": "telegram",
                    "type": "message.received", "data": { "text": "hi" },
                }],
                "status": { "status": "human", "queue": "sales", "assignee": null },
                "duplicate": false,
            })
        );
    }
}
