//! The plugin contract in the host's own terms.
//!
//! These mirror the newest `switchboard:plugin` WIT package. Older WIT versions
//! are converted into these types at the runtime boundary, so nothing past the
//! runtime ever sees a versioned binding type. They also define the JSON a user
//! writes for `switchboard plugin run --input`, so their serde shape is public:
//! change it only with a migration note.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, UTC.
pub type Timestamp = i64;

/// An amount in minor units with its ISO 4217 currency code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: String,
}

impl Money {
    pub fn new(amount_minor: i64, currency: impl Into<String>) -> Self {
        Self { amount_minor, currency: currency.into() }
    }
}

/// A value that may stand inside a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scalar {
    Text(String),
    Number(f64),
    Money(Money),
    Datetime(Timestamp),
    Boolean(bool),
}

/// A collected field's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    Text(String),
    Number(f64),
    Money(Money),
    Datetime(Timestamp),
    Boolean(bool),
    List(Vec<Scalar>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Whatsapp,
    Telegram,
    Messenger,
    Instagram,
    Webchat,
    Internal,
}

impl Channel {
    /// Every channel, in a fixed order.
    pub const ALL: [Channel; 6] = [
        Channel::Whatsapp,
        Channel::Telegram,
        Channel::Messenger,
        Channel::Instagram,
        Channel::Webchat,
        Channel::Internal,
    ];

    /// The channel's name as it appears in identities (`telegram:42`), URLs
    /// and events; the same as its serde form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Whatsapp => "whatsapp",
            Channel::Telegram => "telegram",
            Channel::Messenger => "messenger",
            Channel::Instagram => "instagram",
            Channel::Webchat => "webchat",
            Channel::Internal => "internal",
        }
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A name that is not one of [`Channel::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown channel {0:?}: expected one of whatsapp, telegram, messenger, instagram, webchat, internal")]
pub struct UnknownChannel(pub String);

/// A customer's address on one channel: `telegram:42`, `whatsapp:37491000001`.
/// A conversation starts under the identity its first message came from,
/// and [`Contact::id`] carries it in that form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    pub channel: Channel,
    /// The id the provider uses (phone number, PSID, chat id, visitor id).
    pub id: String,
}

impl Identity {
    pub fn new(channel: Channel, id: impl Into<String>) -> Self {
        Self { channel, id: id.into() }
    }

    /// `channel:id` taken apart; `None` for anything else.
    pub fn parse(identity: &str) -> Option<Self> {
        let (channel, id) = identity.split_once(':')?;
        Some(Self { channel: channel.parse().ok()?, id: id.to_owned() })
    }

    /// The provider's id if `identity` is on `channel`.
    pub fn id_on(identity: &str, channel: Channel) -> Option<&str> {
        identity.strip_prefix(channel.as_str())?.strip_prefix(':')
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}:{}", self.channel.as_str(), self.id)
    }
}

impl std::str::FromStr for Channel {
    type Err = UnknownChannel;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Channel::ALL
            .into_iter()
            .find(|channel| channel.as_str() == name)
            .ok_or_else(|| UnknownChannel(name.to_owned()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default = "default_locale")]
    pub locale: String,
}

fn default_locale() -> String {
    "en".to_owned()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub text: String,
    #[serde(default)]
    pub payload: Option<String>,
    #[serde(default)]
    pub received_at: Timestamp,
}

/// Everything a step may know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepInput {
    pub tenant: String,
    pub conversation: String,
    pub step: String,
    pub channel: Channel,
    pub contact: Contact,
    #[serde(default)]
    pub intent: Option<String>,
    #[serde(default)]
    pub message: Option<Message>,
    /// Sorted by name, so the same facts always reach a plugin in the same order.
    #[serde(default)]
    pub fields: BTreeMap<String, Value>,
    #[serde(default)]
    pub score: i32,
    pub now: Timestamp,
    /// The tenant's configuration for this plugin. Reaches the guest as JSON text.
    #[serde(default)]
    pub config: PluginConfig,
}

/// A tenant's configuration for one plugin: JSON, checked when it is built and
/// kept as text, because text is what the guest receives. Calls share it
/// (an `Arc`), and none re-serializes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginConfig(Option<Arc<str>>);

impl PluginConfig {
    /// The JSON text, or `""` when there is no configuration.
    pub fn as_str(&self) -> &str {
        self.0.as_deref().unwrap_or("")
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }
}

impl From<serde_json::Value> for PluginConfig {
    fn from(value: serde_json::Value) -> Self {
        match value {
            serde_json::Value::Null => Self(None),
            value => Self(Some(value.to_string().into())),
        }
    }
}

impl Serialize for PluginConfig {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            None => serializer.serialize_none(),
            Some(text) => serde_json::from_str::<serde_json::Value>(text)
                .map_err(serde::ser::Error::custom)?
                .serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for PluginConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(deserializer).map(Self::from)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuickReply {
    pub title: String,
    pub payload: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quick_replies: Vec<QuickReply>,
    /// The language the text is in, when a step wrote it in several; the
    /// host keeps the ones in the conversation's language (0.2.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ask {
    pub field: String,
    #[serde(default)]
    pub prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quick_replies: Vec<QuickReply>,
    /// The language the text is in, when a step wrote it in several; the
    /// host keeps the ones in the conversation's language (0.2.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreChange {
    pub delta: i32,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeadTier {
    Hot,
    Warm,
    Cold,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadGrade {
    pub tier: LeadTier,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineItem {
    pub label: String,
    pub quantity: f64,
    pub unit_price_minor: i64,
    pub total_minor: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Amount {
    Exact(i64),
    Range(i64, i64),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quote {
    pub line_items: Vec<LineItem>,
    pub total: Amount,
    pub currency: String,
    #[serde(default)]
    pub valid_until: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub factors: Vec<String>,
    /// The language the text is in, when a step wrote it in several; the
    /// host keeps the ones in the conversation's language (0.2.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Remedy {
    Exchange,
    StoreCredit(Money),
    FullRefund(Money),
    PartialRefund(Money),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Allow(Vec<Remedy>),
    Deny(String),
    /// Denied, and the conversation goes on with the flow's intent `next`.
    DenyThen {
        reason: String,
        next: String,
    },
    Escalate(String),
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub queue: String,
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub backup: Option<String>,
    #[serde(default)]
    pub priority: Priority,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffCard {
    pub reason: String,
    pub summary: String,
    pub suggested_next_step: String,
    #[serde(default)]
    pub queue: Option<String>,
    #[serde(default)]
    pub priority: Priority,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    pub start: Timestamp,
    pub end: Timestamp,
    pub label: String,
    #[serde(default)]
    pub resource: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Due {
    At(Timestamp),
    AfterMs(u64),
    /// `(field, milliseconds before it)`.
    BeforeField(String, u64),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timer {
    pub key: String,
    pub kind: String,
    pub due: Due,
    pub payload: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub name: String,
    pub payload: String,
}

/// What a step asks the host to do. The host applies decisions in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    SetField { name: String, value: Value },
    ClearField(String),
    Reply(Reply),
    Ask(Ask),
    Score(ScoreChange),
    Grade(LeadGrade),
    Quote(Quote),
    Verdict(Verdict),
    OfferSlots(Vec<Slot>),
    Route(Route),
    Handoff(HandoffCard),
    Schedule(Timer),
    CancelTimer(String),
    Emit(Event),
}

/// The plugin's own refusal, as opposed to a trap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum StepError {
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Not a refusal: the step broke (an uncaught exception, an answer not
    /// in the contract's shape), as its SDK reported it.
    #[error("{0}")]
    Crashed(Crash),
}

/// An uncaught exception or a malformed answer, with its cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}: {message}", match kind { CrashKind::Exception => "uncaught exception", CrashKind::BadOutput => "bad output" })]
pub struct Crash {
    pub kind: CrashKind,
    /// The exception's type and message, e.g. `KeyError: 'deposit'`.
    pub message: String,
    /// Where it happened, innermost call last; may be empty.
    pub traceback: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrashKind {
    Exception,
    BadOutput,
}

impl Decision {
    /// The language a customer-facing decision says it is written in.
    pub fn locale(&self) -> Option<&str> {
        match self {
            Decision::Reply(reply) => reply.locale.as_deref(),
            Decision::Ask(ask) => ask.locale.as_deref(),
            Decision::Quote(quote) => quote.locale.as_deref(),
            _ => None,
        }
    }
}

/// The kind of value a field takes, as a classifier sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKindSpec {
    Text,
    Number,
    Money,
    Date,
    Datetime,
    Phone,
    Email,
    Choice,
    Boolean,
    Pattern,
    Quantity,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSpecInfo {
    pub name: String,
    pub kind: FieldKindSpec,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// One of the flow's intents, for a classifier to choose among.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntentSpec {
    pub name: String,
    #[serde(default)]
    pub examples: Vec<String>,
    #[serde(default)]
    pub fields: Vec<FieldSpecInfo>,
}

/// What an understanding plugin reads (`understanding.classify`, 0.2.0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifyInput {
    pub tenant: String,
    pub conversation: String,
    pub channel: Channel,
    pub contact: Contact,
    pub text: String,
    #[serde(default)]
    pub intents: Vec<IntentSpec>,
    #[serde(default)]
    pub active_intent: Option<String>,
    #[serde(default)]
    pub asking: Option<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, Value>,
    pub now: Timestamp,
    #[serde(default)]
    pub config: PluginConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntentGuess {
    pub name: String,
    pub confidence: f32,
}

/// A value for one field, found in the message by a classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub field: String,
    pub value: Value,
    pub confidence: f32,
}

/// What an understanding plugin answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    #[serde(default)]
    pub intents: Vec<IntentGuess>,
    #[serde(default)]
    pub entities: Vec<Entity>,
    #[serde(default)]
    pub locale: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channels_name_is_its_serde_form_and_parses_back() {
        for channel in Channel::ALL {
            let serde = serde_json::to_value(channel).expect("serialises");
            assert_eq!(serde.as_str(), Some(channel.as_str()));
            assert_eq!(channel.as_str().parse::<Channel>(), Ok(channel));
        }
        let unknown = "sms".parse::<Channel>().expect_err("not a channel");
        assert!(unknown.to_string().contains("whatsapp, telegram"), "{unknown}");
    }

    #[test]
    fn an_identity_is_channel_colon_id_both_ways() {
        let identity = Identity::new(Channel::Telegram, "42");
        assert_eq!(identity.to_string(), "telegram:42");
        assert_eq!(Identity::parse("telegram:42"), Some(identity));
        // Only the first colon separates: a web chat visitor id may hold more.
        assert_eq!(Identity::parse("webchat:a:b").map(|identity| identity.id), Some("a:b".to_owned()));
        assert_eq!(Identity::parse("fax:1"), None);
        assert_eq!(Identity::parse("no-colon"), None);
        assert_eq!(Identity::id_on("whatsapp:3749", Channel::Whatsapp), Some("3749"));
        assert_eq!(Identity::id_on("whatsapp:3749", Channel::Telegram), None);
        assert_eq!(Identity::id_on("whatsappx:3749", Channel::Whatsapp), None);
    }

    #[test]
    fn step_input_json_accepts_the_minimal_form_users_write() {
        let input: StepInput = serde_json::from_str(
            r#"{
                "tenant": "salon", "conversation": "c1", "step": "quote",
                "channel": "whatsapp", "contact": {"id": "p1"}, "now": 0,
                "fields": {"rooms": {"number": 3}, "budget": {"money": {"amount_minor": 5000, "currency": "AMD"}}}
            }"#,
        )
        .expect("minimal input parses");
        assert_eq!(input.contact.locale, "en");
        assert_eq!(input.fields["rooms"], Value::Number(3.0));
        assert!(input.config.is_empty());
    }

    #[test]
    fn plugin_config_keeps_its_json_text_and_round_trips() {
        let config = PluginConfig::from(serde_json::json!({ "currency": "AMD" }));
        assert_eq!(config.as_str(), r#"{"currency":"AMD"}"#);
        let back: PluginConfig =
            serde_json::from_str(&serde_json::to_string(&config).expect("serializes")).expect("parses");
        assert_eq!(back, config);
        assert_eq!(PluginConfig::from(serde_json::Value::Null).as_str(), "");
    }

    #[test]
    fn decisions_serialize_in_snake_case_externally_tagged() {
        let decision = Decision::Score(ScoreChange { delta: 2, reason: "deadline".into() });
        assert_eq!(
            serde_json::to_string(&decision).expect("serializes"),
            r#"{"score":{"delta":2,"reason":"deadline"}}"#
        );
    }
}
