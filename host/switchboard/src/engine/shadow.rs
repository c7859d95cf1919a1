//! Shadows: a binding's new version run beside its own on the same inputs,
//! answers compared, never applied. A live call hands the shadow's call to
//! one worker thread through a bounded queue, so a shadow never slows a
//! turn; when the queue is full the call is skipped (and counted). The
//! worker runs it as a replay would (`crate::replay`): the binding's
//! limits, `log`, a throwaway `kv`, no secrets or outbound HTTP.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use switchboard_core::contract::PluginConfig;
use switchboard_runtime::{Limits, Plugin};

use super::step_calls::{CallInput, CallOutcome};
use super::{Engine, lock};
use crate::replay::{Difference, Tally, Verdict};

/// Calls waiting for the worker, at most.
const QUEUE: usize = 256;
/// The most recent differences kept per shadow.
const KEPT_DIFFERENCES: usize = 20;

/// One live call for the shadow to answer too.
pub(super) struct ShadowCall {
    pub tenant: String,
    pub binding: String,
    pub shadow: Plugin,
    /// Its `version_id`: its stats are kept by it.
    pub version: String,
    pub config: PluginConfig,
    pub limits: Limits,
    pub input: CallInput,
    pub at: i64,
    pub conversation: String,
    pub live: CallOutcome,
    pub live_fuel: u64,
    pub live_wall_time_us: u64,
}

/// How a shadow compares with the binding's version so far.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ShadowStats {
    pub calls: u64,
    #[serde(flatten)]
    pub tally: Tally,
    /// Live calls it did not answer because its queue was full.
    pub skipped: u64,
    /// Fuel it burned over the live version's, on the calls both answered.
    pub fuel_ratio: Option<f64>,
    pub time_ratio: Option<f64>,
    /// The newest differences, oldest first.
    pub differences: VecDeque<Difference>,
    #[serde(skip)]
    fuel: (u64, u64),
    #[serde(skip)]
    time: (u64, u64),
}

type Key = (String, String, String);

#[derive(Debug, Default)]
pub(super) struct Shadows {
    queue: Mutex<Option<SyncSender<ShadowCall>>>,
    stats: Arc<Mutex<HashMap<Key, ShadowStats>>>,
}

impl Engine {
    /// Hand a live call to the shadow worker (started on first use); skip
    /// it if the worker is behind.
    pub(super) fn shadow(&self, call: ShadowCall) {
        let key = (call.tenant.clone(), call.binding.clone(), call.version.clone());
        let mut queue = lock(&self.shadows.queue);
        let sender = queue.get_or_insert_with(|| {
            let (sender, receiver) = std::sync::mpsc::sync_channel(QUEUE);
            let stats = self.shadows.stats.clone();
            let spawned =
                std::thread::Builder::new().name("shadows".into()).spawn(move || run(receiver, &stats));
            if let Err(error) = spawned {
                tracing::error!(%error, "no thread for shadows; their calls are skipped");
            }
            sender
        });
        match sender.try_send(call) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                lock(&self.shadows.stats).entry(key).or_default().skipped += 1;
            }
        }
    }

    /// Forget what shadows of `tenant` (of `binding`, if given) found.
    pub(super) fn forget_shadows(&self, tenant: &str, binding: Option<&str>) {
        lock(&self.shadows.stats)
            .retain(|(t, b, _), _| !(t == tenant && binding.is_none_or(|binding| b == binding)));
    }

    /// How `binding`'s shadow `version` (a `version_id`) compares so far.
    pub fn shadow_stats(&self, tenant: &str, binding: &str, version: &str) -> ShadowStats {
        let key = (tenant.to_owned(), binding.to_owned(), version.to_owned());
        lock(&self.shadows.stats).get(&key).cloned().unwrap_or_default()
    }
}

/// The worker: each queued call through its shadow, compared.
fn run(calls: Receiver<ShadowCall>, stats: &Mutex<HashMap<Key, ShadowStats>>) {
    for call in calls {
        let key = (call.tenant.clone(), call.binding.clone(), call.version.clone());
        let answered =
            crate::replay::run_one(&call.binding, &call.shadow, &call.input, call.config, call.limits);
        let (outcome, fuel, wall) = match answered {
            Ok((answer, _, _)) if answer.to_string().len() > super::MAX_STEP_OUTPUT_BYTES => (
                CallOutcome::Failed {
                    code: switchboard_core::failure::FailureCode::OutputTooLarge,
                    message: "the shadow's answer is too large".to_owned(),
                },
                None,
                None,
            ),
            Ok((answer, fuel, wall)) => (CallOutcome::Ok { answer }, Some(fuel), Some(wall)),
            Err(failure) => (
                CallOutcome::Failed { code: failure.kind.code(), message: failure.kind.to_string() },
                None,
                None,
            ),
        };
        let verdict = crate::replay::compare(&call.live, &outcome);
        let mut stats = stats.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = stats.entry(key).or_default();
        entry.calls += 1;
        entry.tally.count(verdict);
        if let (Some(fuel), Some(wall), CallOutcome::Ok { .. }) = (fuel, wall, &call.live) {
            entry.fuel = (entry.fuel.0 + call.live_fuel, entry.fuel.1 + fuel);
            entry.time = (entry.time.0 + call.live_wall_time_us, entry.time.1 + wall);
            let ratio = |(live, shadow): (u64, u64)| (live > 0).then(|| shadow as f64 / live as f64);
            entry.fuel_ratio = ratio(entry.fuel);
            entry.time_ratio = ratio(entry.time);
        }
        if verdict != Verdict::Same {
            if entry.differences.len() >= KEPT_DIFFERENCES {
                entry.differences.pop_front();
            }
            entry.differences.push_back(Difference {
                at: call.at,
                conversation: call.conversation,
                verdict,
                recorded: call.live,
                candidate: outcome,
            });
        }
    }
}
