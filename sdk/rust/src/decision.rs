//! Short constructors for the decisions a step returns.

use crate::{
    Ask, Decision, Event, Field, HandoffCard, LeadGrade, LeadTier, Priority, QuickReply, Reply, Route,
    ScoreChange, Timer, Value,
};

impl Decision {
    pub fn reply(text: impl Into<String>) -> Self {
        Decision::Reply(Reply { text: text.into(), quick_replies: Vec::new(), locale: None })
    }

    /// A reply with quick-reply buttons, each `(title, payload)`.
    pub fn reply_with_options<T: Into<String>, P: Into<String>>(
        text: impl Into<String>,
        options: impl IntoIterator<Item = (T, P)>,
    ) -> Self {
        Decision::Reply(Reply { text: text.into(), quick_replies: quick_replies(options), locale: None })
    }

    pub fn ask(field: impl Into<String>) -> Self {
        Decision::Ask(Ask { field: field.into(), prompt: None, quick_replies: Vec::new(), locale: None })
    }

    /// Say which language this reply, ask or quote is written in (BCP 47).
    /// A step may return the same text in several languages; the host keeps
    /// the conversation's. Other decisions are returned unchanged.
    pub fn in_locale(mut self, locale: impl Into<String>) -> Self {
        let tag = Some(locale.into());
        match &mut self {
            Decision::Reply(reply) => reply.locale = tag,
            Decision::Ask(ask) => ask.locale = tag,
            Decision::Quote(quote) => quote.locale = tag,
            _ => {}
        }
        self
    }

    pub fn set_field(name: impl Into<String>, value: Value) -> Self {
        Decision::SetField(Field { name: name.into(), value })
    }

    pub fn clear_field(name: impl Into<String>) -> Self {
        Decision::ClearField(name.into())
    }

    pub fn score(delta: i32, reason: impl Into<String>) -> Self {
        Decision::Score(ScoreChange { delta, reason: reason.into() })
    }

    pub fn grade(tier: LeadTier, reasons: Vec<String>) -> Self {
        Decision::Grade(LeadGrade { tier, reasons })
    }

    pub fn route(queue: impl Into<String>, priority: Priority) -> Self {
        Decision::Route(Route { queue: queue.into(), assignee: None, backup: None, priority })
    }

    pub fn handoff(
        reason: impl Into<String>,
        summary: impl Into<String>,
        suggested_next_step: impl Into<String>,
    ) -> Self {
        Decision::Handoff(HandoffCard {
            reason: reason.into(),
            summary: summary.into(),
            suggested_next_step: suggested_next_step.into(),
            queue: None,
            priority: Priority::Normal,
        })
    }

    pub fn schedule(timer: Timer) -> Self {
        Decision::Schedule(timer)
    }

    pub fn cancel_timer(key: impl Into<String>) -> Self {
        Decision::CancelTimer(key.into())
    }

    /// A domain event; `payload` is serialized to JSON.
    pub fn emit(name: impl Into<String>, payload: &impl serde::Serialize) -> Self {
        Decision::Emit(Event {
            name: name.into(),
            payload: serde_json::to_string(payload).unwrap_or_else(|_| "null".to_owned()),
        })
    }
}

fn quick_replies<T: Into<String>, P: Into<String>>(
    options: impl IntoIterator<Item = (T, P)>,
) -> Vec<QuickReply> {
    options
        .into_iter()
        .map(|(title, payload)| QuickReply { title: title.into(), payload: payload.into() })
        .collect()
}
