//! The console (`/console/`): a Preact app built from `console/src` by
//! `scripts/build-console.sh` and embedded here, so the binary serves it
//! with nothing beside it. Its API beyond the agent routes: the inbox
//! index, assigning, a live feed of the tenant's events, and the
//! operator's overview.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_core::contract::{Channel, Priority};
use switchboard_core::kpi::{Measure, day_of};

use super::api::{blocking, now};
use super::auth::{AgentAuth, OperatorAuth, session_token};
use super::wire::{LoggedEvent, Turn};
use super::{AppError, AppState, ErrorBody};
use crate::engine::Unavailable;

const INDEX: &[u8] = include_bytes!("../../console/dist/index.html");
const SCRIPT: &[u8] = include_bytes!("../../console/dist/console.js");
const STYLE: &[u8] = include_bytes!("../../console/dist/console.css");

/// Same origin only, no framing: the console talks to its own server.
const POLICY: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; \
                      script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// How often the live feed looks for new events, and re-checks (every
/// fifth look, two seconds) that its key or session still opens it.
const LIVE_POLL: Duration = Duration::from_millis(400);
const LIVE_RECHECK_EVERY: u32 = 5;

pub async fn redirect() -> Redirect {
    Redirect::permanent("/console/")
}

pub async fn index() -> Response {
    asset(INDEX, "text/html; charset=utf-8")
}

pub async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

pub async fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

fn asset(bytes: &'static [u8], kind: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        bytes,
    )
        .into_response()
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    queue: Option<String>,
    /// A staff id, or `-` for nobody yet.
    assignee: Option<String>,
    #[param(value_type = Option<String>)]
    channel: Option<Channel>,
    #[param(value_type = Option<String>)]
    priority: Option<Priority>,
    /// At most this many, newest handoffs first (1-1000, default 500).
    limit: Option<usize>,
}

/// `GET /v1/tenants/{tenant}/inbox`: the conversations a person has, most
/// recently handed off first.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/inbox", tag = "console", security(("bearer" = [])), params(("tenant" = String, Path), InboxQuery),
    responses((status = 200, description = "`{conversations: [{id, channel, queue, assignee, priority, intent, name, reason, cause, summary, since, updated_at}]}`", body = Object),
              (status = 401, description = "Missing or wrong bearer token", body = ErrorBody)))]
pub async fn inbox(
    State(state): State<AppState>,
    AgentAuth { name: tenant, .. }: AgentAuth,
    Query(query): Query<InboxQuery>,
) -> Result<Json<Value>, AppError> {
    let entries = blocking(&state, move |engine| engine.inbox(&tenant)).await?;
    let kept: Vec<_> = entries
        .into_iter()
        .filter(|entry| query.queue.as_ref().is_none_or(|queue| entry.queue == *queue))
        .filter(|entry| match query.assignee.as_deref() {
            None => true,
            Some("-") => entry.assignee.is_none(),
            Some(assignee) => entry.assignee.as_deref() == Some(assignee),
        })
        .filter(|entry| query.channel.is_none_or(|channel| entry.channel == channel))
        .filter(|entry| query.priority.is_none_or(|priority| entry.priority == priority))
        .take(query.limit.unwrap_or(500).clamp(1, 1000))
        .collect();
    Ok(Json(json!({ "conversations": kept })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Assign {
    /// A staff id; null puts it back in its queue.
    assignee: Option<String>,
}

/// `POST .../conversations/{id}/assign`: take a handed-off conversation,
/// or give it to someone on the staff.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/conversations/{id}/assign", tag = "agents", security(("bearer" = [])), params(("tenant" = String, Path), ("id" = String, Path)), request_body = Assign,
    responses((status = 200, body = Turn), (status = 400, description = "Not someone on the staff", body = ErrorBody), (status = 409, description = "The bot has it: nothing to assign", body = ErrorBody), (status = 401, description = "Missing or wrong bearer token", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn assign(
    State(state): State<AppState>,
    AgentAuth { name: tenant, by, .. }: AgentAuth,
    Path((_, id)): Path<(String, String)>,
    body: Result<Json<Assign>, JsonRejection>,
) -> Result<Json<Turn>, AppError> {
    let Json(Assign { assignee }) = body?;
    let outcome = blocking(&state, move |engine| {
        if let Some(assignee) = assignee.as_deref()
            && engine.staff_member(&tenant, assignee)?.is_none()
        {
            return Ok(Err(format!("{assignee:?} is not on the staff")));
        }
        let Some(stored) = engine.conversation(&tenant, &id)? else {
            return Err(crate::engine::EngineError::UnknownConversation { tenant, conversation: id });
        };
        if !matches!(stored.conversation.status, switchboard_core::conversation::Status::Human { .. }) {
            return Ok(Ok(None));
        }
        engine.assign(&tenant, &id, assignee.as_deref(), &by, now()).map(|turn| Ok(Some(turn)))
    })
    .await?;
    match outcome {
        Err(refused) => Err(AppError::bad_request(refused)),
        Ok(None) => Err(AppError::new(
            StatusCode::CONFLICT,
            "not_handed_off",
            "the bot has this conversation: nothing to assign",
        )),
        Ok(Some(turn)) => Ok(Json(turn.into())),
    }
}

/// `GET /v1/tenants/{tenant}/live`: every event the tenant commits from
/// now on, as `{seq, event}` text frames, in log order.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/live", tag = "console", security(("bearer" = [])), params(("tenant" = String, Path)),
    responses((status = 101, description = "Switching to the WebSocket protocol"), (status = 401, description = "Missing or wrong bearer token", body = ErrorBody)))]
pub async fn live(
    State(state): State<AppState>,
    AgentAuth { name: tenant, person, .. }: AgentAuth,
    headers: axum::http::HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, AppError> {
    // A cookie rides along with any page's upgrade, so a session's feed
    // opens only from a page of this server (a key's is a program's).
    let credential = match person {
        Some(_) => {
            if !same_origin(&headers) {
                return Err(AppError::new(
                    StatusCode::FORBIDDEN,
                    "origin",
                    "the live feed opens from this server's console only",
                ));
            }
            Credential::Session(session_token(&headers).unwrap_or_default())
        }
        None => Credential::Key(super::auth::bearer(&headers).to_owned()),
    };
    let Some(slot) = state.live_sockets.take(&tenant) else {
        return Err(AppError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_feeds",
            format!("this tenant has {MAX_LIVE_PER_TENANT} live feeds open; close one"),
        ));
    };
    let start = {
        let tenant = tenant.clone();
        blocking(&state, move |engine| engine.live_cursor(&tenant)).await?
    };
    Ok(upgrade
        .max_message_size(1024)
        .on_upgrade(move |socket| feed(socket, state, tenant, start, credential, slot)))
}

/// What opened a feed, checked again while it runs.
enum Credential {
    Session(String),
    Key(String),
}

/// Whether a browser's `Origin` is this server (`Host`).
fn same_origin(headers: &axum::http::HeaderMap) -> bool {
    let get = |name| headers.get(name).and_then(|value: &axum::http::HeaderValue| value.to_str().ok());
    let (Some(origin), Some(host)) = (get(header::ORIGIN), get(header::HOST)) else { return false };
    origin.split_once("://").is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
}

/// Live feeds one tenant may have open.
pub const MAX_LIVE_PER_TENANT: usize = 64;

/// Open live feeds per tenant.
#[derive(Debug, Default)]
pub struct LiveSockets {
    open: std::sync::Mutex<std::collections::HashMap<String, usize>>,
}

/// One open feed; the count goes down when it is dropped.
pub struct LiveSlot {
    sockets: std::sync::Arc<LiveSockets>,
    tenant: String,
}

impl LiveSockets {
    fn take(self: &std::sync::Arc<Self>, tenant: &str) -> Option<LiveSlot> {
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = open.entry(tenant.to_owned()).or_default();
        if *count >= MAX_LIVE_PER_TENANT {
            return None;
        }
        *count += 1;
        Some(LiveSlot { sockets: self.clone(), tenant: tenant.to_owned() })
    }
}

impl Drop for LiveSlot {
    fn drop(&mut self) {
        let mut open = self.sockets.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.tenant) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.tenant);
            }
        }
    }
}

async fn feed(
    mut socket: WebSocket,
    state: AppState,
    tenant: String,
    after: u64,
    credential: Credential,
    _slot: LiveSlot,
) {
    let mut after = Some(after);
    let mut ticks = tokio::time::interval(LIVE_POLL);
    let mut polls = 0u32;
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            },
            _ = ticks.tick() => {}
        }
        polls += 1;
        // A session signed out, a person removed, a key revoked, a tenant
        // removed (and its name reused): the feed stops.
        if polls.is_multiple_of(LIVE_RECHECK_EVERY) && !still_allowed(&state, &tenant, &credential).await {
            let _ = socket.send(Message::Close(None)).await;
            return;
        }
        let page = {
            let tenant = tenant.clone();
            blocking(&state, move |engine| engine.tenant_events(&tenant, after, 200)).await
        };
        let Ok(page) = page else { return };
        for (seq, event) in &page {
            let frame =
                serde_json::to_string(&LoggedEvent { seq: *seq, event: event.into() }).unwrap_or_default();
            if socket.send(Message::text(frame)).await.is_err() {
                return;
            }
            after = Some(*seq);
        }
    }
}

/// Whether what opened a feed still opens it.
async fn still_allowed(state: &AppState, tenant: &str, credential: &Credential) -> bool {
    match credential {
        Credential::Key(key) => state.control.key_holder(tenant, key).is_some(),
        Credential::Session(token) => {
            let (token, admin_key) = (token.clone(), state.admin_key.clone());
            let session =
                blocking(state, move |engine| engine.session(&token, admin_key.as_deref(), now())).await;
            matches!(session, Ok(Some(session)) if session.tenant.as_deref() == Some(tenant))
        }
    }
}

/// `GET /v1/admin/overview`: every tenant's traffic today, step failures
/// and plugin versions, for the operator's console.
#[utoipa::path(get, path = "/v1/admin/overview", tag = "operator", security(("bearer" = [])),
    responses((status = 200, description = "`{tenants: [{name, display_name, flow_version, status, conversations_today, handoffs_today, step_runs_today, step_failures_today, error_rate, plugins}]}`", body = Object),
              (status = 401, body = ErrorBody), (status = 404, description = "The operator API is off", body = ErrorBody)))]
pub async fn overview(State(state): State<AppState>, _: OperatorAuth) -> Result<Json<Value>, AppError> {
    let overview = blocking(&state, move |engine| {
        let mut tenants = Vec::new();
        for name in engine.tenant_names() {
            let Ok(tenant) = engine.tenant(&name) else { continue };
            let today = day_of(tenant.calendar.zone(), now());
            // Not behind a rebuild: the overview reads what is folded.
            engine.fold_kpis_if_idle(&name)?;
            let tally =
                engine.kpi_days(&name, today, today)?.pop().map(|(_, tally)| tally).unwrap_or_default();
            let (runs, failures) = (tally.count(Measure::StepRan), tally.count(Measure::StepFailed));
            let mut plugins: Vec<Value> = tenant
                .plugins
                .iter()
                .map(|(binding, plugin)| {
                    json!({
                        "binding": binding,
                        "component": plugin.plugin.hash().to_string(),
                        "canary": plugin.canary.as_ref().map(|canary| json!({
                            "component": canary.plugin.hash().to_string(),
                            "percent": canary.percent,
                            "shadow": canary.shadow,
                        })),
                    })
                })
                .collect();
            plugins.sort_by(|a, b| a["binding"].as_str().cmp(&b["binding"].as_str()));
            tenants.push(json!({
                "name": name,
                "display_name": tenant.display_name,
                "flow_version": tenant.flow.version,
                "status": "serving",
                "conversations_today": tally.count(Measure::Rounds),
                "handoffs_today": tally.count(Measure::HandedOff),
                "step_runs_today": runs,
                "step_failures_today": failures,
                "error_rate": (runs + failures > 0).then(|| failures as f64 / (runs + failures) as f64),
                "plugins": plugins,
            }));
        }
        for (name, why) in engine.unavailable() {
            let status = match why {
                Unavailable::Loading => "loading",
                Unavailable::Failed(_) => "failed",
            };
            tenants.push(json!({ "name": name, "status": status, "plugins": [] }));
        }
        Ok(tenants)
    })
    .await?;
    Ok(Json(json!({ "tenants": overview, "health": "/readyz", "metrics": "/metrics" })))
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, header};

    use super::same_origin;

    fn headers(origin: Option<&'static str>, host: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static(host));
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_static(origin));
        }
        headers
    }

    #[test]
    fn a_sessions_live_feed_opens_only_from_this_servers_pages() {
        assert!(same_origin(&headers(Some("https://console.example.com"), "console.example.com")));
        assert!(same_origin(&headers(Some("http://127.0.0.1:8080"), "127.0.0.1:8080")));
        assert!(!same_origin(&headers(Some("https://evil.example.com"), "console.example.com")));
        assert!(!same_origin(&headers(Some("https://sub.console.example.com"), "console.example.com")));
        assert!(!same_origin(&headers(None, "console.example.com")), "a browser always sends one");
    }
}
