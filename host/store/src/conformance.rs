//! The conformance suite: the store contract's promises (`contract.rs`),
//! written once and run against every backend.
//!
//! A backend's tests implement [`Harness`] and expand [`conformance_suite!`]:
//!
//! ```ignore
//! switchboard_store::conformance_suite!(MyHarness::new());
//! ```
//!
//! Each test opens a fresh store through the harness, so tests share nothing.

use std::collections::{BTreeMap, BTreeSet};

use std::sync::Arc;
use std::time::Duration;
use switchboard_core::kpi::Day;

use switchboard_core::contract::{Channel, Value};
use switchboard_core::conversation::ScheduledTimer;
use switchboard_core::event::{DomainEvent, EventBody};

use crate::test_support::{flow, stored_in};
use crate::{
    ApiKey, Backend, CatalogEntry, Committed, Cutoffs, DueTimer, NewVersion, Publish, Published,
    StoredConversation, TenantRevision, TurnRecord,
};

/// The lease claims take in these tests: long enough that no claim runs out
/// while a test holds it, short enough to wait out.
pub const LEASE: Duration = Duration::from_millis(300);

/// How a backend's tests give the suite its stores.
pub trait Harness {
    /// A fresh, empty store.
    fn open(&self) -> Arc<dyn Backend>;

    /// A second node on the same store: for sled, which one process holds,
    /// another handle of that process.
    fn another_node(&self, store: &Arc<dyn Backend>) -> Arc<dyn Backend>;

    /// The same store once its only node died (it is given the last handle)
    /// and came back, after every lease it held ran out.
    fn after_death(&self, store: Arc<dyn Backend>) -> Arc<dyn Backend>;

    /// Whether [`Harness::another_node`] is a node of its own (another
    /// process would be), rather than another handle in this one.
    fn separate_nodes(&self) -> bool;
}

/// Expand to one `#[test]` per promise, each with a fresh `$harness`.
#[macro_export]
macro_rules! conformance_suite {
    ($harness:expr) => {
        $crate::conformance_suite!(@tests $harness;
            a_turn_is_atomic_and_read_back_whole,
            a_retried_message_is_a_duplicate_and_changes_nothing,
            a_turn_that_fails_leaves_nothing_behind,
            tenants_see_only_their_own,
            events_keep_their_order_within_a_turn_and_across_turns,
            a_page_never_splits_a_turn,
            the_cursor_misses_nothing_while_others_write,
            commit_turns_writes_each_and_skips_a_duplicate,
            a_due_timer_is_claimed_by_one_node_only,
            a_released_timer_is_due_again_and_a_settled_one_never,
            a_dead_nodes_claims_come_back,
            conversations_page_in_id_order,
            a_conversations_turn_is_held_across_nodes,
            the_outbox_pages_in_order_and_settles_parks_and_redrives,
            a_delivery_lane_is_held_by_one_node,
            identities_link_and_a_contact_point_has_one_owner,
            api_keys_are_the_tenants_own,
            blobs_flows_and_configs_read_back_as_written,
            numbers_are_never_given_twice_across_nodes,
            an_applied_turn_is_visible_at_once_and_durable_after_durable,
            the_inbox_lists_the_conversations_a_person_has,
            a_binding_records_each_version_once,
            withdrawn_components_are_remembered_per_tenant,
            step_calls_page_by_time,
            the_catalog_publishes_a_version_once,
            the_tenant_catalog_takes_one_of_two_concurrent_changes,
            a_dump_holds_every_kind_and_only_its_tenants,
            staff_sessions_and_login_links,
            a_kpi_fold_saves_whole_and_a_stale_one_saves_nothing,
            plugin_state_stays_within_its_tenants_quota_across_nodes,
            the_live_cursor_sees_only_what_commits_after_it,
            a_parked_timer_falls_due_later,
            a_sweep_removes_what_retention_lets_go_and_keeps_the_rest,
            a_retired_tenant_leaves_nothing_under_its_name,
            text_a_customer_types_is_kept_whatever_it_holds,
            a_node_holding_many_turns_still_reads_and_writes,
        );
    };
    (@tests $harness:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::conformance::$name(&$harness);
            }
        )*
    };
}

fn event(tenant: &str, conversation: &str, at: i64, text: &str) -> DomainEvent {
    DomainEvent {
        at,
        tenant: tenant.to_owned(),
        conversation: conversation.to_owned(),
        channel: Channel::Telegram,
        body: EventBody::MessageReceived { text: text.to_owned() },
    }
}

fn texts(events: &[DomainEvent]) -> Vec<String> {
    events
        .iter()
        .map(|event| match &event.body {
            EventBody::MessageReceived { text } => text.clone(),
            other => format!("{other:?}"),
        })
        .collect()
}

/// A new conversation of `tenant` (a Telegram one, on a flow of one
/// intent), for a backend's own tests beside the suite.
pub fn new_conversation(tenant: &str, id: &str) -> StoredConversation {
    stored_in(tenant, id, &flow())
}

/// A conversation whose state says `note` (in a field), to tell writes apart.
fn conversation(tenant: &str, id: &str, note: &str) -> StoredConversation {
    let mut stored = new_conversation(tenant, id);
    stored.conversation.fields.insert("note".to_owned(), Value::Text(note.to_owned()));
    stored.plugin_pins = BTreeMap::from([("pricing".to_owned(), format!("hash-{note}"))]);
    stored
}

fn note(stored: &StoredConversation) -> String {
    match stored.conversation.fields.get("note") {
        Some(Value::Text(note)) => note.clone(),
        other => format!("{other:?}"),
    }
}

fn timer(key: &str, due_at: i64) -> ScheduledTimer {
    ScheduledTimer { key: key.to_owned(), kind: "nudge".to_owned(), due_at }
}

/// Commit a turn of `id` in `tenant` with `events` (texts), and nothing else.
/// Like the engine, it writes back the conversation it read (which carries
/// what the backend keeps in it), with its note changed.
fn say(store: &dyn Backend, tenant: &str, id: &str, texts: &[&str]) -> Committed {
    let last = texts.last().copied().unwrap_or_default();
    let stored = match store.conversation(tenant, id).expect("reads") {
        Some(mut stored) => {
            stored.conversation.fields.insert("note".to_owned(), Value::Text(last.to_owned()));
            stored
        }
        None => conversation(tenant, id, last),
    };
    let events: Vec<DomainEvent> = texts.iter().map(|text| event(tenant, id, 1, text)).collect();
    let turn = TurnRecord { stored: &stored, events: &events, dedupe: None, outbox: &[], timers: &[] };
    store.commit_turn(tenant, &turn).expect("the turn commits")
}

pub fn a_turn_is_atomic_and_read_back_whole(harness: &dyn Harness) {
    let store = harness.open();
    let stored = conversation("acme", "c1", "first");
    let events = [event("acme", "c1", 10, "hello"), event("acme", "c1", 11, "price?")];
    let turn = TurnRecord {
        stored: &stored,
        events: &events,
        dedupe: Some(("telegram", "m1")),
        outbox: &[b"reply one".to_vec(), b"reply two".to_vec()],
        timers: &[timer("nudge-4h", 1_000)],
    };
    assert_eq!(store.commit_turn("acme", &turn).expect("commits"), Committed::Written);

    let read = store.conversation("acme", "c1").expect("reads").expect("the conversation is there");
    assert_eq!(read.conversation, stored.conversation);
    assert_eq!(read.plugin_pins, stored.plugin_pins);
    assert_eq!(texts(&store.conversation_events("acme", "c1").expect("reads")), ["hello", "price?"]);
    assert!(store.seen("acme", "telegram", "m1").expect("reads"));
    let log = store.tenant_events("acme", None, 100).expect("reads");
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].0, log[1].0, "a turn's events share one sequence number");
    let due = store.claim_timers(1_000, 10, LEASE).expect("claims");
    assert_eq!(due.len(), 1);
    assert_eq!(
        (due[0].tenant.as_str(), due[0].conversation.as_str(), due[0].key.as_str()),
        ("acme", "c1", "nudge-4h")
    );
    assert!(store.claim_timers(999, 10, LEASE).expect("claims").is_empty(), "handed out once");
}

pub fn a_retried_message_is_a_duplicate_and_changes_nothing(harness: &dyn Harness) {
    let store = harness.open();
    let node_b = harness.another_node(&store);
    let first = conversation("acme", "c1", "first");
    let events = [event("acme", "c1", 10, "hello")];
    let turn = TurnRecord {
        stored: &first,
        events: &events,
        dedupe: Some(("whatsapp", "wamid.1")),
        outbox: &[],
        timers: &[],
    };
    assert_eq!(store.commit_turn("acme", &turn).expect("commits"), Committed::Written);

    // The provider retries; the retry lands on the other node.
    let second = conversation("acme", "c1", "second");
    let retried = [event("acme", "c1", 20, "hello again")];
    let retry = TurnRecord {
        stored: &second,
        events: &retried,
        dedupe: Some(("whatsapp", "wamid.1")),
        outbox: &[b"a second reply".to_vec()],
        timers: &[timer("t", 5)],
    };
    assert_eq!(node_b.commit_turn("acme", &retry).expect("commits"), Committed::Duplicate);
    assert_eq!(note(&store.conversation("acme", "c1").expect("reads").expect("there")), "first");
    assert_eq!(texts(&store.conversation_events("acme", "c1").expect("reads")), ["hello"]);
    assert!(store.claim_timers(5, 10, LEASE).expect("claims").is_empty(), "the duplicate set no timer");
    // The same id on another channel is another message.
    let other = TurnRecord { dedupe: Some(("telegram", "wamid.1")), ..retry };
    assert_eq!(node_b.commit_turn("acme", &other).expect("commits"), Committed::Written);
}

pub fn a_turn_that_fails_leaves_nothing_behind(harness: &dyn Harness) {
    // A turn whose events belong to another tenant is refused whole: none
    // of its writes (state, dedupe id, timers) may be left.
    let store = harness.open();
    let stored = conversation("acme", "c1", "first");
    let events = [event("acme", "c1", 1, "mine"), event("globex", "c9", 1, "not mine")];
    let turn = TurnRecord {
        stored: &stored,
        events: &events,
        dedupe: Some(("telegram", "m1")),
        outbox: &[b"reply".to_vec()],
        timers: &[timer("t", 5)],
    };
    let refused = store.commit_turn("acme", &turn);
    assert!(refused.is_err(), "an event of another tenant in a turn is refused: {refused:?}");
    assert!(store.conversation("acme", "c1").expect("reads").is_none());
    assert!(!store.seen("acme", "telegram", "m1").expect("reads"));
    assert!(store.tenant_events("acme", None, 10).expect("reads").is_empty());
    assert!(store.tenant_events("globex", None, 10).expect("reads").is_empty());
    assert!(store.claim_timers(5, 10, LEASE).expect("claims").is_empty());
}

pub fn tenants_see_only_their_own(harness: &dyn Harness) {
    let store = harness.open();
    say(&*store, "acme", "c1", &["acme's secret"]);
    let stored = conversation("globex", "c1", "globex's");
    let events = [event("globex", "c1", 1, "globex's own")];
    let turn = TurnRecord {
        stored: &stored,
        events: &events,
        dedupe: Some(("telegram", "m1")),
        outbox: &[],
        timers: &[],
    };
    store.commit_turn("globex", &turn).expect("commits");
    let foreign = [event("globex", "c1", 2, "slipped in")];
    let smuggled = TurnRecord { stored: &stored, events: &foreign, dedupe: None, outbox: &[], timers: &[] };
    assert!(store.commit_turn("acme", &smuggled).is_err(), "acme's write cannot carry globex's event");

    assert_eq!(note(&store.conversation("acme", "c1").expect("reads").expect("there")), "acme's secret");
    assert_eq!(note(&store.conversation("globex", "c1").expect("reads").expect("there")), "globex's");
    assert_eq!(texts(&store.conversation_events("globex", "c1").expect("reads")), ["globex's own"]);
    let acme_log: Vec<DomainEvent> =
        store.tenant_events("acme", None, 100).expect("reads").into_iter().map(|(_, event)| event).collect();
    assert_eq!(texts(&acme_log), ["acme's secret"]);
    assert!(!store.seen("acme", "telegram", "m1").expect("reads"), "a dedupe id is the tenant's");
    assert!(store.conversation("initech", "c1").expect("reads").is_none());
    assert!(store.conversations("initech", None, 10).expect("reads").is_empty());
    let ids: Vec<String> = store
        .conversations("globex", None, 10)
        .expect("reads")
        .into_iter()
        .map(|stored| stored.conversation.tenant)
        .collect();
    assert_eq!(ids, ["globex"]);
}

pub fn events_keep_their_order_within_a_turn_and_across_turns(harness: &dyn Harness) {
    let store = harness.open();
    say(&*store, "acme", "c1", &["1", "2", "3"]);
    say(&*store, "acme", "c2", &["a"]);
    say(&*store, "acme", "c1", &["4"]);
    say(&*store, "acme", "c2", &["b", "c"]);
    assert_eq!(texts(&store.conversation_events("acme", "c1").expect("reads")), ["1", "2", "3", "4"]);
    assert_eq!(texts(&store.conversation_events("acme", "c2").expect("reads")), ["a", "b", "c"]);
    let log = store.tenant_events("acme", None, 100).expect("reads");
    let all: Vec<DomainEvent> = log.iter().map(|(_, event)| event.clone()).collect();
    assert_eq!(texts(&all), ["1", "2", "3", "a", "4", "b", "c"]);
    let seqs: Vec<u64> = log.iter().map(|(seq, _)| *seq).collect();
    assert!(seqs.windows(2).all(|pair| pair[0] <= pair[1]), "sequence numbers never go back: {seqs:?}");
    let distinct: BTreeSet<u64> = seqs.iter().copied().collect();
    assert_eq!(distinct.len(), 4, "one number per turn: {seqs:?}");
}

pub fn a_page_never_splits_a_turn(harness: &dyn Harness) {
    let store = harness.open();
    say(&*store, "acme", "c1", &["1", "2", "3"]);
    say(&*store, "acme", "c1", &["4", "5"]);
    let first = store.tenant_events("acme", None, 2).expect("reads");
    assert_eq!(first.len(), 3, "the whole first turn, though the limit is 2");
    let rest = store.tenant_events("acme", Some(first[2].0), 2).expect("reads");
    let rest: Vec<DomainEvent> = rest.into_iter().map(|(_, event)| event).collect();
    assert_eq!(texts(&rest), ["4", "5"]);
}

pub fn the_cursor_misses_nothing_while_others_write(harness: &dyn Harness) {
    const WRITERS: usize = 4;
    const TURNS: usize = 40;
    let store = harness.open();
    let nodes: Vec<Arc<dyn Backend>> = (0..WRITERS).map(|_| harness.another_node(&store)).collect();
    let reader = harness.another_node(&store);
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut seen: Vec<(u64, String)> = Vec::new();
    std::thread::scope(|scope| {
        for (writer, node) in nodes.iter().enumerate() {
            let done = done.clone();
            scope.spawn(move || {
                for turn in 0..TURNS {
                    say(&**node, "acme", &format!("c{writer}"), &[&format!("{writer}:{turn}")]);
                }
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
        let mut cursor = None;
        loop {
            let finished = done.load(std::sync::atomic::Ordering::SeqCst) == WRITERS;
            let page = reader.tenant_events("acme", cursor, 7).expect("reads");
            if let Some((last, _)) = page.last() {
                cursor = Some(*last);
            }
            let empty = page.is_empty();
            seen.extend(page.into_iter().map(|(seq, event)| (seq, texts(&[event]).remove(0))));
            if finished && empty {
                break;
            }
        }
    });
    let texts_seen: Vec<&String> = seen.iter().map(|(_, text)| text).collect();
    let distinct: BTreeSet<&String> = texts_seen.iter().copied().collect();
    assert_eq!(distinct.len(), texts_seen.len(), "no event read twice");
    assert_eq!(distinct.len(), WRITERS * TURNS, "every event read");
    assert!(seen.windows(2).all(|pair| pair[0].0 <= pair[1].0), "read in sequence order");
    for writer in 0..WRITERS {
        let own: Vec<usize> = seen
            .iter()
            .filter_map(|(_, text)| text.strip_prefix(&format!("{writer}:")))
            .map(|turn| turn.parse().expect("a number"))
            .collect();
        assert_eq!(own, (0..TURNS).collect::<Vec<_>>(), "a writer's turns in the order it committed them");
    }
}

pub fn commit_turns_writes_each_and_skips_a_duplicate(harness: &dyn Harness) {
    let store = harness.open();
    say(&*store, "acme", "c0", &["before"]);
    let one = conversation("acme", "c1", "one");
    let two = conversation("globex", "c2", "two");
    let dup = conversation("acme", "c3", "dup");
    let (e1, e2, e3) =
        ([event("acme", "c1", 1, "x")], [event("globex", "c2", 1, "y")], [event("acme", "c3", 1, "z")]);
    store
        .commit_turn(
            "acme",
            &TurnRecord {
                stored: &dup,
                events: &e3,
                dedupe: Some(("telegram", "seen")),
                outbox: &[],
                timers: &[],
            },
        )
        .expect("commits");
    let changed = conversation("acme", "c3", "changed");
    let turns = [
        (
            "acme",
            TurnRecord { stored: &one, events: &e1, dedupe: None, outbox: &[], timers: &[timer("k", 7)] },
        ),
        ("globex", TurnRecord { stored: &two, events: &e2, dedupe: None, outbox: &[], timers: &[] }),
        (
            "acme",
            TurnRecord {
                stored: &changed,
                events: &e3,
                dedupe: Some(("telegram", "seen")),
                outbox: &[],
                timers: &[],
            },
        ),
    ];
    store.commit_turns(&turns).expect("commits");
    assert_eq!(note(&store.conversation("acme", "c1").expect("reads").expect("there")), "one");
    assert_eq!(note(&store.conversation("globex", "c2").expect("reads").expect("there")), "two");
    assert_eq!(
        note(&store.conversation("acme", "c3").expect("reads").expect("there")),
        "dup",
        "the duplicate wrote nothing"
    );
    assert_eq!(texts(&store.conversation_events("acme", "c3").expect("reads")), ["z"]);
    assert_eq!(store.claim_timers(7, 10, LEASE).expect("claims").len(), 1);
}

fn set_timers(store: &dyn Backend, count: usize) {
    for index in 0..count {
        let tenant = if index % 2 == 0 { "acme" } else { "globex" };
        let stored = conversation(tenant, &format!("c{index}"), "t");
        let timers = [timer("nudge", 1_000 + index as i64)];
        let turn = TurnRecord { stored: &stored, events: &[], dedupe: None, outbox: &[], timers: &timers };
        store.commit_turn(tenant, &turn).expect("commits");
    }
}

fn names(timers: &[DueTimer]) -> BTreeSet<(String, String, String, i64)> {
    timers
        .iter()
        .map(|timer| (timer.tenant.clone(), timer.conversation.clone(), timer.key.clone(), timer.due_at))
        .collect()
}

pub fn a_due_timer_is_claimed_by_one_node_only(harness: &dyn Harness) {
    const TIMERS: usize = 120;
    let store = harness.open();
    set_timers(&*store, TIMERS);
    let nodes: Vec<Arc<dyn Backend>> = (0..3).map(|_| harness.another_node(&store)).collect();
    let claims: Vec<Vec<DueTimer>> = std::thread::scope(|scope| {
        let handles: Vec<_> = nodes
            .iter()
            .map(|node| {
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    loop {
                        let page = node.claim_timers(1_000_000, 7, Duration::from_secs(30)).expect("claims");
                        if page.is_empty() {
                            return mine;
                        }
                        mine.extend(page);
                    }
                })
            })
            .collect();
        handles.into_iter().map(|handle| handle.join().expect("a claimer")).collect()
    });
    let total: usize = claims.iter().map(Vec::len).sum();
    let union: BTreeSet<_> = claims.iter().flat_map(|claim| names(claim)).collect();
    assert_eq!(union.len(), TIMERS, "every due timer claimed");
    assert_eq!(total, TIMERS, "none claimed twice");
    for claim in &claims {
        let dues: Vec<i64> = claim.iter().map(|timer| timer.due_at).collect();
        assert!(dues.windows(2).all(|pair| pair[0] <= pair[1]), "each claim oldest first");
    }
}

pub fn a_released_timer_is_due_again_and_a_settled_one_never(harness: &dyn Harness) {
    let store = harness.open();
    set_timers(&*store, 4); // due at 1000, 1001, 1002, 1003
    let due = store.claim_timers(1_001, 10, LEASE).expect("claims");
    assert_eq!(due_times(&due), [1_000, 1_001], "only the timers due by then");
    store.settle_timers(&due[..1], 1_001).expect("settles");
    store.release_timers(due[1..].to_vec()).expect("releases");
    let again = store.claim_timers(1_010, 10, LEASE).expect("claims");
    assert_eq!(
        due_times(&again),
        [1_001, 1_002, 1_003],
        "the released one is due again, the settled one never"
    );
    assert_eq!(names(&again[..1]), names(&due[1..]));
}

fn due_times(timers: &[DueTimer]) -> Vec<i64> {
    timers.iter().map(|timer| timer.due_at).collect()
}

pub fn a_dead_nodes_claims_come_back(harness: &dyn Harness) {
    let store = harness.open();
    set_timers(&*store, 3); // due at 1000, 1001, 1002
    let claimed = store.claim_timers(2_000, 2, LEASE).expect("claims");
    assert_eq!(due_times(&claimed), [1_000, 1_001]);
    store.settle_timers(&claimed[..1], 2_000).expect("settles");
    // The node dies holding the second claim.
    let store = harness.after_death(store);
    let back = store.claim_timers(2_000, 10, LEASE).expect("claims");
    // A settled entry may come back after a restart (sled deletes a
    // minute's entries once all of them are settled): firing is made
    // exactly-once by the turn that fires it, which takes the timer out of
    // its conversation, and the engine skips an entry its conversation no
    // longer holds. What must come back is every unsettled one.
    let back_times = due_times(&back);
    assert!(
        back_times.ends_with(&[1_001, 1_002]) && back_times.len() <= 3,
        "the dead node's claim and the unclaimed timer come back: {back_times:?}"
    );
    assert!(names(&back).is_superset(&names(&claimed[1..])));
}

pub fn conversations_page_in_id_order(harness: &dyn Harness) {
    let store = harness.open();
    for id in ["c3", "c1", "c2", "c4"] {
        say(&*store, "acme", id, &[id]);
    }
    let page = |after: Option<&str>| -> Vec<String> {
        store
            .conversations("acme", after, 2)
            .expect("reads")
            .into_iter()
            .map(|stored| stored.conversation.id)
            .collect()
    };
    assert_eq!(page(None), ["c1", "c2"]);
    assert_eq!(page(Some("c2")), ["c3", "c4"]);
    assert!(page(Some("c4")).is_empty());
}

pub fn a_conversations_turn_is_held_across_nodes(harness: &dyn Harness) {
    let store = harness.open();
    let node_b = harness.another_node(&store);
    let held = store.lock_turn("acme", "c1").expect("locks");
    // Another conversation, or the same id in another tenant, is not held up.
    drop(node_b.lock_turn("acme", "c2").expect("locks"));
    drop(node_b.lock_turn("globex", "c1").expect("locks"));
    if !harness.separate_nodes() {
        // One process holds the store, and the engine's own lock serialises
        // its turns: there is no other node to wait for.
        return;
    }
    let (taken, wait) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let lock = node_b.lock_turn("acme", "c1").expect("locks");
        taken.send(()).expect("the test waits");
        drop(lock);
    });
    assert!(
        wait.recv_timeout(Duration::from_millis(300)).is_err(),
        "the other node waits while this one holds it"
    );
    drop(held);
    wait.recv_timeout(Duration::from_secs(10)).expect("the other node takes it once this one lets go");
    waiter.join().expect("the waiter");
}

/// Commit a turn of `id` whose outbox entries are `replies`.
fn reply(store: &dyn Backend, tenant: &str, id: &str, replies: &[&str]) {
    let stored =
        store.conversation(tenant, id).expect("reads").unwrap_or_else(|| conversation(tenant, id, "r"));
    let outbox: Vec<Vec<u8>> = replies.iter().map(|reply| reply.as_bytes().to_vec()).collect();
    let turn = TurnRecord { stored: &stored, events: &[], dedupe: None, outbox: &outbox, timers: &[] };
    store.commit_turn(tenant, &turn).expect("commits");
}

fn entries(page: &[(u64, Vec<u8>)]) -> Vec<String> {
    page.iter().map(|(_, entry)| String::from_utf8_lossy(entry).into_owned()).collect()
}

pub fn the_outbox_pages_in_order_and_settles_parks_and_redrives(harness: &dyn Harness) {
    let store = harness.open();
    reply(&*store, "acme", "c1", &["a1", "a2"]);
    reply(&*store, "acme", "c2", &["b1"]);
    reply(&*store, "globex", "c1", &["g1"]);
    reply(&*store, "acme", "c1", &["a3"]);
    let page = store.outbox_after("acme", None, 10).expect("reads");
    assert_eq!(entries(&page), ["a1", "a2", "b1", "a3"]);
    assert!(page.windows(2).all(|pair| pair[0].0 < pair[1].0), "numbered in order");
    assert_eq!(entries(&store.outbox_after("acme", Some(page[1].0), 10).expect("reads")), ["b1", "a3"]);
    assert_eq!(entries(&store.outbox_after("acme", None, 2).expect("reads")), ["a1", "a2"]);
    assert_eq!(entries(&store.outbox_after("globex", None, 10).expect("reads")), ["g1"]);
    let seq = |name: &str| page[entries(&page).iter().position(|entry| entry == name).expect("listed")].0;

    let delivered = [event("acme", "c1", 50, "delivered a1")];
    store.settle_outbox("acme", seq("a1"), None, &delivered).expect("settles");
    store.settle_outbox("acme", seq("a2"), Some(b"a2 again"), &[]).expect("settles");
    assert_eq!(entries(&store.outbox_after("acme", None, 10).expect("reads")), ["a2 again", "b1", "a3"]);
    assert_eq!(
        store.outbox_after("acme", None, 1).expect("reads")[0].0,
        seq("a2"),
        "a retry keeps its place"
    );
    assert!(
        texts(&store.conversation_events("acme", "c1").expect("reads")).contains(&"delivered a1".to_owned())
    );

    store
        .park_outbox("acme", seq("b1"), b"b1 parked", &[event("acme", "c2", 60, "parked b1")])
        .expect("parks");
    assert_eq!(entries(&store.outbox_after("acme", None, 10).expect("reads")), ["a2 again", "a3"]);
    assert_eq!(entries(&store.parked_outbox("acme", None, 10).expect("reads")), ["b1 parked"]);
    assert!(store.parked_outbox("globex", None, 10).expect("reads").is_empty());
    // Settling or parking what is gone brings nothing back.
    store.settle_outbox("acme", seq("a1"), Some(b"zombie"), &[]).expect("settles");
    store.park_outbox("acme", seq("a1"), b"zombie", &[]).expect("parks");
    assert!(!entries(&store.outbox_after("acme", None, 10).expect("reads")).contains(&"zombie".to_owned()));
    assert_eq!(entries(&store.parked_outbox("acme", None, 10).expect("reads")), ["b1 parked"]);

    let moved = store.redrive_parked("acme", &|entry| [entry, b" (again)"].concat()).expect("redrives");
    assert_eq!(moved, 1);
    let after = store.outbox_after("acme", None, 10).expect("reads");
    assert_eq!(entries(&after), ["a2 again", "b1 parked (again)", "a3"], "back at its old place");
    assert_eq!(after[1].0, seq("b1"));
    assert!(store.parked_outbox("acme", None, 10).expect("reads").is_empty());
    assert_eq!(
        entries(&store.outbox_after("globex", None, 10).expect("reads")),
        ["g1"],
        "globex's untouched"
    );
}

pub fn a_delivery_lane_is_held_by_one_node(harness: &dyn Harness) {
    let store = harness.open();
    let node_b = harness.another_node(&store);
    let long = Duration::from_secs(30);
    assert!(store.claim_lane("acme", "c1", long).expect("claims"));
    assert!(store.claim_lane("acme", "c1", long).expect("claims"), "the holder renews its own lane");
    // The engine names a conversation's handoff-card lane `{conversation}\0handoff`.
    assert!(store.claim_lane("acme", "c1\u{0}handoff", long).expect("claims a lane with a NUL in its name"));
    store.release_lane("acme", "c1\u{0}handoff").expect("releases it");
    if !harness.separate_nodes() {
        return;
    }
    assert!(!node_b.claim_lane("acme", "c1", long).expect("claims"), "held by the first node");
    assert!(node_b.claim_lane("acme", "c2", long).expect("claims"), "another conversation's lane is free");
    assert!(node_b.claim_lane("globex", "c1", long).expect("claims"), "so is another tenant's");
    store.release_lane("acme", "c1").expect("releases");
    assert!(node_b.claim_lane("acme", "c1", long).expect("claims"), "free once released");
    assert!(node_b.claim_lane("acme", "c3", LEASE).expect("claims"));
    assert!(!store.claim_lane("acme", "c3", long).expect("claims"));
    std::thread::sleep(LEASE + LEASE / 2);
    assert!(store.claim_lane("acme", "c3", long).expect("claims"), "free once its lease ran out");
}

pub fn identities_link_and_a_contact_point_has_one_owner(harness: &dyn Harness) {
    let store = harness.open();
    let node_b = harness.another_node(&store);
    say(&*store, "acme", "telegram:1", &["hi"]);
    assert!(store.linked_conversation("acme", "whatsapp:374").expect("reads").is_none());
    let linked = [event("acme", "telegram:1", 5, "linked whatsapp:374")];
    store.link_identity("acme", "whatsapp:374", "telegram:1", &linked).expect("links");
    assert_eq!(
        node_b.linked_conversation("acme", "whatsapp:374").expect("reads").as_deref(),
        Some("telegram:1")
    );
    assert!(node_b.linked_conversation("globex", "whatsapp:374").expect("reads").is_none());
    assert!(
        texts(&store.conversation_events("acme", "telegram:1").expect("reads"))
            .contains(&"linked whatsapp:374".to_owned())
    );
    // Relinking moves it.
    store.link_identity("acme", "whatsapp:374", "telegram:2", &[]).expect("links");
    assert_eq!(
        store.linked_conversation("acme", "whatsapp:374").expect("reads").as_deref(),
        Some("telegram:2")
    );

    let owners: Vec<String> = std::thread::scope(|scope| {
        let claims: Vec<_> = [&store, &node_b]
            .into_iter()
            .enumerate()
            .map(|(n, node)| {
                scope.spawn(move || {
                    node.claim_contact_point("acme", "phone", "+37491000001", &format!("c{n}"))
                })
            })
            .collect();
        claims.into_iter().map(|claim| claim.join().expect("a claimer").expect("claims")).collect()
    });
    assert_eq!(owners[0], owners[1], "one owner, whoever came first: {owners:?}");
    assert_eq!(store.claim_contact_point("acme", "phone", "+37491000001", "c9").expect("claims"), owners[0]);
    assert_eq!(
        store.claim_contact_point("globex", "phone", "+37491000001", "g1").expect("claims"),
        "g1",
        "per tenant"
    );
    assert_eq!(
        store.claim_contact_point("acme", "email", "+37491000001", "c9").expect("claims"),
        "c9",
        "per kind"
    );
}

pub fn api_keys_are_the_tenants_own(harness: &dyn Harness) {
    let store = harness.open();
    let key = |id: &str, revoked_at| ApiKey {
        id: id.to_owned(),
        label: format!("{id} label"),
        secret_sha256: format!("{id:0>64}"),
        created_at: 1,
        revoked_at,
    };
    store.put_api_key("acme", &key("k2", None)).expect("puts");
    store.put_api_key("acme", &key("k1", None)).expect("puts");
    store.put_api_key("globex", &key("g1", None)).expect("puts");
    store.put_api_key("acme", &key("k1", Some(9))).expect("revokes");
    assert_eq!(store.api_key("acme", "k1").expect("reads"), Some(key("k1", Some(9))));
    assert!(store.api_key("globex", "k1").expect("reads").is_none());
    assert!(store.api_key("acme", "g1").expect("reads").is_none());
    let ids: Vec<String> = store.api_keys("acme").expect("lists").into_iter().map(|key| key.id).collect();
    assert_eq!(ids, ["k1", "k2"], "by id");
}

pub fn blobs_flows_and_configs_read_back_as_written(harness: &dyn Harness) {
    let store = harness.open();
    let node_b = harness.another_node(&store);
    let big: Vec<u8> = (0..600_000_u32).map(|n| (n % 251) as u8).collect();
    let hash = store.put_blob(&big).expect("puts");
    assert_eq!(hash.len(), 64, "a SHA-256 in hex");
    assert_eq!(store.put_blob(&big).expect("puts again"), hash, "the same bytes, the same name");
    assert_eq!(node_b.blob(&hash).expect("reads").as_deref(), Some(big.as_slice()));
    assert!(store.blob(&"0".repeat(64)).expect("reads").is_none());
    assert!(store.blob("../../etc/passwd").expect("a name that is not a hash is no blob").is_none());

    store.put_flow("acme", "v1", "version = \"v1\"").expect("puts");
    store.put_flow("acme", "v2", "version = \"v2\"").expect("puts");
    assert_eq!(node_b.flow("acme", "v1").expect("reads").as_deref(), Some("version = \"v1\""));
    assert!(store.flow("globex", "v1").expect("reads").is_none());
    let config = store.put_plugin_config("acme", "{\"rate\": 3}").expect("puts");
    assert_eq!(store.put_plugin_config("acme", "{\"rate\": 3}").expect("puts"), config);
    assert_eq!(node_b.plugin_config("acme", &config).expect("reads").as_deref(), Some("{\"rate\": 3}"));
    assert!(store.plugin_config("globex", &config).expect("reads").is_none(), "a config is its tenant's");
}

pub fn numbers_are_never_given_twice_across_nodes(harness: &dyn Harness) {
    let store = harness.open();
    let nodes: Vec<Arc<dyn Backend>> = (0..3).map(|_| harness.another_node(&store)).collect();
    let mut numbers: Vec<u64> = std::thread::scope(|scope| {
        let takers: Vec<_> = nodes
            .iter()
            .map(|node| {
                scope.spawn(move || {
                    (0..20).map(|_| node.next_number("acme", "rma").expect("takes")).collect::<Vec<_>>()
                })
            })
            .collect();
        takers.into_iter().flat_map(|taker| taker.join().expect("a taker")).collect()
    });
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=60).collect::<Vec<u64>>());
    assert_eq!(store.next_number("acme", "booking").expect("takes"), 1, "each sequence its own");
    assert_eq!(store.next_number("globex", "rma").expect("takes"), 1, "each tenant its own");
}

pub fn an_applied_turn_is_visible_at_once_and_durable_after_durable(harness: &dyn Harness) {
    let store = harness.open();
    let stored = conversation("acme", "c1", "applied");
    let events = [event("acme", "c1", 1, "hi")];
    let turn = TurnRecord {
        stored: &stored,
        events: &events,
        dedupe: Some(("telegram", "m1")),
        outbox: &[],
        timers: &[],
    };
    assert_eq!(store.apply_turn("acme", &turn).expect("applies"), Committed::Written);
    assert_eq!(store.apply_turn("acme", &turn).expect("applies"), Committed::Duplicate);
    assert_eq!(note(&store.conversation("acme", "c1").expect("reads").expect("visible at once")), "applied");
    store.durable().expect("syncs");
    let store = harness.after_death(store);
    let read = store.conversation("acme", "c1").expect("reads").expect("durable");
    assert_eq!(texts(&store.transcript("acme", &read).expect("reads")), ["hi"]);
    assert!(store.seen("acme", "telegram", "m1").expect("reads"));
}

pub fn the_inbox_lists_the_conversations_a_person_has(harness: &dyn Harness) {
    use switchboard_core::conversation::Status;
    let store = harness.open();
    let handed = |tenant: &str, id: &str, at: i64, status: Status| {
        let mut stored =
            store.conversation(tenant, id).expect("reads").unwrap_or_else(|| conversation(tenant, id, id));
        stored.conversation.status = status;
        stored.conversation.updated_at = at;
        let turn = TurnRecord { stored: &stored, events: &[], dedupe: None, outbox: &[], timers: &[] };
        store.commit_turn(tenant, &turn).expect("commits");
    };
    let human = |queue: &str, assignee: Option<&str>| Status::Human {
        queue: queue.to_owned(),
        assignee: assignee.map(str::to_owned),
    };
    handed("acme", "c1", 10, human("sales", None));
    handed("acme", "c2", 20, human("support", Some("ann")));
    handed("acme", "c3", 30, Status::Bot);
    handed("globex", "g1", 40, human("sales", None));
    let inbox = store.inbox("acme").expect("reads");
    let lines: Vec<(String, String, Option<String>)> =
        inbox.iter().map(|entry| (entry.id.clone(), entry.queue.clone(), entry.assignee.clone())).collect();
    assert_eq!(
        lines,
        [
            ("c2".to_owned(), "support".to_owned(), Some("ann".to_owned())),
            ("c1".to_owned(), "sales".to_owned(), None)
        ],
        "a person's conversations, the latest handed off first; not the bot's, not globex's"
    );
    handed("acme", "c1", 50, human("sales", Some("bob")));
    assert_eq!(
        store.inbox("acme").expect("reads").iter().find(|e| e.id == "c1").and_then(|e| e.assignee.clone()),
        Some("bob".to_owned())
    );
    handed("acme", "c2", 60, Status::Bot);
    let ids: Vec<String> = store.inbox("acme").expect("reads").into_iter().map(|entry| entry.id).collect();
    assert_eq!(ids, ["c1"], "handed back: gone from the inbox");
}

fn version(component: &str, config: &str, canary: Option<u8>) -> NewVersion {
    NewVersion {
        component: component.to_owned(),
        config: config.to_owned(),
        manifest: Some("pricing 1.0.0".to_owned()),
        canary,
        by: Some("key-1".to_owned()),
        note: None,
        at: 7,
    }
}

pub fn a_binding_records_each_version_once(harness: &dyn Harness) {
    let store = harness.open();
    let node_b = harness.another_node(&store);
    let (first, new) =
        store.record_plugin_version("acme", "pricing", version("a", "x", None)).expect("records");
    assert!(new);
    assert_eq!((first.seq, first.component.as_str()), (1, "a"));
    let (again, new) =
        node_b.record_plugin_version("acme", "pricing", version("a", "x", None)).expect("records");
    assert!(!new, "the same pair again is no new version");
    assert_eq!(again, first);
    let (canary, new) =
        store.record_plugin_version("acme", "pricing", version("b", "x", Some(10))).expect("records");
    assert!(new);
    assert_eq!((canary.seq, canary.canary), (2, Some(10)));
    let (_, new) = store.record_plugin_version("acme", "pricing", version("a", "x", None)).expect("records");
    assert!(!new, "the newest of its kind (not a canary) is that already");
    let racing: Vec<bool> = std::thread::scope(|scope| {
        let takers: Vec<_> = [&store, &node_b]
            .into_iter()
            .map(|node| {
                scope.spawn(move || {
                    node.record_plugin_version("acme", "pricing", version("c", "y", None)).expect("records").1
                })
            })
            .collect();
        takers.into_iter().map(|taker| taker.join().expect("a recorder")).collect()
    });
    assert_eq!(
        racing.iter().filter(|new| **new).count(),
        1,
        "two nodes at once record one version: {racing:?}"
    );
    let history: Vec<(u64, String)> = store
        .plugin_versions("acme", "pricing")
        .expect("lists")
        .into_iter()
        .map(|v| (v.seq, v.component))
        .collect();
    assert_eq!(history, [(1, "a".to_owned()), (2, "b".to_owned()), (3, "c".to_owned())]);
    assert!(store.plugin_versions("globex", "pricing").expect("lists").is_empty());
    assert!(store.plugin_versions("acme", "scoring").expect("lists").is_empty());
}

pub fn withdrawn_components_are_remembered_per_tenant(harness: &dyn Harness) {
    let store = harness.open();
    store.withdraw_component("acme", "pricing", "b").expect("withdraws");
    store.withdraw_component("acme", "scoring", "s").expect("withdraws");
    store.withdraw_component("acme", "pricing", "b").expect("withdraws again");
    store.withdraw_component("globex", "pricing", "g").expect("withdraws");
    let mut withdrawn = store.withdrawn_components("acme").expect("lists");
    withdrawn.sort();
    assert_eq!(withdrawn, [("pricing".to_owned(), "b".to_owned()), ("scoring".to_owned(), "s".to_owned())]);
    store.unwithdraw_component("acme", "pricing", "b").expect("serves again");
    assert_eq!(store.withdrawn_components("acme").expect("lists"), [("scoring".to_owned(), "s".to_owned())]);
    assert_eq!(
        store.withdrawn_components("globex").expect("lists"),
        [("pricing".to_owned(), "g".to_owned())]
    );
}

pub fn step_calls_page_by_time(harness: &dyn Harness) {
    let store = harness.open();
    store.record_step_calls("acme", &[(30, b"third".to_vec()), (10, b"first".to_vec())]).expect("records");
    store.record_step_calls("acme", &[(20, b"second".to_vec()), (30, b"fourth".to_vec())]).expect("records");
    store.record_step_calls("globex", &[(15, b"globex".to_vec())]).expect("records");
    store.durable().expect("syncs");
    let read = |from, limit| -> Vec<(i64, u64, String)> {
        store
            .step_calls("acme", from, limit)
            .expect("reads")
            .into_iter()
            .map(|(at, seq, record)| (at, seq, String::from_utf8_lossy(&record).into_owned()))
            .collect()
    };
    let first = read((0, 0), 2);
    assert_eq!(
        first.iter().map(|(at, _, record)| (*at, record.as_str())).collect::<Vec<_>>(),
        [(10, "first"), (20, "second")]
    );
    let (at, seq, _) = first[1];
    let rest = read((at, seq + 1), 10);
    let mut rest: Vec<(i64, String)> = rest.into_iter().map(|(at, _, record)| (at, record)).collect();
    rest.sort();
    assert_eq!(rest, [(30, "fourth".to_owned()), (30, "third".to_owned())]);
    assert_eq!(read((25, 0), 10).len(), 2, "from a time on");
    assert_eq!(store.step_calls("globex", (0, 0), 10).expect("reads").len(), 1);
}

pub fn the_catalog_publishes_a_version_once(harness: &dyn Harness) {
    let store = harness.open();
    let entry = |name: &str, version: &str, component: &str| CatalogEntry {
        name: name.to_owned(),
        version: version.to_owned(),
        component: component.to_owned(),
        language: "rust".to_owned(),
        description: None,
        at: 1,
    };
    assert_eq!(
        store.publish_to_catalog(entry("pricing", "1.0.0", "a")).expect("publishes"),
        Published::New(entry("pricing", "1.0.0", "a"))
    );
    assert_eq!(
        store.publish_to_catalog(entry("pricing", "1.0.0", "a")).expect("publishes"),
        Published::Again(entry("pricing", "1.0.0", "a"))
    );
    assert_eq!(
        store.publish_to_catalog(entry("pricing", "1.0.0", "b")).expect("publishes"),
        Published::Taken(entry("pricing", "1.0.0", "a"))
    );
    store.publish_to_catalog(entry("pricing", "1.1.0", "c")).expect("publishes");
    store.publish_to_catalog(entry("deposit", "0.1.0", "d")).expect("publishes");
    let listed: Vec<(String, String)> =
        store.catalog().expect("lists").into_iter().map(|e| (e.name, e.version)).collect();
    assert_eq!(
        listed,
        [
            ("deposit".to_owned(), "0.1.0".to_owned()),
            ("pricing".to_owned(), "1.0.0".to_owned()),
            ("pricing".to_owned(), "1.1.0".to_owned())
        ]
    );
    assert_eq!(
        store.catalog_entry("pricing", "1.1.0").expect("reads").map(|e| e.component),
        Some("c".to_owned())
    );
    assert!(store.catalog_entry("pricing", "9.9.9").expect("reads").is_none());
}

/// A tenant's directory published on one node is read on another; of two
/// nodes changing it from the same revision one wins; a removal stays
/// listed, and the name can be published again after it.
pub fn the_tenant_catalog_takes_one_of_two_concurrent_changes(harness: &dyn Harness) {
    let one = harness.open();
    let two = harness.another_node(&one);
    assert_eq!(one.publish_tenant("acme", 0, Some(b"first")).expect("publishes"), Publish::Done(1));
    assert_eq!(two.tenant_bundle("acme").expect("reads"), Some((1, b"first".to_vec())));
    assert_eq!(one.publish_tenant("acme", 0, Some(b"again")).expect("publishes"), Publish::Moved(1));

    let racers: Vec<_> = [one.clone(), two.clone()]
        .into_iter()
        .enumerate()
        .map(|(node, store)| {
            std::thread::spawn(move || {
                store.publish_tenant("acme", 1, Some(format!("node {node}").as_bytes()))
            })
        })
        .collect();
    let outcomes: Vec<Publish> =
        racers.into_iter().map(|racer| racer.join().expect("joins").expect("publishes")).collect();
    assert_eq!(outcomes.iter().filter(|outcome| **outcome == Publish::Done(2)).count(), 1, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|outcome| **outcome == Publish::Moved(2)).count(), 1, "{outcomes:?}");

    two.publish_tenant("beta", 0, Some(b"beta")).expect("publishes");
    assert_eq!(one.publish_tenant("acme", 2, None).expect("removes"), Publish::Done(3));
    assert_eq!(two.tenant_bundle("acme").expect("reads"), None);
    let listed = two.tenant_revisions().expect("lists");
    assert_eq!(
        listed,
        [
            TenantRevision { tenant: "acme".into(), revision: 3, removed: true },
            TenantRevision { tenant: "beta".into(), revision: 1, removed: false },
        ]
    );
    assert_eq!(two.publish_tenant("acme", 3, Some(b"new")).expect("publishes"), Publish::Done(4));
    assert_eq!(one.tenant_bundle("acme").expect("reads"), Some((4, b"new".to_vec())));
}

pub fn staff_sessions_and_login_links(harness: &dyn Harness) {
    let store = harness.open();
    let node_b = harness.another_node(&store);
    store.put_staff_member("acme", "bob", b"bob v1").expect("puts");
    store.put_staff_member("acme", "ann", b"ann").expect("puts");
    store.put_staff_member("acme", "bob", b"bob v2").expect("replaces");
    store.put_staff_member("globex", "bob", b"globex bob").expect("puts");
    assert_eq!(store.staff_member("acme", "bob").expect("reads").as_deref(), Some(&b"bob v2"[..]));
    let staff: Vec<String> = store.staff("acme").expect("lists").into_iter().map(|(id, _)| id).collect();
    assert_eq!(staff, ["ann", "bob"]);

    let token = |n: u8| [n; 32];
    store.put_session(&token(1), b"acme/bob/session").expect("puts");
    store.put_session(&token(2), b"acme/ann/session").expect("puts");
    store.put_login_link(&token(3), b"acme/bob/link").expect("puts");
    assert_eq!(node_b.session(&token(1)).expect("reads").as_deref(), Some(&b"acme/bob/session"[..]));
    let removed = store
        .remove_staff_member("acme", "bob", &|record| record.starts_with(b"acme/bob/"))
        .expect("removes");
    assert!(removed);
    assert!(!store.remove_staff_member("acme", "nobody", &|_| false).expect("removes"), "nobody was there");
    assert!(store.staff_member("acme", "bob").expect("reads").is_none());
    assert!(store.staff_member("globex", "bob").expect("reads").is_some(), "another tenant's bob stays");
    assert!(store.session(&token(1)).expect("reads").is_none(), "bob's session went with him");
    assert!(store.take_login_link(&token(3)).expect("takes").is_none(), "and his link");
    assert!(store.session(&token(2)).expect("reads").is_some());

    store.put_login_link(&token(4), b"acme/ann/link").expect("puts");
    let taken: Vec<bool> = std::thread::scope(|scope| {
        let takers: Vec<_> = [&store, &node_b]
            .into_iter()
            .map(|node| scope.spawn(move || node.take_login_link(&token(4)).expect("takes").is_some()))
            .collect();
        takers.into_iter().map(|taker| taker.join().expect("a taker")).collect()
    });
    assert_eq!(taken.iter().filter(|got| **got).count(), 1, "a link signs in once: {taken:?}");
    store.remove_session(&token(2)).expect("removes");
    assert!(store.session(&token(2)).expect("reads").is_none());
    store.put_session(&token(5), b"old").expect("puts");
    store.put_session(&token(6), b"new").expect("puts");
    assert_eq!(store.sweep_sessions(&|record| record == b"old").expect("sweeps"), 1);
    assert!(store.session(&token(6)).expect("reads").is_some());
}

pub fn a_kpi_fold_saves_whole_and_a_stale_one_saves_nothing(harness: &dyn Harness) {
    use switchboard_core::kpi::{Cell, Marks, Measure, Stat, Tally};
    let store = harness.open();
    let node_b = harness.another_node(&store);
    let tally = |n: i64| {
        let cell = Cell {
            measure: Measure::Rounds,
            channel: Channel::Telegram,
            intent: "ask".to_owned(),
            label: String::new(),
        };
        Tally { cells: BTreeMap::from([(cell, Stat { n, sum: n as f64, hist: None })]) }
    };
    let days = BTreeMap::from([(20_000, tally(2)), (20_001, tally(1))]);
    let marks = BTreeMap::from([("c1".to_owned(), Marks::default())]);
    assert_eq!(store.kpi_checkpoint("acme").expect("reads"), None);
    assert!(store.save_kpis("acme", None, 7, &marks, &days).expect("saves"));
    assert_eq!(node_b.kpi_checkpoint("acme").expect("reads"), Some(7));
    assert!(node_b.kpi_marks("acme", "c1").expect("reads").is_some());
    assert!(node_b.kpi_marks("acme", "c2").expect("reads").is_none());
    let read: Vec<Day> =
        node_b.kpi_days("acme", 19_000, 20_000).expect("reads").into_iter().map(|(day, _)| day).collect();
    assert_eq!(read, [20_000]);
    assert_eq!(
        node_b.kpi_days("acme", 20_000, 20_001).expect("reads"),
        days.clone().into_iter().collect::<Vec<_>>()
    );
    // A second node folded the same events from the old checkpoint: refused.
    let stale = BTreeMap::from([(20_000, tally(9))]);
    assert!(!node_b.save_kpis("acme", None, 7, &marks, &stale).expect("saves"), "the checkpoint moved");
    assert_eq!(
        store.kpi_days("acme", 20_000, 20_000).expect("reads")[0].1,
        days[&20_000],
        "nothing counted twice"
    );
    assert!(store.kpi_days("globex", 0, 30_000).expect("reads").is_empty());
    assert!(node_b.save_kpis("acme", Some(7), 9, &BTreeMap::new(), &stale).expect("saves"));

    let removed = store.clear_kpis("acme", 20_001).expect("clears");
    assert!(removed >= 2, "day 20001 and the marks: {removed}");
    assert_eq!(store.kpi_checkpoint("acme").expect("reads"), None);
    let kept: Vec<Day> =
        store.kpi_days("acme", 0, 30_000).expect("reads").into_iter().map(|(day, _)| day).collect();
    assert_eq!(kept, [20_000], "days before the rebuild's start stay");
    assert!(store.kpi_marks("acme", "c1").expect("reads").is_none());
    assert_eq!(store.finish_kpi_rebuild("acme").expect("finishes"), None, "nothing left to finish");
}

pub fn plugin_state_stays_within_its_tenants_quota_across_nodes(harness: &dyn Harness) {
    use switchboard_core::kv::{KvQuota, KvQuotaExceeded, KvScope};
    let store = harness.open();
    let node_b = harness.another_node(&store);
    let (kv, kv_b) = (store.plugin_kv(), node_b.plugin_kv());
    let scope = |tenant: &str, plugin: &str| KvScope { tenant: tenant.to_owned(), plugin: plugin.to_owned() };
    let roomy = KvQuota { keys: 100, bytes: 1 << 20 };
    kv.set(&scope("acme", "pricing"), "rate", b"3", &roomy).expect("sets");
    assert_eq!(kv_b.get(&scope("acme", "pricing"), "rate").expect("gets").as_deref(), Some(&b"3"[..]));
    assert!(kv.get(&scope("acme", "scoring"), "rate").expect("gets").is_none(), "another plugin's key");
    assert!(kv.get(&scope("globex", "pricing"), "rate").expect("gets").is_none(), "another tenant's key");
    kv.set(&scope("acme", "pricing"), "rate", b"4", &roomy).expect("replaces");
    assert_eq!(kv.get(&scope("acme", "pricing"), "rate").expect("gets").as_deref(), Some(&b"4"[..]));
    kv.delete(&scope("acme", "pricing"), "rate").expect("deletes");
    assert!(kv.get(&scope("acme", "pricing"), "rate").expect("gets").is_none());
    // A plugin chooses its keys: any string, a NUL included.
    kv.set(&scope("acme", "pricing"), "odd\u{0}key", b"v", &roomy).expect("sets");
    assert_eq!(kv_b.get(&scope("acme", "pricing"), "odd\u{0}key").expect("gets").as_deref(), Some(&b"v"[..]));
    assert!(kv.get(&scope("acme", "pricing"), "odd\\0key").expect("gets").is_none(), "no other key is it");
    kv.delete(&scope("acme", "pricing"), "odd\u{0}key").expect("deletes");

    // Ten keys at most, written from two nodes at once: exactly ten land.
    let tight = KvQuota { keys: 10, bytes: 1 << 20 };
    let landed: usize = std::thread::scope(|scope_| {
        let writers: Vec<_> = [&kv, &kv_b]
            .into_iter()
            .enumerate()
            .map(|(node, kv)| {
                scope_.spawn(move || {
                    (0..10)
                        .filter(|n| {
                            match kv.set(&scope("acme", "pricing"), &format!("k{node}-{n}"), b"v", &tight) {
                                Ok(()) => true,
                                Err(error) => {
                                    assert!(error.downcast_ref::<KvQuotaExceeded>().is_some(), "{error:#}");
                                    false
                                }
                            }
                        })
                        .count()
                })
            })
            .collect();
        writers.into_iter().map(|writer| writer.join().expect("a writer")).sum()
    });
    assert_eq!(landed, 10, "the quota holds across nodes");
    kv.set(&scope("globex", "pricing"), "own", b"v", &tight).expect("globex has its own quota");
    let bytes = KvQuota { keys: 100, bytes: 8 };
    let refused = kv.set(&scope("initech", "p"), "key", b"too long", &bytes).expect_err("over the bytes");
    assert_eq!(refused.downcast_ref::<KvQuotaExceeded>().map(|exceeded| exceeded.what), Some("bytes"));
}

pub fn the_live_cursor_sees_only_what_commits_after_it(harness: &dyn Harness) {
    let store = harness.open();
    say(&*store, "acme", "c1", &["before"]);
    say(&*store, "globex", "g1", &["globex"]);
    let cursor = store.event_cursor_now("acme").expect("reads");
    say(&*store, "acme", "c1", &["after"]);
    let seen: Vec<DomainEvent> = store
        .tenant_events("acme", Some(cursor), 10)
        .expect("reads")
        .into_iter()
        .map(|(_, event)| event)
        .collect();
    assert_eq!(texts(&seen), ["after"]);
}

pub fn a_parked_timer_falls_due_later(harness: &dyn Harness) {
    let store = harness.open();
    set_timers(&*store, 2); // due at 1000 and 1001
    assert!(store.pending_timer_count().expect("counts") >= 2);
    assert!(store.next_due().expect("reads").is_some_and(|due| due <= 1_000));
    let due = store.claim_timers(1_001, 10, LEASE).expect("claims");
    assert_eq!(due.len(), 2);
    store.park_timers(&[(&due[0], Some(5_000)), (&due[1], None)]).expect("parks");
    store.settle_timers(&due, 1_001).expect("settles");
    assert!(store.claim_timers(4_999, 10, LEASE).expect("claims").is_empty(), "not before its new time");
    let later = store.claim_timers(5_000, 10, LEASE).expect("claims");
    assert_eq!(due_times(&later), [5_000]);
    assert_eq!(
        (later[0].tenant.as_str(), later[0].conversation.as_str()),
        (due[0].tenant.as_str(), due[0].conversation.as_str())
    );
}

pub fn a_sweep_removes_what_retention_lets_go_and_keeps_the_rest(harness: &dyn Harness) {
    let store = harness.open();
    let at = |tenant: &str,
              id: &str,
              updated_at: i64,
              text: &str,
              timers: &[ScheduledTimer],
              dedupe: Option<(&str, &str)>| {
        let mut stored =
            store.conversation(tenant, id).expect("reads").unwrap_or_else(|| conversation(tenant, id, id));
        stored.conversation.updated_at = updated_at;
        stored.conversation.timers = timers
            .iter()
            .map(|timer| {
                let pending = switchboard_core::conversation::PendingTimer {
                    kind: timer.kind.clone(),
                    due_at: timer.due_at,
                    cancel_on_reply: false,
                    payload: String::new(),
                    context: None,
                };
                (timer.key.clone(), pending)
            })
            .collect();
        let events = [event(tenant, id, updated_at, text)];
        let turn = TurnRecord { stored: &stored, events: &events, dedupe, outbox: &[], timers };
        store.commit_turn(tenant, &turn).expect("commits");
    };
    at("acme", "old", 100, "old news", &[], Some(("telegram", "m-old")));
    at("acme", "busy", 100, "old but waiting", &[timer("t", 9_000_000)], None);
    at("acme", "held", 100, "old but in a turn", &[], None);
    at("acme", "new", 5_000, "fresh", &[], Some(("telegram", "m-new")));
    at("globex", "old", 100, "globex's old", &[], Some(("telegram", "m-old")));
    store.link_identity("acme", "whatsapp:1", "old", &[]).expect("links");
    store.link_identity("acme", "whatsapp:2", "new", &[]).expect("links");
    store
        .record_step_calls("acme", &[(100, b"old call".to_vec()), (5_000, b"new call".to_vec())])
        .expect("records");
    store.durable().expect("syncs");

    let exports =
        std::env::temp_dir().join(format!("switchboard-conformance-{}-{}", std::process::id(), now_nanos()));
    let cutoffs = Cutoffs {
        events_before: 1_000,
        dedupe_before: 1_000,
        conversations_before: Some(1_000),
        step_calls_before: 1_000,
        export_to: Some(exports.clone()),
        now: 6_000,
    };
    let swept = store
        .sweep("acme", &cutoffs, &mut |conversation| (conversation != "held").then(crate::TurnLock::local))
        .expect("sweeps");
    assert_eq!(swept.conversations, 1, "only the idle one that no turn holds: {swept:?}");
    assert!(swept.events >= 3, "the old events of old, busy and held: {swept:?}");
    assert_eq!(swept.dedupe_ids, 1);
    assert_eq!(swept.step_calls, 1);
    assert_eq!(swept.links, 1);
    assert!(
        !swept.exported.is_empty() && swept.exported.iter().all(|path| path.exists()),
        "exported first: {swept:?}"
    );
    let exported = std::fs::read_to_string(&swept.exported[0]).expect("reads the export");
    assert!(exported.contains("old news"));

    assert!(store.conversation("acme", "old").expect("reads").is_none());
    for kept in ["busy", "held", "new"] {
        assert!(store.conversation("acme", kept).expect("reads").is_some(), "{kept} stays");
    }
    assert_eq!(texts(&store.conversation_events("acme", "new").expect("reads")), ["fresh"]);
    assert!(store.conversation_events("acme", "busy").expect("reads").is_empty(), "its old events went");
    assert!(!store.seen("acme", "telegram", "m-old").expect("reads"));
    assert!(store.seen("acme", "telegram", "m-new").expect("reads"));
    assert!(store.linked_conversation("acme", "whatsapp:1").expect("reads").is_none());
    assert_eq!(store.linked_conversation("acme", "whatsapp:2").expect("reads").as_deref(), Some("new"));
    assert_eq!(store.step_calls("acme", (0, 0), 10).expect("reads").len(), 1);
    assert!(store.conversation("globex", "old").expect("reads").is_some(), "another tenant's is not swept");
    assert!(store.seen("globex", "telegram", "m-old").expect("reads"));
    let _ = std::fs::remove_dir_all(exports);
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_nanos())
}

pub fn a_retired_tenant_leaves_nothing_under_its_name(harness: &dyn Harness) {
    use switchboard_core::kv::{KvQuota, KvScope};
    let store = harness.open();
    for tenant in ["acme", "globex"] {
        reply(&*store, tenant, "c1", &["a reply"]);
        say(&*store, tenant, "c1", &["hello"]);
        store
            .put_api_key(
                tenant,
                &ApiKey {
                    id: "k".into(),
                    label: "k".into(),
                    secret_sha256: "0".repeat(64),
                    created_at: 1,
                    revoked_at: None,
                },
            )
            .expect("puts");
        store.put_staff_member(tenant, "bob", b"bob").expect("puts");
        store.put_flow(tenant, "v1", "version = 1").expect("puts");
        store.link_identity(tenant, "whatsapp:1", "c1", &[]).expect("links");
        let scope = KvScope { tenant: tenant.to_owned(), plugin: "p".to_owned() };
        store.plugin_kv().set(&scope, "k", b"v", &KvQuota::default()).expect("sets");
    }
    let moved = store.retire_tenant("acme", 42).expect("retires");
    assert!(moved >= 7, "{moved}");
    assert!(store.conversation("acme", "c1").expect("reads").is_none());
    assert!(store.conversations("acme", None, 10).expect("reads").is_empty());
    assert!(store.tenant_events("acme", None, 10).expect("reads").is_empty());
    assert!(store.outbox_after("acme", None, 10).expect("reads").is_empty());
    assert!(store.api_keys("acme").expect("reads").is_empty());
    assert!(store.staff("acme").expect("reads").is_empty());
    assert!(store.flow("acme", "v1").expect("reads").is_none());
    assert!(store.linked_conversation("acme", "whatsapp:1").expect("reads").is_none());
    let scope = KvScope { tenant: "acme".to_owned(), plugin: "p".to_owned() };
    assert!(store.plugin_kv().get(&scope, "k").expect("gets").is_none());
    // A new tenant of the name starts empty, and its numbers start afresh.
    say(&*store, "acme", "c1", &["a new acme"]);
    assert_eq!(texts(&store.conversation_events("acme", "c1").expect("reads")), ["a new acme"]);
    assert!(store.conversation("globex", "c1").expect("reads").is_some(), "globex untouched");
    assert_eq!(store.api_keys("globex").expect("reads").len(), 1);
}

/// A NUL, a right-to-left mark, Armenian and an emoji, in a customer's
/// message and in the state it leads to: kept as sent, never a failed turn
/// (PostgreSQL's jsonb would refuse the NUL; the store keeps JSON as bytes).
pub fn text_a_customer_types_is_kept_whatever_it_holds(harness: &dyn Harness) {
    let store = harness.open();
    let text = "nul\u{0}here \u{200f}Բարև 🙂";
    let mut stored = conversation("acme", "c1", text);
    stored.conversation.contact.display_name = Some(text.to_owned());
    let events = [event("acme", "c1", 1, text)];
    let turn = TurnRecord {
        stored: &stored,
        events: &events,
        dedupe: Some(("telegram", text)),
        outbox: &[],
        timers: &[],
    };
    store.commit_turns(&[("acme", turn)]).expect("commits");
    let read = store.conversation("acme", "c1").expect("reads").expect("there");
    assert_eq!(note(&read), text);
    assert_eq!(read.conversation.contact.display_name.as_deref(), Some(text));
    assert_eq!(texts(&store.conversation_events("acme", "c1").expect("reads")), [text]);
    assert!(store.seen("acme", "telegram", text).expect("reads"));
}

/// The scheduler fires a page of conversations, each under its turn lock:
/// holding many at once must leave the node room to read and commit.
pub fn a_node_holding_many_turns_still_reads_and_writes(harness: &dyn Harness) {
    let store = harness.open();
    let started = std::time::Instant::now();
    let held: Vec<crate::TurnLock> =
        (0..64).map(|n| store.lock_turn("acme", &format!("c{n}")).expect("locks")).collect();
    say(&*store, "acme", "c1", &["still served"]);
    assert_eq!(texts(&store.conversation_events("acme", "c1").expect("reads")), ["still served"]);
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    drop(held);
}

/// Write records of every kind a tenant holds, through the contract, as a
/// running deployment does: what a migration has to carry. Strings hold
/// what customers type (a NUL, a backslash, Armenian), and one turn's
/// events fill more than one restore batch.
pub fn fill_every_kind(store: &dyn Backend, tenant: &str) {
    use switchboard_core::conversation::{PendingTimer, Status};
    use switchboard_core::kpi::{Cell, Marks, Measure, Stat, Tally};
    use switchboard_core::kv::{KvQuota, KvScope};

    for id in ["telegram:1", "whatsapp:374"] {
        say(store, tenant, id, &["Բարև", "price?", "and a booking"]);
    }
    let mut stored = conversation(tenant, "telegram:1", "handed");
    stored.conversation.status = Status::Human { queue: "sales".to_owned(), assignee: None };
    stored.conversation.updated_at = 40;
    stored.conversation.timers.insert(
        "remind:24h".to_owned(),
        PendingTimer {
            kind: "remind".to_owned(),
            due_at: 90_000,
            cancel_on_reply: false,
            payload: String::new(),
            context: None,
        },
    );
    let events = [event(tenant, "telegram:1", 40, "handed to a person")];
    let outbox = [b"reply one".to_vec(), b"reply two".to_vec(), b"reply three".to_vec()];
    let turn = TurnRecord {
        stored: &stored,
        events: &events,
        dedupe: Some(("telegram", "update\u{0}7\\")),
        outbox: &outbox,
        timers: &[timer("remind:24h", 90_000)],
    };
    store.commit_turn(tenant, &turn).expect("the turn commits");
    let page = store.outbox_after(tenant, None, 10).expect("reads");
    store.park_outbox(tenant, page[0].0, b"reply one, parked", &[]).expect("parks");
    store
        .link_identity(tenant, "whatsapp:374", "telegram:1", &[event(tenant, "telegram:1", 41, "linked")])
        .expect("links");
    // A provider chooses its ids: one may hold what a text column cannot.
    store.link_identity(tenant, "telegram:odd\u{0}\\id", "telegram:1", &[]).expect("links");
    assert_eq!(
        store.linked_conversation(tenant, "telegram:odd\u{0}\\id").expect("reads").as_deref(),
        Some("telegram:1")
    );
    store.claim_contact_point(tenant, "phone", "+374\\0 10", "telegram:1").expect("claims");
    let key = ApiKey {
        id: "k1".to_owned(),
        label: "agency".to_owned(),
        secret_sha256: "ab".repeat(32),
        created_at: 5,
        revoked_at: None,
    };
    store.put_api_key(tenant, &key).expect("puts");
    store.put_flow(tenant, "v1", &format!("flow of {tenant}")).expect("puts");
    let config = store.put_plugin_config(tenant, "rate = 3").expect("puts");
    store.next_number(tenant, "invoice").expect("numbers");
    store.next_number(tenant, "invoice").expect("numbers");
    let component = store.put_blob(format!("component of {tenant}").as_bytes()).expect("puts");
    store.record_plugin_version(tenant, "pricing", version(&component, &config, None)).expect("records");
    store.record_plugin_version(tenant, "pricing", version("canary", &config, Some(10))).expect("records");
    store.withdraw_component(tenant, "pricing", "canary").expect("withdraws");
    store
        .record_step_calls(tenant, &[(100, b"call one".to_vec()), (101, b"call two".to_vec())])
        .expect("records");
    store.put_staff_member(tenant, "ann", b"{\"name\":\"Ann\"}").expect("puts");
    let roomy = KvQuota { keys: 100, bytes: 1 << 20 };
    let scope = KvScope { tenant: tenant.to_owned(), plugin: "pricing".to_owned() };
    store.plugin_kv().set(&scope, "rate\u{0}usd", b"3", &roomy).expect("sets");
    store.plugin_kv().set(&scope, "rate", b"4", &roomy).expect("sets");
    let cell = Cell {
        measure: Measure::Rounds,
        channel: Channel::Telegram,
        intent: "ask".to_owned(),
        label: String::new(),
    };
    let tally = Tally { cells: BTreeMap::from([(cell, Stat { n: 2, sum: 2.0, hist: None })]) };
    let marks = BTreeMap::from([("telegram:1".to_owned(), Marks::default())]);
    assert!(store.save_kpis(tenant, None, 3, &marks, &BTreeMap::from([(20_000, tally)])).expect("saves"));
    assert_eq!(store.publish_tenant(tenant, 0, Some(b"sealed bundle")).expect("publishes"), Publish::Done(1));
}

/// Every record of a store, each as JSON: by tenant, and the shared ones,
/// each list sorted, so two backends' dumps compare whatever their order.
pub fn everything(store: &dyn Backend) -> (BTreeMap<String, Vec<String>>, Vec<String>) {
    use crate::portable::{dump_shared, dump_tenant};
    let mut tenants = BTreeMap::new();
    for tenant in store.stored_tenants().expect("lists tenants") {
        let mut records = Vec::new();
        dump_tenant(store, &tenant, &mut |record| {
            records.push(serde_json::to_string(&record).expect("a record encodes"));
            Ok(())
        })
        .expect("dumps");
        records.sort();
        tenants.insert(tenant, records);
    }
    let mut shared = Vec::new();
    dump_shared(store, &mut |record| {
        shared.push(serde_json::to_string(&record).expect("a record encodes"));
        Ok(())
    })
    .expect("dumps");
    shared.sort();
    (tenants, shared)
}

pub fn a_dump_holds_every_kind_and_only_its_tenants(harness: &dyn Harness) {
    use crate::portable::{Inventory, dump_tenant};
    let store = harness.open();
    fill_every_kind(&*store, "acme");
    fill_every_kind(&*store, "globex");
    assert_eq!(store.stored_tenants().expect("lists"), ["acme", "globex"]);
    let mut inventory = Inventory::default();
    dump_tenant(&*store, "acme", &mut |record| {
        let encoded = serde_json::to_string(&record).expect("encodes");
        assert!(!encoded.contains("globex"), "acme's dump holds globex's {encoded}");
        inventory.record(&record)
    })
    .expect("dumps");
    let kinds: Vec<&str> = inventory.kinds().map(|(kind, _)| kind).collect();
    assert_eq!(
        kinds,
        [
            "api keys",
            "contact points",
            "conversations",
            "dedupe ids",
            "event log head",
            "events",
            "flow versions",
            "inbox lines",
            "kpi tallies",
            "linked identities",
            "numbers",
            "outbox",
            "parked outbox",
            "plugin configs",
            "plugin state",
            "plugin state usage",
            "plugin versions",
            "recorded steps",
            "staff",
            "withdrawn components",
        ]
    );
    let count = |kind: &str| inventory.count(kind).map_or(0, |count| count.records);
    assert_eq!(count("events"), 8, "three said twice, one handoff, one link");
    assert_eq!((count("outbox"), count("parked outbox")), (2, 1));
    assert_eq!(count("kpi tallies"), 3, "the checkpoint, a day and a conversation's marks");
    let (tenants, shared) = everything(&*store);
    assert_eq!(tenants["acme"].len() as u64, inventory.total());
    assert!(shared.iter().any(|record| record.contains("tenant_bundle")), "{shared:?}");
    assert_eq!(
        shared.iter().filter(|record| record.starts_with("{\"blob\"")).count(),
        4,
        "a flow and a component each"
    );
}

/// A migration's promise, for a target that takes one: every record of
/// `source` arrives in `target` as it was, and `target` carries on from
/// there (numbers, sequence numbers and quotas continue, timers fire).
pub fn a_store_moves_whole(source: &dyn Backend, target: &dyn Backend) {
    use crate::portable::{Inventory, dump_shared, dump_tenant};
    use switchboard_core::kv::{KvQuota, KvScope};
    fill_every_kind(source, "acme");
    fill_every_kind(source, "globex");
    let mut shared = Vec::new();
    dump_shared(source, &mut |record| {
        shared.push(record);
        Ok(())
    })
    .expect("dumps");
    target.restore_shared(&shared).expect("restores shared records");
    let mut moved = Inventory::default();
    for tenant in source.stored_tenants().expect("lists") {
        let mut batch = Vec::new();
        dump_tenant(source, &tenant, &mut |record| {
            moved.record(&record)?;
            batch.push(record);
            // Small batches, so one record's events span two.
            if batch.len() == 4 {
                target.restore_tenant(&tenant, &std::mem::take(&mut batch))?;
            }
            Ok(())
        })
        .expect("dumps and restores");
        target.restore_tenant(&tenant, &batch).expect("restores");
    }
    target.finish_restore().expect("finishes");
    assert_eq!(everything(target), everything(source), "every record arrives as it was");
    let mut arrived = Inventory::default();
    for tenant in target.stored_tenants().expect("lists") {
        dump_tenant(target, &tenant, &mut |record| arrived.record(&record)).expect("dumps");
    }
    assert_eq!(arrived, moved);
    for tenant in ["acme", "globex"] {
        assert_eq!(
            target.event_cursor_now(tenant).expect("reads"),
            source.event_cursor_now(tenant).expect("reads"),
            "{tenant}'s next event goes after every cursor a reader of the old store holds"
        );
    }

    let last_event = target.event_cursor_now("acme").expect("reads");
    assert!(last_event > 0);
    let next = say(target, "acme", "telegram:9", &["after the move"]);
    assert_eq!(next, Committed::Written);
    let page = target.tenant_events("acme", Some(last_event), 10).expect("reads");
    assert_eq!(texts(&page.iter().map(|(_, event)| event.clone()).collect::<Vec<_>>()), ["after the move"]);
    assert!(page[0].0 > last_event, "new events follow the old");
    assert_eq!(target.next_number("acme", "invoice").expect("numbers"), 3, "numbers go on");
    let old_outbox = target.outbox_after("acme", None, 10).expect("reads");
    reply(target, "acme", "telegram:9", &["new reply"]);
    let outbox = target.outbox_after("acme", None, 10).expect("reads");
    assert_eq!(outbox.len(), old_outbox.len() + 1);
    assert!(
        outbox.last().expect("one").0 > old_outbox.last().expect("one").0,
        "new replies go after the old"
    );
    let due = target.claim_timers(100_000, 10, LEASE).expect("claims");
    let acme_due: Vec<&str> =
        due.iter().filter(|timer| timer.tenant == "acme").map(|timer| timer.key.as_str()).collect();
    assert_eq!(acme_due, ["remind:24h"], "the timer fires from the new store");
    let tight = KvQuota { keys: 2, bytes: 1 << 20 };
    let scope = KvScope { tenant: "acme".to_owned(), plugin: "pricing".to_owned() };
    assert!(
        target.plugin_kv().set(&scope, "third", b"v", &tight).is_err(),
        "the quota counts the moved keys"
    );
    assert!(target.conversation("acme", "telegram:1").expect("reads").is_some());
    assert_eq!(target.inbox("acme").expect("reads").len(), 1);
}
