//! Turn locks: one conversation's turns run one at a time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{Engine, EngineError, lock};

/// Serialises turns per conversation. Entries exist only while a turn holds
/// or waits for them, so the map stays as small as the work in flight.
#[derive(Debug, Default)]
pub(super) struct TurnLocks {
    locks: Mutex<HashMap<ConversationKey, Arc<tokio::sync::Mutex<()>>>>,
}

/// `(tenant, conversation)`.
type ConversationKey = (String, String);

impl TurnLocks {
    /// Block until no other turn of this conversation runs; it stays ours
    /// until the guard drops. Call from a blocking context, never async.
    pub(super) fn hold(self: &Arc<Self>, tenant: &str, conversation: &str) -> TurnGuard {
        let (key, entry) = self.entry(tenant, conversation);
        TurnGuard { locks: self.clone(), key, guard: Some(entry.blocking_lock_owned()) }
    }

    /// [`TurnLocks::hold`] for async callers: waits without a thread.
    pub(super) async fn hold_async(self: &Arc<Self>, tenant: &str, conversation: &str) -> TurnGuard {
        let (key, entry) = self.entry(tenant, conversation);
        TurnGuard { locks: self.clone(), key, guard: Some(entry.lock_owned().await) }
    }

    /// The lock if no turn of this conversation holds or waits for it.
    pub(super) fn try_hold(self: &Arc<Self>, tenant: &str, conversation: &str) -> Option<TurnGuard> {
        let (key, entry) = self.entry(tenant, conversation);
        if let Ok(guard) = entry.clone().try_lock_owned() {
            return Some(TurnGuard { locks: self.clone(), key, guard: Some(guard) });
        }
        // The holder may have let go since, leaving the entry to us (see
        // `Drop`); ours goes while the map is locked, so a holder letting go
        // after this sees the count it would without us.
        let mut locks = lock(&self.locks);
        if Arc::strong_count(&entry) == 2 {
            locks.remove(&key);
        }
        drop(entry);
        drop(locks);
        None
    }

    fn entry(&self, tenant: &str, conversation: &str) -> (ConversationKey, Arc<tokio::sync::Mutex<()>>) {
        let key = (tenant.to_owned(), conversation.to_owned());
        let entry = lock(&self.locks).entry(key.clone()).or_default().clone();
        (key, entry)
    }
}

impl Engine {
    /// Hold a conversation's turn: the engine's own lock, then the store's
    /// across nodes (nothing more on sled, which one process holds). A
    /// turn's reads and its commit happen while both are held.
    pub(super) fn hold_turn(
        &self,
        tenant: &str,
        conversation: &str,
    ) -> Result<(TurnGuard, switchboard_store::TurnLock), EngineError> {
        let local = self.turns.hold(tenant, conversation);
        let across_nodes = self.store.lock_turn(tenant, conversation)?;
        Ok((local, across_nodes))
    }
}

pub(super) struct TurnGuard {
    locks: Arc<TurnLocks>,
    pub(super) key: ConversationKey,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for TurnGuard {
    fn drop(&mut self) {
        let Some(guard) = self.guard.take() else { return };
        let entry = tokio::sync::OwnedMutexGuard::mutex(&guard).clone();
        drop(guard);
        // Others only clone the entry under this lock, so a count of two (the
        // map's and ours) means nobody else holds or waits for it.
        let mut locks = lock(&self.locks.locks);
        if Arc::strong_count(&entry) == 2 {
            locks.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn turns_of_one_conversation_wait_for_each_other_and_others_do_not() {
        let locks = Arc::new(TurnLocks::default());
        let held = locks.hold("acme", "a");
        // Another conversation, even of the same tenant, proceeds at once.
        drop(locks.hold("acme", "b"));
        drop(locks.hold("other", "a"));

        let (acquired, waiting) = mpsc::channel();
        let second = {
            let locks = locks.clone();
            std::thread::spawn(move || {
                let _turn = locks.hold("acme", "a");
                acquired.send(()).expect("send");
            })
        };
        assert!(waiting.recv_timeout(Duration::from_millis(50)).is_err(), "the second turn of `a` waits");
        drop(held);
        waiting.recv_timeout(Duration::from_secs(10)).expect("and runs once the first is done");
        second.join().expect("joined");
        assert!(lock(&locks.locks).is_empty(), "idle conversations leave no lock behind");
    }

    #[test]
    fn trying_a_held_lock_fails_at_once_and_leaves_nothing_behind() {
        let locks = Arc::new(TurnLocks::default());
        let held = locks.hold("acme", "a");
        assert!(locks.try_hold("acme", "a").is_none(), "a turn holds it");
        let other = locks.try_hold("acme", "b").expect("nobody holds b");
        drop((held, other));
        assert!(lock(&locks.locks).is_empty());
        let again = locks.try_hold("acme", "a").expect("free again");
        assert!(locks.try_hold("acme", "a").is_none(), "held by the first try");
        drop(again);
        assert!(lock(&locks.locks).is_empty(), "idle conversations leave no lock behind");
    }
}
