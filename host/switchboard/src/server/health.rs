//! `GET /healthz` (the process answers) and `GET /readyz` (it can serve:
//! tenants are loaded and the store reads).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operator",
    responses((status = 200, description = "`ok`", body = String, content_type = "text/plain")))]
pub async fn live() -> &'static str {
    "ok"
}

/// Ready for traffic: at least one tenant loaded, and the store answers.
#[utoipa::path(get, path = "/readyz", tag = "operator",
    responses((status = 200, description = "`{ready: true, tenants}`", body = Object),
              (status = 503, description = "`{ready: false, reason}`", body = Object)))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let engine = state.engine.clone();
    let checked = tokio::task::spawn_blocking(move || {
        let tenants = engine.tenant_names();
        engine.store().next_due().map(|_| tenants.len())
    })
    .await;
    match checked {
        Ok(Ok(tenants)) if tenants > 0 => {
            (StatusCode::OK, Json(json!({ "ready": true, "tenants": tenants })))
        }
        Ok(Ok(_)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "ready": false, "reason": "no tenant is loaded" })),
        ),
        Ok(Err(error)) => {
            tracing::error!(%error, "readiness: the store does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "ready": false, "reason": "the store does not answer" })),
            )
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "ready": false, "reason": "internal" }))),
    }
}
