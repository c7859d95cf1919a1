//! The one error type of the HTTP layer. It never leaks internals: store and
//! runtime failures are logged with their detail and answered with a generic
//! message.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::engine::EngineError;
use crate::tenants::ControlError;

#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds, for a `Retry-After` header.
    pub retry_after: Option<u64>,
}

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after: None }
    }

    /// Tell the client when to try again (`Retry-After`).
    pub fn retry_after(mut self, wait: std::time::Duration) -> Self {
        self.retry_after = Some(wait.as_secs_f64().ceil().max(1.0) as u64);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// `{code, message}`: what the error body holds, for an answer that
    /// reports several outcomes.
    pub fn body(&self) -> serde_json::Value {
        json!({ "code": self.code, "message": self.message })
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

/// The one error shape, for the OpenAPI document.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable, e.g. `bad_signature`, `unknown_tenant`.
    pub code: String,
    pub message: String,
}

/// When a client should try a write again after the disk filled.
const STORAGE_FULL_RETRY: std::time::Duration = std::time::Duration::from_secs(30);

/// When to retry a write refused while the store reopens.
const STORE_REOPENING_RETRY: std::time::Duration = std::time::Duration::from_secs(5);

impl From<EngineError> for AppError {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::UnknownTenant(tenant) => {
                Self::new(StatusCode::NOT_FOUND, "unknown_tenant", format!("no tenant named {tenant:?}"))
            }
            EngineError::Unavailable(tenant) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "tenant_unavailable",
                format!("tenant {tenant:?} is not available right now; try again later"),
            ),
            EngineError::UnknownConversation { conversation, .. } => Self::new(
                StatusCode::NOT_FOUND,
                "unknown_conversation",
                format!("no conversation {conversation:?}"),
            ),
            EngineError::UnknownTimerKind(kind) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_timer_kind",
                format!("the conversation's flow declares no timer kind {kind:?}"),
            ),
            EngineError::UnknownSignal { name, declared } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_signal",
                format!(
                    "the tenant's flow declares no signal {name:?}; it takes {}. Declare it in the flow's [[signals]] to accept it",
                    if declared.is_empty() { "none".to_owned() } else { declared.join(", ") }
                ),
            ),
            error @ EngineError::NothingToDecide => Self::new(
                StatusCode::CONFLICT,
                "nothing_to_decide",
                format!("{error}: it was decided already, or is no request for approval"),
            ),
            error @ EngineError::NotYours(_) => Self::new(StatusCode::FORBIDDEN, "forbidden", error.to_string()),
            error @ EngineError::BadSignal(_) => {
                Self::new(StatusCode::BAD_REQUEST, "bad_signal", error.to_string())
            }
            EngineError::Invalid { problems, .. } => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_tenant", problems)
            }
            error @ EngineError::Candidate(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_component", error.to_string())
            }
            error @ EngineError::Busy(_) => {
                Self::new(StatusCode::TOO_MANY_REQUESTS, "busy", error.to_string())
                    .retry_after(std::time::Duration::from_secs(10))
            }
            EngineError::UnknownPlugin(plugin) => Self::new(
                StatusCode::NOT_FOUND,
                "unknown_plugin",
                format!("the tenant has no plugin binding {plugin:?}; GET /v1/tenants/{{tenant}} lists them"),
            ),
            // Providers and clients retry a 503 with Retry-After: nothing is
            // lost, and the message goes in once space is freed.
            EngineError::Store(error) if error.is_storage_full() => {
                tracing::error!(%error, "a write failed: the store's disk is full");
                metrics::counter!("switchboard_storage_full_total").increment(1);
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_full",
                    "the server cannot store anything right now; try again later",
                )
                .retry_after(STORAGE_FULL_RETRY)
            }
            // Not writing until the store reopens (recovery.rs): soon.
            EngineError::Store(error) if error.is_temporary() => {
                tracing::warn!(%error, "a write was refused: the store is not writing for now");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the server cannot store anything for a moment; try again shortly",
                )
                .retry_after(STORE_REOPENING_RETRY)
            }
            EngineError::DailyQuota { limit, retry_after_secs, .. } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "quota_exceeded",
                format!("this tenant reached its quota of {limit} events today; messages are taken again tomorrow (UTC)"),
            )
            .retry_after(std::time::Duration::from_secs(retry_after_secs)),
            other => {
                tracing::error!(error = %other, "request failed");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the request could not be completed")
            }
        }
    }
}

impl From<ControlError> for AppError {
    fn from(error: ControlError) -> Self {
        let message = error.to_string();
        match error {
            ControlError::Engine(error) => error.into(),
            ControlError::NoTenantsDirectory => Self::new(StatusCode::NOT_FOUND, "not_found", message),
            ControlError::BadName { .. } | ControlError::Request(_) => Self::bad_request(message),
            ControlError::Exists(_) => Self::new(StatusCode::CONFLICT, "tenant_exists", message),
            ControlError::Moved { .. } => Self::new(StatusCode::CONFLICT, "changed_elsewhere", message),
            ControlError::NotCreated(_) | ControlError::NotChanged(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_tenant", message)
            }
            ControlError::UnknownPlugin(_) => Self::new(StatusCode::NOT_FOUND, "unknown_plugin", message),
            ControlError::Canary(_) => Self::new(StatusCode::CONFLICT, "canary", message),
            ControlError::UnknownVersion { .. } => {
                Self::new(StatusCode::NOT_FOUND, "unknown_version", message)
            }
            ControlError::SamplesFailed(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "samples_failed", message)
            }
            ControlError::UnknownKey(_) => Self::new(StatusCode::NOT_FOUND, "unknown_key", message),
            ControlError::NoRandomness => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the key could not be made")
            }
        }
    }
}

impl From<axum::extract::rejection::JsonRejection> for AppError {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        let status = rejection.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "too_large" } else { "bad_json" };
        Self::new(status, code, rejection.body_text())
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(error: tokio::task::JoinError) -> Self {
        tracing::error!(%error, "a turn panicked");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the request could not be completed")
    }
}

pub async fn not_found() -> AppError {
    AppError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

#[cfg(test)]
mod tests {
    use switchboard_store::StoreError;

    use super::*;

    #[test]
    fn a_full_disk_or_a_reopening_store_is_a_503_to_retry_and_other_store_failures_are_internal() {
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        let error = AppError::from(EngineError::Store(StoreError::TimerLog(full)));
        assert_eq!(
            (error.status, error.code, error.retry_after),
            (StatusCode::SERVICE_UNAVAILABLE, "storage_full", Some(30))
        );
        let unwritable =
            StoreError::Unwritable { cause: "full".into(), kind: std::io::ErrorKind::StorageFull };
        assert_eq!(AppError::from(EngineError::Store(unwritable)).code, "storage_full");
        let error = AppError::from(EngineError::Store(StoreError::Reopening));
        assert_eq!(
            (error.status, error.code, error.retry_after),
            (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", Some(5))
        );
        let other = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let error = AppError::from(EngineError::Store(StoreError::TimerLog(other)));
        assert_eq!((error.status, error.code), (StatusCode::INTERNAL_SERVER_ERROR, "internal"));
    }
}
