//! Picks the approver for an internal request (scenario 9): by amount
//! threshold first (the largest threshold the amount exceeds), else by
//! branch. It routes the request to that approver, records who the backup
//! is, asks the host to escalate to the backup if the approver stays
//! silent, and tells the requester where the request is.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use serde::Deserialize;
use switchboard_sdk::prelude::*;
use switchboard_sdk::{Due, Timer};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub currency: String,
    /// Branch (as the flow's `branch` field holds it) to its approvers.
    pub branches: BTreeMap<String, Approvers>,
    /// Amounts above a threshold go to its approvers instead.
    #[serde(default)]
    pub thresholds: Vec<Threshold>,
    /// Silence this long escalates to the backup.
    pub escalate_after_minutes: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approvers {
    pub approver: String,
    pub backup: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    pub above_minor: i64,
    pub approver: String,
    pub backup: String,
}

/// The timer kind the flow declares for escalation.
pub const ESCALATE: &str = "approval-escalate";

#[derive(Debug)]
pub struct ApprovalRouting;

impl Plugin for ApprovalRouting {
    fn run(input: StepInput) -> Result<Vec<Decision>, StepError> {
        let config = CONFIG.get(&input.config)?;
        let branch = input.text("branch").unwrap_or_default();
        let amount = input
            .money("amount")
            .ok_or_else(|| StepError::InvalidInput("the request has no amount".to_owned()))?;
        if amount.currency != config.currency {
            return Err(StepError::InvalidInput(format!(
                "amounts are approved in {}, not {}",
                config.currency, amount.currency
            )));
        }
        let chosen = pick(&config, branch, amount.amount_minor)
            .ok_or_else(|| StepError::Refused(format!("no approver is set for branch {branch:?}")))?;
        let urgent = input.text("urgency") == Some("urgent");
        let priority = if urgent { Priority::Urgent } else { Priority::Normal };
        let item = input.text("item").unwrap_or("the request");
        let deadline = input.now + i64::try_from(config.escalate_after_minutes).unwrap_or(0) * 60_000;
        let locale = input.contact.locale.as_str();
        Ok(vec![
            Decision::set_field("approver", Value::Text(chosen.approver.clone())),
            Decision::set_field("backup", Value::Text(chosen.backup.clone())),
            Decision::route(chosen.approver.clone(), priority),
            Decision::schedule(Timer {
                key: ESCALATE.to_owned(),
                kind: ESCALATE.to_owned(),
                due: Due::AfterMs(config.escalate_after_minutes * 60_000),
                payload: String::new(),
            }),
            Decision::emit(
                "approval.requested",
                &serde_json::json!({
                    "approver": chosen.approver, "backup": chosen.backup, "branch": branch,
                    "item": item, "amount_minor": amount.amount_minor, "currency": amount.currency,
                    "deadline": deadline,
                }),
            ),
            Decision::reply(pending(locale, &chosen.approver)),
            Decision::handoff(
                "approval",
                format!("{item}, {} {} for {branch}", amount.amount_minor / 100, amount.currency),
                format!("approve or reject; {} takes over if this waits", chosen.backup),
            ),
        ])
    }
}

/// The approvers for a request: the largest threshold the amount exceeds, else the branch's.
pub fn pick(config: &Config, branch: &str, amount_minor: i64) -> Option<Approvers> {
    let by_amount = config
        .thresholds
        .iter()
        .filter(|threshold| amount_minor > threshold.above_minor)
        .max_by_key(|threshold| threshold.above_minor)
        .map(|threshold| Approvers {
            approver: threshold.approver.clone(),
            backup: threshold.backup.clone(),
        });
    by_amount.or_else(|| config.branches.get(&branch.to_lowercase()).cloned())
}

fn pending(locale: &str, approver: &str) -> String {
    match locale {
        "ru" => format!("Заявка отправлена на согласование: {approver}. Ответ придёт сюда."),
        "hy" => format!("Հայտն ուղարկված է հաստատման՝ {approver}։ Պատասխանը կգա այստեղ։"),
        _ => format!("Sent to {approver} for approval. You'll hear back here."),
    }
}

/// The tenant's config, parsed once per binding by `init`.
static CONFIG: ConfigCell<Config> = ConfigCell::new();

switchboard_sdk::export_plugin!(ApprovalRouting, config = CONFIG);

#[cfg(test)]
mod tests;
