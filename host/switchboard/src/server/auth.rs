//! Who may call a route, as axum extractors: a handler that takes
//! [`TenantAuth`] or [`OperatorAuth`] cannot run without the key, so a new
//! route cannot forget the check. `tests/all/auth.rs` walks every route in
//! the OpenAPI document and proves that each one that declares a bearer
//! refuses a missing key, another tenant's key and a revoked key.
//!
//! A tenant's key is checked before anything is said about the tenant:
//! without a key of its own, a tenant that does not exist, is loading or
//! failed to load answers the same 401 as one that does, so names cannot
//! be probed.

use std::sync::Arc;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use subtle::ConstantTimeEq;

use super::{AppError, AppState};
use crate::tenant::Tenant;

/// A request that bears a key of the tenant named by the route's
/// `{tenant}`: its bootstrap token or one of its live stored keys.
#[derive(Debug)]
pub struct TenantAuth {
    pub name: String,
    pub tenant: Arc<Tenant>,
    /// The id of the key presented (`bootstrap` for the operator's
    /// `api_token`): who did what, in versions and events.
    pub key: String,
}

/// A request that bears the operator's admin key (`serve --admin-key`).
/// Without one configured, the operator API is off: 404.
#[derive(Debug)]
pub struct OperatorAuth;

/// A request that bears the metrics token (`serve --metrics-token`).
/// Without one configured, `/metrics` is off: 404.
#[derive(Debug)]
pub struct MetricsAuth;

impl FromRequestParts<AppState> for TenantAuth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let params = RawPathParams::from_request_parts(parts, state).await.map_err(|rejection| {
            tracing::error!(%rejection, "a tenant route without path parameters");
            AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the request could not be completed")
        })?;
        let Some(name) = params.iter().find_map(|(key, value)| (key == "tenant").then(|| value.to_owned()))
        else {
            tracing::error!(path = %parts.uri.path(), "a tenant route without {{tenant}}");
            return Err(AppError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the request could not be completed",
            ));
        };
        let Some(key) = state.control.key_holder(&name, bearer(&parts.headers)) else {
            return Err(unauthorized("bearer token"));
        };
        let tenant = state.engine.tenant(&name)?;
        Ok(Self { name, tenant, key })
    }
}

impl FromRequestParts<AppState> for OperatorAuth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        operator_token(
            state.admin_key.as_deref(),
            &parts.headers,
            "the operator API is not enabled",
            "admin key",
        )?;
        Ok(Self)
    }
}

impl FromRequestParts<AppState> for MetricsAuth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        operator_token(
            state.metrics_token.as_deref(),
            &parts.headers,
            "metrics are not enabled",
            "bearer token",
        )?;
        Ok(Self)
    }
}

/// An operator's token: the endpoint is off (404) when none was configured,
/// and a wrong or missing one is a 401.
fn operator_token(
    expected: Option<&str>,
    headers: &HeaderMap,
    off: &str,
    what: &str,
) -> Result<(), AppError> {
    let Some(expected) = expected else {
        return Err(AppError::new(StatusCode::NOT_FOUND, "not_found", off));
    };
    if bool::from(bearer(headers).as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(unauthorized(what))
    }
}

fn unauthorized(what: &str) -> AppError {
    AppError::new(StatusCode::UNAUTHORIZED, "unauthorized", format!("missing or wrong {what}"))
}

/// The `Authorization: Bearer …` value, or "" (which matches no key: empty
/// tokens are refused when configured).
fn bearer(headers: &HeaderMap) -> &str {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default()
}
