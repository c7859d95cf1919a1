//! Telegram Bot API updates: `update_id` with `message` or `callback_query`.

use serde::Deserialize;

use super::{Delivery, ProviderMessage, WebhookError, malformed};

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
