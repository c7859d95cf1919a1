//! `GET /healthz` (the process answers) and `GET /readyz` (it can serve:
//! tenants are loaded, the store reads and writes, its disk has room, and
//! no work is stuck).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::AppState;
use crate::engine::{StoreHealth, Unavailable};

/// A turn running longer than this is stuck: every step in it is bounded by
/// a deadline of at most a few seconds.
const STUCK_AFTER: Duration = Duration::from_secs(30);

/// How long the store check may wait for a blocking thread: longer means
/// the blocking pool is saturated, which is not ready either.
const CHECK_WITHIN: Duration = Duration::from_secs(2);

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operator",
    responses((status = 200, description = "`ok`", body = String, content_type = "text/plain")))]
pub async fn live() -> &'static str {
    "ok"
}

/// Ready for traffic: at least one tenant loaded, the store answers, and
/// no turn has been running for longer than any turn can.
#[utoipa::path(get, path = "/readyz", tag = "operator",
    responses((status = 200, description = "`{ready: true, tenants}`", body = Object),
              (status = 503, description = "`{ready: false, reason}`", body = Object)))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let not_ready =
        |reason: String| (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "ready": false, "reason": reason })));
    let loading = state.engine.unavailable().iter().filter(|(_, why)| *why == Unavailable::Loading).count();
    if loading > 0 {
        return not_ready(format!("{loading} tenant(s) still loading"));
    }
    let stuck = state.engine.stuck(STUCK_AFTER);
    if let Some((tenant, running)) = stuck.first() {
        tracing::error!(stuck = stuck.len(), %tenant, ?running, "readiness: turns are stuck");
        return not_ready(format!(
            "{} turn(s) stuck, the oldest running for {} s",
            stuck.len(),
            running.as_secs()
        ));
    }
    match state.engine.store_health() {
        StoreHealth::Writable => {}
        StoreHealth::Unwritable(failure) => {
            return not_ready(format!(
                "the store takes no writes since one failed {} s ago ({}); it reopens once its disk has room",
                failure.since.elapsed().as_secs(),
                failure.cause
            ));
        }
        StoreHealth::Reopening => return not_ready("the store is reopening".to_owned()),
    }
    let engine = state.engine.clone();
    let checked = tokio::time::timeout(
        CHECK_WITHIN,
        tokio::task::spawn_blocking(move || {
            let tenants = engine.tenant_names();
            engine.next_due()?;
            Ok::<_, crate::engine::EngineError>((tenants.len(), engine.store_free_bytes()?))
        }),
    )
    .await;
    let min_free = state.min_free_disk_bytes;
    if let Ok(Ok(Ok((_, Some(free))))) = &checked {
        metrics::gauge!("switchboard_store_free_bytes").set(*free as f64);
    }
    match checked {
        // A database server's disk is its own to watch.
        Ok(Ok(Ok((_, Some(free))))) if free < min_free => {
            tracing::error!(free, min_free, "readiness: the store's disk is nearly full");
            not_ready(format!(
                "the store's disk has {} MiB free, under the {} MiB it needs to take writes",
                free >> 20,
                min_free >> 20
            ))
        }
        Ok(Ok(Ok((tenants, _)))) if tenants > 0 => {
            (StatusCode::OK, Json(json!({ "ready": true, "tenants": tenants })))
        }
        Ok(Ok(Ok(_))) => not_ready("no tenant is loaded".to_owned()),
        Ok(Ok(Err(error))) => {
            tracing::error!(%error, "readiness: the store does not answer");
            not_ready("the store does not answer".to_owned())
        }
        Ok(Err(_)) => not_ready("internal".to_owned()),
        Err(_) => {
            tracing::error!("readiness: no blocking thread within {CHECK_WITHIN:?}");
            not_ready("the blocking pool is saturated".to_owned())
        }
    }
}
