//! Several nodes on one PostgreSQL database, each an engine on its own
//! store (its own pool of connections), as separate `serve` processes are:
//! a conversation continues on any node, a provider's retry that reaches
//! another node is a duplicate, one conversation's turns sent to two nodes
//! at once are each handled once and in order, without a turn failing on
//! the lock it waits for (the lock itself is the conformance suite's
//! `a_conversations_turn_is_held_across_nodes`), and a due timer fires once
//! however many nodes look, and a reply committed on one node reaches
//! the web chat session another node holds (LISTEN/NOTIFY).

use std::sync::Arc;

use switchboard::engine::Engine;
use switchboard::scheduler;
use switchboard::tenant::Tenant;
use switchboard_core::event::EventBody;
use switchboard_store_postgres::PgStore;

use crate::support::{plugin_dir, postgres_database, runtime, telegram};
use crate::timers::write_ladders;

const START: i64 = 1_767_603_600_000; // Mon 2026-01-05 09:00 UTC
const CONVERSATION: &str = "telegram:c1";

/// `count` nodes on a fresh database, each serving the ladders tenant.
fn nodes(count: usize) -> (Vec<Arc<Engine>>, tempfile::TempDir) {
    let url = postgres_database();
    let dir = tempfile::tempdir().expect("a temp dir");
    let tenant_dir = write_ladders(dir.path(), "web_chat = true");
    let runtime = runtime();
    let nodes = (0..count)
        .map(|_| {
            let engine = Engine::new(PgStore::connect(&url).expect("connects"), Arc::clone(&runtime));
            let tenant = Tenant::load(&tenant_dir, &plugin_dir(), &runtime, &|_| None).expect("loads");
            engine.add_tenant(tenant).expect("added");
            Arc::new(engine)
        })
        .collect();
    (nodes, dir)
}

fn bodies(node: &Engine) -> Vec<EventBody> {
    node.conversation_events("ladders", CONVERSATION)
        .expect("events")
        .into_iter()
        .map(|event| event.body)
        .collect()
}

fn received(node: &Engine) -> Vec<String> {
    bodies(node)
        .into_iter()
        .filter_map(|body| match body {
            EventBody::MessageReceived { text } => Some(text),
            _ => None,
        })
        .collect()
}

fn sent(node: &Engine) -> Vec<String> {
    bodies(node)
        .into_iter()
        .filter_map(|body| match body {
            EventBody::MessageSent { text, .. } => Some(text),
            _ => None,
        })
        .collect()
}

#[test]
fn a_conversation_continues_on_any_node_and_a_retry_elsewhere_is_a_duplicate() {
    let (nodes, _dir) = nodes(2);
    let first = nodes[0].handle("ladders", telegram(CONVERSATION, "price?", "m1", START)).expect("handled");
    assert!(!first.duplicate && !first.replies.is_empty(), "{first:?}");
    // The provider did not see the acknowledgement and retries; the load
    // balancer sends the retry to the other node.
    let retry =
        nodes[1].handle("ladders", telegram(CONVERSATION, "price?", "m1", START + 1_000)).expect("handled");
    assert!(retry.duplicate, "a retry on another node is a duplicate");
    assert!(retry.replies.is_empty());
    let next = nodes[1]
        .handle("ladders", telegram(CONVERSATION, "hello again", "m2", START + 60_000))
        .expect("handled");
    assert!(!next.duplicate);
    assert_eq!(received(&nodes[0]), ["price?", "hello again"], "either node sees the whole conversation");
    assert_eq!(
        nodes[0].conversation("ladders", CONVERSATION).expect("reads"),
        nodes[1].conversation("ladders", CONVERSATION).expect("reads")
    );
}

#[test]
fn one_conversations_turns_sent_to_two_nodes_at_once_are_each_handled_once_in_order() {
    const EACH: usize = 8;
    let (nodes, _dir) = nodes(2);
    std::thread::scope(|scope| {
        for (n, node) in nodes.iter().enumerate() {
            scope.spawn(move || {
                for turn in 0..EACH {
                    let at = START + (turn as i64) * 1_000;
                    let message =
                        telegram(CONVERSATION, &format!("node {n} turn {turn}"), &format!("m{n}-{turn}"), at);
                    node.handle("ladders", message).expect("handled");
                }
            });
        }
    });
    let received = received(&nodes[0]);
    assert_eq!(received.len(), 2 * EACH, "every message handled once: {received:?}");
    for n in 0..2 {
        let own: Vec<&String> =
            received.iter().filter(|text| text.starts_with(&format!("node {n} "))).collect();
        let expected: Vec<String> = (0..EACH).map(|turn| format!("node {n} turn {turn}")).collect();
        assert_eq!(own, expected.iter().collect::<Vec<_>>(), "each node's turns in the order it sent them");
    }
    // Every turn answered, and none failed for a lock it waited on.
    assert!(sent(&nodes[1]).len() >= received.len(), "a reply to every message");
}

#[test]
fn a_due_timer_fires_once_though_every_node_looks() {
    let (nodes, _dir) = nodes(3);
    nodes[0].handle("ladders", telegram(CONVERSATION, "price?", "m1", START)).expect("handled");
    let before = sent(&nodes[0]).len();
    // Four hours on, every node's scheduler looks at once.
    let now = START + 4 * 3_600_000;
    std::thread::scope(|scope| {
        for node in &nodes {
            scope.spawn(move || {
                scheduler::fire_due(node, now).expect("fires");
            });
        }
    });
    let nudges = sent(&nodes[2])[before..].to_vec();
    assert_eq!(nudges.len(), 1, "the 4 h nudge, once: {nudges:?}");
    // Nothing else is due yet, on any node.
    for node in &nodes {
        scheduler::fire_due(node, now).expect("fires");
    }
    assert_eq!(sent(&nodes[1]).len(), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_committed_on_one_node_reaches_the_web_chat_session_held_by_another() {
    let (nodes, _dir) = tokio::task::spawn_blocking(|| nodes(2)).await.expect("nodes");
    // The visitor's WebSocket is on node B; their message, or a timer, is
    // handled on node A.
    let mut session = nodes[1].subscribe("ladders", "web:visitor-1");
    let mut elsewhere = nodes[1].subscribe("ladders", "web:visitor-2");
    let node_a = nodes[0].clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let message = switchboard::engine::InboundMessage {
            channel: switchboard_core::contract::Channel::Webchat,
            contact: switchboard_core::contract::Contact {
                id: "web:visitor-1".to_owned(),
                display_name: None,
                locale: "en".to_owned(),
            },
            text: "price?".to_owned(),
            payload: None,
            message_id: None,
            at: START,
        };
        node_a.handle("ladders", message).expect("handled")
    })
    .await
    .expect("the turn");
    assert!(!outcome.replies.is_empty());
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), session.recv())
        .await
        .expect("the reply reaches node B within seconds")
        .expect("a reply");
    assert_eq!(first.text, outcome.replies[0].text);
    for reply in &outcome.replies[1..] {
        let next =
            tokio::time::timeout(std::time::Duration::from_secs(10), session.recv()).await.expect("in time");
        assert_eq!(next.map(|next| next.text).as_deref(), Some(reply.text.as_str()));
    }
    // Another visitor's session on that node hears nothing of it.
    let other = tokio::time::timeout(std::time::Duration::from_millis(300), elsewhere.recv()).await;
    assert!(other.is_err(), "another visitor got {other:?}");
    drop(nodes);
}
