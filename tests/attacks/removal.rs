//! **M3**: a removed tenant's name, created again, brought back the old
//! tenant's conversations and keys. Removal now retires the stored data
//! out of the name's reach (`switchboard_store`'s `retire.rs`): the old
//! keys stop working at once, and the new tenant starts empty, across a
//! restart too.

use serde_json::json;

use crate::support::{ADMIN_KEY, Options, Server, bearer};

#[test]
fn m3_a_name_created_again_gets_nothing_of_the_removed_tenant() {
    let mut server = Server::start(Options::new());
    let operator = bearer(ADMIN_KEY);
    let operator = [("authorization", operator.as_str())];
    let old_key = server.create_tenant("reused");
    let old = bearer(&old_key);
    let old = [("authorization", old.as_str())];
    let turn = server.post_json(
        "/v1/tenants/reused/messages",
        &json!({ "contact": { "id": "secret-customer" }, "text": "hours? my email is secret@example.com" }),
    );
    assert_eq!(turn.status, 200, "{}", turn.body);
    let minted = server.send_json("POST", "/v1/tenants/reused/keys", &old, &json!({ "label": "crm" }));
    assert_eq!(minted.status, 201, "{}", minted.body);
    let minted = bearer(minted.json()["key"].as_str().expect("a key"));

    let removed = server.send_json("DELETE", "/v1/admin/tenants/reused", &operator, &json!({}));
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert!(!removed.body.contains(&server.tenants_dir().display().to_string()), "{}", removed.body);

    let new_key = server.create_tenant("reused");
    let new = bearer(&new_key);
    let check = |server: &Server| {
        for key in [&old[0].1.to_owned(), &minted] {
            let response = server.get("/v1/tenants/reused/conversations", &[("authorization", key.as_str())]);
            assert_eq!(response.status, 401, "an old key opens the new tenant: {}", response.body);
        }
        let headers = [("authorization", new.as_str())];
        let conversations = server.get("/v1/tenants/reused/conversations", &headers);
        assert_eq!(conversations.status, 200, "{}", conversations.body);
        assert!(!conversations.body.contains("secret-customer"), "{}", conversations.body);
        let events = server.get("/v1/tenants/reused/events", &headers);
        assert_eq!(events.status, 200, "{}", events.body);
        assert!(!events.body.contains("secret"), "the old tenant's events: {}", events.body);
        let keys = server.get("/v1/tenants/reused/keys", &headers);
        assert_eq!(keys.json()["keys"].as_array().map(Vec::len), Some(1), "{}", keys.body);
        let conversation = server.get("/v1/tenants/reused/conversations/web:secret-customer", &headers);
        assert_eq!(conversation.status, 404, "{}", conversation.body);
    };
    crate::support::with_benign(&server, || check(&server));
    server.restart();
    check(&server);
}
