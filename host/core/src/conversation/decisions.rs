//! Applying what a plugin step decided. Plugins only ever *propose*; this is
//! where the host turns decisions into state, replies and events.

use crate::contract::{Decision, Remedy, Value, Verdict};
use crate::event::EventBody;
use crate::flow::StepSpec;

use super::handoff::Reason;
use super::render::{self, Phrase};
use super::{Awaiting, Choice, Turn};

/// Keep the customer-facing decisions in the conversation's language.
///
/// A step may write its replies, asks and quotes in several languages, each
/// tagged with a `locale` (WIT 0.2.0). Untagged decisions always apply; of
/// the tagged ones, those in `locale` are kept, else those in `fallback`
/// (the flow's default), else those in the first language the step used.
pub(super) fn in_language(decisions: Vec<Decision>, locale: &str, fallback: &str) -> Vec<Decision> {
    let language = |tag: &str| tag.split(['-', '_']).next().unwrap_or(tag).to_ascii_lowercase();
    let tagged: Vec<String> = decisions.iter().filter_map(Decision::locale).map(language).collect();
    let Some(first) = tagged.first() else { return decisions };
    let wanted = [locale, fallback]
        .into_iter()
        .map(language)
        .find(|wanted| tagged.contains(wanted))
        .unwrap_or_else(|| first.clone());
    decisions
        .into_iter()
        .filter(|decision| decision.locale().is_none_or(|tag| language(tag) == wanted))
        .collect()
}

impl super::Conversation {
    /// Apply a step's decisions as a turn would, with no plugin called: what
    /// the customer would read, and the events. `plugin run --render` shows
    /// a step's answer this way, on a conversation made for it.
    pub fn preview(
        &mut self,
        setting: super::Setting<'_>,
        step: &str,
        decisions: Vec<Decision>,
        now: i64,
    ) -> super::Effects {
        let kept = in_language(decisions, self.locale(), &setting.flow.default_locale);
        self.without_plugins(setting, now, |turn| turn.apply(step, kept))
    }
}

impl<'a> Turn<'a, '_> {
    /// Call a plugin step, keeping its answer in the conversation's language.
    pub(super) fn call_plugin(
        &mut self,
        plugin: &str,
        input: crate::contract::StepInput,
    ) -> Result<Vec<Decision>, super::StepFailed> {
        let decisions = self.plugins.call(plugin, input)?;
        Ok(in_language(decisions, self.conversation.locale(), &self.setting.flow.default_locale))
    }

    /// The times the customer's bookings hold: the anchors their reminders count from.
    fn held_times(&self) -> Vec<i64> {
        let flow = self.setting.flow;
        self.conversation
            .timers
            .values()
            .filter_map(|timer| {
                let (_, spec) = flow.timer(&timer.kind)?;
                match timer.context.as_ref()?.fields.get(spec.anchor()?)? {
                    Value::Datetime(at) => Some(*at),
                    _ => None,
                }
            })
            .collect()
    }

    /// The spec of a step of the current intent (or of one of its fields'
    /// `on_collect`), by name.
    fn step_spec(&self, name: &str) -> Option<&'a StepSpec> {
        let flow = self.setting.flow;
        let intent = flow.intent(self.conversation.intent.as_deref()?)?;
        intent
            .steps
            .iter()
            .chain(intent.fields.iter().flat_map(|field| &field.on_collect))
            .find(|step| step.name == name)
    }

    /// A denial leads to `next` (an alternative offered): the denied intent
    /// is over, and the next starts afresh, from the loop that ran the step,
    /// keeping what lasts across intents (a name, a phone) and, with
    /// `carry`, the fields it declares too (the order number). A second
    /// denial in one turn ends, so two intents that deny into each other
    /// cannot loop.
    fn deny_into(&mut self, next: &str, carry: bool) {
        let flow = self.setting.flow;
        let leads_on = !self.denied_into
            && self.conversation.intent.as_deref() != Some(next)
            && flow.intent(next).is_some();
        if !leads_on {
            self.end("resolved");
            return;
        }
        self.denied_into = true;
        let declared = flow.intent(next).filter(|_| carry);
        self.conversation.fields.retain(|name, value| {
            super::listen::lasting(flow, name, value)
                || declared.is_some_and(|intent| intent.field(name).is_some())
        });
        self.conversation.skipped.clear();
        self.enter_intent(next);
    }

    /// A text that promises an answer: placeholders filled, `{reply_by}` the
    /// time a person answers by, counting the handoff's `reply_within` in
    /// business hours.
    fn promise(&self, text: &crate::flow::Localized) -> String {
        let flow = self.setting.flow;
        let calendar = self.setting.calendar;
        let by = calendar.after_open_time(self.now, flow.handoff.reply_within.as_minutes());
        let locale = self.conversation.locale();
        let template =
            self.text(text).replace("{reply_by}", &render::reply_by(by, self.now, locale, calendar));
        render::fill(&template, self.conversation, calendar, flow)
    }

    pub(super) fn apply(&mut self, step: &str, decisions: Vec<Decision>) {
        let spec = self.step_spec(step);
        // A step that scores again replaces its earlier contribution: a lead
        // re-scored as answers arrive is scored, not double-counted.
        if decisions.iter().any(|decision| matches!(decision, Decision::Score(_))) {
            let earlier = self.conversation.score_parts.remove(step).unwrap_or(0);
            self.conversation.score -= earlier;
        }
        let locale = self.conversation.locale().to_owned();
        let mut asked = None;
        let mut handoff = None;
        // A plugin that offers options usually words the question itself.
        let offers = decisions.iter().any(|decision| matches!(decision, Decision::OfferSlots(_)));
        for decision in decisions {
            match decision {
                Decision::SetField { name, value } => {
                    self.record(EventBody::FieldCollected { field: name.clone(), value: value.clone() });
                    self.conversation.skipped.remove(&name);
                    self.conversation.fields.insert(name, value);
                }
                Decision::ClearField(name) => {
                    self.conversation.fields.remove(&name);
                }
                Decision::Reply(reply) => {
                    if offers && !reply.quick_replies.is_empty() {
                        // Shown with the offer below, whose options the host owns.
                        self.pending_offer_text = Some(reply.text);
                    } else {
                        self.say(reply.text, reply.quick_replies);
                    }
                }
                Decision::Ask(ask) => asked = Some(ask),
                Decision::Score(change) => {
                    self.conversation.score += change.delta;
                    *self.conversation.score_parts.entry(step.to_owned()).or_default() += change.delta;
                    let score = self.conversation.score;
                    self.record(EventBody::LeadScored { delta: change.delta, score, reason: change.reason });
                }
                Decision::Grade(grade) => {
                    self.conversation.tier = Some(grade.tier);
                    self.record(EventBody::LeadGraded { tier: grade.tier, reasons: grade.reasons });
                }
                Decision::Quote(quote) => {
                    let text = render::quote(&quote, &locale, self.setting.calendar);
                    self.conversation
                        .fields
                        .insert("total".to_owned(), render::quote_total_value(&quote, &locale));
                    self.record(EventBody::QuoteSent { quote });
                    self.say(text, Vec::new());
                }
                Decision::Verdict(verdict) => {
                    self.record(EventBody::PolicyDecided { verdict: verdict.clone() });
                    match verdict {
                        Verdict::Allow(remedies) => self.offer_remedies(&remedies),
                        Verdict::Deny(reason) => {
                            self.say(render::denied(&locale, &reason), Vec::new());
                            match spec.and_then(|spec| spec.on_deny.as_deref()) {
                                Some(next) => self.deny_into(next, true),
                                None => self.end("resolved"),
                            }
                            return;
                        }
                        Verdict::DenyThen { reason, next } => {
                            self.say(render::denied(&locale, &reason), Vec::new());
                            self.deny_into(&next, false);
                            return;
                        }
                        Verdict::Escalate(reason) if self.setting.flow.handoff.on_escalate => {
                            if let Some(text) =
                                spec.map(|spec| &spec.escalated).filter(|text| !text.is_empty())
                            {
                                self.handoff_reply = Some(self.promise(text));
                            }
                            handoff = Some(Reason::Escalated(reason));
                        }
                        Verdict::Escalate(_) => {}
                    }
                }
                Decision::OfferSlots(mut slots) => {
                    // Moving a booking: the time it holds now is no new time.
                    let held = self.held_times();
                    if slots.len() > 1 {
                        slots.retain(|slot| !held.contains(&slot.start));
                    }
                    self.record(EventBody::SlotOffered { slots: slots.clone() });
                    let options = slots
                        .iter()
                        .map(|slot| Choice {
                            title: slot.label.clone(),
                            payload: format!("slot:{}", slot.start),
                            value: Value::Datetime(slot.start),
                        })
                        .collect();
                    self.conversation.awaiting =
                        Awaiting::Choice { field: "slot".to_owned(), options, attempts: 0 };
                }
                Decision::Route(route) => self.conversation.route = Some(route),
                Decision::Handoff(card) => handoff = Some(Reason::Plugin(card)),
                Decision::Schedule(timer) => self.schedule(timer),
                Decision::CancelTimer(key) => self.cancel("plugin", |pending, _| pending == key),
                Decision::Emit(event) => {
                    let payload = serde_json::from_str(&event.payload)
                        .unwrap_or(serde_json::Value::String(event.payload));
                    self.record(EventBody::Domain { name: event.name, payload });
                }
            }
        }
        if let Some(reason) = handoff {
            self.handoff(reason);
            return;
        }
        if let Awaiting::Choice { options, .. } = &self.conversation.awaiting {
            let quick_replies = options.iter().map(Choice::quick_reply).collect();
            let text =
                self.pending_offer_text.take().unwrap_or_else(|| render::phrase(&locale, Phrase::PickOne));
            self.say(text, quick_replies);
            return;
        }
        if let Some(ask) = asked {
            let spec = self
                .setting
                .flow
                .intent(self.conversation.intent.as_deref().unwrap_or_default())
                .and_then(|intent| intent.field(&ask.field))
                .cloned();
            match spec {
                Some(spec) => self.ask(&spec, ask.prompt),
                None => {
                    self.conversation.awaiting = Awaiting::Field { field: ask.field.clone(), attempts: 0 };
                    if let Some(prompt) = ask.prompt {
                        self.say(prompt, ask.quick_replies);
                    }
                }
            }
        }
    }

    fn offer_remedies(&mut self, remedies: &[Remedy]) {
        let locale = self.conversation.locale().to_owned();
        let options: Vec<Choice> = remedies
            .iter()
            .map(|remedy| {
                let (payload, title) = render::remedy(remedy, &locale);
                Choice { title, payload: payload.clone(), value: Value::Text(payload) }
            })
            .collect();
        if !options.is_empty() {
            self.conversation.awaiting =
                Awaiting::Choice { field: "remedy".to_owned(), options, attempts: 0 };
            self.pending_offer_text = Some(render::phrase(&locale, Phrase::Remedies));
        }
    }
}
