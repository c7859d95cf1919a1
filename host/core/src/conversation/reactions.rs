//! What a turn's events set off once the turn has done its work: timers set
//! `on` an event, timers an event cancels (`cancel_on`), and what the flow
//! remembers of the customer (`[[remember]]`).
//!
//! Events are taken in the order they were recorded, so a timer is cancelled
//! only by events after the one that set it.

use std::collections::BTreeMap;

use crate::contract::Value;
use crate::event::EventBody;

use super::{Remembered, Turn};

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
        let mut index = from;
        // Reactions record events too (timer.requested, timer.cancelled);
        // those are reacted to as well, in turn, up to a bound.
        while index < self.effects.events.len() && index < from + 1024 {
            let event = self.effects.events[index].clone();
            index += 1;
            let name = event.body.name();
            // A timer this turn set after the event is not cancelled by it.
            let set_later: Vec<String> = self.effects.events[index..]
                .iter()
                .filter_map(|later| match &later.body {
                    EventBody::TimerRequested { key, .. } => Some(key.clone()),
                    _ => None,
                })
                .collect();
            self.cancel(&name, |key, pending| {
                !set_later.iter().any(|later| later == key)
                    && flow.timer(&pending.kind).is_some_and(|(_, spec)| spec.cancel_on.contains(&name))
            });
            if let EventBody::Domain { payload, .. } = &event.body {
                self.remember(&name, payload);
            }
            for spec in flow.timers_on(&name) {
                self.request_timer(spec);
            }
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
