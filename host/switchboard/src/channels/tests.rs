//! Payloads shaped as the providers document them.

use serde_json::json;

use super::*;

fn bytes(value: serde_json::Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

#[test]
fn whatsapp_text_buttons_lists_media_and_statuses() {
    let body = bytes(json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "WABA_ID", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550000000", "phone_number_id": "PHONE_NUMBER_ID" },
            "contacts": [{ "profile": { "name": "Ani" }, "wa_id": "37491000001" }],
            "messages": [
                { "from": "37491000001", "id": "wamid.A", "timestamp": "1767600000", "type": "text", "text": { "body": "Сколько стоит?" } },
                { "from": "37491000001", "id": "wamid.B", "timestamp": "1767600001", "type": "interactive",
                  "interactive": { "type": "button_reply", "button_reply": { "id": "express", "title": "Срочно" } } },
                { "from": "37491000001", "id": "wamid.C", "timestamp": "1767600002", "type": "interactive",
                  "interactive": { "type": "list_reply", "list_reply": { "id": "slot:1", "title": "Mon 10:00", "description": "" } } },
                { "from": "37491000001", "id": "wamid.D", "timestamp": "1767600003", "type": "image",
                  "image": { "caption": "this one is broken", "mime_type": "image/jpeg", "sha256": "x", "id": "MEDIA" } },
                { "from": "37491000001", "id": "wamid.E", "timestamp": "1767600004", "type": "sticker", "sticker": { "id": "S" } }
            ],
            "statuses": [
                { "id": "wamid.OUT", "status": "delivered", "timestamp": "1767600005", "recipient_id": "37491000001" },
                { "id": "wamid.OUT2", "status": "failed", "timestamp": "1767600006", "recipient_id": "37491000001",
                  "errors": [{ "code": 131047, "title": "Re-engagement message" }] }
            ]
        }}]}]
    }));
    let delivery = parse(Channel::Whatsapp, &body).expect("parses");
    let got: Vec<_> =
        delivery.messages.iter().map(|m| (m.id.as_str(), m.text.as_str(), m.payload.as_deref())).collect();
    assert_eq!(
        got,
        [
            ("wamid.A", "Сколько стоит?", None),
            ("wamid.B", "Срочно", Some("express")),
            ("wamid.C", "Mon 10:00", Some("slot:1")),
            ("wamid.D", "this one is broken", None),
            ("wamid.E", "[sticker]", Some("unsupported:sticker")),
        ]
    );
    assert_eq!(delivery.messages[0].display_name.as_deref(), Some("Ani"));
    assert_eq!(delivery.messages[0].at, Some(1_767_600_000_000));
    assert_eq!(delivery.unsupported, ["sticker"]);
    let statuses: Vec<_> = delivery
        .statuses
        .iter()
        .map(|s| (s.message_id.as_str(), s.recipient.as_str(), s.status.as_str(), s.error.as_deref()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("wamid.OUT", "37491000001", "delivered", None),
            ("wamid.OUT2", "37491000001", "failed", Some("131047: Re-engagement message")),
        ]
    );
}

#[test]
fn messenger_and_instagram_messages_quick_replies_and_postbacks_without_echoes() {
    let body = |object: &str| {
        bytes(json!({
            "object": object,
            "entry": [{ "id": "PAGE_ID", "time": 1767600000000_i64, "messaging": [
                { "sender": { "id": "PSID" }, "recipient": { "id": "PAGE_ID" }, "timestamp": 1767600000000_i64,
                  "message": { "mid": "m_1", "text": "Где мой заказ?" } },
                { "sender": { "id": "PSID" }, "recipient": { "id": "PAGE_ID" }, "timestamp": 1767600001000_i64,
                  "message": { "mid": "m_2", "text": "Да", "quick_reply": { "payload": "yes" } } },
                { "sender": { "id": "PAGE_ID" }, "recipient": { "id": "PSID" }, "timestamp": 1767600002000_i64,
                  "message": { "mid": "m_3", "text": "echo", "is_echo": true } },
                { "sender": { "id": "PSID" }, "recipient": { "id": "PAGE_ID" }, "timestamp": 1767600003000_i64,
                  "postback": { "mid": "m_4", "title": "Book", "payload": "intent:booking" } },
                { "sender": { "id": "PSID" }, "recipient": { "id": "PAGE_ID" }, "timestamp": 1767600004000_i64,
                  "read": { "watermark": 1767600003000_i64 } }
            ]}]
        }))
    };
    for (channel, object) in [(Channel::Messenger, "page"), (Channel::Instagram, "instagram")] {
        let delivery = parse(channel, &body(object)).expect("parses");
        let got: Vec<_> = delivery
            .messages
            .iter()
            .map(|m| (m.id.as_str(), m.text.as_str(), m.payload.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("m_1", "Где мой заказ?", None),
                ("m_2", "Да", Some("yes")),
                ("m_4", "Book", Some("intent:booking"))
            ]
        );
        assert!(delivery.statuses.is_empty(), "a read watermark names no message");
    }
    assert_eq!(
        parse(Channel::Messenger, &body("instagram")),
        Err(WebhookError::WrongObject { expected: "page", found: "instagram".to_owned() })
    );
}

#[test]
fn telegram_messages_and_callback_queries() {
    let message = bytes(json!({
        "update_id": 10001,
        "message": { "message_id": 5, "date": 1767600000,
            "from": { "id": 42, "is_bot": false, "first_name": "Aram", "last_name": "K" },
            "chat": { "id": 42, "type": "private" }, "text": "/start" }
    }));
    let delivery = parse(Channel::Telegram, &message).expect("parses");
    assert_eq!(delivery.messages[0].id, "10001");
    assert_eq!(delivery.messages[0].from, "42");
    assert_eq!(delivery.messages[0].display_name.as_deref(), Some("Aram K"));
    let callback = bytes(json!({
        "update_id": 10002,
        "callback_query": { "id": "cb1", "from": { "id": 42, "is_bot": false, "first_name": "Aram" },
            "message": { "message_id": 6, "date": 1767600001, "chat": { "id": 42, "type": "private" }, "text": "Urgent?" },
            "chat_instance": "x", "data": "express" }
    }));
    let delivery = parse(Channel::Telegram, &callback).expect("parses");
    assert_eq!(
        (delivery.messages[0].text.as_str(), delivery.messages[0].payload.as_deref()),
        ("express", Some("express"))
    );
}

#[test]
fn malformed_payloads_are_refused() {
    assert!(matches!(parse(Channel::Whatsapp, b"{\"object\":"), Err(WebhookError::Malformed(_))));
    assert!(matches!(parse(Channel::Telegram, b"{}"), Err(WebhookError::Malformed(_))));
}

#[test]
fn meta_signatures_are_hmac_sha256_of_the_raw_body() {
    let body = br#"{"object":"page","entry":[]}"#;
    let mut mac = Hmac::<Sha256>::new_from_slice(b"app-secret").expect("key");
    mac.update(body);
    let good = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(verify_meta_signature("app-secret", Some(&good), body), Ok(()));
    assert_eq!(verify_meta_signature("other-secret", Some(&good), body), Err(WebhookError::BadSignature));
    assert_eq!(verify_meta_signature("app-secret", Some(&good), b"{}"), Err(WebhookError::BadSignature));
    assert_eq!(verify_meta_signature("app-secret", None, body), Err(WebhookError::BadSignature));
    assert_eq!(verify_meta_signature("app-secret", Some("sha256=zz"), body), Err(WebhookError::BadSignature));
}

#[test]
fn telegram_secret_tokens_must_match() {
    assert_eq!(verify_telegram_secret("s3cret", Some("s3cret")), Ok(()));
    assert_eq!(verify_telegram_secret("s3cret", Some("guess")), Err(WebhookError::BadSignature));
    assert_eq!(verify_telegram_secret("s3cret", None), Err(WebhookError::BadSignature));
}

#[test]
fn empty_or_blank_secrets_are_refused_by_name() {
    let meta = |app_secret: &str, verify_token: &str| {
        serde_json::from_value::<MetaSecrets>(
            json!({ "app_secret": app_secret, "verify_token": verify_token }),
        )
        .map_err(|error| error.to_string())
    };
    assert!(meta("s3cret", "v").is_ok());
    for (app_secret, verify_token, problem) in [
        ("", "v", "app_secret must not be empty"),
        ("  \t", "v", "app_secret must not be empty"),
        ("s3cret", "", "verify_token must not be empty"),
        ("s3cret", " ", "verify_token must not be empty"),
    ] {
        let error = meta(app_secret, verify_token).expect_err("refused");
        assert!(error.contains(problem), "{error:?} should say {problem:?}");
    }
    let telegram = serde_json::from_value::<TelegramSecrets>(json!({ "secret_token": "" }));
    let error = telegram.expect_err("refused").to_string();
    assert!(error.contains("secret_token must not be empty"), "{error}");
}

#[test]
fn tenant_toml_with_an_empty_secret_does_not_parse() {
    let channels = |text: &str| toml::from_str::<ChannelSecrets>(text).map_err(|error| error.to_string());
    assert!(
        channels("[telegram]\nsecret_token = \"s\"\n[whatsapp]\napp_secret = \"a\"\nverify_token = \"v\"")
            .is_ok()
    );
    let error = channels("[messenger]\napp_secret = \"\"\nverify_token = \"v\"").expect_err("refused");
    assert!(error.contains("app_secret must not be empty"), "{error}");
    let error = channels("[telegram]\nsecret_token = \"\"").expect_err("refused");
    assert!(error.contains("secret_token must not be empty"), "{error}");
}
