//! A tenant's staff: the people who sign in to its console. A tenant
//! admin (or the tenant's key) adds them, sets their passwords and makes
//! one-time login links; agents read the list, to assign conversations.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{blocking, now};
use super::auth::{AgentAuth, TenantAuth};
use super::{AppError, AppState, ErrorBody};
use crate::engine::{LINK_MS, Role, StaffMember, valid_staff_contact, valid_staff_id};

/// Passwords shorter than this are refused.
const MIN_PASSWORD_CHARS: usize = 8;

fn view(member: &StaffMember) -> Value {
    json!({
        "id": member.id,
        "name": member.name,
        "role": member.role,
        "has_password": member.has_password(),
        "contacts": member.contacts,
    })
}

/// `GET /v1/tenants/{tenant}/staff`: the tenant's people (never their passwords).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/staff", tag = "console", security(("bearer" = [])), params(("tenant" = String, Path)),
    responses((status = 200, description = "`{staff: [{id, name, role, has_password}]}`", body = Object), (status = 401, description = "Missing or wrong bearer token", body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    AgentAuth { name: tenant, .. }: AgentAuth,
) -> Result<Json<Value>, AppError> {
    let staff = blocking(&state, move |engine| engine.staff(&tenant)).await?;
    Ok(Json(json!({ "staff": staff.iter().map(view).collect::<Vec<_>>() })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutStaff {
    name: String,
    /// `agent` or `admin`.
    #[schema(value_type = String)]
    role: Role,
    /// At least 8 characters; leave it out to keep theirs (or to sign in by link only).
    #[serde(default)]
    password: Option<String>,
    /// Their own messenger identities (`telegram:5551234`), where handoffs
    /// and approval requests reach them with buttons; leave it out to keep theirs.
    #[serde(default)]
    contacts: Option<Vec<String>>,
}

/// `PUT /v1/tenants/{tenant}/staff/{id}`: add or change a person.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/staff/{id}", tag = "console", security(("bearer" = [])), params(("tenant" = String, Path), ("id" = String, Path)), request_body = PutStaff,
    responses((status = 200, description = "`{id, name, role, has_password}`", body = Object), (status = 400, body = ErrorBody), (status = 401, description = "Missing or wrong bearer token", body = ErrorBody)))]
pub async fn put(
    State(state): State<AppState>,
    TenantAuth { name: tenant, .. }: TenantAuth,
    Path((_, id)): Path<(String, String)>,
    body: Result<Json<PutStaff>, JsonRejection>,
) -> Result<Json<Value>, AppError> {
    let Json(request) = body?;
    if !valid_staff_id(&id) {
        return Err(AppError::bad_request("a staff id is 1-64 letters, digits, '-', '_' or '.'"));
    }
    if request.role == Role::Operator {
        return Err(AppError::bad_request(
            "role is agent or admin; the operator signs in with the admin key",
        ));
    }
    if request.name.trim().is_empty() || request.name.chars().count() > 100 {
        return Err(AppError::bad_request("name is 1-100 characters"));
    }
    if let Some(password) = &request.password
        && password.chars().count() < MIN_PASSWORD_CHARS
    {
        return Err(AppError::bad_request(format!(
            "a password has at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if let Some(bad) = request.contacts.iter().flatten().find(|contact| !valid_staff_contact(contact)) {
        return Err(AppError::bad_request(format!(
            "contact {bad:?} is not an identity the host can write to: write channel:id on whatsapp, telegram, messenger or instagram (web chat people use the console)"
        )));
    }
    let member = blocking(&state, move |engine| {
        let member = engine.put_staff(
            &tenant,
            &id,
            request.name.trim(),
            request.role,
            request.password.as_deref(),
            false,
            now(),
        )?;
        match &request.contacts {
            Some(contacts) => Ok(engine.set_staff_contacts(&tenant, &id, contacts)?.unwrap_or(member)),
            None => Ok(member),
        }
    })
    .await?;
    Ok(Json(view(&member)))
}

/// `DELETE /v1/tenants/{tenant}/staff/{id}`: remove a person; their sessions end.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/staff/{id}", tag = "console", security(("bearer" = [])), params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 404, body = ErrorBody), (status = 401, description = "Missing or wrong bearer token", body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    TenantAuth { name: tenant, .. }: TenantAuth,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    if blocking(&state, move |engine| engine.remove_staff(&tenant, &id)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::new(StatusCode::NOT_FOUND, "unknown_staff", "no such staff member"))
    }
}

/// `POST /v1/tenants/{tenant}/staff/{id}/login-link`: a link that signs
/// this person in once, within 15 minutes.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/staff/{id}/login-link", tag = "console", security(("bearer" = [])), params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "`{path, token, expires_at}`: open `path` on this server", body = Object), (status = 404, body = ErrorBody), (status = 401, description = "Missing or wrong bearer token", body = ErrorBody)))]
pub async fn login_link(
    State(state): State<AppState>,
    TenantAuth { name: tenant, .. }: TenantAuth,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, AppError> {
    let at = now();
    let token = blocking(&state, move |engine| engine.login_link(&tenant, &id, at)).await?;
    let Some(token) = token else {
        return Err(AppError::new(
            StatusCode::NOT_FOUND,
            "unknown_staff",
            "no such staff member; add them first",
        ));
    };
    Ok(Json(
        json!({ "path": format!("/console/#/link/{token}"), "token": token, "expires_at": at + LINK_MS }),
    ))
}
