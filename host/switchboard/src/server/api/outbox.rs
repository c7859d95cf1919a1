//! Replies delivery set aside: list them, and send them again once what
//! stopped them (credentials, a window fallback) is fixed.

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use switchboard_core::contract::Channel;

use super::blocking;
use crate::server::auth::TenantAuth;
use crate::server::{AppError, AppState, ErrorBody};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ParkedQuery {
    /// Entries after this sequence number (the previous page's `next_after`).
    after: Option<u64>,
    #[serde(default = "super::default_limit")]
    limit: usize,
}

/// One parked reply, as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Parked {
    /// Its place in the outbox, kept when it is re-driven.
    pub seq: u64,
    pub conversation: String,
    #[schema(value_type = String, example = "whatsapp")]
    pub channel: Channel,
    pub text: String,
    /// Whether it is a handoff card for the tenant's webhook.
    pub handoff: bool,
    /// Sends tried before it was parked.
    pub attempts: u32,
    pub reason: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ParkedPage {
    pub parked: Vec<Parked>,
    /// Pass as `after` for the next page; absent on the last.
    pub next_after: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Redriven {
    /// How many parked replies went back to the outbox.
    pub redriven: usize,
}

/// `GET /v1/tenants/{tenant}/outbox/parked`: replies that could not go out
/// as they were, oldest first.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/outbox/parked", tag = "delivery", security(("bearer" = [])), params(("tenant" = String, Path, description = "The tenant's name"), ParkedQuery),
    responses((status = 200, body = ParkedPage), (status = 401, description = "Missing or wrong bearer token", body = ErrorBody), (status = 404, description = "Unknown tenant", body = ErrorBody)))]
pub async fn parked(
    State(state): State<AppState>,
    TenantAuth { name: tenant, .. }: TenantAuth,
    Query(query): Query<ParkedQuery>,
) -> Result<Json<ParkedPage>, AppError> {
    let limit = query.limit.clamp(1, 1000);
    let page = blocking(&state, move |engine| engine.parked_outbox(&tenant, query.after, limit)).await?;
    let next_after = page.last.filter(|_| page.read == limit);
    let parked = page
        .entries
        .into_iter()
        .map(|(seq, entry)| Parked {
            seq,
            text: entry.logged_text(),
            conversation: entry.conversation,
            channel: entry.channel,
            handoff: entry.handoff.is_some(),
            attempts: entry.attempts,
            reason: entry.parked_because.unwrap_or_default(),
        })
        .collect();
    Ok(Json(ParkedPage { parked, next_after }))
}

/// `POST /v1/tenants/{tenant}/outbox/parked/redrive`: put every parked
/// reply back in the outbox, in its old place, to be sent at once.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/outbox/parked/redrive", tag = "delivery", security(("bearer" = [])), params(("tenant" = String, Path, description = "The tenant's name")),
    responses((status = 200, body = Redriven), (status = 401, description = "Missing or wrong bearer token", body = ErrorBody), (status = 404, description = "Unknown tenant", body = ErrorBody)))]
pub async fn redrive(
    State(state): State<AppState>,
    TenantAuth { name: tenant, .. }: TenantAuth,
) -> Result<Json<Redriven>, AppError> {
    let redriven = blocking(&state, move |engine| engine.redrive_parked(&tenant)).await?;
    Ok(Json(Redriven { redriven }))
}
