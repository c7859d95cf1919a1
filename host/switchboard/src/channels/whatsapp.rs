//! WhatsApp, through the Cloud API. Webhooks are `entry[].changes[].value`
//! with `metadata`, `contacts[]`, `messages[]` and `statuses[]`; replies go
//! to `/{phone-number-id}/messages` as text, reply buttons (up to 3), a list
//! (up to 10 rows), or after the 24 h window an approved template.

use std::collections::HashMap;

use http::HeaderMap;
use serde::Deserialize;
use serde_json::json;
use switchboard_core::contract::{Channel, Identity};
use switchboard_core::conversation::OutsideWindow;

use super::meta::{self, MetaSecrets};
use super::{
    ChannelSecrets, Delivery, Handshake, Limits, Outgoing, Provider, ProviderMessage, ProviderStatus, Rate,
    Request, WebhookError, bearer, clip, malformed,
};

/// WhatsApp's documented limits: a text body of 4,096 characters, reply
/// buttons titled in 20, a list of 10 rows, and 80 messages/s per sending
/// number (the Cloud API's default throughput).
pub(super) const LIMITS: Limits = Limits {
    text_chars: Some(4096),
    buttons: Some(LIST_ROWS),
    button_title_chars: Some(BUTTON_TITLE),
    rate: Some(Rate { per_sender: 80, per_recipient: None }),
};

/// Options shown as reply buttons; more become a list.
const BUTTONS: usize = 3;
/// Characters of a reply button's title.
const BUTTON_TITLE: usize = 20;
/// Rows a list shows.
const LIST_ROWS: usize = 10;
/// Characters of a list row's title.
const LIST_ROW_TITLE: usize = 24;

pub(super) struct Whatsapp;

impl Provider for Whatsapp {
    fn channel(&self) -> Channel {
        Channel::Whatsapp
    }

    fn limits(&self) -> Limits {
        LIMITS
    }

    fn takes_credentials(&self) -> bool {
        true
    }

    fn configured(&self, secrets: &ChannelSecrets) -> bool {
        secrets.whatsapp.is_some()
    }

    fn put_secrets(
        &self,
        secrets: &mut ChannelSecrets,
        given: serde_json::Value,
    ) -> Result<(), serde_json::Error> {
        meta::put(&mut secrets.whatsapp, given)
    }

    fn describe_secrets(&self, secrets: &ChannelSecrets) -> Option<serde_json::Value> {
        secrets.whatsapp.as_ref().map(meta::describe)
    }

    fn has_webhook(&self) -> bool {
        true
    }

    fn handshake(&self, secrets: &ChannelSecrets, query: &HashMap<String, String>) -> Handshake {
        meta::handshake(secrets.whatsapp.as_ref(), query)
    }

    fn verify(&self, secrets: &ChannelSecrets, headers: &HeaderMap, body: &[u8]) -> Result<(), WebhookError> {
        meta::verify(secrets.whatsapp.as_ref(), headers, body)
    }

    fn parse(&self, body: &[u8]) -> Result<Delivery, WebhookError> {
        parse(body)
    }

    fn can_send(&self, secrets: &ChannelSecrets) -> bool {
        secrets.whatsapp.as_ref().is_some_and(|c| c.access_token.is_some() && c.phone_number_id.is_some())
    }

    fn request(&self, secrets: &ChannelSecrets, message: &Outgoing<'_>) -> Option<Request> {
        let config: &MetaSecrets = secrets.whatsapp.as_ref()?;
        Some(Request {
            url: format!("{}/{}/messages", config.api_base, config.phone_number_id.as_deref()?),
            headers: vec![bearer(config.access_token.as_deref()?)],
            body: body(message),
        })
    }

    /// The sending number: the Cloud API's limit is per number.
    fn sender(&self, secrets: &ChannelSecrets) -> String {
        secrets.whatsapp.as_ref().and_then(|secrets| secrets.phone_number_id.clone()).unwrap_or_default()
    }

    fn messaging_window(&self) -> bool {
        true
    }

    /// An approved template, in the conversation's language.
    fn window_fallback(&self, secrets: &ChannelSecrets, locale: &str) -> Option<OutsideWindow> {
        let name = secrets.whatsapp.as_ref()?.window_fallback.clone()?;
        Some(OutsideWindow::Template { name, language: locale.to_owned() })
    }
}

/// The body of `/{phone-number-id}/messages` for one reply.
pub(super) fn body(message: &Outgoing<'_>) -> serde_json::Value {
    let options = message.quick_replies;
    let common = |kind: &str, payload: serde_json::Value| {
        let mut body = json!({ "messaging_product": "whatsapp", "recipient_type": "individual", "to": message.to, "type": kind });
        body[kind] = payload;
        body
    };
    if let Some(OutsideWindow::Template { name, language }) = message.outside_window {
        // The template's body takes the message as its one parameter; its
        // quick-reply buttons (declared in the template) carry our payloads.
        let body = json!({ "type": "body", "parameters": [{ "type": "text", "text": message.text }] });
        let buttons = options.iter().take(BUTTONS).enumerate().map(|(index, option)| {
            json!({
                "type": "button", "sub_type": "quick_reply", "index": index.to_string(),
                "parameters": [{ "type": "payload", "payload": option.payload }]
            })
        });
        let components: Vec<serde_json::Value> = std::iter::once(body).chain(buttons).collect();
        return common(
            "template",
            json!({ "name": name, "language": { "code": language }, "components": components }),
        );
    }
    match options.len() {
        0 => common("text", json!({ "body": message.text })),
        1..=BUTTONS => common(
            "interactive",
            json!({
                "type": "button",
                "body": { "text": message.text },
                "action": { "buttons": options.iter().map(|option| json!({
                    "type": "reply", "reply": { "id": option.payload, "title": clip(&option.title, BUTTON_TITLE) }
                })).collect::<Vec<_>>() }
            }),
        ),
        _ => common(
            "interactive",
            json!({
                "type": "list",
                "body": { "text": message.text },
                "action": {
                    "button": "Options",
                    "sections": [{ "title": "Options", "rows": options.iter().take(LIST_ROWS).map(|option| json!({
                        "id": option.payload, "title": clip(&option.title, LIST_ROW_TITLE)
                    })).collect::<Vec<_>>() }]
                }
            }),
        ),
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
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    value: Value,
}

#[derive(Deserialize)]
struct Value {
    #[serde(default)]
    contacts: Vec<Contact>,
    #[serde(default)]
    messages: Vec<Message>,
    #[serde(default)]
    statuses: Vec<Status>,
}

/// A receipt for a message we sent: `sent`, `delivered`, `read` or `failed`.
#[derive(Deserialize)]
struct Status {
    id: String,
    status: String,
    recipient_id: String,
    #[serde(default)]
    errors: Vec<StatusError>,
}

#[derive(Deserialize)]
struct StatusError {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    title: Option<String>,
}

#[derive(Deserialize)]
struct Contact {
    wa_id: String,
    #[serde(default)]
    profile: Option<Profile>,
}

#[derive(Deserialize)]
struct Profile {
    name: String,
}

#[derive(Deserialize)]
struct Message {
    id: String,
    from: String,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<Body>,
    #[serde(default)]
    interactive: Option<Interactive>,
    #[serde(default)]
    button: Option<Button>,
    #[serde(default)]
    image: Option<Media>,
    #[serde(default)]
    video: Option<Media>,
    #[serde(default)]
    document: Option<Media>,
    #[serde(default)]
    system: Option<System>,
}

/// A notice from WhatsApp itself, such as `user_changed_number`.
#[derive(Deserialize)]
struct System {
    #[serde(rename = "type", default)]
    kind: String,
    /// The customer's new WhatsApp id.
    #[serde(default)]
    wa_id: Option<String>,
}

#[derive(Deserialize)]
struct Body {
    body: String,
}

#[derive(Deserialize)]
struct Interactive {
    #[serde(default)]
    button_reply: Option<Reply>,
    #[serde(default)]
    list_reply: Option<Reply>,
}

#[derive(Deserialize)]
struct Reply {
    id: String,
    title: String,
}

/// A tap on a template's quick-reply button.
#[derive(Deserialize)]
struct Button {
    #[serde(default)]
    payload: Option<String>,
    text: String,
}

#[derive(Deserialize)]
struct Media {
    #[serde(default)]
    caption: Option<String>,
}

/// A Cloud API delivery.
pub(super) fn parse(body: &[u8]) -> Result<Delivery, WebhookError> {
    let payload: Payload = serde_json::from_slice(body).map_err(malformed)?;
    if payload.object != "whatsapp_business_account" {
        return Err(WebhookError::WrongObject {
            expected: "whatsapp_business_account",
            found: payload.object,
        });
    }
    let mut delivery = Delivery::default();
    for value in payload.entry.into_iter().flat_map(|entry| entry.changes).map(|change| change.value) {
        delivery.statuses.extend(value.statuses.into_iter().map(|status| {
            let error = status.errors.first().map(|error| {
                let title = error.title.clone().unwrap_or_else(|| "failed".to_owned());
                error.code.map_or(title.clone(), |code| format!("{code}: {title}"))
            });
            ProviderStatus {
                message_id: status.id,
                recipient: status.recipient_id,
                status: status.status,
                error,
            }
        }));
        for message in value.messages {
            let display_name = value
                .contacts
                .iter()
                .find(|contact| contact.wa_id == message.from)
                .and_then(|contact| contact.profile.as_ref().map(|profile| profile.name.clone()));
            let at = message
                .timestamp
                .as_deref()
                .and_then(|seconds| seconds.parse::<i64>().ok())
                .map(|s| s * 1000);
            let (text, payload) = match message.kind.as_str() {
                "text" => (message.text.map(|text| text.body), None),
                "interactive" => {
                    let reply = message
                        .interactive
                        .and_then(|interactive| interactive.button_reply.or(interactive.list_reply));
                    match reply {
                        Some(reply) => (Some(reply.title), Some(reply.id)),
                        None => (None, None),
                    }
                }
                "button" => match message.button {
                    Some(button) => (Some(button.text), button.payload),
                    None => (None, None),
                },
                "image" | "video" | "document" => {
                    let media = message.image.or(message.video).or(message.document);
                    (media.and_then(|media| media.caption), None)
                }
                "system" => {
                    if let Some(System { kind, wa_id: Some(new) }) = message.system
                        && kind == "user_changed_number"
                    {
                        let (old, new) = (
                            Identity::new(Channel::Whatsapp, message.from),
                            Identity::new(Channel::Whatsapp, new),
                        );
                        delivery.number_changes.push((old, new));
                    }
                    continue;
                }
                _ => (None, None),
            };
            match text {
                Some(text) => delivery.messages.push(ProviderMessage {
                    id: message.id,
                    from: message.from,
                    display_name,
                    text,
                    payload,
                    at,
                }),
                None => {
                    let polite =
                        super::unsupported(message.id, message.from, display_name, &message.kind, at);
                    delivery.messages.push(polite);
                    delivery.unsupported.push(message.kind);
                }
            }
        }
    }
    Ok(delivery)
}
