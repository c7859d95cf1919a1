use switchboard_sdk::testing::{ClassifyBuilder, classify_input, with_host};

use super::*;

const ENDPOINT: &str = "https://llm.example/v1/chat/completions";

fn salon(text: &str) -> ClassifyBuilder {
    classify_input(text)
        .intent(
            "booking",
            &["записаться", "book"],
            &[
                ("service", FieldKind::Choice, &["haircut", "manicure"]),
                ("stylist", FieldKind::Text, &[]),
                ("preferred_date", FieldKind::Date, &[]),
            ],
        )
        .intent("prices", &["сколько стоит"], &[])
        .config(&format!(r#"{{"endpoint": "{ENDPOINT}", "model": "test-model", "key_secret": "key", "utc_offset_minutes": 240}}"#))
}

fn model_says(content: &str) {
    with_host(|host| {
        host.secrets.insert("key".to_owned(), "sk-test".to_owned());
        host.respond_json(
            ENDPOINT,
            200,
            &json!({"choices": [{"message": {"role": "assistant", "content": content}}]}),
        );
    });
}

#[test]
fn the_models_answer_becomes_intents_and_typed_fields() {
    model_says(
        r#"```json
        {"intent": "booking", "confidence": 0.92, "locale": "ru", "entities": [
            {"field": "service", "value": "Haircut", "confidence": 0.9},
            {"field": "stylist", "value": "Карина", "confidence": 0.85},
            {"field": "preferred_date", "value": "2026-01-02", "confidence": 0.8}]}
        ```"#,
    );
    let answer = LlmClassifier::classify(salon("Хочу освежить образ у Карины завтра").build()).unwrap();
    assert_eq!(answer.intents, vec![IntentGuess { name: "booking".into(), confidence: 0.92 }]);
    let values: Vec<(&str, &Value)> =
        answer.entities.iter().map(|entity| (entity.field.as_str(), &entity.value)).collect();
    // 2026-01-02 00:00 in Yerevan is 2026-01-01 20:00 UTC.
    assert_eq!(
        values,
        [
            ("service", &Value::Text("haircut".into())),
            ("stylist", &Value::Text("Карина".into())),
            ("preferred_date", &Value::Datetime(1_767_225_600_000 + 20 * 3_600_000)),
        ]
    );
    assert_eq!(answer.locale.as_deref(), Some("ru"));
}

#[test]
fn the_request_carries_the_message_the_intents_and_the_model() {
    model_says(r#"{"intent": null, "entities": []}"#);
    LlmClassifier::classify(salon("Сколько стоит маникюр?").asking("service").build()).unwrap();
    let body = with_host(|host| host.posted.last().cloned()).expect("a POST");
    let request: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(request["model"], "test-model");
    assert_eq!(request["response_format"]["type"], "json_object");
    let user: serde_json::Value =
        serde_json::from_str(request["messages"][1]["content"].as_str().unwrap()).unwrap();
    assert_eq!(user["message"], "Сколько стоит маникюр?");
    assert_eq!(user["asking_for"], "service");
    assert_eq!(user["today"], "2026-01-01");
    assert_eq!(user["weekday"], "Thursday");
    assert_eq!(user["intents"][0]["fields"][0]["options"], json!(["haircut", "manicure"]));
}

#[test]
fn what_the_flow_lacks_is_dropped() {
    model_says(
        r#"{"intent": "pizza", "confidence": 0.99, "entities": [
            {"field": "service", "value": "massage", "confidence": 0.9},
            {"field": "mood", "value": "happy", "confidence": 0.9},
            {"field": "preferred_date", "value": "soon", "confidence": 0.9}]}"#,
    );
    let answer = LlmClassifier::classify(salon("...").build()).unwrap();
    assert!(answer.intents.is_empty() && answer.entities.is_empty(), "{answer:?}");
}

#[test]
fn failures_say_what_went_wrong() {
    with_host(|host| host.secrets.insert("key".to_owned(), "sk-test".to_owned()));
    with_host(|host| host.respond_json(ENDPOINT, 429, &json!({"error": {"message": "rate limited"}})));
    let error = LlmClassifier::classify(salon("hi").build()).unwrap_err();
    assert!(matches!(&error, StepError::Unavailable(message) if message.contains("429")), "{error:?}");

    model_says("I think the customer wants a haircut.");
    let error = LlmClassifier::classify(salon("hi").build()).unwrap_err();
    assert!(
        matches!(&error, StepError::Unavailable(message) if message.contains("not the JSON")),
        "{error:?}"
    );

    with_host(|host| host.secrets.clear());
    with_host(|host| host.secrets.insert("other".to_owned(), "x".to_owned()));
    let error = LlmClassifier::classify(salon("hi").build()).unwrap_err();
    assert!(
        matches!(&error, StepError::InvalidConfig(message) if message.contains("\"key\" is not set")),
        "{error:?}"
    );
}

#[test]
fn an_endpoint_off_the_allowlist_is_a_config_error_that_names_the_fix() {
    with_host(|host| host.secrets.insert("key".to_owned(), "sk-test".to_owned()));
    let input = salon("hi").config(
        r#"{"endpoint": "https://elsewhere.example/v1/chat/completions", "model": "m", "key_secret": "key"}"#,
    );
    let error = LlmClassifier::classify(input.build()).unwrap_err();
    assert!(
        matches!(&error, StepError::InvalidConfig(message) if message.contains("grants.http.allow")),
        "{error:?}"
    );
}
