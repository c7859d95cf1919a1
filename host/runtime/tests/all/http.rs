//! Outbound HTTP: only to allowlisted hosts, only to addresses the outbound
//! policy allows, with a timeout and a size cap.
//!
//! The order-status plugin calls a fake order API on loopback, a plain
//! `TcpListener` that answers each connection with one canned response.
//! Loopback is not public, so this binary allows `127.0.0.1` as an operator
//! would (`serve --allow-outbound 127.0.0.1`), and nothing else.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use switchboard_core::contract::{
    ClassifyInput, Decision, FieldKindSpec, FieldSpecInfo, IntentGuess, IntentSpec, StepError, Value,
};
use switchboard_runtime::{
    FailureKind, Grants, HttpGrant, Limits, OutboundPolicy, Secret, StepFailure, StepOutcome,
};

use crate::support::{context_with, input, load};

/// A one-shot HTTP server: it records the request it gets (head, blank line,
/// body), waits `delay`, then answers `status` with `body`.
struct FakeOrderApi {
    addr: SocketAddr,
    requests: mpsc::Receiver<String>,
}

impl FakeOrderApi {
    fn start(status: u16, body: String, delay: Duration) -> Self {
        Self::start_on(Ipv4Addr::LOCALHOST.into(), status, body, delay)
    }

    /// [`FakeOrderApi::start`] on another loopback address (`127.0.0.2`, say).
    fn start_on(ip: IpAddr, status: u16, body: String, delay: Duration) -> Self {
        let listener = TcpListener::bind((ip, 0)).expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let (sender, requests) = mpsc::channel();
        thread::spawn(move || {
            let Ok((stream, _)) = listener.accept() else { return };
            let mut reader = BufReader::new(stream);
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            let length = head
                .lines()
                .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length:").map(str::to_owned))
                .and_then(|length| length.trim().parse::<usize>().ok())
                .unwrap_or(0);
            let mut request_body = vec![0; length];
            let _ = reader.read_exact(&mut request_body);
            head.push_str("\r\n");
            head.push_str(&String::from_utf8_lossy(&request_body));
            let _ = sender.send(head);
            thread::sleep(delay);
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        });
        Self { addr, requests }
    }

    fn url(&self) -> String {
        format!("http://{}/api/orders/{{order_id}}", self.addr)
    }

    fn request(&self) -> Option<String> {
        self.requests.recv_timeout(Duration::from_millis(200)).ok()
    }
}

const ORDER: &str = r#"{"id": "A-1001", "status": "shipped", "expected_date": "2026-01-05",
    "last_scan": {"place": "Yerevan hub"}, "phone": "+37491000000"}"#;

/// The operator's opt-in for the fake APIs: `127.0.0.1`, and no other
/// loopback address.
fn allow_loopback() {
    OutboundPolicy::allowing(["127.0.0.1".parse().expect("an address")])
        .install()
        .expect("every test installs the same policy");
}

fn grants(api: &FakeOrderApi, allow: &str) -> Grants {
    allow_loopback();
    let allow =
        allow.replace("{addr}", &api.addr.to_string()).replace("{port}", &api.addr.port().to_string());
    Grants {
        http: HttpGrant { allow: vec![allow], timeout_ms: 300, max_response_bytes: 4 << 10 },
        secrets: [("orders_api_token".to_owned(), Secret("s3cret".to_owned()))].into(),
        ..Grants::default()
    }
}

fn check_order(api: &FakeOrderApi, grants: Grants) -> Result<StepOutcome, StepFailure> {
    check_order_at(&api.url(), grants)
}

fn check_order_at(orders_url: &str, grants: Grants) -> Result<StepOutcome, StepFailure> {
    let mut step = input("webshop", "order_status");
    step.fields.insert("order_id".to_owned(), Value::Text("A-1001".to_owned()));
    step.fields.insert("contact".to_owned(), Value::Text("+374 91 000 000".to_owned()));
    step.config = serde_json::json!({ "orders_url": orders_url, "token_secret": "orders_api_token" }).into();
    let context = context_with(grants);
    let context = switchboard_runtime::CallContext {
        limits: Limits { timeout: Duration::from_secs(2), ..Limits::default() },
        ..context
    };
    load("order_status").call(&step, context)
}

#[test]
fn an_allowlisted_order_api_answers_with_the_bearer_token() {
    let api = FakeOrderApi::start(200, ORDER.to_owned(), Duration::ZERO);
    let outcome = check_order(&api, grants(&api, "{addr}")).expect("the lookup succeeds");
    let head = api.request().expect("the API was called");
    assert!(head.starts_with("GET /api/orders/A-1001 HTTP/1.1"), "{head}");
    assert!(head.to_ascii_lowercase().contains("authorization: bearer s3cret"), "{head}");
    let Decision::Reply(reply) = &outcome.decisions[1] else { panic!("{:?}", outcome.decisions) };
    let text = &reply.text;
    assert!(text.starts_with("Order A-1001: shipped. Last scan: Yerevan hub."), "{text}");
}

#[test]
fn a_host_off_the_allowlist_is_refused_before_any_connection() {
    let api = FakeOrderApi::start(200, ORDER.to_owned(), Duration::ZERO);
    // A bare host is its scheme's default port only (80 here), not the API's.
    for allow in ["shop.example", "127.0.0.1:1", "localhost", "127.0.0.1"] {
        let failure = check_order(&api, grants(&api, allow)).expect_err("denied");
        assert!(
            matches!(&failure.kind, FailureKind::Guest(StepError::InvalidConfig(message)) if message.contains("not allowed")),
            "{allow}: {failure:?}"
        );
    }
    let failure = check_order(&api, Grants::default()).expect_err("HTTP is not granted by default");
    assert!(matches!(failure.kind, FailureKind::Guest(StepError::InvalidConfig(_))), "{failure:?}");
    assert_eq!(api.request(), None, "nothing reached the API");
}

#[test]
fn an_allowlisted_host_at_an_address_the_policy_refuses_is_denied_before_connecting() {
    // 127.0.0.2 is loopback too, but the operator allowed only 127.0.0.1.
    // 2130706434 is a name the resolver turns into 127.0.0.2: the check is
    // on the address, after the lookup.
    let api =
        FakeOrderApi::start_on(Ipv4Addr::new(127, 0, 0, 2).into(), 200, ORDER.to_owned(), Duration::ZERO);
    for host in ["127.0.0.2", "2130706434", "[::ffff:127.0.0.2]"] {
        let url = format!("http://{host}:{}/api/orders/{{order_id}}", api.addr.port());
        let failure = check_order_at(&url, grants(&api, &format!("{host}:{{port}}"))).expect_err("refused");
        assert!(
            matches!(&failure.kind, FailureKind::Guest(StepError::InvalidConfig(message)) if message.contains("not allowed")),
            "{host}: the same denial as a host off the allowlist, got {failure:?}"
        );
    }
    assert_eq!(api.request(), None, "nothing reached the API");
}

#[test]
fn a_response_past_the_size_cap_fails_the_read() {
    let padding = "x".repeat(8 << 10);
    let api =
        FakeOrderApi::start(200, format!(r#"{{"id": "A-1001", "status": "{padding}"}}"#), Duration::ZERO);
    let failure = check_order(&api, grants(&api, "{addr}")).expect_err("too large");
    assert!(
        matches!(&failure.kind, FailureKind::Guest(StepError::Unavailable(message)) if message.contains("body size exceeds limit")),
        "{failure:?}"
    );
}

#[test]
fn a_slow_api_times_out_within_the_grant() {
    let api = FakeOrderApi::start(200, ORDER.to_owned(), Duration::from_secs(5));
    let started = Instant::now();
    let failure = check_order(&api, grants(&api, "{addr}")).expect_err("timed out");
    assert!(matches!(failure.kind, FailureKind::Guest(StepError::Unavailable(_))), "{failure:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
}

/// A chat-completions answer whose message content is `content`.
fn completion(content: &serde_json::Value) -> String {
    serde_json::json!({"choices": [{"message": {"role": "assistant", "content": content.to_string()}}]})
        .to_string()
}

fn booking_input(text: &str) -> ClassifyInput {
    let service = FieldSpecInfo {
        name: "service".to_owned(),
        kind: FieldKindSpec::Choice,
        options: vec!["haircut".to_owned(), "coloring".to_owned()],
    };
    let day =
        FieldSpecInfo { name: "preferred_date".to_owned(), kind: FieldKindSpec::Date, options: Vec::new() };
    let step = input("salon", "understanding");
    ClassifyInput {
        tenant: step.tenant,
        conversation: step.conversation,
        channel: step.channel,
        contact: step.contact,
        text: text.to_owned(),
        intents: vec![IntentSpec {
            name: "booking".to_owned(),
            examples: vec!["записаться".to_owned()],
            fields: vec![service, day],
        }],
        active_intent: None,
        asking: None,
        fields: Default::default(),
        now: step.now,
        config: Default::default(),
    }
}

fn classify(api: &FakeOrderApi, text: &str) -> Result<switchboard_runtime::ClassifyOutcome, StepFailure> {
    let mut input = booking_input(text);
    let endpoint = format!("http://{}/v1/chat/completions", api.addr);
    input.config =
        serde_json::json!({"endpoint": endpoint, "model": "gpt-4o-mini", "key_secret": "llm_key"}).into();
    let mut grants = grants(api, "{addr}");
    grants.secrets = [("llm_key".to_owned(), Secret("test-key".to_owned()))].into();
    let context = switchboard_runtime::CallContext {
        limits: Limits { timeout: Duration::from_secs(2), ..Limits::default() },
        ..context_with(grants)
    };
    load("llm_classifier").classify(&input, context)
}

#[test]
fn an_llm_classifier_asks_the_model_and_keeps_only_what_the_flow_has() {
    let answer = serde_json::json!({
        "intent": "booking", "confidence": 0.9, "locale": "ru",
        "entities": [
            {"field": "service", "value": "haircut", "confidence": 0.85},
            {"field": "preferred_date", "value": "2026-01-02", "confidence": 0.8},
            {"field": "made_up", "value": "anything", "confidence": 1.0},
            {"field": "service", "value": "massage", "confidence": 1.0},
        ],
    });
    let api = FakeOrderApi::start(200, completion(&answer), Duration::ZERO);
    let outcome = classify(&api, "Можно записаться на завтра на стрижку?").expect("classifies");

    let request = api.request().expect("the model API was called");
    assert!(request.starts_with("POST /v1/chat/completions HTTP/1.1"), "{request}");
    assert!(request.to_ascii_lowercase().contains("authorization: bearer test-key"), "{request}");
    assert!(request.contains("на завтра на стрижку") && request.contains("gpt-4o-mini"), "{request}");

    let classification = outcome.classification;
    assert_eq!(classification.intents, [IntentGuess { name: "booking".to_owned(), confidence: 0.9 }]);
    assert_eq!(classification.locale.as_deref(), Some("ru"));
    let found: Vec<(&str, &Value)> =
        classification.entities.iter().map(|entity| (entity.field.as_str(), &entity.value)).collect();
    assert_eq!(found.len(), 2, "the made-up field and option are dropped: {found:?}");
    assert_eq!(found[0], ("service", &Value::Text("haircut".to_owned())));
    assert!(matches!(found[1], ("preferred_date", Value::Datetime(_))), "{found:?}");
}

#[test]
fn an_llm_classifier_whose_model_fails_says_it_is_unavailable() {
    let api = FakeOrderApi::start(500, r#"{"error": "overloaded"}"#.to_owned(), Duration::ZERO);
    let failure = classify(&api, "hello").expect_err("the model failed");
    assert!(
        matches!(&failure.kind, FailureKind::Guest(StepError::Unavailable(message)) if message.contains("500")),
        "{failure:?}"
    );

    let api = FakeOrderApi::start(200, completion(&serde_json::json!("not json at all")), Duration::ZERO);
    let failure = classify(&api, "hello").expect_err("garbage from the model");
    assert!(matches!(&failure.kind, FailureKind::Guest(StepError::Unavailable(_))), "{failure:?}");
}
