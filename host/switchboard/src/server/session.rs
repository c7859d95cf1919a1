//! Signing in to the console: a staff member with their password or a
//! one-time login link, or the operator with the admin key. The session
//! lives in an HttpOnly, SameSite=Strict cookie (Secure behind TLS); the
//! console gets only its CSRF token, which every change must carry.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::api::{blocking, now};
use super::auth::{CSRF_HEADER, SESSION_COOKIE, session_token};
use super::rate::ClientAddr;
use super::{AppError, AppState, ErrorBody};
use crate::engine::{Role, Session};

/// What the console knows of its session.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    #[schema(value_type = String)]
    role: Role,
    tenant: Option<String>,
    staff: Option<String>,
    name: String,
    /// Send it back in `X-CSRF-Token` with every change.
    csrf: String,
    expires_at: i64,
}

impl From<Session> for SessionView {
    fn from(session: Session) -> Self {
        Self {
            role: session.role,
            tenant: session.tenant,
            staff: session.staff,
            name: session.name,
            csrf: session.csrf,
            expires_at: session.expires_at,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Login {
    Staff { tenant: String, staff: String, password: String },
    Operator { operator_key: String },
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LinkLogin {
    token: String,
}

/// `GET /v1/session`: who is signed in.
#[utoipa::path(get, path = "/v1/session", tag = "console",
    responses((status = 200, body = SessionView), (status = 401, description = "Not signed in", body = ErrorBody)))]
pub async fn current(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<SessionView>, AppError> {
    let Some(token) = session_token(&headers) else { return Err(signed_out()) };
    let admin_key = state.admin_key.clone();
    let session = blocking(&state, move |engine| engine.session(&token, admin_key.as_deref(), now())).await?;
    session.map(|session| Json(session.into())).ok_or_else(signed_out)
}

/// `POST /v1/session/login`: a staff member's password, or the operator's key.
#[utoipa::path(post, path = "/v1/session/login", tag = "console", request_body = Login,
    responses((status = 200, description = "Signed in; the session cookie is set", body = SessionView),
              (status = 401, description = "Wrong tenant, name, password or key", body = ErrorBody),
              (status = 429, description = "Too many attempts; `Retry-After` says when to try again", body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    body: Result<Json<Login>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, AppError> {
    let Json(login) = body?;
    let opened = match login {
        Login::Staff { tenant, staff, password } => {
            // Names no tenant or person can have are refused before they
            // take a bucket of their own.
            if tenant.len() > 64 || !crate::engine::valid_staff_id(&staff) || password.len() > 1024 {
                return Err(wrong());
            }
            state.login_limits.check(client, Some(&format!("{tenant}/{staff}")))?;
            let demo = state.demo;
            blocking(&state, move |engine| engine.sign_in(&tenant, &staff, &password, demo, now())).await?
        }
        Login::Operator { operator_key } => {
            // The key is not guessable: the address's bucket is the limit,
            // so nobody elsewhere can lock the operator out.
            state.login_limits.check(client, None)?;
            match state.admin_key.clone() {
                Some(expected) if bool::from(operator_key.as_bytes().ct_eq(expected.as_bytes())) => {
                    Some(blocking(&state, move |engine| engine.sign_in_operator(&expected, now())).await?)
                }
                _ => None,
            }
        }
    };
    let Some((token, session)) = opened else { return Err(wrong()) };
    Ok(signed_in(&headers, &token, session))
}

/// `POST /v1/session/link`: a one-time login link, used once.
#[utoipa::path(post, path = "/v1/session/link", tag = "console", request_body = LinkLogin,
    responses((status = 200, description = "Signed in; the session cookie is set", body = SessionView),
              (status = 401, description = "The link is unknown, used or expired; ask for a new one", body = ErrorBody)))]
pub async fn link(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    body: Result<Json<LinkLogin>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, AppError> {
    let Json(LinkLogin { token }) = body?;
    // 256 random bits: the address's bucket is the limit, and no one can
    // spend everyone's links.
    state.login_limits.check(client, None)?;
    let demo = state.demo;
    let opened = blocking(&state, move |engine| engine.use_login_link(&token, demo, now())).await?;
    let Some((token, session)) = opened else {
        return Err(AppError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this login link is used or expired; ask your admin for a new one",
        ));
    };
    Ok(signed_in(&headers, &token, session))
}

/// `POST /v1/session/logout`: end the session (with its CSRF token).
#[utoipa::path(post, path = "/v1/session/logout", tag = "console",
    responses((status = 204, description = "Signed out; the cookie is cleared"), (status = 403, description = "No CSRF token", body = ErrorBody)))]
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    if let Some(token) = session_token(&headers) {
        let check = token.clone();
        let admin_key = state.admin_key.clone();
        let session =
            blocking(&state, move |engine| engine.session(&check, admin_key.as_deref(), now())).await?;
        if let Some(session) = session {
            let sent = headers.get(CSRF_HEADER).and_then(|value| value.to_str().ok()).unwrap_or_default();
            if !bool::from(sent.as_bytes().ct_eq(session.csrf.as_bytes())) {
                return Err(AppError::new(
                    StatusCode::FORBIDDEN,
                    "csrf",
                    "signing out needs the X-CSRF-Token header",
                ));
            }
        }
        blocking(&state, move |engine| engine.sign_out(&token)).await?;
    }
    let cookie = cookie(&headers, "", true);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

fn signed_in(headers: &HeaderMap, token: &str, session: Session) -> Response {
    let cookie = cookie(headers, token, false);
    ([(header::SET_COOKIE, cookie)], Json(SessionView::from(session))).into_response()
}

/// The session cookie: HttpOnly, SameSite=Strict, the whole site, and
/// Secure unless the browser reached this server on a loopback address
/// (the demo, a tunnel): anywhere else the console is served over TLS, and
/// a cookie that could travel in clear text is not kept at all.
fn cookie(headers: &HeaderMap, token: &str, clear: bool) -> HeaderValue {
    let mut cookie = cookie::Cookie::build((SESSION_COOKIE, token.to_owned()))
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .path("/")
        .secure(!is_loopback(headers));
    if clear {
        cookie = cookie.max_age(cookie::time::Duration::ZERO);
    } else {
        cookie = cookie.max_age(cookie::time::Duration::milliseconds(crate::engine::SESSION_MS));
    }
    HeaderValue::from_str(&cookie.build().to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Whether the request's `Host` is a loopback name or address.
pub fn is_loopback(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|host| host.to_str().ok()).unwrap_or_default();
    let name = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn wrong() -> AppError {
    AppError::new(StatusCode::UNAUTHORIZED, "unauthorized", "wrong tenant, name or password")
}

fn signed_out() -> AppError {
    AppError::new(StatusCode::UNAUTHORIZED, "unauthorized", "not signed in")
}
