//! A tenant's understanding plugin, merged with the built-in pass.
//!
//! The plugin (`understanding.classify`, WIT 0.2.0) answers intents and
//! field values, each with a confidence. The built-in pass is rule-based and
//! precise where it finds something at all, so it counts as
//! [`BUILT_IN_CONFIDENCE`] sure: a plugin value replaces a built-in one only
//! when the plugin is surer than that, and fills a field the built-in pass
//! found nothing for when it is at least [`MIN_CONFIDENCE`] sure. Intents take
//! the higher of the two confidences. A plugin value is checked against its
//! field like any answer (an option the field lacks, a purchase date in the
//! future, a number out of range are dropped), so a plugin can add to what the
//! host understood but never put in a value the flow would refuse.

use serde::{Deserialize, Serialize};

use super::{Candidate, Clock, Understanding};
use crate::contract::{Classification, FieldKindSpec, FieldSpecInfo, IntentSpec, Money, Value};
use crate::flow::{Direction, FieldKind, FieldSpec, Flow};
use crate::validate;

/// How sure the built-in pass is of a value it found.
pub const BUILT_IN_CONFIDENCE: f32 = 0.8;

/// Below this, a plugin's intent or value is ignored.
pub const MIN_CONFIDENCE: f32 = 0.5;

/// A plugin's value for one field, before it is checked against the field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guess {
    pub field: String,
    pub value: Value,
    pub confidence: f32,
}

impl Understanding {
    /// Fold a plugin's answer into this one. Intents the flow does not have,
    /// and anything below [`MIN_CONFIDENCE`], are dropped.
    pub fn merge(&mut self, flow: &Flow, answer: Classification) {
        for guess in answer.intents {
            // An intent the menu does not offer is only reached from another.
            if guess.confidence < MIN_CONFIDENCE
                || !flow.intent(&guess.name).is_some_and(|intent| intent.menu)
            {
                continue;
            }
            let confidence = guess.confidence.min(1.0);
            match self.intents.iter_mut().find(|known| known.intent == guess.name) {
                Some(known) => known.confidence = known.confidence.max(confidence),
                None => self.intents.push(Candidate { intent: guess.name, confidence }),
            }
        }
        self.intents.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        self.guesses.extend(
            answer.entities.into_iter().filter(|entity| entity.confidence >= MIN_CONFIDENCE).map(|entity| {
                Guess { field: entity.field, value: entity.value, confidence: entity.confidence }
            }),
        );
        if self.locale.is_none() {
            self.locale = answer.locale.map(|locale| locale.to_lowercase());
        }
    }

    /// The plugin's most confident value for `field` that the field accepts.
    pub(super) fn guess_for(&self, field: &FieldSpec, clock: Clock<'_>) -> Option<(f32, Value)> {
        let mut guesses: Vec<&Guess> =
            self.guesses.iter().filter(|guess| guess.field == field.name).collect();
        guesses.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        guesses
            .into_iter()
            .find_map(|guess| accept(field, &guess.value, clock).map(|value| (guess.confidence, value)))
    }

    /// The answer to the field being asked: the built-in reading of it, or
    /// the plugin's where the plugin is surer or the built-in one failed.
    pub fn answer(
        &self,
        field: &FieldSpec,
        answered: Result<Value, validate::Invalid>,
        clock: Clock<'_>,
    ) -> Result<Value, validate::Invalid> {
        if self.guesses.is_empty() {
            return answered;
        }
        match answered {
            Ok(value) => Ok(self.surer(field, Some(value.clone()), clock).unwrap_or(value)),
            Err(invalid) => self.surer(field, None, clock).ok_or(invalid),
        }
    }

    /// The built-in value and the plugin's, whichever is surer.
    pub(super) fn surer(
        &self,
        field: &FieldSpec,
        built_in: Option<Value>,
        clock: Clock<'_>,
    ) -> Option<Value> {
        match (built_in, self.guess_for(field, clock)) {
            (_, Some((confidence, guess))) if confidence > BUILT_IN_CONFIDENCE => Some(guess),
            (Some(value), _) => Some(value),
            (None, guess) => guess.map(|(_, value)| value),
        }
    }
}

/// `value` as `field`'s value, if the field would accept it as an answer.
fn accept(field: &FieldSpec, value: &Value, clock: Clock<'_>) -> Option<Value> {
    let checked = |text: &str| validate::validate(field, text, clock.calendar, clock.now).ok();
    match (field.kind, value) {
        (FieldKind::Text | FieldKind::Quantity, Value::Text(text)) => {
            let text = text.trim();
            (!text.is_empty()).then(|| Value::Text(text.to_owned()))
        }
        (FieldKind::Choice | FieldKind::Phone | FieldKind::Email | FieldKind::Pattern, Value::Text(text)) => {
            checked(text)
        }
        (FieldKind::Number, Value::Number(number)) => {
            validate::in_range(field, *number).ok().map(Value::Number)
        }
        (FieldKind::Money, Value::Money(money)) => {
            let currency_fits =
                field.currency.as_ref().is_none_or(|currency| currency.eq_ignore_ascii_case(&money.currency));
            let major = money.amount_minor as f64 / 100.0;
            (currency_fits && validate::in_range(field, major).is_ok()).then(|| Value::Money(money.clone()))
        }
        (FieldKind::Money, Value::Number(number)) => {
            let currency = field.currency.clone().unwrap_or_else(|| "USD".to_owned());
            validate::in_range(field, *number)
                .ok()
                .map(|number| Value::Money(Money::new((number * 100.0).round() as i64, currency)))
        }
        (FieldKind::Date | FieldKind::Datetime, Value::Datetime(at)) => {
            let day = clock.calendar.local(*at).date();
            let fits = match field.direction() {
                Direction::Past => *at <= clock.now,
                Direction::Future if field.kind == FieldKind::Datetime => *at >= clock.now,
                Direction::Future => day >= clock.today(),
                Direction::Any => true,
            };
            fits.then_some(Value::Datetime(*at))
        }
        (FieldKind::Boolean, Value::Boolean(flag)) => Some(Value::Boolean(*flag)),
        _ => None,
    }
}

/// The flow's intents as a classifier sees them.
pub fn intent_specs(flow: &Flow) -> Vec<IntentSpec> {
    flow.intents
        .iter()
        .map(|intent| IntentSpec {
            name: intent.name.clone(),
            examples: intent.triggers.values().flatten().cloned().collect(),
            // A one-time code is the customer's to type, no model's to guess.
            fields: intent
                .fields
                .iter()
                .filter(|field| field.kind != FieldKind::Code)
                .map(|field| FieldSpecInfo {
                    name: field.name.clone(),
                    kind: kind_spec(field.kind),
                    options: field.options.iter().map(|option| option.value.clone()).collect(),
                })
                .collect(),
        })
        .collect()
}

fn kind_spec(kind: FieldKind) -> FieldKindSpec {
    match kind {
        FieldKind::Text => FieldKindSpec::Text,
        FieldKind::Number => FieldKindSpec::Number,
        FieldKind::Money => FieldKindSpec::Money,
        FieldKind::Date => FieldKindSpec::Date,
        FieldKind::Datetime => FieldKindSpec::Datetime,
        FieldKind::Phone => FieldKindSpec::Phone,
        FieldKind::Email => FieldKindSpec::Email,
        FieldKind::Choice => FieldKindSpec::Choice,
        FieldKind::Pattern => FieldKindSpec::Pattern,
        FieldKind::Boolean => FieldKindSpec::Boolean,
        FieldKind::Quantity => FieldKindSpec::Quantity,
        // Never shown to a classifier (see `intent_specs`).
        FieldKind::Code => FieldKindSpec::Text,
    }
}
