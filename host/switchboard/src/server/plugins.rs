//! A plugin's lifecycle over HTTP: a version published whole (served, or
//! as a canary), the canary watched, promoted or rolled back, the calls it
//! answered in production, and a candidate replayed against them
//! (`crate::replay`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Multipart, Path as UrlPath, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{blocking, control, now};
use super::auth::TenantAuth;
use super::jobs::Stage;
use super::manage::served;
use super::{AppError, AppState, ErrorBody};
use crate::engine::{CanaryStanding, ConversationReplay, EngineError, Provenance, RecordedCalls};
use crate::replay::Report;
use crate::tenant::{Candidate, SelfGrants, SelfLimits};
use crate::tenants::{Canary, Publish};

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
/// production calls, oldest first, each naming the config it ran with by
/// hash (the text stays on the server): what `switchboard plugin replay`
/// runs a candidate against, with the candidate's `--config`.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/plugins/{name}/calls", tag = "tenant", security(("bearer" = [])),
    params(("tenant" = String, Path), ("name" = String, Path), CallsQuery),
    responses((status = 200, description = "`{calls: [{at, conversation, plugin, component, config, input, outcome, fuel, wall_time_us, peak_memory_bytes, redacted}], configs: {hash: config}}`", body = Object),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn calls(
    State(state): State<AppState>,
    TenantAuth { name: tenant, tenant: running, .. }: TenantAuth,
    UrlPath((_, name)): UrlPath<(String, String)>,
    Query(query): Query<CallsQuery>,
) -> Result<Json<RecordedCalls>, AppError> {
    if !running.plugins.contains_key(&name) {
        return Err(EngineError::UnknownPlugin(name).into());
    }
    let (since, limit) = query.window()?;
    let mut recorded =
        blocking(&state, move |engine| engine.recorded_calls(&tenant, &name, since, limit)).await?;
    // A config may hold what the operator wrote into tenant.toml (expanded
    // from the server's environment): its text never leaves, only its hash.
    recorded.configs.clear();
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

/// `POST /v1/tenants/{tenant}/plugins/{name}/versions`: publish a version
/// whole, as `multipart/form-data`: `component` (the `.wasm`), and
/// optionally `config` (JSON), `note`, and `canary` (a percentage of new
/// conversations; without it the version serves all of them). Checked, and
/// its manifest's samples run, before anything changes.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/plugins/{name}/versions", tag = "tenant", security(("bearer" = [])),
    params(("tenant" = String, Path), ("name" = String, Path), PublishMode),
    request_body(content = String, content_type = "multipart/form-data", description = "Parts: `component` (.wasm), `config` (JSON), `note`, `canary` (1-100) or `shadow` (`true`)"),
    responses((status = 201, description = "`{tenant, flow_version, version: {seq, component, config, manifest, canary, by, note, at}}`", body = Object),
              (status = 202, description = "With `?async=true`: `{job: {id, stage, …}}`, followed at `GET /v1/tenants/{tenant}/jobs/{id}`", body = Object),
              (status = 400, body = ErrorBody), (status = 409, description = "A canary is in the way", body = ErrorBody),
              (status = 422, description = "Not a component this host runs, the config breaks its schema, or a sample failed", body = ErrorBody)))]
pub async fn publish(
    State(state): State<AppState>,
    TenantAuth { name: tenant, key, .. }: TenantAuth,
    UrlPath((_, name)): UrlPath<(String, String)>,
    Query(mode): Query<PublishMode>,
    mut form: Multipart,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let bad = |message: String| AppError::new(StatusCode::BAD_REQUEST, "bad_request", message);
    let refused = |error: axum::extract::multipart::MultipartError| match error.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", error.body_text())
        }
        _ => bad(error.body_text()),
    };
    let mut publish = Publish { provenance: Provenance { by: Some(key), note: None }, ..Publish::default() };
    let mut component = None;
    while let Some(part) = form.next_field().await.map_err(refused)? {
        let field = part.name().unwrap_or_default().to_owned();
        let bytes = part.bytes().await.map_err(refused)?;
        if field != "component" {
            small_part(&field, &bytes)?;
        }
        let text =
            || String::from_utf8(bytes.to_vec()).map_err(|_| bad(format!("{field} is not UTF-8 text")));
        match field.as_str() {
            "component" => component = Some(bytes.to_vec()),
            "config" => {
                let config = serde_json::from_slice(&bytes)
                    .map_err(|error| bad(format!("config is not JSON: {error}")))?;
                publish.config = Some(config);
            }
            "note" => publish.provenance.note = Some(text()?.chars().take(MAX_NOTE_CHARS).collect()),
            "shadow" => publish.shadow = matches!(text()?.trim(), "true" | "1" | "yes"),
            "canary" => {
                let percent = text()?
                    .trim()
                    .trim_end_matches('%')
                    .parse()
                    .map_err(|_| bad("canary is a percentage, 1-100".into()))?;
                publish.canary = Some(percent);
            }
            other => {
                return Err(bad(format!(
                    "unknown part {other:?}: give component, config, note, canary or shadow"
                )));
            }
        }
    }
    publish.component =
        component.ok_or_else(|| bad("no component part: send the .wasm as `component`".into()))?;
    if mode.r#async {
        let Some(job) = state.jobs.start(&tenant, format!("publish {name}")) else {
            return Err(AppError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "busy",
                "this tenant has publishes running already; follow them at GET /v1/tenants/{tenant}/jobs/{id} and try again",
            )
            .retry_after(std::time::Duration::from_secs(5)));
        };
        tokio::spawn(publish_in_background(state.clone(), job.id, tenant, name, publish));
        return Ok((StatusCode::ACCEPTED, Json(json!({ "job": job }))));
    }
    let binding = name.clone();
    let answer = published(&state, tenant, name, publish).await?;
    tracing::info!(plugin = binding, "a plugin version was published");
    Ok((StatusCode::CREATED, Json(answer)))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct PublishMode {
    /// Answer 202 at once with a job (`GET /v1/tenants/{tenant}/jobs/{id}`),
    /// and compile and check off the request path.
    #[serde(default)]
    r#async: bool,
}

/// Publish, and the answer: `{tenant, flow_version, version}`.
async fn published(
    state: &AppState,
    tenant: String,
    name: String,
    publish: Publish,
) -> Result<Value, AppError> {
    let (tenant, version) = control(state, move |control| {
        let served = control.publish(&tenant, &name, publish)?;
        let version = control.latest_version(&tenant, &name)?;
        Ok((served, version))
    })
    .await?;
    let Json(mut answer) = served(tenant);
    answer["version"] = json!(version);
    Ok(answer)
}

/// A publish as job `id`: compiled first (the slow part, and the compile
/// cache then serves the edit), then checked and committed.
async fn publish_in_background(state: AppState, id: u64, tenant: String, name: String, publish: Publish) {
    state.jobs.stage(id, Stage::Compiling);
    let component = publish.component.clone();
    if let Err(error) = blocking(&state, move |engine| engine.compile(&component)).await {
        state.jobs.finish(id, Err(error));
        return;
    }
    state.jobs.stage(id, Stage::Checking);
    let outcome = published(&state, tenant, name, publish).await;
    state.jobs.finish(id, outcome);
}

/// The most of a version's note that is kept.
const MAX_NOTE_CHARS: usize = 500;

/// A multipart text part (a config, a flow, a list of ids) as large as the
/// endpoints that take it alone allow (`PUT …/config`, `PUT …/flow`): only
/// a component may be larger.
fn small_part(field: &str, bytes: &Bytes) -> Result<(), AppError> {
    if bytes.len() <= super::MAX_BODY_BYTES {
        return Ok(());
    }
    Err(AppError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("{field} takes {} bytes; at most {} are taken", bytes.len(), super::MAX_BODY_BYTES),
    ))
}

/// `GET /v1/tenants/{tenant}/plugins/{name}/canary`: the binding's canary,
/// with its calls and the binding's own since it started, side by side.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/plugins/{name}/canary", tag = "tenant", security(("bearer" = [])),
    params(("tenant" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "`{component, percent, canary: {calls, failures, fuel, wall_time_us}, stable: {…}, withdrawn}`", body = Object),
              (status = 404, description = "No such binding, or it has no canary", body = ErrorBody)))]
pub async fn canary(
    State(state): State<AppState>,
    TenantAuth { name: tenant, .. }: TenantAuth,
    UrlPath((_, name)): UrlPath<(String, String)>,
) -> Result<Json<CanaryStanding>, AppError> {
    let binding = name.clone();
    blocking(&state, move |engine| engine.canary_standing(&tenant, &name)).await?.map(Json).ok_or_else(|| {
        AppError::new(StatusCode::NOT_FOUND, "no_canary", format!("plugin {binding:?} has no canary"))
    })
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct RollBackRequest {
    /// Why, for the `plugin.rolled_back` event.
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /v1/tenants/{tenant}/plugins/{name}/canary/promote`: the canary
/// becomes the binding's version, for every new conversation.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/plugins/{name}/canary/promote", tag = "tenant", security(("bearer" = [])),
    params(("tenant" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "`{tenant, flow_version}`", body = Object), (status = 409, description = "No canary", body = ErrorBody)))]
pub async fn promote(
    State(state): State<AppState>,
    TenantAuth { name: tenant, key, .. }: TenantAuth,
    UrlPath((_, name)): UrlPath<(String, String)>,
) -> Result<Json<Value>, AppError> {
    Ok(served(
        control(&state, move |control| control.end_canary(&tenant, &name, None, Canary::Promote, &key))
            .await?,
    ))
}

/// `POST /v1/tenants/{tenant}/plugins/{name}/canary/rollback`: withdraw
/// the canary; the conversations it served go back to the binding's
/// version on their next call.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/plugins/{name}/canary/rollback", tag = "tenant", security(("bearer" = [])),
    params(("tenant" = String, Path), ("name" = String, Path)), request_body(content = RollBackRequest, description = "Optional"),
    responses((status = 200, description = "`{tenant, flow_version}`", body = Object), (status = 409, description = "No canary", body = ErrorBody)))]
pub async fn roll_back(
    State(state): State<AppState>,
    TenantAuth { name: tenant, key, .. }: TenantAuth,
    UrlPath((_, name)): UrlPath<(String, String)>,
    body: Option<Json<RollBackRequest>>,
) -> Result<Json<Value>, AppError> {
    let reason = body
        .and_then(|Json(body)| body.reason)
        .map(|reason| reason.chars().take(MAX_NOTE_CHARS).collect())
        .unwrap_or_else(|| "rolled back by hand".to_owned());
    let ending = Canary::RollBack { reason };
    Ok(served(control(&state, move |control| control.end_canary(&tenant, &name, None, ending, &key)).await?))
}

/// `GET /v1/tenants/{tenant}/plugins/{name}`: what the binding runs (its
/// component, manifest and config by hash), with what limits and grants
/// (secrets and settings by name only), what the tenant may set itself,
/// and its canary.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/plugins/{name}", tag = "tenant", security(("bearer" = [])),
    params(("tenant" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "`{component, manifest, config, limits, grants, may_set, canary}`", body = Object),
              (status = 404, body = ErrorBody)))]
pub async fn binding(
    TenantAuth { tenant: running, .. }: TenantAuth,
    UrlPath((_, name)): UrlPath<(String, String)>,
) -> Result<Json<Value>, AppError> {
    let Some(binding) = running.plugins.get(&name) else {
        return Err(EngineError::UnknownPlugin(name).into());
    };
    let manifest = binding.plugin.manifest().map(|manifest| {
        json!({ "name": manifest.name, "version": manifest.version, "steps": manifest.steps,
                "capabilities": manifest.capabilities })
    });
    let grants = &binding.grants;
    Ok(Json(json!({
        "component": binding.plugin.hash().to_string(),
        "manifest": manifest,
        "config": binding.config_hash(),
        "limits": {
            "fuel": binding.limits.fuel,
            "timeout_ms": binding.limits.timeout.as_millis() as u64,
            "memory_mb": binding.limits.memory_bytes >> 20,
        },
        "grants": {
            "log": grants.log,
            "kv": grants.kv,
            "http": grants.http.allow,
            "settings": grants.settings.keys().collect::<Vec<_>>(),
            "secrets": grants.secrets.keys().collect::<Vec<_>>(),
        },
        "may_set": running.self_service,
        "canary": binding.canary.as_ref().map(|canary| json!({
            "component": canary.plugin.hash().to_string(), "config": canary.config_hash, "percent": canary.percent,
        })),
    })))
}

/// `PUT /v1/tenants/{tenant}/plugins/{name}/limits`: `{fuel, timeout_ms,
/// memory_mb}`, each optional, each at most what the operator's
/// `[self_service]` allows (422 says which is over).
#[utoipa::path(put, path = "/v1/tenants/{tenant}/plugins/{name}/limits", tag = "tenant", security(("bearer" = [])),
    params(("tenant" = String, Path), ("name" = String, Path)),
    request_body(content = Object, description = "`{fuel, timeout_ms, memory_mb}`, each optional"),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 422, description = "Above what the tenant may set", body = ErrorBody)))]
pub async fn put_limits(
    State(state): State<AppState>,
    TenantAuth { name: tenant, key, .. }: TenantAuth,
    UrlPath((_, name)): UrlPath<(String, String)>,
    body: Result<Json<SelfLimits>, JsonRejection>,
) -> Result<Json<Value>, AppError> {
    let Json(limits) = body?;
    let by = Provenance { by: Some(key), note: Some("limits".into()) };
    Ok(served(control(&state, move |control| control.set_limits(&tenant, &name, limits, &by)).await?))
}

/// `PUT /v1/tenants/{tenant}/plugins/{name}/grants`: `{log, kv, http:
/// [hosts]}`, each optional, within the operator's `[self_service]`.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/plugins/{name}/grants", tag = "tenant", security(("bearer" = [])),
    params(("tenant" = String, Path), ("name" = String, Path)),
    request_body(content = Object, description = "`{log, kv, http}`, each optional"),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 422, description = "Not the tenant's to grant", body = ErrorBody)))]
pub async fn put_grants(
    State(state): State<AppState>,
    TenantAuth { name: tenant, key, .. }: TenantAuth,
    UrlPath((_, name)): UrlPath<(String, String)>,
    body: Result<Json<SelfGrants>, JsonRejection>,
) -> Result<Json<Value>, AppError> {
    let Json(grants) = body?;
    let by = Provenance { by: Some(key), note: Some("grants".into()) };
    Ok(served(control(&state, move |control| control.set_grants(&tenant, &name, grants, &by)).await?))
}

/// `POST /v1/tenants/{tenant}/conversations/replay`: re-run recorded
/// conversations through a candidate flow or plugin versions in a sandbox
/// (no delivery, no outbound HTTP or secrets, a temporary store), and
/// compare each turn's replies with what the customer was sent.
/// `multipart/form-data` parts, each optional: `flow` (TOML), `component:NAME`
/// (a binding's `.wasm`), `config:NAME` (its JSON), `conversations` (ids,
/// one a line or comma-separated; without it, the first 20).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/conversations/replay", tag = "tenant", security(("bearer" = [])),
    params(("tenant" = String, Path)),
    request_body(content = String, content_type = "multipart/form-data", description = "Parts: `flow`, `component:NAME`, `config:NAME`, `conversations`"),
    responses((status = 200, description = "`{conversations, turns, same, changed, differences: [{conversation, turn, said, recorded, candidate}]}`", body = Object),
              (status = 400, body = ErrorBody), (status = 422, description = "The candidate does not load", body = ErrorBody),
              (status = 429, description = "Another replay is running", body = ErrorBody)))]
pub async fn replay_conversations(
    State(state): State<AppState>,
    TenantAuth { name: tenant, .. }: TenantAuth,
    mut form: Multipart,
) -> Result<Json<ConversationReplay>, AppError> {
    let bad = |message: String| AppError::new(StatusCode::BAD_REQUEST, "bad_request", message);
    let scratch = tempfile::tempdir().map_err(|error| {
        tracing::error!(%error, "no scratch directory for a replay");
        AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the replay could not be prepared")
    })?;
    let mut candidate = Candidate::default();
    let mut conversations = Vec::new();
    while let Some(part) = form.next_field().await.map_err(|error| bad(error.body_text()))? {
        let field = part.name().unwrap_or_default().to_owned();
        let bytes = part.bytes().await.map_err(|error| bad(error.body_text()))?;
        if !field.starts_with("component:") {
            small_part(&field, &bytes)?;
        }
        let text =
            || String::from_utf8(bytes.to_vec()).map_err(|_| bad(format!("{field} is not UTF-8 text")));
        if let Some(binding) = field.strip_prefix("component:") {
            crate::tenants::plain_name(binding, "plugin")?;
            let path = scratch.path().join(format!("{binding}.wasm"));
            std::fs::write(&path, &bytes).map_err(|error| bad(format!("{field}: {error}")))?;
            candidate.plugins.entry(binding.to_owned()).or_default().0 = Some(path);
        } else if let Some(binding) = field.strip_prefix("config:") {
            let config = serde_json::from_slice(&bytes)
                .map_err(|error| bad(format!("{field} is not JSON: {error}")))?;
            candidate.plugins.entry(binding.to_owned()).or_default().1 = Some(config);
        } else if field == "flow" {
            candidate.flow = Some(text()?);
        } else if field == "conversations" {
            conversations.extend(
                text()?.split([',', '\n']).map(str::trim).filter(|id| !id.is_empty()).map(str::to_owned),
            );
        } else {
            return Err(bad(format!(
                "unknown part {field:?}: give flow, component:NAME, config:NAME or conversations"
            )));
        }
    }
    let report = blocking(&state, move |engine| {
        let _scratch = scratch;
        if conversations.is_empty() {
            conversations = engine
                .conversations(&tenant, None, 20)?
                .into_iter()
                .map(|stored| stored.conversation.id)
                .collect();
        }
        engine.replay_conversations(&tenant, &conversations, &candidate)
    })
    .await?;
    Ok(Json(report))
}
