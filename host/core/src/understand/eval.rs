//! Scoring the understanding pass against a corpus of real-style messages,
//! each with the intent and field values a person would read in it
//! (`tests/nlu/*.toml`, `switchboard nlu eval`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Clock, understand};
use crate::calendar::Calendar;
use crate::contract::Value;
use crate::flow::{FieldKind, Flow};
use crate::validate::validate;

/// One corpus file: a tenant, a clock, and the messages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Corpus {
    /// The tenant directory, relative to the corpus file.
    pub tenant: String,
    /// RFC 3339: relative dates resolve against it.
    pub now: String,
    #[serde(rename = "case")]
    pub cases: Vec<Case>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub text: String,
    pub lang: String,
    /// A flow intent, or `reschedule`, `cancel`, `human`, `none`.
    pub intent: String,
    /// The field the bot had just asked for.
    #[serde(default)]
    pub asked: Option<String>,
    /// Expected values, written the way [`canonical`] writes them.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Whose fields these are when `intent` is not a flow intent.
    #[serde(default)]
    pub in_intent: Option<String>,
}

/// Hits out of a total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub hits: u32,
    pub total: u32,
}

impl Tally {
    fn add(&mut self, hit: bool) {
        self.total += 1;
        self.hits += u32::from(hit);
    }

    pub fn percent(&self) -> f64 {
        if self.total == 0 { 100.0 } else { f64::from(self.hits) * 100.0 / f64::from(self.total) }
    }

    pub fn merge(&mut self, other: Tally) {
        self.hits += other.hits;
        self.total += other.total;
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub intents: Tally,
    pub entities: Tally,
    pub intents_by_lang: BTreeMap<String, Tally>,
    pub entities_by_lang: BTreeMap<String, Tally>,
    pub entities_by_kind: BTreeMap<String, Tally>,
    pub misses: Vec<Miss>,
}

impl Report {
    pub fn merge(&mut self, other: Report) {
        self.intents.merge(other.intents);
        self.entities.merge(other.entities);
        for (from, into) in [
            (other.intents_by_lang, &mut self.intents_by_lang),
            (other.entities_by_lang, &mut self.entities_by_lang),
            (other.entities_by_kind, &mut self.entities_by_kind),
        ] {
            for (key, tally) in from {
                into.entry(key).or_default().merge(tally);
            }
        }
        self.misses.extend(other.misses);
    }
}

/// Something the pass got wrong, for the list under the figures.
#[derive(Debug, Clone, Serialize)]
pub struct Miss {
    pub text: String,
    /// `intent` or the field's name.
    pub what: String,
    pub expected: String,
    pub got: String,
}

/// A value as the corpus writes it: dates as `YYYY-MM-DD` in the tenant's
/// zone, money as `150000 AMD`, numbers without trailing zeros.
pub fn canonical(value: &Value, calendar: &Calendar) -> String {
    match value {
        Value::Text(text) => text.clone(),
        Value::Number(number) => trim(*number),
        Value::Money(money) => format!("{} {}", trim(money.amount_minor as f64 / 100.0), money.currency),
        Value::Datetime(at) => {
            let local = calendar.local(*at);
            if local.hour() == 0 && local.minute() == 0 {
                local.date().to_string()
            } else {
                local.strftime("%Y-%m-%dT%H:%M").to_string()
            }
        }
        Value::Boolean(flag) => flag.to_string(),
        Value::List(_) => serde_json::to_string(value).unwrap_or_default(),
    }
}

fn trim(number: f64) -> String {
    if number.fract() == 0.0 { format!("{number:.0}") } else { number.to_string() }
}

fn kind_name(kind: FieldKind) -> String {
    serde_json::to_value(kind).ok().and_then(|value| value.as_str().map(str::to_owned)).unwrap_or_default()
}

/// Score every case of a corpus against `flow`.
pub fn evaluate(flow: &Flow, calendar: &Calendar, now: i64, cases: &[Case]) -> Report {
    let clock = Clock { calendar, now };
    let mut report = Report::default();
    for case in cases {
        let understanding = understand(flow, &case.text);
        let signals = understanding.signals;
        let predicted = if signals.reschedule {
            "reschedule".to_owned()
        } else if signals.cancel {
            "cancel".to_owned()
        } else if signals.human {
            "human".to_owned()
        } else if case.asked.is_some() {
            // An answer: whatever intent words it has, the bot is in a question.
            understanding
                .intent()
                .filter(|candidate| candidate.confidence >= 0.75)
                .map_or_else(|| "none".to_owned(), |candidate| candidate.intent.clone())
        } else {
            understanding.intent().map_or_else(|| "none".to_owned(), |candidate| candidate.intent.clone())
        };
        let intent_hit = predicted == case.intent;
        report.intents.add(intent_hit);
        report.intents_by_lang.entry(case.lang.clone()).or_default().add(intent_hit);
        if !intent_hit {
            report.misses.push(Miss {
                text: case.text.clone(),
                what: "intent".to_owned(),
                expected: case.intent.clone(),
                got: predicted,
            });
        }
        let owner = case.in_intent.as_deref().unwrap_or(&case.intent);
        let Some(intent) = flow.intent(owner) else { continue };
        for field in &intent.fields {
            let expected = case.fields.get(&field.name);
            let got = if case.asked.as_deref() == Some(field.name.as_str()) {
                validate(field, &case.text, calendar, now).ok()
            } else {
                understanding.value_for(&intent.name, field, clock)
            };
            let got = got.map(|value| canonical(&value, calendar));
            if expected.is_none() && got.is_none() {
                continue;
            }
            let hit = expected == got.as_ref();
            report.entities.add(hit);
            report.entities_by_lang.entry(case.lang.clone()).or_default().add(hit);
            report.entities_by_kind.entry(kind_name(field.kind)).or_default().add(hit);
            if !hit {
                report.misses.push(Miss {
                    text: case.text.clone(),
                    what: field.name.clone(),
                    expected: expected.cloned().unwrap_or_else(|| "—".to_owned()),
                    got: got.unwrap_or_else(|| "—".to_owned()),
                });
            }
        }
        for name in case.fields.keys().filter(|name| intent.field(name).is_none()) {
            report.entities.add(false);
            report.misses.push(Miss {
                text: case.text.clone(),
                what: name.clone(),
                expected: format!("{name} (not a field of {owner})"),
                got: "—".to_owned(),
            });
        }
    }
    report
}
