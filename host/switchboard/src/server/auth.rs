//! Who may call a route, as axum extractors: a handler that takes
//! [`TenantAuth`], [`AgentAuth`] or [`OperatorAuth`] cannot run without a
//! key or a session, so a new route cannot forget the check.
//! `tests/all/auth.rs` walks every route in the OpenAPI document and proves
//! that each one that declares a bearer refuses a missing key, another
//! tenant's key and a revoked key.
//!
//! Machines bear keys (`Authorization: Bearer`); people bear a console
//! session (the `sb_session` cookie, `session.rs`). A request with an
//! `Authorization` header is judged by it alone. A session's changes
//! (anything but GET and HEAD) must also carry its CSRF token in
//! `X-CSRF-Token`. Agents reach the inbox's routes ([`AgentAuth`]); tenant
//! admins also reach every route a tenant key does ([`TenantAuth`]); the
//! operator's session reaches the operator's ([`OperatorAuth`]).
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
use crate::engine::{Role, Session};
use crate::tenant::Tenant;

/// The console's session cookie.
pub const SESSION_COOKIE: &str = "sb_session";
/// The header a session's changes carry its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

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

/// A request from someone who works the tenant's inbox: a key of the
/// tenant, or a session of one of its staff (an agent or an admin).
#[derive(Debug)]
pub struct AgentAuth {
    pub name: String,
    pub tenant: Arc<Tenant>,
    /// Who, for the record: the key's id, or the staff member's id.
    pub by: String,
    /// The signed-in person, if it is one rather than a key.
    pub person: Option<Session>,
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
        let name = tenant_in_path(parts, state).await?;
        if let Some(session) = person(parts, state)? {
            if session.role != Role::Admin || session.tenant.as_deref() != Some(name.as_str()) {
                return Err(forbidden());
            }
            let tenant = state.engine.tenant(&name)?;
            let key = format!("staff:{}", session.staff.unwrap_or_default());
            return Ok(Self { name, tenant, key });
        }
        let Some(key) = state.control.key_holder(&name, bearer(&parts.headers)) else {
            return Err(unauthorized("bearer token"));
        };
        let tenant = state.engine.tenant(&name)?;
        Ok(Self { name, tenant, key })
    }
}

impl FromRequestParts<AppState> for AgentAuth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let name = tenant_in_path(parts, state).await?;
        if let Some(session) = person(parts, state)? {
            if session.role == Role::Operator || session.tenant.as_deref() != Some(name.as_str()) {
                return Err(forbidden());
            }
            let tenant = state.engine.tenant(&name)?;
            let by = session.staff.clone().unwrap_or_default();
            return Ok(Self { name, tenant, by, person: Some(session) });
        }
        let Some(key) = state.control.key_holder(&name, bearer(&parts.headers)) else {
            return Err(unauthorized("bearer token"));
        };
        let tenant = state.engine.tenant(&name)?;
        Ok(Self { name, tenant, by: key, person: None })
    }
}

/// The `{tenant}` of the route.
async fn tenant_in_path(parts: &mut Parts, state: &AppState) -> Result<String, AppError> {
    let params = RawPathParams::from_request_parts(parts, state).await.map_err(|rejection| {
        tracing::error!(%rejection, "a tenant route without path parameters");
        AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the request could not be completed")
    })?;
    params.iter().find_map(|(key, value)| (key == "tenant").then(|| value.to_owned())).ok_or_else(|| {
        tracing::error!(path = %parts.uri.path(), "a tenant route without {{tenant}}");
        AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the request could not be completed")
    })
}

/// The console session the request bears, if it bears no `Authorization`
/// header: checked (live, unexpired, its person still on the staff), and,
/// for a change, with its CSRF token. A cookie that opens nothing is a 401.
fn person(parts: &Parts, state: &AppState) -> Result<Option<Session>, AppError> {
    if parts.headers.contains_key(axum::http::header::AUTHORIZATION) {
        return Ok(None);
    }
    let Some(token) = session_token(&parts.headers) else { return Ok(None) };
    let Some(session) = state.engine.session(&token, state.admin_key.as_deref(), super::api::now())? else {
        return Err(unauthorized("session (sign in again)"));
    };
    let safe = matches!(parts.method, axum::http::Method::GET | axum::http::Method::HEAD);
    if !safe {
        let sent = parts.headers.get(CSRF_HEADER).and_then(|value| value.to_str().ok()).unwrap_or_default();
        if sent.is_empty() || !bool::from(sent.as_bytes().ct_eq(session.csrf.as_bytes())) {
            return Err(AppError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "a change from the console must carry its X-CSRF-Token header",
            ));
        }
    }
    Ok(Some(session))
}

/// The `sb_session` cookie's value, if the request has one.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == SESSION_COOKIE)
        .map(|cookie| cookie.value().to_owned())
        .filter(|value| !value.is_empty())
}

fn forbidden() -> AppError {
    AppError::new(StatusCode::FORBIDDEN, "forbidden", "your role does not reach this")
}

impl FromRequestParts<AppState> for OperatorAuth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if state.admin_key.is_some()
            && let Some(session) = person(parts, state)?
        {
            return if session.role == Role::Operator { Ok(Self) } else { Err(forbidden()) };
        }
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
pub(super) fn bearer(headers: &HeaderMap) -> &str {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default()
}
