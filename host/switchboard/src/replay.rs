//! Replay: a candidate plugin version run against recorded production step
//! calls (`engine/step_calls.rs`), call by call, and what it answers
//! differently. `switchboard plugin replay` runs it on the author's
//! machine from the calls the server exports; `POST …/plugins/{name}/replay`
//! runs it on the server. Both print or return a [`Report`].
//!
//! Each call runs in the sandbox with the binding's limits, `log`, a
//! throwaway `kv`, and no secrets or outbound HTTP: a replay never reaches
//! the tenant's state or the world. The config is the candidate's, if one
//! is given, or else the one the call was recorded with.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use switchboard_core::contract::PluginConfig;
use switchboard_runtime::{CallContext, Grants, Limits, MemoryKv, Plugin, Runtime, StepFailure};

use crate::engine::{CallInput, CallOutcome, StepCall};

/// How a candidate's answer to one recorded call compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The same decisions, or the same failure.
    Same,
    /// Different decisions.
    Changed,
    /// It fails where production answered: a regression.
    NewFailure,
    /// It answers where production failed.
    Fixed,
    /// It fails, as production did, but with another code.
    FailsDifferently,
}

/// One recorded call whose answer changed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Difference {
    pub at: i64,
    pub conversation: String,
    pub verdict: Verdict,
    pub recorded: CallOutcome,
    pub candidate: CallOutcome,
}

/// How many answers came out each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub same: usize,
    pub changed: usize,
    pub new_failures: usize,
    pub fixed: usize,
    pub fails_differently: usize,
}

impl Tally {
    pub fn count(&mut self, verdict: Verdict) {
        *match verdict {
            Verdict::Same => &mut self.same,
            Verdict::Changed => &mut self.changed,
            Verdict::NewFailure => &mut self.new_failures,
            Verdict::Fixed => &mut self.fixed,
            Verdict::FailsDifferently => &mut self.fails_differently,
        } += 1;
    }
}

/// What a replay found.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    pub plugin: String,
    /// The candidate's SHA-256.
    pub candidate: String,
    /// The components the calls were recorded with, and how many calls each.
    pub recorded_with: HashMap<String, usize>,
    pub calls: usize,
    #[serde(flatten)]
    pub tally: Tally,
    /// Calls whose recorded config is no longer stored (and no candidate
    /// config was given): not run.
    pub skipped: usize,
    /// Calls left when the replay's time ran out.
    #[serde(default)]
    pub unreplayed: usize,
    /// Fuel the candidate used over what production used, on the calls
    /// both answered (1.0: the same).
    pub fuel_ratio: Option<f64>,
    /// The candidate's wall time over production's, on the same calls. The
    /// two ran on different machines or loads, so read it as a hint.
    pub time_ratio: Option<f64>,
    /// Each call that did not answer the same, oldest first (at most
    /// [`MAX_DIFFERENCES`]).
    pub differences: Vec<Difference>,
}

/// The most differences a report lists.
pub const MAX_DIFFERENCES: usize = 200;

/// When a replay counts as a regression.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// Any changed decision is one (off: changes may be what the new version is for).
    pub fail_on_change: bool,
    pub max_fuel_ratio: f64,
    pub max_time_ratio: Option<f64>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self { fail_on_change: false, max_fuel_ratio: 1.5, max_time_ratio: None }
    }
}

impl Report {
    /// Why this replay is a regression, one reason a line; none if it is not.
    pub fn regressions(&self, thresholds: &Thresholds) -> Vec<String> {
        let mut reasons = Vec::new();
        let tally = &self.tally;
        if tally.new_failures > 0 {
            reasons.push(format!("{} call(s) fail that production answered", tally.new_failures));
        }
        if thresholds.fail_on_change && tally.changed + tally.fails_differently > 0 {
            reasons.push(format!("{} call(s) answer differently", tally.changed + tally.fails_differently));
        }
        if let Some(ratio) = self.fuel_ratio.filter(|ratio| *ratio > thresholds.max_fuel_ratio) {
            reasons
                .push(format!("fuel {ratio:.2}x production's (at most {:.2}x)", thresholds.max_fuel_ratio));
        }
        if let (Some(ratio), Some(max)) = (self.time_ratio, thresholds.max_time_ratio)
            && ratio > max
        {
            reasons.push(format!("wall time {ratio:.2}x production's (at most {max:.2}x)"));
        }
        reasons
    }
}

/// A candidate build, bound with each config a replay runs it with as a
/// tenant's binding is (see [`Runtime::bind`]): from a snapshot of its
/// `init`, so its fuel and time compare with production's.
pub struct Candidate<'a> {
    runtime: &'a Runtime,
    bytes: &'a [u8],
    plugin: Plugin,
    bound: HashMap<String, Plugin>,
}

impl<'a> Candidate<'a> {
    pub fn load(runtime: &'a Runtime, bytes: &'a [u8]) -> Result<Self, switchboard_runtime::LoadError> {
        Ok(Self { runtime, bytes, plugin: runtime.load(bytes)?, bound: HashMap::new() })
    }

    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }

    /// The candidate as `config` binds it under `limits`. An `init` that
    /// refuses the config leaves it unsnapshotted, so that each call meets
    /// the refusal and the replay reports it.
    fn bound(&mut self, config: &PluginConfig, limits: &Limits) -> &Plugin {
        let Self { runtime, bytes, plugin, bound } = self;
        bound.entry(config.as_str().to_owned()).or_insert_with(|| {
            runtime.initialise(plugin, bytes, config, limits).unwrap_or_else(|error| {
                tracing::debug!("replaying without a snapshot: {error}");
                plugin.clone()
            })
        })
    }
}

impl std::fmt::Debug for Candidate<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Candidate").field("plugin", &self.plugin).finish_non_exhaustive()
    }
}

/// Run `candidate` against `calls`. `config` is the candidate's config, if
/// it brings one; otherwise each call gets the config it was recorded with,
/// from `recorded_configs` (by hash). `tick` is called before each call (a
/// progress bar, a budget): once it says no, the rest are left `unreplayed`.
pub fn replay(
    plugin: &str,
    candidate: &mut Candidate<'_>,
    config: Option<&PluginConfig>,
    recorded_configs: &HashMap<String, PluginConfig>,
    limits: Limits,
    calls: &[StepCall],
    mut tick: impl FnMut() -> bool,
) -> Report {
    let mut report = Report {
        plugin: plugin.to_owned(),
        candidate: candidate.plugin().hash().to_string(),
        calls: calls.len(),
        ..Report::default()
    };
    let (mut fuel, mut time) = ((0u64, 0u64), (0u64, 0u64));
    for (done, call) in calls.iter().enumerate() {
        if !tick() {
            report.unreplayed = calls.len() - done;
            break;
        }
        *report.recorded_with.entry(call.component.clone()).or_default() += 1;
        let config = match config {
            Some(config) => config.clone(),
            None if call.config == crate::tenant::NO_CONFIG_HASH => PluginConfig::default(),
            None => match recorded_configs.get(&call.config) {
                Some(config) => config.clone(),
                None => {
                    report.skipped += 1;
                    continue;
                }
            },
        };
        let answered = run_one(plugin, candidate.bound(&config, &limits), &call.input, config, limits);
        let outcome = match &answered {
            Ok((answer, used_fuel, wall_us)) => {
                if matches!(call.outcome, CallOutcome::Ok { .. }) {
                    fuel = (fuel.0 + call.fuel, fuel.1 + used_fuel);
                    time = (time.0 + call.wall_time_us, time.1 + wall_us);
                }
                CallOutcome::Ok { answer: answer.clone() }
            }
            Err(failure) => {
                CallOutcome::Failed { code: failure.kind.code(), message: failure.kind.to_string() }
            }
        };
        let verdict = compare(&call.outcome, &outcome);
        report.tally.count(verdict);
        if verdict != Verdict::Same && report.differences.len() < MAX_DIFFERENCES {
            report.differences.push(Difference {
                at: call.at,
                conversation: call.conversation.clone(),
                verdict,
                recorded: call.outcome.clone(),
                candidate: outcome,
            });
        }
    }
    let ratio =
        |(recorded, candidate): (u64, u64)| (recorded > 0).then(|| candidate as f64 / recorded as f64);
    report.fuel_ratio = ratio(fuel);
    report.time_ratio = ratio(time);
    report
}

/// One input through `candidate` as a replay runs it (its own `log`, a
/// throwaway `kv`, no secrets or HTTP): its answer as JSON, fuel and wall
/// time (µs).
pub fn run_one(
    plugin: &str,
    candidate: &Plugin,
    input: &CallInput,
    config: PluginConfig,
    limits: Limits,
) -> Result<(serde_json::Value, u64, u64), StepFailure> {
    let context = CallContext {
        plugin: plugin.to_owned(),
        limits,
        grants: Arc::new(Grants { log: true, kv: true, ..Grants::default() }),
        kv: Some(Arc::new(MemoryKv::default())),
        kv_quota: Default::default(),
    };
    run(candidate, input, config, context)
}

/// One recorded input through the candidate: its answer as JSON, fuel and
/// wall time (µs).
fn run(
    candidate: &Plugin,
    input: &CallInput,
    config: PluginConfig,
    context: CallContext,
) -> Result<(serde_json::Value, u64, u64), StepFailure> {
    match input {
        CallInput::Step(input) => {
            let input = switchboard_core::contract::StepInput { config, ..(**input).clone() };
            let outcome = candidate.call(&input, context)?;
            let answer = serde_json::to_value(&outcome.decisions).unwrap_or_default();
            Ok((answer, outcome.report.fuel_used, outcome.report.wall_time_us()))
        }
        CallInput::Classify(input) => {
            let input = switchboard_core::contract::ClassifyInput { config, ..(**input).clone() };
            let outcome = candidate.classify(&input, context)?;
            let answer = serde_json::to_value(&outcome.classification).unwrap_or_default();
            Ok((answer, outcome.report.fuel_used, outcome.report.wall_time_us()))
        }
    }
}

pub fn compare(recorded: &CallOutcome, candidate: &CallOutcome) -> Verdict {
    match (recorded, candidate) {
        (CallOutcome::Ok { answer: was }, CallOutcome::Ok { answer: now }) if was == now => Verdict::Same,
        (CallOutcome::Ok { .. }, CallOutcome::Ok { .. }) => Verdict::Changed,
        (CallOutcome::Ok { .. }, CallOutcome::Failed { .. }) => Verdict::NewFailure,
        (CallOutcome::Failed { .. }, CallOutcome::Ok { .. }) => Verdict::Fixed,
        (CallOutcome::Failed { code: was, .. }, CallOutcome::Failed { code: now, .. }) if was == now => {
            Verdict::Same
        }
        (CallOutcome::Failed { .. }, CallOutcome::Failed { .. }) => Verdict::FailsDifferently,
    }
}

/// A `--since` (or `?since=`): Unix milliseconds, an RFC 3339 time
/// (`2026-12-01T10:00:00Z`), or a span back from `now` (`24h`, `7d`), as
/// Unix milliseconds.
pub fn parse_since(text: &str, now: i64) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(at) = text.parse::<jiff::Timestamp>() {
        return Ok(at.as_millisecond());
    }
    let span: jiff::Span = text.parse().map_err(|_| {
        format!("since {text:?}: give Unix milliseconds, an RFC 3339 time, or a span back from now (\"24h\", \"7d\")")
    })?;
    let back = span
        .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
        .map_err(|error| format!("since {text:?}: {error}"))?;
    Ok(now.saturating_sub(i64::try_from(back.as_millis()).unwrap_or(i64::MAX).abs()))
}

#[cfg(test)]
mod tests {
    use switchboard_core::failure::FailureCode;

    use super::*;

    #[test]
    fn since_is_a_time_or_a_span_back_from_now() {
        let now = 1_000_000_000;
        assert_eq!(parse_since("12345", now), Ok(12345));
        assert_eq!(parse_since("2h", now), Ok(now - 2 * 3_600_000));
        assert_eq!(parse_since("1d", now), Ok(now - 86_400_000));
        assert_eq!(parse_since("1970-01-01T00:00:01Z", now), Ok(1000));
        assert!(parse_since("yesterday-ish", now).unwrap_err().contains("span back from now"));
    }

    #[test]
    fn outcomes_compare_by_answer_and_by_failure_code() {
        let ok = |answer: serde_json::Value| CallOutcome::Ok { answer };
        let failed = |code| CallOutcome::Failed { code, message: "whatever".into() };
        assert_eq!(compare(&ok(serde_json::json!([1])), &ok(serde_json::json!([1]))), Verdict::Same);
        assert_eq!(compare(&ok(serde_json::json!([1])), &ok(serde_json::json!([2]))), Verdict::Changed);
        assert_eq!(compare(&ok(serde_json::json!([])), &failed(FailureCode::Trap)), Verdict::NewFailure);
        assert_eq!(compare(&failed(FailureCode::Trap), &ok(serde_json::json!([]))), Verdict::Fixed);
        assert_eq!(compare(&failed(FailureCode::Trap), &failed(FailureCode::Trap)), Verdict::Same);
        assert_eq!(
            compare(&failed(FailureCode::Trap), &failed(FailureCode::Deadline)),
            Verdict::FailsDifferently
        );
    }

    #[test]
    fn a_replay_regresses_on_new_failures_fuel_and_if_asked_on_changes() {
        let changed = Tally { changed: 2, ..Tally::default() };
        let report = Report { tally: changed, fuel_ratio: Some(1.2), ..Report::default() };
        assert!(report.regressions(&Thresholds::default()).is_empty());
        let strict = Thresholds { fail_on_change: true, ..Thresholds::default() };
        assert_eq!(report.regressions(&strict).len(), 1);
        let failing = Tally { new_failures: 1, ..Tally::default() };
        let hungry = Report { tally: failing, fuel_ratio: Some(3.0), ..Report::default() };
        assert_eq!(hungry.regressions(&Thresholds::default()).len(), 2);
    }
}
