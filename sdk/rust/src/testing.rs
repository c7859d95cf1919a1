//! Native test support: build step inputs and stand in for the host.
//!
//! ```ignore
//! use switchboard_sdk::testing::{input, TestHost};
//!
//! let input = input("quote").number("rooms", 3.0).config(r#"{"base": 1000}"#).build();
//! let decisions = MyPlugin::run(input).unwrap();
//! ```

use std::cell::RefCell;
use std::collections::HashMap;

use crate::http::{HttpError, Response};
use crate::log::Level;
use crate::{
    Channel, ClassifyInput, Contact, Field, FieldKind, FieldSpec, HostError, IntentSpec, Message, Money,
    StepInput, Value,
};

/// What a plugin's capabilities see in a native test. Each test thread has its own.
#[derive(Debug, Default)]
pub struct TestHost {
    pub settings: HashMap<String, String>,
    pub secrets: HashMap<String, String>,
    pub kv: HashMap<String, Vec<u8>>,
    /// Set to `true` to see how the plugin behaves when `kv` is not granted.
    pub kv_denied: bool,
    pub logs: Vec<(Level, String)>,
    /// Canned answers for [`crate::http::get`], by exact URL. Any other URL is
    /// refused as the real host refuses a host that is not allowlisted.
    pub http: HashMap<String, Result<Response, HttpError>>,
    /// Every URL the plugin requested, in order.
    pub requested: Vec<String>,
    /// The body of every `POST`, in order.
    pub posted: Vec<Vec<u8>>,
}

impl TestHost {
    // Like the real host: no settings (or secrets) at all means the capability was not granted.
    pub(crate) fn setting(&self, name: &str) -> Result<Option<String>, HostError> {
        if self.settings.is_empty() {
            return Err(HostError::Denied("config".to_owned()));
        }
        Ok(self.settings.get(name).cloned())
    }

    pub(crate) fn secret(&self, name: &str) -> Result<Option<String>, HostError> {
        if self.secrets.is_empty() {
            return Err(HostError::Denied("secrets".to_owned()));
        }
        Ok(self.secrets.get(name).cloned())
    }

    pub(crate) fn http_send(&mut self, url: &str, body: Option<&[u8]>) -> Result<Response, HttpError> {
        self.requested.push(url.to_owned());
        self.posted.extend(body.map(<[u8]>::to_vec));
        self.http.get(url).cloned().unwrap_or(Err(HttpError::Denied))
    }

    /// Answer requests to `url` with `status` and a JSON body.
    pub fn respond_json(&mut self, url: &str, status: u16, body: &serde_json::Value) {
        let body = body.to_string().into_bytes();
        self.http.insert(url.to_owned(), Ok(Response { status, body }));
    }

    pub(crate) fn kv_result(&self) -> Result<(), HostError> {
        if self.kv_denied { Err(HostError::Denied("kv".to_owned())) } else { Ok(()) }
    }
}

thread_local! {
    static HOST: RefCell<TestHost> = RefCell::new(TestHost::default());
}

/// Run `f` with this thread's test host, e.g. to seed `kv` or read `logs`.
pub fn with_host<R>(f: impl FnOnce(&mut TestHost) -> R) -> R {
    HOST.with(|host| f(&mut host.borrow_mut()))
}

/// Start building a step input for the flow step `step`.
pub fn input(step: &str) -> InputBuilder {
    InputBuilder {
        input: StepInput {
            tenant: "test-tenant".to_owned(),
            conversation: "test-conversation".to_owned(),
            step: step.to_owned(),
            channel: Channel::Webchat,
            contact: Contact { id: "test-contact".to_owned(), display_name: None, locale: "en".to_owned() },
            intent: None,
            message: None,
            fields: Vec::new(),
            score: 0,
            now: 1_767_225_600_000, // 2026-01-01T00:00:00Z
            config: String::new(),
        },
    }
}

/// Start building the input of an understanding plugin for the message `text`.
pub fn classify_input(text: &str) -> ClassifyBuilder {
    ClassifyBuilder {
        input: ClassifyInput {
            tenant: "test-tenant".to_owned(),
            conversation: "test-conversation".to_owned(),
            channel: Channel::Webchat,
            contact: Contact { id: "test-contact".to_owned(), display_name: None, locale: "en".to_owned() },
            text: text.to_owned(),
            intents: Vec::new(),
            active_intent: None,
            asking: None,
            fields: Vec::new(),
            now: 1_767_225_600_000, // 2026-01-01T00:00:00Z
            config: String::new(),
        },
    }
}

/// A fluent [`ClassifyInput`] builder for tests.
#[derive(Debug)]
pub struct ClassifyBuilder {
    input: ClassifyInput,
}

impl ClassifyBuilder {
    /// One of the flow's intents, with its example phrases and `(name, kind, options)` fields.
    pub fn intent(mut self, name: &str, examples: &[&str], fields: &[(&str, FieldKind, &[&str])]) -> Self {
        self.input.intents.push(IntentSpec {
            name: name.to_owned(),
            examples: examples.iter().map(|example| (*example).to_owned()).collect(),
            fields: fields
                .iter()
                .map(|(name, kind, options)| FieldSpec {
                    name: (*name).to_owned(),
                    kind: *kind,
                    options: options.iter().map(|option| (*option).to_owned()).collect(),
                })
                .collect(),
        });
        self
    }

    pub fn asking(mut self, field: &str) -> Self {
        self.input.asking = Some(field.to_owned());
        self
    }

    pub fn config(mut self, json: &str) -> Self {
        self.input.config = json.to_owned();
        self
    }

    pub fn now(mut self, now: i64) -> Self {
        self.input.now = now;
        self
    }

    pub fn build(self) -> ClassifyInput {
        self.input
    }
}

/// A fluent [`StepInput`] builder for tests.
#[derive(Debug)]
pub struct InputBuilder {
    input: StepInput,
}

impl InputBuilder {
    pub fn field(mut self, name: &str, value: Value) -> Self {
        self.input.fields.retain(|field| field.name != name);
        self.input.fields.push(Field { name: name.to_owned(), value });
        self
    }

    pub fn text(self, name: &str, text: &str) -> Self {
        self.field(name, Value::Text(text.to_owned()))
    }

    pub fn number(self, name: &str, number: f64) -> Self {
        self.field(name, Value::Number(number))
    }

    pub fn money(self, name: &str, amount_minor: i64, currency: &str) -> Self {
        self.field(name, Value::Money(Money::new(amount_minor, currency)))
    }

    pub fn datetime(self, name: &str, at: i64) -> Self {
        self.field(name, Value::Datetime(at))
    }

    pub fn boolean(self, name: &str, flag: bool) -> Self {
        self.field(name, Value::Boolean(flag))
    }

    pub fn message(mut self, text: &str) -> Self {
        let received_at = self.input.now;
        self.input.message = Some(Message { text: text.to_owned(), payload: None, received_at });
        self
    }

    pub fn intent(mut self, intent: &str) -> Self {
        self.input.intent = Some(intent.to_owned());
        self
    }

    pub fn score(mut self, score: i32) -> Self {
        self.input.score = score;
        self
    }

    pub fn now(mut self, now: i64) -> Self {
        self.input.now = now;
        self
    }

    pub fn locale(mut self, locale: &str) -> Self {
        self.input.contact.locale = locale.to_owned();
        self
    }

    pub fn channel(mut self, channel: Channel) -> Self {
        self.input.channel = channel;
        self
    }

    pub fn config(mut self, json: &str) -> Self {
        self.input.config = json.to_owned();
        self
    }

    pub fn build(self) -> StepInput {
        self.input
    }
}
