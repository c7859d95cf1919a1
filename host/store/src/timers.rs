//! Durable timers: a global index by due time that the scheduler reads
//! oldest first. The timer itself (kind, payload) lives in its
//! conversation's state, so a turn that sets, moves, fires or cancels timers
//! writes the state and the index entries in one batch, without reading.
//!
//! A timer is fired exactly when its turn commits: a crash before leaves it
//! due (it fires after restart), a crash after leaves nothing to fire twice.
//! Nothing here holds timers in memory; scans are paged.

use switchboard_core::conversation::ScheduledTimer;

use crate::batch::Batch;
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
    pub(crate) fn stage_timers(
        batch: &mut Batch,
        tenant: &str,
        conversation: &str,
        set: &[ScheduledTimer],
        unset: &[ScheduledTimer],
    ) {
        // Removals first: a timer moved to the same instant stays.
        for timer in unset {
            batch.remove(keys::due(timer.due_at, tenant, conversation, &timer.key));
        }
        for timer in set {
            batch.insert(keys::due(timer.due_at, tenant, conversation, &timer.key), &[]);
        }
    }

    /// Up to `limit` timers due at or before `now`, across tenants, oldest first.
    pub fn due_timers(&self, now: i64, limit: usize) -> Result<Vec<DueTimer>, StoreError> {
        let end = keys::due_until(now.saturating_add(1));
        let mut due = Vec::new();
        for entry in self.turns.range(keys::DUE_PREFIX.to_vec()..end).keys().take(limit) {
            let key = entry?;
            match keys::parse_due(&key) {
                Some((due_at, tenant, conversation, key)) => {
                    due.push(DueTimer { due_at, tenant, conversation, key });
                }
                None => tracing::warn!(key = %String::from_utf8_lossy(&key), "unreadable due-index key"),
            }
        }
        Ok(due)
    }

    /// Move timers the scheduler cannot fire now to `Some(later)`, or drop
    /// them (`None`) when their conversation no longer exists.
    pub fn park_timers(&self, timers: &[(&DueTimer, Option<i64>)]) -> Result<(), StoreError> {
        if timers.is_empty() {
            return Ok(());
        }
        let mut batch = Batch::default();
        for (timer, later) in timers {
            let (tenant, conversation, key) = (&timer.tenant, &timer.conversation, &timer.key);
            batch.remove(keys::due(timer.due_at, tenant, conversation, key));
            if let Some(later) = later {
                batch.insert(keys::due(*later, tenant, conversation, key), &[]);
            }
        }
        self.write(batch)?;
        Ok(())
    }

    /// When the earliest pending timer is due.
    pub fn next_due(&self) -> Result<Option<i64>, StoreError> {
        let Some(entry) = self.turns.scan_prefix(keys::DUE_PREFIX).keys().next() else { return Ok(None) };
        Ok(keys::parse_due(&entry?).map(|(due_at, ..)| due_at))
    }

    /// How many timers are pending, across tenants (a full index scan).
    pub fn pending_timer_count(&self) -> usize {
        self.turns.scan_prefix(keys::DUE_PREFIX).keys().count()
    }
}
