//! Durable timers: a global index by due time that the scheduler reads
//! oldest first, kept in the timer log (`timer_log.rs`) outside sled. The
//! timer itself (kind, payload) lives in its conversation's state, which is
//! the truth: a turn that sets timers appends their index entries; moving or
//! cancelling one writes nothing here, and the engine skips an entry its
//! conversation disagrees with when it falls due.
//!
//! A timer is fired exactly when its turn commits: a crash before leaves it
//! due (it fires after restart), a crash after leaves nothing to fire twice.
//! Nothing here holds pending timers in memory.

use switchboard_core::conversation::ScheduledTimer;

use crate::batch::Batch;
use crate::timer_log::NewTimer;
use crate::{Store, StoreError, keys};

/// A due timer, as the scheduler finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTimer {
    pub due_at: i64,
    pub tenant: String,
    pub conversation: String,
    pub key: String,
}

impl Store {
    /// Index timers a turn sets; durable with the next sync, which the turn
    /// waits for anyway. Call before applying the turn.
    pub(crate) fn index_timers(
        &self,
        tenant: &str,
        conversation: &str,
        set: &[ScheduledTimer],
    ) -> Result<(), StoreError> {
        let entries: Vec<NewTimer<'_>> = set
            .iter()
            .map(|timer| NewTimer { due_at: timer.due_at, tenant, conversation, key: &timer.key })
            .collect();
        self.timer_log.append(&entries)?;
        Ok(())
    }

    /// Up to `limit` timers due at or before `now`, across tenants, oldest
    /// first. Each is handed out once: pass them to [`Store::settle_timers`]
    /// once fired, or to [`Store::release_timers`] if firing failed.
    pub fn due_timers(&self, now: i64, limit: usize) -> Result<Vec<DueTimer>, StoreError> {
        Ok(self.timer_log.due(now, limit)?)
    }

    /// These timers (from [`Store::due_timers`]) fired, or turned out stale,
    /// and that is on disk: their index entries can go.
    pub fn settle_timers(&self, fired: &[DueTimer], now: i64) -> Result<(), StoreError> {
        Ok(self.timer_log.settle(fired, now)?)
    }

    /// Firing these failed: hand them out again.
    pub fn release_timers(&self, due: Vec<DueTimer>) {
        self.timer_log.release(due);
    }

    /// Index timers the scheduler cannot fire now again at `Some(later)`
    /// (the original entries are settled as usual), durably.
    pub fn park_timers(&self, timers: &[(&DueTimer, Option<i64>)]) -> Result<(), StoreError> {
        let entries: Vec<NewTimer<'_>> = timers
            .iter()
            .filter_map(|(timer, later)| {
                later.map(|due_at| NewTimer {
                    due_at,
                    tenant: &timer.tenant,
                    conversation: &timer.conversation,
                    key: &timer.key,
                })
            })
            .collect();
        if entries.is_empty() {
            return Ok(());
        }
        self.timer_log.append(&entries)?;
        self.durable()
    }

    /// The earliest an index entry not yet handed out can be due (a lower
    /// bound: the start of its minute until that minute is read).
    pub fn next_due(&self) -> Result<Option<i64>, StoreError> {
        Ok(self.timer_log.next_due())
    }

    /// Index entries not yet settled, across tenants; it counts entries of
    /// timers since moved or cancelled until they fall due.
    pub fn pending_timer_count(&self) -> usize {
        self.timer_log.pending()
    }

    /// Stores written before the timer log kept their due index in sled
    /// under `d/`: append it to the log, make that durable, then remove it.
    pub(crate) fn move_due_index_out_of_sled(&self) -> Result<usize, StoreError> {
        let mut keys_seen = Vec::new();
        let mut parsed = Vec::new();
        for key in self.trees()?.turns.scan_prefix(keys::DUE_PREFIX).keys() {
            let key = key?;
            if let Some(entry) = keys::parse_due(&key) {
                parsed.push(entry);
            }
            keys_seen.push(key);
        }
        if keys_seen.is_empty() {
            return Ok(0);
        }
        let entries: Vec<NewTimer<'_>> = parsed
            .iter()
            .map(|(due_at, tenant, conversation, key)| NewTimer {
                due_at: *due_at,
                tenant,
                conversation,
                key,
            })
            .collect();
        self.timer_log.append(&entries)?;
        self.timer_log.sync()?;
        let mut batch = Batch::default();
        for key in &keys_seen {
            batch.remove(key.clone());
        }
        self.write(batch)?;
        Ok(entries.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_with_the_old_due_index_moves_it_into_the_log_on_open() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let store = Store::open(dir.path()).expect("open");
            let old = keys::due(120_000, "acme", "telegram:42", "remind-24h");
            store.trees().unwrap().turns.insert(old, b"".as_slice()).expect("insert");
            store.flush().expect("flush");
        }
        let store = Store::open(dir.path()).expect("opens again");
        assert_eq!(store.trees().unwrap().turns.scan_prefix(keys::DUE_PREFIX).count(), 0, "gone from sled");
        assert_eq!(store.pending_timer_count(), 1);
        let due = store.due_timers(120_000, 10).expect("due");
        let expected = DueTimer {
            due_at: 120_000,
            tenant: "acme".into(),
            conversation: "telegram:42".into(),
            key: "remind-24h".into(),
        };
        assert_eq!(due, [expected]);
    }
}
