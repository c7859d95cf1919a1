//! A loaded plugin and the production call path.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};
use switchboard_core::contract::{
    Classification, ClassifyInput, Crash, CrashKind, Decision, PluginConfig, StepError, StepInput,
};
use wasmtime::component::{Instance, InstancePre};
use wasmtime::{Engine, Store, Trap};

use switchboard_core::kv::{KvBackend, KvQuota};

use crate::capabilities::Grants;
use crate::error::{FailureKind, LoadError, StepFailure};
use crate::limits::{LimitExceeded, Limits, ResourceReport};
use crate::manifest::Manifest;
use crate::state::HostState;
use crate::{since_v0_1_0, since_v0_2_0};

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
    #[serde(rename = "0.2")]
    V0_2,
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            ApiVersion::V0_1 => "0.1",
            ApiVersion::V0_2 => "0.2",
        })
    }
}

/// What a component exports, by version, each resolved to an export index.
#[derive(Clone)]
pub(crate) enum Exports {
    V0_1 {
        handler: since_v0_1_0::Handler,
    },
    V0_2 {
        handler: Option<since_v0_2_0::Handler>,
        classifier: Option<since_v0_2_0::Classifier>,
        lifecycle: Option<since_v0_2_0::Lifecycle>,
    },
}

impl Exports {
    /// Type-check every export this component has against its version's signature.
    fn probe(&self, instance: &Instance, store: &mut Store<HostState>) -> wasmtime::Result<()> {
        match self {
            Exports::V0_1 { handler } => handler.probe(instance, store),
            Exports::V0_2 { handler, classifier, lifecycle } => {
                if let Some(handler) = handler {
                    handler.probe(instance, store)?;
                }
                if let Some(classifier) = classifier {
                    classifier.probe(instance, store)?;
                }
                if let Some(lifecycle) = lifecycle {
                    lifecycle.probe(instance, store)?;
                }
                Ok(())
            }
        }
    }

    /// Its `init`s (`handler.init`, `understanding.init`), if it has any.
    fn lifecycle(&self) -> Option<&since_v0_2_0::Lifecycle> {
        match self {
            Exports::V0_2 { lifecycle, .. } => lifecycle.as_ref(),
            Exports::V0_1 { .. } => None,
        }
    }

    fn run(
        &self,
        instance: &Instance,
        store: &mut Store<HostState>,
        input: &StepInput,
    ) -> wasmtime::Result<Result<Vec<Decision>, StepError>> {
        match self {
            Exports::V0_1 { handler } => handler.run(instance, store, input),
            Exports::V0_2 { handler: Some(handler), .. } => handler.run(instance, store, input),
            Exports::V0_2 { handler: None, .. } => {
                Err(wasmtime::format_err!("this component exports no step handler, only `understanding`"))
            }
        }
    }
}

/// A component checked against the host's contract and pre-instantiated: imports
/// are resolved once, so each call only allocates and initialises an instance.
/// Cheap to clone: the compiled code and pre-instance are shared.
#[derive(Clone)]
pub struct Plugin {
    engine: Engine,
    hash: ContentHash,
    version: ApiVersion,
    pre: InstancePre<HostState>,
    exports: Exports,
    epoch_tick: Duration,
    /// What the component says about itself, if it carries a manifest.
    manifest: Option<Arc<Manifest>>,
    /// The binding's pre-initialised snapshot ([`Runtime::bind`](crate::Runtime::bind)).
    snapshot: Option<Arc<Snapshot>>,
}

/// A component as its `init` left it for one config: the calls that
/// carry that config start from here instead of running `init` again.
struct Snapshot {
    config: PluginConfig,
    pre: InstancePre<HostState>,
    exports: Exports,
    /// What it is cached under (`snapshot::key`).
    key: String,
}

impl fmt::Debug for Plugin {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Plugin")
            .field("hash", &self.hash)
            .field("version", &self.version)
            .field("snapshot", &self.snapshot.as_ref().map(|snapshot| &snapshot.key))
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

/// A successful `classify` call.
#[derive(Debug, Clone, Serialize)]
pub struct ClassifyOutcome {
    pub classification: Classification,
    pub report: ResourceReport,
    pub logs: Vec<LogLine>,
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
        pre: InstancePre<HostState>,
        exports: Exports,
        epoch_tick: Duration,
        manifest: Option<Manifest>,
    ) -> Self {
        Self {
            engine,
            hash,
            version,
            pre,
            exports,
            epoch_tick,
            manifest: manifest.map(Arc::new),
            snapshot: None,
        }
    }

    /// This plugin, whose calls with `config` start from `snapshot`: the
    /// same component after `init(config)`, cached as `key`.
    pub(crate) fn with_snapshot(&self, config: PluginConfig, snapshot: Plugin, key: String) -> Self {
        let snapshot = Snapshot { config, pre: snapshot.pre, exports: snapshot.exports, key };
        Self { snapshot: Some(Arc::new(snapshot)), ..self.clone() }
    }

    /// Whether the component exports `init` (WIT 0.2.0).
    pub fn has_init(&self) -> bool {
        self.exports.lifecycle().is_some()
    }

    /// The key of the snapshot calls start from, if the plugin was bound
    /// with a config and has `init`.
    pub fn snapshot(&self) -> Option<&str> {
        self.snapshot.as_ref().map(|snapshot| snapshot.key.as_str())
    }

    /// The manifest `switchboard plugin build` embedded, if any.
    pub fn manifest(&self) -> Option<&Manifest> {
        self.manifest.as_deref()
    }

    pub fn hash(&self) -> &ContentHash {
        &self.hash
    }

    pub fn api_version(&self) -> ApiVersion {
        self.version
    }

    /// Whether the component exports a step handler (`handler.run`).
    pub fn is_step(&self) -> bool {
        matches!(self.exports, Exports::V0_1 { .. } | Exports::V0_2 { handler: Some(_), .. })
    }

    /// Whether the component exports `understanding.classify` (0.2.0).
    pub fn is_classifier(&self) -> bool {
        matches!(self.exports, Exports::V0_2 { classifier: Some(_), .. })
    }

    /// Instantiate once, under default limits, calling nothing: catches
    /// mismatched export types (checked at instantiation) and start functions
    /// that trap, at load time rather than on a customer's message.
    pub(crate) fn probe(&self, limits: Limits) -> Result<(), LoadError> {
        let probe_input = "load-probe";
        self.store(CallContext { limits, ..CallContext::new(probe_input) }, probe_input, probe_input, 0)
            .and_then(|mut store| {
                let instance = self.pre.instantiate(&mut store)?;
                self.exports.probe(&instance, &mut store)
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
        if !self.is_step() {
            let message = "this component exports no step handler, only `understanding`".to_owned();
            return Err(StepFailure::before_running(FailureKind::Host { message }));
        }
        let (decisions, report, logs) = self.invoke(
            context,
            &input.tenant,
            &input.conversation,
            input.now,
            &input.config,
            |exports, instance, store| exports.run(instance, store, input),
        )?;
        Ok(StepOutcome { decisions, report, logs })
    }

    /// Run `understanding.classify` on a fresh instance, under the same
    /// limits and isolation as a step.
    pub fn classify(
        &self,
        input: &ClassifyInput,
        context: CallContext,
    ) -> Result<ClassifyOutcome, StepFailure> {
        if !self.is_classifier() {
            let message = "this component exports no `understanding` (WIT 0.2.0)".to_owned();
            return Err(StepFailure::before_running(FailureKind::Host { message }));
        }
        let (classification, report, logs) = self.invoke(
            context,
            &input.tenant,
            &input.conversation,
            input.now,
            &input.config,
            |exports, instance, store| match exports {
                Exports::V0_2 { classifier: Some(classifier), .. } => {
                    classifier.classify(instance, store, input)
                }
                _ => Err(wasmtime::format_err!("the snapshot lost `understanding`")),
            },
        )?;
        Ok(ClassifyOutcome { classification, report, logs })
    }

    /// One call on a fresh store and instance, with its limits armed and its
    /// failures classified. The instance comes from the binding's snapshot
    /// when the call carries the config it was taken with; otherwise from
    /// the component itself, with `init(config)` run first if it has one, so
    /// that every instance that runs a step has been initialised.
    fn invoke<T>(
        &self,
        context: CallContext,
        tenant: &str,
        conversation: &str,
        now: i64,
        config: &PluginConfig,
        call: impl FnOnce(&Exports, &Instance, &mut Store<HostState>) -> wasmtime::Result<Result<T, StepError>>,
    ) -> Result<(T, ResourceReport, Vec<LogLine>), StepFailure> {
        let limits = context.limits;
        let started = Instant::now();
        let mut store = match self.store(context, tenant, conversation, now) {
            Ok(store) => store,
            Err(error) => {
                let kind = FailureKind::Host { message: format!("{:#}", anyhow::Error::from(error)) };
                return Err(StepFailure::before_running(kind));
            }
        };
        let result = self
            .start(&mut store, config)
            .and_then(|started| match started {
                Ok((exports, instance)) => call(exports, &instance, &mut store),
                Err(refusal) => Ok(Err(refusal)),
            })
            .map_err(anyhow::Error::from);

        let report = ResourceReport {
            fuel_used: limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0)),
            wall_time: started.elapsed(),
            peak_memory_bytes: store.data().limiter.peak_memory,
        };
        let logs = std::mem::take(&mut store.data_mut().logs);
        match result {
            Ok(Ok(value)) => Ok((value, report, logs)),
            Ok(Err(guest)) => {
                let kind = match bounded(guest) {
                    StepError::Crashed(crash) => FailureKind::Crashed(crash),
                    refusal => FailureKind::Guest(refusal),
                };
                Err(StepFailure { kind, report, logs })
            }
            Err(error) => {
                let stderr = String::from_utf8_lossy(&store.data().stderr.contents()).into_owned();
                Err(StepFailure { kind: classify(&error, &limits, &stderr), report, logs })
            }
        }
    }

    /// Whether a call under `limits` can start from this plugin's own
    /// instances (a snapshot's start with whatever memory `init` left).
    pub(crate) fn fits(&self, limits: Limits) -> Result<(), FailureKind> {
        let context = CallContext { limits, ..CallContext::new("fits") };
        let mut store = self
            .store(context, "", "", 0)
            .map_err(|error| FailureKind::Host { message: format!("{:#}", anyhow::Error::from(error)) })?;
        match self.pre.instantiate(&mut store) {
            Ok(_) => Ok(()),
            Err(error) => Err(classify(&anyhow::Error::from(error), &limits, "")),
        }
    }

    /// A fresh instance that has run `init(config)`, for a snapshot to be
    /// taken of. `init` sees time standing at the epoch, randomness seeded
    /// from nothing of the tenant's, and no capability: what it leaves
    /// depends on the component and the config alone.
    pub(crate) fn initialised(
        &self,
        config: &str,
        limits: Limits,
    ) -> Result<(Store<HostState>, Instance), LoadError> {
        let Some(lifecycle) = self.exports.lifecycle() else {
            return Err(LoadError::Incompatible("the component has no `init`".to_owned()));
        };
        let context = CallContext { limits, ..CallContext::new("init") };
        let mut store =
            self.store(context, "", "", 0).map_err(|error| LoadError::Invalid(anyhow::Error::from(error)))?;
        let outcome = self.pre.instantiate(&mut store).and_then(|instance| {
            let answer = run_init(lifecycle, &instance, &mut store, config)?;
            Ok((answer, instance))
        });
        match outcome {
            Ok((Ok(()), instance)) => Ok((store, instance)),
            Ok((Err(refusal), _)) => Err(LoadError::InitRefused(bounded(refusal))),
            Err(error) => {
                let error = anyhow::Error::from(error);
                let stderr = String::from_utf8_lossy(&store.data().stderr.contents()).into_owned();
                Err(LoadError::InitFailed(classify(&error, &limits, &stderr)))
            }
        }
    }

    /// A fresh instance for a call with `config`, and the exports to call
    /// on it: from the snapshot taken with that config, else from the
    /// component after its `init(config)` (if it has one). The inner error
    /// is `init`'s refusal of the config.
    fn start(
        &self,
        store: &mut Store<HostState>,
        config: &PluginConfig,
    ) -> wasmtime::Result<Result<(&Exports, Instance), StepError>> {
        let (pre, exports, init) = self.starting_point(config);
        let instance = pre.instantiate(&mut *store)?;
        if let Some(lifecycle) = init
            && let Err(refusal) = run_init(lifecycle, &instance, store, config.as_str())?
        {
            return Ok(Err(refusal));
        }
        Ok(Ok((exports, instance)))
    }

    /// Where a call with `config` starts: the snapshot taken with it, else
    /// the component, with the `init` to run first (if it has one).
    fn starting_point(
        &self,
        config: &PluginConfig,
    ) -> (&InstancePre<HostState>, &Exports, Option<&since_v0_2_0::Lifecycle>) {
        match &self.snapshot {
            Some(snapshot) if snapshot.config == *config => (&snapshot.pre, &snapshot.exports, None),
            _ => (&self.pre, &self.exports, self.exports.lifecycle()),
        }
    }

    /// One step call as [`Plugin::call`] makes it, timed stage by stage.
    /// **Only for benchmarks** (`bench steps --breakdown`).
    #[doc(hidden)]
    pub fn staged_call_for_benchmarks(
        &self,
        input: &StepInput,
        context: CallContext,
    ) -> anyhow::Result<Stages> {
        let started = Instant::now();
        let mut store = self.store(context, &input.tenant, &input.conversation, input.now)?;
        let stored = Instant::now();
        let (pre, exports, init) = self.starting_point(&input.config);
        let instance = pre.instantiate(&mut store)?;
        let instantiated = Instant::now();
        if let Some(lifecycle) = init {
            run_init(lifecycle, &instance, &mut store, input.config.as_str())?
                .map_err(|error| anyhow::anyhow!("{error}"))?;
        }
        let initialised = Instant::now();
        exports.run(&instance, &mut store, input)?.map_err(|error| anyhow::anyhow!("{error}"))?;
        let ran = Instant::now();
        drop(store);
        let dropped = Instant::now();
        Ok(Stages {
            store: stored - started,
            instantiate: instantiated - stored,
            init: initialised - instantiated,
            call: ran - initialised,
            reset: dropped - ran,
        })
    }

    /// An instance kept across calls. **Only for benchmarks**: whatever the guest
    /// keeps in memory leaks from one call into the next, which is exactly what
    /// [`Plugin::call`] exists to prevent.
    #[doc(hidden)]
    pub fn reused_instance_for_benchmarks(
        &self,
        config: &PluginConfig,
        context: CallContext,
    ) -> anyhow::Result<ReusedInstance<'_>> {
        let limits = context.limits;
        let mut store = self.store(context, "bench", "bench", 0)?;
        let (exports, instance) =
            self.start(&mut store, config)?.map_err(|error| anyhow::anyhow!("{error}"))?;
        let exports = exports.clone();
        Ok(ReusedInstance { plugin: self, exports, store, instance, limits })
    }

    /// Epochs until the deadline: rounded up, plus one because the current
    /// epoch may be nearly over when the call starts.
    fn deadline_ticks(&self, timeout: Duration) -> u64 {
        let tick = self.epoch_tick.as_nanos().max(1);
        (timeout.as_nanos().div_ceil(tick) as u64).saturating_add(1)
    }
}

/// The time each stage of one call took: see
/// [`Plugin::staged_call_for_benchmarks`].
#[doc(hidden)]
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Stages {
    /// A new `Store` with the call's state (WASI context, limiter, logs).
    pub store: Duration,
    /// An instance from the pool, its memory mapped from the snapshot.
    pub instantiate: Duration,
    /// `init(config)`, for a call that does not start from a snapshot.
    pub init: Duration,
    /// `run`: lowering the input, the guest, lifting its decisions.
    pub call: Duration,
    /// Dropping the store: the pool resets the instance's slot.
    pub reset: Duration,
}

/// See [`Plugin::reused_instance_for_benchmarks`].
#[doc(hidden)]
pub struct ReusedInstance<'plugin> {
    plugin: &'plugin Plugin,
    exports: Exports,
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
        let decisions = self.exports.run(&self.instance, &mut self.store, input)??;
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

/// `init(config)` on `instance`, in the environment every `init` sees
/// ([`HostState::enter_init`]), whatever the store was made for.
fn run_init(
    lifecycle: &since_v0_2_0::Lifecycle,
    instance: &Instance,
    store: &mut Store<HostState>,
    config: &str,
) -> wasmtime::Result<Result<(), StepError>> {
    let saved = store.data_mut().enter_init();
    let outcome = lifecycle.init(instance, store, config);
    store.data_mut().leave_init(saved);
    outcome
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
        Some(trap) => {
            if let Some(crash) = python_traceback(stderr) {
                return FailureKind::Crashed(crash);
            }
            match panic_message(stderr) {
                Some(message) => FailureKind::Panic { message },
                None => FailureKind::Trap { message: trap.to_string() },
            }
        }
        None if error.downcast_ref::<wasmtime::PoolConcurrencyLimitError>().is_some() => {
            FailureKind::Host { message: format!("{error:#}") }
        }
        None => FailureKind::Trap { message: format!("{error:#}") },
    }
}

/// The most of a traceback kept, from its innermost end.
const MAX_TRACEBACK_CHARS: usize = 4000;
/// The most of a guest's error message kept: it goes into `step.failed`.
const MAX_ERROR_CHARS: usize = 1000;

/// `error` with its text cut to what the host keeps: a guest may return
/// megabytes in a refusal, which would otherwise be written to the event log.
fn bounded(error: StepError) -> StepError {
    let head = |text: String| {
        if text.chars().count() <= MAX_ERROR_CHARS {
            return text;
        }
        let mut head: String = text.chars().take(MAX_ERROR_CHARS).collect();
        head.push('…');
        head
    };
    match error {
        StepError::InvalidInput(message) => StepError::InvalidInput(head(message)),
        StepError::InvalidConfig(message) => StepError::InvalidConfig(head(message)),
        StepError::Refused(message) => StepError::Refused(head(message)),
        StepError::Unavailable(message) => StepError::Unavailable(head(message)),
        StepError::Crashed(crash) => StepError::Crashed(Crash {
            kind: crash.kind,
            message: head(crash.message),
            traceback: traceback_tail(&crash.traceback),
        }),
    }
}

/// A Python component built without the SDK's guard (or for WIT 0.1.0)
/// prints the uncaught exception's traceback to stderr before it traps with
/// a message that names no cause. The last traceback's final line is the
/// exception (`KeyError: 'deposit'`); the lines before it, where it happened.
fn python_traceback(stderr: &str) -> Option<Crash> {
    const START: &str = "Traceback (most recent call last):";
    let start = stderr.rfind(START)?;
    let lines: Vec<&str> = stderr[start..].lines().collect();
    // The exception line is the first after the frames that is not indented.
    let end = lines.iter().skip(1).position(|line| !line.starts_with(' '))? + 1;
    let message = lines[end].trim().chars().take(500).collect();
    let traceback = traceback_tail(&lines[..end].join("\n"));
    Some(Crash { kind: CrashKind::Exception, message, traceback })
}

/// A traceback's innermost end, as much as the host keeps.
fn traceback_tail(traceback: &str) -> String {
    let skip = traceback.chars().count().saturating_sub(MAX_TRACEBACK_CHARS);
    traceback.chars().skip(skip).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_printed_python_traceback_gives_the_exception_and_where_it_happened() {
        let stderr = "some earlier output\nTraceback (most recent call last):\n  File \"app.py\", line 20, in run\n    \
                      return [sdk.reply(deposit({}))]\n  File \"app.py\", line 13, in deposit\n    \
                      return config[\"deposit\"]\nKeyError: 'deposit'\nthread '<unnamed>' panicked at \
                      src/lib.rs:1:1:\nPython function threw an unexpected exception\n";
        let crash = python_traceback(stderr).expect("a traceback");
        assert_eq!(crash.kind, CrashKind::Exception);
        assert_eq!(crash.message, "KeyError: 'deposit'");
        assert!(crash.traceback.starts_with("Traceback (most recent call last):"));
        assert!(crash.traceback.ends_with("return config[\"deposit\"]"), "{}", crash.traceback);
        assert_eq!(python_traceback("thread panicked at src/lib.rs:1:1:\nboom\n"), None);
    }
}
