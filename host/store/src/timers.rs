//! Durable timers: one record per pending timer under its conversation, and
//! a global index by due time that the scheduler reads oldest first.
//!
//! Both change in the batch of the turn that sets, moves, fires or cancels a
//! timer, so a timer is fired exactly when its turn commits: a crash before
//! leaves it due (it fires after restart), a crash after leaves nothing to
//! fire twice. Nothing here holds timers in memory; scans are paged.

use serde::{Deserialize, Serialize};
use switchboard_core::conversation::ScheduledTimer;

use crate::{Store, StoreError, keys};

/// A pending timer as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTimer {
    pub key: String,
    pub kind: String,
    pub due_at: i64,
}

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
        &self,
        batch: &mut sled::Batch,
        tenant: &str,
        conversation: &str,
        set: &[ScheduledTimer],
        cancelled: &[String],
    ) -> Result<(), StoreError> {
        let replaced = set.iter().map(|timer| &timer.key).chain(cancelled);
        for key in replaced {
            let record_key = keys::timer(tenant, conversation, key);
            if let Some(bytes) = self.turns.get(&record_key)? {
                let old: StoredTimer = crate::conversations::decode(&record_key, &bytes)?;
                batch.remove(keys::due(old.due_at, tenant, conversation, key));
                batch.remove(record_key);
            }
        }
        for timer in set {
            let record =
                StoredTimer { key: timer.key.clone(), kind: timer.kind.clone(), due_at: timer.due_at };
            let bytes = serde_json::to_vec(&record)
                .map_err(|source| StoreError::Decode { key: timer.key.clone(), source })?;
            batch.insert(keys::timer(tenant, conversation, &timer.key), bytes);
            batch.insert(keys::due(timer.due_at, tenant, conversation, &timer.key), &[]);
        }
        Ok(())
    }

    /// Up to `limit` timers due at or before `now`, across tenants, oldest first.
    pub fn due_timers(&self, now: i64, limit: usize) -> Result<Vec<DueTimer>, StoreError> {
        let end = keys::due_until(now.saturating_add(1));
        let mut due = Vec::new();
        for entry in self.turns.range(keys::DUE_PREFIX.to_vec()..end).take(limit) {
            let (key, _) = entry?;
            match keys::parse_due(&key) {
                Some((due_at, tenant, conversation, key)) => {
                    due.push(DueTimer { due_at, tenant, conversation, key });
                }
                None => tracing::warn!(key = %String::from_utf8_lossy(&key), "unreadable due-index key"),
            }
        }
        Ok(due)
    }

    /// Set aside timers the scheduler cannot fire now: move each to `Some(later)`,
    /// or drop it (`None`) when its conversation no longer exists.
    pub fn park_timers(&self, timers: &[(&DueTimer, Option<i64>)]) -> Result<(), StoreError> {
        if timers.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for (timer, later) in timers {
            let (tenant, conversation, key) = (&timer.tenant, &timer.conversation, &timer.key);
            batch.remove(keys::due(timer.due_at, tenant, conversation, key));
            let record_key = keys::timer(tenant, conversation, key);
            match later {
                Some(later) => {
                    batch.insert(keys::due(*later, tenant, conversation, key), &[]);
                    if let Some(bytes) = self.turns.get(&record_key)? {
                        let mut record: StoredTimer = crate::conversations::decode(&record_key, &bytes)?;
                        record.due_at = *later;
                        let bytes = serde_json::to_vec(&record)
                            .map_err(|source| StoreError::Decode { key: key.clone(), source })?;
                        batch.insert(record_key, bytes);
                    }
                }
                None => batch.remove(record_key),
            }
        }
        self.turns.apply_batch(batch)?;
        self.group_commit.durable(|| self.db.flush())?;
        Ok(())
    }

    /// When the earliest pending timer is due.
    pub fn next_due(&self) -> Result<Option<i64>, StoreError> {
        let Some(entry) = self.turns.scan_prefix(keys::DUE_PREFIX).next() else { return Ok(None) };
        let (key, _) = entry?;
        Ok(keys::parse_due(&key).map(|(due_at, ..)| due_at))
    }

    /// A conversation's pending timers, by key.
    pub fn timers(&self, tenant: &str, conversation: &str) -> Result<Vec<StoredTimer>, StoreError> {
        self.turns
            .scan_prefix(keys::conversation_timers(tenant, conversation))
            .map(|entry| {
                let (key, bytes) = entry?;
                crate::conversations::decode(&key, &bytes)
            })
            .collect()
    }

    /// How many timers are pending, across tenants (a full index scan).
    pub fn pending_timer_count(&self) -> usize {
        self.turns.scan_prefix(keys::DUE_PREFIX).keys().count()
    }
}
