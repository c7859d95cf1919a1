//! Turning flow text into a [`Flow`] that is consistent, or saying precisely
//! why not. Syntax and shape errors come from the TOML parser with their span;
//! for consistency errors the offending value is located in the source, so
//! every problem points at a line and column.

use std::collections::{BTreeSet, HashSet};
use std::fmt;

use crate::event::TURN_EVENTS;

use super::{FailurePolicy, FieldKind, FieldSpec, Flow, Intent, TimerOption, TimerSpec, When};

/// One thing wrong with a flow file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

/// Everything wrong with a flow file; shown as `file:line:column: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for Problems {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for problem in &self.problems {
            writeln!(
                formatter,
                "{}:{}:{}: error: {}",
                self.file, problem.line, problem.column, problem.message
            )?;
            if let Some(hint) = &problem.hint {
                writeln!(formatter, "  hint: {hint}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

impl Flow {
    /// Parse and check a flow. `plugins` are the tenant's plugin bindings; a
    /// step or validator naming any other plugin is an error.
    pub fn parse(file: &str, source: &str, plugins: &BTreeSet<String>) -> Result<Flow, Problems> {
        let problems = |problems| Problems { file: file.to_owned(), problems };
        let flow: Flow = toml::from_str(source).map_err(|error| {
            let (line, column) = error.span().map_or((1, 1), |span| line_column(source, span.start));
            let message = error.message().to_owned();
            let hint = hint_for(&message);
            problems(vec![Problem { line, column, message, hint }])
        })?;
        let flow_sets = flow_sets(&flow).into_iter().map(str::to_owned).collect();
        let mut checker = Checker { source, plugins, problems: Vec::new(), flow_sets };
        checker.flow(&flow);
        if checker.problems.is_empty() { Ok(flow) } else { Err(problems(checker.problems)) }
    }
}

struct Checker<'a> {
    source: &'a str,
    plugins: &'a BTreeSet<String>,
    problems: Vec<Problem>,
    /// Fields plugin steps set or done.number fills, in any intent.
    flow_sets: BTreeSet<String>,
}

impl Checker<'_> {
    fn report(&mut self, near: &str, message: String, hint: impl Into<Option<String>>) {
        let (line, column) = self.locate(near);
        self.problems.push(Problem { line, column, message, hint: hint.into() });
    }

    /// Where `near` (usually a quoted value) first appears; the file start if nowhere.
    fn locate(&self, near: &str) -> (usize, usize) {
        self.source.find(near).map_or((1, 1), |offset| line_column(self.source, offset))
    }

    fn flow(&mut self, flow: &Flow) {
        if flow.menu.0.get(&flow.default_locale).is_none_or(|text| text.trim().is_empty()) {
            self.report(
                "[menu]",
                format!("the menu has no text in the default locale {:?}", flow.default_locale),
                "add it under [menu], e.g. en = \"What can I help you with?\"".to_owned(),
            );
        }
        if flow.intents.is_empty() {
            self.report(
                "version",
                "the flow has no intents".to_owned(),
                "add at least one [[intents]] table".to_owned(),
            );
        }
        if let Some(understanding) = &flow.understanding {
            self.plugin(&understanding.plugin);
        }
        let mut names = HashSet::new();
        for intent in &flow.intents {
            if !names.insert(intent.name.as_str()) {
                self.report(
                    &quoted(&intent.name),
                    format!("intent {:?} is defined twice", intent.name),
                    None,
                );
            }
            self.intent(flow, intent);
        }
        let mut kinds = HashSet::new();
        let every_timer = flow.intents.iter().flat_map(|intent| &intent.done.timers).chain(&flow.timers);
        for timer in every_timer {
            if !kinds.insert(timer.kind.as_str()) {
                self.report(
                    &quoted(&timer.kind),
                    format!("timer kind {:?} is declared twice", timer.kind),
                    "the scheduler finds a timer's spec by its kind; give each a name of its own".to_owned(),
                );
            }
        }
        let events = flow_events(flow);
        let every_field: Vec<&FieldSpec> = flow.intents.iter().flat_map(|intent| &intent.fields).collect();
        self.timer_loops(flow);
        for timer in &flow.timers {
            self.timer(None, timer, &BTreeSet::new());
            self.timer_events(timer, &events);
            for when in timer.when.iter().chain(timer.variants.iter().map(|variant| &variant.when)) {
                self.condition(&timer.kind, when, &every_field, None);
            }
        }
        for intent in &flow.intents {
            for timer in &intent.done.timers {
                self.timer_events(timer, &events);
                if timer.on.is_some() {
                    self.report(
                        &quoted(&timer.kind),
                        format!(
                            "timer {:?} is set when {:?} completes; `on` is for [[timers]]",
                            timer.kind, intent.name
                        ),
                        "move it to a top-level [[timers]] table to set it on an event".to_owned(),
                    );
                }
            }
        }
        self.knowledge(flow);
        for signal in flow.signals.iter().map(|signal| &signal.name) {
            let shaped = signal.split('.').count() >= 2
                && signal.split('.').all(|part| {
                    !part.is_empty()
                        && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                });
            if !shaped || TURN_EVENTS.contains(&signal.as_str()) {
                self.report(
                    &quoted(signal),
                    format!(
                        "signal {signal:?} must be a name of the business's own, like \"payment.failed\""
                    ),
                    "lowercase words joined by dots, and not one of the events the host records itself"
                        .to_owned(),
                );
            }
        }
        for intent in &flow.intents {
            for signal in &intent.start_on {
                if flow.signal(signal).is_none() {
                    self.report(
                        &quoted(signal),
                        format!(
                            "intent {:?} starts on signal {signal:?}, which the flow does not declare",
                            intent.name
                        ),
                        format!(
                            "declare it in a [[signals]] table; declared: {}",
                            list(flow.signals.iter().map(|signal| signal.name.as_str()))
                        ),
                    );
                }
            }
        }
        for remember in &flow.remember {
            if !events.iter().any(|event| *event == remember.event)
                || TURN_EVENTS.contains(&remember.event.as_str())
            {
                self.report(
                    &quoted(&remember.event),
                    format!(
                        "[[remember]] keeps {:?}, which is not a domain event this flow records",
                        remember.event
                    ),
                    "name an intent's done.event or a timer's event, e.g. \"rma.created\"".to_owned(),
                );
            }
            if remember.last > MAX_REMEMBERED {
                self.report(
                    &quoted(&remember.name),
                    format!(
                        "[[remember]] {:?} keeps the last {}; at most {MAX_REMEMBERED}",
                        remember.name, remember.last
                    ),
                    "every remembered event is rewritten with the customer's state on each message"
                        .to_owned(),
                );
            }
            for field in &remember.keep {
                if !every_field.iter().any(|spec| spec.name == *field)
                    && !self.flow_sets.contains(field)
                    && !BUILT_IN_PLACEHOLDERS.contains(&field.as_str())
                {
                    self.report(
                        &quoted(field),
                        format!("[[remember]] keeps {field:?}, which no intent collects"),
                        None,
                    );
                }
            }
        }
        let queues: BTreeSet<&str> = flow.queues.iter().map(|queue| queue.name.as_str()).collect();
        let check_queue = |checker: &mut Self, queue: &str| {
            if !queues.is_empty() && !queues.contains(queue) {
                checker.report(
                    &quoted(queue),
                    format!("queue {queue:?} is not declared"),
                    format!("declared queues: {}", list(queues.iter().copied())),
                );
            }
        };
        check_queue(self, &flow.handoff.queue);
        for intent in &flow.intents {
            let done = &intent.done;
            for queue in
                done.handoff.iter().chain(done.variants.iter().filter_map(|variant| variant.handoff.as_ref()))
            {
                check_queue(self, queue);
            }
        }
        for queue in flow.knowledge.iter().filter_map(|entry| entry.handoff.as_ref()) {
            check_queue(self, queue);
        }
        for rule in &flow.routing {
            check_queue(self, &rule.queue);
            self.condition(&rule.queue, &rule.when, &every_field, None);
            if let Some(intent) = &rule.when.intent
                && flow.intent(intent).is_none()
            {
                self.report(&quoted(intent), format!("routing names unknown intent {intent:?}"), None);
            }
        }
    }

    fn intent(&mut self, flow: &Flow, intent: &Intent) {
        let name = &intent.name;
        if intent.menu
            && intent.triggers.values().all(|phrases| phrases.iter().all(|phrase| phrase.trim().is_empty()))
        {
            self.report(
                &quoted(name),
                format!("intent {name:?} has no trigger phrases"),
                "add e.g. triggers.en = [\"how much\"] so customers can reach it".to_owned(),
            );
        }
        let mut fields = HashSet::new();
        for field in &intent.fields {
            let near = quoted(&field.name);
            if !fields.insert(field.name.as_str()) {
                self.report(&near, format!("field {:?} appears twice in intent {name:?}", field.name), None);
            }
            if field.prompt.0.get(&flow.default_locale).is_none_or(|text| text.trim().is_empty()) {
                self.report(
                    &near,
                    format!(
                        "field {:?} has no prompt in the default locale {:?}",
                        field.name, flow.default_locale
                    ),
                    None,
                );
            }
            match field.kind {
                FieldKind::Choice if field.options.is_empty() => self.report(
                    &near,
                    format!("choice field {:?} has no options", field.name),
                    "add [[intents.fields.options]] tables with value and title".to_owned(),
                ),
                FieldKind::Pattern => match &field.pattern {
                    None => {
                        self.report(&near, format!("pattern field {:?} has no pattern", field.name), None)
                    }
                    Some(pattern) => {
                        if let Err(error) = regex::Regex::new(pattern) {
                            let message = format!(
                                "the pattern of field {:?} is not a valid regex: {error}",
                                field.name
                            );
                            self.report(pattern, message, None);
                        }
                    }
                },
                _ => {}
            }
            let dated = matches!(field.kind, FieldKind::Date | FieldKind::Datetime);
            if (field.direction.is_some() || field.allow_past) && !dated {
                self.report(
                    &near,
                    format!("field {:?} has a direction but is not a date", field.name),
                    "direction applies to date and datetime fields".to_owned(),
                );
            }
            if dated {
                self.date_examples(field);
            }
            if field.kind == FieldKind::Code {
                // Only what the business's own systems set proves a phone is
                // the customer's: a step's `sets`, a starting signal's fields.
                let known = |name: &str| {
                    intent.steps.iter().any(|step| step.sets.iter().any(|set| set == name))
                        || intent
                            .start_on
                            .iter()
                            .filter_map(|signal| flow.signal(signal))
                            .any(|signal| signal.fields.iter().any(|set| set == name))
                };
                match &field.send_to {
                    None => self.report(
                        &near,
                        format!("code field {:?} has no send_to", field.name),
                        "name the field holding the phone on record, e.g. send_to = \"phone_on_record\" (a step's `sets`)".to_owned(),
                    ),
                    Some(to) if !known(to) => self.report(
                        &quoted(to),
                        format!(
                            "code field {:?} sends to {to:?}, which no step of {name:?} sets: a phone the customer types proves nothing",
                            field.name
                        ),
                        "list it in the `sets` of the step that reads it from your records".to_owned(),
                    ),
                    Some(_) => {}
                }
            } else if field.send_to.is_some() || field.expires.is_some() {
                self.report(
                    &near,
                    format!("field {:?} has send_to or expires but is not a code", field.name),
                    "they apply to type = \"code\" fields".to_owned(),
                );
            }
            if !field.units.is_empty() && field.kind != FieldKind::Number {
                self.report(&near, format!("field {:?} has units but is not a number", field.name), None);
            }
            if field.options.iter().any(|option| option.days.is_some()) && field.kind != FieldKind::Choice {
                self.report(
                    &near,
                    format!("field {:?} has options with days but is not a choice", field.name),
                    None,
                );
            }
            if let (Some(min), Some(max)) = (field.min, field.max)
                && min > max
            {
                self.report(&near, format!("field {:?} has min {min} above max {max}", field.name), None);
            }
            if let Some(validator) = &field.validator {
                self.plugin(validator);
            }
            for step in &field.on_collect {
                self.plugin(&step.plugin);
            }
            if let Some(when) = &field.when {
                // Only fields asked before it can be known when it is its turn.
                let before: Vec<&FieldSpec> =
                    intent.fields.iter().take_while(|earlier| earlier.name != field.name).collect();
                self.condition(&field.name, when, &before, Some(intent));
            }
        }
        let mut steps = HashSet::new();
        for step in &intent.steps {
            if !steps.insert(step.name.as_str()) {
                self.report(
                    &quoted(&step.name),
                    format!("step {:?} appears twice in intent {name:?}", step.name),
                    None,
                );
            }
            self.plugin(&step.plugin);
            let every: Vec<&FieldSpec> = intent.fields.iter().collect();
            if let Some(when) = &step.when {
                self.condition(&step.name, when, &every, Some(intent));
            }
            if let Some(next) = &step.on_deny
                && flow.intent(next).is_none()
            {
                self.report(
                    &quoted(next),
                    format!(
                        "step {:?} goes on to intent {next:?} after a denial, which does not exist",
                        step.name
                    ),
                    format!("intents: {}", list(flow.intents.iter().map(|intent| intent.name.as_str()))),
                );
            }
            if step.on_failure == FailurePolicy::Default && step.default.is_empty() {
                self.report(
                    &quoted(&step.name),
                    format!("step {:?} falls back to a default but has no default text", step.name),
                    "add default.en = \"...\" to the step".to_owned(),
                );
            }
        }
        let known: BTreeSet<&str> = intent
            .fields
            .iter()
            .map(|field| field.name.as_str())
            .chain(intent.steps.iter().flat_map(|step| step.sets.iter().map(String::as_str)))
            .chain(intent.done.number.iter().map(|number| number.field.as_str()))
            .chain(
                intent
                    .start_on
                    .iter()
                    .filter_map(|name| flow.signal(name))
                    .flat_map(|signal| signal.fields.iter().map(String::as_str)),
            )
            .chain(BUILT_IN_PLACEHOLDERS.iter().copied())
            .collect();
        if let Some(number) = &intent.done.number
            && intent.field(&number.field).is_some()
        {
            self.report(
                &quoted(&number.field),
                format!(
                    "{name:?} numbers into {:?}, which is also a field the customer answers",
                    number.field
                ),
                "give the number a field of its own, e.g. field = \"rma\"".to_owned(),
            );
        }
        let escalations = intent.steps.iter().flat_map(|step| step.escalated.0.values());
        let mut reported = HashSet::new();
        for text in escalations {
            for placeholder in placeholders(text) {
                if placeholder != "reply_by"
                    && !known.contains(placeholder)
                    && reported.insert(placeholder.to_owned())
                {
                    self.report(
                        &format!("{{{placeholder}}}"),
                        format!("{name:?} mentions {{{placeholder}}} when it escalates, which is not one of its fields"),
                        format!("known here: reply_by, {}", list(known.iter().copied())),
                    );
                }
            }
        }
        let texts = intent
            .confirm
            .iter()
            .flat_map(|confirm| confirm.prompt.0.values())
            .chain(intent.fields.iter().flat_map(|field| field.prompt.0.values()))
            .chain(intent.done.reply.0.values())
            .chain(intent.done.variants.iter().flat_map(|variant| variant.reply.0.values()));
        let every: Vec<&FieldSpec> = intent.fields.iter().collect();
        for variant in &intent.done.variants {
            self.condition(name, &variant.when, &every, Some(intent));
        }
        let mut reported = HashSet::new();
        for text in texts {
            for placeholder in placeholders(text) {
                if !known.contains(placeholder) && reported.insert(placeholder.to_owned()) {
                    self.report(
                        &format!("{{{placeholder}}}"),
                        format!("{name:?} mentions {{{placeholder}}}, which is not one of its fields"),
                        format!(
                            "known here: {} (list fields a plugin sets in its step's `sets`)",
                            list(known.iter().copied())
                        ),
                    );
                }
            }
        }
        for timer in &intent.done.timers {
            self.timer(Some(intent), timer, &known);
        }
    }

    /// A timer needs exactly one way to compute its due time, an anchor that
    /// holds a date, and placeholders the conversation can fill.
    fn timer(&mut self, intent: Option<&Intent>, timer: &TimerSpec, known: &BTreeSet<&str>) {
        let near = quoted(&timer.kind);
        let kind = &timer.kind;
        let twice = (timer.after.is_some() && timer.minutes_after.is_some())
            || (timer.before.is_some() && timer.minutes_before.is_some());
        let shape_ok = !twice
            && matches!(
                (&timer.before_field, timer.lead(), &timer.after_field, timer.delay()),
                (Some(_), Some(_), None, None) | (None, None, _, Some(_))
            );
        if !shape_ok {
            self.report(
                &near,
                format!("timer {kind:?} needs before_field with before, or after (with after_field or without)"),
                "e.g. { kind = \"reminder-2h\", before_field = \"slot\", before = \"2h\" } or { kind = \"nudge\", after = \"4h\" }".to_owned(),
            );
        }
        if timer.business_hours == Some(true) && !timer.is_follow_up() {
            self.report(
                &near,
                format!("timer {kind:?} counts business hours but is relative to a field"),
                "business_hours counts open time from when a timer is set; to move a field-relative time out of the night, use next_opening = true".to_owned(),
            );
        }
        if let Some(field) = timer.anchor() {
            let is_date = field == "slot"
                || intent.is_some_and(|intent| {
                    intent
                        .field(field)
                        .is_some_and(|spec| matches!(spec.kind, FieldKind::Datetime | FieldKind::Date))
                        || intent.steps.iter().any(|step| step.sets.iter().any(|set| set == field))
                });
            if !is_date {
                self.report(
                    &quoted(field),
                    format!("timer {kind:?} is relative to {field:?}, which is not a date field here"),
                    None,
                );
            }
        } else if timer.options.contains(&TimerOption::Reschedule) {
            self.report(
                &near,
                format!("timer {kind:?} offers reschedule but is not relative to a field"),
                "rescheduling clears the field the timer is anchored to; add before_field or after_field"
                    .to_owned(),
            );
        }
        let every: Vec<&FieldSpec> = intent.map(|intent| intent.fields.iter().collect()).unwrap_or_default();
        for variant in &timer.variants {
            if intent.is_some() {
                self.condition(kind, &variant.when, &every, intent);
            }
        }
        for text in
            timer.say.0.values().chain(timer.variants.iter().flat_map(|variant| variant.say.0.values()))
        {
            for placeholder in placeholders(text) {
                if intent.is_some() && !known.contains(placeholder) {
                    self.report(
                        &format!("{{{placeholder}}}"),
                        format!("timer {kind:?} mentions {{{placeholder}}}, which is not one of the intent's fields"),
                        None,
                    );
                }
            }
        }
    }

    /// Answers are named once, said in the default locale, reachable by a
    /// phrase, and their buttons lead somewhere that exists.
    fn knowledge(&mut self, flow: &Flow) {
        let mut names = HashSet::new();
        for entry in &flow.knowledge {
            let near = quoted(&entry.name);
            if !names.insert(entry.name.as_str()) {
                self.report(&near, format!("answer {:?} is defined twice", entry.name), None);
            }
            if entry.triggers.values().all(|phrases| phrases.iter().all(|phrase| phrase.trim().is_empty())) {
                self.report(
                    &near,
                    format!("answer {:?} has no trigger phrases", entry.name),
                    "add e.g. triggers.en = [\"won't charge\"] so customers can reach it".to_owned(),
                );
            }
            if entry.answer.0.get(&flow.default_locale).is_none_or(|text| text.trim().is_empty()) {
                self.report(
                    &near,
                    format!(
                        "answer {:?} says nothing in the default locale {:?}",
                        entry.name, flow.default_locale
                    ),
                    None,
                );
            }
            for button in &entry.buttons {
                match (&button.intent, &button.answer) {
                    (Some(intent), None) => {
                        if !flow.intent(intent).is_some_and(|intent| intent.menu) {
                            self.report(
                                &quoted(intent),
                                format!("a button of answer {:?} starts {intent:?}, which is not an intent the menu offers", entry.name),
                                format!("intents: {}", list(flow.intents.iter().filter(|intent| intent.menu).map(|intent| intent.name.as_str()))),
                            );
                        }
                    }
                    (None, Some(answer)) => {
                        if flow.knowledge(answer).is_none() {
                            self.report(
                                &quoted(answer),
                                format!(
                                    "a button of answer {:?} gives answer {answer:?}, which does not exist",
                                    entry.name
                                ),
                                None,
                            );
                        }
                    }
                    _ => self.report(
                        &near,
                        format!("a button of answer {:?} needs exactly one of intent and answer", entry.name),
                        "e.g. { title.en = \"Check my order\", intent = \"order_status\" }".to_owned(),
                    ),
                }
            }
        }
    }

    /// No timer may set itself off again through the events timers record
    /// when they fire (`event`): A records what B is set `on`, B what A is
    /// set on, and the scheduler would fire them for ever. Reported once per
    /// loop, at its first timer.
    fn timer_loops(&mut self, flow: &Flow) {
        let sets_off = |timer: &TimerSpec| -> Vec<&TimerSpec> {
            let Some(event) = timer.event.as_deref() else { return Vec::new() };
            flow.timers.iter().filter(|next| next.on.as_deref() == Some(event)).collect()
        };
        let mut reported: BTreeSet<&str> = BTreeSet::new();
        for start in &flow.timers {
            // Depth-first along what each sets off, with the path so far.
            let mut stack: Vec<Vec<&TimerSpec>> = vec![vec![start]];
            while let Some(path) = stack.pop() {
                let last = path[path.len() - 1];
                for next in sets_off(last) {
                    if next.kind == start.kind {
                        if path.iter().all(|timer| !reported.contains(timer.kind.as_str())) {
                            reported.extend(path.iter().map(|timer| timer.kind.as_str()));
                            let chain: Vec<&str> = path.iter().map(|timer| timer.kind.as_str()).collect();
                            self.report(
                                &quoted(&start.kind),
                                format!(
                                    "timers {} set each other off through their events: it would set itself again and again",
                                    chain.join(" -> ")
                                ),
                                "end the chain: drop an `event`, or set the last timer on what the customer or a step does".to_owned(),
                            );
                        }
                    } else if path.len() < flow.timers.len()
                        && !path.iter().any(|timer| timer.kind == next.kind)
                    {
                        let mut longer = path.clone();
                        longer.push(next);
                        stack.push(longer);
                    }
                }
            }
        }
    }

    /// `on` and `cancel_on` must name events that happen in a conversation,
    /// and `on` none that firing or setting a timer records itself: a timer
    /// that re-arms on its own message, or sets on every timer set, loops.
    fn timer_events(&mut self, timer: &TimerSpec, events: &BTreeSet<&str>) {
        if let Some(on) = &timer.on
            && (on.starts_with("timer.") || on == "message.sent")
        {
            self.report(
                &quoted(on),
                format!("timer {:?} is set on {on:?}, which timers record themselves: it would set itself again and again", timer.kind),
                "set it on what the customer or a step does: quote.sent, slot.offered, lead.created, a signal".to_owned(),
            );
        }
        for event in timer.on.iter().chain(&timer.cancel_on) {
            if !events.contains(event.as_str()) {
                self.report(
                    &quoted(event),
                    format!(
                        "timer {:?} waits for event {event:?}, which no conversation of this flow records",
                        timer.kind
                    ),
                    format!(
                        "built-in events: {}; this flow's own: {}",
                        list(TURN_EVENTS.iter().copied()),
                        list(events.iter().copied().filter(|event| !TURN_EVENTS.contains(event)))
                    ),
                );
            }
        }
    }

    /// A condition may name only fields that can be known where it is
    /// checked, and compare a choice only with its options.
    fn condition(&mut self, whose: &str, when: &When, fields: &[&FieldSpec], intent: Option<&Intent>) {
        for (name, wanted) in &when.fields {
            let set_by_step = match intent {
                Some(intent) => {
                    intent.steps.iter().any(|step| step.sets.contains(name))
                        || intent.done.number.as_ref().is_some_and(|number| number.field == *name)
                }
                None => self.flow_sets.contains(name),
            };
            let Some(field) = fields.iter().find(|field| field.name == *name) else {
                if !set_by_step && !BUILT_IN_PLACEHOLDERS.contains(&name.as_str()) {
                    self.report(
                        &format!("{name} ="),
                        format!("the condition of {whose:?} tests field {name:?}, which is not known there"),
                        format!(
                            "fields known there: {}",
                            list(fields.iter().map(|field| field.name.as_str()))
                        ),
                    );
                }
                continue;
            };
            if field.kind == FieldKind::Choice {
                for value in wanted.compared_values() {
                    if !field.options.iter().any(|option| option.value.eq_ignore_ascii_case(value)) {
                        self.report(
                            &quoted(value),
                            format!("the condition of {whose:?} compares choice {name:?} with {value:?}, which is not one of its options"),
                            format!("options: {}", list(field.options.iter().map(|option| option.value.as_str()))),
                        );
                    }
                }
            }
        }
        for awaiting in when.awaiting.iter().flat_map(|awaiting| awaiting.compared_values()) {
            let known = ["nothing", "intent", "confirm", "resolved", "slot", "remedy"].contains(&awaiting)
                || fields.iter().any(|field| field.name == awaiting);
            if !known {
                self.report(
                    &quoted(awaiting),
                    format!("the condition of {whose:?} waits for {awaiting:?}, which is not asked there"),
                    "awaiting is a field's name, or confirm, slot, remedy, resolved, intent or nothing"
                        .to_owned(),
                );
            }
        }
    }

    /// The example a date prompt gives ("e.g. 25.12 or tomorrow") must be an
    /// answer its field takes: "tomorrow" is never a purchase date.
    fn date_examples(&mut self, field: &crate::flow::FieldSpec) {
        use crate::flow::Direction;
        use crate::understand::Day;
        for prompt in field.prompt.0.values() {
            let tokens = crate::understand::tokens::tokenize(prompt);
            let mut used = vec![false; tokens.len()];
            let Some(mention) = crate::understand::dates::find(&tokens, &mut used) else { continue };
            let wrong = match (mention.day, field.direction()) {
                (Some(Day::Offset { days }), Direction::Past) => days > 0,
                (Some(Day::Offset { days }), Direction::Future) => days < 0,
                _ => false,
            };
            if wrong {
                self.report(
                    prompt,
                    format!("the prompt of field {:?} gives an example its direction refuses", field.name),
                    "give an example on the field's side of today, or change its direction".to_owned(),
                );
            }
        }
    }

    fn plugin(&mut self, plugin: &str) {
        if !self.plugins.contains(plugin) {
            self.report(
                &quoted(plugin),
                format!("plugin {plugin:?} is not bound for this tenant"),
                format!("bound plugins: {}", list(self.plugins.iter().map(String::as_str))),
            );
        }
    }
}

/// The most events of one kind a customer's memory keeps.
const MAX_REMEMBERED: u16 = 100;

/// Every event a conversation of `flow` can record: the built-in ones and
/// the domain events the flow names.
fn flow_events(flow: &Flow) -> BTreeSet<&str> {
    let timers = flow.intents.iter().flat_map(|intent| &intent.done.timers).chain(&flow.timers);
    TURN_EVENTS
        .iter()
        .copied()
        .chain(flow.intents.iter().filter_map(|intent| intent.done.event.as_deref()))
        .chain(
            flow.intents
                .iter()
                .flat_map(|intent| &intent.done.variants)
                .filter_map(|variant| variant.event.as_deref()),
        )
        .chain(timers.filter_map(|timer| timer.event.as_deref()))
        .chain(flow.signals.iter().map(|signal| signal.name.as_str()))
        .chain(["approval.decided", "approval.escalated"])
        .chain(["answer.given", "answer.repeated", "answer.resolved", "answer.unresolved"])
        .collect()
}

/// Fields plugin steps set, in any intent.
fn flow_sets(flow: &Flow) -> BTreeSet<&str> {
    flow.intents
        .iter()
        .flat_map(|intent| &intent.steps)
        .flat_map(|step| step.sets.iter().map(String::as_str))
        .chain(
            flow.intents
                .iter()
                .filter_map(|intent| intent.done.number.as_ref().map(|number| number.field.as_str())),
        )
        .collect()
}

/// Placeholders every text may use besides field names: the contact's name,
/// and the fields the host sets from a quote, a chosen slot or a chosen remedy.
const BUILT_IN_PLACEHOLDERS: &[&str] = &["name", "total", "slot", "remedy"];

/// The `{name}` placeholders in a text.
pub fn placeholders(text: &str) -> impl Iterator<Item = &str> {
    text.split('{').skip(1).filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
}

fn quoted(value: &str) -> String {
    format!("\"{value}\"")
}

fn list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let items: Vec<&str> = items.collect();
    if items.is_empty() { "none".to_owned() } else { items.join(", ") }
}

fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |tail| tail.chars().count()) + 1;
    (line, column)
}

fn hint_for(message: &str) -> Option<String> {
    if message.contains("unknown field") {
        Some("check the spelling; `switchboard flow schema` prints every allowed key".to_owned())
    } else if message.contains("unknown variant") {
        Some("the allowed values are listed in the message".to_owned())
    } else if message.contains("missing field") {
        Some("this key is required here".to_owned())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BROKEN: &str = r#"version = "1"
default_locale = "en"
menu.en = "Hi"

[[intents]]
name = "quote"
title.en = "Price"
triggers.en = ["price"]

[[intents.fields]]
name = "size"
type = "choice"
prompt.en = "Which size?"

[[intents.steps]]
name = "price"
plugin = "pricng"

[intents.confirm]
prompt.en = "Book {sise}?"

[intents.done]
reply.en = "Done"
state = "booked"
"#;

    fn check(source: &str) -> Vec<String> {
        let plugins: BTreeSet<String> = ["pricing".to_owned()].into();
        match Flow::parse("flow.toml", source, &plugins) {
            Ok(_) => Vec::new(),
            Err(problems) => problems.to_string().lines().map(str::to_owned).collect(),
        }
    }

    #[test]
    fn a_date_prompts_example_must_fit_its_direction() {
        let source = r#"
version = "1"
default_locale = "en"
menu.en = "Hi"
[[intents]]
name = "refund"
title.en = "Refund"
triggers.en = ["refund"]
[[intents.fields]]
name = "bought"
type = "date"
direction = "past"
prompt.en = "When did you buy it? (e.g. tomorrow)"
[intents.done]
state = "resolved"
"#;
        let problems = check(source);
        assert!(
            problems.iter().any(|problem| problem.contains("example its direction refuses")),
            "{problems:?}"
        );
        assert!(check(&source.replace("tomorrow", "10.11")).is_empty());
    }

    #[test]
    fn consistency_problems_point_at_their_line_with_a_hint() {
        assert_eq!(
            check(BROKEN),
            [
                "flow.toml:11:8: error: choice field \"size\" has no options",
                "  hint: add [[intents.fields.options]] tables with value and title",
                "flow.toml:17:10: error: plugin \"pricng\" is not bound for this tenant",
                "  hint: bound plugins: pricing",
                "flow.toml:20:19: error: \"quote\" mentions {sise}, which is not one of its fields",
                "  hint: known here: name, remedy, size, slot, total (list fields a plugin sets in its step's `sets`)",
            ]
        );
    }

    #[test]
    fn syntax_and_shape_errors_carry_the_parsers_position() {
        let problems = check(&BROKEN.replace("type = \"choice\"", "type = \"colour\""));
        assert!(problems[0].starts_with("flow.toml:12:8: error: unknown variant `colour`"), "{problems:?}");
        let problems = check(&BROKEN.replace("prompt.en = \"Which size?\"", "promt.en = \"Which size?\""));
        assert!(problems[0].starts_with("flow.toml:13:1: error: unknown field `promt`"), "{problems:?}");
        assert_eq!(
            problems[1],
            "  hint: check the spelling; `switchboard flow schema` prints every allowed key"
        );
    }

    const FEATURES: &str = r#"version = "1"
default_locale = "en"
menu.en = "Hi"

[[intents]]
name = "refund"
title.en = "Refund"
triggers.en = ["refund"]

[[intents.fields]]
name = "condition"
type = "choice"
prompt.en = "Condition?"
options = [{ value = "opened", title.en = "Opened" }, { value = "defective", title.en = "Defective" }]

[[intents.fields]]
name = "defect"
type = "text"
prompt.en = "What is wrong?"
when.fields.condition = "defective"

[[intents.steps]]
name = "policy"
plugin = "pricing"
on_deny = "alternative"
escalated.en = "A colleague decides {reply_by}."

[intents.done]
reply.en = "Return {rma} is open."
state = "resolved"
event = "rma.created"

[intents.done.number]
field = "rma"
prefix = "R-"

[[intents]]
name = "alternative"
title.en = "Other options"
menu = false

[intents.done]
reply.en = "Ok"
state = "closed"

[[timers]]
kind = "nudge"
on = "policy.decided"
after = "4h"
cancel_on = ["rma.created"]
say.en = "Still there?"

[[timers.variants]]
when.awaiting = "remedy"
say.en = "Pick one?"

[[timers]]
kind = "escalate"
after = "2h"
business_hours = true

[[remember]]
event = "rma.created"
as = "claims"
keep = ["condition", "rma"]
"#;

    #[test]
    fn every_flow_feature_of_scenarios_passes_when_used_right() {
        assert_eq!(check(FEATURES), Vec::<String>::new());
    }

    #[test]
    fn conditions_name_only_fields_known_where_they_are_checked_with_their_options() {
        let later = FEATURES
            .replace("when.fields.condition = \"defective\"", "when.fields.defect = { known = true }");
        assert_eq!(
            check(&later)[0],
            "flow.toml:20:13: error: the condition of \"defect\" tests field \"defect\", which is not known there"
        );
        let no_option =
            FEATURES.replace("when.fields.condition = \"defective\"", "when.fields.condition = \"broken\"");
        assert_eq!(
            check(&no_option)[..2],
            [
                "flow.toml:20:25: error: the condition of \"defect\" compares choice \"condition\" with \"broken\", which is not one of its options",
                "  hint: options: opened, defective",
            ]
        );
    }

    #[test]
    fn timers_events_and_next_steps_must_exist() {
        let problems = check(&FEATURES.replace("on = \"policy.decided\"", "on = \"policy.decidd\""));
        assert!(
            problems[0]
                .starts_with("flow.toml:48:6: error: timer \"nudge\" waits for event \"policy.decidd\""),
            "{problems:?}"
        );
        let problems = check(&FEATURES.replace("on_deny = \"alternative\"", "on_deny = \"alternatve\""));
        assert!(
            problems[0]
                .starts_with("flow.toml:25:11: error: step \"policy\" goes on to intent \"alternatve\""),
            "{problems:?}"
        );
        let problems = check(&FEATURES.replace("on = \"policy.decided\"", "on = \"timer.fired\""));
        assert!(
            problems.iter().any(|problem| problem.contains("would set itself again and again")),
            "{problems:?}"
        );
        // Two that set each other off through their events loop as surely.
        let looping = FEATURES.replace("on = \"policy.decided\"", "on = \"nudge.b\"\nevent = \"nudge.a\"")
            + "\n[[timers]]\nkind = \"second\"\non = \"nudge.a\"\nevent = \"nudge.b\"\nafter = \"0m\"\n";
        let problems = check(&looping);
        assert!(
            problems.iter().any(|problem| problem.contains("timers nudge -> second set each other off")),
            "{problems:?}"
        );
        let problems = check(&FEATURES.replace("event = \"rma.created\"\nas", "event = \"rma.made\"\nas"));
        assert!(problems[0].contains("[[remember]] keeps \"rma.made\""), "{problems:?}");
    }

    #[test]
    fn durations_are_read_with_their_position_and_business_time_only_counts_from_now() {
        let problems = check(&FEATURES.replace("after = \"4h\"", "after = \"soon\""));
        assert!(problems[0].starts_with("flow.toml:49:9: error: \"soon\" is not a duration"), "{problems:?}");
        let anchored = FEATURES.replace(
            "kind = \"escalate\"\nafter = \"2h\"",
            "kind = \"escalate\"\nafter_field = \"slot\"\nafter = \"2h\"",
        );
        assert!(
            check(&anchored)
                .iter()
                .any(|problem| problem.contains("counts business hours but is relative to a field"))
        );
    }

    #[test]
    fn a_number_needs_a_field_of_its_own() {
        let problems = check(&FEATURES.replace("field = \"rma\"", "field = \"defect\""));
        assert!(problems.iter().any(|problem| problem.contains("numbers into \"defect\"")), "{problems:?}");
    }

    const REACHING: &str = r#"version = "1"
default_locale = "en"
menu.en = "Hi"

[[signals]]
name = "payment.failed"
fields = ["plan"]

[[intents]]
name = "order"
title.en = "Order"
triggers.en = ["order"]
start_on = ["payment.failed"]

[[intents.fields]]
name = "verified"
type = "code"
ask = false
send_to = "phone_on_record"
prompt.en = "Type the code we sent to {plan}'s phone."

[[intents.steps]]
name = "lookup"
plugin = "pricing"
sets = ["phone_on_record"]

[intents.done]
state = "resolved"

[[knowledge]]
name = "charging"
triggers.en = ["won't charge"]
answer.en = "Try another cable."
buttons = [{ title.en = "My order", intent = "order" }]
"#;

    #[test]
    fn signals_codes_and_answers_are_checked_where_they_point() {
        assert_eq!(check(REACHING), Vec::<String>::new());
        let problems =
            check(&REACHING.replace("start_on = [\"payment.failed\"]", "start_on = [\"payment.faild\"]"));
        assert!(
            problems.iter().any(|problem| problem
                .starts_with("flow.toml:13:13: error: intent \"order\" starts on signal \"payment.faild\"")),
            "{problems:?}"
        );
        let problems =
            check(&REACHING.replace("name = \"payment.failed\"", "name = \"conversation.closed\""));
        assert!(
            problems.iter().any(|problem| problem.contains("must be a name of the business's own")),
            "{problems:?}"
        );
        let problems = check(&REACHING.replace("send_to = \"phone_on_record\"", "send_to = \"phone\""));
        assert!(problems[0].contains("sends to \"phone\", which no step of \"order\" sets"), "{problems:?}");
        let problems = check(&REACHING.replace("intent = \"order\" }", "answer = \"charge\" }"));
        assert!(problems[0].contains("gives answer \"charge\", which does not exist"), "{problems:?}");
        let problems = check(&REACHING.replace("{plan}", "{plann}"));
        assert!(
            problems[0].contains("mentions {plann}"),
            "a prompt's placeholders are checked: {problems:?}"
        );
    }
}
