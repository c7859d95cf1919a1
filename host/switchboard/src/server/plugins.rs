//! A plugin's production record: the calls it answered, and a candidate
//! version replayed against them (`crate::replay`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use serde::Deserialize;

use super::api::{blocking, now};
use super::auth::TenantAuth;
use super::{AppError, AppState, ErrorBody};
use crate::engine::{EngineError, RecordedCalls};
use crate::replay::Report;

/// The most recorded calls one request reads.
const MAX_CALLS: usize = 5_000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CallsQuery {
    /// Unix ms, an RFC 3339 time, or a span back from now (`24h`, `7d`); the default is `7d`.
    since: Option<String>,
    /// At most this many calls (default 1000, at most 5000).
    limit: Option<usize>,
}

impl CallsQuery {
    fn window(&self) -> Result<(i64, usize), AppError> {
        let since = crate::replay::parse_since(self.since.as_deref().unwrap_or("7d"), now())
            .map_err(|message| AppError::new(axum::http::StatusCode::BAD_REQUEST, "bad_request", message))?;
        Ok((since, self.limit.unwrap_or(1000).clamp(1, MAX_CALLS)))
    }
}

/// `GET /v1/tenants/{tenant}/plugins/{name}/calls`: the binding's recorded
/// production calls, oldest first, with the configs they ran with:
/// what `switchboard plugin replay` runs a candidate against.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/plugins/{name}/calls", tag = "tenant", security(("bearer" = [])),
    params(("tenant" = String, Path), ("name" = String, Path), CallsQuery),
    responses((status = 200, description = "`{calls: [{at, conversation, plugin, component, config, input, outcome, fuel, wall_time_us, peak_memory_bytes, redacted}], configs: {hash: config}}`", body = Object),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn calls(
    State(state): State<AppState>,
    TenantAuth { name: tenant, tenant: running }: TenantAuth,
    UrlPath((_, name)): UrlPath<(String, String)>,
    Query(query): Query<CallsQuery>,
) -> Result<Json<RecordedCalls>, AppError> {
    if !running.plugins.contains_key(&name) {
        return Err(EngineError::UnknownPlugin(name).into());
    }
    let (since, limit) = query.window()?;
    let recorded = blocking(&state, move |engine| engine.recorded_calls(&tenant, &name, since, limit)).await?;
    Ok(Json(recorded))
}

/// `POST /v1/tenants/{tenant}/plugins/{name}/replay`: run a candidate
/// component (the raw `.wasm`) against the binding's recorded calls, each
/// with the config it was recorded with, in the sandbox with no secrets or
/// outbound HTTP. Nothing the tenant runs changes.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/plugins/{name}/replay", tag = "tenant", security(("bearer" = [])),
    params(("tenant" = String, Path), ("name" = String, Path), CallsQuery),
    request_body(content = Vec<u8>, content_type = "application/wasm"),
    responses((status = 200, description = "`{calls, same, changed, new_failures, fixed, fails_differently, skipped, fuel_ratio, time_ratio, differences: [{at, conversation, verdict, recorded, candidate}]}`", body = Object),
              (status = 404, body = ErrorBody), (status = 422, description = "Not a component this host runs", body = ErrorBody)))]
pub async fn replay(
    State(state): State<AppState>,
    TenantAuth { name: tenant, .. }: TenantAuth,
    UrlPath((_, name)): UrlPath<(String, String)>,
    Query(query): Query<CallsQuery>,
    body: Bytes,
) -> Result<Json<Report>, AppError> {
    let (since, limit) = query.window()?;
    let report =
        blocking(&state, move |engine| engine.replay(&tenant, &name, &body, None, since, limit)).await?;
    Ok(Json(report))
}
