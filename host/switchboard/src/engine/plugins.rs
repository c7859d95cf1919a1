//! Plugin calls for a turn: the conversation's pinned flow and
//! components, with the binding's config, limits, grants and memory.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use switchboard_core::contract::{Classification, ClassifyInput, Decision, PluginConfig, StepInput};
use switchboard_core::conversation::{Plugins, StepFailed, UNDERSTANDING_STEP};
use switchboard_core::event::EventBody;
use switchboard_core::failure::FailureCode;
use switchboard_core::flow::Flow;
use switchboard_runtime::{CallContext, KvQuota, Limits, LoadError, Plugin, ResourceReport, StepFailure};

use super::shadow::ShadowCall;
use super::step_calls::{CallInput, CallOutcome, StepCall};
use super::{Engine, EngineError, lock, memory};
use crate::tenant::Tenant;

impl Engine {
    /// The flow a conversation is pinned to: the current one, one seen
    /// earlier in this process, or one from the store.
    pub(super) fn flow_for(
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

    /// The plugin config a conversation of `tenant` pinned under `hash`.
    fn pinned_config(&self, tenant: &str, hash: &str) -> Option<PluginConfig> {
        if hash == crate::tenant::NO_CONFIG_HASH {
            return Some(PluginConfig::default());
        }
        let key = (tenant.to_owned(), hash.to_owned());
        if let Some(config) = lock(&self.configs).get(&key) {
            return Some(config.clone());
        }
        let text = self.store.plugin_config(tenant, hash).ok()??;
        let config = PluginConfig::from(serde_json::from_str::<serde_json::Value>(&text).ok()?);
        lock(&self.configs).insert(key, config.clone());
        Some(config)
    }

    /// The component a conversation pinned under `hash`, bound with the
    /// config it pinned (`config_hash`) under the binding's `limits`: from
    /// that pair's snapshot, as the binding ran it.
    fn pinned_component(
        &self,
        hash: &str,
        config: &PluginConfig,
        config_hash: &str,
        limits: &Limits,
    ) -> Option<Plugin> {
        let key = super::version_id(hash, config_hash);
        if let Some(plugin) = lock(&self.components).get(&key) {
            return Some(plugin.clone());
        }
        let bytes = self.store.blob(hash).ok()??;
        let plugin = self.runtime.load(&bytes).ok()?;
        let plugin = match self.runtime.initialise(&plugin, &bytes, config, limits) {
            Ok(initialised) => initialised,
            // Its calls meet the same refusal, and say so in their events.
            Err(error @ (LoadError::InitRefused(_) | LoadError::InitFailed(_))) => {
                tracing::warn!(component = hash, "a pinned version runs unsnapshotted: {error}");
                plugin
            }
            // Anything else may pass (a full disk, a busy compiler): try again next call.
            Err(error) => {
                tracing::warn!(component = hash, "a pinned version runs unsnapshotted for now: {error}");
                return Some(plugin);
            }
        };
        lock(&self.components).insert(key, plugin.clone());
        Some(plugin)
    }
}

/// Plugin calls for one turn: the conversation's pinned components, with the
/// tenant's config, limits and grants for each binding.
/// The most a step's decisions may take, encoded (replies, fields, cards).
pub const MAX_STEP_OUTPUT_BYTES: usize = 64 << 10;

pub(super) struct RuntimePlugins<'a> {
    pub(super) engine: &'a Engine,
    pub(super) tenant: &'a Tenant,
    pub(super) pins: &'a BTreeMap<String, String>,
    pub(super) config_pins: &'a BTreeMap<String, String>,
    /// The calls made, to record with the turn (if the tenant records them).
    pub(super) calls: Vec<StepCall>,
    /// A `step.ran` event for each step that answered.
    pub(super) ran: Vec<EventBody>,
}

impl<'a> RuntimePlugins<'a> {
    pub(super) fn new(
        engine: &'a Engine,
        tenant: &'a Tenant,
        pins: &'a BTreeMap<String, String>,
        config_pins: &'a BTreeMap<String, String>,
    ) -> Self {
        Self { engine, tenant, pins, config_pins, calls: Vec::new(), ran: Vec::new() }
    }
}

/// One plugin call, ready to run: the component the conversation is pinned
/// to, the binding's config, and the call's limits and grants. Holds the
/// call's share of the tenant's guest memory until it drops.
struct PreparedCall {
    plugin: Plugin,
    config: switchboard_core::contract::PluginConfig,
    config_hash: String,
    context: CallContext,
    _memory: memory::Reservation,
}

impl RuntimePlugins<'_> {
    fn prepare(&self, name: &str) -> Result<PreparedCall, StepFailed> {
        let Some(binding) = self.tenant.plugins.get(name) else {
            return Err(StepFailed::new(FailureCode::Unbound, format!("plugin {name:?} is not bound")));
        };
        // A canary rolled back takes its conversations with it: they run
        // the binding's version, with its config, from the next call on.
        let withdrawn = self.pins.get(name).is_some_and(|hash| {
            let config = self.config_pins.get(name).map_or(binding.config_hash(), String::as_str);
            self.engine.is_withdrawn(&self.tenant.name, name, &super::version_id(hash, config))
        });
        // The config comes with the code: the one the conversation started on.
        let (config, config_hash) = match self.config_pins.get(name) {
            Some(hash) if !withdrawn && hash != binding.config_hash() => {
                match self.engine.pinned_config(&self.tenant.name, hash) {
                    Some(config) => (config, hash.clone()),
                    None => {
                        tracing::warn!(
                            plugin = name,
                            hash,
                            "pinned plugin config is gone; using the current one"
                        );
                        (binding.config.clone(), binding.config_hash().to_owned())
                    }
                }
            }
            _ => (binding.config.clone(), binding.config_hash().to_owned()),
        };
        // The code the conversation is pinned to, bound to the config it
        // pinned (from that pair's snapshot), unless both are the binding's.
        let component = match self.pins.get(name) {
            Some(hash) if !withdrawn => hash.as_str(),
            _ => binding.plugin.hash().as_str(),
        };
        let plugin = if component == binding.plugin.hash().as_str() && config_hash == binding.config_hash() {
            binding.plugin.clone()
        } else {
            self.engine
                .pinned_component(component, &config, &config_hash, &binding.limits)
                .unwrap_or_else(|| binding.plugin.clone())
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
                metrics::counter!("switchboard_steps_refused_total", "reason" => FailureCode::MemoryBusy.name()).increment(1);
                StepFailed::new(FailureCode::MemoryBusy, busy.to_string())
            })?;
        Ok(PreparedCall { plugin, config, config_hash, context, _memory: memory })
    }

    /// The binding's shadow, if it has one and this call ran the binding's
    /// own version.
    fn shadow_of(&self, name: &str, ran: &Plugin) -> Option<PendingShadow> {
        let binding = self.tenant.plugins.get(name)?;
        let shadow = binding.canary.as_ref().filter(|canary| canary.shadow)?;
        if ran.hash() != binding.plugin.hash()
            || self.engine.is_withdrawn(&self.tenant.name, name, &shadow.version_id())
        {
            return None;
        }
        Some(PendingShadow {
            tenant: self.tenant.name.clone(),
            binding: name.to_owned(),
            version: shadow.version_id(),
            shadow: shadow.plugin.clone(),
            config: shadow.config.clone(),
            limits: binding.limits,
        })
    }

    /// A step that answered, for its `step.ran` event.
    fn ran(&mut self, step: &str, plugin: &str, component: &Plugin, report: &ResourceReport) {
        self.ran.push(EventBody::StepRan {
            step: step.to_owned(),
            plugin: plugin.to_owned(),
            version: component.hash().to_string(),
            fuel: report.fuel_used,
            wall_time_us: report.wall_time_us(),
        });
    }

    /// A call's metrics, and its count toward the binding's canary (an
    /// answer the engine `refused` counts as a failure there).
    fn observe(
        &self,
        name: &str,
        call: &PreparedCall,
        outcome: Result<&ResourceReport, &StepFailure>,
        refused: bool,
    ) {
        let component = &call.plugin;
        record(&self.tenant.name, name, component, outcome);
        // Only a binding with a canary counts its calls (every call pays the lookup alone).
        if let Some(binding) = self.tenant.plugins.get(name).filter(|binding| binding.canary.is_some()) {
            let (failed, report) = match outcome {
                Ok(report) => (refused, report),
                Err(failure) => (true, &failure.report),
            };
            let stats = super::CallStats::one(failed, report.fuel_used, report.wall_time_us());
            let version = super::version_id(component.hash().as_str(), &call.config_hash);
            self.engine.watch_canary(self.tenant, name, binding, &version, stats);
        }
    }

    /// Keep a call for replay, if the tenant records them: its answer
    /// (`answer` of it, serialised only then), or its failure, including
    /// the engine's refusal of an answer too large (kept without it).
    fn remember<T: Reported>(
        &mut self,
        name: &str,
        call: &PreparedCall,
        input: CallInput,
        outcome: &Result<T, StepFailure>,
        checked: &Result<(), StepFailed>,
        answer: impl FnOnce(&T) -> serde_json::Value,
    ) {
        let recording = &self.tenant.recording;
        if !recording.steps {
            return;
        }
        let report = match outcome {
            Ok(done) => *done.report(),
            Err(failure) => failure.report,
        };
        let outcome = live_outcome(outcome, checked, |done| Ok(answer(done)));
        let (input, redacted) = input.kept(recording);
        let conversation = input.conversation().to_owned();
        self.calls.push(StepCall {
            at: jiff::Timestamp::now().as_millisecond(),
            conversation,
            plugin: name.to_owned(),
            component: call.plugin.hash().to_string(),
            config: call.config_hash.clone(),
            input,
            outcome,
            fuel: report.fuel_used,
            wall_time_us: report.wall_time_us(),
            peak_memory_bytes: report.peak_memory_bytes,
            redacted,
        });
    }
}

/// A shadow to hand a live call to, once the call is done.
struct PendingShadow {
    tenant: String,
    binding: String,
    version: String,
    shadow: Plugin,
    config: PluginConfig,
    limits: switchboard_runtime::Limits,
}

impl PendingShadow {
    fn call<T: Reported>(
        self,
        input: CallInput,
        live: CallOutcome,
        outcome: &Result<T, StepFailure>,
    ) -> ShadowCall {
        let report = match outcome {
            Ok(done) => *done.report(),
            Err(failure) => failure.report,
        };
        let conversation = input.conversation().to_owned();
        ShadowCall {
            tenant: self.tenant,
            binding: self.binding,
            shadow: self.shadow,
            version: self.version,
            config: self.config,
            limits: self.limits,
            input,
            at: jiff::Timestamp::now().as_millisecond(),
            conversation,
            live,
            live_fuel: report.fuel_used,
            live_wall_time_us: report.wall_time_us(),
        }
    }
}

/// A live call's outcome as a replay compares it.
fn live_outcome<T>(
    outcome: &Result<T, StepFailure>,
    checked: &Result<(), StepFailed>,
    answer: impl FnOnce(&T) -> serde_json::Result<serde_json::Value>,
) -> CallOutcome {
    match (outcome, checked) {
        (Ok(done), Ok(())) => CallOutcome::Ok { answer: answer(done).unwrap_or_default() },
        (Ok(_), Err(refused)) => {
            CallOutcome::Failed { code: refused.code.clone(), message: refused.message.clone() }
        }
        (Err(failure), _) => {
            CallOutcome::Failed { code: failure.kind.code(), message: failure.kind.to_string() }
        }
    }
}

/// What a finished call used.
trait Reported {
    fn report(&self) -> &ResourceReport;
}

impl Reported for switchboard_runtime::StepOutcome {
    fn report(&self) -> &ResourceReport {
        &self.report
    }
}

impl Reported for switchboard_runtime::ClassifyOutcome {
    fn report(&self) -> &ResourceReport {
        &self.report
    }
}

/// A plugin call's metrics: `ok` with what it used, or its failure's code.
fn record(tenant: &str, plugin: &str, component: &Plugin, outcome: Result<&ResourceReport, &StepFailure>) {
    let (code, report) = match outcome {
        Ok(report) => ("ok", report),
        Err(failure) => (failure.kind.code().name(), &failure.report),
    };
    crate::telemetry::plugin_call(
        tenant,
        plugin,
        component.hash().as_str(),
        code,
        report.fuel_used,
        report.wall_time,
    );
}

fn step_failed(name: &str, component: &Plugin, failure: &switchboard_runtime::StepFailure) -> StepFailed {
    let traceback = match &failure.kind {
        switchboard_runtime::FailureKind::Crashed(crash) => crash.traceback.as_str(),
        _ => "",
    };
    tracing::warn!(plugin = name, code = %failure.kind.code(), traceback, "step failed: {}", failure.kind);
    StepFailed {
        code: failure.kind.code(),
        message: failure.kind.to_string(),
        version: Some(component.hash().to_string()),
    }
}

/// Refuse a step's answer that would make a turn write (or a customer
/// receive) megabytes.
fn bounded_output(name: &str, component: &Plugin, answer: &impl serde::Serialize) -> Result<(), StepFailed> {
    let size = serde_json::to_vec(answer).map_or(usize::MAX, |encoded| encoded.len());
    if size <= MAX_STEP_OUTPUT_BYTES {
        return Ok(());
    }
    tracing::warn!(plugin = name, size, "step refused: its answer is too large");
    metrics::counter!("switchboard_steps_refused_total", "reason" => FailureCode::OutputTooLarge.name())
        .increment(1);
    Err(StepFailed {
        code: FailureCode::OutputTooLarge,
        message: format!("the step's answer takes {size} bytes; at most {MAX_STEP_OUTPUT_BYTES} are kept"),
        version: Some(component.hash().to_string()),
    })
}

impl Plugins for RuntimePlugins<'_> {
    fn one_time_code(&mut self) -> Result<String, StepFailed> {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes)
            .map_err(|error| StepFailed::new(FailureCode::Unavailable, format!("no randomness: {error}")))?;
        // Six digits; the modulo's bias over 2^64 is far below a guess's odds.
        Ok(format!("{:06}", u64::from_le_bytes(bytes) % 1_000_000))
    }

    fn next_number(&mut self, sequence: &str) -> Result<u64, StepFailed> {
        self.engine.store.next_number(&self.tenant.name, sequence).map_err(|error| {
            StepFailed::new(
                FailureCode::Unavailable,
                format!("could not take a number of {sequence:?}: {error}"),
            )
        })
    }

    fn call(&mut self, name: &str, mut input: StepInput) -> Result<Vec<Decision>, StepFailed> {
        let call = self.prepare(name)?;
        input.config = call.config.clone();
        let step = input.step.clone();
        let span =
            tracing::debug_span!("step", plugin = name, step = %input.step, version = %call.plugin.hash());
        let _entered = span.enter();
        let outcome = call.plugin.call(&input, call.context.clone());
        let checked = match &outcome {
            Ok(answer) => bounded_output(name, &call.plugin, &answer.decisions),
            Err(_) => Ok(()),
        };
        if let Some(shadow) = self.shadow_of(name, &call.plugin) {
            let live = live_outcome(&outcome, &checked, |answer| serde_json::to_value(&answer.decisions));
            self.engine.shadow(shadow.call(CallInput::Step(Box::new(input.clone())), live, &outcome));
        }
        self.observe(name, &call, outcome.as_ref().map(|outcome| &outcome.report), checked.is_err());
        self.remember(name, &call, CallInput::Step(Box::new(input)), &outcome, &checked, |answer| {
            serde_json::to_value(&answer.decisions).unwrap_or_default()
        });
        checked?;
        let outcome = outcome.map_err(|failure| step_failed(name, &call.plugin, &failure))?;
        self.ran(&step, name, &call.plugin, &outcome.report);
        Ok(outcome.decisions)
    }

    fn classify(&mut self, name: &str, mut input: ClassifyInput) -> Result<Classification, StepFailed> {
        let call = self.prepare(name)?;
        input.config = call.config.clone();
        let span = tracing::debug_span!("classify", plugin = name, version = %call.plugin.hash());
        let _entered = span.enter();
        let outcome = call.plugin.classify(&input, call.context.clone());
        let checked = match &outcome {
            Ok(answer) => bounded_output(name, &call.plugin, &answer.classification),
            Err(_) => Ok(()),
        };
        if let Some(shadow) = self.shadow_of(name, &call.plugin) {
            let live =
                live_outcome(&outcome, &checked, |answer| serde_json::to_value(&answer.classification));
            self.engine.shadow(shadow.call(CallInput::Classify(Box::new(input.clone())), live, &outcome));
        }
        self.observe(name, &call, outcome.as_ref().map(|outcome| &outcome.report), checked.is_err());
        self.remember(name, &call, CallInput::Classify(Box::new(input)), &outcome, &checked, |answer| {
            serde_json::to_value(&answer.classification).unwrap_or_default()
        });
        checked?;
        let outcome = outcome.map_err(|failure| step_failed(name, &call.plugin, &failure))?;
        self.ran(UNDERSTANDING_STEP, name, &call.plugin, &outcome.report);
        Ok(outcome.classification)
    }
}
