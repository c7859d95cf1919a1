//! Moving a conversation on: answers, the next question, plugin steps,
//! confirmation and completion.

use crate::contract::{Decision, Message, QuickReply, Value};
use crate::event::EventBody;
use crate::flow::{Exhausted, FailurePolicy, FieldKind, FieldSpec, Intent, Known, StepSpec};
use crate::validate::{Invalid, validate, yes_no};

use super::handoff::Reason;
use super::render::{self, Phrase};
use super::{Awaiting, Choice, Inbound, Status, Turn};

impl Turn<'_, '_> {
    fn intent(&self) -> Option<&Intent> {
        let name = self.conversation.intent.as_deref()?;
        self.setting.flow.intent(name)
    }

    /// Run the intent forward until it needs the customer or ends.
    pub(super) fn advance(&mut self) {
        let flow = self.setting.flow;
        // Bounded: every pass asks, runs a step, confirms or completes.
        for _ in 0..64 {
            if !matches!(self.conversation.status, Status::Bot)
                || self.conversation.awaiting != Awaiting::Nothing
            {
                return;
            }
            let Some(intent) = self.conversation.intent.as_deref().and_then(|name| flow.intent(name)) else {
                self.menu(None);
                return;
            };
            self.take_known(intent);
            let missing = intent.fields.iter().find(|field| {
                field.ask
                    && !self.conversation.fields.contains_key(&field.name)
                    && !self.conversation.skipped.contains(&field.name)
                    && self.holds(field.when.as_ref())
            });
            if let Some(field) = missing {
                self.ask(field, None);
                return;
            }
            if let Some(step) = intent.steps.get(self.conversation.next_step) {
                self.conversation.next_step += 1;
                self.run_step(step);
                // A step that asked the customer something (the order number
                // again, say) runs again once it is answered.
                if matches!(self.conversation.awaiting, Awaiting::Field { .. }) {
                    self.conversation.next_step -= 1;
                }
                continue;
            }
            if let Some(confirm) = &intent.confirm
                && self.conversation.awaiting == Awaiting::Nothing
                && !self.confirmed()
            {
                let prompt =
                    render::fill(&self.text(&confirm.prompt), self.conversation, self.setting.calendar, flow);
                self.conversation.awaiting = Awaiting::Confirm { second: false };
                let locale = self.conversation.locale().to_owned();
                self.say(prompt, render::yes_no_options(&locale));
                return;
            }
            self.complete(intent);
            return;
        }
    }

    fn confirmed(&self) -> bool {
        self.conversation.confirmed
    }

    pub(super) fn ask(&mut self, field: &FieldSpec, prompt: Option<String>) {
        if field.kind == FieldKind::Code && !self.send_code(field) {
            return;
        }
        let mut options = match field.kind {
            FieldKind::Boolean => render::yes_no_options(self.conversation.locale()),
            _ => self.choice_options(field),
        };
        if field.known == Known::Offer
            && let Some(Value::Text(known)) = self.known_value(field)
        {
            // Known, but the flow wants it confirmed: one tap.
            options.push(QuickReply { title: known.clone(), payload: known });
        }
        // A prompt may mention what is known: "Your {plan} ends on {ends}".
        let prompt = prompt.unwrap_or_else(|| {
            render::fill(
                &self.text(&field.prompt),
                self.conversation,
                self.setting.calendar,
                self.setting.flow,
            )
        });
        self.conversation.awaiting = Awaiting::Field { field: field.name.clone(), attempts: 0 };
        self.say(prompt, options);
    }

    /// A choice field's options as buttons in the customer's language; none for other kinds.
    fn choice_options(&self, field: &FieldSpec) -> Vec<QuickReply> {
        if field.kind != FieldKind::Choice {
            return Vec::new();
        }
        let (locale, fallback) = (self.conversation.locale(), &self.setting.flow.default_locale);
        field
            .options
            .iter()
            .map(|option| {
                let title = option.title.get(locale, fallback);
                let limit = render::button_limit(self.conversation.channel).unwrap_or(usize::MAX);
                let title = if title.chars().count() > limit && !option.short.is_empty() {
                    option.short.get(locale, fallback)
                } else {
                    title
                };
                QuickReply { title: title.to_owned(), payload: option.value.clone() }
            })
            .collect()
    }

    pub(super) fn answer_field(&mut self, name: &str, attempts: u32, answer: &str, inbound: &Inbound) {
        let Some(field) = self.intent().and_then(|intent| intent.field(name)).cloned() else {
            // A field a plugin asked for that the flow does not declare: take it as text.
            self.collect(name, crate::contract::Value::Text(answer.trim().to_owned()));
            return;
        };
        if field.kind == FieldKind::Code {
            self.answer_code(&field, attempts, answer);
            return;
        }
        let answered = validate(&field, answer, self.setting.calendar, self.now);
        let answered = self.understanding.answer(&field, answered, self.clock());
        // A free-text question takes any answer, so only a clear request
        // for another intent ("хочу вернуть товар") leaves it.
        let free_text = matches!(field.kind, FieldKind::Text | FieldKind::Quantity);
        let clearly_else = self.understanding.intent().is_some_and(|candidate| candidate.confidence >= 0.75);
        if (answered.is_err() || (free_text && clearly_else)) && self.switch_intent() {
            return;
        }
        let replace = self.understanding.negated;
        if let Some(validator) = &field.validator {
            let taken = self.take_values(Some(name), replace);
            self.noted.extend(taken);
            self.validate_with_plugin(&field, validator, attempts, inbound);
            return;
        }
        match answered {
            Ok(value) => {
                let taken = self.take_values(Some(name), replace);
                self.noted.extend(taken);
                self.collect(name, value);
            }
            Err(invalid) => {
                let taken = self.take_values(Some(name), replace);
                if !taken.is_empty() {
                    // Not this answer, but something we needed: keep it, ask again, count nothing.
                    self.noted.extend(taken);
                    self.conversation.awaiting = Awaiting::Nothing;
                    self.advance();
                    return;
                }
                let explanation = if field.invalid.is_empty() {
                    invalid.explain(self.conversation.locale())
                } else {
                    self.text(&field.invalid)
                };
                self.invalid(&field, attempts, &invalid, Some(explanation));
            }
        }
    }

    pub(super) fn collect(&mut self, name: &str, value: crate::contract::Value) {
        self.record(EventBody::FieldCollected { field: name.to_owned(), value: value.clone() });
        self.conversation.fields.insert(name.to_owned(), value);
        self.conversation.awaiting = Awaiting::Nothing;
        let on_collect =
            self.intent().and_then(|intent| intent.field(name)).map(|field| field.on_collect.clone());
        let intent = self.conversation.intent.clone();
        for step in on_collect.unwrap_or_default() {
            // A step may hand off or ask; or (a denial that leads on) move
            // to another intent, which then starts: the rest of this one's
            // steps do not run.
            if !matches!(self.conversation.status, Status::Bot)
                || self.conversation.awaiting != Awaiting::Nothing
            {
                return;
            }
            if self.conversation.intent != intent {
                break;
            }
            self.run_step(&step);
        }
        self.advance();
    }

    /// A plugin validator accepts an answer by setting the field; anything
    /// else it says (an explanation, a new question) goes to the customer.
    fn validate_with_plugin(&mut self, field: &FieldSpec, plugin: &str, attempts: u32, inbound: &Inbound) {
        let message =
            Message { text: inbound.text.clone(), payload: inbound.payload.clone(), received_at: self.now };
        let input = self.step_input(&field.name, Some(message));
        match self.call_plugin(plugin, input) {
            Ok(decisions) => {
                let accepted = decisions.iter().find_map(|decision| match decision {
                    Decision::SetField { name, value } if *name == field.name => Some(value.clone()),
                    _ => None,
                });
                match accepted {
                    Some(value) => self.collect(&field.name, value),
                    None => {
                        for decision in decisions {
                            if let Decision::Reply(reply) = decision {
                                self.say(reply.text, reply.quick_replies);
                            }
                        }
                        self.invalid(field, attempts, &Invalid::Pattern, None);
                    }
                }
            }
            Err(failure) => {
                // The built-in check stands in for a validator that failed.
                self.record(EventBody::StepFailed {
                    step: field.name.clone(),
                    plugin: plugin.to_owned(),
                    code: failure.code,
                    message: failure.message,
                    version: failure.version,
                });
                let fallback = FieldSpec { validator: None, ..field.clone() };
                match validate(&fallback, &inbound.text, self.setting.calendar, self.now) {
                    Ok(value) => self.collect(&field.name, value),
                    Err(invalid) => {
                        let explanation = invalid.explain(self.conversation.locale());
                        self.invalid(field, attempts, &invalid, Some(explanation));
                    }
                }
            }
        }
    }

    fn invalid(&mut self, field: &FieldSpec, attempts: u32, invalid: &Invalid, explanation: Option<String>) {
        let attempt = attempts + 1;
        self.conversation.failed_validations += 1;
        self.record(EventBody::FieldInvalid {
            field: field.name.clone(),
            reason: invalid.code().to_owned(),
            attempt,
        });
        if self.conversation.failed_validations >= self.setting.flow.handoff.max_failed_validations {
            self.handoff(Reason::FailedValidations(field.name.clone()));
            return;
        }
        if attempt > field.retries {
            self.exhausted(field);
            return;
        }
        if let Some(explanation) = explanation {
            let prompt = render::fill(
                &self.text(&field.prompt),
                self.conversation,
                self.setting.calendar,
                self.setting.flow,
            );
            self.conversation.awaiting = Awaiting::Field { field: field.name.clone(), attempts: attempt };
            let options = self.choice_options(field);
            self.say(format!("{explanation} {prompt}"), options);
        } else {
            self.conversation.awaiting = Awaiting::Field { field: field.name.clone(), attempts: attempt };
        }
    }

    /// A field's tries are used up: what its `on_exhausted` says.
    pub(super) fn exhausted(&mut self, field: &FieldSpec) {
        match field.on_exhausted {
            Exhausted::Handoff => self.handoff(Reason::FailedValidations(field.name.clone())),
            Exhausted::Skip => {
                self.record(EventBody::FieldSkipped { field: field.name.clone() });
                self.conversation.skipped.insert(field.name.clone());
                self.conversation.awaiting = Awaiting::Nothing;
                self.advance();
            }
            Exhausted::Menu => {
                self.conversation.intent = None;
                self.conversation.awaiting = Awaiting::Nothing;
                self.menu(None);
            }
        }
    }

    pub(super) fn answer_choice(&mut self, field: &str, options: &[Choice], attempts: u32, answer: &str) {
        let answer = answer.trim();
        let by_number =
            answer.parse::<usize>().ok().and_then(|n| n.checked_sub(1)).and_then(|i| options.get(i));
        let picked = options
            .iter()
            .find(|option| option.payload == answer || option.title.eq_ignore_ascii_case(answer))
            .or(by_number);
        let picked = picked.or_else(|| self.option_by_time(options));
        match picked {
            Some(option) => {
                let value = option.value.clone();
                self.collect(field, value);
            }
            None if self.switch_intent() => {}
            None if self.understanding.carries_values() && self.new_basis_for_options() => {}
            None => {
                let attempt = attempts + 1;
                self.conversation.failed_validations += 1;
                self.record(EventBody::FieldInvalid {
                    field: field.to_owned(),
                    reason: "choice".to_owned(),
                    attempt,
                });
                if attempt > CHOICE_RETRIES
                    || self.conversation.failed_validations
                        >= self.setting.flow.handoff.max_failed_validations
                {
                    self.handoff(Reason::FailedValidations(field.to_owned()));
                    return;
                }
                let quick_replies = options.iter().map(Choice::quick_reply).collect();
                self.conversation.awaiting = Awaiting::Choice {
                    field: field.to_owned(),
                    options: options.to_vec(),
                    attempts: attempt,
                };
                let locale = self.conversation.locale().to_owned();
                self.say(Invalid::Choice.explain(&locale), quick_replies);
            }
        }
    }

    /// "А можно вечером?" while slots are offered: the fields the options
    /// were made from changed, so the steps make new ones.
    fn new_basis_for_options(&mut self) -> bool {
        let taken = self.take_values(None, true);
        if taken.is_empty() {
            return false;
        }
        self.noted.extend(taken);
        if let Some(intent) = self.current_intent().cloned() {
            self.steps_again(&intent);
        }
        self.advance();
        true
    }

    /// An offered time named by its clock time ("в 18:00", "давайте 17:00 во вторник").
    fn option_by_time<'o>(&self, options: &'o [Choice]) -> Option<&'o Choice> {
        let mention = self.understanding.date?;
        let time = mention.time?;
        let calendar = self.setting.calendar;
        let today = calendar.local(self.now).date();
        let day = mention.day.and_then(|_| mention.date(today, crate::flow::Direction::Future));
        let mut fits = options.iter().filter(|option| {
            let Value::Datetime(at) = option.value else { return false };
            let local = calendar.local(at);
            local.time() == time && day.is_none_or(|day| local.date() == day)
        });
        let first = fits.next()?;
        fits.next().is_none().then_some(first)
    }

    pub(super) fn answer_confirm(&mut self, second: bool, answer: &str) {
        let locale = self.conversation.locale().to_owned();
        // "Нет, в пятницу": a correction, not a refusal.
        let taken = self.take_values(None, true);
        if !taken.is_empty() {
            self.noted.extend(taken);
            if let Some(intent) = self.current_intent().cloned() {
                self.steps_again(&intent);
            }
            self.advance();
            return;
        }
        if yes_no(answer).is_none() && self.switch_intent() {
            return;
        }
        let double =
            self.intent().and_then(|intent| intent.confirm.as_ref()).is_some_and(|confirm| confirm.double);
        match yes_no(answer) {
            Some(true) if double && !second => {
                self.conversation.awaiting = Awaiting::Confirm { second: true };
                self.say(
                    render::phrase(&locale, Phrase::ConfirmAgain),
                    vec![QuickReply {
                        title: render::phrase(&locale, Phrase::ConfirmWord),
                        payload: "confirm".to_owned(),
                    }],
                );
            }
            Some(true) => {
                self.conversation.confirmed = true;
                self.conversation.awaiting = Awaiting::Nothing;
                self.advance();
            }
            Some(false) => {
                self.conversation.intent = None;
                self.conversation.awaiting = Awaiting::Nothing;
                self.say(render::phrase(&locale, Phrase::Cancelled), Vec::new());
                self.menu(None);
            }
            None => {
                self.say(render::phrase(&locale, Phrase::YesOrNo), render::yes_no_options(&locale));
            }
        }
    }

    pub(super) fn run_step(&mut self, step: &StepSpec) {
        if !self.holds(step.when.as_ref()) {
            return;
        }
        let input = self.step_input(&step.name, None);
        let mut outcome = self.call_plugin(&step.plugin, input.clone());
        if outcome.is_err() && step.on_failure == FailurePolicy::Retry {
            if let Err(failure) = &outcome {
                self.step_failed(step, failure);
            }
            outcome = self.call_plugin(&step.plugin, input);
        }
        match outcome {
            Ok(decisions) => self.apply(&step.name, decisions),
            Err(failure) => {
                self.step_failed(step, &failure);
                match step.on_failure {
                    FailurePolicy::Skip => {}
                    FailurePolicy::Default => {
                        let text = self.text(&step.default);
                        self.say(text, Vec::new());
                    }
                    FailurePolicy::Retry | FailurePolicy::Handoff => {
                        self.handoff(Reason::StepFailed(step.name.clone()));
                    }
                }
            }
        }
    }

    fn step_failed(&mut self, step: &StepSpec, failure: &super::StepFailed) {
        self.record(EventBody::StepFailed {
            step: step.name.clone(),
            plugin: step.plugin.clone(),
            code: failure.code.clone(),
            message: failure.message.clone(),
            version: failure.version.clone(),
        });
    }

    fn complete(&mut self, intent: &Intent) {
        let done = &intent.done;
        if let Some(numbering) = &done.number
            && !self.conversation.fields.contains_key(&numbering.field)
        {
            match self.plugins.next_number(numbering.sequence()) {
                Ok(number) => {
                    let value = Value::Text(numbering.format(number));
                    self.record(EventBody::FieldCollected {
                        field: numbering.field.clone(),
                        value: value.clone(),
                    });
                    self.conversation.fields.insert(numbering.field.clone(), value);
                }
                Err(failure) => {
                    // Never two customers with one number: a person finishes it.
                    self.host_failed(&numbering.field, failure);
                    return;
                }
            }
        }
        let outcome = done.variants.iter().find(|variant| variant.when.holds(self.facts()));
        let reply =
            outcome.filter(|variant| !variant.reply.is_empty()).map_or(&done.reply, |variant| &variant.reply);
        let reply =
            render::fill(&self.text(reply), self.conversation, self.setting.calendar, self.setting.flow);
        self.say(reply, Vec::new());
        if let Some(name) = outcome.and_then(|variant| variant.event.as_ref()).or(done.event.as_ref()) {
            let payload = serde_json::to_value(&self.conversation.fields).unwrap_or_default();
            self.record(EventBody::Domain { name: name.clone(), payload });
        }
        for spec in &done.timers {
            self.request_timer(spec);
        }
        if let Some(queue) = outcome.and_then(|variant| variant.handoff.as_ref()).or(done.handoff.as_ref()) {
            self.conversation.route = Some(crate::contract::Route {
                queue: queue.clone(),
                priority: intent.priority,
                assignee: None,
                backup: None,
            });
            // The completion reply told the customer who takes it from here.
            self.handoff_reply = Some(String::new());
            self.handoff(Reason::Completed(intent.name.clone()));
            return;
        }
        let threshold = self.setting.flow.handoff.score_at_least;
        if threshold.is_some_and(|threshold| self.conversation.score >= threshold) {
            self.handoff(Reason::HotLead);
            return;
        }
        self.end(&terminal_name(outcome.and_then(|variant| variant.state).unwrap_or(done.state)));
    }

    /// What the host itself does for a flow (a number, a one-time code)
    /// failed: recorded as the step's failure, and a person finishes it.
    pub(super) fn host_failed(&mut self, step: &str, failure: super::StepFailed) {
        self.record(EventBody::StepFailed {
            step: step.to_owned(),
            plugin: "host".to_owned(),
            code: failure.code,
            message: failure.message,
            version: None,
        });
        self.handoff(Reason::StepFailed(step.to_owned()));
    }

    pub(super) fn end(&mut self, state: &str) {
        self.route(false);
        self.conversation.status = Status::Ended { state: state.to_owned() };
        self.conversation.awaiting = Awaiting::Nothing;
        self.conversation.confirmed = false;
        self.record(EventBody::ConversationClosed { state: state.to_owned() });
    }
}

/// Wrong picks allowed among offered options (slots, remedies) before a human helps.
const CHOICE_RETRIES: u32 = 2;

fn terminal_name(state: crate::flow::Terminal) -> String {
    serde_json::to_value(state).ok().and_then(|value| value.as_str().map(str::to_owned)).unwrap_or_default()
}
