//! The pages a browser sees: the tenant list, the demo chat page, the widget.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse};

use super::{AppError, AppState};

const WIDGET_JS: &str = include_str!("../../assets/widget.js");
const CHAT_HTML: &str = include_str!("../../assets/chat.html");

/// `GET /`: in the demo, the tenants with links to their chat pages;
/// otherwise only where the API is, since which tenants a host serves is
/// the operator's business.
pub async fn index(State(state): State<AppState>) -> Html<String> {
    const HEAD: &str = "<!doctype html><meta charset=utf-8><title>Switchboard</title>\
         <style>body{font:16px system-ui;margin:3em auto;max-width:40em}</style><h1>Switchboard</h1>";
    const API: &str = "<p>API: <code>POST /v1/tenants/{tenant}/messages</code>, described in \
         <a href=\"/v1/openapi.json\">/v1/openapi.json</a>.</p>";
    if !state.demo {
        return Html(format!("{HEAD}<p>This Switchboard server is running.</p>{API}"));
    }
    let mut items = String::new();
    for name in state.engine.tenant_names() {
        if let Ok(tenant) = state.engine.tenant(&name)
            && tenant.web_chat
        {
            items.push_str(&format!(
                "<li><a href=\"/chat/{name}\">{}</a> <code>{name}</code></li>",
                escape(&tenant.display_name)
            ));
        }
    }
    Html(format!("{HEAD}<p>Demo tenants. Open one to chat with its flow.</p><ul>{items}</ul>{API}"))
}

/// `GET /chat/{tenant}`: a page with the widget on it.
pub async fn chat(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> Result<Html<String>, AppError> {
    let found = super::api::web_chat_served(&state, &tenant)?;
    Ok(Html(
        CHAT_HTML.replace("{{tenant}}", &escape(&tenant)).replace("{{title}}", &escape(&found.display_name)),
    ))
}

/// `GET /widget.js`: `<script src=".../widget.js" data-tenant="NAME"></script>`.
pub async fn widget() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], WIDGET_JS)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
