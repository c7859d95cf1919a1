//! Reads a customer's message with a language model (WIT 0.2.0 `understanding`).
//!
//! The plugin asks an OpenAI-compatible chat-completions endpoint which of the
//! flow's intents the message belongs to and which fields it fills, and hands
//! the answer to the host, which merges it with its built-in understanding by
//! confidence. The tenant allowlists the endpoint's host for this plugin and
//! keeps the API key as a secret; the plugin sees nothing else.
//!
//! ```toml
//! [plugins.llm]
//! component = "llm_classifier"
//! config = { endpoint = "https://api.openai.com/v1/chat/completions", model = "gpt-4o-mini",
//!            key_secret = "openai_key", utc_offset_minutes = 240 }
//! grants = { http = { allow = ["api.openai.com"], timeout_ms = 1500 }, secrets = { openai_key = "${OPENAI_API_KEY}" } }
//! limits = { timeout_ms = 2000 }
//! ```
//!
//! The model is asked for one JSON object (`response_format = json_object`):
//!
//! ```json
//! {"intent": "booking", "confidence": 0.9, "locale": "ru",
//!  "entities": [{"field": "service", "value": "haircut", "confidence": 0.9},
//!               {"field": "preferred_date", "value": "2026-12-04", "confidence": 0.8}]}
//! ```
//!
//! Values are read by the field's kind: dates as `YYYY-MM-DD` (and
//! `YYYY-MM-DDTHH:MM` for date-times) in the tenant's offset from UTC,
//! money as a number in major units or `{"amount": 150000, "currency": "AMD"}`.
//! Whatever the model makes up that the flow lacks (an intent, a field, an
//! option) is dropped here, and the host checks every value again.

#![forbid(unsafe_code)]

use serde::Deserialize;
use serde_json::json;
use switchboard_sdk::http::{self, HttpError};
use switchboard_sdk::prelude::*;
use switchboard_sdk::{FieldKind, FieldSpec, Money};

mod prompt;
#[cfg(test)]
mod tests;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The chat-completions URL, e.g. `https://api.openai.com/v1/chat/completions`.
    pub endpoint: String,
    pub model: String,
    /// The name of the secret holding the API key, sent as a bearer token.
    /// Leave it out for an endpoint that needs none (a local model).
    #[serde(default)]
    pub key_secret: Option<String>,
    /// The tenant's offset from UTC, so "tomorrow" is the tenant's tomorrow.
    #[serde(default)]
    pub utc_offset_minutes: i32,
    /// Said to the model before the task, e.g. what the business does.
    #[serde(default)]
    pub instructions: Option<String>,
}

#[derive(Debug)]
pub struct LlmClassifier;

impl Classifier for LlmClassifier {
    fn classify(input: ClassifyInput) -> Result<Classification, StepError> {
        let config = CONFIG.get(&input.config)?;
        let key = match &config.key_secret {
            Some(name) => Some(
                config::secret(name)
                    .map_err(|error| StepError::InvalidConfig(format!("secret {name:?}: {error:?}")))?
                    .ok_or_else(|| StepError::InvalidConfig(format!("secret {name:?} is not set")))?,
            ),
            None => None,
        };
        let request = json!({
            "model": config.model,
            "temperature": 0,
            "response_format": {"type": "json_object"},
            "messages": [
                {"role": "system", "content": prompt::system(config.instructions.as_deref())},
                {"role": "user", "content": prompt::user(&input, config.utc_offset_minutes)},
            ],
        });
        let bearer = key.map(|key| format!("Bearer {key}"));
        let mut headers = vec![("accept", "application/json")];
        if let Some(bearer) = &bearer {
            headers.push(("authorization", bearer));
        }
        let response =
            http::post_json(&config.endpoint, &headers, &request).map_err(|error| match error {
                HttpError::Denied => StepError::InvalidConfig(format!(
                    "{} is not allowlisted for this plugin: add its host to grants.http.allow",
                    config.endpoint
                )),
                other => StepError::Unavailable(other.to_string()),
            })?;
        if !response.is_success() {
            let detail = response.text().unwrap_or_default().chars().take(200).collect::<String>();
            return Err(StepError::Unavailable(format!(
                "the model API answered {}: {detail}",
                response.status
            )));
        }
        let completion: Completion = response
            .json()
            .map_err(|error| StepError::Unavailable(format!("not a chat completion: {error}")))?;
        let content = completion
            .choices
            .into_iter()
            .next()
            .map(|choice| choice.message.content)
            .ok_or_else(|| StepError::Unavailable("the completion has no choices".to_owned()))?;
        let answer = parse_answer(&content)?;
        Ok(classification(&input, answer, config.utc_offset_minutes))
    }
}

/// The tenant's config, parsed once per binding by `init`.
static CONFIG: ConfigCell<Config> = ConfigCell::new();

switchboard_sdk::export_classifier!(LlmClassifier, config = CONFIG);

#[derive(Debug, Deserialize)]
struct Completion {
    choices: Vec<Choice>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    message: ChatMessage,
}

#[derive(Debug, Deserialize)]
struct ChatMessage {
    #[serde(default)]
    content: String,
}

/// What the model is asked to answer.
#[derive(Debug, Default, Deserialize)]
pub struct Answer {
    #[serde(default)]
    pub intent: Option<String>,
    #[serde(default)]
    pub confidence: Option<f32>,
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub entities: Vec<AnswerEntity>,
}

#[derive(Debug, Deserialize)]
pub struct AnswerEntity {
    pub field: String,
    pub value: serde_json::Value,
    #[serde(default)]
    pub confidence: Option<f32>,
}

/// The model's JSON, with the code fences some models put around it.
pub fn parse_answer(content: &str) -> Result<Answer, StepError> {
    let trimmed = content.trim();
    let unfenced = trimmed
        .strip_prefix("```json")
        .or_else(|| trimmed.strip_prefix("```"))
        .and_then(|rest| rest.strip_suffix("```"))
        .unwrap_or(trimmed);
    serde_json::from_str(unfenced.trim()).map_err(|error| {
        StepError::Unavailable(format!("the model's answer is not the JSON asked for: {error}"))
    })
}

/// Keep what fits the flow: its intents, its fields, values of the right kind.
pub fn classification(input: &ClassifyInput, answer: Answer, utc_offset_minutes: i32) -> Classification {
    let mut result = Classification::none();
    if let Some(intent) = answer.intent.filter(|name| input.intent(name).is_some()) {
        result = result.with_intent(intent, clamp(answer.confidence.unwrap_or(0.7)));
    }
    for entity in answer.entities {
        let Some(field) = input.field_spec(&entity.field) else { continue };
        if let Some(value) = value(field, &entity.value, utc_offset_minutes) {
            result = result.with_entity(entity.field, value, clamp(entity.confidence.unwrap_or(0.7)));
        }
    }
    if let Some(locale) = answer.locale.filter(|locale| !locale.trim().is_empty()) {
        result = result.with_locale(locale);
    }
    result
}

fn clamp(confidence: f32) -> f32 {
    if confidence.is_nan() { 0.0 } else { confidence.clamp(0.0, 1.0) }
}

/// A JSON value as `field`'s kind of value.
fn value(field: &FieldSpec, raw: &serde_json::Value, utc_offset_minutes: i32) -> Option<Value> {
    use serde_json::Value as J;
    match (field.kind, raw) {
        (FieldKind::Choice, J::String(option)) => field
            .options
            .iter()
            .find(|known| known.eq_ignore_ascii_case(option))
            .map(|known| Value::Text(known.clone())),
        (
            FieldKind::Text | FieldKind::Phone | FieldKind::Email | FieldKind::Pattern | FieldKind::Quantity,
            J::String(text),
        ) => (!text.trim().is_empty()).then(|| Value::Text(text.trim().to_owned())),
        // Money as a bare number is in major units of the field's currency.
        (FieldKind::Number | FieldKind::Money, J::Number(number)) => number.as_f64().map(Value::Number),
        (FieldKind::Money, J::Object(money)) => {
            let major = money.get("amount")?.as_f64()?;
            let currency = money.get("currency")?.as_str()?.to_ascii_uppercase();
            Some(Value::Money(Money::new((major * 100.0).round() as i64, currency)))
        }
        (FieldKind::Boolean, J::Bool(flag)) => Some(Value::Boolean(*flag)),
        (FieldKind::Date | FieldKind::Datetime, J::String(text)) => {
            prompt::local_timestamp(text, utc_offset_minutes).map(Value::Datetime)
        }
        _ => None,
    }
}
