//! A tenant manages itself with its own keys: its flow, business hours,
//! channel credentials and plugins.
//!
//! The tenant's directory stays the one source of truth (what `serve` loads
//! at start-up). An edit writes the files it changes, each atomically, then
//! reloads the tenant, which checks everything (the flow against the
//! bindings, the calendar, the components in the sandbox). If the reload
//! fails, the old files go back, the tenant keeps running what it had, and
//! the answer is a 422 with every problem. Secrets go in, never out.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

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
use crate::tenant::Tenant;

/// Largest component accepted (the Python runtime is about 20 MiB).
pub const MAX_COMPONENT_BYTES: usize = 48 << 20;

/// One edit at a time, so a rollback never undoes another edit's files.
static EDITS: Mutex<()> = Mutex::new(());

/// Write `files`, reload the tenant, and restore the old files if it fails.
fn apply(
    engine: &crate::engine::Engine,
    tenant: &str,
    files: Vec<(PathBuf, Vec<u8>)>,
) -> Result<std::sync::Arc<Tenant>, EngineError> {
    let _one_at_a_time = EDITS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let io = |path: &Path, error: std::io::Error| EngineError::Setup {
        tenant: tenant.to_owned(),
        message: format!("{}: {error}", path.display()),
    };
    let mut written: Vec<(PathBuf, Option<Vec<u8>>)> = Vec::new();
    let mut result = Ok(());
    for (path, bytes) in files {
        let old = std::fs::read(&path).ok();
        if let Err(error) = write_atomically(&path, &bytes) {
            result = Err(io(&path, error));
            break;
        }
        written.push((path, old));
    }
    let reloaded = result.and_then(|()| engine.reload(tenant, &|name| std::env::var(name).ok()));
    if reloaded.is_err() {
        for (path, old) in written.into_iter().rev() {
            let restored = match old {
                Some(bytes) => write_atomically(&path, &bytes),
                None => std::fs::remove_file(&path),
            };
            if let Err(error) = restored {
                tracing::error!(path = %path.display(), %error, "could not put a tenant file back");
            }
        }
    }
    reloaded
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let temporary = path.with_extension("partial");
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path)
}

/// `tenant.toml` with `edit` applied, keeping its comments and `${VAR}`s.
fn edited_tenant_file(
    tenant: &Tenant,
    edit: impl FnOnce(&mut toml_edit::DocumentMut) -> Result<(), AppError>,
) -> Result<(PathBuf, Vec<u8>), AppError> {
    let path = tenant.dir.join("tenant.toml");
    let text = std::fs::read_to_string(&path).map_err(|error| {
        tracing::error!(path = %path.display(), %error, "tenant file unreadable");
        AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the tenant's file could not be read")
    })?;
    let mut document: toml_edit::DocumentMut = text.parse().map_err(|_| {
        AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the tenant's file does not parse")
    })?;
    edit(&mut document)?;
    Ok((path, document.to_string().into_bytes()))
}

/// A serializable value as a TOML table item.
fn table_of(value: &impl serde::Serialize) -> Result<toml_edit::Item, AppError> {
    let text = toml::to_string(value).map_err(|error| AppError::bad_request(error.to_string()))?;
    let document: toml_edit::DocumentMut =
        text.parse().map_err(|_| AppError::bad_request("the value has no TOML form"))?;
    Ok(toml_edit::Item::Table(document.as_table().clone()))
}

fn invalid(error: EngineError) -> AppError {
    match error {
        EngineError::Invalid { problems, .. } => AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_tenant",
            format!("nothing was changed: {problems}"),
        ),
        other => other.into(),
    }
}

async fn commit(
    state: &AppState,
    tenant: String,
    files: Vec<(PathBuf, Vec<u8>)>,
) -> Result<Json<Value>, AppError> {
    let engine = state.engine.clone();
    let reloaded =
        tokio::task::spawn_blocking(move || apply(&engine, &tenant, files)).await?.map_err(invalid)?;
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
    let found = state.engine.tenant(&tenant)?;
    commit(&state, tenant, vec![(found.flow_file.clone(), body.into_bytes())]).await
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
    let found = state.engine.tenant(&tenant)?;
    let file = edited_tenant_file(&found, |document| {
        document["calendar"] = table_of(&calendar)?;
        Ok(())
    })?;
    commit(&state, tenant, vec![file]).await
}

/// Set one channel's credentials. The answer, like every other, never
/// contains them.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/channels/{channel}", tag = "tenant", security(("bearer" = [])),
    params(("tenant" = String, Path), ("channel" = String, Path, description = "`whatsapp`, `messenger`, `instagram` or `telegram`")),
    request_body(content = Object, description = "Meta: `{app_secret, verify_token, access_token, phone_number_id, api_base}`; Telegram: `{secret_token, bot_token, api_base}`"),
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
    let table = match channel.as_str() {
        "whatsapp" | "messenger" | "instagram" => {
            table_of(&serde_json::from_value::<MetaSecrets>(secrets).map_err(bad)?)?
        }
        "telegram" => table_of(&serde_json::from_value::<TelegramSecrets>(secrets).map_err(bad)?)?,
        other => return Err(AppError::bad_request(format!("unknown channel {other:?}"))),
    };
    let found = state.engine.tenant(&tenant)?;
    let file = edited_tenant_file(&found, |document| {
        let channels = document["channels"].or_insert(toml_edit::table());
        channels[channel.as_str()] = table;
        Ok(())
    })?;
    let _reloaded = commit(&state, tenant.clone(), vec![file]).await?;
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
            json!({ "set": set, "phone_number_id": secrets.phone_number_id, "api_base": secrets.api_base })
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
    let found = state.engine.tenant(&tenant)?;
    let relative = format!("plugins/{name}.wasm");
    let file = edited_tenant_file(&found, |document| {
        let plugins = document["plugins"].or_insert(toml_edit::table());
        let binding = plugins[name.as_str()].or_insert(toml_edit::table());
        binding["component"] = toml_edit::value(relative.clone());
        Ok(())
    })?;
    let files = vec![(found.dir.join(&relative), body.to_vec()), file];
    commit(&state, tenant, files).await
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
    let found = state.engine.tenant(&tenant)?;
    if !found.plugins.contains_key(&name) {
        return Err(AppError::new(
            StatusCode::NOT_FOUND,
            "unknown_plugin",
            format!("no plugin bound as {name:?}"),
        ));
    }
    let relative = format!("plugins/{name}.json");
    let file = edited_tenant_file(&found, |document| {
        let binding = &mut document["plugins"][name.as_str()];
        if let Some(table) = binding.as_table_like_mut() {
            table.remove("config");
        }
        binding["config_file"] = toml_edit::value(relative.clone());
        Ok(())
    })?;
    let json =
        serde_json::to_vec_pretty(&config).map_err(|error| AppError::bad_request(error.to_string()))?;
    commit(&state, tenant, vec![(found.dir.join(&relative), json), file]).await
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
