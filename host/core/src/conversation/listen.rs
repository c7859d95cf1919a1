//! Listening: putting what the understanding pass found to use.
//!
//! Every field of the active intent is taken from any message that carries
//! it, the first one included, so the bot asks only for what is missing and
//! says back what it took unasked. A message that answers nothing but
//! clearly asks for another intent switches to it; one that asks to move or
//! call off a booking finds the booking. What the host knows already (the
//! sender's WhatsApp number, the provider's display name, what the customer
//! said in an earlier round) is never asked for.

use std::collections::BTreeSet;

use crate::contract::{Channel, ClassifyInput, Identity, PluginConfig, Value};
use crate::event::EventBody;
use crate::flow::{FieldKind, FieldSpec, Flow, Intent, Known, Terminal};
use crate::understand::{Clock, Signals, merge};

use super::render::{self, Phrase};
use super::{Awaiting, Status, Turn};

/// The step name an understanding plugin's failures are recorded under.
pub const UNDERSTANDING_STEP: &str = "understanding";

/// A field whose value outlives the request it was collected for.
pub(super) fn lasting(flow: &Flow, name: &str, value: &Value) -> bool {
    let declared = flow.intents.iter().flat_map(|intent| &intent.fields).find(|field| field.name == name);
    let Some(field) = declared else { return false };
    matches!(value, Value::Text(_))
        && (matches!(field.kind, FieldKind::Phone | FieldKind::Email) || is_name_field(field))
}

fn is_name_field(field: &FieldSpec) -> bool {
    field.kind == FieldKind::Text && field.name == "name"
}

/// Which kind of entity a field draws on: one entity fills one field.
fn entity_kind(kind: FieldKind) -> Option<&'static str> {
    match kind {
        FieldKind::Date | FieldKind::Datetime => Some("date"),
        FieldKind::Money => Some("money"),
        FieldKind::Number => Some("number"),
        FieldKind::Quantity => Some("quantity"),
        FieldKind::Phone => Some("phone"),
        FieldKind::Email => Some("email"),
        FieldKind::Pattern | FieldKind::Choice | FieldKind::Text | FieldKind::Boolean | FieldKind::Code => {
            None
        }
    }
}

impl Turn<'_, '_> {
    /// Ask the tenant's understanding plugin, if the flow names one, and
    /// merge its answer into the built-in one. A failure is recorded and
    /// changes nothing: the built-in understanding serves alone.
    pub(super) fn classify(&mut self, text: &str) {
        let Some(step) = self.flow().understanding.clone() else { return };
        let conversation = &*self.conversation;
        let asking = match &conversation.awaiting {
            Awaiting::Field { field, .. } | Awaiting::Choice { field, .. } => Some(field.clone()),
            _ => None,
        };
        let input = ClassifyInput {
            tenant: conversation.tenant.clone(),
            conversation: conversation.id.clone(),
            channel: conversation.channel,
            contact: conversation.plugin_contact(),
            text: text.to_owned(),
            intents: merge::intent_specs(self.flow()),
            active_intent: conversation.intent.clone(),
            asking,
            fields: conversation.fields.clone(),
            now: self.now,
            config: PluginConfig::default(),
        };
        match self.plugins.classify(&step.plugin, input) {
            Ok(answer) => {
                let flow = self.setting.flow;
                self.understanding.merge(flow, answer);
            }
            Err(failure) => self.record(EventBody::StepFailed {
                step: UNDERSTANDING_STEP.to_owned(),
                plugin: step.plugin,
                code: failure.code,
                message: failure.message,
                version: failure.version,
            }),
        }
    }

    pub(super) fn clock(&self) -> Clock<'_> {
        Clock { calendar: self.setting.calendar, now: self.now }
    }

    pub(super) fn current_intent(&self) -> Option<&Intent> {
        let name = self.conversation.intent.as_deref()?;
        self.setting.flow.intent(name)
    }

    /// Fill every field of the active intent that this message carries,
    /// except `asked` (its answer is validated on its own). With `replace`,
    /// a value that differs from one already collected is a correction
    /// ("нет, в пятницу"): it replaces it, and the intent's steps run again.
    /// Returns the fields filled.
    pub(super) fn take_values(&mut self, asked: Option<&str>, replace: bool) -> Vec<String> {
        let Some(intent) = self.current_intent().cloned() else { return Vec::new() };
        let mut claimed = BTreeSet::new();
        if let Some(kind) =
            asked.and_then(|name| intent.field(name)).and_then(|field| entity_kind(field.kind))
        {
            claimed.insert(kind);
        }
        let mut taken = Vec::new();
        let mut corrected = false;
        for field in &intent.fields {
            if Some(field.name.as_str()) == asked || self.conversation.skipped.contains(&field.name) {
                continue;
            }
            let kind = entity_kind(field.kind);
            if kind.is_some_and(|kind| claimed.contains(kind)) {
                continue;
            }
            let Some(value) = self.understanding.value_for(&intent.name, field, self.clock()) else {
                continue;
            };
            let fresh = match self.conversation.fields.get(&field.name) {
                None => true,
                Some(old) if replace && *old != value => {
                    corrected = true;
                    true
                }
                Some(_) => false,
            };
            if fresh {
                claimed.extend(kind);
                self.record(EventBody::FieldCollected { field: field.name.clone(), value: value.clone() });
                self.conversation.fields.insert(field.name.clone(), value);
                taken.push(field.name.clone());
            }
        }
        if corrected {
            self.steps_again(&intent);
        }
        taken
    }

    /// After a correction: what the steps derived from the old values (a
    /// quote, the slots offered, a confirmation) no longer holds.
    pub(super) fn steps_again(&mut self, intent: &Intent) {
        let conversation = &mut *self.conversation;
        conversation.fields.retain(|name, _| intent.field(name).is_some());
        conversation.next_step = 0;
        conversation.confirmed = false;
        conversation.awaiting = Awaiting::Nothing;
    }

    /// Fill missing fields from what the host knows: the customer's earlier
    /// rounds, the sender's WhatsApp number, the provider's display name.
    pub(super) fn take_known(&mut self, intent: &Intent) {
        for field in &intent.fields {
            if self.conversation.fields.contains_key(&field.name) || field.known != Known::Use {
                continue;
            }
            if let Some(value) = self.known_value(field) {
                self.record(EventBody::FieldCollected { field: field.name.clone(), value: value.clone() });
                self.conversation.fields.insert(field.name.clone(), value);
            }
        }
    }

    /// What the host knows for `field` before asking, if anything.
    pub(super) fn known_value(&self, field: &FieldSpec) -> Option<Value> {
        if field.known == Known::Ask {
            return None;
        }
        if let Some(value) = self.conversation.profile.get(&field.name) {
            return Some(value.clone());
        }
        let contact = &self.conversation.contact;
        match field.kind {
            FieldKind::Phone if self.conversation.channel == Channel::Whatsapp => {
                // A WhatsApp id is the sender's number, verified by WhatsApp.
                // (Tests and tools may give the bare number.)
                let digits = Identity::id_on(&contact.id, Channel::Whatsapp).unwrap_or(&contact.id);
                let plausible =
                    (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
                plausible.then(|| Value::Text(format!("+{digits}")))
            }
            _ if is_name_field(field) => {
                let name = contact.display_name.as_deref()?.trim();
                (!name.is_empty()).then(|| Value::Text(name.to_owned()))
            }
            _ => None,
        }
    }

    /// The message clearly asks for another intent and answers nothing of
    /// this one: switch to it, keeping the fields both intents share, or
    /// answer an informational intent (prices) and go back to the question.
    pub(super) fn switch_intent(&mut self) -> bool {
        let Some(current) = self.conversation.intent.clone() else { return false };
        let Some(candidate) = self.understanding.intent().cloned() else { return false };
        if candidate.intent == current {
            return false;
        }
        let flow = self.setting.flow;
        let Some(target) = flow.intent(&candidate.intent) else { return false };
        self.record(EventBody::IntentDetected { intent: target.name.clone() });
        if target.fields.is_empty() && target.steps.is_empty() && target.confirm.is_none() {
            let reply =
                render::fill(&self.text(&target.done.reply), self.conversation, self.setting.calendar, flow);
            self.say(reply, Vec::new());
            self.repeat_question();
            return true;
        }
        let conversation = &mut *self.conversation;
        let old = flow.intent(&current);
        conversation.fields.retain(|name, value| {
            let shared = |intent: &Intent| intent.field(name).map(|field| field.kind);
            let kept = old.and_then(shared).is_some_and(|kind| Some(kind) == shared(target));
            kept || (target.field(name).is_none() && lasting(flow, name, value))
        });
        conversation.skipped.clear();
        let name = target.name.clone();
        self.start_intent_quietly(&name);
        true
    }

    fn start_intent_quietly(&mut self, intent: &str) {
        let conversation = &mut *self.conversation;
        conversation.intent = Some(intent.to_owned());
        conversation.next_step = 0;
        conversation.confirmed = false;
        conversation.awaiting = Awaiting::Nothing;
        let taken = self.take_values(None, false);
        self.noted.extend(taken);
        self.advance();
    }

    /// Say the question being waited for once more, after an aside.
    fn repeat_question(&mut self) {
        match self.conversation.awaiting.clone() {
            Awaiting::Field { field, attempts } => {
                let Some(spec) = self.current_intent().and_then(|intent| intent.field(&field)).cloned()
                else {
                    return;
                };
                self.ask(&spec, None);
                self.conversation.awaiting = Awaiting::Field { field, attempts };
            }
            Awaiting::Choice { options, .. } => {
                let locale = self.conversation.locale().to_owned();
                let quick_replies = options.iter().map(super::Choice::quick_reply).collect();
                self.say(render::phrase(&locale, Phrase::PickOne), quick_replies);
            }
            Awaiting::Confirm { .. } => {
                self.conversation.awaiting = Awaiting::Nothing;
                self.conversation.confirmed = false;
                self.advance();
            }
            Awaiting::Resolved { .. } => {
                let locale = self.conversation.locale().to_owned();
                self.say(render::phrase(&locale, Phrase::DidItHelp), render::yes_no_options(&locale));
            }
            Awaiting::Nothing | Awaiting::Intent => {}
        }
    }

    /// "Перенести запись" / "отменить запись": find the customer's booking
    /// (the fields its reminders were set with) and move or release it.
    /// Returns whether the message was handled.
    pub(super) fn booking_request(&mut self, signals: Signals) -> bool {
        let flow = self.setting.flow;
        let booking = self.conversation.timers.values().find_map(|timer| {
            // A booking's reminders are anchored to its time; a nudge about
            // slots offered is no booking.
            flow.timer(&timer.kind).and_then(|(_, spec)| spec.anchor())?;
            let context = timer.context.as_ref()?;
            let intent = flow.intent(context.intent.as_deref()?)?;
            (intent.done.state == Terminal::Booked).then(|| (intent, context.fields.clone()))
        });
        let locale = self.conversation.locale().to_owned();
        // Mid-request, "cancel" calls off the request, not an earlier booking.
        let in_progress =
            self.conversation.intent.is_some() && self.conversation.awaiting != Awaiting::Nothing;
        if signals.cancel && in_progress {
            self.conversation.intent = None;
            self.conversation.awaiting = Awaiting::Nothing;
            self.say(render::phrase(&locale, Phrase::Cancelled), Vec::new());
            return true;
        }
        let Some((intent, fields)) = booking else {
            let booking_intent = flow.intents.iter().find(|intent| intent.done.state == Terminal::Booked);
            if signals.cancel {
                let in_progress = self.conversation.intent.is_some();
                self.conversation.intent = None;
                self.conversation.awaiting = Awaiting::Nothing;
                let phrase = if in_progress { Phrase::Cancelled } else { Phrase::NoBooking };
                self.say(render::phrase(&locale, phrase), Vec::new());
                return true;
            }
            // Nothing to move: book afresh.
            let Some(intent) = booking_intent else { return false };
            self.say(render::phrase(&locale, Phrase::NoBooking), Vec::new());
            let name = intent.name.clone();
            self.record(EventBody::IntentDetected { intent: name.clone() });
            self.start_intent_quietly(&name);
            return true;
        };
        let anchors: BTreeSet<String> =
            intent.done.timers.iter().filter_map(|spec| spec.anchor().map(str::to_owned)).collect();
        let booked_intent = intent.name.clone();
        let mine = |_: &str, timer: &super::PendingTimer| {
            timer
                .context
                .as_ref()
                .is_some_and(|context| context.intent.as_deref() == Some(booked_intent.as_str()))
        };
        if signals.cancel {
            let payload = serde_json::to_value(&fields).unwrap_or_default();
            self.record(EventBody::Domain { name: "booking.cancelled".to_owned(), payload });
            self.cancel("booking_cancelled", mine);
            self.say(render::phrase(&locale, Phrase::BookingCancelled), Vec::new());
            self.end("cancelled");
            return true;
        }
        let payload = serde_json::to_value(&fields).unwrap_or_default();
        self.record(EventBody::Domain { name: "booking.reschedule_requested".to_owned(), payload });
        let conversation = &mut *self.conversation;
        conversation.status = Status::Bot;
        conversation.fields = fields;
        conversation.fields.retain(|name, _| !anchors.contains(name) && intent.field(name).is_some());
        conversation.intent = Some(intent.name.clone());
        conversation.next_step = 0;
        conversation.confirmed = false;
        conversation.awaiting = Awaiting::Nothing;
        self.say(render::phrase(&locale, Phrase::Rescheduling), Vec::new());
        // "Перенесите на пятницу": the new day is in the same message.
        let taken = self.take_values(None, true);
        self.noted.extend(taken);
        self.advance();
        true
    }

    /// The note for fields taken unasked, once: "Записываю: стрижка, завтра (03.12)."
    pub(super) fn take_note(&mut self) -> Option<String> {
        if self.noted.is_empty() {
            return None;
        }
        let noted = std::mem::take(&mut self.noted);
        let (calendar, flow) = (self.setting.calendar, self.setting.flow);
        let values: Vec<String> = noted
            .iter()
            .filter(|name| self.conversation.fields.contains_key(*name))
            .map(|name| render::field_text(self.conversation, calendar, flow, name, self.now))
            .collect();
        (!values.is_empty()).then(|| render::noted(self.conversation.locale(), &values))
    }

    /// A note nothing else was said after goes out on its own.
    pub(super) fn flush_note(&mut self) {
        if let Some(note) = self.take_note() {
            self.say(note, Vec::new());
        }
    }
}
