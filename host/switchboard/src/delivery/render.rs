//! One reply as each provider's send API wants it. Quick replies become
//! WhatsApp reply buttons (up to 3) or a list (up to 10), Messenger and
//! Instagram quick replies (up to 13), or a Telegram inline keyboard.

use serde_json::{Value, json};
use switchboard_core::contract::Channel;
use switchboard_core::conversation::OutsideWindow;

use super::OutboxEntry;
use crate::tenant::Tenant;

/// A provider API call, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

/// `None` when the tenant cannot send on this channel (any more).
pub fn request(tenant: &Tenant, entry: &OutboxEntry, seq: u64) -> Option<Request> {
    let channels = &tenant.channels;
    let idempotency = ("idempotency-key".to_owned(), format!("{}-{seq}", tenant.name));
    if let Some(card) = &entry.handoff {
        let hook = tenant.handoff_webhook.as_ref()?;
        let signature = ("x-switchboard-signature".to_owned(), sign(&hook.secret, &card.to_string()));
        return Some(Request {
            url: hook.url.clone(),
            headers: vec![signature, idempotency],
            body: card.clone(),
        });
    }
    match entry.channel {
        Channel::Whatsapp => {
            let config = channels.whatsapp.as_ref()?;
            Some(Request {
                url: format!("{}/{}/messages", config.api_base, config.phone_number_id.as_deref()?),
                headers: vec![bearer(config.access_token.as_deref()?), idempotency],
                body: whatsapp(entry),
            })
        }
        Channel::Messenger | Channel::Instagram => {
            let config = if entry.channel == Channel::Messenger {
                channels.messenger.as_ref()?
            } else {
                channels.instagram.as_ref()?
            };
            Some(Request {
                url: format!("{}/me/messages", config.api_base),
                headers: vec![bearer(config.access_token.as_deref()?), idempotency],
                body: meta(entry),
            })
        }
        Channel::Telegram => {
            let config = channels.telegram.as_ref()?;
            Some(Request {
                url: format!("{}/bot{}/sendMessage", config.api_base, config.bot_token.as_deref()?),
                headers: vec![idempotency],
                body: telegram(entry),
            })
        }
        Channel::Webchat | Channel::Internal => None,
    }
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`, over the exact bytes sent
/// (the client sends `body.to_string()`).
fn sign(secret: &str, body: &str) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else { return String::new() };
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn bearer(token: &str) -> (String, String) {
    ("authorization".to_owned(), format!("Bearer {token}"))
}

/// Providers cap button titles; cut on a character boundary.
fn clip(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

fn whatsapp(entry: &OutboxEntry) -> Value {
    let options = &entry.quick_replies;
    let common = |kind: &str, payload: Value| {
        let mut body = json!({ "messaging_product": "whatsapp", "recipient_type": "individual", "to": entry.to, "type": kind });
        body[kind] = payload;
        body
    };
    if let Some(OutsideWindow::Template { name, language }) = &entry.outside_window {
        // The template's body takes the message as its one parameter; its
        // quick-reply buttons (declared in the template) carry our payloads.
        let body = json!({ "type": "body", "parameters": [{ "type": "text", "text": entry.text }] });
        let buttons = options.iter().take(3).enumerate().map(|(index, option)| {
            json!({
                "type": "button", "sub_type": "quick_reply", "index": index.to_string(),
                "parameters": [{ "type": "payload", "payload": option.payload }]
            })
        });
        let components: Vec<Value> = std::iter::once(body).chain(buttons).collect();
        return common(
            "template",
            json!({ "name": name, "language": { "code": language }, "components": components }),
        );
    }
    match options.len() {
        0 => common("text", json!({ "body": entry.text })),
        1..=3 => common(
            "interactive",
            json!({
                "type": "button",
                "body": { "text": entry.text },
                "action": { "buttons": options.iter().map(|option| json!({
                    "type": "reply", "reply": { "id": option.payload, "title": clip(&option.title, 20) }
                })).collect::<Vec<_>>() }
            }),
        ),
        _ => common(
            "interactive",
            json!({
                "type": "list",
                "body": { "text": entry.text },
                "action": {
                    "button": "Options",
                    "sections": [{ "title": "Options", "rows": options.iter().take(10).map(|option| json!({
                        "id": option.payload, "title": clip(&option.title, 24)
                    })).collect::<Vec<_>>() }]
                }
            }),
        ),
    }
}

fn meta(entry: &OutboxEntry) -> Value {
    let mut message = json!({ "text": entry.text });
    if !entry.quick_replies.is_empty() {
        message["quick_replies"] = entry
            .quick_replies
            .iter()
            .take(13)
            .map(|option| json!({ "content_type": "text", "title": clip(&option.title, 20), "payload": option.payload }))
            .collect();
    }
    match &entry.outside_window {
        Some(OutsideWindow::Tag(tag)) => json!({
            "recipient": { "id": entry.to }, "messaging_type": "MESSAGE_TAG", "tag": tag, "message": message
        }),
        _ => json!({ "recipient": { "id": entry.to }, "messaging_type": "RESPONSE", "message": message }),
    }
}

fn telegram(entry: &OutboxEntry) -> Value {
    let mut body = json!({ "chat_id": entry.to, "text": entry.text });
    if !entry.quick_replies.is_empty() {
        // callback_data is limited to 64 bytes.
        let rows: Vec<Value> = entry
            .quick_replies
            .iter()
            .map(|option| {
                let mut data = option.payload.clone();
                while data.len() > 64 {
                    data.pop();
                }
                json!([{ "text": option.title, "callback_data": data }])
            })
            .collect();
        body["reply_markup"] = json!({ "inline_keyboard": rows });
    }
    body
}

#[cfg(test)]
mod tests {
    use switchboard_core::contract::QuickReply;

    use super::*;

    fn entry(channel: Channel, options: usize) -> OutboxEntry {
        OutboxEntry {
            conversation: "c".to_owned(),
            channel,
            to: "37491000001".to_owned(),
            text: "Насколько срочно?".to_owned(),
            quick_replies: (1..=options)
                .map(|n| QuickReply {
                    title: format!("Option number {n} with a long title"),
                    payload: format!("p{n}"),
                })
                .collect(),
            outside_window: None,
            handoff: None,
            attempts: 0,
            not_before: 0,
            last_tried: 0,
            window_until: None,
            locale: "ru".to_owned(),
            parked_because: None,
        }
    }

    #[test]
    fn outside_the_window_whatsapp_sends_a_template_and_meta_a_tag() {
        let template = OutsideWindow::Template { name: "visit_reminder".into(), language: "ru".into() };
        let reminder = OutboxEntry { outside_window: Some(template), ..entry(Channel::Whatsapp, 2) };
        let body = whatsapp(&reminder);
        assert_eq!(body["type"], "template");
        assert_eq!(body["template"]["name"], "visit_reminder");
        assert_eq!(body["template"]["language"]["code"], "ru");
        assert_eq!(body["template"]["components"][0]["parameters"][0]["text"], "Насколько срочно?");
        assert_eq!(body["template"]["components"][2]["parameters"][0]["payload"], "p2");

        let tagged = OutboxEntry {
            outside_window: Some(OutsideWindow::Tag("CONFIRMED_EVENT_UPDATE".into())),
            ..entry(Channel::Messenger, 0)
        };
        let body = meta(&tagged);
        assert_eq!(body["messaging_type"], "MESSAGE_TAG");
        assert_eq!(body["tag"], "CONFIRMED_EVENT_UPDATE");
    }

    #[test]
    fn whatsapp_uses_text_buttons_or_a_list() {
        assert_eq!(whatsapp(&entry(Channel::Whatsapp, 0))["text"]["body"], "Насколько срочно?");
        let buttons = whatsapp(&entry(Channel::Whatsapp, 3));
        assert_eq!(buttons["interactive"]["type"], "button");
        assert_eq!(
            buttons["interactive"]["action"]["buttons"][2]["reply"],
            json!({ "id": "p3", "title": "Option number 3 with" })
        );
        let list = whatsapp(&entry(Channel::Whatsapp, 12));
        assert_eq!(list["interactive"]["type"], "list");
        assert_eq!(list["interactive"]["action"]["sections"][0]["rows"].as_array().map(Vec::len), Some(10));
    }

    #[test]
    fn messenger_quick_replies_and_telegram_keyboards() {
        let messenger = meta(&entry(Channel::Messenger, 2));
        assert_eq!(messenger["recipient"]["id"], "37491000001");
        assert_eq!(messenger["message"]["quick_replies"][1]["payload"], "p2");
        let telegram = telegram(&entry(Channel::Telegram, 2));
        assert_eq!(telegram["reply_markup"]["inline_keyboard"][0][0]["callback_data"], "p1");
        assert_eq!(telegram["chat_id"], "37491000001");
    }
}
