//! Typed access to a step's facts.

use serde::de::DeserializeOwned;

use crate::{Money, Scalar, StepError, StepInput, Value};

impl StepInput {
    /// The collected field called `name`, of whatever type.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|field| field.name == name).map(|field| &field.value)
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        match self.field(name)? {
            Value::Text(text) => Some(text),
            _ => None,
        }
    }

    /// A number field. Money counts as its amount in minor units.
    pub fn number(&self, name: &str) -> Option<f64> {
        match self.field(name)? {
            Value::Number(number) => Some(*number),
            Value::Money(money) => Some(money.amount_minor as f64),
            _ => None,
        }
    }

    pub fn money(&self, name: &str) -> Option<&Money> {
        match self.field(name)? {
            Value::Money(money) => Some(money),
            _ => None,
        }
    }

    /// A date/time field, in milliseconds since the Unix epoch.
    pub fn datetime(&self, name: &str) -> Option<i64> {
        match self.field(name)? {
            Value::Datetime(at) => Some(*at),
            _ => None,
        }
    }

    pub fn boolean(&self, name: &str) -> Option<bool> {
        match self.field(name)? {
            Value::Boolean(flag) => Some(*flag),
            _ => None,
        }
    }

    pub fn list(&self, name: &str) -> Option<&[Scalar]> {
        match self.field(name)? {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    /// The text of the latest message, if the step was triggered by one.
    pub fn message_text(&self) -> Option<&str> {
        self.message.as_ref().map(|message| message.text.as_str())
    }

    /// The tenant's configuration for this plugin, parsed into the plugin's own type.
    /// An empty configuration parses as `{}`, so a type whose fields all have
    /// serde defaults works unconfigured.
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, StepError> {
        parse_config(&self.config)
    }
}

/// A plugin's JSON config; empty counts as `{}`.
pub(crate) fn parse_config<T: DeserializeOwned>(config: &str) -> Result<T, StepError> {
    let text = config.trim();
    let text = if text.is_empty() || text == "null" { "{}" } else { text };
    serde_json::from_str(text).map_err(|error| StepError::InvalidConfig(error.to_string()))
}

impl Money {
    pub fn new(amount_minor: i64, currency: impl Into<String>) -> Self {
        Self { amount_minor, currency: currency.into() }
    }
}
