//! The store contract's conformance suite on PostgreSQL: the same tests the
//! sled store passes (`switchboard_store::conformance`), each on a database
//! of its own in the server `SWITCHBOARD_TEST_POSTGRES` names, which
//! `scripts/postgres.sh start` starts (scripts/test.sh does).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use switchboard_store::Backend;
use switchboard_store::conformance::{Harness, LEASE, new_conversation};
use switchboard_store_postgres::PgStore;

/// A fresh database per test, on the test server; its nodes are separate
/// `PgStore`s (pools), as separate processes would be.
struct Postgres {
    url: String,
}

impl Postgres {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let server = server_url();
        let name = format!("conformance_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        create_database(&server, &name);
        let base = server.rsplit_once('/').map_or(server.as_str(), |(base, _)| base);
        Self { url: format!("{base}/{name}") }
    }
}

impl Harness for Postgres {
    fn open(&self) -> Arc<dyn Backend> {
        Arc::new(PgStore::connect(&self.url).expect("connects and migrates"))
    }

    fn another_node(&self, _store: &Arc<dyn Backend>) -> Arc<dyn Backend> {
        self.open()
    }

    fn separate_nodes(&self) -> bool {
        true
    }

    fn after_death(&self, store: Arc<dyn Backend>) -> Arc<dyn Backend> {
        drop(store);
        std::thread::sleep(LEASE + LEASE / 2);
        self.open()
    }
}

fn server_url() -> String {
    std::env::var("SWITCHBOARD_TEST_POSTGRES").unwrap_or_else(|_| {
        panic!(
            "SWITCHBOARD_TEST_POSTGRES is not set: start a throwaway server with \
             `eval \"$(scripts/postgres.sh start)\"` (scripts/test.sh does), then run the tests again"
        )
    })
}

/// `CREATE DATABASE` through a plain connection (it cannot run in a transaction).
fn create_database(server: &str, name: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let (client, connection) =
            tokio_postgres::connect(server, tokio_postgres::NoTls).await.expect("connects");
        tokio::spawn(connection);
        // The name is ours, made of a prefix and numbers: safe to splice.
        client.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("creates the database");
    });
}

switchboard_store::conformance_suite!(Postgres::new());

/// Row-level security, checked behind the store's back: a statement that
/// names no tenant sees none of the rows, one scoped to a tenant sees only
/// that tenant's, and a superuser is refused at connect.
#[test]
fn a_query_that_forgets_its_tenant_reads_nothing() {
    let harness = Postgres::new();
    let store = harness.open();
    harness.write_two_tenants(&*store);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let (client, connection) =
            tokio_postgres::connect(&harness.url, tokio_postgres::NoTls).await.expect("connects");
        tokio::spawn(connection);
        let count = |sql: &'static str| {
            let client = &client;
            async move { client.query_one(sql, &[]).await.expect("counts").get::<_, i64>(0) }
        };
        for table in ["conversations", "events", "inbound", "timers", "event_heads"] {
            let sql: &'static str = match table {
                "conversations" => "SELECT count(*) FROM conversations",
                "events" => "SELECT count(*) FROM events",
                "inbound" => "SELECT count(*) FROM inbound",
                "timers" => "SELECT count(*) FROM timers",
                _ => "SELECT count(*) FROM event_heads",
            };
            assert_eq!(count(sql).await, 0, "{table}: no tenant named, no rows");
        }
        client.batch_execute("SELECT set_config('switchboard.tenant', 'acme', false)").await.expect("scopes");
        assert_eq!(count("SELECT count(*) FROM conversations").await, 1, "acme's only");
        assert_eq!(count("SELECT count(*) FROM conversations WHERE tenant = 'globex'").await, 0);
        let smuggled = client
            .execute("INSERT INTO conversations (tenant, id, state) VALUES ('globex', 'x', '{}')", &[])
            .await;
        assert!(smuggled.is_err(), "acme's scope cannot write globex's rows");
    });

    let superuser = server_url().replacen("postgres://switchboard@", "postgres://postgres@", 1);
    let base = superuser.rsplit_once('/').map_or(superuser.as_str(), |(base, _)| base).to_owned();
    let refused = PgStore::connect(&format!("{base}/{}", harness.url.rsplit('/').next().unwrap_or_default()));
    let message = format!("{}", refused.expect_err("a superuser bypasses row-level security"));
    assert!(message.contains("superuser"), "{message}");
}

impl Postgres {
    fn write_two_tenants(&self, store: &dyn Backend) {
        use switchboard_core::contract::Channel;
        use switchboard_core::conversation::ScheduledTimer;
        use switchboard_core::event::{DomainEvent, EventBody};
        for tenant in ["acme", "globex"] {
            let stored = new_conversation(tenant, "c1");
            let events = [DomainEvent {
                at: 1,
                tenant: tenant.into(),
                conversation: "c1".into(),
                channel: Channel::Telegram,
                body: EventBody::MessageReceived { text: "hi".into() },
            }];
            let timers = [ScheduledTimer { key: "k".into(), kind: "nudge".into(), due_at: 5 }];
            let turn = switchboard_store::TurnRecord {
                stored: &stored,
                events: &events,
                dedupe: Some(("telegram", "m1")),
                outbox: &[b"reply".to_vec()],
                timers: &timers,
            };
            store.commit_turn(tenant, &turn).expect("commits");
        }
    }
}

/// Every table that holds a tenant's rows is under forced row-level
/// security with the tenant's policy, and moves with a retiring tenant
/// (its timers and delivery lanes, deleted instead, are the exceptions).
#[test]
fn every_table_with_a_tenant_is_under_its_tenants_policy() {
    let harness = Postgres::new();
    drop(harness.open()); // migrated
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&harness.url, tokio_postgres::NoTls).await.expect("connects");
        tokio::spawn(connection);
        let tables = client
            .query(
                "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, \
                   EXISTS (SELECT 1 FROM pg_policies p WHERE p.tablename = c.relname AND p.policyname = 'own_tenant'), \
                   EXISTS (SELECT 1 FROM pg_policies p WHERE p.tablename = c.relname AND p.policyname = 'retiring') \
                 FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant' \
                 WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace ORDER BY c.relname",
                &[],
            )
            .await
            .expect("reads the catalog");
        assert!(tables.len() >= 20, "{} tables", tables.len());
        for row in &tables {
            let (table, secured, forced, own, retiring): (String, bool, bool, bool, bool) =
                (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
            assert!(secured && forced, "{table}: row-level security must be enabled and forced");
            assert!(own, "{table}: no own_tenant policy");
            // Timers and lanes are deleted; the catalog's row is the removal.
            let deleted_on_retire = ["timers", "outbox_lanes", "tenant_catalog"].contains(&table.as_str());
            assert!(retiring || deleted_on_retire, "{table}: does not move with a retiring tenant");
        }
    });
}

/// A turn that fails halfway on the server (here: a conversation id with a
/// NUL, which a `text` key refuses, after its dedupe id was written) leaves
/// nothing: the transaction rolls back whole, dedupe id included, so the
/// provider's retry is handled rather than taken for a duplicate.
#[test]
fn a_turn_the_server_refuses_halfway_leaves_nothing() {
    let harness = Postgres::new();
    let store = harness.open();
    let stored = new_conversation("acme", "bad\u{0}id");
    let turn = switchboard_store::TurnRecord {
        stored: &stored,
        events: &[],
        dedupe: Some(("telegram", "m1")),
        outbox: &[b"reply".to_vec()],
        timers: &[],
    };
    assert!(store.commit_turn("acme", &turn).is_err(), "the server refuses the id");
    assert!(
        !store.seen("acme", "telegram", "m1").expect("reads"),
        "the dedupe id written before went with it"
    );
    assert!(store.outbox_after("acme", None, 10).expect("reads").is_empty());
    assert!(store.conversations("acme", None, 10).expect("reads").is_empty());
}

/// `switchboard store migrate`'s promise, from the embedded store: every
/// record of a sled store arrives in PostgreSQL as it was, and the new
/// store carries on from there.
#[test]
fn a_sled_store_moves_into_postgres_whole() {
    let source = switchboard_store::Store::temporary().expect("opens a sled store");
    let target = Postgres::new().open();
    switchboard_store::conformance::a_store_moves_whole(&source, &*target);
}

/// And from one PostgreSQL database to another.
#[test]
fn a_postgres_store_moves_into_another_whole() {
    let source = Postgres::new().open();
    let target = Postgres::new().open();
    switchboard_store::conformance::a_store_moves_whole(&*source, &*target);
}

/// A sled store is not a migration's target yet, and says where to go.
#[test]
fn a_sled_store_refuses_a_restore_and_names_postgres() {
    let sled = switchboard_store::Store::temporary().expect("opens a sled store");
    let refused = switchboard_store::Backend::restore_tenant(&sled, "acme", &[]).expect_err("refused");
    assert!(refused.to_string().contains("PostgreSQL"), "{refused}");
}
