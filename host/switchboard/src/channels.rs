//! The messaging providers, one module each, and the registry that
//! dispatches on them.
//!
//! A provider module owns everything about its channel: the tenant's
//! credentials for it, the webhook's authenticity check and payload, whether
//! the tenant can send, the send API's request, and the channel's limits
//! (text length, buttons, rate). Nothing else matches on a [`Channel`] to
//! learn any of that: the webhooks, delivery's rendering and pacing and the
//! engine's outbox ask [`provider`].
//!
//! # Layout
//!
//! - `whatsapp.rs`: WhatsApp Cloud API (`object: whatsapp_business_account`).
//! - `messenger.rs`: Messenger (`object: page`).
//! - `instagram.rs`: Instagram messaging (`object: instagram`).
//! - `meta.rs`: what the three Meta channels share: the Graph API's
//!   credentials ([`MetaSecrets`]), signature and subscription handshake,
//!   and the Messenger-format payloads and Send API body that Messenger and
//!   Instagram both speak.
//! - `telegram.rs`: the Telegram Bot API.
//! - `webchat.rs`, `internal.rs`: no webhook and no send API (web chat
//!   replies go to the live session, internal ones nowhere), present so the
//!   registry covers every channel.
//!
//! Adding a channel: a variant of `Channel` in core, a file here that
//! implements [`Provider`], and its line in [`provider`]. A channel with
//! credentials also adds its field to [`ChannelSecrets`] (and its
//! `overlay`), the shape tenant.toml and `managed.toml` store them in.
//!
//! **Architecture Invariant:** authenticity is checked on the raw bytes
//! before anything is parsed (Meta's `X-Hub-Signature-256`, Telegram's
//! `X-Telegram-Bot-Api-Secret-Token`), with secrets compared in constant
//! time. This module does no IO: it reads bytes and builds requests, and
//! `delivery` sends them.

use std::collections::HashMap;

use http::HeaderMap;
use serde::Deserialize;
use serde_json::Value;
use switchboard_core::contract::{Channel, Identity, QuickReply};
use switchboard_core::conversation::OutsideWindow;

mod instagram;
mod internal;
mod messenger;
mod meta;
mod telegram;
mod webchat;
mod whatsapp;

pub use meta::MetaSecrets;
/// The payload prefix of a message kind the host cannot read.
pub use switchboard_core::conversation::UNSUPPORTED;
pub use telegram::TelegramSecrets;

/// The provider of `channel`. The registry: one line per channel, and the
/// compiler checks that every channel has one.
pub fn provider(channel: Channel) -> &'static dyn Provider {
    match channel {
        Channel::Whatsapp => &whatsapp::Whatsapp,
        Channel::Messenger => &messenger::Messenger,
        Channel::Instagram => &instagram::Instagram,
        Channel::Telegram => &telegram::Telegram,
        Channel::Webchat => &webchat::Webchat,
        Channel::Internal => &internal::Internal,
    }
}

/// Everything the host knows about one messaging provider. The defaults
/// are a channel without credentials, webhook or send API.
pub trait Provider: Sync {
    /// The channel this provider serves.
    fn channel(&self) -> Channel;

    /// What one message on the channel may hold, and how fast sends may go.
    fn limits(&self) -> Limits;

    /// Whether a tenant configures credentials for it (`[channels.<name>]`,
    /// `PUT /v1/tenants/{t}/channels/{name}`).
    fn takes_credentials(&self) -> bool {
        false
    }

    /// Whether the tenant has configured the channel.
    fn configured(&self, _secrets: &ChannelSecrets) -> bool {
        false
    }

    /// Set the tenant's credentials for the channel from JSON as
    /// `PUT …/channels/{name}` takes them, replacing any it had.
    fn put_secrets(&self, _secrets: &mut ChannelSecrets, _given: Value) -> Result<(), serde_json::Error> {
        Err(serde::de::Error::custom(format!("{} takes no credentials", self.channel())))
    }

    /// Which of the channel's credentials are set (never their values), as
    /// `GET …/channels` shows them; `None` when it is not configured.
    fn describe_secrets(&self, _secrets: &ChannelSecrets) -> Option<Value> {
        None
    }

    /// Whether `/webhooks/{tenant}/{channel}` exists for this channel.
    fn has_webhook(&self) -> bool {
        false
    }

    /// Answer a subscription handshake (`GET` on the webhook).
    fn handshake(&self, _secrets: &ChannelSecrets, _query: &HashMap<String, String>) -> Handshake {
        Handshake::Unavailable
    }

    /// Check that a delivery (`POST` on the webhook) comes from the
    /// provider, on the raw bytes, before anything is parsed.
    fn verify(
        &self,
        _secrets: &ChannelSecrets,
        _headers: &HeaderMap,
        _body: &[u8],
    ) -> Result<(), WebhookError> {
        Err(WebhookError::BadSignature)
    }

    /// Read a delivery the provider signed.
    fn parse(&self, _body: &[u8]) -> Result<Delivery, WebhookError> {
        Err(WebhookError::Malformed("no webhook for this channel".to_owned()))
    }

    /// Whether the tenant has the credentials to send on the channel.
    fn can_send(&self, _secrets: &ChannelSecrets) -> bool {
        false
    }

    /// The send API call for one reply; `None` when the tenant cannot send
    /// on the channel (any more).
    fn request(&self, _secrets: &ChannelSecrets, _message: &Outgoing<'_>) -> Option<Request> {
        None
    }

    /// Which of the tenant's accounts (number, bot, page) a send counts
    /// against, for [`Rate::per_sender`].
    fn sender(&self, _secrets: &ChannelSecrets) -> String {
        String::new()
    }

    /// Whether free-form replies must go within the messaging window (24 h
    /// after the customer last wrote); after it only a template or a tag
    /// ([`Provider::window_fallback`]) may.
    fn messaging_window(&self) -> bool {
        false
    }

    /// How a reply still unsent when the messaging window closes goes out,
    /// if the tenant named a way (`window_fallback`).
    fn window_fallback(&self, _secrets: &ChannelSecrets, _locale: &str) -> Option<OutsideWindow> {
        None
    }
}

/// What a channel accepts. `None` is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Characters of text in one message, as the provider documents it.
    /// Replies are not cut to it: a longer one is the provider's to refuse.
    pub text_chars: Option<usize>,
    /// Quick-reply options one message shows; rendering drops the rest.
    pub buttons: Option<usize>,
    /// Characters of a button title; the conversation fits titles to it
    /// without cutting a word (`fit_title` in core).
    pub button_title_chars: Option<usize>,
    /// How fast the provider takes sends; `None`: not paced.
    pub rate: Option<Rate>,
}

/// A provider's documented send rate, per tenant (a tenant that names
/// another's number or bot slows only itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Sends per second per sending account ([`Provider::sender`]).
    pub per_sender: u32,
    /// Sends per second to one recipient, with a burst above it.
    pub per_recipient: Option<Burst>,
}

/// A steady rate with a burst allowed above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Burst {
    pub per_second: u32,
    pub burst: u32,
}

/// What a subscription handshake gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handshake {
    /// The challenge to echo.
    Accepted(String),
    /// The verify token does not match.
    Refused,
    /// The tenant has not configured the channel, or the channel has no
    /// handshake (Telegram is set up with `setWebhook`).
    Unavailable,
}

/// One reply as a provider sends it, whatever queued it.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// The customer's id on the channel (phone number, PSID, chat id).
    pub to: &'a str,
    pub text: &'a str,
    pub quick_replies: &'a [QuickReply],
    /// Set once the channel's 24 h window has closed: the template or tag
    /// it goes out with.
    pub outside_window: Option<&'a OutsideWindow>,
}

/// A provider API call, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

/// Parse a delivery for `channel`.
pub fn parse(channel: Channel, body: &[u8]) -> Result<Delivery, WebhookError> {
    provider(channel).parse(body)
}

/// `GET /v1/tenants/{t}/channels`: per channel that takes credentials,
/// which are set (never their values), or `null`.
pub fn describe_secrets(secrets: &ChannelSecrets) -> Value {
    let described =
        Channel::ALL.into_iter().map(provider).filter(|provider| provider.takes_credentials()).map(
            |provider| {
                (
                    provider.channel().as_str().to_owned(),
                    provider.describe_secrets(secrets).unwrap_or(Value::Null),
                )
            },
        );
    Value::Object(described.collect())
}

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
    /// A customer's new identity on the channel (WhatsApp's
    /// `user_changed_number`): `(old, new)`.
    pub number_changes: Vec<(Identity, Identity)>,
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

/// A tenant's credentials for its channels, from `[channels.*]` in
/// tenant.toml. Each field is read by its channel's provider only.
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
    /// Take every channel `given` sets, keeping the rest: what
    /// `PUT …/channels/{name}` does to the tenant's credentials.
    pub fn overlay(&mut self, given: ChannelSecrets) {
        let ChannelSecrets { whatsapp, messenger, instagram, telegram } = given;
        self.whatsapp = whatsapp.or(self.whatsapp.take());
        self.messenger = messenger.or(self.messenger.take());
        self.instagram = instagram.or(self.instagram.take());
        self.telegram = telegram.or(self.telegram.take());
    }
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

fn malformed(error: serde_json::Error) -> WebhookError {
    WebhookError::Malformed(error.to_string())
}

/// A header's value, if it is there and readable.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// `Authorization: Bearer <token>`.
fn bearer(token: &str) -> (String, String) {
    ("authorization".to_owned(), format!("Bearer {token}"))
}

/// Providers cap button titles; cut on a character boundary.
fn clip(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests;
