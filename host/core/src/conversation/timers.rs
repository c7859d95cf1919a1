//! Timers: setting them when an intent completes or a plugin asks, firing
//! them when the scheduler says they are due, and the customer's answers to
//! what they sent (confirm, reschedule, not relevant).
//!
//! The conversation's `timers` map is the truth about what is pending; the
//! store indexes what `Effects::timers` sets, with the turn's write.
//! `Effects::cancelled_timers` says what no longer stands (for callers and
//! tests; the index needs no update, as the map decides what fires).

use std::borrow::Cow;

use crate::contract::{Due, QuickReply, Timer, Value};
use crate::event::{EventBody, Sender};
use crate::flow::{TimerOption, TimerSpec};

use super::render::{self, Phrase};
use super::{
    Awaiting, Conversation, Effects, Outbound, PendingTimer, ScheduledTimer, Setting, Status, TimerContext,
    Turn, WINDOW_CLOSED,
};

/// What a timer is about. A reminder anchored to a field is about the
/// round it was set in, as it was (a booking's, whatever the customer asks
/// since). Any other timer is about the conversation as it is now, with
/// what the round it was set in knew filling the gaps: a nudge names the
/// slot picked since it was set, and a dunning note the plan, though the
/// customer has started a new round meanwhile.
fn about<'a>(
    conversation: &'a Conversation,
    pending: &PendingTimer,
    anchored: bool,
) -> Cow<'a, Conversation> {
    match &pending.context {
        Some(context) if anchored => Cow::Owned(Conversation {
            intent: context.intent.clone(),
            fields: context.fields.clone(),
            ..conversation.clone()
        }),
        Some(context) => {
            let mut fields = context.fields.clone();
            fields.extend(conversation.fields.iter().map(|(name, value)| (name.clone(), value.clone())));
            Cow::Owned(Conversation {
                intent: conversation.intent.clone().or_else(|| context.intent.clone()),
                fields,
                ..conversation.clone()
            })
        }
        None => Cow::Borrowed(conversation),
    }
}

/// The payload of a timer message's button: `timer:{kind}:{option}`.
const ANSWER_PREFIX: &str = "timer:";

impl Conversation {
    /// Fire the timer `key`, due now. Nothing happens if it was cancelled or
    /// already fired; the scheduler may call this more than once.
    pub fn fire_timer(&mut self, setting: Setting<'_>, key: &str, now: i64) -> Effects {
        let Some(pending) = self.timers.remove(key) else {
            return Effects::default();
        };
        self.without_plugins(setting, now, |turn| {
            let fired =
                ScheduledTimer { key: key.to_owned(), kind: pending.kind.clone(), due_at: pending.due_at };
            turn.effects.cancelled_timers.push(fired);
            turn.fire(key, &pending);
        })
    }

    /// Fire every pending timer due by `now`, earliest first, as one turn:
    /// how the scheduler catches up after downtime or a burst, loading and
    /// writing the conversation once rather than once per timer. Each timer
    /// sees what the earlier ones did, so one that was cancelled or moved by
    /// an earlier one is left alone; timers set while firing wait for the
    /// scheduler's next pass.
    pub fn fire_due_timers(&mut self, setting: Setting<'_>, now: i64) -> Effects {
        let mut due: Vec<(i64, String)> = self
            .timers
            .iter()
            .filter(|(_, timer)| timer.due_at <= now)
            .map(|(key, timer)| (timer.due_at, key.clone()))
            .collect();
        due.sort_unstable();
        let mut effects = Effects::default();
        for (due_at, key) in due {
            if self.timers.get(&key).is_some_and(|timer| timer.due_at == due_at) {
                effects.merge(self.fire_timer(setting, &key, now));
            }
        }
        effects
    }

    /// Set a timer of a kind the flow declares, due at `due_at` (an agent's
    /// "remind me at 15:00"). `None` if the flow has no such kind.
    pub fn schedule_timer(
        &mut self,
        setting: Setting<'_>,
        kind: &str,
        due_at: i64,
        now: i64,
    ) -> Option<Effects> {
        setting.flow.timer(kind)?;
        Some(self.without_plugins(setting, now, |turn| {
            turn.set_timer(kind.to_owned(), kind.to_owned(), due_at, String::new(), false);
        }))
    }

    /// Run `work` as a turn that calls no plugin; what it produced.
    pub(super) fn without_plugins(
        &mut self,
        setting: Setting<'_>,
        now: i64,
        work: impl FnOnce(&mut Turn<'_, '_>),
    ) -> Effects {
        let mut plugins = super::NoPlugins;
        let mut turn = Turn::begin(self, setting, &mut plugins, now);
        work(&mut turn);
        turn.flush_note();
        turn.after_events(0);
        turn.effects
    }

    /// An approver decides an internal request: the requester is told, the
    /// escalation stops, and the audit trail records who decided what, when.
    pub fn decide(&mut self, approved: bool, by: &str, note: Option<&str>, now: i64) -> Effects {
        let decision = if approved { "approved" } else { "rejected" };
        let mut effects = self.cancel_timers(now, "resolved", |_, _| true);
        let payload = serde_json::json!({ "decision": decision, "by": by, "note": note });
        effects
            .events
            .push(self.event(now, EventBody::Domain { name: "approval.decided".to_owned(), payload }));
        let locale = self.locale().to_owned();
        let phrase = if approved { Phrase::Approved } else { Phrase::Rejected };
        let mut text = render::phrase(&locale, phrase).replace("{by}", by);
        if let Some(note) = note.filter(|note| !note.trim().is_empty()) {
            text = format!("{text} {note}");
        }
        effects
            .events
            .push(self.event(now, EventBody::MessageSent { text: text.clone(), by: Sender::Agent }));
        effects.outbound.push(Outbound { text, ..Outbound::default() });
        self.status = Status::Ended { state: decision.to_owned() };
        self.awaiting = Awaiting::Nothing;
        self.updated_at = now;
        effects.events.push(self.event(now, EventBody::ConversationClosed { state: decision.to_owned() }));
        effects
    }

    /// Cancel one pending timer (an agent through the API).
    pub fn cancel_timer(&mut self, key: &str, reason: &str, now: i64) -> Effects {
        self.cancel_timers(now, reason, |timer_key, _| timer_key == key)
    }

    /// Cancel every pending timer `which` selects, with an event for each.
    pub(super) fn cancel_timers(
        &mut self,
        now: i64,
        reason: &str,
        which: impl Fn(&str, &PendingTimer) -> bool,
    ) -> Effects {
        let mut effects = Effects::default();
        let keys: Vec<String> =
            self.timers.iter().filter(|(key, timer)| which(key, timer)).map(|(key, _)| key.clone()).collect();
        for key in keys {
            let Some(timer) = self.timers.remove(&key) else { continue };
            let body = EventBody::TimerCancelled { key: key.clone(), reason: reason.to_owned() };
            effects.events.push(self.event(now, body));
            effects.cancelled_timers.push(ScheduledTimer { key, kind: timer.kind, due_at: timer.due_at });
        }
        effects
    }
}

impl Turn<'_, '_> {
    /// Set the timer a flow declares, relative to now or to a field, if its
    /// `when` holds.
    pub(super) fn request_timer(&mut self, spec: &TimerSpec) {
        if !self.holds(spec.when.as_ref()) {
            return;
        }
        let calendar = self.setting.calendar;
        let anchored = |field: &str| match self.conversation.fields.get(field) {
            Some(Value::Datetime(at)) => Ok(*at),
            _ => Err(field.to_owned()),
        };
        let (lead, delay) = (spec.lead().map(|lead| lead.as_minutes()), spec.delay());
        let due = match (&spec.before_field, lead, &spec.after_field, delay) {
            (Some(field), Some(minutes), _, _) => {
                anchored(field).map(|at| calendar.minutes_before(at, minutes))
            }
            (None, _, Some(field), Some(delay)) => {
                anchored(field).map(|at| calendar.minutes_after(at, delay.as_minutes()))
            }
            // Counted in open hours by `set_timer`, from the plain delay.
            (None, _, None, Some(delay)) if spec.counts_business_time() => {
                Ok(self.now.saturating_add(delay.as_millis()))
            }
            (None, _, None, Some(delay)) => Ok(calendar.minutes_after(self.now, delay.as_minutes())),
            // `flow check` refuses any other shape.
            _ => return,
        };
        let key = spec.kind.clone();
        match due {
            // A 24 h reminder for a booking made this morning would only confuse.
            Ok(due_at) if spec.before_field.is_some() && due_at <= self.now => {
                let reason = "already_past".to_owned();
                self.record(EventBody::TimerSkipped { key, kind: spec.kind.clone(), reason });
            }
            Ok(due_at) => self.set_timer(key, spec.kind.clone(), due_at, String::new(), spec.is_follow_up()),
            Err(field) => {
                self.record(EventBody::TimerUnresolved { key, kind: spec.kind.clone(), field });
            }
        }
    }

    /// Set a timer a plugin asked for.
    pub(super) fn schedule(&mut self, timer: Timer) {
        let due_at = match &timer.due {
            Due::At(at) => Ok(*at),
            Due::AfterMs(ms) => Ok(self.now.saturating_add(i64::try_from(*ms).unwrap_or(i64::MAX))),
            Due::BeforeField(field, ms) => match self.conversation.fields.get(field) {
                Some(Value::Datetime(at)) => Ok(at.saturating_sub(i64::try_from(*ms).unwrap_or(0))),
                _ => Err(field.clone()),
            },
        };
        let relative = matches!(timer.due, Due::AfterMs(_));
        match due_at {
            Ok(due_at) => self.set_timer(timer.key, timer.kind, due_at, timer.payload, relative),
            Err(field) => self.record(EventBody::TimerUnresolved { key: timer.key, kind: timer.kind, field }),
        }
    }

    /// Add or move a timer. A kind that counts business time is due once
    /// that much open time has passed from now (two business hours from
    /// Friday 17:00 is Monday 10:00); one kept to business hours moves out
    /// of the night to the next opening.
    fn set_timer(&mut self, key: String, kind: String, requested: i64, payload: String, relative: bool) {
        let spec = self.setting.flow.timer(&kind).map(|(_, spec)| spec);
        let calendar = self.setting.calendar;
        let due_at = match spec {
            // A time asked for as such (an agent's 15:00, a plugin's
            // `at`) is kept; only a delay counts open hours.
            Some(spec) if spec.counts_business_time() && relative => {
                let minutes = u64::try_from((requested - self.now).max(0)).unwrap_or(0).div_ceil(60_000);
                calendar.after_open_time(self.now, minutes)
            }
            Some(spec) if spec.moves_to_next_opening() => calendar.next_open(requested),
            _ => requested,
        };
        let cancel_on_reply = spec.is_some_and(TimerSpec::cancels_on_reply);
        // What it is about, as it is now: the conversation may start another
        // round before it fires (a booking's reminder, a nudge about a
        // quote), and it is still about this one.
        let context = spec.map(|_| TimerContext {
            intent: self.conversation.intent.clone(),
            fields: self.conversation.fields.clone(),
        });
        self.record(EventBody::TimerRequested {
            key: key.clone(),
            kind: kind.clone(),
            due_at,
            requested_at: (due_at != requested).then_some(requested),
        });
        let pending = PendingTimer { kind: kind.clone(), due_at, cancel_on_reply, payload, context };
        if let Some(moved) = self.conversation.timers.insert(key.clone(), pending) {
            let old = ScheduledTimer { key: key.clone(), kind: moved.kind, due_at: moved.due_at };
            self.effects.cancelled_timers.push(old);
        }
        self.effects.timers.retain(|timer| timer.key != key);
        self.effects.timers.push(ScheduledTimer { key, kind, due_at });
    }

    pub(super) fn cancel(&mut self, reason: &str, which: impl Fn(&str, &PendingTimer) -> bool) {
        let cancelled = self.conversation.cancel_timers(self.now, reason, which);
        self.effects
            .timers
            .retain(|timer| !cancelled.cancelled_timers.iter().any(|gone| gone.key == timer.key));
        self.effects.merge(cancelled);
    }

    fn fire(&mut self, key: &str, pending: &PendingTimer) {
        let flow = self.setting.flow;
        let kind = pending.kind.clone();
        let skip = |turn: &mut Self, reason: &str| {
            let body = EventBody::TimerSkipped {
                key: key.to_owned(),
                kind: kind.clone(),
                reason: reason.to_owned(),
            };
            turn.record(body);
        };
        let Some((_, spec)) = flow.timer(&kind) else {
            // A plugin's own timer with no spec in the flow: only the event.
            self.fired(key, pending);
            return;
        };
        let anchored = spec.anchor().is_some();
        let fields = pending.context.as_ref().map_or(&self.conversation.fields, |context| &context.fields);
        let anchor_passed = spec
            .before_field
            .as_deref()
            .is_some_and(|field| matches!(fields.get(field), Some(Value::Datetime(at)) if self.now >= *at));
        let too_late = spec.late_after_minutes.is_some_and(|minutes| {
            self.now - pending.due_at > i64::try_from(minutes).unwrap_or(i64::MAX / 60_000) * 60_000
        });
        if anchor_passed || too_late {
            skip(self, "too_late");
            return;
        }
        let after_hours = !self.setting.calendar.is_open(self.now);
        let still = spec.when.as_ref().is_none_or(|when| {
            when.holds(about(self.conversation, pending, anchored).facts(after_hours, self.now))
        });
        if !still {
            skip(self, "condition");
            return;
        }
        if let Some(field) = &spec.escalate_to_field
            && !self.escalate(field)
        {
            skip(self, "resolved");
            return;
        }
        let outside_window = if self.conversation.window_closed(self.now) {
            let fallback =
                self.conversation.window_fallback(spec.template.as_ref(), spec.message_tag.as_ref());
            let Some(fallback) = fallback else {
                skip(self, WINDOW_CLOSED);
                return;
            };
            Some(fallback)
        } else {
            None
        };
        self.fired(key, pending);
        let about = about(self.conversation, pending, anchored);
        let payload = spec.event.as_ref().map(|_| serde_json::to_value(&about.fields).unwrap_or_default());
        // The first variant for the conversation's state, else `say`.
        let say = spec
            .variants
            .iter()
            .find(|variant| variant.when.holds(about.facts(after_hours, self.now)))
            .map_or(&spec.say, |variant| &variant.say);
        let text = render::fill(&self.text(say), &about, self.setting.calendar, flow);
        if let (Some(name), Some(payload)) = (&spec.event, payload) {
            self.record(EventBody::Domain { name: name.clone(), payload });
        }
        if text.trim().is_empty() {
            return;
        }
        let locale = self.conversation.locale().to_owned();
        let quick_replies = spec
            .options
            .iter()
            .map(|option| QuickReply {
                title: render::phrase(&locale, option_phrase(*option)),
                payload: format!("{ANSWER_PREFIX}{kind}:{}", option_name(*option)),
            })
            .collect();
        self.record(EventBody::MessageSent { text: text.clone(), by: Sender::Bot });
        self.effects.outbound.push(Outbound { text, quick_replies, outside_window, to: None });
    }

    fn fired(&mut self, key: &str, pending: &PendingTimer) {
        self.record(EventBody::TimerFired {
            key: key.to_owned(),
            kind: pending.kind.clone(),
            due_at: pending.due_at,
            late_ms: self.now - pending.due_at,
        });
    }

    /// Move a request a human still has to the backup named in `field`.
    /// False when there is nothing to escalate (decided, or no backup).
    fn escalate(&mut self, field: &str) -> bool {
        let Status::Human { queue, .. } = &self.conversation.status else { return false };
        let Some(Value::Text(backup)) = self.conversation.fields.get(field) else { return false };
        if queue == backup {
            return false;
        }
        let (from, to) = (queue.clone(), backup.clone());
        self.conversation.status = Status::Human { queue: to.clone(), assignee: Some(to.clone()) };
        let payload = serde_json::json!({ "from": from, "to": to });
        self.record(EventBody::Domain { name: "approval.escalated".to_owned(), payload });
        true
    }

    /// A silence follow-up is pointless once the customer writes.
    pub(super) fn cancel_on_reply(&mut self) {
        self.cancel("reply", |_, timer| timer.cancel_on_reply);
    }

    /// "Not relevant": every ladder stops.
    pub(super) fn stop_timers(&mut self) {
        self.cancel("opt_out", |_, _| true);
        let locale = self.conversation.locale().to_owned();
        self.say(render::phrase(&locale, Phrase::NoMoreMessages), Vec::new());
    }

    /// The customer tapped a button of a timer's message. A payload for a
    /// kind or option the flow never offers (typed by hand) does nothing.
    pub(super) fn answer_timer(&mut self, kind: &str, option: TimerOption) {
        // Rescheduling starts the timer's intent again: only one the menu offers.
        let offered = self.setting.flow.timer(kind).is_some_and(|(intent, spec)| {
            spec.options.contains(&option)
                && (option != TimerOption::Reschedule || intent.is_none_or(|intent| intent.menu))
        });
        if !offered {
            return;
        }
        self.record(EventBody::TimerAnswered {
            kind: kind.to_owned(),
            answer: option_name(option).to_owned(),
        });
        let locale = self.conversation.locale().to_owned();
        match option {
            TimerOption::Confirm => self.say(render::phrase(&locale, Phrase::SeeYou), Vec::new()),
            TimerOption::Stop => self.stop_timers(),
            TimerOption::Reschedule => {
                let flow = self.setting.flow;
                let Some((Some(intent), spec)) = flow.timer(kind) else { return };
                let conversation = &mut *self.conversation;
                if let Some(field) = spec.anchor() {
                    conversation.fields.remove(field);
                }
                conversation.status = Status::Bot;
                conversation.intent = Some(intent.name.clone());
                conversation.next_step = 0;
                conversation.confirmed = false;
                conversation.awaiting = Awaiting::Nothing;
                self.say(render::phrase(&locale, Phrase::Rescheduling), Vec::new());
                self.advance();
            }
        }
    }
}

/// `timer:{kind}:{option}` to its kind and option.
pub(super) fn parse_answer(payload: &str) -> Option<(String, TimerOption)> {
    let (kind, option) = payload.strip_prefix(ANSWER_PREFIX)?.rsplit_once(':')?;
    let option = match option {
        "confirm" => TimerOption::Confirm,
        "reschedule" => TimerOption::Reschedule,
        "stop" => TimerOption::Stop,
        _ => return None,
    };
    Some((kind.to_owned(), option))
}

fn option_name(option: TimerOption) -> &'static str {
    match option {
        TimerOption::Confirm => "confirm",
        TimerOption::Reschedule => "reschedule",
        TimerOption::Stop => "stop",
    }
}

fn option_phrase(option: TimerOption) -> Phrase {
    match option {
        TimerOption::Confirm => Phrase::ConfirmWord,
        TimerOption::Reschedule => Phrase::RescheduleWord,
        TimerOption::Stop => Phrase::NotRelevant,
    }
}

#[cfg(test)]
mod tests;
