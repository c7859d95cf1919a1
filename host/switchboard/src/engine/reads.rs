//! What the API, the scheduler and the CLI read. The store stays private to
//! the engine: every read a caller outside it needs is a method here, so the
//! boundary ARCHITECTURE.md draws is one the compiler keeps.

use switchboard_core::event::DomainEvent;
use switchboard_store::{ApiKey, DueTimer, StoredConversation};

use super::{Engine, EngineError, RetentionCutoffs};

impl Engine {
    /// A conversation's stored state, if it exists.
    pub fn conversation(
        &self,
        tenant: &str,
        conversation: &str,
    ) -> Result<Option<StoredConversation>, EngineError> {
        Ok(self.store.conversation(tenant, conversation)?)
    }

    /// A conversation's state and its transcript (its events, oldest first).
    pub fn conversation_with_transcript(
        &self,
        tenant: &str,
        conversation: &str,
    ) -> Result<Option<(StoredConversation, Vec<DomainEvent>)>, EngineError> {
        let Some(stored) = self.store.conversation(tenant, conversation)? else { return Ok(None) };
        let events = self.store.transcript(tenant, &stored)?;
        Ok(Some((stored, events)))
    }

    /// Every event of a conversation, oldest first.
    pub fn conversation_events(
        &self,
        tenant: &str,
        conversation: &str,
    ) -> Result<Vec<DomainEvent>, EngineError> {
        Ok(self.store.conversation_events(tenant, conversation)?)
    }

    /// Up to `limit` of a tenant's conversations after the id `after`, by id.
    pub fn conversations(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredConversation>, EngineError> {
        Ok(self.store.conversations(tenant, after, limit)?)
    }

    /// A cursor for `tenant_events` that reads only what is committed from
    /// now on (a live feed's start).
    pub fn live_cursor(&self, tenant: &str) -> Result<u64, EngineError> {
        self.tenant(tenant)?;
        Ok(self.store.event_cursor_now(tenant)?)
    }

    /// The conversations a person has, most recently handed off first.
    pub fn inbox(&self, tenant: &str) -> Result<Vec<switchboard_store::InboxEntry>, EngineError> {
        self.tenant(tenant)?;
        Ok(self.store.inbox(tenant)?)
    }

    /// Up to `limit` of a tenant's events after sequence number `after`,
    /// oldest first, each with its sequence number.
    pub fn tenant_events(
        &self,
        tenant: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, DomainEvent)>, EngineError> {
        Ok(self.store.tenant_events(tenant, after, limit)?)
    }

    /// One of a tenant's stored API keys, by id (another tenant's id finds nothing).
    pub fn api_key(&self, tenant: &str, id: &str) -> Result<Option<ApiKey>, EngineError> {
        Ok(self.store.api_key(tenant, id)?)
    }

    /// Every stored API key of a tenant, revoked ones too.
    pub fn api_keys(&self, tenant: &str) -> Result<Vec<ApiKey>, EngineError> {
        Ok(self.store.api_keys(tenant)?)
    }

    /// Store a tenant's API key record (a new key, or one just revoked), on disk on return.
    pub fn put_api_key(&self, tenant: &str, key: &ApiKey) -> Result<(), EngineError> {
        Ok(self.store.put_api_key(tenant, key)?)
    }

    /// Claim up to `limit` timers due by `now`, oldest first, for
    /// [`Engine::fire_due`]: no other node fires them unless this one dies
    /// and their lease ([`super::TIMER_LEASE`] unless set) runs out.
    pub fn due_timers(&self, now: i64, limit: usize) -> Result<Vec<DueTimer>, EngineError> {
        Ok(self.store.claim_timers(now, limit, self.leases.timers)?)
    }

    /// When the earliest pending timer is due, if any is.
    pub fn next_due(&self) -> Result<Option<i64>, EngineError> {
        Ok(self.store.next_due()?)
    }

    /// Bytes free on the store's filesystem, where the store has one on
    /// this machine (not a database server's).
    pub fn store_free_bytes(&self) -> Result<Option<u64>, EngineError> {
        Ok(self.store.free_bytes()?)
    }

    /// Remove what `tenant` keeps past `cutoffs` (`switchboard_store`'s
    /// `retention.rs`; `crate::retention` runs it for every tenant). A
    /// conversation whose turn is running, or waiting, is not removed.
    pub fn sweep(
        &self,
        tenant: &str,
        cutoffs: &RetentionCutoffs,
    ) -> Result<switchboard_store::Swept, EngineError> {
        let mut hold = |conversation: &str| {
            self.turns.try_hold(tenant, conversation).map(switchboard_store::TurnLock::held)
        };
        Ok(self.store.sweep(tenant, cutoffs, &mut hold)?)
    }

    /// Whether the store takes writes (it stops after a failed one until it
    /// reopens; see `recovery.rs`).
    pub fn store_health(&self) -> switchboard_store::Health {
        self.store.health()
    }

    /// Open the store again from disk after a failed write; blocks while
    /// operations still using it finish.
    pub fn reopen_store(&self) -> Result<(), EngineError> {
        Ok(self.store.reopen()?)
    }

    /// How many timers the due index holds (with sled, fired ones leave it
    /// a minute at a time).
    pub fn pending_timer_count(&self) -> Result<usize, EngineError> {
        Ok(self.store.pending_timer_count()?)
    }
}
