//! What a turn's events set off once the turn has done its work: timers set
//! `on` an event, timers an event cancels (`cancel_on`), and what the flow
//! remembers of the customer (`[[remember]]`).
//!
//! Events are taken in the order they were recorded, so a timer is cancelled
//! only by events after the one that set it.

use std::collections::{BTreeMap, HashMap};

use crate::contract::Value;
use crate::event::EventBody;

use super::{Remembered, Turn};

impl super::Conversation {
    /// What an agent's or a staff member's action did (a close, an
    /// assignment, a decision), with what its events set off: the timers
    /// set `on` or cancelled by them, what is remembered.
    pub fn react(&mut self, setting: super::Setting<'_>, effects: super::Effects) -> super::Effects {
        let Some(now) = effects.events.iter().map(|event| event.at).max() else { return effects };
        self.without_plugins(setting, now, |turn| turn.effects = effects)
    }
}

impl Turn<'_, '_> {
    /// React to the events recorded since `from`, in order.
    pub(super) fn after_events(&mut self, from: usize) {
        let flow = self.setting.flow;
        if flow.remember.is_empty()
            && flow.timers.iter().all(|spec| spec.on.is_none() && spec.cancel_on.is_empty())
            && flow
                .intents
                .iter()
                .all(|intent| intent.done.timers.iter().all(|spec| spec.cancel_on.is_empty()))
        {
            return;
        }
        // Where in the turn each timer was set: inline (a completion's
        // timers, a plugin's), at its own event; by a reaction, at the event
        // it reacted to. An event cancels only timers set before it.
        let mut origin: HashMap<String, usize> = HashMap::new();
        for (at, event) in self.effects.events.iter().enumerate().skip(from) {
            if let EventBody::TimerRequested { key, .. } = &event.body {
                origin.insert(key.clone(), at);
            }
        }
        let mut index = from;
        // Reactions record events too (timer.requested, timer.cancelled);
        // those are reacted to as well, in turn, up to a bound.
        while index < self.effects.events.len() && index < from + 1024 {
            let event = self.effects.events[index].clone();
            let name = event.body.name();
            self.cancel(&name, |key, pending| {
                origin.get(key).is_none_or(|set_at| *set_at < index)
                    && flow.timer(&pending.kind).is_some_and(|(_, spec)| spec.cancel_on.contains(&name))
            });
            if let EventBody::Domain { payload, .. } = &event.body {
                self.remember(&name, payload);
            }
            for spec in flow.timers_on(&name) {
                let before = self.effects.events.len();
                self.request_timer(spec);
                if self.effects.events.len() > before {
                    origin.insert(spec.kind.clone(), index);
                }
            }
            index += 1;
        }
    }

    /// Keep a remembered event with the fields the flow names: from the
    /// event's own payload where it carries them, else the conversation's.
    fn remember(&mut self, event: &str, payload: &serde_json::Value) {
        let flow = self.setting.flow;
        for remember in flow.remember.iter().filter(|remember| remember.event == event) {
            let fields: BTreeMap<String, Value> = remember
                .keep
                .iter()
                .filter_map(|field| {
                    let carried =
                        payload.get(field).and_then(|value| serde_json::from_value(value.clone()).ok());
                    let value = carried.or_else(|| self.conversation.fields.get(field).cloned())?;
                    Some((field.clone(), value))
                })
                .collect();
            let kept = self.conversation.memory.entry(remember.name.clone()).or_default();
            kept.push(Remembered { at: self.now, fields });
            let excess = kept.len().saturating_sub(usize::from(remember.last.max(1)));
            kept.drain(..excess);
        }
    }
}
