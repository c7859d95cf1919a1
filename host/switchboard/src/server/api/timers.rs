//! A conversation's pending timers: list them, set one, cancel one.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value as JsonValue, json};

use super::{blocking, now};
use crate::server::auth::AgentAuth;
use crate::server::wire::Turn;
use crate::server::{AppError, AppState, ErrorBody};

/// `GET .../conversations/{id}/timers`: pending timers, soonest first.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/conversations/{id}/timers", tag = "timers", security(("bearer" = [])), params(("tenant" = String, Path, description = "The tenant's name"), ("id" = String, Path, description = "The conversation, e.g. `whatsapp:37491000001`")),
    responses((status = 200, description = "`{\"timers\": [{key, kind, due_at, cancel_on_reply}]}`, soonest first", body = Object), (status = 401, description = "Missing or wrong bearer token", body = ErrorBody), (status = 404, description = "Unknown tenant or conversation", body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    AgentAuth { name: tenant, .. }: AgentAuth,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<JsonValue>, AppError> {
    let found = blocking(&state, move |engine| engine.conversation(&tenant, &id)).await?;
    let Some(stored) = found else {
        return Err(AppError::new(StatusCode::NOT_FOUND, "unknown_conversation", "no such conversation"));
    };
    let mut timers: Vec<JsonValue> = stored
        .conversation
        .timers
        .into_iter()
        .map(|(key, timer)| {
            json!({ "key": key, "kind": timer.kind, "due_at": timer.due_at, "cancel_on_reply": timer.cancel_on_reply })
        })
        .collect();
    timers.sort_by_key(|timer| timer["due_at"].as_i64());
    Ok(Json(json!({ "timers": timers })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewTimer {
    /// A timer kind the conversation's flow declares.
    kind: String,
    /// Unix milliseconds, or RFC 3339.
    #[schema(value_type = String, example = "2026-01-05T15:00:00Z")]
    due: Due,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Due {
    Millis(i64),
    Text(String),
}

/// `POST .../conversations/{id}/timers`: set (or move) a timer of a declared kind.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/conversations/{id}/timers", tag = "timers", security(("bearer" = [])), params(("tenant" = String, Path, description = "The tenant's name"), ("id" = String, Path, description = "The conversation, e.g. `whatsapp:37491000001`")), request_body = NewTimer,
    responses((status = 200, body = Turn), (status = 400, body = ErrorBody), (status = 422, description = "The flow declares no such kind", body = ErrorBody), (status = 401, description = "Missing or wrong bearer token", body = ErrorBody), (status = 404, description = "Unknown tenant or conversation", body = ErrorBody)))]
pub async fn schedule(
    State(state): State<AppState>,
    AgentAuth { name: tenant, .. }: AgentAuth,
    Path((_, id)): Path<(String, String)>,
    body: Result<Json<NewTimer>, JsonRejection>,
) -> Result<Json<Turn>, AppError> {
    let Json(request) = body?;
    let due_at = match request.due {
        Due::Millis(ms) => ms,
        Due::Text(text) => text
            .parse::<jiff::Timestamp>()
            .map_err(|error| AppError::bad_request(format!("due {text:?} is not RFC 3339: {error}")))?
            .as_millisecond(),
    };
    let kind = request.kind;
    Ok(Json(
        blocking(&state, move |engine| engine.schedule_timer(&tenant, &id, &kind, due_at, now()))
            .await?
            .into(),
    ))
}

/// `DELETE .../conversations/{id}/timers/{key}`
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/conversations/{id}/timers/{key}", tag = "timers", security(("bearer" = [])),
    params(("tenant" = String, Path), ("id" = String, Path), ("key" = String, Path, description = "The timer's key")),
    responses((status = 200, body = Turn), (status = 401, description = "Missing or wrong bearer token", body = ErrorBody), (status = 404, description = "Unknown tenant or conversation", body = ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    AgentAuth { name: tenant, .. }: AgentAuth,
    Path((_, id, key)): Path<(String, String, String)>,
) -> Result<Json<Turn>, AppError> {
    let outcome = blocking(&state, move |engine| engine.cancel_timer(&tenant, &id, &key, now())).await?;
    if outcome.events.is_empty() {
        return Err(AppError::new(StatusCode::NOT_FOUND, "unknown_timer", "no such pending timer"));
    }
    Ok(Json(outcome.into()))
}
