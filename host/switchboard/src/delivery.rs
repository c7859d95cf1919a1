//! Sending replies back through the providers, from a durable outbox.
//!
//! A turn on a provider channel commits its replies as outbox entries in the
//! same atomic write as the turn itself (`engine/outbox.rs`), so a reply is
//! never lost between deciding it and sending it. The engine wakes the
//! worker here when a tenant's outbox gains entries, the way it wakes open
//! web chat sessions; nothing polls.
//!
//! The worker ([`Worker`]) is one dispatcher and many lanes:
//! - A **lane** sends one conversation's due entries, in order, and stops at
//!   the first that has to wait, so replies of a conversation never pass
//!   each other. A conversation has at most one lane at a time.
//! - The **dispatcher** reads each woken tenant's outbox in pages, skips the
//!   conversations that have a lane or are backing off (so they never starve
//!   the ones behind them), and starts lanes up to [`Limits::tenant`] per
//!   tenant. Sends across the host are bounded by [`Limits::host`], so one
//!   tenant's slow or hanging provider holds its own lanes and no one else's.
//! - Sends are paced to the providers' own limits ([`Pace`]): WhatsApp per
//!   sending number, Telegram per bot and per chat, Meta per page.
//!
//! What a send's outcome does to its entry:
//! - accepted: removed, with `message.delivered`;
//! - a timeout, a connection failure, 429 or 5xx: `message.failed` (not
//!   given up) and tried again after a capped, jittered backoff, for as long
//!   as it takes. Once the provider accepts anything again on that channel,
//!   waiting entries go at once rather than at their backoff;
//! - refused for good (another 4xx, a destination the operator does not
//!   allow): removed, with `message.failed` and `gave_up`;
//! - cannot go out as it is (the channel's credentials are gone or refused,
//!   or the 24 h messaging window closed and the channel has no
//!   `window_fallback`): parked, with `message.parked`. The API lists parked
//!   entries and re-drives them (`/v1/tenants/{t}/outbox/parked`).
//!
//! Nothing is discarded without an event. An entry is removed only after
//! the provider accepted it, so a crash between the two sends it again on
//! restart: delivery is at least once. The entry's sequence number goes with
//! it as an idempotency key (`Idempotency-Key`), for providers and proxies
//! that honour one.
//!
//! Every send connects through the runtime's outbound policy
//! (`switchboard_runtime::OutboundPolicy`, the one plugins' HTTP uses): an
//! `api_base` or handoff webhook that resolves to loopback, a private or a
//! link-local address is refused before any connection, unless the operator
//! allowed it, and the tenant reads only `destination not allowed`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard_core::contract::Channel;
use switchboard_core::conversation::OutsideWindow;
use switchboard_core::event::{DomainEvent, EventBody};
use tokio::sync::{Semaphore, mpsc};

use crate::engine::{Engine, EngineError, OutboxPage};
use crate::tenant::Tenant;

pub mod client;
mod pace;
mod render;

pub use crate::engine::OutboxEntry;
pub use client::{Client, NOT_ALLOWED, SendFailure, UNREACHABLE};
pub use pace::Pace;

/// How many entries the dispatcher reads at a time.
const PAGE: usize = 256;

/// How often a node looks for replies other nodes committed, when the
/// store is shared (each node is told of its own at once).
const LOOK_EVERY: Duration = Duration::from_secs(1);
/// The longest wait between two attempts at one entry.
const MAX_BACKOFF_MS: i64 = 30_000;
/// How often a failing channel is tried while its entries back off.
const PROBE_MS: i64 = 2_000;
/// Failed attempts after which an entry is parked rather than tried again:
/// about a day of tries at the longest backoff, so an endpoint that never
/// recovers does not hold its conversation's later replies for ever.
const PARK_AFTER_ATTEMPTS: u32 = 2_880;
/// What `message.parked` says after [`PARK_AFTER_ATTEMPTS`].
pub const FAILING_FOR_A_DAY: &str = "the provider failed it for about a day";
/// What `message.parked` says when the 24 h window closed first.
pub const WINDOW_CLOSED: &str = "the 24 h messaging window closed before the provider accepted it, and the channel has no window_fallback";
/// What `message.parked` says when the channel's credentials are gone.
pub const NO_CREDENTIALS: &str = "the channel's credentials were removed";

/// How much is sent at once.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Sends in flight across the host.
    pub host: usize,
    /// Conversations being delivered at once per tenant.
    pub tenant: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { host: 1024, tenant: 32 }
    }
}

/// Run the delivery worker until the process ends.
pub async fn run(engine: Arc<Engine>) {
    match Client::new(switchboard_runtime::OutboundPolicy::installed()) {
        Ok(client) => Worker::new(engine, client, Limits::default()).run().await,
        Err(error) => tracing::error!(%error, "no TLS client: replies stay in the outbox"),
    }
}

/// Send what is due for one tenant at `now` (Unix ms), one conversation
/// after another; how many entries were settled (sent, retried, refused or
/// parked). The worker does the same concurrently; this is the one-pass form
/// for tests and tools.
pub async fn deliver_due(
    engine: &Arc<Engine>,
    client: &Client,
    tenant_name: &str,
    now: i64,
) -> anyhow::Result<usize> {
    engine.tenant(tenant_name)?;
    let sender = Sender::new(engine.clone(), client.clone(), Limits::default(), Clock::Fixed(now));
    let mut settled = 0;
    let mut after = None;
    let mut seen = HashSet::new();
    loop {
        let page = read_page(engine, tenant_name, after).await?;
        let Some(last) = page.last else { break };
        after = Some(last);
        let lanes = sender.lanes(tenant_name, page.entries, &mut seen, usize::MAX);
        for lane in lanes.ready {
            settled += sender.lane(tenant_name, lane).await.settled;
        }
    }
    Ok(settled)
}

/// The delivery worker: see the module documentation.
#[derive(Debug)]
pub struct Worker {
    sender: Sender,
    /// Conversations with a lane, per tenant.
    busy: HashMap<String, HashSet<String>>,
    /// When a tenant next has an entry due, if one is backing off.
    wake_at: HashMap<String, i64>,
}

impl Worker {
    pub fn new(engine: Arc<Engine>, client: Client, limits: Limits) -> Self {
        Self {
            sender: Sender::new(engine, client, limits, Clock::System),
            busy: HashMap::new(),
            wake_at: HashMap::new(),
        }
    }

    /// Deliver until the process ends.
    pub async fn run(mut self) {
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(String, String)>();
        let engine = self.sender.engine.clone();
        // Every tenant marked its outbox when it was added, so the first
        // wake-up brings what a crash or a restart left behind.
        let mut woken: HashSet<String> = HashSet::new();
        // Ticks only when the store is shared (see the `select!` below).
        let mut look = tokio::time::interval(LOOK_EVERY);
        look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            for tenant in std::mem::take(&mut woken) {
                if let Err(error) = self.dispatch(&tenant, &done_tx).await {
                    let unwritable =
                        error.downcast_ref::<EngineError>().is_some_and(EngineError::is_store_unwritable);
                    if unwritable {
                        // recovery.rs reports the store's state; replies wait.
                        tracing::debug!(tenant, error = format!("{error:#}"), "delivery waits for the store");
                    } else {
                        tracing::error!(tenant, error = format!("{error:#}"), "outbox delivery failed");
                    }
                    // A store that failed once is tried again, not forgotten.
                    self.wake_at.insert(tenant, self.sender.clock.now() + 1_000);
                }
            }
            let next = self.wake_at.values().min().copied();
            let sleep = next.map_or(Duration::from_secs(3600), |at| {
                Duration::from_millis(u64::try_from(at - self.sender.clock.now()).unwrap_or(0))
            });
            tokio::select! {
                changed = engine.outbox_changed() => woken.extend(changed),
                _ = look.tick(), if engine.store_is_shared() => woken.extend(engine.tenant_names()),
                Some((tenant, conversation)) = done_rx.recv() => {
                    self.lane_done(&tenant, &conversation);
                    woken.insert(tenant);
                    while let Ok((tenant, conversation)) = done_rx.try_recv() {
                        self.lane_done(&tenant, &conversation);
                        woken.insert(tenant);
                    }
                }
                () = tokio::time::sleep(sleep) => {
                    let now = self.sender.clock.now();
                    let due: Vec<String> =
                        self.wake_at.iter().filter(|(_, at)| **at <= now).map(|(tenant, _)| tenant.clone()).collect();
                    for tenant in due {
                        self.wake_at.remove(&tenant);
                        woken.insert(tenant);
                    }
                }
            }
        }
    }

    fn lane_done(&mut self, tenant: &str, conversation: &str) {
        if let Some(busy) = self.busy.get_mut(tenant) {
            busy.remove(conversation);
        }
    }

    /// Start lanes for the tenant's due conversations, up to its limit.
    async fn dispatch(
        &mut self,
        tenant: &str,
        done: &mpsc::UnboundedSender<(String, String)>,
    ) -> anyhow::Result<()> {
        let engine = &self.sender.engine;
        self.wake_at.remove(tenant);
        if engine.tenant(tenant).is_err() {
            // Its lanes stop at their next entry and report back; until
            // then their conversations stay busy, whatever takes the name.
            return Ok(());
        }
        // Only the dispatcher starts lanes, so what is busy now stays busy
        // until a lane reports back: an entry read below is never sent twice.
        let mut seen = self.busy.get(tenant).cloned().unwrap_or_default();
        let mut after = None;
        let mut earliest: Option<i64> = None;
        loop {
            let room =
                self.sender.limits.tenant.saturating_sub(self.busy.get(tenant).map_or(0, HashSet::len));
            if room == 0 {
                break;
            }
            let page = read_page(engine, tenant, after).await?;
            let Some(last) = page.last else { break };
            after = Some(last);
            let lanes = self.sender.lanes(tenant, page.entries, &mut seen, room);
            earliest = earliest.into_iter().chain(lanes.wake_at).min();
            for lane in lanes.ready {
                let conversation = lane.key.clone();
                self.busy.entry(tenant.to_owned()).or_default().insert(conversation.clone());
                let (sender, done, tenant) = (self.sender.clone(), done.clone(), tenant.to_owned());
                tokio::spawn(async move {
                    sender.lane(&tenant, lane).await;
                    let _ = done.send((tenant, conversation));
                });
            }
        }
        if let Some(at) = earliest {
            self.wake_at.insert(tenant.to_owned(), at);
        }
        Ok(())
    }
}

async fn read_page(engine: &Arc<Engine>, tenant: &str, after: Option<u64>) -> anyhow::Result<OutboxPage> {
    let (engine, tenant) = (engine.clone(), tenant.to_owned());
    Ok(tokio::task::spawn_blocking(move || engine.outbox(&tenant, after, PAGE)).await??)
}

#[derive(Debug, Clone, Copy)]
enum Clock {
    System,
    /// Always this Unix millisecond: the one-pass [`deliver_due`].
    Fixed(i64),
}

impl Clock {
    fn now(self) -> i64 {
        match self {
            Self::System => jiff::Timestamp::now().as_millisecond(),
            Self::Fixed(now) => now,
        }
    }
}

/// One conversation's due entries, oldest first: its replies, or its
/// handoff cards (which go to another endpoint, so wait on their own).
struct Lane {
    key: String,
    entries: Vec<(u64, OutboxEntry)>,
}

fn lane_key(entry: &OutboxEntry) -> String {
    if entry.handoff.is_some() {
        format!("{}\u{0}handoff", entry.conversation)
    } else {
        entry.conversation.clone()
    }
}

/// Where a send goes, for telling a provider's recovery: a tenant's
/// channel, or (`true`) its handoff webhook.
type Endpoint = (String, Channel, bool);

/// Unix milliseconds per endpoint.
type EndpointTimes = Arc<Mutex<HashMap<Endpoint, i64>>>;

fn endpoint(tenant: &str, entry: &OutboxEntry) -> Endpoint {
    (tenant.to_owned(), entry.channel, entry.handoff.is_some())
}

/// A page sorted into lanes that can go now and the time the first of the
/// rest comes due.
struct Lanes {
    ready: Vec<Lane>,
    wake_at: Option<i64>,
}

#[derive(Debug, Default, Clone, Copy)]
struct LaneOutcome {
    settled: usize,
}

/// What lanes share: the engine, the client, the limits and the pacing.
#[derive(Debug, Clone)]
struct Sender {
    engine: Arc<Engine>,
    client: Client,
    limits: Limits,
    clock: Clock,
    host: Arc<Semaphore>,
    pace: Arc<Pace>,
    /// When a tenant's channel last had a send accepted (Unix ms): an entry
    /// that failed before that goes again at once, not at its backoff.
    accepted: EndpointTimes,
    /// When an endpoint was last probed while its entries back off.
    probes: EndpointTimes,
}

impl Sender {
    fn new(engine: Arc<Engine>, client: Client, limits: Limits, clock: Clock) -> Self {
        Self {
            engine,
            client,
            limits,
            clock,
            host: Arc::new(Semaphore::new(limits.host.max(1))),
            pace: Arc::new(Pace::default()),
            accepted: Arc::default(),
            probes: Arc::default(),
        }
    }

    /// Sort a page into lanes: each conversation's entries from its first,
    /// if that one is due, up to the first that is not. A conversation in
    /// `seen` (it has a lane, or an earlier entry of it waits) is skipped,
    /// and every conversation met is added to it. At most `room` lanes.
    fn lanes(
        &self,
        tenant: &str,
        page: Vec<(u64, OutboxEntry)>,
        seen: &mut HashSet<String>,
        room: usize,
    ) -> Lanes {
        let now = self.clock.now();
        let accepted = self.accepted.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut probes = self.probes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut ready: Vec<Lane> = Vec::new();
        let mut open: HashMap<String, usize> = HashMap::new();
        let mut wake_at: Option<i64> = None;
        for (seq, entry) in page {
            let key = lane_key(&entry);
            if let Some(&index) = open.get(&key) {
                ready[index].entries.push((seq, entry));
                continue;
            }
            if !seen.insert(key.clone()) {
                continue;
            }
            let endpoint = endpoint(tenant, &entry);
            // The endpoint took a send after this entry last failed, and the
            // entry has waited PROBE_MS since: it goes now, not at its backoff.
            let recovered = entry.last_tried > 0
                && now - entry.last_tried >= PROBE_MS
                && accepted.get(&endpoint).is_some_and(|at| *at > entry.last_tried);
            if entry.not_before > now && !recovered {
                // While an endpoint fails, one waiting entry probes it every
                // PROBE_MS, so a recovery is seen at once rather than at the
                // end of everyone's backoff.
                let last = probes.get(&endpoint).copied().unwrap_or(0).max(entry.last_tried);
                let next_probe = last + PROBE_MS;
                if next_probe > now || ready.len() >= room {
                    let due = entry.not_before.min(next_probe.max(now + 1));
                    wake_at = Some(wake_at.map_or(due, |at| at.min(due)));
                    continue;
                }
                probes.insert(endpoint, now);
            }
            if ready.len() >= room {
                // Its turn comes when a lane finishes, which wakes the tenant.
                continue;
            }
            open.insert(key.clone(), ready.len());
            ready.push(Lane { key, entries: vec![(seq, entry)] });
        }
        Lanes { ready, wake_at }
    }

    /// Send a lane's entries in order until one has to wait, holding the
    /// lane across nodes (a claim renewed before each send).
    async fn lane(&self, tenant_name: &str, lane: Lane) -> LaneOutcome {
        let mut outcome = LaneOutcome::default();
        let Ok(tenant) = self.engine.tenant(tenant_name) else { return outcome };
        for (seq, entry) in lane.entries {
            // Removed or reloaded meanwhile: the dispatcher reads it afresh.
            if !self.engine.tenant(tenant_name).is_ok_and(|current| Arc::ptr_eq(&current, &tenant)) {
                break;
            }
            match self.hold_lane(tenant_name, &lane.key, seq).await {
                Ok(true) => {}
                // Another node sends this conversation's replies, or sent this one.
                Ok(false) => break,
                Err(error) => {
                    tracing::warn!(
                        tenant = tenant_name,
                        error = format!("{error:#}"),
                        "a delivery lane was not claimed"
                    );
                    break;
                }
            }
            match self.send(&tenant, seq, entry).await {
                Ok(sent) => {
                    outcome.settled += 1;
                    if !sent {
                        break;
                    }
                }
                Err(error) => {
                    tracing::error!(
                        tenant = tenant_name,
                        seq,
                        error = format!("{error:#}"),
                        "an outbox entry was not settled"
                    );
                    // The store failed: hold the conversation a moment rather than
                    // dispatch it again at once.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            }
        }
        let (engine, tenant, key) = (self.engine.clone(), tenant_name.to_owned(), lane.key);
        if let Ok(Err(error)) = tokio::task::spawn_blocking(move || engine.release_lane(&tenant, &key)).await
        {
            // Its lease runs out all the same.
            tracing::debug!(error = format!("{error:#}"), "a delivery lane was not released");
        }
        outcome
    }

    /// Claim (or renew) the lane for the entry `seq`, and check the entry is
    /// still there: another node may have sent and settled it since it was
    /// read. Whether it is ours to send.
    async fn hold_lane(&self, tenant: &str, lane: &str, seq: u64) -> anyhow::Result<bool> {
        if !self.engine.store_is_shared() {
            // One process holds the store, and the dispatcher runs one lane
            // per conversation: nothing to claim.
            return Ok(true);
        }
        let (engine, tenant, lane) = (self.engine.clone(), tenant.to_owned(), lane.to_owned());
        Ok(tokio::task::spawn_blocking(move || {
            Ok::<_, EngineError>(
                engine.claim_lane(&tenant, &lane, engine.leases().lanes)?
                    && engine.outbox_holds(&tenant, seq)?,
            )
        })
        .await??)
    }

    /// Try one entry and record what happened; whether the lane goes on.
    async fn send(&self, tenant: &Tenant, seq: u64, mut entry: OutboxEntry) -> anyhow::Result<bool> {
        let now = self.clock.now();
        let window_closed = entry.handoff.is_none()
            && entry.outside_window.is_none()
            && entry.window_until.is_some_and(|until| now >= until);
        if window_closed {
            match window_fallback(tenant, &entry) {
                Some(fallback) => entry.outside_window = Some(fallback),
                None => return self.park(tenant, seq, entry, WINDOW_CLOSED, now).await.map(|()| true),
            }
        }
        let Some(request) = render::request(tenant, &entry, seq) else {
            return self.park(tenant, seq, entry, NO_CREDENTIALS, now).await.map(|()| true);
        };
        let key = self.pace.key(tenant, &entry);
        self.pace.wait(&key).await;
        let permit = self.host.clone().acquire_owned().await?;
        entry.attempts += 1;
        let result = self.client.post(request).await;
        drop(permit);
        let now = self.clock.now();
        entry.last_tried = now;
        let channel = entry.channel;
        let (retry, body, outcome) = match result {
            Ok(provider_id) => {
                let mut accepted = self.accepted.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                accepted.insert(endpoint(&tenant.name, &entry), now);
                drop(accepted);
                let body = EventBody::MessageDelivered {
                    text: entry.logged_text(),
                    attempts: entry.attempts,
                    provider_id,
                };
                (None, body, "delivered")
            }
            Err(failure) if failure.park => {
                tracing::warn!(tenant = tenant.name, conversation = %entry.conversation, reason = %failure.reason, "send parked: {}", failure.detail);
                let reason = failure.reason.clone();
                return self.park(tenant, seq, entry, &reason, now).await.map(|()| true);
            }
            Err(failure) => {
                let gave_up = !failure.retryable;
                if gave_up {
                    tracing::warn!(tenant = tenant.name, conversation = %entry.conversation, attempts = entry.attempts, reason = %failure.reason, "send refused for good: {}", failure.detail);
                } else {
                    // Routine while a provider is down; the event says it too.
                    tracing::debug!(tenant = tenant.name, conversation = %entry.conversation, attempts = entry.attempts, reason = %failure.reason, "send failed, will retry: {}", failure.detail);
                }
                let body = EventBody::MessageFailed {
                    text: entry.logged_text(),
                    attempts: entry.attempts,
                    reason: failure.reason,
                    gave_up,
                };
                if gave_up {
                    (None, body, "failed")
                } else if entry.attempts >= PARK_AFTER_ATTEMPTS {
                    return self.park(tenant, seq, entry, FAILING_FOR_A_DAY, now).await.map(|()| true);
                } else {
                    entry.not_before = now + backoff_ms(entry.attempts, seq);
                    (Some(entry.clone()), body, "retrying")
                }
            }
        };
        crate::telemetry::delivery(&tenant.name, channel.as_str(), outcome);
        // A private entry sent is no reply to the customer: no event says so.
        let events = if entry.private && outcome == "delivered" {
            Vec::new()
        } else {
            vec![event(tenant, &entry, now, body)]
        };
        let goes_on = retry.is_none();
        let (engine, name) = (self.engine.clone(), tenant.name.clone());
        tokio::task::spawn_blocking(move || engine.settle_outbox(&name, seq, retry.as_ref(), &events))
            .await??;
        Ok(goes_on)
    }

    async fn park(
        &self,
        tenant: &Tenant,
        seq: u64,
        mut entry: OutboxEntry,
        reason: &str,
        now: i64,
    ) -> anyhow::Result<()> {
        entry.parked_because = Some(reason.to_owned());
        crate::telemetry::delivery(&tenant.name, entry.channel.as_str(), "parked");
        let body = EventBody::MessageParked {
            text: entry.logged_text(),
            attempts: entry.attempts,
            reason: reason.to_owned(),
        };
        let event = event(tenant, &entry, now, body);
        let (engine, name) = (self.engine.clone(), tenant.name.clone());
        tokio::task::spawn_blocking(move || engine.park_outbox(&name, seq, &entry, &[event])).await??;
        Ok(())
    }
}

/// What happened to `entry`, as an event of its conversation.
fn event(tenant: &Tenant, entry: &OutboxEntry, at: i64, body: EventBody) -> DomainEvent {
    DomainEvent {
        at,
        tenant: tenant.name.clone(),
        conversation: entry.conversation.clone(),
        channel: entry.channel,
        body,
    }
}

/// The template or tag a reply goes out with once its window closed.
fn window_fallback(tenant: &Tenant, entry: &OutboxEntry) -> Option<OutsideWindow> {
    crate::channels::provider(entry.channel).window_fallback(&tenant.channels, &entry.locale)
}

/// 0.5 s, 1 s, 2 s, … capped at [`MAX_BACKOFF_MS`], plus up to 25 % jitter
/// so retries of many entries do not arrive in step.
fn backoff_ms(attempts: u32, seed: u64) -> i64 {
    let base = 500_i64.saturating_mul(1 << attempts.saturating_sub(1).min(7)).min(MAX_BACKOFF_MS);
    let jitter = (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 33) as i64 % (base / 4 + 1);
    base + jitter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        assert!((500..=625).contains(&backoff_ms(1, 7)));
        assert!((1_000..=1_250).contains(&backoff_ms(2, 7)));
        assert!((30_000..=37_500).contains(&backoff_ms(30, 7)));
        assert_ne!(backoff_ms(3, 1), backoff_ms(3, 2), "different entries spread out");
    }
}
