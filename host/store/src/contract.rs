//! The store contract: what every backend promises, so the engine can run
//! on the embedded sled store (one node) or on PostgreSQL (many nodes,
//! `switchboard-store-postgres`) alike. The conformance suite
//! (`conformance.rs`, feature `conformance`) holds each backend to it.
//!
//! Promises, each a test of the suite:
//! - **A turn is atomic.** Its conversation state, events, dedupe id,
//!   outbox entries and timers are all there or none is.
//! - **A provider's retry is a duplicate**, whichever node it reaches: the
//!   second turn with the same `(channel, message id)` writes nothing.
//! - **Tenants see only their own.** Every read and write names its tenant;
//!   the same ids in two tenants are two things.
//! - **The event log's cursor misses nothing.** A tenant's events come in
//!   the order their turns committed, under increasing sequence numbers (a
//!   turn's events share one), so a reader that pages from the last number
//!   it saw, while others write, sees every event exactly once.
//! - **A due timer is claimed once.** Claims across handles (nodes) never
//!   overlap; a claim is settled (not handed out again) or released (due
//!   again), and a claim whose holder died comes back once its lease runs
//!   out. After a restart a backend may hand out a settled entry again:
//!   the turn that fires a timer takes it out of its conversation, and the
//!   engine skips an entry its conversation no longer holds, so each timer
//!   still fires once.
//!
//! - **A conversation's turns run one at a time across nodes.** The engine
//!   serialises them within a node; [`Backend::lock_turn`] does across
//!   nodes, and a dead node's locks go with it.
//!
//! Calls block: the engine calls the store from blocking threads.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use switchboard_core::event::DomainEvent;
use switchboard_core::kpi::{Day, Marks, Tally};
use switchboard_core::kv::KvBackend;

use crate::portable::{Record, Shared};
use crate::{
    ApiKey, CatalogEntry, Committed, Cutoffs, DueTimer, Health, InboxEntry, NewVersion, PluginVersion,
    Publish, Published, StoreError, StoredConversation, Swept, TenantRevision, TurnRecord,
};

/// A conversation's turn, held across nodes until this drops
/// ([`Backend::lock_turn`]).
#[must_use = "the turn is held only while the lock is"]
pub struct TurnLock {
    _held: Option<Box<dyn Send>>,
}

impl TurnLock {
    /// Nothing to hold beyond the engine's own lock: one process has the store.
    pub fn local() -> Self {
        Self { _held: None }
    }

    /// Held until `guard` drops.
    pub fn held(guard: impl Send + 'static) -> Self {
        Self { _held: Some(Box::new(guard)) }
    }
}

impl std::fmt::Debug for TurnLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnLock").field("across_nodes", &self._held.is_some()).finish()
    }
}

/// Replies committed for a web chat visitor, on their way to the node that
/// holds the visitor's open session ([`Backend::publish_live`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveReplies {
    pub tenant: String,
    /// The visitor (`web:{session}`).
    pub to: String,
    /// The engine's replies, opaque here (JSON).
    pub replies: Vec<u8>,
}

/// A store backend. Object safe: the engine holds an `Arc<dyn Backend>`.
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// Whether other nodes may write this store too, so what they commit
    /// is found by looking (sled: one process holds it; PostgreSQL: any
    /// number of nodes).
    fn shared(&self) -> bool;

    /// Wait until no other node runs a turn of this conversation, and keep
    /// it so until the lock drops. Take it after the engine's own lock.
    fn lock_turn(&self, tenant: &str, conversation: &str) -> Result<TurnLock, StoreError>;

    /// A conversation's stored state, if it has any.
    fn conversation(&self, tenant: &str, id: &str) -> Result<Option<StoredConversation>, StoreError>;

    /// A page of a tenant's conversations, by id, after `after`.
    fn conversations(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredConversation>, StoreError>;

    /// Whether an inbound message id was already handled.
    fn seen(&self, tenant: &str, channel: &str, message_id: &str) -> Result<bool, StoreError>;

    /// Write a turn atomically, and return once it is durable.
    fn commit_turn(&self, tenant: &str, turn: &TurnRecord<'_>) -> Result<Committed, StoreError>;

    /// Write several turns, each atomically (a duplicate among them is
    /// skipped), and return once all are durable.
    fn commit_turns(&self, turns: &[(&str, TurnRecord<'_>)]) -> Result<(), StoreError>;

    /// One conversation's events, oldest first.
    fn conversation_events(&self, tenant: &str, conversation: &str) -> Result<Vec<DomainEvent>, StoreError>;

    /// Append events outside a turn (a delivery receipt), durably; `dedupe`
    /// makes a provider's retry a no-op, as for inbound messages.
    fn append_events(
        &self,
        tenant: &str,
        events: &[DomainEvent],
        dedupe: Option<(&str, &str)>,
    ) -> Result<Committed, StoreError>;

    /// A tenant's events after the sequence number `after`, in commit order;
    /// a turn's events are never split across pages, so a page may hold a
    /// few more than `limit`.
    fn tenant_events(
        &self,
        tenant: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, DomainEvent)>, StoreError>;

    /// Up to `limit` of a tenant's outbox entries after sequence number
    /// `after`, oldest first, each committed with its turn.
    fn outbox_after(
        &self,
        tenant: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError>;

    /// Settle an outbox entry: remove it (sent, or given up) or replace it
    /// (`retry`), with the events that say so, durably. An entry gone
    /// meanwhile (its tenant removed) stays gone.
    fn settle_outbox(
        &self,
        tenant: &str,
        seq: u64,
        retry: Option<&[u8]>,
        events: &[DomainEvent],
    ) -> Result<(), StoreError>;

    /// Move an outbox entry that cannot go as it is aside, as `entry`, with
    /// the events that say so, durably; it keeps its sequence number.
    fn park_outbox(
        &self,
        tenant: &str,
        seq: u64,
        entry: &[u8],
        events: &[DomainEvent],
    ) -> Result<(), StoreError>;

    /// Up to `limit` parked entries after `after`, oldest first.
    fn parked_outbox(
        &self,
        tenant: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError>;

    /// Put every parked entry back in the outbox at its old place, `reset`
    /// applied to each; how many moved.
    fn redrive_parked(&self, tenant: &str, reset: &dyn Fn(&[u8]) -> Vec<u8>) -> Result<usize, StoreError>;

    /// Claim a delivery lane (a conversation's replies, sent in order) for
    /// `lease`: `false` if another node holds it. Claiming a lane this node
    /// holds renews it.
    fn claim_lane(&self, tenant: &str, lane: &str, lease: Duration) -> Result<bool, StoreError>;

    /// Let a claimed lane go.
    fn release_lane(&self, tenant: &str, lane: &str) -> Result<(), StoreError>;

    /// The conversation `identity` continues, if it was linked to one.
    fn linked_conversation(&self, tenant: &str, identity: &str) -> Result<Option<String>, StoreError>;

    /// From now on, messages from `identity` continue `conversation`; the
    /// link and the events that record it are written together.
    fn link_identity(
        &self,
        tenant: &str,
        identity: &str,
        conversation: &str,
        events: &[DomainEvent],
    ) -> Result<(), StoreError>;

    /// Record that `conversation` verified `value` (a `phone` or `email`),
    /// unless another did first; the owner either way.
    fn claim_contact_point(
        &self,
        tenant: &str,
        kind: &str,
        value: &str,
        conversation: &str,
    ) -> Result<String, StoreError>;

    fn put_api_key(&self, tenant: &str, key: &ApiKey) -> Result<(), StoreError>;

    fn api_key(&self, tenant: &str, id: &str) -> Result<Option<ApiKey>, StoreError>;

    fn api_keys(&self, tenant: &str) -> Result<Vec<ApiKey>, StoreError>;

    /// Store `bytes` (a component, a flow source), named by their SHA-256
    /// in hex, which this returns. Shared: the same bytes are stored once.
    fn put_blob(&self, bytes: &[u8]) -> Result<String, StoreError>;

    /// The bytes named `hash`, checked against it.
    fn blob(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Keep the source of a tenant's flow version, for the conversations
    /// pinned to it.
    fn put_flow(&self, tenant: &str, version: &str, source: &str) -> Result<(), StoreError>;

    fn flow(&self, tenant: &str, version: &str) -> Result<Option<String>, StoreError>;

    /// Keep a plugin config the tenant runs, under the tenant (it may hold
    /// what only its tenant should); its hash.
    fn put_plugin_config(&self, tenant: &str, text: &str) -> Result<String, StoreError>;

    fn plugin_config(&self, tenant: &str, hash: &str) -> Result<Option<String>, StoreError>;

    /// The next number of `tenant`'s `sequence`, from 1: no two callers, on
    /// any node, get the same.
    fn next_number(&self, tenant: &str, sequence: &str) -> Result<u64, StoreError>;

    /// Write a turn atomically like [`Backend::commit_turn`], visible at
    /// once and durable by the time [`Backend::durable`] returns, so
    /// several turns can share one sync.
    fn apply_turn(&self, tenant: &str, turn: &TurnRecord<'_>) -> Result<Committed, StoreError>;

    /// Return once everything written before the call is durable.
    fn durable(&self) -> Result<(), StoreError>;

    /// The events of a conversation already read: what
    /// [`Backend::conversation_events`] gives, without reading it again.
    fn transcript(&self, tenant: &str, stored: &StoredConversation) -> Result<Vec<DomainEvent>, StoreError>;

    /// `tenant`'s inbox: every conversation a person has (kept by every
    /// turn), most recently handed off first.
    fn inbox(&self, tenant: &str) -> Result<Vec<InboxEntry>, StoreError>;

    /// Record that `binding` now runs `new`, unless its latest version of
    /// that kind (canary or not) is that already: the version, and whether
    /// it is new. Two nodes recording at once get one version.
    fn record_plugin_version(
        &self,
        tenant: &str,
        binding: &str,
        new: NewVersion,
    ) -> Result<(PluginVersion, bool), StoreError>;

    /// Every version of `binding`, oldest first.
    fn plugin_versions(&self, tenant: &str, binding: &str) -> Result<Vec<PluginVersion>, StoreError>;

    /// Remember that `component` was withdrawn from `binding` (a canary
    /// rolled back).
    fn withdraw_component(&self, tenant: &str, binding: &str, component: &str) -> Result<(), StoreError>;

    fn unwithdraw_component(&self, tenant: &str, binding: &str, component: &str) -> Result<(), StoreError>;

    /// Every `(binding, component)` withdrawn from `tenant`.
    fn withdrawn_components(&self, tenant: &str) -> Result<Vec<(String, String)>, StoreError>;

    /// Keep a turn's step calls (`(at, record)` pairs), durable by the
    /// next [`Backend::durable`].
    fn record_step_calls(&self, tenant: &str, calls: &[(i64, Vec<u8>)]) -> Result<(), StoreError>;

    /// Up to `limit` recorded step calls from `(at, seq)` on, oldest first,
    /// each with its time and number.
    fn step_calls(
        &self,
        tenant: &str,
        from: (i64, u64),
        limit: usize,
    ) -> Result<Vec<(i64, u64, Vec<u8>)>, StoreError>;

    /// Put a build in the operator's catalog, unless its name and version
    /// are taken.
    fn publish_to_catalog(&self, entry: CatalogEntry) -> Result<Published, StoreError>;

    /// Every catalog entry, by name then version.
    fn catalog(&self) -> Result<Vec<CatalogEntry>, StoreError>;

    fn catalog_entry(&self, name: &str, version: &str) -> Result<Option<CatalogEntry>, StoreError>;

    /// Every tenant the tenant catalog has held (served or removed), by name.
    fn tenant_revisions(&self) -> Result<Vec<TenantRevision>, StoreError>;

    /// A served tenant's revision and bundle (its directory, sealed by the
    /// host); `None` if it was never published or was removed.
    fn tenant_bundle(&self, tenant: &str) -> Result<Option<(u64, Vec<u8>)>, StoreError>;

    /// Publish `bundle` (`None`: the tenant is removed) as the revision
    /// after `based_on`, only if the catalog still holds `based_on` (0: a
    /// name never published), so of two nodes changing one tenant at once
    /// one wins and the other hears [`Publish::Moved`]. Durable on `Done`.
    fn publish_tenant(
        &self,
        tenant: &str,
        based_on: u64,
        bundle: Option<&[u8]>,
    ) -> Result<Publish, StoreError>;

    fn staff_member(&self, tenant: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Every staff member of `tenant`, by id.
    fn staff(&self, tenant: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError>;

    fn put_staff_member(&self, tenant: &str, id: &str, record: &[u8]) -> Result<(), StoreError>;

    /// Remove a staff member and every session and login link `holds`
    /// says is theirs; whether they existed.
    fn remove_staff_member(
        &self,
        tenant: &str,
        id: &str,
        holds: &dyn Fn(&[u8]) -> bool,
    ) -> Result<bool, StoreError>;

    /// Remove the sessions and login links `expired` picks; how many.
    fn sweep_sessions(&self, expired: &dyn Fn(&[u8]) -> bool) -> Result<usize, StoreError>;

    /// A console session by its token's SHA-256 (a cookie names no tenant;
    /// the record does, and the engine checks it).
    fn session(&self, token_hash: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError>;

    fn put_session(&self, token_hash: &[u8; 32], record: &[u8]) -> Result<(), StoreError>;

    fn remove_session(&self, token_hash: &[u8; 32]) -> Result<(), StoreError>;

    fn put_login_link(&self, token_hash: &[u8; 32], record: &[u8]) -> Result<(), StoreError>;

    /// Read and remove a login link in one step: of two racing, one gets it.
    fn take_login_link(&self, token_hash: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError>;

    /// The last event sequence number folded into `tenant`'s KPI tallies.
    fn kpi_checkpoint(&self, tenant: &str) -> Result<Option<u64>, StoreError>;

    /// What the fold remembers of one conversation.
    fn kpi_marks(&self, tenant: &str, conversation: &str) -> Result<Option<Marks>, StoreError>;

    /// The stored tallies of the days `from..=to`, oldest first.
    fn kpi_days(&self, tenant: &str, from: Day, to: Day) -> Result<Vec<(Day, Tally)>, StoreError>;

    /// Keep a fold that started after the checkpoint `from` (the days'
    /// whole tallies, the marks it touched, and `folded_to`) in one write,
    /// unless the checkpoint moved meanwhile (another node folded the same
    /// events): then nothing is written, and `false`.
    fn save_kpis(
        &self,
        tenant: &str,
        from: Option<u64>,
        folded_to: u64,
        marks: &BTreeMap<String, Marks>,
        days: &BTreeMap<Day, Tally>,
    ) -> Result<bool, StoreError>;

    /// Start over from the log: remove the tallies from `from` on, every
    /// conversation's marks and the checkpoint; how many records went.
    fn clear_kpis(&self, tenant: &str, from: Day) -> Result<usize, StoreError>;

    /// Finish a clearing a crash interrupted, if there is one.
    fn finish_kpi_rebuild(&self, tenant: &str) -> Result<Option<usize>, StoreError>;

    /// Plugins' `kv` state, each tenant's within its quota, exactly (two
    /// nodes writing at once never pass it).
    fn plugin_kv(&self) -> Arc<dyn KvBackend>;

    /// A cursor for [`Backend::tenant_events`] that reads only what commits
    /// from now on: every event at or below it is visible already.
    fn event_cursor_now(&self, tenant: &str) -> Result<u64, StoreError>;

    /// Whether the store takes writes (sled stops after a failed write
    /// until it reopens).
    fn health(&self) -> Health;

    /// Open the store again after a failed write.
    fn reopen(&self) -> Result<(), StoreError>;

    /// Bytes free on the filesystem under the store, where it has one on
    /// this machine.
    fn free_bytes(&self) -> Result<Option<u64>, StoreError>;

    /// The earliest a timer not yet claimed can be due (a lower bound).
    fn next_due(&self) -> Result<Option<i64>, StoreError>;

    /// Index entries not yet settled, across tenants.
    fn pending_timer_count(&self) -> Result<usize, StoreError>;

    /// Index the claimed timers the scheduler cannot fire now again at
    /// `Some(later)`, durably; settle the originals as usual.
    fn park_timers(&self, timers: &[(&DueTimer, Option<i64>)]) -> Result<(), StoreError>;

    /// Remove what `tenant` keeps past `cutoffs`, exporting events first
    /// where asked. `hold(conversation)` takes the engine's turn lock of a
    /// conversation if it is free; a conversation is removed only while
    /// that lock (and, across nodes, the store's) is held.
    fn sweep(
        &self,
        tenant: &str,
        cutoffs: &Cutoffs,
        hold: &mut dyn FnMut(&str) -> Option<TurnLock>,
    ) -> Result<Swept, StoreError>;

    /// Move everything of a removed tenant out of its name's reach, so a
    /// new tenant of that name starts empty; how many records moved.
    fn retire_tenant(&self, tenant: &str, retired_at: i64) -> Result<u64, StoreError>;

    /// Hand committed replies for a web chat visitor to every node, since
    /// the visitor's open session may be on any ([`Backend::live_feed`]).
    fn publish_live(&self, live: &LiveReplies) -> Result<(), StoreError>;

    /// Every node's published replies, this one's included, as they come;
    /// `None` where one process holds the store and publishes in-process.
    fn live_feed(&self) -> Result<Option<std::sync::mpsc::Receiver<LiveReplies>>, StoreError>;

    /// Claim up to `limit` timers due at or before `now` (Unix ms), across
    /// tenants, oldest first, for `lease`: no other claim gets them until
    /// they are released or the lease runs out.
    fn claim_timers(&self, now: i64, limit: usize, lease: Duration) -> Result<Vec<DueTimer>, StoreError>;

    /// These claimed timers fired (or were stale), durably: gone for good.
    fn settle_timers(&self, fired: &[DueTimer], now: i64) -> Result<(), StoreError>;

    /// Firing these claimed timers failed: due again, for any claim.
    fn release_timers(&self, due: Vec<DueTimer>) -> Result<(), StoreError>;

    // Moving a deployment to another store (`portable.rs`).

    /// Hand `sink` the records of `tenant` that no other read lists: dedupe
    /// ids, linked identities and contact points, flow versions, plugin
    /// configs, numbers, plugin versions, plugin state and KPI marks.
    fn dump_listed(
        &self,
        tenant: &str,
        sink: &mut dyn FnMut(Record) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// The hash of every blob stored.
    fn blob_hashes(&self) -> Result<Vec<String>, StoreError>;

    /// Every tenant this store holds records of, by name.
    fn stored_tenants(&self) -> Result<Vec<String>, StoreError>;

    /// Write `records` of `tenant` as they are (sequence numbers kept, the
    /// store's own counters moved past them), into a store that holds
    /// nothing of the tenant's yet: one batch of a migration, atomically.
    fn restore_tenant(&self, tenant: &str, records: &[Record]) -> Result<(), StoreError>;

    /// Write shared records as they are: blobs before the records naming
    /// them.
    fn restore_shared(&self, records: &[Shared]) -> Result<(), StoreError>;

    /// After a migration's last batch: bring what the store knows of its
    /// own contents up to date (PostgreSQL's planner statistics, without
    /// which it pages the event log by reading all of it).
    fn finish_restore(&self) -> Result<(), StoreError>;
}

impl Backend for crate::Store {
    fn shared(&self) -> bool {
        false
    }

    fn lock_turn(&self, _tenant: &str, _conversation: &str) -> Result<TurnLock, StoreError> {
        Ok(TurnLock::local())
    }

    fn conversation(&self, tenant: &str, id: &str) -> Result<Option<StoredConversation>, StoreError> {
        crate::Store::conversation(self, tenant, id)
    }

    fn conversations(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredConversation>, StoreError> {
        crate::Store::conversations(self, tenant, after, limit)
    }

    fn seen(&self, tenant: &str, channel: &str, message_id: &str) -> Result<bool, StoreError> {
        crate::Store::seen(self, tenant, channel, message_id)
    }

    fn commit_turn(&self, tenant: &str, turn: &TurnRecord<'_>) -> Result<Committed, StoreError> {
        crate::Store::commit_turn(self, tenant, turn)
    }

    fn commit_turns(&self, turns: &[(&str, TurnRecord<'_>)]) -> Result<(), StoreError> {
        crate::Store::commit_turns(self, turns)
    }

    fn conversation_events(&self, tenant: &str, conversation: &str) -> Result<Vec<DomainEvent>, StoreError> {
        crate::Store::conversation_events(self, tenant, conversation)
    }

    fn append_events(
        &self,
        tenant: &str,
        events: &[DomainEvent],
        dedupe: Option<(&str, &str)>,
    ) -> Result<Committed, StoreError> {
        crate::Store::append_events(self, tenant, events, dedupe)
    }

    fn tenant_events(
        &self,
        tenant: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, DomainEvent)>, StoreError> {
        crate::Store::tenant_events(self, tenant, after, limit)
    }

    fn outbox_after(
        &self,
        tenant: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        crate::Store::outbox_after(self, tenant, after, limit)
    }

    fn settle_outbox(
        &self,
        tenant: &str,
        seq: u64,
        retry: Option<&[u8]>,
        events: &[DomainEvent],
    ) -> Result<(), StoreError> {
        crate::Store::settle_outbox(self, tenant, seq, retry, events)
    }

    fn park_outbox(
        &self,
        tenant: &str,
        seq: u64,
        entry: &[u8],
        events: &[DomainEvent],
    ) -> Result<(), StoreError> {
        crate::Store::park_outbox(self, tenant, seq, entry, events)
    }

    fn parked_outbox(
        &self,
        tenant: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        crate::Store::parked_outbox(self, tenant, after, limit)
    }

    fn redrive_parked(&self, tenant: &str, reset: &dyn Fn(&[u8]) -> Vec<u8>) -> Result<usize, StoreError> {
        crate::Store::redrive_parked(self, tenant, reset)
    }

    /// One process holds a sled store, and its delivery worker runs one
    /// lane per conversation: there is no other node to claim against.
    fn claim_lane(&self, _tenant: &str, _lane: &str, _lease: Duration) -> Result<bool, StoreError> {
        Ok(true)
    }

    fn release_lane(&self, _tenant: &str, _lane: &str) -> Result<(), StoreError> {
        Ok(())
    }

    fn linked_conversation(&self, tenant: &str, identity: &str) -> Result<Option<String>, StoreError> {
        crate::Store::linked_conversation(self, tenant, identity)
    }

    fn link_identity(
        &self,
        tenant: &str,
        identity: &str,
        conversation: &str,
        events: &[DomainEvent],
    ) -> Result<(), StoreError> {
        crate::Store::link_identity(self, tenant, identity, conversation, events)
    }

    fn claim_contact_point(
        &self,
        tenant: &str,
        kind: &str,
        value: &str,
        conversation: &str,
    ) -> Result<String, StoreError> {
        crate::Store::claim_contact_point(self, tenant, kind, value, conversation)
    }

    fn put_api_key(&self, tenant: &str, key: &ApiKey) -> Result<(), StoreError> {
        crate::Store::put_api_key(self, tenant, key)
    }

    fn api_key(&self, tenant: &str, id: &str) -> Result<Option<ApiKey>, StoreError> {
        crate::Store::api_key(self, tenant, id)
    }

    fn api_keys(&self, tenant: &str) -> Result<Vec<ApiKey>, StoreError> {
        crate::Store::api_keys(self, tenant)
    }

    fn put_blob(&self, bytes: &[u8]) -> Result<String, StoreError> {
        crate::Store::put_blob(self, bytes)
    }

    fn blob(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        crate::Store::blob(self, hash)
    }

    fn put_flow(&self, tenant: &str, version: &str, source: &str) -> Result<(), StoreError> {
        crate::Store::put_flow(self, tenant, version, source)
    }

    fn flow(&self, tenant: &str, version: &str) -> Result<Option<String>, StoreError> {
        crate::Store::flow(self, tenant, version)
    }

    fn put_plugin_config(&self, tenant: &str, text: &str) -> Result<String, StoreError> {
        crate::Store::put_plugin_config(self, tenant, text)
    }

    fn plugin_config(&self, tenant: &str, hash: &str) -> Result<Option<String>, StoreError> {
        crate::Store::plugin_config(self, tenant, hash)
    }

    fn next_number(&self, tenant: &str, sequence: &str) -> Result<u64, StoreError> {
        crate::Store::next_number(self, tenant, sequence)
    }

    fn apply_turn(&self, tenant: &str, turn: &TurnRecord<'_>) -> Result<Committed, StoreError> {
        crate::Store::apply_turn(self, tenant, turn)
    }

    fn durable(&self) -> Result<(), StoreError> {
        crate::Store::durable(self)
    }

    fn transcript(&self, tenant: &str, stored: &StoredConversation) -> Result<Vec<DomainEvent>, StoreError> {
        crate::Store::transcript(self, tenant, stored)
    }

    fn inbox(&self, tenant: &str) -> Result<Vec<InboxEntry>, StoreError> {
        crate::Store::inbox(self, tenant)
    }

    fn record_plugin_version(
        &self,
        tenant: &str,
        binding: &str,
        new: NewVersion,
    ) -> Result<(PluginVersion, bool), StoreError> {
        crate::Store::record_plugin_version(self, tenant, binding, new)
    }

    fn plugin_versions(&self, tenant: &str, binding: &str) -> Result<Vec<PluginVersion>, StoreError> {
        crate::Store::plugin_versions(self, tenant, binding)
    }

    fn withdraw_component(&self, tenant: &str, binding: &str, component: &str) -> Result<(), StoreError> {
        crate::Store::withdraw_component(self, tenant, binding, component)
    }

    fn unwithdraw_component(&self, tenant: &str, binding: &str, component: &str) -> Result<(), StoreError> {
        crate::Store::unwithdraw_component(self, tenant, binding, component)
    }

    fn withdrawn_components(&self, tenant: &str) -> Result<Vec<(String, String)>, StoreError> {
        crate::Store::withdrawn_components(self, tenant)
    }

    fn record_step_calls(&self, tenant: &str, calls: &[(i64, Vec<u8>)]) -> Result<(), StoreError> {
        crate::Store::record_step_calls(self, tenant, calls)
    }

    fn step_calls(
        &self,
        tenant: &str,
        from: (i64, u64),
        limit: usize,
    ) -> Result<Vec<(i64, u64, Vec<u8>)>, StoreError> {
        crate::Store::step_calls(self, tenant, from, limit)
    }

    fn publish_to_catalog(&self, entry: CatalogEntry) -> Result<Published, StoreError> {
        crate::Store::publish_to_catalog(self, entry)
    }

    fn catalog(&self) -> Result<Vec<CatalogEntry>, StoreError> {
        crate::Store::catalog(self)
    }

    fn catalog_entry(&self, name: &str, version: &str) -> Result<Option<CatalogEntry>, StoreError> {
        crate::Store::catalog_entry(self, name, version)
    }

    fn tenant_revisions(&self) -> Result<Vec<TenantRevision>, StoreError> {
        crate::Store::tenant_revisions(self)
    }

    fn tenant_bundle(&self, tenant: &str) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        crate::Store::tenant_bundle(self, tenant)
    }

    fn publish_tenant(
        &self,
        tenant: &str,
        based_on: u64,
        bundle: Option<&[u8]>,
    ) -> Result<Publish, StoreError> {
        crate::Store::publish_tenant(self, tenant, based_on, bundle)
    }

    fn staff_member(&self, tenant: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        crate::Store::staff_member(self, tenant, id)
    }

    fn staff(&self, tenant: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        crate::Store::staff(self, tenant)
    }

    fn put_staff_member(&self, tenant: &str, id: &str, record: &[u8]) -> Result<(), StoreError> {
        crate::Store::put_staff_member(self, tenant, id, record)
    }

    fn remove_staff_member(
        &self,
        tenant: &str,
        id: &str,
        holds: &dyn Fn(&[u8]) -> bool,
    ) -> Result<bool, StoreError> {
        crate::Store::remove_staff_member(self, tenant, id, holds)
    }

    fn sweep_sessions(&self, expired: &dyn Fn(&[u8]) -> bool) -> Result<usize, StoreError> {
        crate::Store::sweep_sessions(self, expired)
    }

    fn session(&self, token_hash: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        crate::Store::session(self, token_hash)
    }

    fn put_session(&self, token_hash: &[u8; 32], record: &[u8]) -> Result<(), StoreError> {
        crate::Store::put_session(self, token_hash, record)
    }

    fn remove_session(&self, token_hash: &[u8; 32]) -> Result<(), StoreError> {
        crate::Store::remove_session(self, token_hash)
    }

    fn put_login_link(&self, token_hash: &[u8; 32], record: &[u8]) -> Result<(), StoreError> {
        crate::Store::put_login_link(self, token_hash, record)
    }

    fn take_login_link(&self, token_hash: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        crate::Store::take_login_link(self, token_hash)
    }

    fn kpi_checkpoint(&self, tenant: &str) -> Result<Option<u64>, StoreError> {
        crate::Store::kpi_checkpoint(self, tenant)
    }

    fn kpi_marks(&self, tenant: &str, conversation: &str) -> Result<Option<Marks>, StoreError> {
        crate::Store::kpi_marks(self, tenant, conversation)
    }

    fn kpi_days(&self, tenant: &str, from: Day, to: Day) -> Result<Vec<(Day, Tally)>, StoreError> {
        crate::Store::kpi_days(self, tenant, from, to)
    }

    /// The engine folds a tenant under its own lock, and one process holds
    /// the store: the checkpoint is checked, not locked.
    fn save_kpis(
        &self,
        tenant: &str,
        from: Option<u64>,
        folded_to: u64,
        marks: &BTreeMap<String, Marks>,
        days: &BTreeMap<Day, Tally>,
    ) -> Result<bool, StoreError> {
        if crate::Store::kpi_checkpoint(self, tenant)? != from {
            return Ok(false);
        }
        crate::Store::save_kpis(self, tenant, folded_to, marks, days)?;
        Ok(true)
    }

    fn clear_kpis(&self, tenant: &str, from: Day) -> Result<usize, StoreError> {
        crate::Store::clear_kpis(self, tenant, from)
    }

    fn finish_kpi_rebuild(&self, tenant: &str) -> Result<Option<usize>, StoreError> {
        crate::Store::finish_kpi_rebuild(self, tenant)
    }

    fn plugin_kv(&self) -> Arc<dyn KvBackend> {
        Arc::new(crate::Store::plugin_kv(self))
    }

    /// One horizon for every tenant: the log's numbers are the store's.
    fn event_cursor_now(&self, _tenant: &str) -> Result<u64, StoreError> {
        Ok(crate::Store::event_cursor_now(self))
    }

    fn health(&self) -> Health {
        crate::Store::health(self)
    }

    fn reopen(&self) -> Result<(), StoreError> {
        crate::Store::reopen(self)
    }

    fn free_bytes(&self) -> Result<Option<u64>, StoreError> {
        Ok(Some(crate::Store::free_bytes(self)?))
    }

    fn next_due(&self) -> Result<Option<i64>, StoreError> {
        crate::Store::next_due(self)
    }

    fn pending_timer_count(&self) -> Result<usize, StoreError> {
        Ok(crate::Store::pending_timer_count(self))
    }

    fn park_timers(&self, timers: &[(&DueTimer, Option<i64>)]) -> Result<(), StoreError> {
        crate::Store::park_timers(self, timers)
    }

    fn sweep(
        &self,
        tenant: &str,
        cutoffs: &Cutoffs,
        hold: &mut dyn FnMut(&str) -> Option<TurnLock>,
    ) -> Result<Swept, StoreError> {
        crate::Store::sweep(self, tenant, cutoffs, hold)
    }

    fn retire_tenant(&self, tenant: &str, retired_at: i64) -> Result<u64, StoreError> {
        crate::Store::retire_tenant(self, tenant, retired_at)
    }

    /// One process holds a sled store: the engine publishes in-process.
    fn publish_live(&self, _live: &LiveReplies) -> Result<(), StoreError> {
        Ok(())
    }

    fn live_feed(&self) -> Result<Option<std::sync::mpsc::Receiver<LiveReplies>>, StoreError> {
        Ok(None)
    }

    /// One process holds a sled store, so its claims live as long as the
    /// process: `lease` changes nothing, and a restart makes every unsettled
    /// claim due again.
    fn claim_timers(&self, now: i64, limit: usize, _lease: Duration) -> Result<Vec<DueTimer>, StoreError> {
        self.due_timers(now, limit)
    }

    fn settle_timers(&self, fired: &[DueTimer], now: i64) -> Result<(), StoreError> {
        crate::Store::settle_timers(self, fired, now)
    }

    fn release_timers(&self, due: Vec<DueTimer>) -> Result<(), StoreError> {
        crate::Store::release_timers(self, due);
        Ok(())
    }

    fn dump_listed(
        &self,
        tenant: &str,
        sink: &mut dyn FnMut(Record) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        crate::Store::dump_listed(self, tenant, sink)
    }

    fn blob_hashes(&self) -> Result<Vec<String>, StoreError> {
        crate::Store::blob_hashes(self)
    }

    fn stored_tenants(&self) -> Result<Vec<String>, StoreError> {
        crate::Store::stored_tenants(self)
    }

    fn restore_tenant(&self, _tenant: &str, _records: &[Record]) -> Result<(), StoreError> {
        Err(StoreError::NotATarget { backend: "sled" })
    }

    fn restore_shared(&self, _records: &[Shared]) -> Result<(), StoreError> {
        Err(StoreError::NotATarget { backend: "sled" })
    }

    fn finish_restore(&self) -> Result<(), StoreError> {
        Err(StoreError::NotATarget { backend: "sled" })
    }
}
