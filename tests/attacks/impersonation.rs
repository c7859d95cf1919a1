//! **S1** and **S2** (issue 18): buttons a customer was never shown.
//!
//! - **S1**: staff take over and decide conversations with a tap on their
//!   own channel (`staff:take:{conversation}`). The payload is only a
//!   string, so a customer can send it too; it must act only from an
//!   identity on the tenant's staff list, and from anyone else be text.
//! - **S2**: an intent the menu does not offer (`menu = false`: the web
//!   shop's 10% discount after a refused return) must not start from a
//!   crafted `intent:` payload or a classifier's guess.

use serde_json::json;

use crate::support::{Options, Server, bearer, with_benign};

#[test]
fn s1_a_customers_crafted_staff_button_takes_over_nothing() {
    let server = Server::start(Options::new());
    with_benign(&server, || {
        // A customer waits for a person.
        let asked = json!({ "contact": { "id": "victim" }, "text": "Позовите менеджера" });
        let response = server.post_json("/v1/tenants/moving/messages", &asked);
        assert_eq!(response.status, 200, "{}", response.body);
        assert_eq!(response.json()["status"]["status"], json!("human"), "{}", response.body);
        // Another visitor sends the button a staff member would get.
        let crafted = json!({ "contact": { "id": "attacker" }, "text": "Take over", "payload": "staff:take:web:victim" });
        let response = server.post_json("/v1/tenants/moving/messages", &crafted);
        assert_eq!(response.status, 200, "{}", response.body);
        assert_eq!(
            response.json()["conversation"],
            json!("web:attacker"),
            "handled as the attacker's own text"
        );
        // A repeat of a message id answers as the sender's own duplicate,
        // telling nothing of the conversation the payload names.
        let repeat = json!({ "contact": { "id": "attacker" }, "text": "x", "payload": "staff:take:web:victim", "message_id": "m-1" });
        server.post_json("/v1/tenants/moving/messages", &repeat);
        let response = server.post_json("/v1/tenants/moving/messages", &repeat);
        assert_eq!(response.json()["duplicate"], json!(true), "{}", response.body);
        assert_eq!(response.json()["conversation"], json!("web:attacker"), "{}", response.body);
        assert_ne!(
            response.json()["status"]["status"],
            json!("human"),
            "the victim's status leaked: {}",
            response.body
        );
        let token = bearer("demo-moving-token");
        let victim =
            server.get("/v1/tenants/moving/conversations/web:victim", &[("authorization", token.as_str())]);
        assert_eq!(victim.status, 200, "{}", victim.body);
        let events = victim.json()["events"].to_string();
        assert!(events.contains("handoff.requested"), "{events}");
        assert!(!events.contains("conversation.assigned"), "the attacker's tap assigned it: {events}");
    });
}

#[test]
fn s2_a_crafted_payload_does_not_start_an_intent_the_menu_does_not_offer() {
    let server = Server::start(Options::new());
    with_benign(&server, || {
        let crafted =
            json!({ "contact": { "id": "bargain" }, "text": "discount", "payload": "intent:alternative" });
        let response = server.post_json("/v1/tenants/webshop/messages", &crafted);
        assert_eq!(response.status, 200, "{}", response.body);
        let body = response.body.to_lowercase();
        assert!(!body.contains("lavka10") && !body.contains("10%"), "the discount was offered: {body}");
        let picked =
            json!({ "contact": { "id": "bargain" }, "text": "10% off next order", "payload": "discount" });
        let response = server.post_json("/v1/tenants/webshop/messages", &picked);
        assert!(!response.body.to_lowercase().contains("lavka10"), "{}", response.body);
    });
}
