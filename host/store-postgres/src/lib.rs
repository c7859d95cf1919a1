//! Switchboard's store on PostgreSQL, so many nodes can share one database.
//! It keeps the store contract ([`switchboard_store::Backend`]) that the
//! embedded sled store keeps, and the same conformance suite holds it to it
//! (`tests/conformance.rs`).
//!
//! # Layout
//!
//! - [`PgStore`]: connecting, migrating, and running a query from the
//!   engine's blocking threads on the store's own runtime.
//! - `migrations/V*__*.sql`: the schema, versioned, run at start-up
//!   (refinery). Every table is keyed tenant first, under row-level security.
//! - `scope.rs`: the transaction scope row-level security checks, a
//!   tenant or all of them.
//! - `turns.rs`: conversations, atomic turns, dedupe, the event log.
//! - `outbox.rs`: replies to send, parked ones, and delivery lanes
//!   claimed across nodes with a lease.
//! - `timers.rs`: due timers, claimed across nodes with `FOR UPDATE SKIP
//!   LOCKED` and a lease.
//! - `contacts.rs`: linked identities and verified contact points.
//! - `api_keys.rs`: tenants' API keys, hashed.
//! - `blobs.rs`: shared blobs by SHA-256; flow versions and plugin configs.
//! - `versions.rs`: plugin versions, withdrawn components, recorded step
//!   calls, the operator's catalog.
//! - `people.rs`: staff, console sessions and login links.
//! - `tenant_catalog.rs`: each tenant's directory as one sealed bundle.
//! - `kpis.rs`: KPI tallies, marks and the fold's checkpoint.
//! - `plugin_state.rs`: plugins' `kv` state within each tenant's quota.
//! - `portable.rs`: the listings a migration reads and writing its records
//!   back as they are.
//! - `maintenance.rs`: the scheduler's view of the timer index, retention
//!   sweeps, retiring a removed tenant.
//! - `live.rs`: live web chat across nodes (LISTEN/NOTIFY).
//! - `locks.rs`: a conversation's turn lock across nodes (an advisory lock).
//!
//! **Architecture Invariant:** every statement is a `&'static str` run as a
//! prepared statement with its values as parameters; no SQL is built from
//! strings.

#![forbid(unsafe_code)]

mod api_keys;
mod blobs;
mod contacts;
mod kpis;
mod live;
mod locks;
mod maintenance;
mod outbox;
mod people;
mod plugin_state;
mod portable;
mod scope;
mod tenant_catalog;
mod timers;
mod turns;
mod versions;

use std::future::Future;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use switchboard_store::StoreError;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// How many connections a node keeps: one per turn in flight (its lock),
/// plus what its writes and the scheduler take.
const DEFAULT_POOL_SIZE: usize = 32;

/// The store on a PostgreSQL database. Cheap to clone; clones share a pool.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    runtime: std::sync::Arc<Runtime>,
    /// This node's name in the leases it holds (lanes): unique per store.
    node: String,
    /// Where it connects, for connections of its own (LISTEN, locks).
    url: std::sync::Arc<str>,
    /// The connection holding this node's turn locks.
    locks: std::sync::Arc<locks::LockConnection>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("pool", &self.pool.status()).finish_non_exhaustive()
    }
}

/// The runtime the connections run on, shut down without waiting when the
/// last handle drops (which may be on an async thread).
struct Runtime(Option<tokio::runtime::Runtime>);

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl PgStore {
    /// Connect to `url` (`postgres://user@host:port/db`), bring the schema
    /// up to date, and check that row-level security binds the role.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = url.parse().map_err(backend("parsing the PostgreSQL URL"))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("switchboard-pg")
            .enable_all()
            .build()
            .map_err(|error| StoreError::Backend {
                operation: "starting the PostgreSQL runtime",
                source: error.into(),
            })?;
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool = Pool::builder(manager)
            .max_size(DEFAULT_POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(10)))
            .build()
            .map_err(backend("building the connection pool"))?;
        let store = Self {
            pool,
            runtime: std::sync::Arc::new(Runtime(Some(runtime))),
            node: node_name(),
            url: url.into(),
            locks: std::sync::Arc::default(),
        };
        store.block(store.migrate())?;
        Ok(store)
    }

    /// Run the migrations not yet applied, one node at a time (an advisory
    /// lock), then refuse a role that row-level security would not bind.
    async fn migrate(&self) -> Result<(), StoreError> {
        /// Any number, the same on every node: the migrations' lock.
        const MIGRATION_LOCK: i64 = 0x5357_4254_4348; // "SWBTCH"
        let mut client = self.pool.get().await.map_err(backend("connecting to PostgreSQL"))?;
        client
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(backend("locking for migrations"))?;
        let client_ref: &mut tokio_postgres::Client = &mut client;
        let report = embedded::migrations::runner().run_async(client_ref).await;
        client
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(backend("unlocking after migrations"))?;
        let report = report.map_err(backend("migrating the schema"))?;
        for migration in report.applied_migrations() {
            tracing::info!(version = migration.version(), name = migration.name(), "applied a migration");
        }
        let row = client
            .query_one("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user", &[])
            .await
            .map_err(backend("reading the role"))?;
        if row.get::<_, bool>(0) {
            return Err(StoreError::Backend {
                operation: "checking the role",
                source: "the role connects as a superuser or with BYPASSRLS, so row-level security would not keep \
                         tenants apart; connect as a role without them (CREATE ROLE switchboard LOGIN; \
                         with the database owned by it)"
                    .into(),
            });
        }
        Ok(())
    }

    /// Run `future` to completion from a blocking thread (the engine's), with
    /// the store's runtime entered so the pool can open connections on it.
    fn block<F: Future>(&self, future: F) -> F::Output {
        let runtime = self.runtime.0.as_ref().expect("the runtime lives as long as the store");
        let _entered = runtime.enter();
        futures_executor::block_on(future)
    }

    /// Run `future` on the store's runtime, in the background.
    fn spawn(self, future: impl Future<Output = ()> + Send + 'static) {
        let runtime = self.runtime.0.as_ref().expect("the runtime lives as long as the store");
        runtime.spawn(future);
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(backend("taking a PostgreSQL connection"))
    }
}

/// A name no other node has: the process, and when this store started.
fn node_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    format!("{}-{nanos:x}", std::process::id())
}

/// Map a driver or pool error to the store's, naming what was being done.
fn backend<E>(operation: &'static str) -> impl FnOnce(E) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |error| StoreError::Backend { operation, source: Box::new(error) }
}

impl switchboard_store::Backend for PgStore {
    fn shared(&self) -> bool {
        true
    }

    fn lock_turn(&self, tenant: &str, conversation: &str) -> Result<switchboard_store::TurnLock, StoreError> {
        self.block(locks::lock_turn(self, tenant, conversation))
    }

    fn conversation(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Option<switchboard_store::StoredConversation>, StoreError> {
        self.block(turns::conversation(self, tenant, id))
    }

    fn conversations(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<switchboard_store::StoredConversation>, StoreError> {
        self.block(turns::conversations(self, tenant, after, limit))
    }

    fn seen(&self, tenant: &str, channel: &str, message_id: &str) -> Result<bool, StoreError> {
        self.block(turns::seen(self, tenant, channel, message_id))
    }

    fn commit_turn(
        &self,
        tenant: &str,
        turn: &switchboard_store::TurnRecord<'_>,
    ) -> Result<switchboard_store::Committed, StoreError> {
        self.block(turns::commit_turns(self, &[(tenant, turn)])).map(|committed| committed[0])
    }

    fn commit_turns(&self, turns: &[(&str, switchboard_store::TurnRecord<'_>)]) -> Result<(), StoreError> {
        let turns: Vec<(&str, &switchboard_store::TurnRecord<'_>)> =
            turns.iter().map(|(tenant, turn)| (*tenant, turn)).collect();
        self.block(turns::commit_turns(self, &turns)).map(drop)
    }

    fn conversation_events(
        &self,
        tenant: &str,
        conversation: &str,
    ) -> Result<Vec<switchboard_core::event::DomainEvent>, StoreError> {
        self.block(turns::conversation_events(self, tenant, conversation))
    }

    fn append_events(
        &self,
        tenant: &str,
        events: &[switchboard_core::event::DomainEvent],
        dedupe: Option<(&str, &str)>,
    ) -> Result<switchboard_store::Committed, StoreError> {
        self.block(turns::append_events(self, tenant, events, dedupe))
    }

    fn tenant_events(
        &self,
        tenant: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, switchboard_core::event::DomainEvent)>, StoreError> {
        self.block(turns::tenant_events(self, tenant, after, limit))
    }

    fn outbox_after(
        &self,
        tenant: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.block(outbox::page(self, false, tenant, after, limit))
    }

    fn settle_outbox(
        &self,
        tenant: &str,
        seq: u64,
        retry: Option<&[u8]>,
        events: &[switchboard_core::event::DomainEvent],
    ) -> Result<(), StoreError> {
        self.block(outbox::settle(self, tenant, seq, retry, events))
    }

    fn park_outbox(
        &self,
        tenant: &str,
        seq: u64,
        entry: &[u8],
        events: &[switchboard_core::event::DomainEvent],
    ) -> Result<(), StoreError> {
        self.block(outbox::park(self, tenant, seq, entry, events))
    }

    fn parked_outbox(
        &self,
        tenant: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.block(outbox::page(self, true, tenant, after, limit))
    }

    fn redrive_parked(&self, tenant: &str, reset: &dyn Fn(&[u8]) -> Vec<u8>) -> Result<usize, StoreError> {
        self.block(outbox::redrive(self, tenant, reset))
    }

    fn claim_lane(&self, tenant: &str, lane: &str, lease: Duration) -> Result<bool, StoreError> {
        self.block(outbox::claim_lane(self, tenant, lane, lease))
    }

    fn release_lane(&self, tenant: &str, lane: &str) -> Result<(), StoreError> {
        self.block(outbox::release_lane(self, tenant, lane))
    }

    fn linked_conversation(&self, tenant: &str, identity: &str) -> Result<Option<String>, StoreError> {
        self.block(contacts::linked(self, tenant, identity))
    }

    fn link_identity(
        &self,
        tenant: &str,
        identity: &str,
        conversation: &str,
        events: &[switchboard_core::event::DomainEvent],
    ) -> Result<(), StoreError> {
        self.block(contacts::link(self, tenant, identity, conversation, events))
    }

    fn claim_contact_point(
        &self,
        tenant: &str,
        kind: &str,
        value: &str,
        conversation: &str,
    ) -> Result<String, StoreError> {
        self.block(contacts::claim(self, tenant, kind, value, conversation))
    }

    fn put_api_key(&self, tenant: &str, key: &switchboard_store::ApiKey) -> Result<(), StoreError> {
        self.block(api_keys::put(self, tenant, key))
    }

    fn api_key(&self, tenant: &str, id: &str) -> Result<Option<switchboard_store::ApiKey>, StoreError> {
        self.block(api_keys::get(self, tenant, id))
    }

    fn api_keys(&self, tenant: &str) -> Result<Vec<switchboard_store::ApiKey>, StoreError> {
        self.block(api_keys::list(self, tenant))
    }

    fn put_blob(&self, bytes: &[u8]) -> Result<String, StoreError> {
        self.block(blobs::put_blob(self, bytes))
    }

    fn blob(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        if hash.len() != 64
            || !hash.bytes().all(|byte| byte.is_ascii_hexdigit() && !byte.is_ascii_uppercase())
        {
            return Ok(None);
        }
        self.block(blobs::blob(self, hash))
    }

    fn put_flow(&self, tenant: &str, version: &str, source: &str) -> Result<(), StoreError> {
        self.block(blobs::put_flow(self, tenant, version, source))
    }

    fn flow(&self, tenant: &str, version: &str) -> Result<Option<String>, StoreError> {
        self.block(blobs::flow(self, tenant, version))
    }

    fn put_plugin_config(&self, tenant: &str, text: &str) -> Result<String, StoreError> {
        self.block(blobs::put_config(self, tenant, text))
    }

    fn plugin_config(&self, tenant: &str, hash: &str) -> Result<Option<String>, StoreError> {
        self.block(blobs::config(self, tenant, hash))
    }

    fn next_number(&self, tenant: &str, sequence: &str) -> Result<u64, StoreError> {
        self.block(turns::next_number(self, tenant, sequence))
    }

    /// Every commit is durable when it returns: a turn applied is a turn
    /// committed, and PostgreSQL's own group commit shares the WAL flush
    /// of concurrent ones.
    fn apply_turn(
        &self,
        tenant: &str,
        turn: &switchboard_store::TurnRecord<'_>,
    ) -> Result<switchboard_store::Committed, StoreError> {
        switchboard_store::Backend::commit_turn(self, tenant, turn)
    }

    fn durable(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn transcript(
        &self,
        tenant: &str,
        stored: &switchboard_store::StoredConversation,
    ) -> Result<Vec<switchboard_core::event::DomainEvent>, StoreError> {
        self.block(turns::conversation_events(self, tenant, &stored.conversation.id))
    }

    fn inbox(&self, tenant: &str) -> Result<Vec<switchboard_store::InboxEntry>, StoreError> {
        self.block(turns::inbox(self, tenant))
    }

    fn record_plugin_version(
        &self,
        tenant: &str,
        binding: &str,
        new: switchboard_store::NewVersion,
    ) -> Result<(switchboard_store::PluginVersion, bool), StoreError> {
        self.block(versions::record(self, tenant, binding, new))
    }

    fn plugin_versions(
        &self,
        tenant: &str,
        binding: &str,
    ) -> Result<Vec<switchboard_store::PluginVersion>, StoreError> {
        self.block(versions::versions(self, tenant, binding))
    }

    fn withdraw_component(&self, tenant: &str, binding: &str, component: &str) -> Result<(), StoreError> {
        self.block(versions::withdraw(self, tenant, binding, component, true))
    }

    fn unwithdraw_component(&self, tenant: &str, binding: &str, component: &str) -> Result<(), StoreError> {
        self.block(versions::withdraw(self, tenant, binding, component, false))
    }

    fn withdrawn_components(&self, tenant: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.block(versions::withdrawn(self, tenant))
    }

    fn record_step_calls(&self, tenant: &str, calls: &[(i64, Vec<u8>)]) -> Result<(), StoreError> {
        self.block(versions::record_calls(self, tenant, calls))
    }

    fn step_calls(
        &self,
        tenant: &str,
        from: (i64, u64),
        limit: usize,
    ) -> Result<Vec<(i64, u64, Vec<u8>)>, StoreError> {
        self.block(versions::calls(self, tenant, from, limit))
    }

    fn publish_to_catalog(
        &self,
        entry: switchboard_store::CatalogEntry,
    ) -> Result<switchboard_store::Published, StoreError> {
        self.block(versions::publish(self, entry))
    }

    fn catalog(&self) -> Result<Vec<switchboard_store::CatalogEntry>, StoreError> {
        self.block(versions::catalog(self))
    }

    fn catalog_entry(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<switchboard_store::CatalogEntry>, StoreError> {
        self.block(versions::catalog_entry(self, name, version))
    }

    fn tenant_revisions(&self) -> Result<Vec<switchboard_store::TenantRevision>, StoreError> {
        self.block(tenant_catalog::revisions(self))
    }

    fn tenant_bundle(&self, tenant: &str) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        self.block(tenant_catalog::bundle(self, tenant))
    }

    fn publish_tenant(
        &self,
        tenant: &str,
        based_on: u64,
        bundle: Option<&[u8]>,
    ) -> Result<switchboard_store::Publish, StoreError> {
        if bundle.is_some_and(<[u8]>::is_empty) {
            return Err(StoreError::Damaged { key: format!("an empty bundle for tenant {tenant}") });
        }
        self.block(tenant_catalog::publish(self, tenant, based_on, bundle))
    }

    fn staff_member(&self, tenant: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.block(people::member(self, tenant, id))
    }

    fn staff(&self, tenant: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.block(people::staff(self, tenant))
    }

    fn put_staff_member(&self, tenant: &str, id: &str, record: &[u8]) -> Result<(), StoreError> {
        self.block(people::put_member(self, tenant, id, record))
    }

    fn remove_staff_member(
        &self,
        tenant: &str,
        id: &str,
        holds: &dyn Fn(&[u8]) -> bool,
    ) -> Result<bool, StoreError> {
        self.block(people::remove_member(self, tenant, id, holds))
    }

    fn sweep_sessions(&self, expired: &dyn Fn(&[u8]) -> bool) -> Result<usize, StoreError> {
        self.block(people::sweep(self, expired))
    }

    fn session(&self, token_hash: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        self.block(people::session(self, token_hash))
    }

    fn put_session(&self, token_hash: &[u8; 32], record: &[u8]) -> Result<(), StoreError> {
        self.block(people::put(self, false, token_hash, record))
    }

    fn remove_session(&self, token_hash: &[u8; 32]) -> Result<(), StoreError> {
        self.block(people::remove_session(self, token_hash))
    }

    fn put_login_link(&self, token_hash: &[u8; 32], record: &[u8]) -> Result<(), StoreError> {
        self.block(people::put(self, true, token_hash, record))
    }

    fn take_login_link(&self, token_hash: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        self.block(people::take_link(self, token_hash))
    }

    fn kpi_checkpoint(&self, tenant: &str) -> Result<Option<u64>, StoreError> {
        self.block(kpis::checkpoint(self, tenant))
    }

    fn kpi_marks(
        &self,
        tenant: &str,
        conversation: &str,
    ) -> Result<Option<switchboard_core::kpi::Marks>, StoreError> {
        self.block(kpis::marks(self, tenant, conversation))
    }

    fn kpi_days(
        &self,
        tenant: &str,
        from: switchboard_core::kpi::Day,
        to: switchboard_core::kpi::Day,
    ) -> Result<Vec<(switchboard_core::kpi::Day, switchboard_core::kpi::Tally)>, StoreError> {
        self.block(kpis::days(self, tenant, from, to))
    }

    fn save_kpis(
        &self,
        tenant: &str,
        from: Option<u64>,
        folded_to: u64,
        marks: &std::collections::BTreeMap<String, switchboard_core::kpi::Marks>,
        days: &std::collections::BTreeMap<switchboard_core::kpi::Day, switchboard_core::kpi::Tally>,
    ) -> Result<bool, StoreError> {
        self.block(kpis::save(self, tenant, from, folded_to, marks, days))
    }

    fn clear_kpis(&self, tenant: &str, from: switchboard_core::kpi::Day) -> Result<usize, StoreError> {
        self.block(kpis::clear(self, tenant, from))
    }

    /// Clearing is one transaction here: nothing is ever left half done.
    fn finish_kpi_rebuild(&self, _tenant: &str) -> Result<Option<usize>, StoreError> {
        Ok(None)
    }

    fn plugin_kv(&self) -> std::sync::Arc<dyn switchboard_core::kv::KvBackend> {
        std::sync::Arc::new(plugin_state::PgKv { store: self.clone() })
    }

    fn event_cursor_now(&self, tenant: &str) -> Result<u64, StoreError> {
        self.block(maintenance::cursor_now(self, tenant))
    }

    /// A failed statement is an error of its own call; nothing stops
    /// writes as a whole, so there is nothing to reopen.
    fn health(&self) -> switchboard_store::Health {
        switchboard_store::Health::Writable
    }

    fn reopen(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The database's disk is the server's, not this machine's.
    fn free_bytes(&self) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }

    fn next_due(&self) -> Result<Option<i64>, StoreError> {
        self.block(maintenance::next_due(self))
    }

    fn pending_timer_count(&self) -> Result<usize, StoreError> {
        self.block(maintenance::pending(self))
    }

    fn park_timers(&self, timers: &[(&switchboard_store::DueTimer, Option<i64>)]) -> Result<(), StoreError> {
        self.block(maintenance::park(self, timers))
    }

    fn sweep(
        &self,
        tenant: &str,
        cutoffs: &switchboard_store::Cutoffs,
        hold: &mut dyn FnMut(&str) -> Option<switchboard_store::TurnLock>,
    ) -> Result<switchboard_store::Swept, StoreError> {
        self.block(maintenance::sweep(self, tenant, cutoffs, hold))
    }

    fn retire_tenant(&self, tenant: &str, retired_at: i64) -> Result<u64, StoreError> {
        self.block(maintenance::retire(self, tenant, retired_at))
    }

    fn publish_live(&self, live: &switchboard_store::LiveReplies) -> Result<(), StoreError> {
        self.block(live::publish(self, live))
    }

    fn live_feed(
        &self,
    ) -> Result<Option<std::sync::mpsc::Receiver<switchboard_store::LiveReplies>>, StoreError> {
        Ok(Some(live::listen(self, &self.url)))
    }

    fn claim_timers(
        &self,
        now: i64,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<switchboard_store::DueTimer>, StoreError> {
        self.block(timers::claim(self, now, limit, lease))
    }

    fn settle_timers(&self, fired: &[switchboard_store::DueTimer], _now: i64) -> Result<(), StoreError> {
        self.block(timers::settle(self, fired))
    }

    fn release_timers(&self, due: Vec<switchboard_store::DueTimer>) -> Result<(), StoreError> {
        self.block(timers::release(self, &due))
    }

    fn dump_listed(
        &self,
        tenant: &str,
        sink: &mut dyn FnMut(switchboard_store::portable::Record) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        portable::dump_listed(self, tenant, sink)
    }

    fn blob_hashes(&self) -> Result<Vec<String>, StoreError> {
        self.block(portable::blob_hashes(self))
    }

    fn stored_tenants(&self) -> Result<Vec<String>, StoreError> {
        self.block(portable::stored_tenants(self))
    }

    fn restore_tenant(
        &self,
        tenant: &str,
        records: &[switchboard_store::portable::Record],
    ) -> Result<(), StoreError> {
        self.block(portable::restore_tenant(self, tenant, records))
    }

    fn restore_shared(&self, records: &[switchboard_store::portable::Shared]) -> Result<(), StoreError> {
        self.block(portable::restore_shared(self, records))
    }

    fn finish_restore(&self) -> Result<(), StoreError> {
        self.block(portable::finish_restore(self))
    }
}
