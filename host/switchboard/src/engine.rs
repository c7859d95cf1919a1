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
//!
//! # Layout
//!
//! - `turn.rs`: a customer's message or an agent's action, as one turn.
//! - `fire.rs`: a page of due timers, fired under their turn locks.
//! - `links.rs`: which conversation a channel identity continues.
//! - `plugins.rs`: the pinned flow and components a turn calls.
//! - `locks.rs`: one turn at a time per conversation.
//! - `tenants.rs`: the tenants served, loaded and swapped whole.
//! - `reads.rs`: what the API, the scheduler and the CLI read, so that
//!   nothing outside the engine touches the store or the runtime.
//! - `outbox.rs`: what a turn leaves for delivery, and its pages.
//! - `kpis.rs`: the event log folded into per-day KPI tallies, and dashboards.
//! - `people.rs`: staff, console sessions and login links.
//! - `live.rs`, `admission.rs`, `memory.rs`, `daily.rs`: web chat feeds,
//!   per-tenant slots, guest memory budgets and daily event quotas.
//!
//! **Architecture Invariant:** the store and the runtime are private to the
//! engine. Handlers, delivery, the scheduler and the control plane reach
//! them only through the engine's methods.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use switchboard_core::contract::{Channel, Contact};
use switchboard_core::conversation::{Outbound, Status};
use switchboard_core::event::{DomainEvent, EventBody};
use switchboard_core::flow::Flow;
use switchboard_runtime::{KvBackend, KvQuota, Plugin, Runtime};
use switchboard_store::{Backend, StoreError};

use crate::tenant::Tenant;

mod admission;
mod canary;
mod catalog;
mod conversation_replay;
mod daily;
mod fire;
mod kpis;
mod links;
mod live;
mod locks;
mod memory;
mod outbox;
mod people;
mod plugins;
mod reads;
mod shadow;
mod staff_channels;
mod step_calls;
mod tenants;
mod turn;

use admission::Admission;
pub use admission::{DEFAULT_TURNS_PER_TENANT, Slot};
pub use canary::{CallStats, CanaryStanding, Rollback, version_id};
pub use conversation_replay::{ConversationReplay, MAX_CONVERSATIONS, TranscriptDifference};
pub use daily::DEFAULT_EVENTS_PER_DAY;
use daily::DailyEvents;
pub use kpis::{Granularity, KpiAnswer, KpiQuery, Period, day_name, parse_day};
use live::LiveFeeds;
pub use live::{LiveSession, SESSION_QUEUE};
use locks::TurnLocks;
use memory::GuestMemory;
pub use memory::{DEFAULT_HOST_BUDGET, DEFAULT_TENANT_BUDGET};
use outbox::OutboxSignal;
pub use outbox::{OutboxEntry, OutboxPage, can_send};
pub use people::{LINK_MS, Role, SESSION_MS, Session, StaffMember, valid_staff_id};
pub use plugins::MAX_STEP_OUTPUT_BYTES;
pub use shadow::ShadowStats;
pub use staff_channels::{may_decide, valid_staff_contact};
pub use step_calls::{CallInput, CallOutcome, REDACTED, RecordedCalls, StepCall};
pub use switchboard_store::Cutoffs as RetentionCutoffs;
pub use switchboard_store::{Failure as StoreFailure, Health as StoreHealth, Swept};
pub use tenants::Provenance;
pub use turn::fallback_name;

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
    #[error("the flow declares no signal {name:?}")]
    UnknownSignal { name: String, declared: Vec<String> },
    /// A signal the flow declares, with what it does not take.
    #[error("{0}")]
    BadSignal(String),
    /// A decision for a conversation no request of which waits for one.
    #[error("nothing there waits for a decision")]
    NothingToDecide,
    /// A person acting on what is not theirs to act on.
    #[error("{0}")]
    NotYours(String),
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
    /// A component given to replay or to the catalog that this host cannot take.
    #[error("not a component this host takes: {0}")]
    Candidate(String),
    #[error("tenant has no plugin binding {0:?}")]
    UnknownPlugin(String),
    /// Work the host does one at a time (a replay) is running already.
    #[error("{0}")]
    Busy(String),
}

impl EngineError {
    /// The store takes no writes for now: its disk filled, and it reopens
    /// once there is room (`recovery.rs`, which says so in the log).
    pub fn is_store_unwritable(&self) -> bool {
        matches!(self, Self::Store(error) if error.is_storage_full() || error.is_temporary())
    }
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

/// What the business's own systems say about a customer: [`Engine::signal`].
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    /// The customer's identity (`whatsapp:37491234567`), as their messages
    /// name it; a new one starts a conversation.
    pub to: String,
    /// Where the customer is reached: the identity's channel.
    pub channel: Channel,
    /// One of the flow's `signals`.
    pub name: String,
    pub fields: std::collections::BTreeMap<String, switchboard_core::contract::Value>,
    /// The sender's id for it: a repeat is a duplicate.
    pub id: Option<String>,
    /// For a customer not yet known: their language and name.
    pub locale: Option<String>,
    pub display_name: Option<String>,
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

/// What a turn did. The API answers with `server::wire::Turn`, built from it.
#[derive(Debug, Clone)]
pub struct TurnOutcome {
    pub conversation: String,
    pub replies: Vec<Outbound>,
    pub events: Vec<DomainEvent>,
    pub status: Status,
    /// The message id was seen before: nothing was done.
    pub duplicate: bool,
}

#[derive(Debug)]
pub struct Engine {
    store: Arc<dyn Backend>,
    runtime: Arc<Runtime>,
    kv: Arc<dyn KvBackend>,
    tenants: RwLock<HashMap<String, Arc<Tenant>>>,
    /// Tenants that are known but not served, and why (see [`Unavailable`]).
    unavailable: RwLock<HashMap<String, Unavailable>>,
    /// Components bound to a config, by version id (component and config
    /// hash), for conversations pinned to a replaced version.
    components: Mutex<HashMap<String, Plugin>>,
    /// Plugin configs by tenant and hash, for conversations pinned to a
    /// replaced one.
    configs: Mutex<HashMap<(String, String), switchboard_core::contract::PluginConfig>>,
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
    /// How long this node's claims on due timers and delivery lanes last.
    leases: Leases,
    /// Canaries' calls, and the ones withdrawn.
    canaries: canary::Canaries,
    /// Held while a replay runs: one at a time on the host.
    replaying: Mutex<()>,
    /// Shadow versions' worker and what they found.
    shadows: shadow::Shadows,
    /// One KPI fold per tenant at a time.
    folds: kpis::Folds,
}

/// Why a known tenant is not served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// Start-up is still loading it.
    Loading,
    /// It did not load; the problems, for the operator only.
    Failed(String),
}

/// How long a claim on due timers lasts: a node that dies holding one
/// leaves its timers to another after this. Firing a page takes far less.
pub const TIMER_LEASE: std::time::Duration = std::time::Duration::from_secs(60);

/// How long a node's claim on a conversation's delivery lane lasts without
/// renewal (it renews before each send): a node that dies mid-lane leaves
/// it to another after this, which sends again what it had not settled.
pub const LANE_LEASE: std::time::Duration = std::time::Duration::from_secs(30);

/// The leases a node takes on shared work (`serve --lease-ms` sets both
/// shorter, so a test can kill a node and see another take over soon).
#[derive(Debug, Clone, Copy)]
pub struct Leases {
    pub timers: std::time::Duration,
    pub lanes: std::time::Duration,
}

impl Default for Leases {
    fn default() -> Self {
        Self { timers: TIMER_LEASE, lanes: LANE_LEASE }
    }
}

impl Engine {
    /// An engine on `store`: the embedded sled store ([`switchboard_store::Store`])
    /// or any other backend of the store contract (PostgreSQL).
    pub fn new(store: impl Backend + 'static, runtime: Arc<Runtime>) -> Self {
        Self::on(Arc::new(store), runtime)
    }

    /// [`Engine::new`] on a backend already shared.
    pub fn on(store: Arc<dyn Backend>, runtime: Arc<Runtime>) -> Self {
        let kv = store.plugin_kv();
        let live = LiveFeeds::default();
        match store.live_feed() {
            Ok(Some(feed)) => live.relay(feed),
            Ok(None) => {}
            Err(error) => tracing::error!(%error, "live web chat across nodes did not start"),
        }
        Self {
            store,
            runtime,
            kv,
            tenants: RwLock::default(),
            unavailable: RwLock::default(),
            components: Mutex::default(),
            configs: Mutex::default(),
            flows: Mutex::default(),
            turns: Arc::default(),
            admission: Admission::new(DEFAULT_TURNS_PER_TENANT),
            live,
            outbox: OutboxSignal::default(),
            memory: GuestMemory::default(),
            kv_quota: KvQuota::default(),
            daily: DailyEvents::default(),
            events_per_day: DEFAULT_EVENTS_PER_DAY,
            leases: Leases::default(),
            canaries: canary::Canaries::default(),
            replaying: Mutex::default(),
            shadows: shadow::Shadows::default(),
            folds: kpis::Folds::default(),
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

    /// Claims on due timers and delivery lanes last this long.
    pub fn with_leases(mut self, leases: Leases) -> Self {
        self.leases = leases;
        self
    }

    pub fn leases(&self) -> Leases {
        self.leases
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
    /// listening is fine): here, or through the store to every node when
    /// others share it (the visitor's session may be on any).
    fn publish(&self, tenant: &str, to: &str, replies: &[Outbound]) {
        if !self.store.shared() {
            self.live.publish(tenant, to, replies);
            return;
        }
        let published = serde_json::to_vec(replies).map_err(|error| error.to_string()).and_then(|replies| {
            let live =
                switchboard_store::LiveReplies { tenant: tenant.to_owned(), to: to.to_owned(), replies };
            self.store.publish_live(&live).map_err(|error| error.to_string())
        });
        if let Err(error) = published {
            // Committed all the same: the visitor's transcript has them.
            tracing::warn!(tenant, %error, "live replies were not published to the other nodes");
        }
    }
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
