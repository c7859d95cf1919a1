//! `switchboard serve`: the HTTP face of the engine, on axum.
//!
//! - `GET /` lists the tenants; `GET /chat/{tenant}` is a demo page with the
//!   web chat widget, which `GET /widget.js` serves to any site.
//! - `GET|POST /webhooks/{tenant}/{channel}`: WhatsApp, Messenger, Instagram
//!   and Telegram webhooks, verified on the raw body (`webhooks.rs`).
//! - `POST /v1/tenants/{tenant}/messages`: one web chat message in, the
//!   replies out (curl, and the widget's fallback); `GET
//!   /v1/tenants/{tenant}/chat/{session}/ws`: the widget's WebSocket, which
//!   also pushes agents' replies and timers' messages (`api/socket.rs`).
//! - `/v1/tenants/{tenant}/conversations[/{id}[/hand-back|/close|/reply]]` and
//!   `/v1/tenants/{tenant}/events[/export]` and `/kpis[/definitions|/rebuild]`: the tenant's admin and agent API, behind
//!   the tenant's bearer token. `POST /v1/tenants/{tenant}/reload` loads the
//!   tenant's directory again; a broken flow never replaces a working one.
//! - `GET /healthz` and `GET /readyz`: liveness and readiness (`health.rs`).
//! - `/v1/admin/...` (the operator's key) and `/v1/tenants/{tenant}/keys`:
//!   tenants and their hashed, revocable API keys (`keys.rs`).
//! - `/v1/catalog/plugins[/{name}/{version}/install]` (the operator's key):
//!   builds published once and installed into many tenants (`catalog.rs`).
//! - `PUT /v1/tenants/{tenant}/flow|calendar|channels/{channel}|plugins/{name}/…`:
//!   a tenant edits itself; a bad edit changes nothing (`manage.rs`).
//! - `GET /v1/tenants/{tenant}/plugins/{name}/calls` and `POST …/replay`: a
//!   plugin's recorded production calls, and a candidate replayed against
//!   them (`plugins.rs`).
//! - `GET /metrics`: Prometheus metrics, for the operator's token only.
//! - `GET /v1/openapi.json`: the OpenAPI document, generated from the
//!   handlers (`openapi.rs`).
//! - `GET /demo/shop/api/orders/{id}`: with `--demo`, a stand-in order
//!   system for the web-shop example's order-status plugin.
//!
//! Errors are one JSON shape, `{"error": {"code", "message"}}` (`error.rs`).

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, header};
use axum::routing::{delete, get, post, put};
use tower_http::cors::{Any, CorsLayer};

use crate::engine::Engine;
use crate::tenants::ControlPlane;

mod api;
pub mod auth;
mod catalog;
mod console;
mod demo_shop;
mod error;
mod health;
mod jobs;
mod keys;
mod kpis;
pub mod listen;
mod manage;
mod openapi;
mod pages;
mod plugins;
pub mod rate;
mod session;
mod staff;
mod webhooks;
pub mod wire;

pub use error::{AppError, ErrorBody};
pub use openapi::ApiDoc;

/// Messages are short; anything bigger than this is refused with 413.
pub(crate) const MAX_BODY_BYTES: usize = 64 << 10;

/// Cross-origin access for the public message endpoint only; the admin API
/// stays same-origin.
fn widget_cors() -> CorsLayer {
    CorsLayer::new().allow_origin(Any).allow_methods([Method::POST]).allow_headers([header::CONTENT_TYPE])
}

#[derive(Debug, Clone)]
pub struct AppState {
    /// What handlers serve: conversations, turns and reads.
    pub engine: Arc<Engine>,
    /// What handlers change about tenants: create, edit, reload, remove, keys.
    pub control: Arc<ControlPlane>,
    metrics_token: Option<Arc<str>>,
    admin_key: Option<Arc<str>>,
    /// `/readyz` says not ready with less free space than this under the store.
    min_free_disk_bytes: u64,
    demo: bool,
    web_chat_limits: Arc<rate::WebChatLimits>,
    /// Work started by a request and followed by the client (`jobs.rs`).
    pub(crate) jobs: Arc<jobs::Jobs>,
    /// Sign-in attempts per address and per account.
    login_limits: Arc<rate::LoginLimits>,
    /// Open live feeds per tenant (`console.rs`).
    live_sockets: Arc<console::LiveSockets>,
}

/// What `serve` switches on beyond the API.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// This server is the demo: `/` lists every tenant with a link to its
    /// chat page, and the stand-in shop order API is served under
    /// `/demo/shop`. Otherwise `/` names no tenant.
    pub demo: bool,
    /// Serve `/metrics` to requests bearing this token; without one it is off.
    pub metrics_token: Option<String>,
    /// The operator's key for `/v1/admin`; without one that API is off.
    pub admin_key: Option<String>,
    /// The directory of tenant directories, where `POST /v1/admin/tenants`
    /// creates new ones; without it, tenants cannot be created over the API.
    pub tenants_root: Option<std::path::PathBuf>,
    /// Where compiled plugin components are (`serve --plugins`).
    pub plugin_dir: std::path::PathBuf,
    /// The store's tenant catalog, which the control plane publishes every
    /// change to (`tenants/catalog.rs`).
    pub catalog: Option<Arc<crate::tenants::Catalog>>,
    /// Web chat messages per minute from one client address (`rate.rs`).
    pub web_chat_per_ip_per_minute: Option<u32>,
    /// Web chat messages per minute to one tenant, unless its tenant.toml says.
    pub web_chat_per_tenant_per_minute: Option<u32>,
    /// `/readyz` reports not ready with less free disk than this under the
    /// store (default [`DEFAULT_MIN_FREE_DISK_MIB`]).
    pub min_free_disk_mib: Option<u64>,
}

/// The free space under the store below which the server is not ready.
pub const DEFAULT_MIN_FREE_DISK_MIB: u64 = 64;

pub fn app(engine: Arc<Engine>, options: Options) -> Router {
    let mut control = ControlPlane::new(engine.clone(), options.tenants_root, options.plugin_dir);
    if let Some(catalog) = options.catalog {
        control = control.with_catalog(catalog);
    }
    let control = Arc::new(control);
    // Canaries the engine withdraws are rolled back in the tenants' settings.
    let (rollbacks, rolled_back) = tokio::sync::mpsc::unbounded_channel();
    engine.on_rollback(rollbacks);
    let weak = Arc::downgrade(&control);
    let spawned = std::thread::Builder::new()
        .name("canary-rollbacks".into())
        .spawn(move || ControlPlane::roll_back_canaries(weak, rolled_back));
    if let Err(error) = spawned {
        tracing::error!(%error, "no thread for canary rollbacks; a tripped canary is only withdrawn");
    }
    let state = AppState {
        engine,
        control,
        // An empty token would match a request with none: treat it as off.
        metrics_token: options.metrics_token.filter(|token| !token.trim().is_empty()).map(Arc::from),
        admin_key: options.admin_key.filter(|key| !key.is_empty()).map(Arc::from),
        min_free_disk_bytes: options.min_free_disk_mib.unwrap_or(DEFAULT_MIN_FREE_DISK_MIB) << 20,
        demo: options.demo,
        web_chat_limits: Arc::new(rate::WebChatLimits::new(
            options.web_chat_per_ip_per_minute.unwrap_or(rate::DEFAULT_PER_IP_PER_MINUTE),
            options.web_chat_per_tenant_per_minute.unwrap_or(rate::DEFAULT_PER_TENANT_PER_MINUTE),
        )),
        jobs: Arc::default(),
        login_limits: Arc::default(),
        live_sockets: Arc::default(),
    };
    let mut router = Router::new()
        .route("/", get(pages::index))
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(api::metrics))
        .route("/v1/openapi.json", get(openapi::document))
        .route("/chat/{tenant}", get(pages::chat))
        .route("/console", get(console::redirect))
        .route("/console/", get(console::index))
        .route("/console/console.js", get(console::script))
        .route("/console/console.css", get(console::style))
        .route("/v1/session", get(session::current))
        .route("/v1/session/login", post(session::login))
        .route("/v1/session/link", post(session::link))
        .route("/v1/session/logout", post(session::logout))
        .route("/v1/admin/overview", get(console::overview))
        .route("/v1/tenants/{tenant}/inbox", get(console::inbox))
        .route("/v1/tenants/{tenant}/live", get(console::live))
        .route("/v1/tenants/{tenant}/conversations/{id}/assign", post(console::assign))
        .route("/v1/tenants/{tenant}/staff", get(staff::list))
        .route("/v1/tenants/{tenant}/staff/{id}", put(staff::put).delete(staff::remove))
        .route("/v1/tenants/{tenant}/staff/{id}/login-link", post(staff::login_link))
        .route("/widget.js", get(pages::widget))
        // The widget posts here from customers' own sites: any origin may.
        .route("/v1/tenants/{tenant}/messages", post(api::message).layer(widget_cors()))
        .route("/v1/tenants/{tenant}/chat/{session}/ws", get(api::socket::chat))
        .route("/v1/tenants/{tenant}/conversations", get(api::conversations))
        .route("/v1/tenants/{tenant}/conversations/{id}", get(api::conversation))
        .route("/v1/tenants/{tenant}/conversations/{id}/hand-back", post(api::hand_back))
        .route("/v1/tenants/{tenant}/conversations/{id}/close", post(api::close))
        .route("/v1/tenants/{tenant}/conversations/{id}/reply", post(api::reply))
        .route("/v1/tenants/{tenant}/conversations/{id}/decide", post(api::decide))
        .route(
            "/v1/tenants/{tenant}/conversations/{id}/timers",
            get(api::timers::list).post(api::timers::schedule),
        )
        .route("/v1/tenants/{tenant}/conversations/{id}/timers/{key}", delete(api::timers::cancel))
        .route("/v1/tenants/{tenant}/contacts/link", post(api::link))
        .route("/v1/tenants/{tenant}/signals", post(api::signals::post))
        .route("/v1/admin/tenants", get(keys::tenants).post(keys::create_tenant))
        .route("/v1/admin/tenants/{tenant}", delete(keys::remove_tenant))
        .route("/v1/admin/tenants/{tenant}/keys", post(keys::admin_create))
        .route(
            "/v1/catalog/plugins",
            get(catalog::list)
                .post(catalog::publish)
                .layer(DefaultBodyLimit::max(manage::MAX_COMPONENT_BYTES)),
        )
        .route("/v1/catalog/plugins/{name}/{version}/install", post(catalog::install))
        .route("/v1/tenants/{tenant}/keys", get(keys::list).post(keys::create_own))
        .route("/v1/tenants/{tenant}/keys/{id}", delete(keys::revoke))
        .route("/v1/tenants/{tenant}/flow", put(manage::put_flow))
        .route("/v1/tenants/{tenant}/calendar", put(manage::put_calendar))
        .route("/v1/tenants/{tenant}/channels", get(manage::channels))
        .route("/v1/tenants/{tenant}/channels/{channel}", put(manage::put_channel))
        .route(
            "/v1/tenants/{tenant}/plugins/{name}/component",
            put(manage::put_component).layer(DefaultBodyLimit::max(manage::MAX_COMPONENT_BYTES)),
        )
        .route("/v1/tenants/{tenant}/plugins/{name}/config", put(manage::put_config))
        .route(
            "/v1/tenants/{tenant}/plugins/{name}/versions",
            get(manage::plugin_versions)
                .post(plugins::publish)
                .layer(DefaultBodyLimit::max(manage::MAX_COMPONENT_BYTES + (1 << 20))),
        )
        .route("/v1/tenants/{tenant}/plugins/{name}", get(plugins::binding))
        .route("/v1/tenants/{tenant}/jobs/{id}", get(jobs::job))
        .route(
            "/v1/tenants/{tenant}/conversations/replay",
            post(plugins::replay_conversations)
                .layer(DefaultBodyLimit::max(manage::MAX_COMPONENT_BYTES + (1 << 20))),
        )
        .route("/v1/tenants/{tenant}/plugins/{name}/versions/compare", get(manage::compare_plugin_versions))
        .route("/v1/tenants/{tenant}/plugins/{name}/limits", put(plugins::put_limits))
        .route("/v1/tenants/{tenant}/plugins/{name}/grants", put(plugins::put_grants))
        .route("/v1/tenants/{tenant}/plugins/{name}/canary", get(plugins::canary))
        .route("/v1/tenants/{tenant}/plugins/{name}/canary/promote", post(plugins::promote))
        .route("/v1/tenants/{tenant}/plugins/{name}/canary/rollback", post(plugins::roll_back))
        .route("/v1/tenants/{tenant}/plugins/{name}/calls", get(plugins::calls))
        .route(
            "/v1/tenants/{tenant}/plugins/{name}/replay",
            post(plugins::replay).layer(DefaultBodyLimit::max(manage::MAX_COMPONENT_BYTES)),
        )
        .route(
            "/v1/tenants/{tenant}/plugins/{name}/versions/{seq}/restore",
            post(manage::restore_plugin_version),
        )
        .route("/v1/tenants/{tenant}/events", get(api::events))
        .route("/v1/tenants/{tenant}/events/export", get(kpis::export))
        .route("/v1/tenants/{tenant}/kpis", get(kpis::kpis))
        .route("/v1/tenants/{tenant}/kpis/definitions", get(kpis::definitions))
        .route("/v1/tenants/{tenant}/kpis/rebuild", post(kpis::rebuild))
        .route("/v1/tenants/{tenant}/outbox/parked", get(api::outbox::parked))
        .route("/v1/tenants/{tenant}/outbox/parked/redrive", post(api::outbox::redrive))
        .route("/v1/tenants/{tenant}/reload", post(api::reload))
        .route("/webhooks/{tenant}/{channel}", get(webhooks::verify).post(webhooks::receive));
    if state.demo {
        router = router.route("/demo/shop/api/orders/{id}", get(demo_shop::order));
    }
    router.fallback(error::not_found).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)).with_state(state)
}
