//! Turning flow text into a [`Flow`] that is consistent, or saying precisely
//! why not. Syntax and shape errors come from the TOML parser with their span;
//! for consistency errors the offending value is located in the source, so
//! every problem points at a line and column.

use std::collections::{BTreeSet, HashSet};
use std::fmt;

use super::{FailurePolicy, FieldKind, Flow, Intent, TimerOption, TimerSpec};

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
        let mut checker = Checker { source, plugins, problems: Vec::new() };
        checker.flow(&flow);
        if checker.problems.is_empty() { Ok(flow) } else { Err(problems(checker.problems)) }
    }
}

struct Checker<'a> {
    source: &'a str,
    plugins: &'a BTreeSet<String>,
    problems: Vec<Problem>,
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
        for timer in &flow.timers {
            self.timer(None, timer, &BTreeSet::new());
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
        for rule in &flow.routing {
            check_queue(self, &rule.queue);
            if let Some(intent) = &rule.when.intent
                && flow.intent(intent).is_none()
            {
                self.report(&quoted(intent), format!("routing names unknown intent {intent:?}"), None);
            }
        }
    }

    fn intent(&mut self, flow: &Flow, intent: &Intent) {
        let name = &intent.name;
        if intent.triggers.values().all(|phrases| phrases.iter().all(|phrase| phrase.trim().is_empty())) {
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
            .chain(BUILT_IN_PLACEHOLDERS.iter().copied())
            .collect();
        let texts = intent
            .confirm
            .iter()
            .flat_map(|confirm| confirm.prompt.0.values())
            .chain(intent.done.reply.0.values());
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
        let shape_ok = matches!(
            (&timer.before_field, timer.minutes_before, &timer.after_field, timer.minutes_after),
            (Some(_), Some(_), None, None) | (None, None, _, Some(_))
        );
        if !shape_ok {
            self.report(
                &near,
                format!("timer {kind:?} needs before_field with minutes_before, or minutes_after (with after_field or without)"),
                "e.g. { kind = \"reminder-2h\", before_field = \"slot\", minutes_before = 120 }".to_owned(),
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
        for text in timer.say.0.values() {
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
}
