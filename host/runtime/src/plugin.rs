//! A loaded plugin and the production call path.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};
use switchboard_core::contract::{Decision, StepInput};
use wasmtime::{Engine, Store, Trap};

use crate::capabilities::{Grants, KvBackend, KvQuota};
use crate::error::{FailureKind, LoadError, StepFailure};
use crate::limits::{LimitExceeded, Limits, ResourceReport};
use crate::since_v0_1_0;
use crate::state::HostState;

/// The SHA-256 of a component's bytes: its identity for binding and caching.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContentHash(String);

impl ContentHash {
    pub fn of(bytes: &[u8]) -> Self {
        Self(hex::encode(Sha256::digest(bytes)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// The `switchboard:plugin` API version a component was built against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ApiVersion {
    #[serde(rename = "0.1")]
    V0_1,
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            ApiVersion::V0_1 => "0.1",
        })
    }
}

#[derive(Clone)]
pub(crate) enum VersionedPre {
    V0_1(since_v0_1_0::Handler),
}

/// A component checked against the host's contract and pre-instantiated: imports
/// are resolved once, so each call only allocates and initialises an instance.
/// Cheap to clone: the compiled code and pre-instance are shared.
#[derive(Clone)]
pub struct Plugin {
    engine: Engine,
    hash: ContentHash,
    version: ApiVersion,
    pre: VersionedPre,
    epoch_tick: Duration,
}

impl fmt::Debug for Plugin {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Plugin")
            .field("hash", &self.hash)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Who is calling and what they allow: everything about a call except its input.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// The name the tenant bound this plugin under; scopes its `kv` state.
    pub plugin: String,
    pub limits: Limits,
    pub grants: Arc<Grants>,
    pub kv: Option<Arc<dyn KvBackend>>,
    /// How much `kv` state the tenant's plugins may keep together.
    pub kv_quota: KvQuota,
}

impl CallContext {
    /// Default limits, nothing granted.
    pub fn new(plugin: impl Into<String>) -> Self {
        Self {
            plugin: plugin.into(),
            limits: Limits::default(),
            grants: Arc::default(),
            kv: None,
            kv_quota: KvQuota::default(),
        }
    }
}

/// A line the guest logged through the `log` capability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    pub level: String,
    pub message: String,
}

/// Log lines kept per call; more are counted, not stored.
const MAX_LOG_LINES: usize = 100;

/// A successful call: the decisions, and what the call used.
#[derive(Debug, Clone, Serialize)]
pub struct StepOutcome {
    pub decisions: Vec<Decision>,
    pub report: ResourceReport,
    pub logs: Vec<LogLine>,
}

impl Plugin {
    pub(crate) fn new(
        engine: Engine,
        hash: ContentHash,
        version: ApiVersion,
        pre: VersionedPre,
        epoch_tick: Duration,
    ) -> Self {
        Self { engine, hash, version, pre, epoch_tick }
    }

    pub fn hash(&self) -> &ContentHash {
        &self.hash
    }

    pub fn api_version(&self) -> ApiVersion {
        self.version
    }

    /// Instantiate once, under default limits, calling nothing: catches
    /// mismatched export types (checked at instantiation) and start functions
    /// that trap, at load time rather than on a customer's message.
    pub(crate) fn probe(&self) -> Result<(), LoadError> {
        let probe_input = "load-probe";
        self.store(CallContext::new(probe_input), probe_input, probe_input, 0)
            .and_then(|mut store| match &self.pre {
                VersionedPre::V0_1(handler) => handler.probe(&mut store),
            })
            .map_err(|error| LoadError::Incompatible(format!("{:#}", anyhow::Error::from(error))))
    }

    /// A fresh store with the call's limits armed.
    fn store(
        &self,
        context: CallContext,
        tenant: &str,
        conversation: &str,
        now: i64,
    ) -> wasmtime::Result<Store<HostState>> {
        let limits = context.limits;
        let mut store = Store::new(&self.engine, HostState::new(context, tenant, conversation, now));
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_trap();
        self.arm(&mut store, &limits)?;
        Ok(store)
    }

    /// Give `store` the call's instruction budget and wall-clock deadline.
    fn arm(&self, store: &mut Store<HostState>, limits: &Limits) -> wasmtime::Result<()> {
        store.set_epoch_deadline(self.deadline_ticks(limits.timeout));
        store.data_mut().deadline = Instant::now() + limits.timeout;
        store.set_fuel(limits.fuel)
    }

    /// Run one step on a fresh instance. Nothing the guest keeps in memory
    /// survives the call; every failure comes back as a [`StepFailure`].
    ///
    /// This blocks the thread for as long as the guest runs (bounded by the
    /// call's deadline): async callers should use a blocking pool.
    pub fn call(&self, input: &StepInput, context: CallContext) -> Result<StepOutcome, StepFailure> {
        let limits = context.limits;
        let started = Instant::now();
        let mut store = match self.store(context, &input.tenant, &input.conversation, input.now) {
            Ok(store) => store,
            Err(error) => {
                let kind = FailureKind::Host { message: format!("{:#}", anyhow::Error::from(error)) };
                return Err(StepFailure { kind, report: ResourceReport::default() });
            }
        };
        let result = match &self.pre {
            VersionedPre::V0_1(handler) => handler
                .instantiate(&mut store)
                .and_then(|instance| handler.run(&instance, &mut store, input))
                .map_err(anyhow::Error::from),
        };

        let report = ResourceReport {
            fuel_used: limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0)),
            wall_time: started.elapsed(),
            peak_memory_bytes: store.data().limiter.peak_memory,
        };
        match result {
            Ok(Ok(decisions)) => {
                let logs = std::mem::take(&mut store.data_mut().logs);
                Ok(StepOutcome { decisions, report, logs })
            }
            Ok(Err(guest)) => Err(StepFailure { kind: FailureKind::Guest(guest), report }),
            Err(error) => {
                let stderr = String::from_utf8_lossy(&store.data().stderr.contents()).into_owned();
                Err(StepFailure { kind: classify(&error, &limits, &stderr), report })
            }
        }
    }

    /// An instance kept across calls. **Only for benchmarks**: whatever the guest
    /// keeps in memory leaks from one call into the next, which is exactly what
    /// [`Plugin::call`] exists to prevent.
    #[doc(hidden)]
    pub fn reused_instance_for_benchmarks(&self, context: CallContext) -> anyhow::Result<ReusedInstance<'_>> {
        let limits = context.limits;
        let mut store = self.store(context, "bench", "bench", 0)?;
        let instance = match &self.pre {
            VersionedPre::V0_1(handler) => handler.instantiate(&mut store)?,
        };
        Ok(ReusedInstance { plugin: self, store, instance, limits })
    }

    /// Epochs until the deadline: rounded up, plus one because the current
    /// epoch may be nearly over when the call starts.
    fn deadline_ticks(&self, timeout: Duration) -> u64 {
        let tick = self.epoch_tick.as_nanos().max(1);
        (timeout.as_nanos().div_ceil(tick) as u64).saturating_add(1)
    }
}

/// See [`Plugin::reused_instance_for_benchmarks`].
#[doc(hidden)]
pub struct ReusedInstance<'plugin> {
    plugin: &'plugin Plugin,
    store: Store<HostState>,
    instance: wasmtime::component::Instance,
    limits: Limits,
}

impl fmt::Debug for ReusedInstance<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_struct("ReusedInstance").finish_non_exhaustive()
    }
}

impl ReusedInstance<'_> {
    /// Run one step with the limits re-armed, on the same instance as before.
    pub fn call(&mut self, input: &StepInput) -> anyhow::Result<Vec<Decision>> {
        self.plugin.arm(&mut self.store, &self.limits)?;
        let VersionedPre::V0_1(handler) = &self.plugin.pre;
        let decisions = handler.run(&self.instance, &mut self.store, input)??;
        Ok(decisions)
    }
}

impl HostState {
    pub(crate) fn push_log(&mut self, line: LogLine) {
        tracing::event!(
            target: "switchboard::plugin",
            tracing::Level::INFO,
            tenant = %self.tenant,
            plugin = %self.context.plugin,
            level = %line.level,
            "{}",
            line.message
        );
        if self.logs.len() < MAX_LOG_LINES {
            self.logs.push(line);
        }
    }
}

/// Turn a trap (or a host-side error) into the failure a user can act on.
fn classify(error: &anyhow::Error, limits: &Limits, stderr: &str) -> FailureKind {
    if let Some(exceeded) = error.downcast_ref::<LimitExceeded>() {
        return match exceeded {
            LimitExceeded::Memory { limit, requested } => {
                FailureKind::MemoryLimit { limit_bytes: *limit, requested_bytes: *requested }
            }
            LimitExceeded::Table { limit } => FailureKind::TableLimit { limit_elements: *limit },
        };
    }
    if error.downcast_ref::<crate::deadline::PastDeadline>().is_some() {
        return FailureKind::Deadline { timeout: limits.timeout };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => FailureKind::FuelExhausted { budget: limits.fuel },
        Some(Trap::Interrupt) => FailureKind::Deadline { timeout: limits.timeout },
        Some(Trap::StackOverflow) => FailureKind::StackOverflow,
        Some(trap) => match panic_message(stderr) {
            Some(message) => FailureKind::Panic { message },
            None => FailureKind::Trap { message: trap.to_string() },
        },
        None if error.downcast_ref::<wasmtime::PoolConcurrencyLimitError>().is_some() => {
            FailureKind::Host { message: format!("{error:#}") }
        }
        None => FailureKind::Trap { message: format!("{error:#}") },
    }
}

/// Rust guests print `panicked at FILE:LINE:COL:\nMESSAGE` to stderr before
/// aborting; other languages print their own tracebacks. Keep the last line
/// that says something, bounded.
fn panic_message(stderr: &str) -> Option<String> {
    let stderr = stderr.trim();
    if stderr.is_empty() {
        return None;
    }
    let message = match stderr.split_once("panicked at ") {
        Some((_, rest)) => rest.lines().nth(1).unwrap_or(rest).trim(),
        None => stderr.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or(stderr).trim(),
    };
    Some(message.chars().take(500).collect())
}
