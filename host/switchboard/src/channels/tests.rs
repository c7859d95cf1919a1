//! Payloads shaped as the providers document them, both ways, and the
//! registry.

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::meta::verify_meta_signature;
use super::telegram::verify_telegram_secret;
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

fn outgoing(options: &[QuickReply]) -> Outgoing<'_> {
    Outgoing {
        to: "37491000001", text: "Насколько срочно?", quick_replies: options, outside_window: None
    }
}

fn options(count: usize) -> Vec<QuickReply> {
    (1..=count)
        .map(|n| QuickReply {
            title: format!("Option number {n} with a long title"),
            payload: format!("p{n}"),
        })
        .collect()
}

#[test]
fn outside_the_window_whatsapp_sends_a_template_and_meta_a_tag() {
    let template = OutsideWindow::Template { name: "visit_reminder".into(), language: "ru".into() };
    let two = options(2);
    let reminder = Outgoing { outside_window: Some(&template), ..outgoing(&two) };
    let body = whatsapp::body(&reminder);
    assert_eq!(body["type"], "template");
    assert_eq!(body["template"]["name"], "visit_reminder");
    assert_eq!(body["template"]["language"]["code"], "ru");
    assert_eq!(body["template"]["components"][0]["parameters"][0]["text"], "Насколько срочно?");
    assert_eq!(body["template"]["components"][2]["parameters"][0]["payload"], "p2");

    let tag = OutsideWindow::Tag("CONFIRMED_EVENT_UPDATE".into());
    let tagged = Outgoing { outside_window: Some(&tag), ..outgoing(&[]) };
    let body = meta::send_api_body(&tagged);
    assert_eq!(body["messaging_type"], "MESSAGE_TAG");
    assert_eq!(body["tag"], "CONFIRMED_EVENT_UPDATE");
}

#[test]
fn whatsapp_uses_text_buttons_or_a_list() {
    assert_eq!(whatsapp::body(&outgoing(&[]))["text"]["body"], "Насколько срочно?");
    let buttons = whatsapp::body(&outgoing(&options(3)));
    assert_eq!(buttons["interactive"]["type"], "button");
    assert_eq!(
        buttons["interactive"]["action"]["buttons"][2]["reply"],
        json!({ "id": "p3", "title": "Option number 3 with" })
    );
    let list = whatsapp::body(&outgoing(&options(12)));
    assert_eq!(list["interactive"]["type"], "list");
    assert_eq!(list["interactive"]["action"]["sections"][0]["rows"].as_array().map(Vec::len), Some(10));
}

#[test]
fn messenger_quick_replies_and_telegram_keyboards() {
    let two = options(2);
    let messenger = meta::send_api_body(&outgoing(&two));
    assert_eq!(messenger["recipient"]["id"], "37491000001");
    assert_eq!(messenger["message"]["quick_replies"][1]["payload"], "p2");
    let telegram = telegram::body(&outgoing(&two));
    assert_eq!(telegram["reply_markup"]["inline_keyboard"][0][0]["callback_data"], "p1");
    assert_eq!(telegram["chat_id"], "37491000001");
}

/// Every channel's credentials, as a tenant.toml would give them.
fn all_secrets() -> ChannelSecrets {
    toml::from_str(
        r#"
        [whatsapp]
        app_secret = "wa-secret"
        verify_token = "wa-verify"
        access_token = "wa-token"
        phone_number_id = "PNID"
        api_base = "http://graph.test"
        window_fallback = "visit_reminder"
        [messenger]
        app_secret = "m-secret"
        verify_token = "m-verify"
        access_token = "m-token"
        api_base = "http://graph.test"
        [instagram]
        app_secret = "i-secret"
        verify_token = "i-verify"
        [telegram]
        secret_token = "tg-secret"
        bot_token = "123:abc"
        api_base = "http://telegram.test"
        "#,
    )
    .expect("parses")
}

#[test]
fn every_channel_has_a_provider_that_says_so() {
    for channel in Channel::ALL {
        assert_eq!(provider(channel).channel(), channel);
    }
}

#[test]
fn each_provider_has_its_documented_limits() {
    let limits = |channel| {
        let limits = provider(channel).limits();
        (limits.text_chars, limits.buttons, limits.button_title_chars, limits.rate)
    };
    let per_sender = |per_sender| Some(Rate { per_sender, per_recipient: None });
    assert_eq!(limits(Channel::Whatsapp), (Some(4096), Some(10), Some(20), per_sender(80)));
    assert_eq!(limits(Channel::Messenger), (Some(2000), Some(13), Some(20), per_sender(250)));
    assert_eq!(limits(Channel::Instagram), (Some(1000), Some(13), Some(20), per_sender(250)));
    let per_chat = Some(Burst { per_second: 1, burst: 3 });
    assert_eq!(
        limits(Channel::Telegram),
        (Some(4096), None, Some(64), Some(Rate { per_sender: 30, per_recipient: per_chat }))
    );
    for channel in [Channel::Webchat, Channel::Internal] {
        assert_eq!(limits(channel), (None, None, None, None));
    }
}

#[test]
fn only_provider_channels_take_credentials_webhooks_and_sends() {
    let secrets = all_secrets();
    let webhooks: Vec<_> =
        Channel::ALL.into_iter().filter(|channel| provider(*channel).has_webhook()).collect();
    assert_eq!(webhooks, [Channel::Whatsapp, Channel::Telegram, Channel::Messenger, Channel::Instagram]);
    let credentials: Vec<_> =
        Channel::ALL.into_iter().filter(|channel| provider(*channel).takes_credentials()).collect();
    assert_eq!(credentials, webhooks);
    let sendable: Vec<_> =
        Channel::ALL.into_iter().filter(|channel| provider(*channel).can_send(&secrets)).collect();
    // Instagram has no access token here.
    assert_eq!(sendable, [Channel::Whatsapp, Channel::Telegram, Channel::Messenger]);
    for channel in [Channel::Webchat, Channel::Internal] {
        let provider = provider(channel);
        assert!(!provider.configured(&secrets));
        assert_eq!(provider.handshake(&secrets, &HashMap::new()), Handshake::Unavailable);
        assert_eq!(
            provider.parse(b"{}"),
            Err(WebhookError::Malformed("no webhook for this channel".to_owned()))
        );
        assert!(provider.request(&secrets, &outgoing(&[])).is_none());
    }
}

#[test]
fn a_whatsapp_reply_needs_a_token_and_a_number() {
    let mut secrets = all_secrets();
    assert!(provider(Channel::Whatsapp).can_send(&secrets));
    if let Some(whatsapp) = secrets.whatsapp.as_mut() {
        whatsapp.phone_number_id = None;
    }
    assert!(!provider(Channel::Whatsapp).can_send(&secrets));
    assert!(provider(Channel::Whatsapp).request(&secrets, &outgoing(&[])).is_none());
}

#[test]
fn send_requests_go_to_each_providers_api_with_its_credentials() {
    let secrets = all_secrets();
    let request = |channel| provider(channel).request(&secrets, &outgoing(&[])).expect("can send");
    let whatsapp = request(Channel::Whatsapp);
    assert_eq!(whatsapp.url, "http://graph.test/PNID/messages");
    assert_eq!(whatsapp.headers, [("authorization".to_owned(), "Bearer wa-token".to_owned())]);
    assert_eq!(whatsapp.body, whatsapp::body(&outgoing(&[])));
    let messenger = request(Channel::Messenger);
    assert_eq!(messenger.url, "http://graph.test/me/messages");
    assert_eq!(messenger.headers, [("authorization".to_owned(), "Bearer m-token".to_owned())]);
    let telegram = request(Channel::Telegram);
    assert_eq!(telegram.url, "http://telegram.test/bot123:abc/sendMessage");
    assert!(telegram.headers.is_empty(), "the bot token is in the URL");
}

#[test]
fn senders_and_window_fallbacks_are_each_providers_own() {
    let secrets = all_secrets();
    assert_eq!(provider(Channel::Whatsapp).sender(&secrets), "PNID");
    assert_eq!(provider(Channel::Telegram).sender(&secrets), "");
    assert_eq!(
        provider(Channel::Whatsapp).window_fallback(&secrets, "hy"),
        Some(OutsideWindow::Template { name: "visit_reminder".to_owned(), language: "hy".to_owned() })
    );
    let mut tagged = secrets.clone();
    if let Some(messenger) = tagged.messenger.as_mut() {
        messenger.window_fallback = Some("HUMAN_AGENT".to_owned());
    }
    assert_eq!(
        provider(Channel::Messenger).window_fallback(&tagged, "hy"),
        Some(OutsideWindow::Tag("HUMAN_AGENT".to_owned()))
    );
    assert_eq!(provider(Channel::Instagram).window_fallback(&secrets, "hy"), None);
    let windowed: Vec<_> =
        Channel::ALL.into_iter().filter(|channel| provider(*channel).messaging_window()).collect();
    assert_eq!(windowed, [Channel::Whatsapp, Channel::Messenger, Channel::Instagram]);
}

#[test]
fn webhooks_are_checked_by_their_own_provider() {
    let secrets = all_secrets();
    let body = br#"{"object":"page","entry":[]}"#;
    let mut mac = Hmac::<Sha256>::new_from_slice(b"m-secret").expect("key");
    mac.update(body);
    let mut headers = HeaderMap::new();
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    headers.insert("x-hub-signature-256", signature.parse().expect("header"));
    assert_eq!(provider(Channel::Messenger).verify(&secrets, &headers, body), Ok(()));
    // Another Meta channel's app secret does not sign for Messenger.
    assert_eq!(provider(Channel::Whatsapp).verify(&secrets, &headers, body), Err(WebhookError::BadSignature));
    headers.insert("x-telegram-bot-api-secret-token", "tg-secret".parse().expect("header"));
    assert_eq!(provider(Channel::Telegram).verify(&secrets, &headers, body), Ok(()));
    let none = ChannelSecrets::default();
    assert_eq!(provider(Channel::Telegram).verify(&none, &headers, body), Err(WebhookError::BadSignature));

    let query: HashMap<String, String> =
        [("hub.mode", "subscribe"), ("hub.verify_token", "m-verify"), ("hub.challenge", "42")]
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect();
    assert_eq!(
        provider(Channel::Messenger).handshake(&secrets, &query),
        Handshake::Accepted("42".to_owned())
    );
    assert_eq!(provider(Channel::Instagram).handshake(&secrets, &query), Handshake::Refused);
    assert_eq!(provider(Channel::Instagram).handshake(&none, &query), Handshake::Unavailable);
    assert_eq!(provider(Channel::Telegram).handshake(&secrets, &query), Handshake::Unavailable);
}

#[test]
fn a_whatsapp_number_change_is_a_pair_of_identities() {
    let body = bytes(json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "WABA", "changes": [{ "field": "messages", "value": {
            "messages": [{ "from": "37491000001", "id": "wamid.S", "timestamp": "1767600000", "type": "system",
                "system": { "body": "changed", "wa_id": "37491000002", "type": "user_changed_number" } }]
        }}]}]
    }));
    let delivery = parse(Channel::Whatsapp, &body).expect("parses");
    let changes: Vec<_> =
        delivery.number_changes.iter().map(|(old, new)| (old.to_string(), new.to_string())).collect();
    assert_eq!(changes, [("whatsapp:37491000001".to_owned(), "whatsapp:37491000002".to_owned())]);
    assert!(delivery.messages.is_empty());
}

#[test]
fn credentials_are_put_and_described_per_provider() {
    let mut secrets = ChannelSecrets::default();
    let given =
        json!({ "app_secret": "a", "verify_token": "v", "access_token": "t", "phone_number_id": "PNID" });
    provider(Channel::Whatsapp).put_secrets(&mut secrets, given).expect("valid");
    let bad = provider(Channel::Telegram).put_secrets(&mut secrets, json!({ "secret_token": "" }));
    assert!(bad.expect_err("refused").to_string().contains("secret_token must not be empty"));
    assert!(provider(Channel::Webchat).put_secrets(&mut secrets, json!({})).is_err());
    provider(Channel::Telegram).put_secrets(&mut secrets, json!({ "secret_token": "s" })).expect("valid");
    assert_eq!(
        describe_secrets(&secrets),
        json!({
            "whatsapp": { "set": ["app_secret", "verify_token", "access_token"], "phone_number_id": "PNID",
                          "api_base": "https://graph.facebook.com/v21.0", "window_fallback": null },
            "messenger": null,
            "instagram": null,
            "telegram": { "set": ["secret_token"], "api_base": "https://api.telegram.org" },
        })
    );

    let mut ours = all_secrets();
    ours.overlay(secrets);
    let whatsapp = ours.whatsapp.as_ref().map(|secrets| secrets.app_secret.as_str());
    assert_eq!(whatsapp, Some("a"), "what was given replaces");
    assert_eq!(
        ours.messenger.as_ref().map(|secrets| secrets.app_secret.as_str()),
        Some("m-secret"),
        "the rest stays"
    );
}
