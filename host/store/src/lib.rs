//! Switchboard's persistence on the embedded sled store.
//!
//! **Architecture Invariant:** every key that belongs to a tenant starts with
//! `t/{tenant}/`, so per-tenant scans are prefix scans and a key without a
//! tenant is a bug visible in review. The store knows nothing of wasm: plugin
//! components are opaque blobs named by their SHA-256.
//!
//! # Layout
//!
//! - [`Store`]: opening the database and the trees in it.
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
//! - `retire.rs`: moving a removed tenant's keys out of its name's reach.
//! - `codec.rs`: length-prefixed byte strings, for the store's own record formats.
//! - `group_commit.rs`: concurrent writers share disk syncs.

#![forbid(unsafe_code)]

mod api_keys;
mod batch;
mod blobs;
mod codec;
mod contacts;
mod conversations;
mod group_commit;
mod keys;
mod leftovers;
mod plugin_state;
mod retire;
mod timer_log;
mod timers;

use std::path::Path;

use batch::Batch;

pub use api_keys::ApiKey;
pub use conversations::{Committed, StoredConversation, TurnRecord};
pub use plugin_state::SledKv;
pub use timers::DueTimer;

/// sled's page cache: the store's working set in memory.
const CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// Errors a store operation reports, with what it was doing.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("failed to open the store at {path}: {source}")]
    Open { path: String, source: sled::Error },
    #[error("store operation failed: {0}")]
    Sled(#[from] sled::Error),
    #[error("timer log operation failed: {0}")]
    TimerLog(#[from] std::io::Error),
    #[error("blob {expected} failed its content check (got {actual})")]
    Corrupt { expected: String, actual: String },
    #[error("an unfinished write ({key}) does not decode; the store is damaged")]
    Unfinished { key: String },
    #[error("index entry {key} is damaged: not a list of sequence numbers")]
    Damaged { key: String },
    #[error("stored record {key} does not decode: {source}")]
    Decode { key: String, source: serde_json::Error },
}

impl StoreError {
    /// The disk (or the filesystem's quota) is full: a write may succeed
    /// once space is freed, so callers answer "try again later".
    pub fn is_storage_full(&self) -> bool {
        let io = match self {
            Self::Open { source: sled::Error::Io(io), .. } | Self::Sled(sled::Error::Io(io)) => io,
            Self::TimerLog(io) => io,
            _ => return false,
        };
        io.kind() == std::io::ErrorKind::StorageFull || io.kind() == std::io::ErrorKind::QuotaExceeded
    }
}

/// The database and its trees. Cheap to clone; clones share one database.
#[derive(Debug, Clone)]
pub struct Store {
    db: sled::Db,
    blobs: sled::Tree,
    plugin_state: sled::Tree,
    /// Conversations, the event logs and the inbound dedupe index (see `keys.rs`).
    turns: sled::Tree,
    group_commit: std::sync::Arc<group_commit::GroupCommit>,
    timer_log: std::sync::Arc<timer_log::TimerLog>,
    /// The store's directory, for its free space.
    dir: std::sync::Arc<Path>,
    /// Where a temporary store keeps its timer log; removed on drop.
    _temporary: Option<std::sync::Arc<tempfile::TempDir>>,
}

impl Store {
    /// Open (or create) the database at `path`.
    ///
    /// sled's page cache is capped, so memory stays flat however many
    /// conversations, events and timers the database holds.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_error = |source| StoreError::Open { path: path.display().to_string(), source };
        let config = sled::Config::new().path(path).cache_capacity(CACHE_BYTES);
        let db = match config.open() {
            Ok(db) => db,
            // A crash can leave what sled cannot open past (leftovers.rs).
            Err(sled::Error::Corruption { .. })
                if !leftovers::remove(path).map_err(|error| open_error(error.into()))?.is_empty() =>
            {
                config.open().map_err(open_error)?
            }
            Err(error) => return Err(open_error(error)),
        };
        let timer_log =
            timer_log::TimerLog::open(&path.join("timers")).map_err(|error| open_error(error.into()))?;
        Self::from_db(db, timer_log, path, None)
    }

    /// A store that lives in memory (and a temporary directory) only and
    /// vanishes on drop; for tests.
    pub fn temporary() -> Result<Self, StoreError> {
        let dir = tempfile::tempdir().map_err(sled::Error::from)?;
        let timer_log = timer_log::TimerLog::open(dir.path()).map_err(sled::Error::from)?;
        let path = dir.path().to_owned();
        Self::from_db(
            sled::Config::new().temporary(true).open()?,
            timer_log,
            &path,
            Some(std::sync::Arc::new(dir)),
        )
    }

    fn from_db(
        db: sled::Db,
        timer_log: timer_log::TimerLog,
        dir: &Path,
        temporary: Option<std::sync::Arc<tempfile::TempDir>>,
    ) -> Result<Self, StoreError> {
        let store = Self {
            blobs: db.open_tree("blobs")?,
            plugin_state: db.open_tree("plugin_state")?,
            turns: db.open_tree("turns")?,
            group_commit: std::sync::Arc::default(),
            timer_log: std::sync::Arc::new(timer_log),
            dir: std::sync::Arc::from(dir),
            _temporary: temporary,
            db,
        };
        let replayed = store.replay_unfinished()?;
        if replayed > 0 {
            tracing::info!(replayed, "finished writes a crash interrupted");
        }
        let retired = store.finish_retirements()?;
        if retired > 0 {
            tracing::info!(retired, "finished retiring removed tenants' data");
        }
        let moved = store.move_due_index_out_of_sled()?;
        if moved > 0 {
            tracing::info!(moved, "moved pending timers from the old due index to the timer log");
        }
        Ok(store)
    }

    /// The `kv` capability's backend, sharing this database.
    pub fn plugin_kv(&self) -> SledKv {
        SledKv::new(self.plugin_state.clone())
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
        self.group_commit.durable(|| {
            self.timer_log.sync()?;
            self.db.flush()
        })?;
        Ok(())
    }

    /// [`Store::open`] again right after a store on `path` was dropped, for
    /// tests: sled's flusher thread may hold the directory's lock for a
    /// moment after the drop, so a lock error is retried for a while.
    #[cfg(test)]
    pub(crate) fn reopen(path: &Path) -> Self {
        let started = std::time::Instant::now();
        loop {
            match Self::open(path) {
                Ok(store) => return store,
                Err(error) if started.elapsed() < std::time::Duration::from_secs(5) => {
                    assert!(format!("{error:?}").contains("lock"), "reopen: {error:?}");
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(error) => panic!("reopen: {error:?}"),
            }
        }
    }

    /// Wait until everything written so far is on disk.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.timer_log.sync()?;
        self.db.flush()?;
        Ok(())
    }
}
