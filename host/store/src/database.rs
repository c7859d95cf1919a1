//! The open sled database behind a [`Store`](crate::Store): what happens when
//! a write to it fails, and opening it again in-process.
//!
//! sled stops writing for good after its first I/O error: it keeps the error
//! and returns it from every later write until the database is opened again.
//! So the first failed write marks the database unwritable. From then on
//! every write, turn and sync is refused at once with
//! [`StoreError::Unwritable`], before a turn so much as checks for a
//! duplicate (sled's memory may hold a turn that never reached the disk, and
//! a retry must not be taken for its duplicate). Reads go on serving what
//! sled holds.
//!
//! [`Store::reopen`](crate::Store::reopen) takes the database out of service,
//! waits for the operations still using it, drops it and opens it again from
//! what is on disk, which is everything a caller was told is durable.
//!
//! The reopened database is published only once the batches the failure cut
//! in two are finished from their redo records (`batch.rs`), so no new turn
//! lands before an old one's remainder.
//!
//! A write applied before a reopen and synced after it would be synced on the
//! new database, which never saw it; so would a duplicate check or an outbox
//! read that saw such a write. Each database has an epoch; each thread
//! remembers the oldest epoch it wrote to or relied on since its last sync,
//! and a sync refuses with [`StoreError::Reopened`] when that is older than
//! the current one. (Syncs already cover "everything this thread wrote", so
//! the thread is the unit that knows what it wrote.)

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::{StoreError, leftovers};

/// sled's page cache: the store's working set in memory.
pub(crate) const CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// How long a reopen waits for operations still using the old database.
const DRAIN_WITHIN: Duration = Duration::from_secs(10);

/// How long opening waits for the database's lock: sled's flusher thread
/// may hold it for a moment after the last handle is dropped.
const LOCK_WITHIN: Duration = Duration::from_secs(5);

thread_local! {
    /// The oldest epoch of a database this thread wrote to, or read what may
    /// not be on disk yet from, since its last sync.
    static UNSYNCED: Cell<Option<u64>> = const { Cell::new(None) };
}

/// The database and its trees, replaced whole when the store reopens.
#[derive(Debug)]
pub(crate) struct Trees {
    pub(crate) db: sled::Db,
    pub(crate) blobs: sled::Tree,
    pub(crate) plugin_state: sled::Tree,
    /// Conversations, the event logs and the inbound dedupe index (see `keys.rs`).
    pub(crate) turns: sled::Tree,
    epoch: u64,
}

impl Trees {
    fn new(db: sled::Db, epoch: u64) -> sled::Result<Self> {
        Ok(Self {
            blobs: db.open_tree("blobs")?,
            plugin_state: db.open_tree("plugin_state")?,
            turns: db.open_tree("turns")?,
            db,
            epoch,
        })
    }

    /// Up to `limit` keys of `turns` under `prefix` (after the key `after`,
    /// if given), with their values, in order: how the outbox is read a page
    /// at a time and how retention walks a tenant's records.
    pub(crate) fn turns_after(
        &self,
        prefix: &[u8],
        after: Option<Vec<u8>>,
        limit: usize,
    ) -> sled::Result<Vec<(sled::IVec, sled::IVec)>> {
        use std::ops::Bound;
        let start = after.map_or(Bound::Included(prefix.to_vec()), Bound::Excluded);
        self.turns
            .range((start, Bound::Unbounded))
            .take(limit)
            .take_while(|entry| entry.as_ref().map_or(true, |(key, _)| key.starts_with(prefix)))
            .collect()
    }

    /// Note that this thread wrote here, or read what may not be on disk
    /// yet and will sync before relying on it: a sync on a later database
    /// refuses rather than report it durable.
    pub(crate) fn touched(&self) {
        let oldest = UNSYNCED.get().map_or(self.epoch, |epoch| epoch.min(self.epoch));
        UNSYNCED.set(Some(oldest));
    }
}

/// Whether the store takes writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Writable,
    /// A write failed; nothing is written until the store reopens.
    Unwritable(Failure),
    /// Being opened again; nothing is read or written meanwhile.
    Reopening,
}

/// The write error that made the store unwritable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub cause: String,
    pub kind: std::io::ErrorKind,
    pub since: Instant,
}

#[derive(Debug)]
pub(crate) struct Database {
    state: RwLock<State>,
    /// One reopen at a time; held while one runs.
    reopening: Mutex<()>,
    /// The next database's epoch.
    next_epoch: AtomicU64,
    /// Where it lives; `None` for a temporary database, which cannot reopen.
    path: Option<PathBuf>,
}

#[derive(Debug)]
struct State {
    /// `None` while reopening, and after a reopen that failed.
    trees: Option<Arc<Trees>>,
    /// Why it takes no writes, until a reopen succeeds.
    failure: Option<Failure>,
}

impl Database {
    /// Open (or create) the database at `path`, removing the crash
    /// leftovers sled cannot open past (`leftovers.rs`).
    pub(crate) fn open(path: &Path) -> Result<Self, StoreError> {
        let trees = open_trees(path, 0)?;
        let replayed = crate::batch::replay(&trees)?;
        if replayed > 0 {
            tracing::info!(replayed, "finished writes a crash interrupted");
        }
        Ok(Self::serving(trees, Some(path.to_owned())))
    }

    /// A database deleted on drop, in `dir` (not sled's default of /dev/shm,
    /// which containers often cap at 64 MiB).
    pub(crate) fn temporary(dir: &Path) -> Result<Self, StoreError> {
        let trees = Trees::new(sled::Config::new().path(dir).temporary(true).open()?, 0)?;
        Ok(Self::serving(trees, None))
    }

    fn serving(trees: Trees, path: Option<PathBuf>) -> Self {
        Self {
            state: RwLock::new(State { trees: Some(Arc::new(trees)), failure: None }),
            reopening: Mutex::new(()),
            next_epoch: AtomicU64::new(1),
            path,
        }
    }

    fn state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // The state is replaced whole under the lock; a panic cannot leave
        // it half-written.
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn state_mut(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The trees, to read: what sled holds, even when it cannot write.
    pub(crate) fn trees(&self) -> Result<Arc<Trees>, StoreError> {
        self.state().trees.clone().ok_or(StoreError::Reopening)
    }

    /// The trees, to write (or to decide what to write): refused once a
    /// write has failed.
    pub(crate) fn writable(&self) -> Result<Arc<Trees>, StoreError> {
        let state = self.state();
        if let Some(failure) = &state.failure {
            return Err(StoreError::Unwritable { cause: failure.cause.clone(), kind: failure.kind });
        }
        state.trees.clone().ok_or(StoreError::Reopening)
    }

    /// The trees to sync this thread's writes on: refused if the thread
    /// wrote to a database that has since been replaced.
    pub(crate) fn to_sync(&self) -> Result<Arc<Trees>, StoreError> {
        // Taken first: a sync refused for any reason leaves this thread
        // nothing unsynced to answer for later.
        let unsynced = UNSYNCED.take();
        let trees = self.writable()?;
        match unsynced {
            Some(epoch) if epoch != trees.epoch => Err(StoreError::Reopened),
            _ => Ok(trees),
        }
    }

    /// Run `write` on the writable trees, noting that this thread wrote, and
    /// marking the store unwritable if sled reports an I/O error.
    pub(crate) fn write<T>(&self, write: impl FnOnce(&Trees) -> sled::Result<T>) -> Result<T, StoreError> {
        let trees = self.writable()?;
        trees.touched();
        write(&trees).map_err(|error| self.failed(&trees, error))
    }

    /// Convert a sled error from an operation on `trees`, marking the
    /// database unwritable if it is an I/O error (after which sled writes
    /// nothing more).
    pub(crate) fn failed(&self, trees: &Trees, error: sled::Error) -> StoreError {
        if let sled::Error::Io(io) = &error {
            let mut state = self.state_mut();
            let current = state.trees.as_ref().is_some_and(|serving| serving.epoch == trees.epoch);
            if current && state.failure.is_none() {
                tracing::error!(%io, "a write to the store failed; it takes no writes until it reopens");
                state.failure =
                    Some(Failure { cause: io.to_string(), kind: io.kind(), since: Instant::now() });
            }
        }
        StoreError::Sled(error)
    }

    pub(crate) fn health(&self) -> Health {
        if self.reopening.try_lock().is_err() {
            return Health::Reopening;
        }
        let state = self.state();
        match (&state.trees, &state.failure) {
            (_, Some(failure)) => Health::Unwritable(failure.clone()),
            (Some(_), None) => Health::Writable,
            (None, None) => Health::Reopening,
        }
    }

    /// Take the database out of service, wait for what still uses it,
    /// open it again from disk and finish the batches it holds unfinished,
    /// then publish it. If opening fails, the store stays out of service
    /// and unwritable, and a later reopen tries again.
    pub(crate) fn reopen(&self) -> Result<(), StoreError> {
        let _one = self.reopening.lock().unwrap_or_else(PoisonError::into_inner);
        let path = self.path.as_deref().ok_or(StoreError::NotReopenable)?;
        let Some(old) = self.state_mut().trees.take() else {
            // A reopen before this one failed to open; try again.
            return self.open_in_place(path);
        };
        let started = Instant::now();
        let mut old = old;
        loop {
            match Arc::try_unwrap(old) {
                Ok(trees) => {
                    drop(trees);
                    break;
                }
                Err(in_use) if started.elapsed() < DRAIN_WITHIN => {
                    old = in_use;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(in_use) => {
                    self.state_mut().trees = Some(in_use);
                    return Err(StoreError::Busy { waited: DRAIN_WITHIN });
                }
            }
        }
        self.open_in_place(path)
    }

    fn open_in_place(&self, path: &Path) -> Result<(), StoreError> {
        let epoch = self.next_epoch.fetch_add(1, Ordering::Relaxed);
        let trees = open_trees(path, epoch)?;
        let replayed = crate::batch::replay(&trees)?;
        if replayed > 0 {
            tracing::info!(replayed, "finished writes the failed one cut short");
        }
        // Whatever this thread wrote before is gone with the old database
        // or on disk; it must not stop its next sync.
        UNSYNCED.set(None);
        let mut state = self.state_mut();
        state.trees = Some(Arc::new(trees));
        state.failure = None;
        Ok(())
    }
}

/// Open the sled database at `path`, removing crash leftovers if sled
/// refuses them and waiting out the lock of one just dropped.
fn open_trees(path: &Path, epoch: u64) -> Result<Trees, StoreError> {
    let open_error = |source| StoreError::Open { path: path.display().to_string(), source };
    let config = sled::Config::new().path(path).cache_capacity(CACHE_BYTES);
    let started = Instant::now();
    let db = loop {
        match config.open() {
            Ok(db) => break db,
            // A crash can leave what sled cannot open past (leftovers.rs).
            Err(sled::Error::Corruption { .. })
                if !leftovers::remove(path).map_err(|error| open_error(error.into()))?.is_empty() =>
            {
                continue;
            }
            // Ours a moment ago (a reopen, a store just dropped), or
            // another process's, which holds it for good: say so after a while.
            Err(sled::Error::Io(io)) if is_lock_held(&io) && started.elapsed() < LOCK_WITHIN => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(error) => return Err(open_error(error)),
        }
    };
    Trees::new(db, epoch).map_err(open_error)
}

/// sled's "could not acquire lock" on its directory.
pub(crate) fn is_lock_held(io: &std::io::Error) -> bool {
    io.kind() == std::io::ErrorKind::WouldBlock || io.to_string().contains("could not acquire lock")
}

#[cfg(test)]
mod tests {
    use std::io::ErrorKind;
    use std::time::Duration;

    use crate::batch::Batch;
    use switchboard_core::kv::KvBackend;

    use crate::{ApiKey, Health, Store, StoreError};

    fn key(id: &str) -> ApiKey {
        ApiKey {
            id: id.into(),
            label: String::new(),
            secret_sha256: String::new(),
            created_at: 0,
            revoked_at: None,
        }
    }

    /// What sled's first failed write does to the store.
    fn fill_the_disk(store: &Store) {
        let trees = store.trees().expect("trees");
        store.failed(&trees, sled::Error::Io(ErrorKind::StorageFull.into()));
    }

    #[test]
    fn after_a_failed_write_writes_and_dedupe_checks_are_refused_reads_served_until_it_reopens() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("open");
        store.put_api_key("acme", &key("k1")).expect("written");
        fill_the_disk(&store);

        assert!(
            matches!(store.health(), Health::Unwritable(failure) if failure.kind == ErrorKind::StorageFull)
        );
        let refused = store.put_api_key("acme", &key("k2")).expect_err("refused");
        assert!(refused.is_storage_full(), "{refused}");
        let dedupe = store.append_events("acme", &[], Some(("whatsapp", "wamid.1"))).expect_err("refused");
        assert!(dedupe.is_storage_full(), "a dedupe check is refused, not answered from memory: {dedupe}");
        assert!(store.seen("acme", "whatsapp", "wamid.1").is_err());
        assert!(store.plugin_kv().get(&scope(), "k").is_ok(), "kv reads are served");
        assert_eq!(store.api_keys("acme").expect("read").len(), 1, "reads are served");

        store.reopen().expect("reopen");
        assert_eq!(store.health(), Health::Writable);
        store.put_api_key("acme", &key("k2")).expect("written after the reopen");
        assert_eq!(store.api_keys("acme").expect("read").len(), 2);
    }

    fn scope() -> switchboard_core::kv::KvScope {
        switchboard_core::kv::KvScope { tenant: "acme".into(), plugin: "p".into() }
    }

    #[test]
    fn a_write_applied_before_a_reopen_is_never_reported_durable_after_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("open");
        let mut batch = Batch::default();
        batch.insert(b"t/acme/x".to_vec(), b"applied, not synced".as_slice());
        store.apply(batch).expect("applied");

        std::thread::scope(|scope| scope.spawn(|| store.reopen().expect("reopen")).join().expect("joined"));
        let lost = store.durable().expect_err("the write went with the old database");
        assert!(matches!(lost, StoreError::Reopened), "{lost}");
        assert!(lost.is_temporary());
        store.durable().expect("nothing of this thread's is pending any more");
    }

    #[test]
    fn a_sync_refuses_when_any_write_since_the_last_went_to_a_replaced_database() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("open");
        let write = |key: &[u8]| {
            let mut batch = Batch::default();
            batch.insert(key.to_vec(), b"v".as_slice());
            store.apply(batch).expect("applied");
        };
        write(b"t/acme/before");
        std::thread::scope(|scope| scope.spawn(|| store.reopen().expect("reopen")).join().expect("joined"));
        // A webhook batch's second message, applied after the reopen: the
        // first one's write must still not be reported durable.
        write(b"t/acme/after");
        assert!(matches!(store.durable(), Err(StoreError::Reopened)));
    }

    #[test]
    fn a_duplicate_found_before_a_reopen_is_not_confirmed_by_a_sync_after_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("open");
        std::thread::scope(|scope| {
            scope
                .spawn(|| store.append_events("acme", &[], Some(("telegram", "m1"))).expect("written"))
                .join()
                .expect("joined")
        });
        assert!(store.seen("acme", "telegram", "m1").expect("read"));
        std::thread::scope(|scope| scope.spawn(|| store.reopen().expect("reopen")).join().expect("joined"));
        assert!(matches!(store.durable(), Err(StoreError::Reopened)), "what was seen may be gone");
    }

    #[test]
    fn a_reopen_waits_for_operations_using_the_database() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("open");
        store.put_api_key("acme", &key("k1")).expect("written");
        let in_use = store.trees().expect("trees");
        std::thread::scope(|scope| {
            let reopening = scope.spawn(|| store.reopen());
            std::thread::sleep(Duration::from_millis(100));
            assert_eq!(store.health(), Health::Reopening);
            assert!(matches!(store.api_keys("acme"), Err(StoreError::Reopening)));
            drop(in_use);
            reopening.join().expect("joined").expect("reopened once the operation finished");
        });
        assert_eq!(store.api_keys("acme").expect("read").len(), 1, "what was durable is there");
    }

    #[test]
    fn a_temporary_store_says_it_cannot_reopen() {
        let store = Store::temporary().expect("store");
        assert!(matches!(store.reopen(), Err(StoreError::NotReopenable)));
        assert_eq!(store.health(), Health::Writable, "and it keeps serving");
    }
}
