//! Telegram, through the Bot API. A bot's webhook (set with `setWebhook`,
//! no handshake) receives `Update`s; replies go through `sendMessage`, with
//! quick replies as an inline keyboard.

use http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use switchboard_core::contract::Channel;

use super::{
    Burst, ChannelSecrets, Delivery, Limits, Outgoing, Provider, ProviderMessage, Rate, Request,
    WebhookError, header, malformed, non_empty_secret,
};

/// Telegram's documented limits: 4,096 characters of text, buttons titled
/// in 64 (any number of rows), 30 messages/s per bot and about one per
/// second per chat, with a short burst.
pub(super) const LIMITS: Limits = Limits {
    text_chars: Some(4096),
    buttons: None,
    button_title_chars: Some(64),
    rate: Some(Rate { per_sender: 30, per_recipient: Some(Burst { per_second: 1, burst: 3 }) }),
};

/// Bytes of a button's `callback_data`.
const CALLBACK_DATA_BYTES: usize = 64;

/// A bot's credentials, `[channels.telegram]` in tenant.toml.
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

fn secret_token<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    non_empty_secret(deserializer, "secret_token")
}

fn telegram_api() -> String {
    "https://api.telegram.org".to_owned()
}

pub(super) struct Telegram;

impl Provider for Telegram {
    fn channel(&self) -> Channel {
        Channel::Telegram
    }

    fn limits(&self) -> Limits {
        LIMITS
    }

    fn takes_credentials(&self) -> bool {
        true
    }

    fn configured(&self, secrets: &ChannelSecrets) -> bool {
        secrets.telegram.is_some()
    }

    fn put_secrets(&self, secrets: &mut ChannelSecrets, given: Value) -> Result<(), serde_json::Error> {
        secrets.telegram = Some(serde_json::from_value(given)?);
        Ok(())
    }

    fn describe_secrets(&self, secrets: &ChannelSecrets) -> Option<Value> {
        let secrets = secrets.telegram.as_ref()?;
        let mut set = vec!["secret_token"];
        set.extend(secrets.bot_token.as_ref().map(|_| "bot_token"));
        Some(json!({ "set": set, "api_base": secrets.api_base }))
    }

    fn has_webhook(&self) -> bool {
        true
    }

    fn verify(
        &self,
        secrets: &ChannelSecrets,
        headers: &HeaderMap,
        _body: &[u8],
    ) -> Result<(), WebhookError> {
        let secrets = secrets.telegram.as_ref().ok_or(WebhookError::BadSignature)?;
        verify_telegram_secret(&secrets.secret_token, header(headers, "x-telegram-bot-api-secret-token"))
    }

    fn parse(&self, body: &[u8]) -> Result<Delivery, WebhookError> {
        parse(body)
    }

    fn can_send(&self, secrets: &ChannelSecrets) -> bool {
        secrets.telegram.as_ref().is_some_and(|secrets| secrets.bot_token.is_some())
    }

    fn request(&self, secrets: &ChannelSecrets, message: &Outgoing<'_>) -> Option<Request> {
        let config = secrets.telegram.as_ref()?;
        Some(Request {
            url: format!("{}/bot{}/sendMessage", config.api_base, config.bot_token.as_deref()?),
            headers: Vec::new(),
            body: body(message),
        })
    }

    // The sender is the tenant's one bot: the default, no name.
}

/// Check `X-Telegram-Bot-Api-Secret-Token`.
pub(super) fn verify_telegram_secret(expected: &str, header: Option<&str>) -> Result<(), WebhookError> {
    let given = header.unwrap_or_default();
    if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) && !expected.is_empty() {
        Ok(())
    } else {
        Err(WebhookError::BadSignature)
    }
}

/// The body of `sendMessage` for one reply.
pub(super) fn body(message: &Outgoing<'_>) -> Value {
    let mut body = json!({ "chat_id": message.to, "text": message.text });
    if !message.quick_replies.is_empty() {
        let rows: Vec<Value> = message
            .quick_replies
            .iter()
            .map(|option| {
                let mut data = option.payload.clone();
                while data.len() > CALLBACK_DATA_BYTES {
                    data.pop();
                }
                json!([{ "text": option.title, "callback_data": data }])
            })
            .collect();
        body["reply_markup"] = json!({ "inline_keyboard": rows });
    }
    body
}

#[derive(Deserialize)]
struct Update {
    update_id: i64,
    #[serde(default)]
    message: Option<Message>,
    #[serde(default)]
    callback_query: Option<CallbackQuery>,
}

#[derive(Deserialize)]
struct Message {
    chat: Chat,
    #[serde(default)]
    from: Option<User>,
    #[serde(default)]
    date: Option<i64>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    caption: Option<String>,
}

#[derive(Deserialize)]
struct Chat {
    id: i64,
}

#[derive(Deserialize)]
struct User {
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
}

#[derive(Deserialize)]
struct CallbackQuery {
    from: CallbackUser,
    #[serde(default)]
    message: Option<Message>,
    #[serde(default)]
    data: Option<String>,
}

#[derive(Deserialize)]
struct CallbackUser {
    id: i64,
    #[serde(default)]
    first_name: Option<String>,
}

/// An `Update`: `update_id` with `message` or `callback_query`.
pub(super) fn parse(body: &[u8]) -> Result<Delivery, WebhookError> {
    let update: Update = serde_json::from_slice(body).map_err(malformed)?;
    let mut delivery = Delivery::default();
    let id = update.update_id.to_string();
    if let Some(message) = update.message {
        let display_name = message.from.as_ref().and_then(|user| {
            let name = [user.first_name.as_deref(), user.last_name.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            (!name.is_empty()).then_some(name)
        });
        match message.text.or(message.caption) {
            Some(text) => delivery.messages.push(ProviderMessage {
                id,
                from: message.chat.id.to_string(),
                display_name,
                text,
                payload: None,
                at: message.date.map(|seconds| seconds * 1000),
            }),
            None => {
                let (from, at) = (message.chat.id.to_string(), message.date.map(|seconds| seconds * 1000));
                delivery.messages.push(super::unsupported(id, from, display_name, "message", at));
                delivery.unsupported.push("message".to_owned());
            }
        }
    } else if let Some(callback) = update.callback_query {
        // The chat of the message whose keyboard was tapped; a private chat's id is the user's.
        let chat = callback.message.as_ref().map_or(callback.from.id, |message| message.chat.id);
        let data = callback.data.unwrap_or_default();
        delivery.messages.push(ProviderMessage {
            id,
            from: chat.to_string(),
            display_name: callback.from.first_name,
            text: data.clone(),
            payload: Some(data),
            at: None,
        });
    } else {
        delivery.unsupported.push("update".to_owned());
    }
    Ok(delivery)
}
