//! `GET /v1/openapi.json`: the OpenAPI document, generated at build time from
//! the handlers' `#[utoipa::path]` attributes and the request and response
//! types. A test checks that every route `server.rs` registers is in it.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::api;
use super::webhooks;

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Switchboard",
        description = "Conversation workflows for small businesses: web chat, provider webhooks, \
                       and each tenant's agent API. Agent endpoints take the tenant's bearer token; \
                       `/metrics` takes the operator's.",
        license(name = "Apache-2.0")
    ),
    paths(
        api::message,
        api::socket::chat,
        api::conversations,
        api::conversation,
        api::hand_back,
        api::close,
        api::reply,
        api::decide,
        api::link,
        api::timers::list,
        api::timers::schedule,
        api::timers::cancel,
        api::signals::post,
        api::events,
        super::kpis::export,
        super::kpis::kpis,
        super::kpis::definitions,
        super::kpis::rebuild,
        api::outbox::parked,
        api::outbox::redrive,
        api::reload,
        api::metrics,
        webhooks::verify,
        webhooks::receive,
        super::keys::tenants,
        super::keys::create_tenant,
        super::keys::remove_tenant,
        super::keys::admin_create,
        super::keys::create_own,
        super::keys::list,
        super::keys::revoke,
        super::manage::put_flow,
        super::manage::put_calendar,
        super::manage::channels,
        super::manage::put_channel,
        super::manage::put_component,
        super::manage::put_config,
        super::manage::plugin_versions,
        super::plugins::calls,
        super::plugins::replay,
        super::plugins::publish,
        super::plugins::canary,
        super::plugins::promote,
        super::plugins::roll_back,
        super::plugins::binding,
        super::jobs::job,
        super::plugins::replay_conversations,
        super::catalog::publish,
        super::catalog::list,
        super::catalog::install,
        super::manage::compare_plugin_versions,
        super::plugins::put_limits,
        super::plugins::put_grants,
        super::manage::restore_plugin_version,
        super::session::current,
        super::session::login,
        super::session::link,
        super::session::logout,
        super::console::overview,
        super::console::inbox,
        super::console::live,
        super::console::assign,
        super::staff::list,
        super::staff::put,
        super::staff::remove,
        super::staff::login_link,
        super::health::live,
        super::health::ready,
        document,
    ),
    modifiers(&Bearer)
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "operator",
    responses((status = 200, description = "OpenAPI 3.1", body = Object)))]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
