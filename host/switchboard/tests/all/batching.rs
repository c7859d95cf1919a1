//! `Engine::handle_many`: several inbound messages, one disk sync, each
//! answered as if handled alone, in order, and all on disk on return.

use std::sync::Arc;

use switchboard::engine::{Engine, InboundMessage};
use switchboard::tenant::Tenant;
use switchboard_core::conversation::Status;
use switchboard_store::Store;

use crate::support::{plugin_dir, runtime, write_tenant};

fn message(contact: &str, text: &str, id: &str) -> InboundMessage {
    crate::support::telegram(contact, text, id, 1_767_600_000_000)
}

#[test]
fn a_batch_is_handled_in_order_with_repeats_answered_once_and_survives_a_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tenant_dir = write_tenant(dir.path(), "shop", "");
    let runtime = runtime();
    {
        let engine = Engine::new(Store::open(&dir.path().join("data")).expect("store"), Arc::clone(&runtime));
        let tenant = Tenant::load(&tenant_dir, &plugin_dir(), &runtime, &|_| None).expect("loads");
        engine.add_tenant(tenant).expect("added");

        let outcomes = engine
            .handle_many(
                "shop",
                vec![
                    message("telegram:a", "hours", "a1"),
                    message("telegram:b", "hours", "b1"),
                    // The same conversation again, after its first turn.
                    message("telegram:a", "ann@example.com", "a2"),
                    // A provider's retry of a message earlier in this batch.
                    message("telegram:a", "hours", "a1"),
                ],
            )
            .expect("handled");
        let replies: Vec<Vec<&str>> = outcomes
            .iter()
            .map(|outcome| outcome.replies.iter().map(|reply| reply.text.as_str()).collect())
            .collect();
        assert_eq!(
            replies,
            [
                vec!["Your email, so we can send them?"],
                vec!["Your email, so we can send them?"],
                vec!["Sent to ann@example.com."],
                vec![],
            ]
        );
        let duplicates: Vec<bool> = outcomes.iter().map(|outcome| outcome.duplicate).collect();
        assert_eq!(duplicates, [false, false, false, true]);
    }
    // Everything the batch acknowledged is on disk.
    let store = Store::open(&dir.path().join("data")).expect("reopen");
    let a = store.conversation("shop", "telegram:a").expect("read").expect("a is stored");
    assert_eq!(a.conversation.status, Status::Ended { state: "resolved".to_owned() });
    assert!(store.conversation("shop", "telegram:b").expect("read").is_some());
    assert!(store.seen("shop", "telegram", "a2").expect("read"));
}
