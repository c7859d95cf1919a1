//! Signals: what the business's own systems say about a customer (a payment
//! failed, an order was created, a subscription comes up for renewal),
//! posted to the host rather than written by the customer.
//!
//! A signal is recorded as a domain event carrying its fields, so timers can
//! be set `on` it and `[[remember]]` keep it. An intent that `start_on` it
//! starts, and the bot writes first, unless the customer is in the middle
//! of something else or a person has the conversation. The customer's
//! messaging window is theirs: a signal never opens it, so outside it the
//! intent's template or tag carries the message, or it is not sent.

use std::collections::BTreeMap;

use crate::contract::Value;
use crate::event::EventBody;

use super::{Awaiting, Conversation, Effects, Plugins, Setting, Status, Turn, WINDOW_CLOSED};

impl Conversation {
    /// Apply the signal `name` with `fields`, at `now`.
    pub fn signal(
        &mut self,
        setting: Setting<'_>,
        name: &str,
        fields: BTreeMap<String, Value>,
        now: i64,
        plugins: &mut dyn Plugins,
    ) -> Effects {
        let flow = setting.flow;
        let starts = flow.intents.iter().find(|intent| intent.start_on.iter().any(|on| on == name));
        let idle = match &self.status {
            Status::Ended { .. } => true,
            Status::Bot => {
                matches!(self.awaiting, Awaiting::Nothing | Awaiting::Intent | Awaiting::Resolved { .. })
            }
            Status::Human { .. } => false,
        };
        if matches!(self.status, Status::Ended { .. }) {
            self.restart(flow, now);
        }
        let window_closed = self.window_closed(now);
        let mut turn = Turn::begin(self, setting, plugins, now);
        turn.conversation.updated_at = now;
        let payload = serde_json::to_value(&fields).unwrap_or_default();
        if idle {
            // Facts about the customer the intent and its timers work with.
            turn.conversation.fields.extend(fields);
        }
        turn.record(EventBody::Domain { name: name.to_owned(), payload });
        let started = starts.filter(|_| idle);
        if let Some(intent) = started {
            turn.conversation.greeted = true;
            turn.enter_intent(&intent.name);
            turn.advance();
        }
        turn.flush_note();
        turn.after_events(0);
        let mut effects = turn.effects;
        if window_closed && !effects.outbound.is_empty() {
            let fallback = started.and_then(|intent| {
                self.window_fallback(intent.template.as_ref(), intent.message_tag.as_ref())
            });
            match fallback {
                Some(fallback) => {
                    for message in &mut effects.outbound {
                        message.outside_window = Some(fallback.clone());
                    }
                }
                None => {
                    let refused: Vec<String> = std::mem::take(&mut effects.outbound)
                        .into_iter()
                        .map(|message| message.text)
                        .collect();
                    effects.events.retain(|event| {
                        !matches!(&event.body, EventBody::MessageSent { text, .. } if refused.contains(text))
                    });
                    for text in refused {
                        let reason = WINDOW_CLOSED.to_owned();
                        effects.events.push(self.event(now, EventBody::MessageRefused { text, reason }));
                    }
                }
            }
        }
        effects
    }
}
