//! The operator's tenants and every tenant's API keys: thin handlers over
//! the control plane (`crate::tenants`), which does the work and knows no
//! HTTP. A tenant key is shown once, in the answer that made it.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use switchboard_core::contract::Channel;

use super::api::control;
use super::auth::{OperatorAuth, TenantAuth};
use super::{AppError, AppState, ErrorBody};
use crate::channels;
use crate::tenants::{self, KeyInfo, MintedKey};

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// What the key is for, e.g. "CRM sync".
    #[serde(default)]
    label: String,
}

fn listed(key: &KeyInfo) -> Value {
    json!({ "id": key.id, "label": key.label, "created_at": key.created_at, "revoked_at": key.revoked_at })
}

fn shown(minted: &MintedKey) -> Value {
    let key = &minted.info;
    json!({ "id": key.id, "label": key.label, "created_at": key.created_at, "key": minted.key })
}

/// The operator's list of tenants.
#[utoipa::path(get, path = "/v1/admin/tenants", tag = "operator", security(("bearer" = [])),
    responses((status = 200, description = "`{tenants: [{name, display_name, flow_version, plugins, channels, handoff_webhook}]}`", body = Object),
              (status = 401, body = ErrorBody), (status = 404, description = "No admin key was set", body = ErrorBody)))]
pub async fn tenants(State(state): State<AppState>, _: OperatorAuth) -> Json<Value> {
    let list: Vec<Value> = state
        .engine
        .tenant_names()
        .into_iter()
        .filter_map(|name| state.engine.tenant(&name).ok())
        .map(|tenant| {
            // Which channels are configured; their secrets are never echoed.
            let configured: Vec<&str> = Channel::ALL
                .into_iter()
                .filter(|channel| channels::provider(*channel).configured(&tenant.channels))
                .map(Channel::as_str)
                .collect();
            let mut plugins: Vec<&String> = tenant.plugins.keys().collect();
            plugins.sort();
            json!({
                "name": tenant.name, "display_name": tenant.display_name, "flow_version": tenant.flow.version,
                "plugins": plugins, "channels": configured, "handoff_webhook": tenant.handoff_webhook.is_some(),
            })
        })
        .collect();
    Json(json!({ "tenants": list }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// Letters, digits, `-` and `_`; the tenant's directory and URL name.
    name: String,
    #[serde(default)]
    display_name: Option<String>,
    /// An IANA zone, e.g. `Asia/Yerevan`.
    timezone: String,
    /// The flow, in TOML.
    flow: String,
    /// Serve anonymous web chat (the widget and `POST …/messages`). Off by default.
    #[serde(default)]
    web_chat: bool,
}

/// The operator creates a tenant: its directory, flow and calendar, and a
/// first API key (in this answer only). Plugins, hours and channels follow
/// through the tenant's own API.
#[utoipa::path(post, path = "/v1/admin/tenants", tag = "operator", security(("bearer" = [])),
    request_body = NewTenant,
    responses((status = 201, description = "`{name, flow_version, key}`", body = Object),
              (status = 409, description = "The name is taken", body = ErrorBody),
              (status = 422, description = "The flow or calendar has problems; nothing was created", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_tenant(
    State(state): State<AppState>,
    _: OperatorAuth,
    body: Result<Json<NewTenant>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let Json(request) = body?;
    let request = tenants::NewTenant {
        name: request.name,
        display_name: request.display_name,
        timezone: request.timezone,
        flow: request.flow,
        web_chat: request.web_chat,
    };
    let created = control(&state, move |control| control.create(request)).await?;
    let body = json!({ "name": created.name, "flow_version": created.flow_version, "key": created.key.key });
    Ok((StatusCode::CREATED, Json(body)))
}

/// The operator stops serving a tenant. Its directory is set aside under
/// `.removed/`, and its stored data (conversations, events, keys, plugin
/// state) is retired: kept, but out of reach of the name, so its keys stop
/// working and a tenant created later under the name starts empty.
#[utoipa::path(delete, path = "/v1/admin/tenants/{tenant}", tag = "operator", security(("bearer" = [])),
    params(("tenant" = String, Path)),
    responses((status = 200, description = "`{removed, kept_in, records_retired}`: `kept_in` is relative to the tenants directory", body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove_tenant(
    State(state): State<AppState>,
    _: OperatorAuth,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, AppError> {
    let removed = control(&state, move |control| control.remove(&tenant, super::api::now())).await?;
    Ok(Json(
        json!({ "removed": removed.name, "kept_in": removed.kept_in, "records_retired": removed.records_retired }),
    ))
}

/// The operator makes a key for a tenant; the key is in this answer only.
#[utoipa::path(post, path = "/v1/admin/tenants/{tenant}/keys", tag = "operator", security(("bearer" = [])),
    params(("tenant" = String, Path)), request_body = NewKey,
    responses((status = 201, description = "`{id, label, created_at, key}`", body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn admin_create(
    State(state): State<AppState>,
    _: OperatorAuth,
    Path(tenant): Path<String>,
    body: Result<Json<NewKey>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    state.engine.tenant(&tenant)?;
    let Json(request) = body?;
    let minted = control(&state, move |control| control.mint_key(&tenant, &request.label)).await?;
    Ok((StatusCode::CREATED, Json(shown(&minted))))
}

/// A tenant makes another key for itself.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/keys", tag = "keys", security(("bearer" = [])),
    params(("tenant" = String, Path)), request_body = NewKey,
    responses((status = 201, description = "`{id, label, created_at, key}`: the key is shown only here", body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_own(
    State(state): State<AppState>,
    TenantAuth { name: tenant, .. }: TenantAuth,
    body: Result<Json<NewKey>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let Json(request) = body?;
    let minted = control(&state, move |control| control.mint_key(&tenant, &request.label)).await?;
    Ok((StatusCode::CREATED, Json(shown(&minted))))
}

/// A tenant's keys, without their secrets or hashes.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/keys", tag = "keys", security(("bearer" = [])),
    params(("tenant" = String, Path)),
    responses((status = 200, description = "`{keys: [{id, label, created_at, revoked_at}]}`", body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    TenantAuth { name: tenant, .. }: TenantAuth,
) -> Result<Json<Value>, AppError> {
    let keys = control(&state, move |control| control.keys(&tenant)).await?;
    Ok(Json(json!({ "keys": keys.iter().map(listed).collect::<Vec<_>>() })))
}

/// Revoke a key: it stops working at once.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/keys/{id}", tag = "keys", security(("bearer" = [])),
    params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "The key, now revoked", body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    TenantAuth { name: tenant, .. }: TenantAuth,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, AppError> {
    let revoked = control(&state, move |control| control.revoke_key(&tenant, &id)).await?;
    Ok(Json(listed(&revoked)))
}
