//! People in the console, through the HTTP app: staff sign in with a
//! password or a one-time link, sessions are HttpOnly SameSite cookies,
//! every change carries the session's CSRF token, roles and tenants bound
//! what a session reaches, and the inbox lists handoffs as they happen.
//! Each refusal here is an attack on the sign-in and session surface.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::http::{app, send};

/// A request with the session cookie (and CSRF token) instead of a key.
async fn as_person(
    app: &Router,
    method: &str,
    uri: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::COOKIE, format!("sb_session={cookie}"));
    if let Some(csrf) = csrf {
        request = request.header("x-csrf-token", csrf);
    }
    let body = body.map_or_else(Body::empty, |body| Body::from(body.to_string()));
    let response = app.clone().oneshot(request.body(body).expect("a request")).await.expect("a response");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("a body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Sign in; the cookie's value, its attributes, and the session.
async fn sign_in(app: &Router, body: Value) -> (StatusCode, Option<(String, String)>, Value) {
    let request = Request::builder()
        .method("POST")
        .uri("/v1/session/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("a request");
    let response = app.clone().oneshot(request).await.expect("a response");
    let status = response.status();
    let cookie =
        response.headers().get(header::SET_COOKIE).and_then(|value| value.to_str().ok()).map(|set| {
            let value =
                set.split(';').next().unwrap_or_default().trim_start_matches("sb_session=").to_owned();
            (value, set.to_owned())
        });
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("a body");
    (status, cookie, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn add_staff(app: &Router, tenant: &str, id: &str, role: &str, password: &str) {
    let body = json!({ "name": id.to_uppercase(), "role": role, "password": password }).to_string();
    let uri = format!("/v1/tenants/{tenant}/staff/{id}");
    let (status, added) = send(app, "PUT", &uri, Some(&format!("token-{tenant}")), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{added}");
    assert_eq!(added["has_password"], true);
    assert!(added.get("password").is_none(), "no hash is ever echoed: {added}");
}

#[tokio::test]
async fn an_agent_signs_in_works_the_inbox_and_reaches_nothing_else() {
    let (app, _dir) = app();
    add_staff(&app, "alpha", "lilit", "agent", "correct horse battery").await;

    let (status, _, body) =
        sign_in(&app, json!({ "tenant": "alpha", "staff": "lilit", "password": "wrong password" })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _, _) =
        sign_in(&app, json!({ "tenant": "alpha", "staff": "nobody", "password": "correct horse battery" }))
            .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an unknown person is refused like a wrong password");

    let (status, cookie, session) =
        sign_in(&app, json!({ "tenant": "alpha", "staff": "lilit", "password": "correct horse battery" }))
            .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let (cookie, attributes) = cookie.expect("a session cookie");
    assert!(attributes.contains("HttpOnly") && attributes.contains("SameSite=Strict"), "{attributes}");
    assert_eq!((session["role"].as_str(), session["tenant"].as_str()), (Some("agent"), Some("alpha")));
    let csrf = session["csrf"].as_str().expect("a CSRF token").to_owned();

    // A customer asks for a human: the conversation shows up in the inbox.
    let message =
        json!({ "contact": { "id": "v1" }, "text": "human please", "message_id": "m1" }).to_string();
    let (status, _) = send(&app, "POST", "/v1/tenants/alpha/messages", None, Some(message)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, inbox) = as_person(&app, "GET", "/v1/tenants/alpha/inbox", &cookie, None, None).await;
    assert_eq!(status, StatusCode::OK, "{inbox}");
    let waiting = inbox["conversations"].as_array().expect("a list");
    assert_eq!(waiting.len(), 1, "{inbox}");
    assert_eq!(waiting[0]["id"], "web:v1");
    assert_eq!(waiting[0]["cause"], "asked");
    let (_, unassigned) =
        as_person(&app, "GET", "/v1/tenants/alpha/inbox?assignee=-", &cookie, None, None).await;
    assert_eq!(unassigned["conversations"].as_array().map(Vec::len), Some(1));

    // Changes need the CSRF token.
    let take = json!({ "assignee": "lilit" });
    let uri = "/v1/tenants/alpha/conversations/web:v1/assign";
    let (status, refused) = as_person(&app, "POST", uri, &cookie, None, Some(take.clone())).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("csrf")));
    let (status, _) = as_person(&app, "POST", uri, &cookie, Some("not the token"), Some(take.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, turn) = as_person(&app, "POST", uri, &cookie, Some(&csrf), Some(take)).await;
    assert_eq!(status, StatusCode::OK, "{turn}");
    assert_eq!(turn["status"]["assignee"], "lilit");
    let (_, mine) =
        as_person(&app, "GET", "/v1/tenants/alpha/inbox?assignee=lilit", &cookie, None, None).await;
    assert_eq!(mine["conversations"][0]["assignee"], "lilit");
    let nobody = json!({ "assignee": "stranger" });
    let (status, _) = as_person(&app, "POST", uri, &cookie, Some(&csrf), Some(nobody)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "only the staff can be assigned");

    // The agent replies, hands back, and the inbox is empty again.
    let reply = json!({ "text": "Hi, Lilit here" });
    let uri = "/v1/tenants/alpha/conversations/web:v1/reply";
    let (status, turn) = as_person(&app, "POST", uri, &cookie, Some(&csrf), Some(reply)).await;
    assert_eq!(status, StatusCode::OK, "{turn}");
    let uri = "/v1/tenants/alpha/conversations/web:v1/hand-back";
    let (status, turn) = as_person(&app, "POST", uri, &cookie, Some(&csrf), Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{turn}");
    let returned =
        turn["events"].as_array().and_then(|events| events.iter().find(|e| e["type"] == "handoff.returned"));
    assert_eq!(
        returned.map(|event| &event["data"]["by"]),
        Some(&json!("lilit")),
        "a person acts as themselves"
    );
    let (_, inbox) = as_person(&app, "GET", "/v1/tenants/alpha/inbox", &cookie, None, None).await;
    assert_eq!(inbox["conversations"].as_array().map(Vec::len), Some(0), "{inbox}");

    // Not another tenant's anything, not the tenant's keys, not the operator's.
    for uri in ["/v1/tenants/beta/inbox", "/v1/tenants/beta/conversations", "/v1/tenants/beta/kpis"] {
        let (status, body) = as_person(&app, "GET", uri, &cookie, None, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}: {body}");
    }
    let (status, _) = as_person(&app, "GET", "/v1/tenants/alpha/keys", &cookie, None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an agent holds no keys");
    let (status, _) = as_person(
        &app,
        "PUT",
        "/v1/tenants/alpha/staff/me2",
        &cookie,
        Some(&csrf),
        Some(json!({ "name": "x", "role": "admin" })),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an agent cannot make an admin");
    let (status, _) = as_person(&app, "GET", "/v1/admin/overview", &cookie, None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // An agent decides no request that is not theirs to decide.
    let message =
        json!({ "contact": { "id": "v2" }, "text": "human please", "message_id": "m2" }).to_string();
    send(&app, "POST", "/v1/tenants/alpha/messages", None, Some(message)).await;
    let uri = "/v1/tenants/alpha/conversations/web:v2/decide";
    let approve = json!({ "decision": "approve" });
    let (status, body) = as_person(&app, "POST", uri, &cookie, Some(&csrf), Some(approve.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // Nor one she gives herself: a decision is the approver's, the backup's
    // or an admin's (`engine::may_decide`), and anyone may be assigned.
    let take = json!({ "assignee": "lilit" });
    let assign = "/v1/tenants/alpha/conversations/web:v2/assign";
    as_person(&app, "POST", assign, &cookie, Some(&csrf), Some(take)).await;
    let (status, body) = as_person(&app, "POST", uri, &cookie, Some(&csrf), Some(approve)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "assigning herself let her decide: {body}");

    // Signing out ends the session for good.
    let (status, _) = as_person(&app, "POST", "/v1/session/logout", &cookie, None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "signing out needs the CSRF token too");
    let (status, _) = as_person(&app, "POST", "/v1/session/logout", &cookie, Some(&csrf), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = as_person(&app, "GET", "/v1/tenants/alpha/inbox", &cookie, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_login_link_signs_in_once_and_a_removed_person_is_signed_out() {
    let (app, _dir) = app();
    add_staff(&app, "alpha", "anna", "admin", "long enough secret").await;
    let (status, link) =
        send(&app, "POST", "/v1/tenants/alpha/staff/anna/login-link", Some("token-alpha"), None).await;
    assert_eq!(status, StatusCode::OK, "{link}");
    let token = link["token"].as_str().expect("a token").to_owned();
    assert_eq!(link["path"], format!("/console/#/link/{token}"));
    let (status, _) =
        send(&app, "POST", "/v1/tenants/beta/staff/anna/login-link", Some("token-alpha"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "one tenant's key makes no link into another");

    let use_link = |token: String| {
        let app = app.clone();
        async move {
            let request = Request::builder()
                .method("POST")
                .uri("/v1/session/link")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(json!({ "token": token }).to_string()))
                .expect("a request");
            let response = app.oneshot(request).await.expect("a response");
            let cookie =
                response.headers().get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).map(|set| {
                    set.split(';').next().unwrap_or_default().trim_start_matches("sb_session=").to_owned()
                });
            (response.status(), cookie)
        }
    };
    let (status, cookie) = use_link(token.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let cookie = cookie.expect("a session");
    let (status, again) = use_link(token).await;
    assert_eq!((status, again), (StatusCode::UNAUTHORIZED, None), "a link works once");

    // An admin's session reaches the tenant's key routes.
    let (status, session) = as_person(&app, "GET", "/v1/session", &cookie, None, None).await;
    assert_eq!((status, session["role"].as_str()), (StatusCode::OK, Some("admin")));
    let (status, keys) = as_person(&app, "GET", "/v1/tenants/alpha/keys", &cookie, None, None).await;
    assert_eq!(status, StatusCode::OK, "{keys}");

    let (status, _) = send(&app, "DELETE", "/v1/tenants/alpha/staff/anna", Some("token-alpha"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = as_person(&app, "GET", "/v1/tenants/alpha/inbox", &cookie, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "removing a person ends their sessions");
}

#[tokio::test]
async fn guessing_a_password_is_cut_short() {
    let (app, _dir) = app();
    add_staff(&app, "alpha", "lilit", "agent", "correct horse battery").await;
    let mut statuses = Vec::new();
    for attempt in 0..8 {
        let guess = json!({ "tenant": "alpha", "staff": "lilit", "password": format!("guess {attempt}") });
        statuses.push(sign_in(&app, guess).await.0);
    }
    assert!(statuses[..5].iter().all(|status| *status == StatusCode::UNAUTHORIZED), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    // Even the right password waits now: the account's attempts are spent.
    let right = json!({ "tenant": "alpha", "staff": "lilit", "password": "correct horse battery" });
    assert_eq!(sign_in(&app, right).await.0, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_operator_signs_in_with_the_admin_key_and_sees_every_tenant_but_no_inbox() {
    let (app, _dir) = app();
    let (status, _, _) = sign_in(&app, json!({ "operator_key": "not-the-key" })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, cookie, session) = sign_in(&app, json!({ "operator_key": "admin-key" })).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["role"], "operator");
    let (cookie, _) = cookie.expect("a cookie");
    let (status, overview) = as_person(&app, "GET", "/v1/admin/overview", &cookie, None, None).await;
    assert_eq!(status, StatusCode::OK, "{overview}");
    let names: Vec<&str> =
        overview["tenants"].as_array().into_iter().flatten().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["alpha", "beta"]);
    let (status, _) = as_person(&app, "GET", "/v1/tenants/alpha/inbox", &cookie, None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the operator reads no tenant's conversations");
}

#[tokio::test]
async fn the_console_is_served_with_a_strict_content_security_policy() {
    let (app, _dir) = app();
    for (uri, kind) in [
        ("/console/", "text/html"),
        ("/console/console.js", "text/javascript"),
        ("/console/console.css", "text/css"),
    ] {
        let request = Request::builder().uri(uri).body(Body::empty()).expect("a request");
        let response = app.clone().oneshot(request).await.expect("a response");
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        let headers = response.headers();
        assert!(headers[header::CONTENT_TYPE].to_str().unwrap_or_default().starts_with(kind), "{uri}");
        let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap_or_default();
        assert!(
            policy.contains("default-src 'self'") && policy.contains("frame-ancestors 'none'"),
            "{policy}"
        );
    }
}

#[tokio::test]
async fn no_session_or_link_outlives_the_person_it_was_made_for() {
    let (app, _dir) = app();
    add_staff(&app, "alpha", "lilit", "agent", "correct horse battery").await;
    let login = json!({ "tenant": "alpha", "staff": "lilit", "password": "correct horse battery" });
    let (_, cookie, _) = sign_in(&app, login).await;
    let (cookie, _) = cookie.expect("a session");
    let (_, link) =
        send(&app, "POST", "/v1/tenants/alpha/staff/lilit/login-link", Some("token-alpha"), None).await;
    let link = link["token"].as_str().expect("a link").to_owned();

    // Removed and added again under the same id (or a tenant's name reused,
    // which gives its new people new records): a new person.
    let (status, _) = send(&app, "DELETE", "/v1/tenants/alpha/staff/lilit", Some("token-alpha"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    add_staff(&app, "alpha", "lilit", "admin", "another long secret").await;
    let (status, _) = as_person(&app, "GET", "/v1/tenants/alpha/inbox", &cookie, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old person's session does not open the new one's");
    let request = Request::builder()
        .method("POST")
        .uri("/v1/session/link")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({ "token": link }).to_string()))
        .expect("a request");
    let response = app.clone().oneshot(request).await.expect("a response");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "nor does their link");

    // A new password ends the sessions opened with the old one.
    let login = json!({ "tenant": "alpha", "staff": "lilit", "password": "another long secret" });
    let (_, cookie, _) = sign_in(&app, login).await;
    let (cookie, _) = cookie.expect("a session");
    let (status, _) = as_person(&app, "GET", "/v1/tenants/alpha/inbox", &cookie, None, None).await;
    assert_eq!(status, StatusCode::OK);
    add_staff(&app, "alpha", "lilit", "admin", "a third long secret").await;
    let (status, _) = as_person(&app, "GET", "/v1/tenants/alpha/inbox", &cookie, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a password reset signs everyone out");
}

#[test]
fn the_demos_people_sign_in_only_on_the_demo() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let runtime = crate::support::runtime();
    let engine = switchboard::engine::Engine::new(
        switchboard_store::Store::temporary().expect("a store"),
        runtime.clone(),
    );
    let tenant = crate::support::write_tenant(dir.path(), "alpha", "");
    let tenant =
        switchboard::tenant::Tenant::load(&tenant, &crate::support::plugin_dir(), &runtime, &|_| None);
    engine.add_tenant(tenant.expect("loads")).expect("added");
    // Made as `serve --demo` makes them, with the published password.
    let role = switchboard::engine::Role::Agent;
    engine.put_staff("alpha", "lilit", "Lilit", role, Some("demo-password"), true, 0).expect("added");
    let signed_in =
        |demo| engine.sign_in("alpha", "lilit", "demo-password", demo, 0).expect("checked").is_some();
    assert!(!signed_in(false), "a published password opens nothing on a real server");
    assert!(signed_in(true));
    let link = engine.login_link("alpha", "lilit", 0).expect("made").expect("a link");
    assert!(engine.use_login_link(&link, false, 0).expect("checked").is_none());
}

#[tokio::test]
async fn the_session_cookie_is_secure_anywhere_but_on_loopback() {
    let (app, _dir) = app();
    add_staff(&app, "alpha", "lilit", "agent", "correct horse battery").await;
    for (host, secure) in [
        ("127.0.0.1:8080", false),
        ("localhost:8080", false),
        ("[::1]:8080", false),
        ("console.example.com", true),
    ] {
        let body =
            json!({ "tenant": "alpha", "staff": "lilit", "password": "correct horse battery" }).to_string();
        let request = Request::builder()
            .method("POST")
            .uri("/v1/session/login")
            .header(header::HOST, host)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .expect("a request");
        let response = app.clone().oneshot(request).await.expect("a response");
        let set = response.headers()[header::SET_COOKIE].to_str().expect("a cookie").to_owned();
        assert_eq!(set.contains("; Secure"), secure, "{host}: {set}");
    }
}
