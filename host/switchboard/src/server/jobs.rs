//! Long work a request starts and a client follows: a version published
//! with `?async=true` is compiled and checked off the request path, and
//! `GET /v1/tenants/{tenant}/jobs/{id}` says where it is (queued,
//! compiling, checking with its samples, done with the version, or failed
//! with why). Jobs live in memory, the newest few hundred, each readable
//! only with its own tenant's key.

use std::collections::VecDeque;
use std::sync::Mutex;

use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;

use super::auth::TenantAuth;
use super::{AppError, AppState, ErrorBody};

/// How many finished and running jobs are remembered.
const KEPT: usize = 500;
/// How many jobs one tenant may have running at once.
const RUNNING_PER_TENANT: usize = 2;

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Queued,
    /// Compiling the component (the slow part for Python and JavaScript).
    Compiling,
    /// Loading the tenant with it and running the manifest's samples.
    Checking,
    Done,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub id: u64,
    #[serde(skip)]
    tenant: String,
    pub what: String,
    pub stage: Stage,
    /// Unix ms.
    pub started_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<i64>,
    /// What a finished job made (a publish: the version).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// Why it failed: `{code, message}`, as the synchronous request would have answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

#[derive(Debug, Default)]
pub struct Jobs {
    inner: Mutex<(u64, VecDeque<Job>)>,
}

impl Jobs {
    fn with<T>(&self, work: impl FnOnce(&mut (u64, VecDeque<Job>)) -> T) -> T {
        work(&mut self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// A new job of `tenant`'s, queued; `None` while it has
    /// [`RUNNING_PER_TENANT`] running (each holds a component and a compile).
    pub fn start(&self, tenant: &str, what: String) -> Option<Job> {
        self.with(|(next, jobs)| {
            let running = jobs
                .iter()
                .filter(|job| job.tenant == tenant && !matches!(job.stage, Stage::Done | Stage::Failed))
                .count();
            if running >= RUNNING_PER_TENANT {
                return None;
            }
            *next += 1;
            let job = Job {
                id: *next,
                tenant: tenant.to_owned(),
                what,
                stage: Stage::Queued,
                started_at: super::api::now(),
                finished_at: None,
                result: None,
                error: None,
            };
            if jobs.len() >= KEPT {
                jobs.pop_front();
            }
            jobs.push_back(job.clone());
            Some(job)
        })
    }

    /// Move job `id` on to `stage`.
    pub fn stage(&self, id: u64, stage: Stage) {
        self.update(id, |job| job.stage = stage);
    }

    /// Finish job `id` with what it made, or why it failed.
    pub fn finish(&self, id: u64, outcome: Result<Value, AppError>) {
        self.update(id, |job| {
            job.finished_at = Some(super::api::now());
            match outcome {
                Ok(result) => {
                    job.stage = Stage::Done;
                    job.result = Some(result);
                }
                Err(error) => {
                    job.stage = Stage::Failed;
                    job.error = Some(error.body());
                }
            }
        });
    }

    fn update(&self, id: u64, change: impl FnOnce(&mut Job)) {
        self.with(|(_, jobs)| {
            if let Some(job) = jobs.iter_mut().find(|job| job.id == id) {
                change(job);
            }
        });
    }

    fn get(&self, tenant: &str, id: u64) -> Option<Job> {
        self.with(|(_, jobs)| jobs.iter().find(|job| job.id == id && job.tenant == tenant).cloned())
    }
}

/// `GET /v1/tenants/{tenant}/jobs/{id}`: where a job of this tenant's is.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/jobs/{id}", tag = "tenant", security(("bearer" = [])),
    params(("tenant" = String, Path), ("id" = u64, Path)),
    responses((status = 200, description = "`{id, what, stage: queued|compiling|checking|done|failed, started_at, finished_at, result, error}`", body = Object),
              (status = 404, description = "No such job of this tenant's (or it was forgotten)", body = ErrorBody)))]
pub async fn job(
    State(state): State<AppState>,
    TenantAuth { name: tenant, .. }: TenantAuth,
    UrlPath((_, id)): UrlPath<(String, u64)>,
) -> Result<Json<Job>, AppError> {
    state.jobs.get(&tenant, id).map(Json).ok_or_else(|| {
        AppError::new(StatusCode::NOT_FOUND, "unknown_job", format!("no job {id} of this tenant's"))
    })
}
