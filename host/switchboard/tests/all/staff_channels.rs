//! People on their own channels (scenario 9's approvers, any queue owner):
//! a request's approver hears of it on Telegram with Approve / Reject, and
//! taps; the backup hears of the escalation; a customer's crafted button
//! approves nothing.

use std::sync::Arc;

use switchboard::engine::{Engine, InboundMessage, OutboxEntry, Role};
use switchboard::tenant::Tenant;
use switchboard_core::contract::{Channel, Contact};
use switchboard_core::conversation::Status;
use switchboard_core::event::EventBody;
use switchboard_store::Store;

use crate::support::{plugin_dir, repo_root, runtime};

const MONDAY_10: i64 = 1_768_197_600_000; // 2026-01-12T10:00:00+04:00

/// The office example, able to send on Telegram, with lilit (approver of
/// large amounts) and armen (her backup) reachable there.
fn office() -> (Engine, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let office = dir.path().join("office");
    std::fs::create_dir_all(&office).expect("mkdir");
    let example = repo_root().join("examples/office");
    for file in ["flow.toml", "approvals.json"] {
        std::fs::copy(example.join(file), office.join(file)).expect("copy");
    }
    let tenant = std::fs::read_to_string(example.join("tenant.toml")).expect("tenant.toml")
        + "\n[channels.telegram]\nsecret_token = \"tg-secret\"\nbot_token = \"123:abc\"\n";
    std::fs::write(office.join("tenant.toml"), tenant).expect("write");
    let runtime = runtime();
    let engine = Engine::new(Store::temporary().expect("a store"), Arc::clone(&runtime));
    engine
        .add_tenant(Tenant::load(&office, &plugin_dir(), &runtime, &|_| None).expect("loads"))
        .expect("added");
    for (id, contact) in [
        ("lilit", "telegram:111"),
        ("armen", "telegram:222"),
        ("sona", "telegram:333"),
        ("anna", "telegram:444"),
        ("aram", "telegram:666"),
    ] {
        let role = if id == "aram" { Role::Admin } else { Role::Agent };
        engine.put_staff("office", id, id, role, None, false, 0).expect("a person");
        engine.set_staff_contacts("office", id, &[contact.to_owned()]).expect("contacts").expect("exists");
    }
    (engine, dir)
}

fn telegram(from: &str, text: &str, payload: Option<&str>, id: &str, at: i64) -> InboundMessage {
    InboundMessage {
        channel: Channel::Telegram,
        contact: Contact {
            id: from.to_owned(),
            display_name: Some("Gayane".to_owned()),
            locale: String::new(),
        },
        text: text.to_owned(),
        payload: payload.map(str::to_owned),
        message_id: Some(id.to_owned()),
        at,
    }
}

fn sent_to(engine: &Engine, to: &str) -> Vec<OutboxEntry> {
    let page = engine.outbox("office", None, 1000).expect("the outbox");
    page.entries.into_iter().map(|(_, entry)| entry).filter(|entry| entry.to == to).collect()
}

/// Gayane asks to buy chairs for 600 000 AMD: lilit approves large amounts.
fn request(engine: &Engine) -> String {
    let ask = telegram(
        "telegram:900",
        "Нужно согласовать закупку 40 стульев на 600000 драм, филиал Арабкир",
        None,
        "g1",
        MONDAY_10,
    );
    engine.handle("office", ask).expect("a turn");
    let outcome = engine
        .handle("office", telegram("telegram:900", "Послезавтра", None, "g2", MONDAY_10 + 60_000))
        .expect("a turn");
    assert!(
        matches!(outcome.status, Status::Human { ref queue, .. } if queue == "lilit"),
        "{:?}",
        outcome.status
    );
    outcome.conversation
}

#[test]
fn the_approver_hears_of_a_request_on_her_channel_and_decides_it_with_a_tap() {
    let (engine, _dir) = office();
    let conversation = request(&engine);
    let notices = sent_to(&engine, "111");
    assert_eq!(notices.len(), 1, "{notices:?}");
    let buttons: Vec<&str> = notices[0].quick_replies.iter().map(|reply| reply.payload.as_str()).collect();
    assert_eq!(buttons, [format!("staff:approve:{conversation}"), format!("staff:reject:{conversation}")]);
    assert!(notices[0].text.contains("Gayane"), "{}", notices[0].text);

    let tap = telegram("telegram:111", "Одобрить", Some(buttons[0]), "l1", MONDAY_10 + 120_000);
    let outcome = engine.handle("office", tap.clone()).expect("a turn");
    let decided = outcome.events.iter().find_map(|event| match &event.body {
        EventBody::Domain { name, payload } if name == "approval.decided" => Some(payload.clone()),
        _ => None,
    });
    assert_eq!(decided.expect("decided")["by"], "lilit", "recorded as the staff member, not the identity");
    assert!(matches!(outcome.status, Status::Ended { ref state } if state == "approved"));
    assert!(
        sent_to(&engine, "900").iter().any(|entry| entry.text.contains("lilit")),
        "the requester is told"
    );
    assert!(
        sent_to(&engine, "111").iter().any(|entry| entry.quick_replies.is_empty()),
        "and lilit hears it is done"
    );
    assert!(
        engine.handle("office", tap).expect("a turn").duplicate,
        "the provider's retry does nothing twice"
    );
}

#[test]
fn a_customer_or_staff_without_the_right_cannot_approve_and_the_backup_hears_of_the_escalation() {
    let (engine, _dir) = office();
    let conversation = request(&engine);
    let crafted = format!("staff:approve:{conversation}");
    // Gayane herself, and a stranger, send the approver's payload.
    for (from, id) in [("telegram:900", "x1"), ("telegram:555", "x2")] {
        let outcome = engine
            .handle("office", telegram(from, "ok", Some(&crafted), id, MONDAY_10 + 120_000))
            .expect("a turn");
        assert!(
            !outcome.events.iter().any(
                |event| matches!(&event.body, EventBody::Domain { name, .. } if name == "approval.decided")
            ),
            "{from} decided it"
        );
    }
    // sona is staff, but neither approver nor backup: taking the request
    // (waiting for nobody yet) gives her no right to decide it.
    let take = format!("staff:take:{conversation}");
    let taken = engine
        .handle("office", telegram("telegram:333", "mine", Some(&take), "x3", MONDAY_10 + 150_000))
        .expect("a turn");
    assert!(
        matches!(&taken.status, Status::Human { assignee: Some(who), .. } if who == "sona"),
        "{:?}",
        taken.status
    );
    let outcome = engine
        .handle("office", telegram("telegram:333", "ok", Some(&crafted), "x4", MONDAY_10 + 180_000))
        .expect("a turn");
    assert!(outcome.events.is_empty(), "{:?}", outcome.events);
    let told = sent_to(&engine, "333");
    assert!(told.iter().any(|entry| entry.text.starts_with("Only the approver")), "{told:?}");
    let stored = engine.conversation("office", &conversation).expect("read").expect("exists");
    assert!(matches!(stored.conversation.status, Status::Human { .. }), "still waiting for lilit");

    // armen is the backup: he may decide (as the request names him), and
    // hears of it once it escalates.
    let engine_due = engine.due_timers(MONDAY_10 + 3 * 3_600_000, 10).expect("due");
    let fired = engine.fire_due(&engine_due, MONDAY_10 + 3 * 3_600_000).expect("fired");
    assert!(fired.iter().any(|outcome| {
        outcome.events.iter().any(
            |event| matches!(&event.body, EventBody::Domain { name, .. } if name == "approval.escalated"),
        )
    }));
    let to_armen = sent_to(&engine, "222");
    assert_eq!(to_armen.len(), 1, "the backup hears of the escalation: {to_armen:?}");
    assert!(to_armen[0].quick_replies.iter().any(|reply| reply.payload == crafted));
}

#[test]
fn a_queue_owner_takes_a_handoff_over_from_their_channel() {
    let (engine, _dir) = office();
    // The office manager's queue belongs to anna.
    let outcome = engine
        .handle("office", telegram("telegram:901", "I need a manager", None, "h1", MONDAY_10))
        .expect("a turn");
    let notices = sent_to(&engine, "444");
    assert_eq!(notices.len(), 1, "{notices:?}");
    let take = &notices[0].quick_replies[0].payload;
    assert_eq!(*take, format!("staff:take:{}", outcome.conversation));
    // Routed to anna already: sona, an agent, cannot take it from her...
    let refused = engine
        .handle("office", telegram("telegram:333", "Take over", Some(take), "a1", MONDAY_10 + 60_000))
        .expect("a turn");
    assert!(refused.events.is_empty(), "{:?}", refused.events);
    assert!(
        sent_to(&engine, "333")
            .iter()
            .any(|entry| entry.text.starts_with("That was already decided or handed on"))
    );
    // ...but aram, an admin, can.
    let taken = engine
        .handle("office", telegram("telegram:666", "Take over", Some(take), "a2", MONDAY_10 + 120_000))
        .expect("a turn");
    assert!(
        matches!(&taken.status, Status::Human { assignee: Some(who), .. } if who == "aram"),
        "{:?}",
        taken.status
    );
    let by_aram = taken
        .events
        .iter()
        .any(|event| matches!(&event.body, EventBody::ConversationAssigned { by, .. } if by == "aram"));
    assert!(by_aram, "{:?}", taken.events);
}
