//! Switchboard's persistence on the embedded sled store.
//!
//! **Architecture Invariant:** every key that belongs to a tenant starts with
//! `t/{tenant}/`, so per-tenant scans are prefix scans and a key without a
//! tenant is a bug visible in review. The store knows nothing of wasm: plugin
//! components are opaque blobs named by their SHA-256.
//!
//! # Layout
//!
//! - [`Store`]: opening the store.
//! - `contract.rs`: [`Backend`], what every backend promises (sled here,
//!   PostgreSQL in `switchboard-store-postgres`), and `conformance.rs`, the
//!   suite that holds each to it (feature `conformance`).
//! - `database.rs`: the sled database and its trees, unwritable after a
//!   failed write until it reopens in-process.
//! - `keys.rs`: the key layout, in one place.
//! - `plugin_state.rs`: the plugin `kv` capability's backend.
//! - `api_keys.rs`: tenants' API keys, hashed.
//! - `blobs.rs`: content-addressed component and flow storage.
//! - `contacts.rs`: identities linked across channels, verified phones and emails.
//! - `conversations.rs`: conversation state, the per-tenant event log, the
//!   inbound dedupe index and the outbox, written in one atomic batch per turn.
//! - `timers.rs` + `timer_log.rs`: the due-time index of pending timers, an
//!   append-only log outside sled, which the scheduler reads.
//! - `batch.rs`: atomic multi-key writes, and finishing those a crash interrupted.
//! - `records.rs`: the event log's records, a turn's events under one envelope.
//! - `kpis.rs`: KPI tallies per day, folded from the event log.
//! - `inbox.rs`: the conversations a person has, indexed by every turn.
//! - `people.rs`: staff, console sessions and login links.
//! - `retention.rs`: sweeping expired events (exported first) and dedupe ids.
//! - `stats.rs`: usage per tenant and kind, and rewriting the database whole.
//! - `tenant_catalog.rs`: each tenant's directory as one bundle, for every node.
//! - `portable.rs`: every record in a form each backend reads and writes,
//!   for moving a deployment to another store; `migration.rs`, sled's side.
//! - `retire.rs`: moving a removed tenant's keys out of its name's reach.
//! - `codec.rs`: length-prefixed byte strings, for the store's own record formats.
//! - `group_commit.rs`: concurrent writers share disk syncs.
//! - `visibility.rs`: the event log's visible-up-to watermark, so a reader's
//!   cursor never passes a record still being written.

#![forbid(unsafe_code)]

mod api_keys;
mod batch;
mod blobs;
mod catalog;
mod codec;
#[cfg(feature = "conformance")]
pub mod conformance;
mod contacts;
mod contract;
mod conversations;
mod database;
mod group_commit;
mod inbox;
mod keys;
mod kpis;
mod leftovers;
mod migration;
mod numbers;
mod people;
mod plugin_state;
mod plugin_versions;
pub mod portable;
mod records;
mod retention;
mod retire;
mod stats;
mod step_calls;
mod tenant_catalog;
#[cfg(any(test, feature = "conformance"))]
mod test_support;
mod timer_log;
mod timers;
mod visibility;

use std::path::Path;
use std::sync::Arc;

use batch::Batch;
use database::{Database, Trees};

pub use api_keys::ApiKey;
pub use catalog::{CatalogEntry, Published};
pub use contract::{Backend, LiveReplies, TurnLock};
pub use conversations::{Committed, StoredConversation, TurnRecord};
pub use database::{Failure, Health};
pub use inbox::InboxEntry;
pub use plugin_state::SledKv;
pub use plugin_versions::{NewVersion, PluginVersion};
pub use retention::{Cutoffs, Swept, export_conversations, export_events, is_idle};
pub use stats::{Compaction, Stats, Usage};
pub use tenant_catalog::{Publish, TenantRevision};
pub use timers::DueTimer;

/// Errors a store operation reports, with what it was doing.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("failed to open the store at {path}: {source}")]
    Open { path: String, source: sled::Error },
    #[error("store operation failed: {0}")]
    Sled(#[from] sled::Error),
    #[error("timer log operation failed: {0}")]
    TimerLog(#[from] std::io::Error),
    #[error("the store takes no writes since one failed ({cause}); it reopens once its disk has room")]
    Unwritable { cause: String, kind: std::io::ErrorKind },
    #[error("the store is reopening after a failed write; try again in a moment")]
    Reopening,
    #[error("a write made before the store reopened was lost with the failed disk; send it again")]
    Reopened,
    #[error("the store could not reopen: it was still in use after {waited:?}")]
    Busy { waited: std::time::Duration },
    #[error("a temporary store cannot reopen")]
    NotReopenable,
    #[error("failed to export expired events to {dir}: {source}")]
    Export { dir: String, source: std::io::Error },
    #[error(
        "an interrupted `switchboard store compact` left {left}; run `switchboard store compact --data {path}` to finish or undo it"
    )]
    CompactionInterrupted { path: String, left: String },
    #[error("failed to read or write the component file {hash}: {source}")]
    Blob { hash: String, source: std::io::Error },
    #[error("blob {expected} failed its content check (got {actual})")]
    Corrupt { expected: String, actual: String },
    #[error("an unfinished write ({key}) does not decode; the store is damaged")]
    Unfinished { key: String },
    #[error("index entry {key} is damaged: not a list of sequence numbers")]
    Damaged { key: String },
    #[error(
        "KPI tally {key} does not decode ({message}); rebuild the tenant's tallies: `switchboard kpis rebuild`"
    )]
    Tally { key: String, message: String },
    #[error("stored record {key} does not decode: {source}")]
    Decode { key: String, source: serde_json::Error },
    /// A write for one tenant carried a conversation or an event of
    /// another: refused whole.
    #[error("a record of tenant {other} was written as {tenant}'s; nothing was written")]
    Foreign { tenant: String, other: String },
    /// A backend other than sled failed (PostgreSQL: the server, the
    /// connection, or a statement).
    #[error("{operation} failed: {source}")]
    Backend { operation: &'static str, source: Box<dyn std::error::Error + Send + Sync> },
    /// A key of a kind this version cannot move to another store; a
    /// KPI rebuild still in progress (`qr`) is one until it finishes.
    #[error(
        "key {key} is of a kind this version of switchboard cannot migrate; run `store migrate` with the version that wrote the store"
    )]
    NotMigratable { key: String },
    /// This backend cannot be written to by a migration.
    #[error("a {backend} store cannot be migrated into yet; migrate into PostgreSQL (postgres://...)")]
    NotATarget { backend: &'static str },
}

impl StoreError {
    /// The disk (or the filesystem's quota) is full: a write may succeed
    /// once space is freed, so callers answer "try again later".
    pub fn is_storage_full(&self) -> bool {
        let kind = match self {
            Self::Open { source: sled::Error::Io(io), .. } | Self::Sled(sled::Error::Io(io)) => io.kind(),
            Self::TimerLog(io) | Self::Blob { source: io, .. } | Self::Export { source: io, .. } => io.kind(),
            Self::Unwritable { kind, .. } => *kind,
            _ => return false,
        };
        kind == std::io::ErrorKind::StorageFull || kind == std::io::ErrorKind::QuotaExceeded
    }

    /// Another process (a running `serve`) has the store open.
    pub fn is_locked(&self) -> bool {
        matches!(self, Self::Open { source: sled::Error::Io(io), .. } if database::is_lock_held(io))
    }

    /// The store cannot write for now, for a reason other than a full
    /// disk, and will again once it reopens: callers answer "try again".
    pub fn is_temporary(&self) -> bool {
        matches!(self, Self::Unwritable { .. } | Self::Reopening | Self::Reopened)
    }
}

/// The database and its trees. Cheap to clone; clones share one database.
#[derive(Debug, Clone)]
pub struct Store {
    database: Arc<Database>,
    group_commit: Arc<group_commit::GroupCommit>,
    timer_log: Arc<timer_log::TimerLog>,
    /// Event records being written, which readers wait for.
    visibility: Arc<visibility::Visibility>,
    /// The store's directory, for its free space.
    dir: Arc<Path>,
    /// Where a temporary store keeps its timer log; removed on drop.
    _temporary: Option<Arc<tempfile::TempDir>>,
}

impl Store {
    /// Open (or create) the database at `path`.
    ///
    /// sled's page cache is capped, so memory stays flat however many
    /// conversations, events and timers the database holds.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let siblings = Compaction::of(path);
        if let Some(left) = [&siblings.fresh, &siblings.old].into_iter().find(|sibling| sibling.exists()) {
            return Err(StoreError::CompactionInterrupted {
                path: path.display().to_string(),
                left: left.display().to_string(),
            });
        }
        let database = Database::open(path)?;
        let partials = blobs::remove_partials(path)
            .map_err(|error| StoreError::Open { path: path.display().to_string(), source: error.into() })?;
        if partials > 0 {
            tracing::warn!(partials, "removed component files a crash left half-written");
        }
        let timer_log = timer_log::TimerLog::open(&path.join("timers"))
            .map_err(|error| StoreError::Open { path: path.display().to_string(), source: error.into() })?;
        Self::from_db(database, timer_log, path, None)
    }

    /// A store that lives in memory (and a temporary directory) only and
    /// vanishes on drop; for tests.
    pub fn temporary() -> Result<Self, StoreError> {
        let dir = tempfile::tempdir().map_err(sled::Error::from)?;
        let timer_log = timer_log::TimerLog::open(dir.path()).map_err(sled::Error::from)?;
        let path = dir.path().to_owned();
        Self::from_db(Database::temporary(&path.join("db"))?, timer_log, &path, Some(Arc::new(dir)))
    }

    fn from_db(
        database: Database,
        timer_log: timer_log::TimerLog,
        dir: &Path,
        temporary: Option<Arc<tempfile::TempDir>>,
    ) -> Result<Self, StoreError> {
        // Above every record already written: none is in flight.
        let floor = database.write(|trees| trees.db.generate_id())?;
        let store = Self {
            visibility: Arc::new(visibility::Visibility::new(floor)),
            database: Arc::new(database),
            group_commit: Arc::default(),
            timer_log: Arc::new(timer_log),
            dir: Arc::from(dir),
            _temporary: temporary,
        };
        store.finish_unfinished()?;
        let indexed = store.backfill_inbox()?;
        if indexed > 0 {
            tracing::info!(indexed, "listed in the inbox the conversations people had before it existed");
        }
        let moved = store.move_due_index_out_of_sled()?;
        if moved > 0 {
            tracing::info!(moved, "moved pending timers from the old due index to the timer log");
        }
        Ok(store)
    }

    /// Finish the tenant retirements a crash (or a failed write)
    /// interrupted. (Interrupted batches are finished before the database
    /// serves anything: `Database::open`.)
    fn finish_unfinished(&self) -> Result<(), StoreError> {
        let retired = self.finish_retirements()?;
        if retired > 0 {
            tracing::info!(retired, "finished retiring removed tenants' data");
        }
        Ok(())
    }

    /// Whether the store takes writes (see `database.rs`).
    pub fn health(&self) -> Health {
        self.database.health()
    }

    /// Open the database again from disk, after a failed write made it
    /// unwritable: what was acknowledged is there, and writes resume.
    /// Waits for operations still using the old database; reads and
    /// writes meanwhile are refused with [`StoreError::Reopening`].
    pub fn reopen(&self) -> Result<(), StoreError> {
        self.database.reopen()?;
        self.finish_unfinished()
    }

    /// The trees to read from.
    pub(crate) fn trees(&self) -> Result<Arc<Trees>, StoreError> {
        self.database.trees()
    }

    /// The trees to write to (or to read a write's preconditions from).
    pub(crate) fn writable(&self) -> Result<Arc<Trees>, StoreError> {
        self.database.writable()
    }

    /// A new sequence number (for an event record, an outbox entry, a redo
    /// record), unique for the life of the database.
    pub(crate) fn next_id(&self) -> Result<u64, StoreError> {
        self.database.write(|trees| trees.db.generate_id())
    }

    /// A number for a new event record, which readers of the log do not
    /// pass until the batch carrying the reservation is applied or dropped.
    pub(crate) fn reserve_event_seq(&self) -> Result<visibility::Reserved, StoreError> {
        self.visibility.reserve(|| self.next_id())
    }

    /// Every event record numbered below this is applied or never will be.
    pub(crate) fn event_horizon(&self) -> u64 {
        self.visibility.horizon()
    }

    /// A sled write's error, marking the store unwritable if it was the disk.
    pub(crate) fn failed(&self, trees: &Trees, error: sled::Error) -> StoreError {
        self.database.failed(trees, error)
    }

    /// The `kv` capability's backend, sharing this database.
    pub fn plugin_kv(&self) -> SledKv {
        SledKv::new(self.database.clone())
    }

    /// Apply `batch` to the `turns` tree atomically and return once it is on
    /// disk (concurrent writers share the sync). Every durable write goes here,
    /// except a turn's, which may be applied first and synced later (`apply_turn`).
    pub(crate) fn write(&self, batch: Batch) -> Result<(), StoreError> {
        self.apply(batch)?;
        self.durable()
    }

    /// Bytes free for this process on the filesystem that holds the store.
    pub fn free_bytes(&self) -> std::io::Result<u64> {
        let stat = rustix::fs::statvfs(&*self.dir)?;
        Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
    }

    /// Return once every write applied before the call is on disk, sharing
    /// the sync with concurrent callers. sled's log is ordered, so this also
    /// covers writes other threads applied earlier.
    pub fn durable(&self) -> Result<(), StoreError> {
        // Timer entries first: they are appended before their turns are
        // applied, so they are never behind a turn that reached the disk.
        let trees = self.database.to_sync()?;
        self.group_commit
            .durable(|| {
                self.timer_log.sync()?;
                trees.db.flush()
            })
            .map_err(|error| self.failed(&trees, error))
    }

    /// Wait until everything written so far is on disk.
    pub fn flush(&self) -> Result<(), StoreError> {
        let trees = self.database.to_sync()?;
        self.timer_log.sync()?;
        trees.db.flush().map_err(|error| self.failed(&trees, error))?;
        Ok(())
    }
}
