//! Provider webhooks end to end through the app: signatures, handshakes,
//! dedupe of retried deliveries, and clear errors that change nothing.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tower::ServiceExt;

use crate::http::{app, send};

fn whatsapp_text(id: &str, text: &str) -> Vec<u8> {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "WABA", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550000000", "phone_number_id": "PNID" },
            "contacts": [{ "profile": { "name": "Ani" }, "wa_id": "37491000001" }],
            "messages": [{ "from": "37491000001", "id": id, "timestamp": "1767600000", "type": "text", "text": { "body": text } }]
        }}]}]
    })
    .to_string()
    .into_bytes()
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn post(app: &Router, uri: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (StatusCode, Value) {
    let mut request = Request::builder().method("POST").uri(uri).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response =
        app.clone().oneshot(request.body(Body::from(body)).expect("request")).await.expect("response");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn conversations(app: &Router) -> Value {
    send(app, "GET", "/v1/tenants/alpha/conversations", Some("token-alpha"), None).await.1["conversations"]
        .clone()
}

#[tokio::test]
async fn the_whatsapp_handshake_echoes_the_challenge_only_for_the_right_token() {
    let (app, _dir) = app();
    let get = |token: &str| {
        let uri = format!(
            "/webhooks/alpha/whatsapp?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444"
        );
        let app = app.clone();
        async move {
            let response = app
                .oneshot(Request::builder().uri(uri).body(Body::empty()).expect("request"))
                .await
                .expect("response");
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.expect("body");
            (status, String::from_utf8_lossy(&body).into_owned())
        }
    };
    assert_eq!(get("wa-verify").await, (StatusCode::OK, "1158201444".to_owned()));
    assert_eq!(get("guess").await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_signed_whatsapp_message_is_handled_once_even_when_retried() {
    let (app, _dir) = app();
    let body = whatsapp_text("wamid.HBgL1", "when are you open?");
    let signature = sign("wa-secret-alpha", &body);
    let headers = [("x-hub-signature-256", signature.as_str())];
    let (status, first) = post(&app, "/webhooks/alpha/whatsapp", &headers, body.clone()).await;
    assert_eq!((status, first["received"].clone()), (StatusCode::OK, json!(1)));
    let (status, retry) = post(&app, "/webhooks/alpha/whatsapp", &headers, body).await;
    assert_eq!(
        (status, retry["received"].clone(), retry["duplicates"].clone()),
        (StatusCode::OK, json!(0), json!(1))
    );

    let (_, conversation) =
        send(&app, "GET", "/v1/tenants/alpha/conversations/whatsapp:37491000001", Some("token-alpha"), None)
            .await;
    let sent: Vec<_> = conversation["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|event| event["type"] == "message.sent")
        .map(|event| event["data"]["text"].clone())
        .collect();
    assert_eq!(sent, [json!("Your email, so we can send them?")], "one reply, not two");
    assert_eq!(conversation["conversation"]["contact"]["display_name"], "Ani");
}

#[tokio::test]
async fn bad_deliveries_get_a_clear_error_and_change_nothing() {
    let (app, _dir) = app();
    let body = whatsapp_text("wamid.X", "hours");
    let other_tenants = sign("wa-secret-beta", &body);
    let (status, error) =
        post(&app, "/webhooks/alpha/whatsapp", &[("x-hub-signature-256", &other_tenants)], body.clone())
            .await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("bad_signature")));
    let (status, _) = post(&app, "/webhooks/alpha/whatsapp", &[], body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let garbage = b"{\"object\": \"whatsapp_business_account\", \"entry\": [".to_vec();
    let signed = sign("wa-secret-alpha", &garbage);
    let (status, error) =
        post(&app, "/webhooks/alpha/whatsapp", &[("x-hub-signature-256", &signed)], garbage).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_payload")));

    let signed = sign("wa-secret-alpha", &body);
    let headers = [("x-hub-signature-256", signed.as_str())];
    let (status, error) = post(&app, "/webhooks/nobody/whatsapp", &headers, body.clone()).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("unknown_tenant")));
    let (status, error) = post(&app, "/webhooks/alpha/viber", &headers, body.clone()).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("unknown_channel")));
    let (status, error) = post(&app, "/webhooks/alpha/messenger", &headers, body).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("channel_not_configured"))
    );

    assert_eq!(conversations(&app).await, json!([]), "nothing was stored");
}

#[tokio::test]
async fn telegram_updates_need_the_secret_token() {
    let (app, _dir) = app();
    let update = json!({
        "update_id": 900001,
        "message": { "message_id": 1, "date": 1767600000, "from": { "id": 42, "is_bot": false, "first_name": "Aram" },
                     "chat": { "id": 42, "type": "private" }, "text": "opening hours?" }
    })
    .to_string()
    .into_bytes();
    let (status, _) = post(
        &app,
        "/webhooks/alpha/telegram",
        &[("x-telegram-bot-api-secret-token", "nope")],
        update.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = post(
        &app,
        "/webhooks/alpha/telegram",
        &[("x-telegram-bot-api-secret-token", "tg-secret-alpha")],
        update,
    )
    .await;
    assert_eq!((status, body["received"].clone()), (StatusCode::OK, json!(1)));
    assert_eq!(conversations(&app).await[0]["id"], "telegram:42");
}

#[tokio::test]
async fn whatsapp_receipts_become_message_status_events_once() {
    let (app, _dir) = app();
    let message = whatsapp_text("wamid.IN1", "hours?");
    let signature = sign("wa-secret-alpha", &message);
    post(&app, "/webhooks/alpha/whatsapp", &[("x-hub-signature-256", &signature)], message).await;
    let receipt = json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "WABA", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550000000", "phone_number_id": "PNID" },
            "statuses": [{ "id": "wamid.OUT", "status": "failed", "timestamp": "1767600009", "recipient_id": "37491000001",
                           "errors": [{ "code": 131047, "title": "Re-engagement message" }] }]
        }}]}]
    })
    .to_string()
    .into_bytes();
    let signature = sign("wa-secret-alpha", &receipt);
    for _ in 0..2 {
        let (status, body) =
            post(&app, "/webhooks/alpha/whatsapp", &[("x-hub-signature-256", &signature)], receipt.clone())
                .await;
        assert_eq!((status, body["statuses"].clone()), (StatusCode::OK, json!(1)));
    }
    let (_, conversation) =
        send(&app, "GET", "/v1/tenants/alpha/conversations/whatsapp:37491000001", Some("token-alpha"), None)
            .await;
    let statuses: Vec<&Value> = conversation["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|event| event["type"] == "message.status")
        .collect();
    assert_eq!(statuses.len(), 1, "a retried receipt is recorded once");
    assert_eq!(
        statuses[0]["data"],
        json!({ "provider_id": "wamid.OUT", "status": "failed", "error": "131047: Re-engagement message" })
    );
}

fn telegram_text(update_id: i64, user: i64, text: &str) -> Vec<u8> {
    json!({
        "update_id": update_id,
        "message": { "message_id": update_id, "date": 1767600000, "from": { "id": user, "is_bot": false, "first_name": "Ani" },
                     "chat": { "id": user, "type": "private" }, "text": text }
    })
    .to_string()
    .into_bytes()
}

async fn telegram(app: &Router, update_id: i64, text: &str) {
    telegram_to(app, "alpha", update_id, text).await;
}

async fn telegram_to(app: &Router, tenant: &str, update_id: i64, text: &str) {
    let secret = format!("tg-secret-{tenant}");
    let headers = [("x-telegram-bot-api-secret-token", secret.as_str())];
    let uri = format!("/webhooks/{tenant}/telegram");
    let (status, body) = post(app, &uri, &headers, telegram_text(update_id, 42, text)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn whatsapp(app: &Router, id: &str, text: &str) {
    whatsapp_to(app, "alpha", id, text).await;
}

async fn whatsapp_to(app: &Router, tenant: &str, id: &str, text: &str) {
    let body = whatsapp_text(id, text);
    let signature = sign(&format!("wa-secret-{tenant}"), &body);
    let uri = format!("/webhooks/{tenant}/whatsapp");
    let (status, answer) = post(app, &uri, &[("x-hub-signature-256", &signature)], body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

async fn transcript(app: &Router, conversation: &str) -> Vec<String> {
    let uri = format!("/v1/tenants/alpha/conversations/{conversation}");
    let (_, body) = send(app, "GET", &uri, Some("token-alpha"), None).await;
    body["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .filter_map(|event| match event["type"].as_str() {
                    Some("message.received") => Some(format!(
                        "{} > {}",
                        event["channel"].as_str().unwrap_or_default(),
                        event["data"]["text"].as_str().unwrap_or_default()
                    )),
                    Some("message.sent") => {
                        Some(format!("< {}", event["data"]["text"].as_str().unwrap_or_default()))
                    }
                    Some("contact.linked") => Some(format!(
                        "linked {} by {}",
                        event["data"]["identity"].as_str().unwrap_or_default(),
                        event["data"]["by"].as_str().unwrap_or_default()
                    )),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn an_agent_links_two_channels_and_the_customer_continues_mid_flow() {
    let (app, _dir) = app();
    telegram(&app, 1, "opening hours?").await;
    let link = json!({ "identity": "whatsapp:37491000001", "conversation": "telegram:42" }).to_string();
    let (status, _) =
        send(&app, "POST", "/v1/tenants/alpha/contacts/link", Some("token-alpha"), Some(link.clone())).await;
    assert_eq!(status, StatusCode::OK);
    // The email the Telegram conversation asked for arrives on WhatsApp.
    whatsapp(&app, "wamid.X1", "ani@example.com").await;
    assert_eq!(
        transcript(&app, "telegram:42").await,
        [
            "telegram > opening hours?",
            "< Your email, so we can send them?",
            "linked whatsapp:37491000001 by agent",
            "whatsapp > ani@example.com",
            "< Sent to ani@example.com.",
        ]
    );
    let ids: Vec<Value> =
        conversations(&app).await.as_array().expect("list").iter().map(|c| c["id"].clone()).collect();
    assert_eq!(ids, [json!("telegram:42")], "no second conversation was started");

    // Another tenant's key reaches nothing; an unknown conversation is a 404.
    let (status, _) =
        send(&app, "POST", "/v1/tenants/alpha/contacts/link", Some("token-beta"), Some(link)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let unknown = json!({ "identity": "telegram:7", "conversation": "telegram:404" }).to_string();
    let (status, body) =
        send(&app, "POST", "/v1/tenants/alpha/contacts/link", Some("token-alpha"), Some(unknown)).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!("unknown_conversation"))
    );
    // An identity no channel gives (a NUL in it) is refused: PostgreSQL's
    // text could not hold it, so it could not move to another store.
    let hostile = json!({ "identity": "telegram:7\u{0}x", "conversation": "telegram:42" }).to_string();
    let (status, body) =
        send(&app, "POST", "/v1/tenants/alpha/contacts/link", Some("token-alpha"), Some(hostile)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn the_same_email_verified_on_two_channels_links_them() {
    let (app, _dir) = app();
    telegram(&app, 1, "opening hours?").await;
    telegram(&app, 2, "ani@example.com").await;
    whatsapp(&app, "wamid.Y1", "what are your hours").await;
    whatsapp(&app, "wamid.Y2", "Ani@Example.com").await;
    // From now on WhatsApp continues the Telegram conversation.
    whatsapp(&app, "wamid.Y3", "hours again?").await;
    let history = transcript(&app, "telegram:42").await;
    assert_eq!(
        history[history.len() - 3..],
        [
            "linked whatsapp:37491000001 by email",
            "whatsapp > hours again?",
            // Collected on Telegram in an earlier round: never asked again, on any linked channel.
            "< Sent to ani@example.com."
        ]
    );
}

#[tokio::test]
async fn without_link_by_contact_a_typed_email_links_nothing() {
    let (app, _dir) = app();
    telegram_to(&app, "beta", 1, "opening hours?").await;
    telegram_to(&app, "beta", 2, "ani@example.com").await;
    whatsapp_to(&app, "beta", "wamid.B1", "what are your hours").await;
    whatsapp_to(&app, "beta", "wamid.B2", "ani@example.com").await;
    let (_, list) = send(&app, "GET", "/v1/tenants/beta/conversations", Some("token-beta"), None).await;
    assert_eq!(list["conversations"].as_array().map(Vec::len), Some(2), "two customers as far as beta knows");
}

#[tokio::test]
async fn a_whatsapp_number_change_keeps_the_conversation() {
    let (app, _dir) = app();
    whatsapp(&app, "wamid.Z1", "opening hours?").await;
    let change = json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "WABA", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550000000", "phone_number_id": "PNID" },
            "messages": [{ "from": "37491000001", "id": "wamid.SYS", "timestamp": "1767600100", "type": "system",
                           "system": { "body": "User A changed from 37491000001 to 37491999999", "wa_id": "37491999999", "type": "user_changed_number" } }]
        }}]}]
    })
    .to_string()
    .into_bytes();
    let signature = sign("wa-secret-alpha", &change);
    post(&app, "/webhooks/alpha/whatsapp", &[("x-hub-signature-256", &signature)], change).await;
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "WABA", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550000000", "phone_number_id": "PNID" },
            "messages": [{ "from": "37491999999", "id": "wamid.Z2", "timestamp": "1767600200", "type": "text", "text": { "body": "ani@example.com" } }]
        }}]}]
    })
    .to_string()
    .into_bytes();
    let signature = sign("wa-secret-alpha", &body);
    post(&app, "/webhooks/alpha/whatsapp", &[("x-hub-signature-256", &signature)], body).await;
    let history = transcript(&app, "whatsapp:37491000001").await;
    assert_eq!(
        history[history.len() - 3..],
        [
            "linked whatsapp:37491999999 by user_changed_number",
            "whatsapp > ani@example.com",
            "< Sent to ani@example.com."
        ]
    );
}

#[tokio::test]
async fn a_sticker_is_answered_politely_and_the_question_still_stands() {
    let (app, _dir) = app();
    whatsapp(&app, "wamid.S1", "opening hours?").await;
    let sticker = json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "WABA", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550000000", "phone_number_id": "PNID" },
            "messages": [{ "from": "37491000001", "id": "wamid.S2", "timestamp": "1767600100", "type": "sticker", "sticker": { "id": "ST" } }]
        }}]}]
    })
    .to_string()
    .into_bytes();
    let signature = sign("wa-secret-alpha", &sticker);
    let (status, body) =
        post(&app, "/webhooks/alpha/whatsapp", &[("x-hub-signature-256", &signature)], sticker).await;
    assert_eq!((status, body["unsupported"].clone()), (StatusCode::OK, json!(["sticker"])));
    whatsapp(&app, "wamid.S3", "ani@example.com").await;
    let history = transcript(&app, "whatsapp:37491000001").await;
    assert_eq!(
        history[history.len() - 4..],
        [
            "whatsapp > [sticker]",
            "< Sorry, I can only read text messages. Could you write it, please?",
            "whatsapp > ani@example.com",
            "< Sent to ani@example.com.",
        ]
    );
}

#[tokio::test]
async fn a_receipt_for_a_linked_identity_lands_in_the_conversation_it_continues() {
    let (app, _dir) = app();
    telegram(&app, 1, "opening hours?").await;
    let link = json!({ "identity": "whatsapp:37491000001", "conversation": "telegram:42" }).to_string();
    send(&app, "POST", "/v1/tenants/alpha/contacts/link", Some("token-alpha"), Some(link)).await;
    let receipt = json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "WABA", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550000000", "phone_number_id": "PNID" },
            "statuses": [{ "id": "wamid.OUT9", "status": "read", "timestamp": "1767600009", "recipient_id": "37491000001" }]
        }}]}]
    })
    .to_string()
    .into_bytes();
    let signature = sign("wa-secret-alpha", &receipt);
    post(&app, "/webhooks/alpha/whatsapp", &[("x-hub-signature-256", &signature)], receipt).await;
    let (_, conversation) =
        send(&app, "GET", "/v1/tenants/alpha/conversations/telegram:42", Some("token-alpha"), None).await;
    let read = conversation["events"]
        .as_array()
        .expect("events")
        .iter()
        .any(|event| event["type"] == "message.status" && event["data"]["provider_id"] == "wamid.OUT9");
    assert!(read, "{conversation}");
}

#[tokio::test]
async fn a_webhook_carrying_several_messages_handles_them_in_order_once_each() {
    let (app, _dir) = app();
    let message = |id: &str, text: &str| json!({ "from": "37491000001", "id": id, "timestamp": "1767600000", "type": "text", "text": { "body": text } });
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "WABA", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550000000", "phone_number_id": "PNID" },
            "contacts": [{ "profile": { "name": "Ani" }, "wa_id": "37491000001" }],
            // Two messages held back by the provider, then a repeat of the first.
            "messages": [
                message("wamid.B1", "when are you open?"),
                message("wamid.B2", "ani@example.com"),
                message("wamid.B1", "when are you open?"),
            ]
        }}]}]
    })
    .to_string()
    .into_bytes();
    let signature = sign("wa-secret-alpha", &body);
    let (status, answer) =
        post(&app, "/webhooks/alpha/whatsapp", &[("x-hub-signature-256", signature.as_str())], body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!((answer["received"].clone(), answer["duplicates"].clone()), (json!(2), json!(1)));
    assert_eq!(
        transcript(&app, "whatsapp:37491000001").await,
        [
            "whatsapp > when are you open?",
            "< Your email, so we can send them?",
            "whatsapp > ani@example.com",
            "< Sent to ani@example.com.",
        ]
    );
}
