//! The engine: the no-IO state machine wired to the wasm runtime and the store.
//!
//! **Architecture Invariant:** events of one conversation are handled strictly
//! one at a time, in arrival order (a mutex per conversation); different
//! conversations and tenants never wait for each other, so a slow plugin only
//! slows its own conversation. Callers on an async runtime run [`Engine::handle`]
//! on the blocking pool.
//!
//! **Architecture Invariant:** a turn is persisted in one atomic batch, on
//! disk before [`Engine::handle`] (or [`Engine::handle_many`]) returns.
//! Nothing is acknowledged that a crash could lose.
//!
//! A conversation pins the flow version and plugin hashes it started with.
//! When the tenant is reloaded, running conversations keep them (the old
//! flow's source and components are in the store); new conversations get the
//! new ones.
//!
//! Besides customer messages, turns come from agents (reply, hand back,
//! close, decide), from the scheduler ([`Engine::fire_due`], a page of due
//! timers in one write), and from links between a customer's identities. Web
//! chat replies are published to open WebSocket sessions once committed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use switchboard_core::contract::{
    Channel, Classification, ClassifyInput, Contact, Decision, Identity, StepInput, Value,
};
use switchboard_core::conversation::{
    Conversation, Effects, Inbound, Outbound, Plugins, Setting, Status, StepFailed,
};
use switchboard_core::event::{DomainEvent, EventBody};
use switchboard_core::flow::{FieldKind, Flow};
use switchboard_runtime::{CallContext, KvBackend, KvQuota, Plugin, Runtime};
use switchboard_store::{Committed, DueTimer, Store, StoreError, StoredConversation, TurnRecord};

use crate::tenant::Tenant;

mod admission;
mod daily;
mod live;
mod memory;
mod outbox;

use admission::Admission;
pub use admission::{DEFAULT_TURNS_PER_TENANT, Slot};
pub use daily::DEFAULT_EVENTS_PER_DAY;
use daily::DailyEvents;
use live::LiveFeeds;
pub use live::{LiveSession, SESSION_QUEUE};
use memory::GuestMemory;
pub use memory::{DEFAULT_HOST_BUDGET, DEFAULT_TENANT_BUDGET};
use outbox::OutboxSignal;
pub use outbox::{OutboxEntry, OutboxPage, can_send};

/// How long timers of a tenant that is not loaded wait before the next try.
const ORPHAN_RETRY_MS: i64 = 60 * 60 * 1000;
/// When timers of a tenant that start-up is still loading are tried again.
const LOADING_RETRY_MS: i64 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("unknown tenant {0:?}")]
    UnknownTenant(String),
    /// Named at start-up but not served: still loading, or it failed to
    /// load (the operator's log and `/v1/admin/tenants` say why).
    #[error("tenant {0:?} is not available")]
    Unavailable(String),
    #[error("tenant {tenant:?} has no conversation {conversation:?}")]
    UnknownConversation { tenant: String, conversation: String },
    #[error("the flow declares no timer kind {0:?}")]
    UnknownTimerKind(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("failed to set up tenant {tenant:?}: {message}")]
    Setup { tenant: String, message: String },
    /// A reload found problems; the tenant keeps running what it had.
    #[error("tenant {tenant:?} was not reloaded: {problems}")]
    Invalid { tenant: String, problems: String },
    /// The tenant wrote its quota of events today; new messages wait.
    #[error("tenant {tenant:?} reached its {limit} events today")]
    DailyQuota { tenant: String, limit: u64, retry_after_secs: u64 },
}

/// One inbound customer message, channel-neutral.
#[derive(Debug, Clone)]
pub struct InboundMessage {
    pub channel: Channel,
    /// The customer. Their id names the conversation, so the same id on
    /// another channel continues the same conversation.
    pub contact: Contact,
    pub text: String,
    pub payload: Option<String>,
    /// The provider's id for the message; a repeat is answered once only.
    pub message_id: Option<String>,
    pub at: i64,
}

/// How many timers fired or were skipped (too late, window closed) in these turns.
pub fn timers_settled(outcomes: &[TurnOutcome]) -> usize {
    outcomes
        .iter()
        .flat_map(|outcome| &outcome.events)
        .filter(|event| matches!(event.body, EventBody::TimerFired { .. } | EventBody::TimerSkipped { .. }))
        .count()
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TurnOutcome {
    pub conversation: String,
    /// `{text, quick_replies: [{title, payload}]}` each.
    #[schema(value_type = Vec<Object>)]
    pub replies: Vec<Outbound>,
    /// The turn's domain events: `{at, tenant, conversation, channel, type, data}`.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<DomainEvent>,
    /// `{"status": "bot" | "human" | "ended", ...}`.
    #[schema(value_type = Object)]
    pub status: Status,
    /// The message id was seen before: nothing was done.
    pub duplicate: bool,
}

#[derive(Debug)]
pub struct Engine {
    store: Store,
    runtime: Arc<Runtime>,
    kv: Arc<dyn KvBackend>,
    tenants: RwLock<HashMap<String, Arc<Tenant>>>,
    /// Tenants that are known but not served, and why (see [`Unavailable`]).
    unavailable: RwLock<HashMap<String, Unavailable>>,
    /// Components by hash, for conversations pinned to a replaced version.
    components: Mutex<HashMap<String, Plugin>>,
    flows: Mutex<HashMap<(String, String), Arc<Flow>>>,
    /// One lock per conversation with a turn in progress; see [`TurnLocks`].
    turns: Arc<TurnLocks>,
    /// Per-tenant slots on the blocking pool, and what is running there.
    admission: Admission,
    /// Web chat replies as they are committed, for open WebSocket sessions.
    live: LiveFeeds,
    /// Tenants whose outbox gained entries, for the delivery worker.
    outbox: OutboxSignal,
    /// Guest memory reserved by steps in flight, per tenant and in all.
    memory: GuestMemory,
    /// Plugin `kv` state per tenant, unless its tenant.toml says otherwise.
    kv_quota: KvQuota,
    /// Events committed per tenant today, and the quota on them.
    daily: DailyEvents,
    events_per_day: u64,
}

/// Why a known tenant is not served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// Start-up is still loading it.
    Loading,
    /// It did not load; the problems, for the operator only.
    Failed(String),
}

impl Engine {
    pub fn new(store: Store, runtime: Arc<Runtime>) -> Self {
        let kv: Arc<dyn KvBackend> = Arc::new(store.plugin_kv());
        Self {
            store,
            runtime,
            kv,
            tenants: RwLock::default(),
            unavailable: RwLock::default(),
            components: Mutex::default(),
            flows: Mutex::default(),
            turns: Arc::default(),
            admission: Admission::new(DEFAULT_TURNS_PER_TENANT),
            live: LiveFeeds::default(),
            outbox: OutboxSignal::default(),
            memory: GuestMemory::default(),
            kv_quota: KvQuota::default(),
            daily: DailyEvents::default(),
            events_per_day: DEFAULT_EVENTS_PER_DAY,
        }
    }

    /// At most `turns` turns of one tenant run at once (see [`Engine::slot`]).
    pub fn with_turns_per_tenant(mut self, turns: usize) -> Self {
        self.admission = Admission::new(turns);
        self
    }

    /// Steps of one tenant may hold at most `per_tenant` bytes of guest
    /// memory at once, and all tenants' steps at most `host` (see `memory.rs`).
    pub fn with_guest_memory(mut self, per_tenant: u64, host: u64) -> Self {
        self.memory = GuestMemory::new(per_tenant, host);
        self
    }

    /// Each tenant's plugins keep at most this much `kv` state together,
    /// unless its tenant.toml's `[quotas]` says otherwise.
    pub fn with_kv_quota(mut self, quota: KvQuota) -> Self {
        self.kv_quota = quota;
        self
    }

    /// A tenant whose committed events today reach `events` takes no new
    /// inbound message until the next UTC day (see `daily.rs`), unless its
    /// tenant.toml's `[quotas] events_per_day` says otherwise.
    pub fn with_events_per_day(mut self, events: u64) -> Self {
        self.events_per_day = events;
        self
    }

    /// Wait, without holding a thread, until `tenant` may start another
    /// turn; hold the slot while it runs. A tenant at its cap waits in its
    /// own queue, so its flood never takes the blocking pool from others.
    pub async fn slot(&self, tenant: &str) -> Slot {
        self.admission.slot(tenant).await
    }

    /// Turns that have run longer than `limit`, `(tenant, running for)`:
    /// with every step bounded by its deadline, these are stuck.
    pub fn stuck(&self, limit: std::time::Duration) -> Vec<(String, std::time::Duration)> {
        self.admission.stuck(limit)
    }

    /// [`Engine::handle`] from async code: waits for the tenant's slot and
    /// the conversation's turn lock without holding a thread, then runs the
    /// turn on the blocking pool.
    pub async fn handle_async(
        self: &Arc<Self>,
        tenant: String,
        message: InboundMessage,
    ) -> Result<TurnOutcome, EngineError> {
        let conversation = self.conversation_of(&tenant, &message.contact.id)?;
        // The conversation's lock first: a turn waiting behind another of
        // its conversation holds none of the tenant's slots meanwhile.
        let held = self.turns.hold_async(&tenant, &conversation).await;
        let slot = self.slot(&tenant).await;
        let engine = Arc::clone(self);
        let turn = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            let started = std::time::Instant::now();
            let applied = engine.apply_message(&tenant, message, Some(held));
            engine.store.durable()?;
            crate::telemetry::turn(&tenant, started.elapsed());
            Ok(engine.announce(applied?))
        });
        turn.await.unwrap_or_else(|joined| {
            Err(EngineError::Setup {
                tenant: String::new(),
                message: format!("a turn failed to run: {joined}"),
            })
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Wait until some tenant's outbox gains entries, and take the set of
    /// those tenants: the delivery worker's wake-up, so it never polls.
    pub async fn outbox_changed(&self) -> std::collections::HashSet<String> {
        self.outbox.changed().await
    }

    /// Tell the delivery worker that `tenant`'s outbox has entries (after a
    /// re-drive, or at start-up for what a crash left behind).
    pub fn outbox_ready(&self, tenant: &str) {
        self.outbox.mark(tenant);
    }

    /// The replies committed for web chat visitor `to` of `tenant` from
    /// now on (the bot's answers, an agent's replies, what timers send),
    /// for one open session.
    pub fn subscribe(&self, tenant: &str, to: &str) -> LiveSession {
        self.live.subscribe(tenant, to)
    }

    /// Push committed replies to a web chat visitor's open sessions (nobody
    /// listening is fine).
    fn publish(&self, tenant: &str, to: &str, replies: &[Outbound]) {
        self.live.publish(tenant, to, replies);
    }

    /// Add or replace a tenant. Its flow source and components go to the store
    /// first, so conversations pinned to this version survive later reloads
    /// and restarts.
    pub fn add_tenant(&self, tenant: Tenant) -> Result<(), EngineError> {
        self.store.put_flow(&tenant.name, &tenant.flow.version, &tenant.flow_source)?;
        for binding in tenant.plugins.values() {
            let bytes = std::fs::read(&binding.component).map_err(|error| EngineError::Setup {
                tenant: tenant.name.clone(),
                message: format!("{}: {error}", binding.component.display()),
            })?;
            self.store.put_blob(&bytes)?;
            lock(&self.components).insert(binding.plugin.hash().to_string(), binding.plugin.clone());
        }
        lock(&self.flows).insert((tenant.name.clone(), tenant.flow.version.clone()), tenant.flow.clone());
        write(&self.unavailable).remove(&tenant.name);
        let name = tenant.name.clone();
        self.tenants
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(name.clone(), Arc::new(tenant));
        // What it left unsent (a crash, credentials it has only now) goes out.
        self.outbox.mark(&name);
        Ok(())
    }

    /// Load a tenant again from its directory. If anything in it is wrong,
    /// the running version stays and the problems are returned. Running
    /// conversations keep the versions they started with.
    pub fn reload(
        &self,
        name: &str,
        vars: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Arc<Tenant>, EngineError> {
        let current = self.tenant(name)?;
        let reloaded =
            Tenant::load(&current.dir, &current.plugin_dir, &self.runtime, vars).map_err(|error| {
                EngineError::Invalid { tenant: name.to_owned(), problems: format!("{error:#}") }
            })?;
        if reloaded.name != name {
            return Err(EngineError::Invalid {
                tenant: name.to_owned(),
                problems: format!("tenant.toml now names the tenant {:?}", reloaded.name),
            });
        }
        self.add_tenant(reloaded)?;
        self.tenant(name)
    }

    /// Stop serving a tenant. Its stored conversations, events and timers
    /// stay (its timers wait, parked, in case it comes back).
    pub fn remove_tenant(&self, name: &str) -> Result<Arc<Tenant>, EngineError> {
        let mut tenants = self.tenants.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        tenants.remove(name).ok_or_else(|| EngineError::UnknownTenant(name.to_owned()))
    }

    pub fn tenant(&self, name: &str) -> Result<Arc<Tenant>, EngineError> {
        let tenants = self.tenants.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(tenant) = tenants.get(name) {
            return Ok(tenant.clone());
        }
        match read(&self.unavailable).contains_key(name) {
            true => Err(EngineError::Unavailable(name.to_owned())),
            false => Err(EngineError::UnknownTenant(name.to_owned())),
        }
    }

    /// Record that `name` is known but not served, and why. A tenant that
    /// loads later (`add_tenant`) is served again.
    pub fn mark_unavailable(&self, name: &str, why: Unavailable) {
        if !read(&self.tenants).contains_key(name) {
            write(&self.unavailable).insert(name.to_owned(), why);
        }
    }

    fn is_loading(&self, name: &str) -> bool {
        read(&self.unavailable).get(name) == Some(&Unavailable::Loading)
    }

    /// Forget that `name` was expected (it loaded under another name).
    pub fn forget_unavailable(&self, name: &str) {
        write(&self.unavailable).remove(name);
    }

    /// The tenants not served, and why, by name.
    pub fn unavailable(&self) -> Vec<(String, Unavailable)> {
        let mut list: Vec<_> =
            read(&self.unavailable).iter().map(|(n, why)| (n.clone(), why.clone())).collect();
        list.sort_by(|a, b| a.0.cmp(&b.0));
        list
    }

    pub fn tenant_names(&self) -> Vec<String> {
        let tenants = self.tenants.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut names: Vec<String> = tenants.keys().cloned().collect();
        names.sort();
        names
    }

    /// Handle one inbound message: the whole turn, persisted and flushed.
    pub fn handle(&self, tenant_name: &str, message: InboundMessage) -> Result<TurnOutcome, EngineError> {
        let mut outcomes = self.handle_many(tenant_name, vec![message])?;
        Ok(outcomes.pop().expect("one outcome per message"))
    }

    /// Handle several inbound messages in order (a webhook that carries a
    /// batch, or a caller with many conversations in flight), sharing one
    /// disk sync: every turn is applied as it is handled, and all are on
    /// disk before this returns. One outcome per message, in order.
    ///
    /// A conversation's turn lock is released once its turn is applied, so
    /// its next message may be handled before this one is on disk. That is
    /// safe because sled's log is ordered: whatever acknowledges the later
    /// turn syncs the earlier one too, and nothing reads a turn back to
    /// acknowledge or send it without syncing first (duplicates, the outbox).
    pub fn handle_many(
        &self,
        tenant_name: &str,
        messages: Vec<InboundMessage>,
    ) -> Result<Vec<TurnOutcome>, EngineError> {
        let started = std::time::Instant::now();
        let mut applied = Vec::with_capacity(messages.len());
        for message in messages {
            match self.apply_message(tenant_name, message, None) {
                Ok(turn) => applied.push(turn),
                Err(error) => {
                    // What was applied is kept: a retry finds it a duplicate.
                    self.store.durable()?;
                    return Err(error);
                }
            }
        }
        self.store.durable()?;
        let took = started.elapsed();
        Ok(applied
            .into_iter()
            .map(|turn| {
                crate::telemetry::turn(tenant_name, took);
                self.announce(turn)
            })
            .collect())
    }

    /// One inbound message's turn, applied to the store but not yet synced.
    /// `held` is the conversation's turn lock if the caller took it already.
    fn apply_message(
        &self,
        tenant_name: &str,
        message: InboundMessage,
        held: Option<TurnGuard>,
    ) -> Result<Applied, EngineError> {
        let _working = self.admission.working(tenant_name);
        let tenant = self.tenant(tenant_name)?;
        let limit = tenant.quotas.events_per_day.unwrap_or(self.events_per_day);
        if let Err(retry_after_secs) = self.daily.check(tenant_name, limit, message.at) {
            metrics::counter!("switchboard_messages_refused_total", "reason" => "events_per_day")
                .increment(1);
            return Err(EngineError::DailyQuota { tenant: tenant_name.to_owned(), limit, retry_after_secs });
        }
        let channel_name = message.channel.as_str();
        let identity = message.contact.id.clone();
        let conversation_id = self.conversation_of(tenant_name, &identity)?;
        if let Some(id) = &message.message_id
            && self.store.seen(tenant_name, channel_name, id)?
        {
            return Ok(Applied::duplicate(tenant_name, self.duplicate(tenant_name, &conversation_id)?));
        }
        // The identity may have been linked elsewhere since the caller locked.
        let _turn = match held {
            Some(held) if held.key == (tenant_name.to_owned(), conversation_id.clone()) => held,
            _ => self.turns.hold(tenant_name, &conversation_id),
        };

        let span = tracing::info_span!("turn", tenant = tenant_name, conversation = %conversation_id);
        let _entered = span.enter();
        let (mut stored, new) = match self.store.conversation(tenant_name, &conversation_id)? {
            Some(stored) => (stored, false),
            None => {
                let conversation = Conversation::new(
                    &conversation_id,
                    tenant_name,
                    message.channel,
                    message.contact.clone(),
                    &tenant.flow,
                    message.at,
                );
                (StoredConversation::new(conversation, tenant.pins()), true)
            }
        };
        // Replies go to the channel and identity the customer wrote from last.
        stored.conversation.channel = message.channel;
        stored.conversation.contact.id = identity;
        if stored.conversation.contact.display_name.is_none() {
            stored.conversation.contact.display_name = message.contact.display_name.clone();
        }
        if matches!(stored.conversation.status, Status::Ended { .. }) {
            // A fresh round starts on the tenant's current versions.
            stored.conversation.flow_version = tenant.flow.version.clone();
            stored.plugin_pins = tenant.pins();
        }
        let flow = self.flow_for(&tenant, &stored.conversation.flow_version, &stored.plugin_pins)?;
        let inbound =
            Inbound { text: message.text.clone(), payload: message.payload.clone(), at: message.at };
        let mut plugins = RuntimePlugins { engine: self, tenant: &tenant, pins: &stored.plugin_pins };
        let setting = Setting { flow: &flow, calendar: &tenant.calendar };
        let effects = stored.conversation.handle(setting, &inbound, &mut plugins);
        let mut verified =
            if tenant.link_by_contact { verified_contact_points(&flow, &effects) } else { Vec::new() };
        if tenant.link_by_contact && new && message.channel == Channel::Whatsapp {
            // A WhatsApp id is a phone number WhatsApp has verified.
            let identity = &stored.conversation.contact.id;
            let wa_id = Identity::id_on(identity, Channel::Whatsapp).unwrap_or(identity);
            verified.push(("phone", format!("+{wa_id}")));
        }
        let applied = self.apply(
            &tenant,
            &stored,
            effects,
            message.message_id.as_deref().map(|id| (channel_name, id)),
        )?;
        for (kind, value) in verified {
            self.link_by_contact_point(&stored.conversation, kind, &value, message.at)?;
        }
        Ok(applied)
    }

    /// The same phone or email verified by two conversations is one
    /// customer: the later identity continues the earlier conversation.
    fn link_by_contact_point(
        &self,
        conversation: &Conversation,
        kind: &str,
        value: &str,
        now: i64,
    ) -> Result<(), EngineError> {
        let tenant = &conversation.tenant;
        let owner = self.store.claim_contact_point(tenant, kind, value, &conversation.id)?;
        if owner == conversation.id || self.store.conversation(tenant, &owner)?.is_none() {
            return Ok(());
        }
        let identity = &conversation.contact.id;
        let linked = EventBody::ContactLinked {
            identity: identity.clone(),
            conversation: owner.clone(),
            by: kind.to_owned(),
        };
        let event = conversation.event(now, linked);
        let in_owner = DomainEvent { conversation: owner.clone(), ..event.clone() };
        self.store.link_identity(tenant, identity, &owner, &[event, in_owner])?;
        Ok(())
    }

    /// The conversation an identity (`telegram:42`) continues: its own,
    /// unless it was linked to one this customer started elsewhere.
    fn conversation_of(&self, tenant: &str, identity: &str) -> Result<String, EngineError> {
        Ok(self.store.linked_conversation(tenant, identity)?.unwrap_or_else(|| identity.to_owned()))
    }

    /// Link a channel identity to a conversation (an agent's explicit link,
    /// or WhatsApp's `user_changed_number`): its messages continue there.
    pub fn link_identity(
        &self,
        tenant: &str,
        identity: &str,
        conversation: &str,
        by: &str,
        now: i64,
    ) -> Result<(), EngineError> {
        self.tenant(tenant)?;
        let target = self.conversation_of(tenant, conversation)?;
        let Some(stored) = self.store.conversation(tenant, &target)? else {
            return Err(EngineError::UnknownConversation { tenant: tenant.to_owned(), conversation: target });
        };
        let linked = EventBody::ContactLinked {
            identity: identity.to_owned(),
            conversation: target.clone(),
            by: by.to_owned(),
        };
        let event = stored.conversation.event(now, linked);
        self.store.link_identity(tenant, identity, &target, &[event])?;
        Ok(())
    }

    /// An agent hands a conversation back to the bot.
    pub fn hand_back(
        &self,
        tenant: &str,
        conversation: &str,
        agent: &str,
        now: i64,
    ) -> Result<TurnOutcome, EngineError> {
        self.agent_action(tenant, conversation, |conversation| conversation.hand_back(agent, now))
    }

    /// An agent closes a conversation.
    pub fn close(&self, tenant: &str, conversation: &str, now: i64) -> Result<TurnOutcome, EngineError> {
        self.agent_action(tenant, conversation, |conversation| conversation.close("closed", now))
    }

    /// An agent writes to the customer.
    pub fn agent_reply(
        &self,
        tenant: &str,
        conversation: &str,
        text: &str,
        now: i64,
    ) -> Result<TurnOutcome, EngineError> {
        self.agent_action(tenant, conversation, |conversation| conversation.agent_reply(text, now))
    }

    /// Cancel one of a conversation's pending timers (an agent, through the API).
    pub fn cancel_timer(
        &self,
        tenant: &str,
        conversation: &str,
        key: &str,
        now: i64,
    ) -> Result<TurnOutcome, EngineError> {
        self.agent_action(tenant, conversation, |conversation| conversation.cancel_timer(key, "agent", now))
    }

    /// Record a provider's receipt for a message sent to `recipient` on
    /// `channel`, in the conversation that identity continues; receipts for
    /// unknown conversations are ignored. A
    /// provider's retry of the same receipt is recorded once.
    pub fn record_status(
        &self,
        tenant: &str,
        channel: Channel,
        recipient: &str,
        body: EventBody,
        dedupe_id: &str,
        now: i64,
    ) -> Result<bool, EngineError> {
        self.tenant(tenant)?;
        let identity = Identity::new(channel, recipient).to_string();
        let conversation = self.conversation_of(tenant, &identity)?;
        let Some(stored) = self.store.conversation(tenant, &conversation)? else { return Ok(false) };
        let event = stored.conversation.event(now, body);
        let written = self.store.append_events(
            tenant,
            std::slice::from_ref(&event),
            Some((channel.as_str(), dedupe_id)),
        )?;
        if written == Committed::Written {
            crate::telemetry::events(tenant, &[event]);
        }
        Ok(written == Committed::Written)
    }

    /// Set a timer of a kind the conversation's flow declares, due at `due_at`.
    pub fn schedule_timer(
        &self,
        tenant: &str,
        conversation: &str,
        kind: &str,
        due_at: i64,
        now: i64,
    ) -> Result<TurnOutcome, EngineError> {
        self.with_conversation(tenant, conversation, |conversation, setting| {
            conversation
                .schedule_timer(setting, kind, due_at, now)
                .ok_or_else(|| EngineError::UnknownTimerKind(kind.to_owned()))
        })
    }

    /// An approver approves or rejects an internal request.
    pub fn decide(
        &self,
        tenant: &str,
        conversation: &str,
        approved: bool,
        by: &str,
        note: Option<&str>,
        now: i64,
    ) -> Result<TurnOutcome, EngineError> {
        self.agent_action(tenant, conversation, |conversation| conversation.decide(approved, by, note, now))
    }

    /// Fire a page of due timers (from [`Store::due_timers`]): one atomic
    /// write per conversation, one disk sync for the page, then the page's
    /// index entries are settled (or, if firing failed, handed out again).
    /// Each conversation's timers fire under its turn lock, so they
    /// interleave with its messages in a definite order. Returns what each
    /// conversation did; an entry whose timer was already fired, moved or
    /// cancelled does nothing.
    pub fn fire_due(&self, due: &[DueTimer], now: i64) -> Result<Vec<TurnOutcome>, EngineError> {
        match self.fire_page(due, now) {
            Ok(outcomes) => {
                self.store.settle_timers(due, now)?;
                Ok(outcomes)
            }
            Err(error) => {
                self.store.release_timers(due.to_vec());
                Err(error)
            }
        }
    }

    fn fire_page(&self, due: &[DueTimer], now: i64) -> Result<Vec<TurnOutcome>, EngineError> {
        let mut by_conversation: BTreeMap<(&str, &str), Vec<&DueTimer>> = BTreeMap::new();
        for timer in due {
            by_conversation.entry((&timer.tenant, &timer.conversation)).or_default().push(timer);
        }
        // Locks are taken in key order, and only the scheduler takes more than one.
        let mut held = Vec::with_capacity(by_conversation.len());
        let mut fired = Vec::with_capacity(by_conversation.len());
        let mut parked = Vec::new();
        for ((tenant_name, conversation_id), timers) in by_conversation {
            let Ok(tenant) = self.tenant(tenant_name) else {
                // The tenant is not loaded: try again later rather than drop
                // the timer or let it block the index; soon if start-up is
                // still loading it (its timers due during downtime are due).
                let retry = if self.is_loading(tenant_name) { LOADING_RETRY_MS } else { ORPHAN_RETRY_MS };
                parked.extend(timers.into_iter().map(|timer| (timer, Some(now + retry))));
                continue;
            };
            held.push(self.turns.hold(tenant_name, conversation_id));
            let _working = self.admission.working(tenant_name);
            // A conversation that is gone has nothing to fire.
            let Some(mut stored) = self.store.conversation(tenant_name, conversation_id)? else { continue };
            let flow = self.flow_for(&tenant, &stored.conversation.flow_version, &stored.plugin_pins)?;
            let setting = Setting { flow: &flow, calendar: &tenant.calendar };
            // Every timer of this conversation due by now, not only those on
            // this page: after downtime, one turn instead of one each. An
            // entry the conversation disagrees with (its timer fired, moved
            // or cancelled since) fires nothing.
            let effects = stored.conversation.fire_due_timers(setting, now);
            if effects == Effects::default() {
                continue;
            }
            let outbox = outbox::entries(&tenant, &stored, &effects);
            fired.push((tenant, stored, effects, outbox));
        }
        let turns: Vec<(&str, TurnRecord<'_>)> = fired
            .iter()
            .map(|(tenant, stored, effects, outbox)| {
                let record = TurnRecord {
                    stored,
                    events: &effects.events,
                    dedupe: None,
                    outbox,
                    timers: &effects.timers,
                };
                (tenant.name.as_str(), record)
            })
            .collect();
        self.store.commit_turns(&turns)?;
        drop(turns);
        let outcomes = fired
            .into_iter()
            .map(|(tenant, stored, effects, outbox)| {
                self.announce(Applied::turn(&tenant.name, &stored, effects).with_outbox(!outbox.is_empty()))
            })
            .collect();
        self.store.park_timers(&parked)?;
        drop(held);
        Ok(outcomes)
    }

    fn agent_action(
        &self,
        tenant: &str,
        conversation_id: &str,
        action: impl FnOnce(&mut Conversation) -> Effects,
    ) -> Result<TurnOutcome, EngineError> {
        self.with_conversation(tenant, conversation_id, |conversation, _| Ok(action(conversation)))
    }

    /// Run `action` on a stored conversation under its turn lock, with its
    /// pinned flow, and commit what it did.
    fn with_conversation(
        &self,
        tenant: &str,
        conversation_id: &str,
        action: impl FnOnce(&mut Conversation, Setting<'_>) -> Result<Effects, EngineError>,
    ) -> Result<TurnOutcome, EngineError> {
        let found = self.tenant(tenant)?;
        let _turn = self.turns.hold(tenant, conversation_id);
        let _working = self.admission.working(tenant);
        let mut stored = self.store.conversation(tenant, conversation_id)?.ok_or_else(|| {
            EngineError::UnknownConversation {
                tenant: tenant.to_owned(),
                conversation: conversation_id.to_owned(),
            }
        })?;
        let flow = self.flow_for(&found, &stored.conversation.flow_version, &stored.plugin_pins)?;
        let setting = Setting { flow: &flow, calendar: &found.calendar };
        let effects = action(&mut stored.conversation, setting)?;
        self.commit(&found, &stored, effects, None)
    }

    /// Apply a turn, wait until it is on disk, then announce it.
    fn commit(
        &self,
        tenant: &Tenant,
        stored: &StoredConversation,
        effects: Effects,
        dedupe: Option<(&str, &str)>,
    ) -> Result<TurnOutcome, EngineError> {
        let applied = self.apply(tenant, stored, effects, dedupe)?;
        self.store.durable()?;
        Ok(self.announce(applied))
    }

    /// Apply a turn to the store, not yet synced: see [`Engine::handle_many`].
    fn apply(
        &self,
        tenant: &Tenant,
        stored: &StoredConversation,
        effects: Effects,
        dedupe: Option<(&str, &str)>,
    ) -> Result<Applied, EngineError> {
        let outbox = outbox::entries(tenant, stored, &effects);
        let tenant = tenant.name.as_str();
        let record =
            TurnRecord { stored, events: &effects.events, dedupe, outbox: &outbox, timers: &effects.timers };
        if self.store.apply_turn(tenant, &record)? == Committed::Duplicate {
            return Ok(Applied::duplicate(tenant, self.duplicate(tenant, &stored.conversation.id)?));
        }
        Ok(Applied::turn(tenant, stored, effects).with_outbox(!outbox.is_empty()))
    }

    /// Once a turn is on disk: count its events and push its web chat replies.
    fn announce(&self, applied: Applied) -> TurnOutcome {
        let Applied { tenant, web_chat, outbox, outcome } = applied;
        crate::telemetry::events(&tenant, &outcome.events);
        if let Some(last) = outcome.events.last() {
            self.daily.count(&tenant, outcome.events.len(), last.at);
        }
        if let Some(to) = web_chat {
            self.publish(&tenant, &to, &outcome.replies);
        }
        if outbox {
            self.outbox.mark(&tenant);
        }
        outcome
    }

    /// A repeat of a message already handled: nothing to do, but the first
    /// may have been applied and not yet synced, so sync before answering.
    fn duplicate(&self, tenant: &str, conversation: &str) -> Result<TurnOutcome, EngineError> {
        self.store.durable()?;
        let status = self
            .store
            .conversation(tenant, conversation)?
            .map_or(Status::Bot, |stored| stored.conversation.status);
        Ok(TurnOutcome {
            conversation: conversation.to_owned(),
            replies: Vec::new(),
            events: Vec::new(),
            status,
            duplicate: true,
        })
    }

    /// The flow a conversation is pinned to: the current one, one seen
    /// earlier in this process, or one from the store.
    fn flow_for(
        &self,
        tenant: &Tenant,
        version: &str,
        pins: &BTreeMap<String, String>,
    ) -> Result<Arc<Flow>, EngineError> {
        if tenant.flow.version == version {
            return Ok(tenant.flow.clone());
        }
        let key = (tenant.name.clone(), version.to_owned());
        if let Some(flow) = lock(&self.flows).get(&key) {
            return Ok(flow.clone());
        }
        let Some(source) = self.store.flow(&tenant.name, version)? else {
            tracing::warn!(tenant = %tenant.name, version, "pinned flow version is gone; using the current one");
            return Ok(tenant.flow.clone());
        };
        let bound: BTreeSet<String> = pins.keys().cloned().collect();
        match Flow::parse(version, &source, &bound) {
            Ok(flow) => {
                let flow = Arc::new(flow);
                lock(&self.flows).insert(key, flow.clone());
                Ok(flow)
            }
            Err(problems) => {
                tracing::warn!(tenant = %tenant.name, version, %problems, "pinned flow no longer parses; using the current one");
                Ok(tenant.flow.clone())
            }
        }
    }

    /// The component a conversation pinned under `hash`.
    fn pinned_component(&self, hash: &str) -> Option<Plugin> {
        if let Some(plugin) = lock(&self.components).get(hash) {
            return Some(plugin.clone());
        }
        let bytes = self.store.blob(hash).ok()??;
        let plugin = self.runtime.load(&bytes).ok()?;
        lock(&self.components).insert(hash.to_owned(), plugin.clone());
        Some(plugin)
    }
}

/// A turn applied to the store and not yet announced.
struct Applied {
    tenant: String,
    /// The visitor's identity, for a web chat conversation.
    web_chat: Option<String>,
    /// Whether the turn left entries in the outbox.
    outbox: bool,
    outcome: TurnOutcome,
}

impl Applied {
    /// A turn of `stored` that produced `effects`.
    fn turn(tenant: &str, stored: &StoredConversation, effects: Effects) -> Self {
        let conversation = &stored.conversation;
        Self {
            tenant: tenant.to_owned(),
            web_chat: (conversation.channel == Channel::Webchat).then(|| conversation.contact.id.clone()),
            outbox: false,
            outcome: TurnOutcome {
                conversation: conversation.id.clone(),
                replies: effects.outbound,
                events: effects.events,
                status: conversation.status.clone(),
                duplicate: false,
            },
        }
    }

    /// A duplicate has nothing to announce.
    fn duplicate(tenant: &str, outcome: TurnOutcome) -> Self {
        Self { tenant: tenant.to_owned(), web_chat: None, outbox: false, outcome }
    }

    fn with_outbox(self, outbox: bool) -> Self {
        Self { outbox, ..self }
    }
}

/// Serialises turns per conversation. Entries exist only while a turn holds
/// or waits for them, so the map stays as small as the work in flight.
#[derive(Debug, Default)]
struct TurnLocks {
    locks: Mutex<HashMap<ConversationKey, Arc<tokio::sync::Mutex<()>>>>,
}

/// `(tenant, conversation)`.
type ConversationKey = (String, String);

impl TurnLocks {
    /// Block until no other turn of this conversation runs; it stays ours
    /// until the guard drops. Call from a blocking context, never async.
    fn hold(self: &Arc<Self>, tenant: &str, conversation: &str) -> TurnGuard {
        let (key, entry) = self.entry(tenant, conversation);
        TurnGuard { locks: self.clone(), key, guard: Some(entry.blocking_lock_owned()) }
    }

    /// [`TurnLocks::hold`] for async callers: waits without a thread.
    async fn hold_async(self: &Arc<Self>, tenant: &str, conversation: &str) -> TurnGuard {
        let (key, entry) = self.entry(tenant, conversation);
        TurnGuard { locks: self.clone(), key, guard: Some(entry.lock_owned().await) }
    }

    fn entry(&self, tenant: &str, conversation: &str) -> (ConversationKey, Arc<tokio::sync::Mutex<()>>) {
        let key = (tenant.to_owned(), conversation.to_owned());
        let entry = lock(&self.locks).entry(key.clone()).or_default().clone();
        (key, entry)
    }
}

struct TurnGuard {
    locks: Arc<TurnLocks>,
    key: ConversationKey,
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

/// Plugin calls for one turn: the conversation's pinned components, with the
/// tenant's config, limits and grants for each binding.
/// The most a step's decisions may take, encoded (replies, fields, cards).
pub const MAX_STEP_OUTPUT_BYTES: usize = 64 << 10;

struct RuntimePlugins<'a> {
    engine: &'a Engine,
    tenant: &'a Tenant,
    pins: &'a BTreeMap<String, String>,
}

/// One plugin call, ready to run: the component the conversation is pinned
/// to, the binding's config, and the call's limits and grants. Holds the
/// call's share of the tenant's guest memory until it drops.
struct PreparedCall {
    plugin: Plugin,
    config: switchboard_core::contract::PluginConfig,
    context: CallContext,
    _memory: memory::Reservation,
}

impl RuntimePlugins<'_> {
    fn prepare(&self, name: &str) -> Result<PreparedCall, StepFailed> {
        let Some(binding) = self.tenant.plugins.get(name) else {
            return Err(StepFailed {
                code: "unbound".to_owned(),
                message: format!("plugin {name:?} is not bound"),
            });
        };
        let plugin = match self.pins.get(name) {
            Some(hash) if hash != binding.plugin.hash().as_str() => {
                self.engine.pinned_component(hash).unwrap_or_else(|| binding.plugin.clone())
            }
            _ => binding.plugin.clone(),
        };
        let context = CallContext {
            plugin: name.to_owned(),
            limits: binding.limits,
            grants: binding.grants.clone(),
            kv: Some(self.engine.kv.clone()),
            kv_quota: KvQuota {
                keys: self.tenant.quotas.kv_keys.unwrap_or(self.engine.kv_quota.keys),
                bytes: self.tenant.quotas.kv_mib.map_or(self.engine.kv_quota.bytes, |mib| mib << 20),
            },
        };
        // The most this call can grow its memory to, held until it ends.
        let memory =
            self.engine.memory.reserve(&self.tenant.name, binding.limits.memory_bytes).map_err(|busy| {
                tracing::warn!(plugin = name, %busy, "step refused: guest memory budget spent");
                metrics::counter!("switchboard_steps_refused_total", "reason" => "memory_busy").increment(1);
                StepFailed { code: "memory_busy".to_owned(), message: busy.to_string() }
            })?;
        Ok(PreparedCall { plugin, config: binding.config.clone(), context, _memory: memory })
    }
}

fn step_failed(name: &str, failure: &switchboard_runtime::StepFailure) -> StepFailed {
    tracing::warn!(plugin = name, code = failure.kind.code(), "step failed: {}", failure.kind);
    StepFailed { code: failure.kind.code().to_owned(), message: failure.kind.to_string() }
}

/// Refuse a step's answer that would make a turn write (or a customer
/// receive) megabytes.
fn bounded_output(name: &str, answer: &impl serde::Serialize) -> Result<(), StepFailed> {
    let size = serde_json::to_vec(answer).map_or(usize::MAX, |encoded| encoded.len());
    if size <= MAX_STEP_OUTPUT_BYTES {
        return Ok(());
    }
    tracing::warn!(plugin = name, size, "step refused: its answer is too large");
    metrics::counter!("switchboard_steps_refused_total", "reason" => "output_too_large").increment(1);
    Err(StepFailed {
        code: "output_too_large".to_owned(),
        message: format!("the step's answer takes {size} bytes; at most {MAX_STEP_OUTPUT_BYTES} are kept"),
    })
}

impl Plugins for RuntimePlugins<'_> {
    fn call(&mut self, name: &str, mut input: StepInput) -> Result<Vec<Decision>, StepFailed> {
        let call = self.prepare(name)?;
        input.config = call.config.clone();
        let span =
            tracing::debug_span!("step", plugin = name, step = %input.step, version = %call.plugin.hash());
        let _entered = span.enter();
        let decisions = call
            .plugin
            .call(&input, call.context.clone())
            .map(|outcome| outcome.decisions)
            .map_err(|failure| step_failed(name, &failure))?;
        bounded_output(name, &decisions)?;
        Ok(decisions)
    }

    fn classify(&mut self, name: &str, mut input: ClassifyInput) -> Result<Classification, StepFailed> {
        let call = self.prepare(name)?;
        input.config = call.config.clone();
        let span = tracing::debug_span!("classify", plugin = name, version = %call.plugin.hash());
        let _entered = span.enter();
        let classification = call
            .plugin
            .classify(&input, call.context.clone())
            .map(|outcome| outcome.classification)
            .map_err(|failure| step_failed(name, &failure))?;
        bounded_output(name, &classification)?;
        Ok(classification)
    }
}

/// The phone numbers and email addresses a turn collected (validated by
/// their field's checks), as `(kind, value)`.
fn verified_contact_points(flow: &Flow, effects: &Effects) -> Vec<(&'static str, String)> {
    effects
        .events
        .iter()
        .filter_map(|event| {
            let EventBody::FieldCollected { field, value: Value::Text(value) } = &event.body else {
                return None;
            };
            let spec = flow.intents.iter().find_map(|intent| intent.field(field))?;
            match spec.kind {
                FieldKind::Phone => Some(("phone", value.clone())),
                FieldKind::Email => Some(("email", value.to_lowercase())),
                _ => None,
            }
        })
        .collect()
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these maps leaves it consistent: every
    // operation on them is a single insert or lookup.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
}
