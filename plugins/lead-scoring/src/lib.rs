//! Scores and qualifies a lead with the tenant's rules (scenario 1).
//!
//! Each rule tests one collected field and adds points with a reason, e.g.
//! "deadline within 7 days = +2" or "budget at least 500,000 = +2". The running
//! score then maps to hot, warm or cold, and each tier may route to a queue.
//! Every point the lead earns comes back as a `score` decision with its reason,
//! so an agent sees *why* a lead is hot.

#![forbid(unsafe_code)]

use serde::Deserialize;
use switchboard_sdk::prelude::*;
use switchboard_sdk::time::DAY_MS;
use switchboard_sdk::{Route, Scalar};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub rules: Vec<Rule>,
    /// A score at or above this is hot.
    pub hot_at: i32,
    /// A score at or above this (and below `hot_at`) is warm; below is cold.
    pub warm_at: i32,
    #[serde(default)]
    pub routes: Routes,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Routes {
    pub hot: Option<String>,
    pub warm: Option<String>,
    pub cold: Option<String>,
}

// No `deny_unknown_fields` here: serde does not support it together with `flatten`.
#[derive(Debug, Deserialize)]
pub struct Rule {
    pub field: String,
    #[serde(flatten)]
    pub test: Test,
    pub points: i32,
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Test {
    /// A date/time field no later than this many days from now (and not in the past).
    WithinDays(i64),
    /// A number or money field at least this large (money in minor units).
    AtLeast(f64),
    /// A number or money field below this.
    Below(f64),
    /// A text field equal (case-insensitively) to one of these, or a list
    /// holding at least one of them.
    OneOf(Vec<String>),
    /// The field was never collected (`true`) or was (`false`).
    Missing(bool),
}

#[derive(Debug)]
pub struct LeadScoring;

impl Plugin for LeadScoring {
    fn run(input: StepInput) -> Result<Vec<Decision>, StepError> {
        let config = CONFIG.get(&input.config)?;
        if config.warm_at > config.hot_at {
            return Err(StepError::InvalidConfig("warm_at must not exceed hot_at".to_owned()));
        }
        Ok(score(&config, &input))
    }
}

/// Apply every rule; return the score changes, the grade and the route.
pub fn score(config: &Config, input: &StepInput) -> Vec<Decision> {
    let mut decisions = Vec::new();
    let mut reasons = Vec::new();
    let mut total = input.score;
    for rule in &config.rules {
        if rule.test.matches(input, &rule.field) {
            total += rule.points;
            reasons.push(format!("{} ({:+})", rule.reason, rule.points));
            decisions.push(Decision::score(rule.points, rule.reason.clone()));
        }
    }
    let (tier, queue) = if total >= config.hot_at {
        (LeadTier::Hot, &config.routes.hot)
    } else if total >= config.warm_at {
        (LeadTier::Warm, &config.routes.warm)
    } else {
        (LeadTier::Cold, &config.routes.cold)
    };
    if reasons.is_empty() {
        reasons.push("no scoring rule matched".to_owned());
    }
    decisions.push(Decision::grade(tier, reasons));
    if let Some(queue) = queue {
        let priority = if tier == LeadTier::Hot { Priority::High } else { Priority::Normal };
        decisions.push(Decision::Route(Route {
            queue: queue.clone(),
            assignee: None,
            backup: None,
            priority,
        }));
    }
    decisions
}

impl Test {
    fn matches(&self, input: &StepInput, field: &str) -> bool {
        match self {
            Test::WithinDays(days) => {
                input.datetime(field).is_some_and(|at| at >= input.now && at <= input.now + days * DAY_MS)
            }
            Test::AtLeast(threshold) => input.number(field).is_some_and(|value| value >= *threshold),
            Test::Below(threshold) => input.number(field).is_some_and(|value| value < *threshold),
            Test::OneOf(options) => {
                let hit = |text: &str| options.iter().any(|option| same_words(option, text));
                match input.field(field) {
                    Some(Value::Text(text)) => hit(text),
                    Some(Value::List(items)) => {
                        items.iter().any(|item| matches!(item, Scalar::Text(text) if hit(text)))
                    }
                    _ => false,
                }
            }
            Test::Missing(missing) => input.field(field).is_none() == *missing,
        }
    }
}

/// Case- and space-insensitive equality, across scripts (Cyrillic, Armenian, Latin).
fn same_words(left: &str, right: &str) -> bool {
    let normalize = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    normalize(left) == normalize(right)
}

/// The tenant's config, parsed once per binding by `init`.
static CONFIG: ConfigCell<Config> = ConfigCell::new();

switchboard_sdk::export_plugin!(LeadScoring, config = CONFIG);

#[cfg(test)]
mod tests;
