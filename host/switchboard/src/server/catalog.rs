//! The plugin catalog, the operator's (an agency hosting its clients): a
//! build published once under its manifest's name and version, then
//! installed into chosen tenants, each with its own config; an upgrade is
//! the next version installed the same way, at once or as a canary.
//! No tenant key reads it: one client's plugins are not another's to see.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_store::Published;

use super::api::{blocking, control};
use super::auth::OperatorAuth;
use super::{AppError, AppState, ErrorBody};
use crate::tenants::Install;

/// `POST /v1/catalog/plugins`: publish a component (the raw `.wasm`, its
/// manifest embedded by `switchboard plugin build`) under its manifest's
/// name and version. A version is published once: the same build again
/// changes nothing (200), another build under it is refused (409).
#[utoipa::path(post, path = "/v1/catalog/plugins", tag = "operator", security(("bearer" = [])),
    request_body(content = Vec<u8>, content_type = "application/wasm"),
    responses((status = 201, description = "`{name, version, component, language, description, at}`", body = Object),
              (status = 200, description = "Published before, the same build", body = Object),
              (status = 409, description = "Another build holds that version", body = ErrorBody),
              (status = 422, description = "Not a component this host runs, or no manifest", body = ErrorBody)))]
pub async fn publish(
    State(state): State<AppState>,
    _: OperatorAuth,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), AppError> {
    match blocking(&state, move |engine| engine.publish_to_catalog(&body)).await? {
        Published::New(entry) => Ok((StatusCode::CREATED, Json(json!(entry)))),
        Published::Again(entry) => Ok((StatusCode::OK, Json(json!(entry)))),
        Published::Taken(held) => Err(AppError::new(
            StatusCode::CONFLICT,
            "version_taken",
            format!(
                "{} {} is published already, as another build ({}); bump the version in switchboard-plugin.toml",
                held.name,
                held.version,
                &held.component[..12.min(held.component.len())]
            ),
        )),
    }
}

/// `GET /v1/catalog/plugins`: every build in the catalog, by name then version.
#[utoipa::path(get, path = "/v1/catalog/plugins", tag = "operator", security(("bearer" = [])),
    responses((status = 200, description = "`{plugins: [{name, version, component, language, description, at}]}`", body = Object),
              (status = 401, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, _: OperatorAuth) -> Result<Json<Value>, AppError> {
    let plugins = blocking(&state, |engine| engine.catalog()).await?;
    Ok(Json(json!({ "plugins": plugins })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallRequest {
    installs: Vec<Install>,
}

/// `POST /v1/catalog/plugins/{name}/{version}/install`: install a build
/// into each tenant named, each as its own binding with its own config
/// (checked against the manifest's schema, samples run), at once or as a
/// canary. One tenant's refusal leaves the others installed; each result
/// says how it went.
#[utoipa::path(post, path = "/v1/catalog/plugins/{name}/{version}/install", tag = "operator", security(("bearer" = [])),
    params(("name" = String, Path), ("version" = String, Path)),
    request_body(content = InstallRequest, description = "`{installs: [{tenant, binding, config, canary}]}`"),
    responses((status = 200, description = "`{installed, failed, results: [{tenant, binding, version} | {tenant, binding, error: {code, message}}]}`", body = Object),
              (status = 404, description = "No such build in the catalog", body = ErrorBody)))]
pub async fn install(
    State(state): State<AppState>,
    _: OperatorAuth,
    UrlPath((name, version)): UrlPath<(String, String)>,
    Json(request): Json<InstallRequest>,
) -> Result<Json<Value>, AppError> {
    let (lookup_name, lookup_version) = (name.clone(), version.clone());
    let found = blocking(&state, move |engine| engine.catalog_build(&lookup_name, &lookup_version)).await?;
    if found.is_none() {
        return Err(AppError::new(
            StatusCode::NOT_FOUND,
            "not_in_catalog",
            format!("the catalog has no {name} {version}; GET /v1/catalog/plugins lists it"),
        ));
    }
    let mut results = Vec::new();
    let (mut installed, mut failed) = (0, 0);
    for install in request.installs {
        let (tenant, binding) = (install.tenant.clone(), install.binding.clone());
        let (name, version) = (name.clone(), version.clone());
        let done = control(&state, move |control| {
            let (tenant, binding) = (install.tenant.clone(), install.binding.clone());
            control.install(&name, &version, install, "operator")?;
            control.latest_version(&tenant, &binding)
        })
        .await;
        match done {
            Ok(version) => {
                installed += 1;
                results.push(json!({ "tenant": tenant, "binding": binding, "version": version }));
            }
            Err(error) => {
                failed += 1;
                results.push(json!({ "tenant": tenant, "binding": binding, "error": error.body() }));
            }
        }
    }
    Ok(Json(json!({ "installed": installed, "failed": failed, "results": results })))
}
