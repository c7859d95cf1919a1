//! Provider webhooks: `GET` answers Meta's subscription handshake, `POST`
//! takes a delivery. A delivery is checked (tenant, channel, signature on the
//! raw bytes, shape) before anything is stored, and acknowledged only after
//! every message in it has been handled and flushed. A provider's retry of a
//! message already handled is recognised by its id and answered once only.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use switchboard_core::contract::{Channel, Contact, Identity};
use switchboard_core::event::EventBody;

use super::{AppError, AppState, ErrorBody};
use crate::channels::{self, Handshake, Provider, WebhookError};
use crate::engine::{EngineError, InboundMessage};

/// The provider behind `/webhooks/{tenant}/{name}`, if its channel has a webhook.
fn provider(name: &str) -> Result<&'static dyn Provider, AppError> {
    let unknown = || {
        AppError::new(StatusCode::NOT_FOUND, "unknown_channel", format!("no webhook for channel {name:?}"))
    };
    let provider = channels::provider(name.parse().map_err(|_| unknown())?);
    if provider.has_webhook() { Ok(provider) } else { Err(unknown()) }
}

fn not_configured(channel: Channel) -> AppError {
    AppError::new(
        StatusCode::NOT_FOUND,
        "channel_not_configured",
        format!("this tenant has no {channel} channel"),
    )
}

/// `GET /webhooks/{tenant}/{channel}?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`
#[utoipa::path(get, path = "/webhooks/{tenant}/{channel}", tag = "providers",
    params(("tenant" = String, Path), ("channel" = String, Path, description = "`whatsapp`, `messenger` or `instagram`")),
    responses((status = 200, description = "The `hub.challenge`, echoed", body = String, content_type = "text/plain"), (status = 403, body = ErrorBody)))]
pub async fn verify(
    State(state): State<AppState>,
    Path((tenant, channel_name)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<String, AppError> {
    let provider = provider(&channel_name)?;
    let tenant = state.engine.tenant(&tenant)?;
    match provider.handshake(&tenant.channels, &query) {
        Handshake::Accepted(challenge) => Ok(challenge),
        Handshake::Refused => {
            Err(AppError::new(StatusCode::FORBIDDEN, "bad_verify_token", "the verify token does not match"))
        }
        Handshake::Unavailable => Err(not_configured(provider.channel())),
    }
}

/// `POST /webhooks/{tenant}/{channel}`
#[utoipa::path(post, path = "/webhooks/{tenant}/{channel}", tag = "providers",
    params(("tenant" = String, Path), ("channel" = String, Path, description = "`whatsapp`, `messenger`, `instagram` or `telegram`")),
    request_body(content = Object, description = "The provider's own payload, signed"),
    responses((status = 200, description = "`{received, duplicates, statuses, unsupported}`", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn receive(
    State(state): State<AppState>,
    Path((tenant_name, channel_name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    let provider = provider(&channel_name)?;
    let channel = provider.channel();
    let tenant = state.engine.tenant(&tenant_name)?;
    if !provider.configured(&tenant.channels) {
        return Err(not_configured(channel));
    }
    let rejected = |error: WebhookError| {
        let error = webhook_error(error);
        crate::telemetry::webhook_rejected(channel.as_str(), error.code);
        error
    };
    provider.verify(&tenant.channels, &headers, &body).map_err(rejected)?;
    let delivery = provider.parse(&body).map_err(rejected)?;

    let engine = state.engine.clone();
    let now = jiff::Timestamp::now().as_millisecond();
    let messages = delivery.messages;
    let statuses = delivery.statuses;
    let status_count = statuses.len();
    let number_changes = delivery.number_changes;
    // One of the tenant's slots on the blocking pool, waited for here: a
    // flood of deliveries to one tenant queues behind its own slots.
    let slot = engine.slot(&tenant_name).await;
    let (received, duplicates) = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let (mut received, mut duplicates) = (0, 0);
        for (old, new) in number_changes {
            let (old, new) = (old.to_string(), new.to_string());
            match engine.link_identity(&tenant_name, &new, &old, "user_changed_number", now) {
                Ok(()) | Err(EngineError::UnknownConversation { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        for status in statuses {
            let dedupe = format!("status:{}:{}", status.message_id, status.status);
            let body = EventBody::MessageStatus {
                provider_id: status.message_id,
                status: status.status,
                error: status.error,
            };
            engine.record_status(&tenant_name, channel, &status.recipient, body, &dedupe, now)?;
        }
        let inbound: Vec<InboundMessage> = messages
            .into_iter()
            .map(|message| InboundMessage {
                channel,
                contact: Contact {
                    id: Identity::new(channel, message.from).to_string(),
                    display_name: message.display_name,
                    locale: String::new(),
                },
                text: message.text,
                payload: message.payload,
                message_id: Some(message.id),
                at: now,
            })
            .collect();
        // A batched webhook's messages share one disk sync.
        for outcome in engine.handle_many(&tenant_name, inbound)? {
            if outcome.duplicate {
                duplicates += 1;
            } else {
                received += 1;
            }
        }
        Ok::<_, crate::engine::EngineError>((received, duplicates))
    })
    .await??;
    Ok(Json(json!({
        "received": received,
        "duplicates": duplicates,
        "statuses": status_count,
        "unsupported": delivery.unsupported,
    })))
}

fn webhook_error(error: WebhookError) -> AppError {
    match error {
        WebhookError::BadSignature => {
            AppError::new(StatusCode::UNAUTHORIZED, "bad_signature", error.to_string())
        }
        WebhookError::Malformed(_) | WebhookError::WrongObject { .. } => {
            AppError::new(StatusCode::BAD_REQUEST, "bad_payload", error.to_string())
        }
    }
}
