//! The JSON API: messages in, and the tenant's admin and agent endpoints.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value as JsonValue, json};
use switchboard_core::contract::{Channel, Contact};

use super::auth::{AgentAuth, MetricsAuth, TenantAuth};
use super::rate::ClientAddr;
use super::{AppError, AppState, ErrorBody};

pub mod outbox;
pub mod signals;
pub mod socket;
pub mod timers;
use super::wire::{
    ConversationDetail, ConversationPage, ConversationSummary, Event, EventPage, LoggedEvent, Turn,
};
use crate::engine::{Engine, EngineError, InboundMessage};
use crate::tenant::Tenant;
use crate::tenants::{ControlError, ControlPlane};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    contact: ContactRequest,
    /// Only `webchat`; providers deliver to their webhooks.
    #[serde(default = "webchat")]
    #[schema(value_type = String, example = "webchat")]
    channel: Channel,
    #[serde(default)]
    text: String,
    #[serde(default)]
    payload: Option<String>,
    #[serde(default)]
    message_id: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactRequest {
    /// The visitor's session id (letters, digits, `-`, `_`, `.`); the
    /// conversation's identity is `web:{id}`.
    id: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    locale: Option<String>,
}

fn webchat() -> Channel {
    Channel::Webchat
}

/// `POST /v1/tenants/{tenant}/messages`: a web chat visitor's message, and
/// the replies. Its `events` carry their data only where it is the
/// visitor's own (their messages, the bot's, a failed step): the rest is
/// the tenant's to read through its API. Public (the widget posts from customers' sites), so it speaks
/// for web chat only: the visitor's id becomes the identity `web:{id}`, and
/// it can never act as a WhatsApp or Telegram customer.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/messages", tag = "web chat", params(("tenant" = String, Path, description = "The tenant's name")), request_body = MessageRequest,
    responses((status = 200, description = "The turn: replies, status, and events (their data only where it is the visitor's own)", body = Turn), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, description = "Rate limited (`Retry-After`)", body = ErrorBody)))]
pub async fn message(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    client: ClientAddr,
    body: Result<Json<MessageRequest>, JsonRejection>,
) -> Result<Json<Turn>, AppError> {
    let Json(request) = body?;
    if request.channel != Channel::Webchat {
        return Err(AppError::bad_request(
            "this endpoint is for web chat; providers deliver to /webhooks/{tenant}/{channel}",
        ));
    }
    let session = web_session(&request.contact.id)?;
    if request.text.trim().is_empty() && request.payload.is_none() {
        return Err(AppError::bad_request("a message needs text or a payload"));
    }
    check_length(&request.text)?;
    let served = web_chat_served(&state, &tenant)?;
    state.web_chat_limits.check(client.0, &tenant, served.quotas.web_chat_per_minute)?;
    let message = InboundMessage {
        channel: Channel::Webchat,
        contact: Contact {
            id: session,
            display_name: request.contact.display_name,
            locale: request.contact.locale.unwrap_or_else(|| "en".to_owned()),
        },
        text: request.text,
        payload: request.payload,
        message_id: request.message_id,
        at: now(),
    };
    let mut turn: Turn = state.engine.handle_async(tenant, message).await?.into();
    // What the events carry is the tenant's (a plugin's findings, a phone on
    // record, the handoff card): an anonymous visitor sees each event's type,
    // and the data only of those about their own messages and the steps
    // that failed them.
    for event in &mut turn.events {
        if event.kind == "step.failed" {
            // Which step, and the kind of failure: never the plugin's words.
            let keep = |key: &str| event.data.get(key).cloned().unwrap_or_default();
            event.data = serde_json::json!({ "step": keep("step"), "code": keep("code") });
        } else if !VISITOR_EVENT_DATA.contains(&event.kind.as_str()) {
            event.data = serde_json::Value::Null;
        }
    }
    Ok(Json(turn))
}

/// The events whose data a web chat visitor's answer keeps.
const VISITOR_EVENT_DATA: &[&str] =
    &["message.received", "message.sent", "intent.detected", "intent.unclear"];

/// The longest web chat message, in characters (WhatsApp's limit too).
pub const MAX_MESSAGE_CHARS: usize = 4096;

pub(super) fn check_length(text: &str) -> Result<(), AppError> {
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "message_too_long",
            format!("a message is at most {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    Ok(())
}

/// The tenant, if it serves web chat (`web_chat = true` in its tenant.toml).
pub(super) fn web_chat_served(state: &AppState, tenant: &str) -> Result<Arc<Tenant>, AppError> {
    let found = state.engine.tenant(tenant)?;
    if found.web_chat {
        Ok(found)
    } else {
        Err(AppError::new(
            StatusCode::NOT_FOUND,
            "web_chat_off",
            format!("{tenant:?} does not serve web chat"),
        ))
    }
}

/// A visitor's session id as their identity, `web:{id}`.
pub(super) fn web_session(id: &str) -> Result<String, AppError> {
    let id = id.trim();
    let valid = (1..=200).contains(&id.len())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        return Err(AppError::bad_request("contact.id must be 1-200 letters, digits, '-', '_' or '.'"));
    }
    Ok(format!("web:{id}"))
}

/// Run engine work on the blocking pool: turns call plugins synchronously
/// and wait for the disk, which must never stall the async workers.
pub(super) async fn blocking<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&Engine) -> Result<T, EngineError> + Send + 'static,
) -> Result<T, AppError> {
    let engine = state.engine.clone();
    Ok(tokio::task::spawn_blocking(move || work(&engine)).await??)
}

/// Run control-plane work on the blocking pool: it writes files and waits
/// for the disk, and takes a tenant's lifecycle lock, which blocks.
pub(super) async fn control<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&ControlPlane) -> Result<T, ControlError> + Send + 'static,
) -> Result<T, AppError> {
    let control = state.control.clone();
    Ok(tokio::task::spawn_blocking(move || work(&control)).await??)
}

pub(super) fn now() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// `GET /metrics`: Prometheus' text format, behind the operator's metrics
/// token (the figures span every tenant). Off, as a 404, without a token.
#[utoipa::path(get, path = "/metrics", tag = "operator", security(("bearer" = [])),
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"), (status = 401, body = ErrorBody), (status = 404, description = "Metrics are off", body = ErrorBody)))]
pub async fn metrics(_: MetricsAuth) -> String {
    crate::telemetry::render()
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationsQuery {
    /// The last conversation id of the previous page (its `next_after`).
    #[serde(default)]
    after: Option<String>,
    /// At most this many (1-1000, default 100).
    #[serde(default = "default_limit")]
    limit: usize,
}

/// `GET /v1/tenants/{tenant}/conversations?after=ID&limit=N`: a page of them.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/conversations", tag = "agents", security(("bearer" = [])), params(("tenant" = String, Path, description = "The tenant's name"), ConversationsQuery),
    responses((status = 200, description = "A page of conversations; `next_after` is null on the last page", body = ConversationPage), (status = 401, description = "Missing or wrong bearer token", body = ErrorBody), (status = 404, description = "Unknown tenant or conversation", body = ErrorBody)))]
pub async fn conversations(
    State(state): State<AppState>,
    AgentAuth { name: tenant, .. }: AgentAuth,
    Query(query): Query<ConversationsQuery>,
) -> Result<Json<ConversationPage>, AppError> {
    let limit = query.limit.clamp(1, 1000);
    let stored =
        blocking(&state, move |engine| engine.conversations(&tenant, query.after.as_deref(), limit)).await?;
    let next =
        (stored.len() == limit).then(|| stored.last().map(|last| last.conversation.id.clone())).flatten();
    let conversations = stored.iter().map(|stored| ConversationSummary::from(&stored.conversation)).collect();
    Ok(Json(ConversationPage { conversations, next_after: next }))
}

/// `GET /v1/tenants/{tenant}/conversations/{id}`: the state and the transcript.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/conversations/{id}", tag = "agents", security(("bearer" = [])), params(("tenant" = String, Path, description = "The tenant's name"), ("id" = String, Path, description = "The conversation, e.g. `whatsapp:37491000001`")),
    responses((status = 200, description = "The state and the transcript", body = ConversationDetail), (status = 401, description = "Missing or wrong bearer token", body = ErrorBody), (status = 404, description = "Unknown tenant or conversation", body = ErrorBody)))]
pub async fn conversation(
    State(state): State<AppState>,
    AgentAuth { name: tenant, tenant: served, .. }: AgentAuth,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<ConversationDetail>, AppError> {
    let found = blocking(&state, move |engine| engine.conversation_with_transcript(&tenant, &id)).await?;
    let Some((stored, events)) = found else {
        return Err(AppError::new(StatusCode::NOT_FOUND, "unknown_conversation", "no such conversation"));
    };
    let conversation = &stored.conversation;
    let provider = crate::channels::provider(conversation.channel);
    let applies = provider.messaging_window();
    let last = if conversation.last_customer_at == 0 {
        conversation.started_at
    } else {
        conversation.last_customer_at
    };
    let window = super::wire::Window {
        applies,
        open: !conversation.window_closed(now()),
        closes_at: applies.then_some(last + switchboard_core::conversation::MESSAGING_WINDOW_MS),
        templates: provider
            .window_fallback(&served.channels, conversation.locale())
            .iter()
            .map(|fallback| crate::engine::fallback_name(fallback).to_owned())
            .collect(),
    };
    let field = |name: &str| match conversation.fields.get(name) {
        Some(switchboard_core::contract::Value::Text(text)) => Some(text.clone()),
        _ => None,
    };
    let waiting = matches!(conversation.status, switchboard_core::conversation::Status::Human { .. });
    let approval = (waiting && conversation.fields.contains_key("approver"))
        .then(|| super::wire::Approval { approver: field("approver"), backup: field("backup") });
    Ok(Json(ConversationDetail {
        conversation: conversation.into(),
        plugin_pins: stored.plugin_pins,
        config_pins: stored.config_pins,
        events: events.iter().map(Event::from).collect(),
        window,
        approval,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AgentRequest {
    /// Who, when a key calls (a signed-in person is who they are).
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    text: Option<String>,
    /// After the channel's messaging window closed: send through this
    /// fallback (a WhatsApp template, a Messenger tag), one of the
    /// conversation's `window.templates`.
    #[serde(default)]
    template: Option<String>,
}

/// `POST .../hand-back`: the bot answers again.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/conversations/{id}/hand-back", tag = "agents", security(("bearer" = [])), params(("tenant" = String, Path, description = "The tenant's name"), ("id" = String, Path, description = "The conversation, e.g. `whatsapp:37491000001`")), request_body = AgentRequest,
    responses((status = 200, body = Turn), (status = 401, description = "Missing or wrong bearer token", body = ErrorBody), (status = 404, description = "Unknown tenant or conversation", body = ErrorBody)))]
pub async fn hand_back(
    State(state): State<AppState>,
    AgentAuth { name: tenant, by, person, .. }: AgentAuth,
    Path((_, id)): Path<(String, String)>,
    body: Result<Json<AgentRequest>, JsonRejection>,
) -> Result<Json<Turn>, AppError> {
    let Json(request) = body?;
    let agent = who(person.as_ref(), request.agent, &by);
    Ok(Json(blocking(&state, move |engine| engine.hand_back(&tenant, &id, &agent, now())).await?.into()))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Close {
    /// The terminal state it closes in, which KPIs count by: `resolved`,
    /// `spam`, `duplicate`, `no_answer`, ... (default `closed`).
    #[serde(default)]
    reason: Option<String>,
}

/// `POST .../close`: end a conversation, with the reason as its terminal state.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/conversations/{id}/close", tag = "agents", security(("bearer" = [])), params(("tenant" = String, Path, description = "The tenant's name"), ("id" = String, Path, description = "The conversation, e.g. `whatsapp:37491000001`")), request_body = Close,
    responses((status = 200, body = Turn), (status = 400, body = ErrorBody), (status = 401, description = "Missing or wrong bearer token", body = ErrorBody), (status = 404, description = "Unknown tenant or conversation", body = ErrorBody)))]
pub async fn close(
    State(state): State<AppState>,
    AgentAuth { name: tenant, .. }: AgentAuth,
    Path((_, id)): Path<(String, String)>,
    body: Option<Json<Close>>,
) -> Result<Json<Turn>, AppError> {
    let reason = body.and_then(|Json(close)| close.reason).unwrap_or_else(|| "closed".to_owned());
    let plain = reason.len() <= 40
        && reason.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if reason.is_empty() || !plain {
        return Err(AppError::bad_request("reason is a short name: lowercase letters, digits and '_'"));
    }
    Ok(Json(blocking(&state, move |engine| engine.close(&tenant, &id, &reason, now())).await?.into()))
}

/// Who did it, for the record: a signed-in person is who they are; a key
/// names someone in the request, or is the key's id.
fn who(person: Option<&crate::engine::Session>, named: Option<String>, by: &str) -> String {
    match person {
        Some(person) => person.staff.clone().unwrap_or_else(|| by.to_owned()),
        None => named.filter(|name| !name.trim().is_empty()).unwrap_or_else(|| "agent".to_owned()),
    }
}

/// `POST .../reply`: an agent's message to the customer.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/conversations/{id}/reply", tag = "agents", security(("bearer" = [])), params(("tenant" = String, Path, description = "The tenant's name"), ("id" = String, Path, description = "The conversation, e.g. `whatsapp:37491000001`")), request_body = AgentRequest,
    responses((status = 200, body = Turn), (status = 400, body = ErrorBody), (status = 401, description = "Missing or wrong bearer token", body = ErrorBody), (status = 404, description = "Unknown tenant or conversation", body = ErrorBody)))]
pub async fn reply(
    State(state): State<AppState>,
    AgentAuth { name: tenant, by, person, .. }: AgentAuth,
    Path((_, id)): Path<(String, String)>,
    body: Result<Json<AgentRequest>, JsonRejection>,
) -> Result<Json<Turn>, AppError> {
    let Json(request) = body?;
    let _ = (by, person);
    let text = request
        .text
        .filter(|text| !text.trim().is_empty())
        .ok_or_else(|| AppError::bad_request("text is required"))?;
    let template = request.template;
    let turn = blocking(&state, move |engine| match template {
        None => engine.agent_reply(&tenant, &id, &text, now()).map(Some),
        Some(template) => engine.agent_reply_outside_window(&tenant, &id, &text, &template, now()),
    })
    .await?;
    let turn = turn.ok_or_else(|| {
        AppError::bad_request(
            "that template or tag is not this channel's fallback: see the conversation's window.templates",
        )
    })?;
    Ok(Json(turn.into()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Decision {
    /// `approve` or `reject`.
    decision: String,
    /// Who decided, for the audit trail, when a key calls (a signed-in
    /// person decides as themselves).
    #[serde(default)]
    by: String,
    #[serde(default)]
    note: Option<String>,
}

/// `POST .../decide`: an approver approves or rejects an internal request.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/conversations/{id}/decide", tag = "agents", security(("bearer" = [])), params(("tenant" = String, Path, description = "The tenant's name"), ("id" = String, Path, description = "The conversation, e.g. `whatsapp:37491000001`")), request_body = Decision,
    responses((status = 200, body = Turn), (status = 400, body = ErrorBody), (status = 401, description = "Missing or wrong bearer token", body = ErrorBody), (status = 403, description = "Not the approver, the backup or an admin", body = ErrorBody), (status = 404, description = "Unknown tenant or conversation", body = ErrorBody), (status = 409, description = "Nothing waits for a decision (decided already, or no request)", body = ErrorBody)))]
pub async fn decide(
    State(state): State<AppState>,
    AgentAuth { name: tenant, by, person, .. }: AgentAuth,
    Path((_, id)): Path<(String, String)>,
    body: Result<Json<Decision>, JsonRejection>,
) -> Result<Json<Turn>, AppError> {
    let Json(request) = body?;
    let approved = match request.decision.as_str() {
        "approve" => true,
        "reject" => false,
        other => {
            return Err(AppError::bad_request(format!(
                "decision must be \"approve\" or \"reject\", not {other:?}"
            )));
        }
    };
    let by = who(person.as_ref(), Some(request.by.clone()), &by);
    if by.trim().is_empty() || (person.is_none() && request.by.trim().is_empty()) {
        return Err(AppError::bad_request("by (who decided) is required"));
    }
    // An agent decides only what is theirs to decide (the engine checks it
    // under the turn lock): as the request's approver or backup, or the
    // queue it waits in. Admins and keys may decide any pending request.
    let agent =
        person.filter(|person| person.role == crate::engine::Role::Agent).and_then(|person| person.staff);
    let turn = blocking(&state, move |engine| {
        engine.decide(&tenant, &id, approved, &by, request.note.as_deref(), agent.as_deref(), now())
    })
    .await?;
    Ok(Json(turn.into()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Link {
    /// A channel identity, e.g. `telegram:42`.
    identity: String,
    /// The conversation it should continue, e.g. `whatsapp:37491000001`.
    conversation: String,
}

/// `POST /v1/tenants/{tenant}/contacts/link`: an agent says two identities
/// are one customer; messages from `identity` continue `conversation`.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/contacts/link", tag = "agents", security(("bearer" = [])), params(("tenant" = String, Path, description = "The tenant's name")), request_body = Link,
    responses((status = 200, description = "The link, echoed", body = Object), (status = 400, body = ErrorBody), (status = 401, description = "Missing or wrong bearer token", body = ErrorBody), (status = 404, description = "Unknown tenant or conversation", body = ErrorBody)))]
pub async fn link(
    State(state): State<AppState>,
    AgentAuth { name: tenant, .. }: AgentAuth,
    body: Result<Json<Link>, JsonRejection>,
) -> Result<Json<JsonValue>, AppError> {
    let Json(request) = body?;
    if !request.identity.contains(':') {
        return Err(AppError::bad_request("identity is channel:id, e.g. telegram:42"));
    }
    // No channel's ids hold control characters, and PostgreSQL's text
    // refuses NUL: such an identity could be linked on one store and not
    // moved to another.
    if request.identity.chars().any(char::is_control) {
        return Err(AppError::bad_request("identity holds a control character; channel ids have none"));
    }
    let (identity, conversation) = (request.identity.clone(), request.conversation.clone());
    blocking(&state, move |engine| engine.link_identity(&tenant, &identity, &conversation, "agent", now()))
        .await?;
    Ok(Json(json!({ "identity": request.identity, "conversation": request.conversation })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    #[serde(default)]
    after: Option<u64>,
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    100
}

/// `GET /v1/tenants/{tenant}/events?after=SEQ&limit=N`: the event log, in order.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/events", tag = "agents", security(("bearer" = [])), params(("tenant" = String, Path), EventsQuery),
    responses((status = 200, description = "A page of the event log, oldest first", body = EventPage), (status = 401, description = "Missing or wrong bearer token", body = ErrorBody), (status = 404, description = "Unknown tenant or conversation", body = ErrorBody)))]
pub async fn events(
    State(state): State<AppState>,
    AgentAuth { name: tenant, .. }: AgentAuth,
    Query(query): Query<EventsQuery>,
) -> Result<Json<EventPage>, AppError> {
    let limit = query.limit.clamp(1, 1000);
    let events = blocking(&state, move |engine| engine.tenant_events(&tenant, query.after, limit)).await?;
    let next_after = events.last().map(|(seq, _)| *seq);
    let events = events.iter().map(|(seq, event)| LoggedEvent { seq: *seq, event: event.into() }).collect();
    Ok(Json(EventPage { events, next_after }))
}

/// `POST /v1/tenants/{tenant}/reload`: pick up an edited flow or binding.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/reload", tag = "agents", security(("bearer" = [])), params(("tenant" = String, Path, description = "The tenant's name")),
    responses((status = 200, description = "The versions now served", body = Object), (status = 422, description = "The new files have problems; nothing changed", body = ErrorBody), (status = 401, description = "Missing or wrong bearer token", body = ErrorBody), (status = 404, description = "Unknown tenant or conversation", body = ErrorBody)))]
pub async fn reload(
    State(state): State<AppState>,
    TenantAuth { name: tenant, .. }: TenantAuth,
) -> Result<Json<JsonValue>, AppError> {
    let reloaded = control(&state, move |control| control.reload(&tenant)).await?;
    Ok(Json(json!({ "tenant": reloaded.name, "flow_version": reloaded.flow.version })))
}
