//! The understanding pass: one look at each inbound message, before the state
//! machine acts on it.
//!
//! [`understand`] is a pure function of the flow, the clock and the text. It
//! finds the candidate intents with a confidence, and every entity the
//! message carries: dates and times (relative and absolute), amounts of money,
//! numbers with their unit or noun, phones, emails, order numbers by the
//! tenant's patterns, choices by title, synonym or stem, yes/no and negation.
//! It does not decide which field a value belongs to: [`Understanding::value_for`]
//! answers that for one field, so the conversation can fill every field the
//! message carries, not only the one it asked for.
//!
//! - `tokens.rs`: splitting a message into words, numbers and dates.
//! - `dates.rs`: dates, times and parts of the day in RU, HY and EN.
//! - `numbers.rs`: money and counts.
//! - `merge.rs`: a tenant's understanding plugin's answer, merged by confidence.

use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::contract::{Money, Value};
use crate::flow::{ChoiceOption, Direction, FieldKind, FieldSpec, Flow};
use crate::text::{
    contains_phrase, guess_locale, mentions_any, phrase_at, same_word, transliterations, words,
};
use crate::validate::{self, yes_no};

pub mod dates;
pub mod eval;
pub mod merge;
pub mod numbers;
pub mod tokens;

pub use dates::{DateMention, Day, PartOfDay};
pub use numbers::Quantity;

/// What one message says, as far as the host can tell without a model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Understanding {
    /// By the script it is written in; `None` for digits, ids and one-word Latin.
    pub locale: Option<String>,
    /// The flow's intents whose triggers match, most confident first.
    pub intents: Vec<Candidate>,
    /// The flow's `[[knowledge]]` answers whose triggers match, the same way
    /// (`Candidate::intent` names the answer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<Candidate>,
    /// What the message asks the host itself to do, whatever the intent.
    pub signals: Signals,
    pub date: Option<DateMention>,
    pub quantities: Vec<Quantity>,
    pub phones: Vec<String>,
    pub emails: Vec<String>,
    /// Text matching a pattern field of the flow (order numbers).
    pub patterns: Vec<PatternMatch>,
    /// Options of the flow's choice fields that the message names.
    pub choices: Vec<ChoiceMatch>,
    pub yes_no: Option<bool>,
    /// "не", "нет", "no", "not", "ոչ", "չէ": a correction or a refusal.
    pub negated: bool,
    /// Field values from the tenant's understanding plugin (`merge.rs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guesses: Vec<merge::Guess>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub intent: String,
    /// 0 to 1.
    pub confidence: f32,
}

/// Requests that stand above the flow's intents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signals {
    /// "Talk to a person" in the flow's words.
    pub human: bool,
    /// A negative signal of the flow (a complaint, "terrible").
    pub negative: bool,
    /// "Not relevant", "stop".
    pub opt_out: bool,
    /// "Перенести запись", "reschedule".
    pub reschedule: bool,
    /// "Отменить запись", "cancel my appointment".
    pub cancel: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatternMatch {
    pub pattern: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChoiceMatch {
    pub intent: String,
    pub field: String,
    pub value: String,
    /// Matched only by a word that also means yes or no ("нет" for "nothing
    /// special"): taken only when that field is the question.
    pub yes_no_word: bool,
    /// The word it starts at: of two options named, a correction ("не
    /// стрижка, а маникюр") means the later one.
    pub at: usize,
}

/// The time and zone a message is understood in.
#[derive(Debug, Clone, Copy)]
pub struct Clock<'a> {
    pub calendar: &'a Calendar,
    pub now: i64,
}

impl Clock<'_> {
    pub fn today(&self) -> jiff::civil::Date {
        self.calendar.local(self.now).date()
    }
}

/// Words that ask to move an existing booking, in three languages.
pub const RESCHEDULE: &[&str] = &[
    "reschedule",
    "move my appointment",
    "move my booking",
    "change the time",
    "another time",
    "перенести",
    "перенос",
    "перезаписаться",
    "поменять время",
    "другое время",
    "տեղափոխել",
    "փոխել ժամը",
    "այլ ժամ",
];

/// Words that call off a booking or the request in progress.
pub const CANCEL: &[&str] = &[
    "cancel",
    "отменить",
    "отмените",
    "отменяю",
    "не смогу прийти",
    "не приду",
    "չեղարկել",
    "չեղարկեք",
    "չեմ գա",
];

const NEGATION: &[&str] = &["не", "нет", "no", "not", "don't", "dont", "ոչ", "չէ", "չե", "չեմ", "ne", "net"];

/// The one understanding pass over a message.
pub fn understand(flow: &Flow, text: &str) -> Understanding {
    let said = words(text);
    let tokens = tokens::tokenize(text);
    let mut used = vec![false; tokens.len()];
    let emails = take(&tokens, &mut used, |token| validate::email(&token.text).ok());
    let phones = find_phones(&tokens, &mut used);
    let patterns = find_patterns(flow, text, &tokens, &mut used);
    let date = dates::find(&tokens, &mut used);
    let quantities = numbers::find(&tokens, &mut used);
    // Russian and Armenian typed in Latin letters match in their own script too.
    let [cyrillic, armenian] = transliterations(&said);
    let readings: Vec<&[String]> =
        [said.as_slice(), &cyrillic, &armenian].into_iter().filter(|reading| !reading.is_empty()).collect();
    let any = |check: &dyn Fn(&[String]) -> bool| readings.iter().any(|reading| check(reading));
    let intents = matches(flow.intents.iter().map(|intent| (&intent.name, &intent.triggers)), &readings);
    let answers = matches(flow.knowledge.iter().map(|entry| (&entry.name, &entry.triggers)), &readings);
    // "Հետ զանգեք" is the callback intent, though "զանգեք" alone asks for a person.
    let named_intent = intents.first().is_some_and(|candidate| candidate.confidence >= 0.75);
    let books = flow.intents.iter().any(|intent| intent.done.state == crate::flow::Terminal::Booked);
    let signals = Signals {
        human: !named_intent && any(&|reading| mentions_any(reading, &flow.handoff.phrases)),
        negative: mentions_any(&said, &flow.handoff.negative),
        opt_out: mentions_any(&said, &flow.opt_out),
        reschedule: books && !owns(flow, RESCHEDULE) && any(&|reading| any_phrase(reading, RESCHEDULE)),
        cancel: !owns(flow, CANCEL) && any(&|reading| any_phrase(reading, CANCEL)),
    };
    let mut choices = Vec::new();
    for reading in &readings {
        for found in self::choices(flow, reading) {
            if !choices
                .iter()
                .any(|known: &ChoiceMatch| known.field == found.field && known.value == found.value)
            {
                choices.push(found);
            }
        }
    }
    Understanding {
        locale: guess_locale(text).map(str::to_owned),
        intents,
        answers,
        signals,
        date,
        quantities,
        phones,
        emails,
        patterns,
        choices,
        yes_no: yes_no(text),
        negated: said.iter().any(|word| NEGATION.contains(&word.as_str())),
        guesses: Vec::new(),
    }
}

/// A flow with its own intent for these words (a subscription's "cancel")
/// decides what they mean; the host's built-in handling stands aside.
fn owns(flow: &Flow, phrases: &[&str]) -> bool {
    flow.intents
        .iter()
        .flat_map(|intent| intent.triggers.values().flatten())
        .any(|trigger| any_phrase(&words(trigger), phrases))
}

fn any_phrase(said: &[String], phrases: &[&str]) -> bool {
    phrases.iter().any(|phrase| contains_phrase(said, &words(phrase)))
}

fn take(
    tokens: &[tokens::Token],
    used: &mut [bool],
    mut read: impl FnMut(&tokens::Token) -> Option<String>,
) -> Vec<String> {
    let mut found = Vec::new();
    for (index, token) in tokens.iter().enumerate() {
        if !used[index]
            && let Some(value) = read(token)
        {
            used[index] = true;
            found.push(value);
        }
    }
    found
}

/// `+374 91 123456`, `091 12 34 56`, `+7 (912) 345-67-89`: a `+` or a leading
/// 0, then digit groups adding up to 8-15 digits. Kept as written; the field
/// normalises it with its country code.
fn find_phones(tokens: &[tokens::Token], used: &mut [bool]) -> Vec<String> {
    let digits_of = |text: &str| -> Option<String> {
        let stripped = text.strip_prefix('+').unwrap_or(text);
        let digits: String = stripped.chars().filter(char::is_ascii_digit).collect();
        let plain = stripped.chars().all(|c| c.is_ascii_digit() || c == '-' || c == '.');
        (plain && !digits.is_empty()).then_some(digits)
    };
    let mut found = Vec::new();
    let mut index = 0;
    while index < tokens.len() {
        let token = &tokens[index];
        let plus = token.text.starts_with('+');
        let (true, Some(mut digits)) =
            (!used[index] && (plus || token.text.starts_with('0')), digits_of(&token.text))
        else {
            index += 1;
            continue;
        };
        let mut end = index + 1;
        while end < tokens.len() && !used[end] && !tokens[end].text.starts_with('+') {
            match digits_of(&tokens[end].text) {
                Some(more) if digits.len() + more.len() <= 15 => digits.push_str(&more),
                _ => break,
            }
            end += 1;
        }
        if (8..=15).contains(&digits.len()) {
            used[index..end].iter_mut().for_each(|flag| *flag = true);
            found.push(if plus { format!("+{digits}") } else { digits });
            index = end;
        } else {
            index += 1;
        }
    }
    found
}

/// Every pattern field of the flow, searched anywhere in the message.
fn find_patterns(flow: &Flow, text: &str, tokens: &[tokens::Token], used: &mut [bool]) -> Vec<PatternMatch> {
    let mut patterns: Vec<&str> = flow
        .intents
        .iter()
        .flat_map(|intent| &intent.fields)
        .filter(|field| field.kind == FieldKind::Pattern)
        .filter_map(|field| field.pattern.as_deref())
        .collect();
    patterns.sort_unstable();
    patterns.dedup();
    let mut found = Vec::new();
    for pattern in patterns {
        let Ok(regex) = regex::Regex::new(&format!(r"(?i)(?:^|[^\w-])#?({pattern})(?:$|[^\w-])")) else {
            continue;
        };
        for captures in regex.captures_iter(text) {
            let Some(hit) = captures.get(1) else { continue };
            let covered: Vec<usize> = (0..tokens.len())
                .filter(|&index| tokens[index].start < hit.end() && hit.start() < tokens[index].end)
                .collect();
            if covered.iter().any(|&index| used[index]) {
                continue;
            }
            covered.iter().for_each(|&index| used[index] = true);
            found.push(PatternMatch { pattern: pattern.to_owned(), value: hit.as_str().to_owned() });
        }
    }
    found
}

/// Intents by their trigger phrases: a longer matching phrase is surer.
/// What trigger phrases a message says, by the longest phrase matched.
fn matches<'a>(
    triggered: impl Iterator<Item = (&'a String, &'a crate::flow::Phrases)>,
    readings: &[&[String]],
) -> Vec<Candidate> {
    let mut candidates: Vec<Candidate> = triggered
        .filter_map(|(name, triggers)| {
            let best = triggers
                .values()
                .flatten()
                .map(|phrase| words(phrase))
                .filter(|phrase| readings.iter().any(|said| contains_phrase(said, phrase)))
                .map(|phrase| phrase.len())
                .max()?;
            // One word: 0.6, two: 0.75, three or more: 0.9.
            let confidence = (0.45 + 0.15 * best as f32).min(0.9);
            Some(Candidate { intent: name.clone(), confidence })
        })
        .collect();
    candidates.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    candidates
}

fn choices(flow: &Flow, said: &[String]) -> Vec<ChoiceMatch> {
    let mut found = Vec::new();
    for intent in &flow.intents {
        for field in intent.fields.iter().filter(|field| field.kind == FieldKind::Choice) {
            for option in &field.options {
                if let Some((at, yes_no_word)) = names_option(option, said) {
                    found.push(ChoiceMatch {
                        intent: intent.name.clone(),
                        field: field.name.clone(),
                        value: option.value.clone(),
                        yes_no_word,
                        at,
                    });
                }
            }
        }
    }
    found
}

/// Where the message names `option`, and whether only by a yes/no word.
fn names_option(option: &ChoiceOption, said: &[String]) -> Option<(usize, bool)> {
    let phrases = std::iter::once(option.value.as_str())
        .chain(option.title.0.values().map(String::as_str))
        .chain(option.synonyms.iter().map(String::as_str));
    let mut found: Option<(usize, bool)> = None;
    for phrase in phrases {
        let phrase = words(phrase);
        // "не срочно", "not urgent": the option named is the one not meant.
        let negated_before = |at: usize| at > 0 && NEGATION.contains(&said[at - 1].as_str());
        if let Some(at) = phrase_at(said, &phrase).filter(|&at| !negated_before(at)) {
            let yes_no_word = phrase.len() == 1 && yes_no(&phrase[0]).is_some();
            found = Some(match found {
                None => (at, yes_no_word),
                Some((earlier, only_yes_no)) => (earlier.min(at), only_yes_no && yes_no_word),
            });
        }
    }
    found
}

impl Understanding {
    /// The most confident intent, if one stands out.
    pub fn intent(&self) -> Option<&Candidate> {
        let first = self.intents.first()?;
        let tied = self.intents.get(1).is_some_and(|second| second.confidence >= first.confidence);
        (!tied).then_some(first)
    }

    /// Whether anything in the message could fill a field.
    pub fn carries_values(&self) -> bool {
        self.date.is_some()
            || !self.quantities.is_empty()
            || !self.phones.is_empty()
            || !self.emails.is_empty()
            || !self.patterns.is_empty()
            || self.choices.iter().any(|choice| !choice.yes_no_word)
            || !self.guesses.is_empty()
    }

    /// The value this message gives for `field` of `intent` without being
    /// asked for it: only what the message says unmistakably (a date for a
    /// date field, money with its currency, a number with the field's unit,
    /// an option by name). Text and yes/no are taken only as answers, unless
    /// the tenant's understanding plugin found them (see `merge.rs`).
    pub fn value_for(&self, intent: &str, field: &FieldSpec, clock: Clock<'_>) -> Option<Value> {
        // A one-time code comes only as the answer to its question.
        if field.kind == FieldKind::Code {
            return None;
        }
        let built_in = self.built_in_value(intent, field, clock);
        if self.guesses.is_empty() {
            return built_in;
        }
        self.surer(field, built_in, clock)
    }

    fn built_in_value(&self, intent: &str, field: &FieldSpec, clock: Clock<'_>) -> Option<Value> {
        match field.kind {
            FieldKind::Date => {
                let mention = self.date.filter(|mention| mention.day.is_some())?;
                date_value(field, &mention, clock).ok()
            }
            FieldKind::Datetime => {
                let mention = self.date.filter(|mention| mention.day.is_some() && mention.time.is_some())?;
                date_value(field, &mention, clock).ok()
            }
            FieldKind::Money => {
                let quantity = self.quantities.iter().find(|quantity| quantity.is_money())?;
                money_value(field, quantity).ok()
            }
            FieldKind::Number => {
                let quantity = self.quantities.iter().find(|quantity| {
                    !quantity.is_money()
                        && quantity
                            .word
                            .as_deref()
                            .is_some_and(|word| field.units.iter().any(|unit| unit_matches(word, unit)))
                })?;
                validate::in_range(field, quantity.value).ok().map(Value::Number)
            }
            FieldKind::Quantity => {
                let quantity = self.quantities.iter().find(|quantity| {
                    !quantity.is_money() && quantity.word.as_deref().is_some_and(|word| !is_unit(word))
                })?;
                Some(Value::Text(quantity_text(quantity)))
            }
            FieldKind::Phone => self.phones.first().and_then(|phone| {
                validate::phone(phone, field.country_code.as_deref()).ok().map(Value::Text)
            }),
            FieldKind::Email => self.emails.first().cloned().map(Value::Text),
            FieldKind::Pattern => {
                let pattern = field.pattern.as_deref()?;
                let hit = self.patterns.iter().find(|hit| hit.pattern == pattern)?;
                Some(Value::Text(hit.value.clone()))
            }
            FieldKind::Choice => {
                let named = self.choices.iter().filter(|choice| {
                    choice.intent == intent && choice.field == field.name && !choice.yes_no_word
                });
                let by_name = if self.negated {
                    named.max_by_key(|choice| choice.at)
                } else {
                    named.min_by_key(|choice| choice.at)
                };
                match by_name {
                    Some(choice) => Some(Value::Text(choice.value.clone())),
                    None => self.choice_by_date(field, clock).map(Value::Text),
                }
            }
            FieldKind::Text | FieldKind::Boolean | FieldKind::Code => None,
        }
    }

    /// A choice whose options stand for how soon ("today", "this week"),
    /// picked by the date the message names.
    pub fn choice_by_date(&self, field: &FieldSpec, clock: Clock<'_>) -> Option<String> {
        let mention = self.date.filter(|mention| mention.day.is_some())?;
        let today = clock.today();
        let date = mention.date(today, Direction::Future)?;
        let ahead = i64::from((date - today).get_days());
        field
            .options
            .iter()
            .find(|option| option.days.is_some_and(|days| days.contains(ahead)))
            .map(|option| option.value.clone())
    }
}

fn unit_matches(word: &str, unit: &str) -> bool {
    let unit = unit.to_lowercase();
    word == unit || same_word(word, &unit)
}

/// Units of measure, which a count of things is not: `12 км` is a distance.
fn is_unit(word: &str) -> bool {
    const UNITS: &[&str] = &[
        "км",
        "km",
        "կմ",
        "м",
        "m",
        "кг",
        "kg",
        "կգ",
        "мин",
        "min",
        "час",
        "часа",
        "часов",
        "h",
        "hours",
        "дней",
        "дня",
        "день",
        "days",
        "day",
        "օր",
        "%",
        "этаж",
        "этажа",
        "floor",
    ];
    UNITS.contains(&word) || word.starts_with("километр") || word.starts_with("kilomet")
}

fn quantity_text(quantity: &Quantity) -> String {
    let number = if quantity.value.fract() == 0.0 {
        format!("{:.0}", quantity.value)
    } else {
        quantity.value.to_string()
    };
    match &quantity.word {
        Some(word) => format!("{number} {word}"),
        None => number,
    }
}

/// A date mention as a field's value, refused when it lies on the wrong side of today.
pub fn date_value(
    field: &FieldSpec,
    mention: &DateMention,
    clock: Clock<'_>,
) -> Result<Value, validate::Invalid> {
    let direction = field.direction();
    let today = clock.today();
    let date = mention.date(today, direction).ok_or(validate::Invalid::Date)?;
    let time = match field.kind {
        FieldKind::Datetime => Some(mention.time.ok_or(validate::Invalid::Time)?),
        _ => None,
    };
    let at = clock
        .calendar
        .timestamp(date, time.unwrap_or(jiff::civil::Time::midnight()))
        .ok_or(validate::Invalid::Date)?;
    match direction {
        Direction::Future if time.is_some() && at < clock.now => Err(validate::Invalid::Past),
        Direction::Future if date < today => Err(validate::Invalid::Past),
        Direction::Past if date > today => Err(validate::Invalid::Future),
        _ => Ok(Value::Datetime(at)),
    }
}

/// A number as a money field's value, in the currency named or the field's.
pub fn money_value(field: &FieldSpec, quantity: &Quantity) -> Result<Value, validate::Invalid> {
    let number = validate::in_range(field, quantity.value)?;
    let currency = quantity.currency.clone().or(field.currency.clone()).unwrap_or_else(|| "USD".to_owned());
    Ok(Value::Money(Money::new((number * 100.0).round() as i64, currency)))
}

#[cfg(test)]
mod tests;
