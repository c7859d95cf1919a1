//! `GET /v1/tenants/{tenant}/chat/{session}/ws`: the web chat over a
//! WebSocket. The visitor sends `{"text", "payload", "message_id"}`; every
//! reply committed for them arrives as `{"type": "reply", "text",
//! "quick_replies"}`, whether the bot answered, an agent wrote, or a timer
//! fired. The session id is the widget's token, so a reload reconnects to
//! the same conversation. `POST /v1/tenants/{tenant}/messages` is the fallback.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use switchboard_core::contract::{Channel, Contact};

use super::{now, web_session};
use crate::engine::InboundMessage;
use crate::server::rate::ClientAddr;
use crate::server::{AppError, AppState, ErrorBody};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Said {
    #[serde(default)]
    text: String,
    #[serde(default)]
    payload: Option<String>,
    #[serde(default)]
    message_id: Option<String>,
    #[serde(default)]
    locale: Option<String>,
}

/// Frames bigger than a message could be are refused.
const MAX_FRAME_BYTES: usize = 16 << 10;

#[utoipa::path(get, path = "/v1/tenants/{tenant}/chat/{session}/ws", tag = "web chat",
    params(("tenant" = String, Path), ("session" = String, Path, description = "The widget's session token")),
    responses((status = 101, description = "Switching to the WebSocket protocol"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn chat(
    State(state): State<AppState>,
    Path((tenant, session)): Path<(String, String)>,
    client: ClientAddr,
    upgrade: WebSocketUpgrade,
) -> Result<Response, AppError> {
    super::web_chat_served(&state, &tenant)?;
    let identity = web_session(&session)?;
    Ok(upgrade
        .max_message_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| serve(socket, state, tenant, identity, client)))
}

async fn serve(mut socket: WebSocket, state: AppState, tenant: String, identity: String, client: ClientAddr) {
    let mut live = state.engine.subscribe(&tenant, &identity);
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let Some(Ok(frame)) = incoming else { return };
                let reply = match frame {
                    Message::Text(text) => handle(&state, &tenant, &identity, client, text.as_str()).await,
                    Message::Close(_) => return,
                    _ => continue,
                };
                if let Some(error) = reply
                    && socket.send(Message::text(error.to_string())).await.is_err()
                {
                    return;
                }
            }
            pushed = live.recv() => {
                let Some(pushed) = pushed else { return };
                let frame = json!({
                    "type": "reply", "text": pushed.text, "quick_replies": pushed.quick_replies,
                });
                if socket.send(Message::text(frame.to_string())).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// One visitor message through the engine; its replies come back through
/// the live feed. An error frame, if it could not be handled.
async fn handle(
    state: &AppState,
    tenant: &str,
    identity: &str,
    client: ClientAddr,
    frame: &str,
) -> Option<serde_json::Value> {
    let error = |code: &str, message: String| {
        Some(json!({ "type": "error", "error": { "code": code, "message": message } }))
    };
    let said: Said = match serde_json::from_str(frame) {
        Ok(said) => said,
        Err(problem) => return error("bad_json", problem.to_string()),
    };
    if said.text.trim().is_empty() && said.payload.is_none() {
        return error("bad_request", "a message needs text or a payload".to_owned());
    }
    if let Err(refused) = super::check_length(&said.text) {
        return error(refused.code, refused.message);
    }
    let own_rate = state.engine.tenant(tenant).ok().and_then(|found| found.quotas.web_chat_per_minute);
    if let Err(limited) = state.web_chat_limits.check(client.0, tenant, own_rate) {
        let refused = super::AppError::from(limited);
        return error(refused.code, refused.message);
    }
    let message = InboundMessage {
        channel: Channel::Webchat,
        contact: Contact {
            id: identity.to_owned(),
            display_name: None,
            locale: said.locale.unwrap_or_else(|| "en".to_owned()),
        },
        text: said.text,
        payload: said.payload,
        message_id: said.message_id,
        at: now(),
    };
    let tenant = tenant.to_owned();
    match state.engine.handle_async(tenant, message).await.map_err(super::AppError::from) {
        Ok(_) => None,
        Err(failure) => error(failure.code, failure.message),
    }
}
