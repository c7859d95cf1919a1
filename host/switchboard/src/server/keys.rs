//! API keys: the operator's admin key (set at start-up) and each tenant's
//! own keys, minted here, shown once, stored as SHA-256 hashes, revocable.
//!
//! A tenant key reads `sbk_{id}_{secret}`: the id finds the record (under
//! the tenant's prefix, so another tenant's key finds nothing), and the
//! secret's hash is compared in constant time.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use switchboard_store::ApiKey;

use crate::tenant::{Tenant, escape, token_sha256};

use super::api::{authorize, blocking, now, operator_token};
use super::manage::plain_name;
use super::{AppError, AppState, ErrorBody};

const PREFIX: &str = "sbk_";

/// Whether `presented` is one of the tenant's live stored keys.
pub(super) fn stored_key_matches(state: &AppState, tenant: &str, presented: &str) -> bool {
    let Some((id, secret)) = presented.strip_prefix(PREFIX).and_then(|rest| rest.split_once('_')) else {
        return false;
    };
    let Ok(Some(record)) = state.engine.store().api_key(tenant, id) else { return false };
    record.revoked_at.is_none()
        && bool::from(sha256_hex(secret).as_bytes().ct_eq(record.secret_sha256.as_bytes()))
}

fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new key: its record, and the key itself (shown once).
fn mint(label: &str) -> Result<(ApiKey, String), AppError> {
    let mut random = [0_u8; 36];
    getrandom::fill(&mut random).map_err(|error| {
        tracing::error!(%error, "no randomness for a new key");
        AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the key could not be made")
    })?;
    let (id, secret) = (hex::encode(&random[..4]), hex::encode(&random[4..]));
    let record = ApiKey {
        id: id.clone(),
        label: label.to_owned(),
        secret_sha256: sha256_hex(&secret),
        created_at: now(),
        revoked_at: None,
    };
    Ok((record, format!("{PREFIX}{id}_{secret}")))
}

fn authorize_admin(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    operator_token(state.admin_key.as_deref(), headers, "the operator API is not enabled", "admin key")
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// What the key is for, e.g. "CRM sync".
    #[serde(default)]
    label: String,
}

async fn create(
    state: &AppState,
    tenant: String,
    label: String,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let (record, key) = mint(&label)?;
    let shown =
        json!({ "id": record.id, "label": record.label, "created_at": record.created_at, "key": key });
    blocking(state, move |engine| Ok(engine.store().put_api_key(&tenant, &record)?)).await?;
    Ok((StatusCode::CREATED, Json(shown)))
}

fn listed(key: &ApiKey) -> Value {
    json!({ "id": key.id, "label": key.label, "created_at": key.created_at, "revoked_at": key.revoked_at })
}

/// The operator's list of tenants.
#[utoipa::path(get, path = "/v1/admin/tenants", tag = "operator", security(("bearer" = [])),
    responses((status = 200, description = "`{tenants: [{name, display_name, flow_version, plugins, channels, handoff_webhook}]}`", body = Object),
              (status = 401, body = ErrorBody), (status = 404, description = "No admin key was set", body = ErrorBody)))]
pub async fn tenants(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, AppError> {
    authorize_admin(&state, &headers)?;
    let list: Vec<Value> = state
        .engine
        .tenant_names()
        .into_iter()
        .filter_map(|name| state.engine.tenant(&name).ok())
        .map(|tenant| {
            let channels = &tenant.channels;
            // Which channels are configured; their secrets are never echoed.
            let configured: Vec<&str> = [
                ("whatsapp", channels.whatsapp.is_some()),
                ("messenger", channels.messenger.is_some()),
                ("instagram", channels.instagram.is_some()),
                ("telegram", channels.telegram.is_some()),
            ]
            .into_iter()
            .filter_map(|(name, on)| on.then_some(name))
            .collect();
            let mut plugins: Vec<&String> = tenant.plugins.keys().collect();
            plugins.sort();
            json!({
                "name": tenant.name, "display_name": tenant.display_name, "flow_version": tenant.flow.version,
                "plugins": plugins, "channels": configured, "handoff_webhook": tenant.handoff_webhook.is_some(),
            })
        })
        .collect();
    Ok(Json(json!({ "tenants": list })))
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
    headers: HeaderMap,
    body: Result<Json<NewTenant>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    authorize_admin(&state, &headers)?;
    let Json(request) = body?;
    let Some(root) = state.tenants_root.clone() else {
        return Err(AppError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "serve was given one tenant, not a directory of them",
        ));
    };
    plain_name(&request.name, "tenant")?;
    if state.engine.tenant(&request.name).is_ok() || root.join(&request.name).exists() {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            "tenant_exists",
            format!("{:?} is taken", request.name),
        ));
    }
    let dir = root.join(&request.name);
    let mut file = toml_edit::DocumentMut::new();
    // tenant.toml is expanded when loaded: what the request says is written
    // escaped, so it stays literal.
    file["name"] = toml_edit::value(request.name.clone());
    let display_name = request.display_name.clone().unwrap_or_else(|| request.name.clone());
    file["display_name"] = toml_edit::value(escape(&display_name));
    file["flow"] = toml_edit::value("flow.toml");
    file["web_chat"] = toml_edit::value(request.web_chat);
    let mut calendar = toml_edit::Table::new();
    calendar["timezone"] = toml_edit::value(escape(&request.timezone));
    file["calendar"] = toml_edit::Item::Table(calendar);
    let (plugin_dir, name) = (state.plugin_dir.clone(), request.name.clone());
    let engine = state.engine.clone();
    let created = tokio::task::spawn_blocking(move || -> Result<String, AppError> {
        let written = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(dir.join("flow.toml"), &request.flow))
            .and_then(|()| std::fs::write(dir.join("tenant.toml"), file.to_string()));
        let loaded = written.map_err(|error| format!("the tenant's directory: {error}")).and_then(|()| {
            Tenant::load(&dir, &plugin_dir, engine.runtime(), &|name| std::env::var(name).ok())
                .map_err(|error| format!("{error:#}"))
        });
        match loaded {
            Ok(tenant) => {
                let version = tenant.flow.version.clone();
                engine.add_tenant(tenant)?;
                Ok(version)
            }
            Err(problems) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(AppError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_tenant",
                    format!("nothing was created: {problems}"),
                ))
            }
        }
    })
    .await??;
    let (_, Json(key)) = create(&state, name.clone(), "created with the tenant".to_owned()).await?;
    Ok((StatusCode::CREATED, Json(json!({ "name": name, "flow_version": created, "key": key["key"] }))))
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
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, AppError> {
    authorize_admin(&state, &headers)?;
    let removed = state.engine.remove_tenant(&tenant)?;
    let name = tenant.clone();
    let retired = blocking(&state, move |engine| Ok(engine.store().retire_tenant(&name, now())?)).await?;
    tracing::info!(%tenant, retired, "removed a tenant and retired its stored data");
    let kept = removed.dir.parent().map(|parent| parent.join(".removed").join(format!("{tenant}-{}", now())));
    if let Some(kept) = &kept {
        let moved = kept
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::rename(&removed.dir, kept));
        if let Err(error) = moved {
            tracing::warn!(%error, dir = %removed.dir.display(), "a removed tenant's directory stays in place");
        }
    }
    // Relative to the tenants' directory: no path of the server in answers.
    let kept_in = kept.as_deref().and_then(|kept| {
        let root = removed.dir.parent()?;
        kept.strip_prefix(root).ok().map(|relative| relative.display().to_string())
    });
    Ok(Json(json!({ "removed": tenant, "kept_in": kept_in, "records_retired": retired })))
}

/// The operator makes a key for a tenant; the key is in this answer only.
#[utoipa::path(post, path = "/v1/admin/tenants/{tenant}/keys", tag = "operator", security(("bearer" = [])),
    params(("tenant" = String, Path)), request_body = NewKey,
    responses((status = 201, description = "`{id, label, created_at, key}`", body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn admin_create(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Result<Json<NewKey>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    authorize_admin(&state, &headers)?;
    state.engine.tenant(&tenant)?;
    let Json(request) = body?;
    create(&state, tenant, request.label).await
}

/// A tenant makes another key for itself.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/keys", tag = "keys", security(("bearer" = [])),
    params(("tenant" = String, Path)), request_body = NewKey,
    responses((status = 201, description = "`{id, label, created_at, key}`: the key is shown only here", body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_own(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Result<Json<NewKey>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    authorize(&state, &tenant, &headers)?;
    let Json(request) = body?;
    create(&state, tenant, request.label).await
}

/// A tenant's keys, without their secrets or hashes.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/keys", tag = "keys", security(("bearer" = [])),
    params(("tenant" = String, Path)),
    responses((status = 200, description = "`{keys: [{id, label, created_at, revoked_at}]}`", body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, AppError> {
    authorize(&state, &tenant, &headers)?;
    let bootstrap = state.engine.tenant(&tenant)?.api_token.is_some();
    let keys = blocking(&state, move |engine| Ok(engine.store().api_keys(&tenant)?)).await?;
    let mut shown: Vec<Value> = keys.iter().map(listed).collect();
    if bootstrap {
        shown.insert(0, json!({ "id": BOOTSTRAP, "label": "api_token in tenant.toml", "created_at": null, "revoked_at": null }));
    }
    Ok(Json(json!({ "keys": shown })))
}

/// The id under which the operator's bootstrap `api_token` is listed and revoked.
const BOOTSTRAP: &str = "bootstrap";

/// Revoke a key: it stops working at once.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/keys/{id}", tag = "keys", security(("bearer" = [])),
    params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "The key, now revoked", body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, AppError> {
    authorize(&state, &tenant, &headers)?;
    if id == BOOTSTRAP {
        return revoke_bootstrap(&state, tenant).await;
    }
    let revoked = blocking(&state, move |engine| {
        let store = engine.store();
        let Some(mut key) = store.api_key(&tenant, &id)? else { return Ok(None) };
        key.revoked_at.get_or_insert_with(now);
        store.put_api_key(&tenant, &key)?;
        Ok(Some(key))
    })
    .await?;
    match revoked {
        Some(key) => Ok(Json(listed(&key))),
        None => Err(AppError::new(StatusCode::NOT_FOUND, "unknown_key", "no such key")),
    }
}

/// Revoke the operator's bootstrap token: its hash goes into the tenant's
/// `managed.toml`, so it stays revoked across restarts, until the operator
/// sets another token (rotation).
async fn revoke_bootstrap(state: &AppState, tenant: String) -> Result<Json<Value>, AppError> {
    let Some(token) = state.engine.tenant(&tenant)?.api_token.clone() else {
        return Err(AppError::new(StatusCode::NOT_FOUND, "unknown_key", "the bootstrap token is not in use"));
    };
    let _reloaded = super::manage::commit(state, tenant, move |_, managed, _| {
        managed.revoked_api_token_sha256 = Some(token_sha256(&token));
        Ok(())
    })
    .await?;
    Ok(Json(
        json!({ "id": BOOTSTRAP, "label": "api_token in tenant.toml", "created_at": null, "revoked_at": now() }),
    ))
}
