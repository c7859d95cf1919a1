//! A tenant manages itself with its own keys: its flow, business hours,
//! channel credentials and plugins.
//!
//! Each handler is one call into the control plane (`crate::tenants`:
//! `set_flow`, `set_calendar`, `set_channel`, `put_component`,
//! `put_config`), which writes what the tenant set to its `managed.toml` as
//! literal values (never expanded, and with no place for grants or limits),
//! checks the whole tenant before committing, and keeps one edit per tenant
//! at a time. A bad edit changes nothing and answers 422 with every
//! problem. Secrets go in, never out.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path as UrlPath, State};
use serde_json::{Value, json};
use switchboard_core::calendar::CalendarConfig;

use super::api::control;
use super::auth::TenantAuth;
use super::{AppError, AppState, ErrorBody};
use crate::channels;
use crate::engine::Provenance;
use crate::tenant::Tenant;

/// Largest component accepted (the Python runtime is about 20 MiB).
pub const MAX_COMPONENT_BYTES: usize = 48 << 20;

/// The version now served.
pub(super) fn served(tenant: Arc<Tenant>) -> Json<Value> {
    Json(json!({ "tenant": tenant.name, "flow_version": tenant.flow.version }))
}

/// Replace the flow (TOML). New conversations get it; running ones keep theirs.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/flow", tag = "tenant", security(("bearer" = [])),
    params(("tenant" = String, Path)), request_body(content = String, content_type = "text/plain", description = "The flow, in TOML"),
    responses((status = 200, description = "`{tenant, flow_version}`", body = Object),
              (status = 422, description = "Every problem, with line and column; nothing changed", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn put_flow(
    State(state): State<AppState>,
    TenantAuth { name: tenant, .. }: TenantAuth,
    body: String,
) -> Result<Json<Value>, AppError> {
    Ok(served(control(&state, move |control| control.set_flow(&tenant, body.into_bytes())).await?))
}

/// Replace the time zone, business hours and holidays.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/calendar", tag = "tenant", security(("bearer" = [])),
    params(("tenant" = String, Path)),
    request_body(content = Object, description = "`{timezone, hours: {mon: [\"10:00-19:00\"]}, holidays: [\"2026-12-31\"]}`"),
    responses((status = 200, body = Object), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn put_calendar(
    State(state): State<AppState>,
    TenantAuth { name: tenant, .. }: TenantAuth,
    body: Result<Json<CalendarConfig>, JsonRejection>,
) -> Result<Json<Value>, AppError> {
    let Json(calendar) = body?;
    Ok(served(control(&state, move |control| control.set_calendar(&tenant, calendar)).await?))
}

/// Set one channel's credentials. The answer, like every other, never
/// contains them.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/channels/{channel}", tag = "tenant", security(("bearer" = [])),
    params(("tenant" = String, Path), ("channel" = String, Path, description = "`whatsapp`, `messenger`, `instagram` or `telegram`")),
    request_body(content = Object, description = "Meta: `{app_secret, verify_token, access_token, phone_number_id, api_base, window_fallback}`; Telegram: `{secret_token, bot_token, api_base}`"),
    responses((status = 200, description = "Which fields are set", body = Object), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_channel(
    State(state): State<AppState>,
    TenantAuth { name: tenant, .. }: TenantAuth,
    UrlPath((_, channel)): UrlPath<(String, String)>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, AppError> {
    let Json(secrets) = body?;
    let reloaded = control(&state, move |control| control.set_channel(&tenant, &channel, secrets)).await?;
    Ok(Json(channels::describe_secrets(&reloaded.channels)))
}

/// Which channels are configured, and which of their fields are set.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/channels", tag = "tenant", security(("bearer" = [])),
    params(("tenant" = String, Path)),
    responses((status = 200, description = "Per channel: the fields that are set (never their values) and the API base", body = Object), (status = 401, body = ErrorBody)))]
pub async fn channels(auth: TenantAuth) -> Json<Value> {
    Json(channels::describe_secrets(&auth.tenant.channels))
}

/// Upload a plugin's component (the raw `.wasm`) and bind it under `name`,
/// keeping the binding's config, limits and grants. It is checked in the
/// sandbox before it replaces anything.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/plugins/{name}/component", tag = "tenant", security(("bearer" = [])),
    params(("tenant" = String, Path), ("name" = String, Path, description = "The binding the flow uses")),
    request_body(content = Vec<u8>, content_type = "application/wasm"),
    responses((status = 200, body = Object), (status = 422, description = "Not a component this host runs, or the flow breaks", body = ErrorBody)))]
pub async fn put_component(
    State(state): State<AppState>,
    TenantAuth { name: tenant, key, .. }: TenantAuth,
    UrlPath((_, name)): UrlPath<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    let by = Provenance { by: Some(key), note: None };
    Ok(served(
        control(&state, move |control| control.put_component(&tenant, &name, body.to_vec(), &by)).await?,
    ))
}

/// Set a plugin binding's config (JSON), kept beside it as `plugins/{name}.json`.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/plugins/{name}/config", tag = "tenant", security(("bearer" = [])),
    params(("tenant" = String, Path), ("name" = String, Path)),
    request_body(content = Object, description = "The plugin's own config"),
    responses((status = 200, body = Object), (status = 404, description = "No such binding", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_config(
    State(state): State<AppState>,
    TenantAuth { name: tenant, key, .. }: TenantAuth,
    UrlPath((_, name)): UrlPath<(String, String)>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, AppError> {
    let Json(config) = body?;
    let by = Provenance { by: Some(key), note: None };
    Ok(served(control(&state, move |control| control.put_config(&tenant, &name, &config, &by)).await?))
}

/// `GET /v1/tenants/{tenant}/plugins/{name}/versions`: every version of a
/// binding, oldest first: the component and config it ran, its manifest, when.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/plugins/{name}/versions", tag = "tenant", security(("bearer" = [])),
    params(("tenant" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "`{versions: [{seq, component, config, manifest, at}]}`, oldest first", body = Object),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn plugin_versions(
    State(state): State<AppState>,
    TenantAuth { name: tenant, tenant: running, .. }: TenantAuth,
    UrlPath((_, name)): UrlPath<(String, String)>,
) -> Result<Json<Value>, AppError> {
    if !running.plugins.contains_key(&name) {
        return Err(crate::tenants::ControlError::UnknownPlugin(name).into());
    }
    let versions = super::api::blocking(&state, move |engine| engine.plugin_versions(&tenant, &name)).await?;
    Ok(Json(json!({ "versions": versions })))
}

/// `POST /v1/tenants/{tenant}/plugins/{name}/versions/{seq}/restore`: run an
/// earlier version again (its component and config), checked as an upload.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/plugins/{name}/versions/{seq}/restore", tag = "tenant", security(("bearer" = [])),
    params(("tenant" = String, Path), ("name" = String, Path), ("seq" = u64, Path)),
    responses((status = 200, description = "`{tenant, flow_version}`", body = Object),
              (status = 404, description = "No such binding or version", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn restore_plugin_version(
    State(state): State<AppState>,
    TenantAuth { name: tenant, key, .. }: TenantAuth,
    UrlPath((_, name, seq)): UrlPath<(String, String, u64)>,
) -> Result<Json<Value>, AppError> {
    let by = Provenance { by: Some(key), note: Some(format!("restored version {seq}")) };
    Ok(served(
        control(&state, move |control| control.restore_plugin_version(&tenant, &name, seq, &by)).await?,
    ))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct CompareQuery {
    /// The earlier version's `seq`.
    from: u64,
    /// The later version's `seq`.
    to: u64,
}

/// `GET /v1/tenants/{tenant}/plugins/{name}/versions/compare?from=A&to=B`:
/// two versions side by side, and what changed between them (the code,
/// the config, the manifest's version). To compare what they *do*, replay
/// one against the other's recorded calls (`POST …/replay`).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/plugins/{name}/versions/compare", tag = "tenant", security(("bearer" = [])),
    params(("tenant" = String, Path), ("name" = String, Path), CompareQuery),
    responses((status = 200, description = "`{from, to, component_changed, config_changed, manifest_changed}`", body = Object),
              (status = 404, description = "No such binding or version", body = ErrorBody)))]
pub async fn compare_plugin_versions(
    State(state): State<AppState>,
    TenantAuth { name: tenant, tenant: running, .. }: TenantAuth,
    UrlPath((_, name)): UrlPath<(String, String)>,
    axum::extract::Query(query): axum::extract::Query<CompareQuery>,
) -> Result<Json<Value>, AppError> {
    if !running.plugins.contains_key(&name) {
        return Err(crate::tenants::ControlError::UnknownPlugin(name).into());
    }
    let binding = name.clone();
    let versions = super::api::blocking(&state, move |engine| engine.plugin_versions(&tenant, &name)).await?;
    let find = |seq: u64| {
        versions.iter().find(|version| version.seq == seq).cloned().ok_or_else(|| {
            AppError::from(crate::tenants::ControlError::UnknownVersion { plugin: binding.clone(), seq })
        })
    };
    let (from, to) = (find(query.from)?, find(query.to)?);
    Ok(Json(json!({
        "component_changed": from.component != to.component,
        "config_changed": from.config != to.config,
        "manifest_changed": from.manifest != to.manifest,
        "from": from,
        "to": to,
    })))
}
