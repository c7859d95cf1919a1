//! A tenant manages itself with its own keys: its flow, business hours,
//! channel credentials and plugins.
//!
//! Each handler is a thin call into `tenant::edit`, which writes what the
//! tenant set to its `managed.toml` as literal values (never expanded, and
//! with no place for grants or limits), checks the whole tenant before
//! committing, and keeps one edit per tenant at a time. A bad edit changes
//! nothing and answers 422 with every problem. Secrets go in, never out.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use switchboard_core::calendar::CalendarConfig;

use super::api::authorize;
use super::{AppError, AppState, ErrorBody};
use crate::channels::{MetaSecrets, TelegramSecrets};
use crate::engine::EngineError;
use crate::tenant::edit::{EditError, NewFile, edit};
use crate::tenant::{Managed, ManagedBinding, Tenant};

/// Largest component accepted (the Python runtime is about 20 MiB).
pub const MAX_COMPONENT_BYTES: usize = 48 << 20;

fn invalid(error: EditError) -> AppError {
    match error {
        EditError::Request(message) => AppError::bad_request(message),
        EditError::Engine(EngineError::Invalid { problems, .. }) => AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_tenant",
            format!("nothing was changed: {problems}"),
        ),
        EditError::Engine(other) => other.into(),
    }
}

/// Make the edit on the blocking pool and answer with the new version.
pub(super) async fn commit(
    state: &AppState,
    tenant: String,
    change: impl FnOnce(&Tenant, &mut Managed, &mut Vec<NewFile>) -> Result<(), String> + Send + 'static,
) -> Result<Json<Value>, AppError> {
    let engine = state.engine.clone();
    let reloaded =
        tokio::task::spawn_blocking(move || edit(&engine, &tenant, &|name| std::env::var(name).ok(), change))
            .await?
            .map_err(invalid)?;
    Ok(Json(json!({ "tenant": reloaded.name, "flow_version": reloaded.flow.version })))
}

/// Replace the flow (TOML). New conversations get it; running ones keep theirs.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/flow", tag = "tenant", security(("bearer" = [])),
    params(("tenant" = String, Path)), request_body(content = String, content_type = "text/plain", description = "The flow, in TOML"),
    responses((status = 200, description = "`{tenant, flow_version}`", body = Object),
              (status = 422, description = "Every problem, with line and column; nothing changed", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn put_flow(
    State(state): State<AppState>,
    UrlPath(tenant): UrlPath<String>,
    headers: HeaderMap,
    body: String,
) -> Result<Json<Value>, AppError> {
    authorize(&state, &tenant, &headers)?;
    commit(&state, tenant, move |_, managed, files| {
        let flow = NewFile::named_by_content("flows", "flow", "toml", body.into_bytes());
        managed.flow = Some(flow.relative.clone());
        files.push(flow);
        Ok(())
    })
    .await
}

/// Replace the time zone, business hours and holidays.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/calendar", tag = "tenant", security(("bearer" = [])),
    params(("tenant" = String, Path)),
    request_body(content = Object, description = "`{timezone, hours: {mon: [\"10:00-19:00\"]}, holidays: [\"2026-12-31\"]}`"),
    responses((status = 200, body = Object), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn put_calendar(
    State(state): State<AppState>,
    UrlPath(tenant): UrlPath<String>,
    headers: HeaderMap,
    body: Result<Json<CalendarConfig>, JsonRejection>,
) -> Result<Json<Value>, AppError> {
    authorize(&state, &tenant, &headers)?;
    let Json(calendar) = body?;
    commit(&state, tenant, move |_, managed, _| {
        managed.calendar = Some(calendar);
        Ok(())
    })
    .await
}

/// Set one channel's credentials. The answer, like every other, never
/// contains them.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/channels/{channel}", tag = "tenant", security(("bearer" = [])),
    params(("tenant" = String, Path), ("channel" = String, Path, description = "`whatsapp`, `messenger`, `instagram` or `telegram`")),
    request_body(content = Object, description = "Meta: `{app_secret, verify_token, access_token, phone_number_id, api_base, window_fallback}`; Telegram: `{secret_token, bot_token, api_base}`"),
    responses((status = 200, description = "Which fields are set", body = Object), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_channel(
    State(state): State<AppState>,
    UrlPath((tenant, channel)): UrlPath<(String, String)>,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, AppError> {
    authorize(&state, &tenant, &headers)?;
    let Json(secrets) = body?;
    let bad = |error: serde_json::Error| AppError::bad_request(format!("{channel}: {error}"));
    let meta = |secrets: Value| serde_json::from_value::<MetaSecrets>(secrets).map(Some).map_err(bad);
    let mut given = crate::channels::ChannelSecrets::default();
    match channel.as_str() {
        "whatsapp" => given.whatsapp = meta(secrets)?,
        "messenger" => given.messenger = meta(secrets)?,
        "instagram" => given.instagram = meta(secrets)?,
        "telegram" => given.telegram = Some(serde_json::from_value::<TelegramSecrets>(secrets).map_err(bad)?),
        other => return Err(AppError::bad_request(format!("unknown channel {other:?}"))),
    }
    let _reloaded = commit(&state, tenant.clone(), move |_, managed, _| {
        let ours = &mut managed.channels;
        ours.whatsapp = given.whatsapp.or(ours.whatsapp.take());
        ours.messenger = given.messenger.or(ours.messenger.take());
        ours.instagram = given.instagram.or(ours.instagram.take());
        ours.telegram = given.telegram.or(ours.telegram.take());
        Ok(())
    })
    .await?;
    channels(State(state), UrlPath(tenant), headers).await
}

/// Which channels are configured, and which of their fields are set.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/channels", tag = "tenant", security(("bearer" = [])),
    params(("tenant" = String, Path)),
    responses((status = 200, description = "Per channel: the fields that are set (never their values) and the API base", body = Object), (status = 401, body = ErrorBody)))]
pub async fn channels(
    State(state): State<AppState>,
    UrlPath(tenant): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, AppError> {
    authorize(&state, &tenant, &headers)?;
    let found = state.engine.tenant(&tenant)?;
    let channels = &found.channels;
    let meta = |secrets: &Option<MetaSecrets>| {
        secrets.as_ref().map(|secrets| {
            let mut set = vec!["app_secret", "verify_token"];
            set.extend(secrets.access_token.as_ref().map(|_| "access_token"));
            json!({
                "set": set, "phone_number_id": secrets.phone_number_id, "api_base": secrets.api_base,
                "window_fallback": secrets.window_fallback,
            })
        })
    };
    let telegram = channels.telegram.as_ref().map(|secrets| {
        let mut set = vec!["secret_token"];
        set.extend(secrets.bot_token.as_ref().map(|_| "bot_token"));
        json!({ "set": set, "api_base": secrets.api_base })
    });
    Ok(Json(json!({
        "whatsapp": meta(&channels.whatsapp), "messenger": meta(&channels.messenger),
        "instagram": meta(&channels.instagram), "telegram": telegram,
    })))
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
    UrlPath((tenant, name)): UrlPath<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    authorize(&state, &tenant, &headers)?;
    plain_name(&name, "plugin")?;
    commit(&state, tenant, move |_, managed, files| {
        let component = NewFile::named_by_content("plugins", &name, "wasm", body.to_vec());
        let binding = managed.plugins.entry(name).or_insert_with(ManagedBinding::default);
        binding.component = Some(component.relative.clone());
        files.push(component);
        Ok(())
    })
    .await
}

/// Set a plugin binding's config (JSON), kept beside it as `plugins/{name}.json`.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/plugins/{name}/config", tag = "tenant", security(("bearer" = [])),
    params(("tenant" = String, Path), ("name" = String, Path)),
    request_body(content = Object, description = "The plugin's own config"),
    responses((status = 200, body = Object), (status = 404, description = "No such binding", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_config(
    State(state): State<AppState>,
    UrlPath((tenant, name)): UrlPath<(String, String)>,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, AppError> {
    authorize(&state, &tenant, &headers)?;
    plain_name(&name, "plugin")?;
    let Json(config) = body?;
    if !state.engine.tenant(&tenant)?.plugins.contains_key(&name) {
        return Err(AppError::new(
            StatusCode::NOT_FOUND,
            "unknown_plugin",
            format!("no plugin bound as {name:?}"),
        ));
    }
    let json =
        serde_json::to_vec_pretty(&config).map_err(|error| AppError::bad_request(error.to_string()))?;
    commit(&state, tenant, move |current, managed, files| {
        if !current.plugins.contains_key(&name) {
            return Err(format!("no plugin bound as {name:?}"));
        }
        let config = NewFile::named_by_content("plugins", &name, "json", json);
        let binding = managed.plugins.entry(name).or_insert_with(ManagedBinding::default);
        binding.config_file = Some(config.relative.clone());
        files.push(config);
        Ok(())
    })
    .await
}

/// Tenant and plugin binding names become file names: keep them plain.
pub(super) fn plain_name(name: &str, what: &str) -> Result<(), AppError> {
    let plain = (1..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if plain {
        Ok(())
    } else {
        Err(AppError::bad_request(format!("a {what} name is 1-64 letters, digits, '-' or '_'")))
    }
}
