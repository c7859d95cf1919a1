//! What Meta's three channels share. WhatsApp, Messenger and Instagram are
//! all Graph API apps: one kind of credentials ([`MetaSecrets`]), deliveries
//! signed with the app secret (`X-Hub-Signature-256`), and a subscription
//! handshake (`hub.verify_token`). Messenger and Instagram also share a
//! format: webhooks of `entry[].messaging[]` with `sender.id`,
//! `message{mid, text, quick_reply}` and `postback` (echoes of the page's own
//! messages are ignored), and the Send API's `/me/messages` body.
//!
//! The providers (`whatsapp.rs`, `messenger.rs`, `instagram.rs`) each pick
//! their own credentials and limits and call these.

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use switchboard_core::conversation::OutsideWindow;

use super::{
    Delivery, Handshake, Outgoing, ProviderMessage, ProviderStatus, Request, WebhookError, bearer, clip,
    header, malformed, non_empty_secret,
};

/// A Meta channel's credentials, `[channels.whatsapp]`, `[channels.messenger]`
/// or `[channels.instagram]` in tenant.toml.
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

fn app_secret<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    non_empty_secret(deserializer, "app_secret")
}

fn verify_token<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    non_empty_secret(deserializer, "verify_token")
}

fn graph_api() -> String {
    "https://graph.facebook.com/v21.0".to_owned()
}

/// Parse `given` into a channel's credentials.
pub(super) fn put(slot: &mut Option<MetaSecrets>, given: Value) -> Result<(), serde_json::Error> {
    *slot = Some(serde_json::from_value(given)?);
    Ok(())
}

/// Which fields are set, never the secrets themselves.
pub(super) fn describe(secrets: &MetaSecrets) -> Value {
    let mut set = vec!["app_secret", "verify_token"];
    set.extend(secrets.access_token.as_ref().map(|_| "access_token"));
    json!({
        "set": set, "phone_number_id": secrets.phone_number_id, "api_base": secrets.api_base,
        "window_fallback": secrets.window_fallback,
    })
}

/// `GET …?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`: the
/// challenge, echoed, only for the right token.
pub(super) fn handshake(secrets: Option<&MetaSecrets>, query: &HashMap<String, String>) -> Handshake {
    let Some(secrets) = secrets else { return Handshake::Unavailable };
    let given = query.get("hub.verify_token").map(String::as_str).unwrap_or_default();
    let subscribing = query.get("hub.mode").map(String::as_str) == Some("subscribe");
    if subscribing && bool::from(given.as_bytes().ct_eq(secrets.verify_token.as_bytes())) {
        Handshake::Accepted(query.get("hub.challenge").cloned().unwrap_or_default())
    } else {
        Handshake::Refused
    }
}

/// A delivery signed with the channel's app secret.
pub(super) fn verify(
    secrets: Option<&MetaSecrets>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), WebhookError> {
    let secrets = secrets.ok_or(WebhookError::BadSignature)?;
    verify_meta_signature(&secrets.app_secret, header(headers, "x-hub-signature-256"), body)
}

/// Check `X-Hub-Signature-256: sha256=<hex>` against the raw body.
pub(super) fn verify_meta_signature(
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

/// Messenger and Instagram: the Send API call for one reply.
pub(super) fn send_api_request(secrets: &MetaSecrets, message: &Outgoing<'_>) -> Option<Request> {
    Some(Request {
        url: format!("{}/me/messages", secrets.api_base),
        headers: vec![bearer(secrets.access_token.as_deref()?)],
        body: send_api_body(message),
    })
}

/// The Send API's calls per second per page or account (Messenger,
/// Instagram): "a few hundred" in Meta's words.
pub(super) const SEND_API_PER_SECOND: u32 = 250;

/// Quick replies one Messenger or Instagram message shows.
pub(super) const QUICK_REPLIES: usize = 13;
/// Characters of a quick reply's title.
pub(super) const QUICK_REPLY_TITLE: usize = 20;

/// The Send API body: the text with its quick replies, as a `RESPONSE`, or
/// under the message tag the reply goes out with once the window closed.
pub(super) fn send_api_body(message: &Outgoing<'_>) -> Value {
    let mut body = json!({ "text": message.text });
    if !message.quick_replies.is_empty() {
        body["quick_replies"] = message
            .quick_replies
            .iter()
            .take(QUICK_REPLIES)
            .map(|option| json!({ "content_type": "text", "title": clip(&option.title, QUICK_REPLY_TITLE), "payload": option.payload }))
            .collect();
    }
    match message.outside_window {
        Some(OutsideWindow::Tag(tag)) => json!({
            "recipient": { "id": message.to }, "messaging_type": "MESSAGE_TAG", "tag": tag, "message": body
        }),
        _ => json!({ "recipient": { "id": message.to }, "messaging_type": "RESPONSE", "message": body }),
    }
}

#[derive(Deserialize)]
struct Payload {
    object: String,
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    messaging: Vec<Messaging>,
}

#[derive(Deserialize)]
struct Messaging {
    sender: Party,
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(default)]
    message: Option<Message>,
    #[serde(default)]
    postback: Option<Postback>,
    #[serde(default)]
    delivery: Option<serde_json::Value>,
    #[serde(default)]
    read: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Party {
    id: String,
}

#[derive(Deserialize)]
struct Message {
    mid: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    quick_reply: Option<QuickReply>,
    #[serde(default)]
    is_echo: bool,
    #[serde(default)]
    attachments: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct QuickReply {
    payload: String,
}

#[derive(Deserialize)]
struct Postback {
    #[serde(default)]
    mid: Option<String>,
    title: String,
    payload: String,
}

/// A Messenger-format delivery whose `object` must be `object`.
pub(super) fn parse(body: &[u8], object: &'static str) -> Result<Delivery, WebhookError> {
    let payload: Payload = serde_json::from_slice(body).map_err(malformed)?;
    if payload.object != object {
        return Err(WebhookError::WrongObject { expected: object, found: payload.object });
    }
    let mut delivery = Delivery::default();
    for event in payload.entry.into_iter().flat_map(|entry| entry.messaging) {
        if let Some(receipt) = &event.delivery {
            // `delivery.mids` lists the messages delivered (Messenger sends it; Instagram may not).
            let mids = receipt.get("mids").and_then(|mids| mids.as_array()).cloned().unwrap_or_default();
            for mid in mids.iter().filter_map(|mid| mid.as_str()) {
                delivery.statuses.push(ProviderStatus {
                    message_id: mid.to_owned(),
                    recipient: event.sender.id.clone(),
                    status: "delivered".to_owned(),
                    error: None,
                });
            }
            continue;
        }
        if event.read.is_some() {
            // A read watermark names no message; nothing to attach it to.
            continue;
        }
        let from = event.sender.id;
        let at = event.timestamp;
        if let Some(message) = event.message {
            if message.is_echo {
                continue;
            }
            match message.text {
                Some(text) => delivery.messages.push(ProviderMessage {
                    id: message.mid,
                    from,
                    display_name: None,
                    text,
                    payload: message.quick_reply.map(|reply| reply.payload),
                    at,
                }),
                None if !message.attachments.is_empty() => {
                    delivery.messages.push(super::unsupported(message.mid, from, None, "attachment", at));
                    delivery.unsupported.push("attachment".to_owned());
                }
                None => delivery.unsupported.push("empty".to_owned()),
            }
        } else if let Some(postback) = event.postback {
            // Postbacks have no mid on older API versions; the time makes one.
            let id = postback.mid.unwrap_or_else(|| format!("postback:{from}:{}", at.unwrap_or_default()));
            delivery.messages.push(ProviderMessage {
                id,
                from,
                display_name: None,
                text: postback.title,
                payload: Some(postback.payload),
                at,
            });
        }
    }
    Ok(delivery)
}
