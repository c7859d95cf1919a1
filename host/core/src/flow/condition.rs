//! `when`: a condition on the conversation, the one kind used everywhere a
//! flow decides something: which queue a handoff goes to (`[[routing]]`),
//! whether a field is asked or a step runs, whether a timer is set, which of
//! a nudge's texts is said.
//!
//! Every condition given must hold; an empty `when` always holds.
//!
//! ```toml
//! when.fields.condition = "defective"             # equal to
//! when.fields.condition = ["opened", "defective"] # one of
//! when.fields.amount = { min = 100000 }           # at least, in major units for money
//! when.fields.phone = { known = false }           # not collected yet
//! when.awaiting = ["slot", "confirm"]             # what the conversation waits for
//! ```

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::contract::{LeadTier, Scalar, Value};

/// Every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct When {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_at_least: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<LeadTier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_hours: Option<bool>,
    /// Collected fields, by name, and what each must be.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, Match>,
    /// What the conversation waits for from the customer: a field's name
    /// (`slot` and `remedy` for offered options), `confirm`, `resolved`
    /// ("did this solve it?"), `intent` (the menu) or `nothing`; or one of
    /// a list of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaiting: Option<Match>,
}

/// What one field must be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Match {
    /// A yes/no field's answer.
    Flag(bool),
    /// Equal to this value (a choice's `value`, a text), ignoring case.
    Is(String),
    /// Equal to one of these.
    OneOf(Vec<String>),
    Test(Test),
}

/// A test on a field's value; every part given must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Test {
    /// `true`: collected; `false`: not (yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known: Option<bool>,
    /// For numbers and money (in major units): at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// At most this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Equal to none of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not: Vec<String>,
    /// For dates: `true` while the date is still ahead (a move not yet
    /// made), `false` once it has passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ahead: Option<bool>,
}

/// What a condition is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub fields: &'a BTreeMap<String, Value>,
    pub intent: Option<&'a str>,
    pub score: i32,
    pub tier: Option<LeadTier>,
    pub after_hours: bool,
    /// As [`When::awaiting`] names it.
    pub awaiting: &'a str,
    /// Unix milliseconds: what `ahead` compares dates with.
    pub now: i64,
}

impl When {
    pub fn holds(&self, facts: Facts<'_>) -> bool {
        self.score_at_least.is_none_or(|score| facts.score >= score)
            && self.intent.as_deref().is_none_or(|intent| facts.intent == Some(intent))
            && self.tier.is_none_or(|tier| facts.tier == Some(tier))
            && self.after_hours.is_none_or(|wanted| wanted == facts.after_hours)
            && self.awaiting.as_ref().is_none_or(|awaiting| {
                awaiting.holds(Some(&Value::Text(facts.awaiting.to_owned())), facts.now)
            })
            && self.fields.iter().all(|(name, wanted)| wanted.holds(facts.fields.get(name), facts.now))
    }
}

impl Match {
    pub fn holds(&self, value: Option<&Value>, now: i64) -> bool {
        match self {
            Match::Flag(wanted) => matches!(value, Some(Value::Boolean(flag)) if flag == wanted),
            Match::Is(wanted) => value.is_some_and(|value| equals(value, wanted)),
            Match::OneOf(wanted) => value.is_some_and(|value| wanted.iter().any(|one| equals(value, one))),
            Match::Test(test) => {
                test.known.is_none_or(|known| known == value.is_some())
                    && (test.min.is_none() && test.max.is_none()
                        || value.and_then(number).is_some_and(|number| {
                            test.min.is_none_or(|min| number >= min)
                                && test.max.is_none_or(|max| number <= max)
                        }))
                    && test.not.iter().all(|one| value.is_none_or(|value| !equals(value, one)))
                    && test.ahead.is_none_or(
                        |ahead| matches!(value, Some(Value::Datetime(at)) if (*at > now) == ahead),
                    )
            }
        }
    }

    /// The values a field is compared with, to check them against its options.
    pub fn compared_values(&self) -> Vec<&str> {
        match self {
            Match::Is(value) => vec![value.as_str()],
            Match::OneOf(values) => values.iter().map(String::as_str).collect(),
            Match::Test(test) => test.not.iter().map(String::as_str).collect(),
            Match::Flag(_) => Vec::new(),
        }
    }
}

fn equals(value: &Value, wanted: &str) -> bool {
    match value {
        Value::Text(text) => text.trim().eq_ignore_ascii_case(wanted.trim()),
        Value::Number(number) => wanted.trim().parse::<f64>().is_ok_and(|wanted| wanted == *number),
        Value::Boolean(flag) => wanted.trim().parse::<bool>().is_ok_and(|wanted| wanted == *flag),
        Value::List(items) => items
            .iter()
            .any(|item| matches!(item, Scalar::Text(text) if text.eq_ignore_ascii_case(wanted.trim()))),
        Value::Money(_) | Value::Datetime(_) => false,
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => Some(*number),
        Value::Money(money) => Some(money.amount_minor as f64 / 100.0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Money;

    fn facts(fields: &BTreeMap<String, Value>) -> Facts<'_> {
        Facts {
            fields,
            intent: Some("refund"),
            score: 2,
            tier: None,
            after_hours: false,
            awaiting: "nothing",
            now: 1_000,
        }
    }

    fn when(toml_text: &str) -> When {
        toml::from_str(toml_text).expect("a condition")
    }

    #[test]
    fn fields_match_by_value_by_list_by_range_and_by_being_known() {
        let fields: BTreeMap<String, Value> = [
            ("condition".to_owned(), Value::Text("Defective".to_owned())),
            ("amount".to_owned(), Value::Money(Money::new(25_000_000, "AMD"))),
            ("gift".to_owned(), Value::Boolean(true)),
        ]
        .into();
        let facts = facts(&fields);
        assert!(when("fields.condition = \"defective\"").holds(facts));
        assert!(!when("fields.condition = \"opened\"").holds(facts));
        assert!(when("fields.condition = [\"opened\", \"defective\"]").holds(facts));
        assert!(when("fields.amount = { min = 100000 }").holds(facts));
        assert!(!when("fields.amount = { max = 100000 }").holds(facts));
        assert!(when("fields.photo = { known = false }").holds(facts));
        assert!(!when("fields.photo = { min = 1 }").holds(facts), "a missing field is no number");
        assert!(when("fields.condition = { not = [\"opened\"] }").holds(facts));
        assert!(when("fields.gift = true").holds(facts));
        assert!(!when("fields.gift = false").holds(facts));
        let dated: BTreeMap<String, Value> = [("move_date".to_owned(), Value::Datetime(2_000))].into();
        assert!(when("fields.move_date = { ahead = true }").holds(self::facts(&dated)));
        let later = Facts { now: 3_000, ..self::facts(&dated) };
        assert!(!when("fields.move_date = { ahead = true }").holds(later), "passed");
        assert!(when("fields.move_date = { ahead = false }").holds(later));
    }

    #[test]
    fn every_part_must_hold_and_an_empty_condition_always_does() {
        let fields = BTreeMap::new();
        assert!(When::default().holds(facts(&fields)));
        assert!(when("intent = \"refund\"\nawaiting = \"nothing\"").holds(facts(&fields)));
        assert!(!when("intent = \"refund\"\nawaiting = \"confirm\"").holds(facts(&fields)));
        assert!(!when("score_at_least = 3").holds(facts(&fields)));
    }
}
