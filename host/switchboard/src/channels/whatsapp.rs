//! WhatsApp Cloud API webhooks: `entry[].changes[].value` with `metadata`,
//! `contacts[]`, `messages[]` and `statuses[]`.

use serde::Deserialize;

use super::{Delivery, ProviderMessage, ProviderStatus, WebhookError, malformed};

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
                        delivery.number_changes.push((message.from, new));
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
