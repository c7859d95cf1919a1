//! Inbound messenger webhooks, parsed into channel-neutral messages.
//!
//! Each provider's payload is read exactly as its documentation shapes it:
//!
//! - `whatsapp.rs`: WhatsApp Cloud API (`object: whatsapp_business_account`).
//! - `meta.rs`: Messenger (`object: page`) and Instagram (`object: instagram`).
//! - `telegram.rs`: a Telegram Bot API `Update`.
//!
//! Authenticity is checked on the raw bytes before anything is parsed: Meta's
//! `X-Hub-Signature-256` (HMAC-SHA256 with the app secret) and Telegram's
//! `X-Telegram-Bot-Api-Secret-Token`, both compared in constant time.
//!
//! Replies to these channels (the provider send APIs, through a durable
//! outbox) are not built yet; inbound messages are handled and their replies
//! recorded in the conversation's transcript.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use switchboard_core::contract::Channel;

mod meta;
mod telegram;
mod whatsapp;

/// A message we cannot read (a sticker, a location): its text names the
/// kind, and its payload says it is unsupported, which the conversation
/// answers politely.
pub fn unsupported(
    id: String,
    from: String,
    display_name: Option<String>,
    kind: &str,
    at: Option<i64>,
) -> ProviderMessage {
    ProviderMessage {
        id,
        from,
        display_name,
        text: format!("[{kind}]"),
        payload: Some(format!("{UNSUPPORTED}{kind}")),
        at,
    }
}

/// The payload prefix of a message kind the host cannot read.
pub use switchboard_core::conversation::UNSUPPORTED;

/// One customer message from a provider, before it meets a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderMessage {
    /// The provider's id for the message (`wamid`, `mid`, `update_id`), for dedupe.
    pub id: String,
    /// The customer's id on that channel (a phone number, a PSID, a chat id).
    pub from: String,
    pub display_name: Option<String>,
    pub text: String,
    /// A button or quick reply's payload, when the customer tapped one.
    pub payload: Option<String>,
    /// Unix milliseconds, as the provider stamped it.
    pub at: Option<i64>,
}

/// A provider's receipt for a message we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderStatus {
    /// The provider's id of our message (as its send API returned it).
    pub message_id: String,
    /// The customer it went to.
    pub recipient: String,
    /// `sent`, `delivered`, `read` or `failed`.
    pub status: String,
    /// Why it failed, as the provider put it.
    pub error: Option<String>,
}

/// What one webhook delivery contained.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    pub messages: Vec<ProviderMessage>,
    /// Delivery receipts for what we sent.
    pub statuses: Vec<ProviderStatus>,
    /// WhatsApp's `user_changed_number` notices: `(old id, new id)`.
    pub number_changes: Vec<(String, String)>,
    /// Message kinds we do not handle (stickers, locations, …), by kind.
    /// Those with a sender are also in `messages`, as [`unsupported`], so the
    /// customer hears that only text is understood.
    pub unsupported: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    #[error("the signature does not match")]
    BadSignature,
    #[error("malformed payload: {0}")]
    Malformed(String),
    #[error("this endpoint takes {expected} payloads, not {found:?}")]
    WrongObject { expected: &'static str, found: String },
}

/// A tenant's credentials for its channels, from `[channels.*]` in tenant.toml.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSecrets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp: Option<MetaSecrets>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messenger: Option<MetaSecrets>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instagram: Option<MetaSecrets>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telegram: Option<TelegramSecrets>,
}

impl ChannelSecrets {
    /// The Meta credentials for `channel` (WhatsApp, Messenger, Instagram).
    pub fn meta(&self, channel: Channel) -> Option<&MetaSecrets> {
        match channel {
            Channel::Whatsapp => self.whatsapp.as_ref(),
            Channel::Messenger => self.messenger.as_ref(),
            Channel::Instagram => self.instagram.as_ref(),
            Channel::Telegram | Channel::Webchat | Channel::Internal => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetaSecrets {
    /// Signs every POST (`X-Hub-Signature-256`). Never empty: anyone can
    /// compute an HMAC with an empty key.
    #[serde(deserialize_with = "app_secret")]
    pub app_secret: String,
    /// Answers the subscription handshake (`hub.verify_token`). Never empty:
    /// an empty one would match a request without one.
    #[serde(deserialize_with = "verify_token")]
    pub verify_token: String,
    /// The token replies are sent with; without it replies stay in the transcript.
    #[serde(default)]
    pub access_token: Option<String>,
    /// WhatsApp only: the sending number's id (`/{phone-number-id}/messages`).
    #[serde(default)]
    pub phone_number_id: Option<String>,
    /// The Graph API root; tests point it at a fake provider.
    #[serde(default = "graph_api")]
    pub api_base: String,
    /// How a reply still unsent when the 24 h messaging window closes goes
    /// out: on WhatsApp the name of an approved template whose body takes
    /// the reply as its one parameter, on Messenger and Instagram a message
    /// tag (`HUMAN_AGENT`, `ACCOUNT_UPDATE`, …). Without it such a reply is
    /// parked, where the API lists it and can send it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_fallback: Option<String>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramSecrets {
    /// Set with `setWebhook(secret_token=…)`; sent back in every update.
    /// Never empty: an empty one would match an update without the header.
    #[serde(deserialize_with = "secret_token")]
    pub secret_token: String,
    /// The bot's token, for `sendMessage`; without it replies stay in the transcript.
    #[serde(default)]
    pub bot_token: Option<String>,
    #[serde(default = "telegram_api")]
    pub api_base: String,
}

/// A secret that authenticates deliveries, refused when empty or blank so
/// that neither tenant.toml nor `PUT …/channels/{channel}` can switch the
/// check off by leaving it out.
fn non_empty_secret<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
    field: &str,
) -> Result<String, D::Error> {
    let secret = String::deserialize(deserializer)?;
    if secret.trim().is_empty() {
        return Err(serde::de::Error::custom(format!("{field} must not be empty")));
    }
    Ok(secret)
}

fn app_secret<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    non_empty_secret(deserializer, "app_secret")
}

fn verify_token<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    non_empty_secret(deserializer, "verify_token")
}

fn secret_token<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    non_empty_secret(deserializer, "secret_token")
}

fn graph_api() -> String {
    "https://graph.facebook.com/v21.0".to_owned()
}

fn telegram_api() -> String {
    "https://api.telegram.org".to_owned()
}

/// Check `X-Hub-Signature-256: sha256=<hex>` against the raw body.
pub fn verify_meta_signature(
    app_secret: &str,
    header: Option<&str>,
    body: &[u8],
) -> Result<(), WebhookError> {
    let given = header.and_then(|value| value.strip_prefix("sha256=")).ok_or(WebhookError::BadSignature)?;
    let given = hex::decode(given).map_err(|_| WebhookError::BadSignature)?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()).map_err(|_| WebhookError::BadSignature)?;
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&given).map_err(|_| WebhookError::BadSignature)
}

/// Check `X-Telegram-Bot-Api-Secret-Token`.
pub fn verify_telegram_secret(expected: &str, header: Option<&str>) -> Result<(), WebhookError> {
    let given = header.unwrap_or_default();
    if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) && !expected.is_empty() {
        Ok(())
    } else {
        Err(WebhookError::BadSignature)
    }
}

/// Parse a delivery for `channel`.
pub fn parse(channel: Channel, body: &[u8]) -> Result<Delivery, WebhookError> {
    match channel {
        Channel::Whatsapp => whatsapp::parse(body),
        Channel::Messenger => meta::parse(body, "page"),
        Channel::Instagram => meta::parse(body, "instagram"),
        Channel::Telegram => telegram::parse(body),
        Channel::Webchat | Channel::Internal => {
            Err(WebhookError::Malformed("no webhook for this channel".to_owned()))
        }
    }
}

fn malformed(error: serde_json::Error) -> WebhookError {
    WebhookError::Malformed(error.to_string())
}

#[cfg(test)]
mod tests;
