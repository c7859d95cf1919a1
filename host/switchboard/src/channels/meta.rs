//! Messenger (`object: page`) and Instagram (`object: instagram`) webhooks:
//! `entry[].messaging[]` with `sender.id`, `message{mid, text, quick_reply}`
//! and `postback`. Echoes of the page's own messages are ignored.

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
