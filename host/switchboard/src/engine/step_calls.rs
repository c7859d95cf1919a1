//! Recorded step calls: every production plugin call's input (without the
//! config, which is pinned by hash), what it answered or how it failed, and
//! what it used. They are what `plugin replay` runs a candidate against.
//!
//! A tenant turns recording off or redacts what it must not keep in
//! `[recording]` (`tenant.rs`); its `[retention] steps` says for how long
//! the store keeps them.

use serde::{Deserialize, Serialize};
use switchboard_core::contract::{ClassifyInput, PluginConfig, StepInput, Value};
use switchboard_core::failure::FailureCode;

use super::{Engine, EngineError};
use crate::tenant::Recording;

/// One plugin call as it ran in production.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepCall {
    /// When it ran (Unix ms).
    pub at: i64,
    pub conversation: String,
    /// The binding the flow called.
    pub plugin: String,
    /// The component's SHA-256.
    pub component: String,
    /// The SHA-256 of the config it ran with (`GET …/plugins/{name}/versions` lists them).
    pub config: String,
    pub input: CallInput,
    pub outcome: CallOutcome,
    pub fuel: u64,
    pub wall_time_us: u64,
    pub peak_memory_bytes: u64,
    /// The fields (and `message`, `contact`) whose values were replaced
    /// before it was kept: a replay sees `[redacted]` in their place.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redacted: Vec<String>,
}

/// What the call was given, less its config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "export", rename_all = "snake_case")]
pub enum CallInput {
    /// `handler.run`.
    Step(Box<StepInput>),
    /// `understanding.classify`.
    Classify(Box<ClassifyInput>),
}

/// What the call answered: its decisions (or classification), or its
/// failure's stable code and message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum CallOutcome {
    Ok { answer: serde_json::Value },
    Failed { code: FailureCode, message: String },
}

/// What a redacted value reads as.
pub const REDACTED: &str = "[redacted]";

impl CallInput {
    /// The conversation the call was made in.
    pub fn conversation(&self) -> &str {
        match self {
            CallInput::Step(input) => &input.conversation,
            CallInput::Classify(input) => &input.conversation,
        }
    }

    /// `input` as it is kept: its config dropped, and what `recording`
    /// redacts replaced. The names of what was replaced.
    pub(super) fn kept(mut self, recording: &Recording) -> (Self, Vec<String>) {
        let mut redacted = Vec::new();
        let (fields, contact, conversation, words) = match &mut self {
            CallInput::Step(input) => {
                input.config = PluginConfig::default();
                let message = input.message.as_mut();
                let words = message.map(|message| (&mut message.text, message.payload.as_mut()));
                (&mut input.fields, &mut input.contact, &mut input.conversation, words)
            }
            CallInput::Classify(input) => {
                input.config = PluginConfig::default();
                (
                    &mut input.fields,
                    &mut input.contact,
                    &mut input.conversation,
                    Some((&mut input.text, None)),
                )
            }
        };
        for name in &recording.redact_fields {
            if let Some(value) = fields.get_mut(name) {
                *value = Value::Text(REDACTED.to_owned());
                redacted.push(name.clone());
            }
        }
        if recording.redact_message
            && let Some((text, payload)) = words
        {
            *text = REDACTED.to_owned();
            if let Some(payload) = payload {
                *payload = REDACTED.to_owned();
            }
            redacted.push("message".to_owned());
        }
        if recording.redact_contact {
            contact.id = REDACTED.to_owned();
            contact.display_name = contact.display_name.as_ref().map(|_| REDACTED.to_owned());
            // A conversation's id is its first identity (a phone number).
            *conversation = pseudonym(conversation);
            redacted.push("contact".to_owned());
        }
        (self, redacted)
    }
}

/// A conversation id kept without saying whose it is: the first 16 hex
/// digits of its SHA-256, so calls of one conversation still group.
fn pseudonym(conversation: &str) -> String {
    use sha2::Digest;
    format!("redacted-{}", &hex::encode(sha2::Sha256::digest(conversation.as_bytes()))[..16])
}

impl Engine {
    /// Up to `limit` recorded calls of `tenant`'s binding `plugin` made at
    /// or after `since` (Unix ms), oldest first. Records that no longer
    /// decode (a newer format rolled back) are skipped with a warning.
    pub fn step_calls(
        &self,
        tenant: &str,
        plugin: &str,
        since: i64,
        limit: usize,
    ) -> Result<Vec<StepCall>, EngineError> {
        let mut calls = Vec::new();
        let mut bytes_read = 0;
        let mut from = (since, 0);
        // Read in pages, skipping other bindings' calls, until `limit`.
        loop {
            let page = self.store.step_calls(tenant, from, STEP_CALL_PAGE)?;
            let next =
                page.last().filter(|_| page.len() == STEP_CALL_PAGE).map(|(at, seq, _)| (*at, seq + 1));
            for (_, _, bytes) in page {
                bytes_read += bytes.len();
                if bytes_read > MAX_RECORDED_BYTES {
                    return Ok(calls);
                }
                match serde_json::from_slice::<StepCall>(&bytes) {
                    Ok(call) if call.plugin == plugin => calls.push(call),
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(tenant, %error, "a recorded step call that does not decode is skipped")
                    }
                }
                if calls.len() >= limit {
                    return Ok(calls);
                }
            }
            match next {
                Some(next) => from = next,
                None => return Ok(calls),
            }
        }
    }

    /// Keep a turn's step calls, applied with it and synced by its sync.
    pub(super) fn keep_step_calls(&self, tenant: &str, calls: &[StepCall]) {
        if calls.is_empty() {
            return;
        }
        let encoded: Vec<(i64, Vec<u8>)> = calls
            .iter()
            .filter_map(|call| serde_json::to_vec(call).ok().map(|bytes| (call.at, bytes)))
            .collect();
        // A turn is never refused because its record could not be kept.
        if let Err(error) = self.store.record_step_calls(tenant, &encoded) {
            tracing::warn!(tenant, %error, "the turn's step calls were not recorded");
        }
    }
}

/// Recorded calls of one binding, with the configs they ran with (by
/// hash): what `GET …/plugins/{name}/calls` exports for a local replay.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RecordedCalls {
    pub calls: Vec<StepCall>,
    /// Config hash to its JSON.
    pub configs: std::collections::HashMap<String, serde_json::Value>,
}

impl RecordedCalls {
    /// The configs, as calls take them.
    pub fn plugin_configs(&self) -> std::collections::HashMap<String, PluginConfig> {
        self.configs.iter().map(|(hash, config)| (hash.clone(), PluginConfig::from(config.clone()))).collect()
    }
}

impl Engine {
    /// The host's one replay at a time (of calls or of conversations),
    /// held while the guard lives; busy if another has it.
    pub(super) fn replay_slot(&self) -> Result<std::sync::MutexGuard<'_, ()>, EngineError> {
        match self.replaying.try_lock() {
            Ok(held) => Ok(held),
            // A replay that panicked holds nothing any more.
            Err(std::sync::TryLockError::Poisoned(poisoned)) => Ok(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => {
                Err(EngineError::Busy("another replay is running on this server; try again shortly".into()))
            }
        }
    }

    /// [`Engine::step_calls`] with the configs they ran with.
    pub fn recorded_calls(
        &self,
        tenant: &str,
        plugin: &str,
        since: i64,
        limit: usize,
    ) -> Result<RecordedCalls, EngineError> {
        let calls = self.step_calls(tenant, plugin, since, limit)?;
        let mut configs = std::collections::HashMap::new();
        for call in &calls {
            if call.config == crate::tenant::NO_CONFIG_HASH || configs.contains_key(&call.config) {
                continue;
            }
            if let Some(text) = self.store.plugin_config(tenant, &call.config)?
                && let Ok(config) = serde_json::from_str(&text)
            {
                configs.insert(call.config.clone(), config);
            }
        }
        Ok(RecordedCalls { calls, configs })
    }

    /// Run `candidate` (a component's bytes) against `tenant`'s recorded
    /// calls of `plugin` since `since`, with the binding's limits and each
    /// call's recorded config (or `config`, if given). Compiles the
    /// candidate: call it off the async runtime.
    pub fn replay(
        &self,
        tenant: &str,
        plugin: &str,
        candidate: &[u8],
        config: Option<PluginConfig>,
        since: i64,
        limit: usize,
    ) -> Result<crate::replay::Report, EngineError> {
        let running = self.tenant(tenant)?;
        let binding =
            running.plugins.get(plugin).ok_or_else(|| EngineError::UnknownPlugin(plugin.to_owned()))?;
        // One replay at a time on the host, within a budget, its guest
        // memory counted against the tenant's like a step's: a replay is
        // thousands of calls, and must not take the host from live turns.
        let _one_at_a_time = self.replay_slot()?;
        let _memory = self
            .memory
            .reserve(tenant, binding.limits.memory_bytes)
            .map_err(|busy| EngineError::Busy(format!("no guest memory for a replay now: {busy}")))?;
        let mut loaded = crate::replay::Candidate::load(&self.runtime, candidate)
            .map_err(|error| EngineError::Candidate(error.to_string()))?;
        let recorded = self.recorded_calls(tenant, plugin, since, limit)?;
        let until = std::time::Instant::now() + REPLAY_BUDGET;
        Ok(crate::replay::replay(
            plugin,
            &mut loaded,
            config.as_ref(),
            &recorded.plugin_configs(),
            binding.limits,
            &recorded.calls,
            || std::time::Instant::now() < until,
        ))
    }
}

/// How long a replay on the server may run; the calls left are reported as
/// not replayed.
const REPLAY_BUDGET: std::time::Duration = std::time::Duration::from_secs(60);

/// The most of recorded calls (encoded) one read returns.
const MAX_RECORDED_BYTES: usize = 32 << 20;

/// Recorded calls read per store page.
const STEP_CALL_PAGE: usize = 500;
