//! Decides a return or refund claim by the shop's policy (scenario 5).
//!
//! The checks run in the order a careful clerk would use:
//!
//! 1. fraud signals, a second claim on one order and repeat claims escalate
//!    to a human, whatever else holds;
//! 2. final-sale items (the customer says so, or the category is one) are
//!    refused, unless defective;
//! 3. a claim outside the return window is refused, unless defective and
//!    within the warranty window, where an exchange is offered;
//! 4. amounts above the escalation threshold go to a human;
//! 5. the item's condition picks the remedies: exchange, store credit, a full
//!    refund or a partial one.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use serde::Deserialize;
use switchboard_sdk::Scalar;
use switchboard_sdk::prelude::*;
use switchboard_sdk::time::DAY_MS;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub currency: String,
    pub window_days: i64,
    /// Defective items may still be exchanged this long after purchase.
    #[serde(default)]
    pub warranty_days: i64,
    #[serde(default)]
    pub final_sale_categories: Vec<String>,
    /// Claims above this amount (minor units) go to a human.
    pub escalate_above_minor: i64,
    /// This many earlier claims by the same customer escalate.
    pub repeat_claims_escalate_at: u32,
    /// Field names whose presence as `true` (or in the `risk_flags` list) signals fraud.
    #[serde(default)]
    pub fraud_signals: Vec<String>,
    /// Condition (as the customer states it) to the remedies it earns.
    pub conditions: BTreeMap<String, Vec<RemedyKind>>,
    /// The share refunded by a `partial_refund`, in percent.
    #[serde(default = "default_partial")]
    pub partial_refund_percent: u8,
}

fn default_partial() -> u8 {
    50
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemedyKind {
    Exchange,
    StoreCredit,
    FullRefund,
    PartialRefund,
}

#[derive(Debug)]
pub struct RefundPolicy;

impl Plugin for RefundPolicy {
    fn run(input: StepInput) -> Result<Vec<Decision>, StepError> {
        let config = CONFIG.get(&input.config)?;
        let verdict = decide(&config, &Claim::from_input(&input)?, input.now);
        Ok(vec![Decision::Verdict(verdict)])
    }
}

/// The facts of one claim, taken from the collected fields.
#[derive(Debug)]
pub struct Claim<'a> {
    pub purchased_at: i64,
    pub amount: Money,
    pub category: Option<&'a str>,
    /// The customer said the item was sold as final sale.
    pub final_sale: bool,
    pub condition: String,
    /// The customer's earlier claims (`prior_claims`, from the host's memory).
    pub prior_claims: u32,
    /// This order's earlier return number, if it already has one.
    pub earlier_return: Option<String>,
    pub risk_flags: Vec<&'a str>,
}

impl<'a> Claim<'a> {
    pub fn from_input(input: &'a StepInput) -> Result<Self, StepError> {
        let missing = |name: &str| StepError::InvalidInput(format!("missing field {name}"));
        let risk_flags = input
            .list("risk_flags")
            .unwrap_or_default()
            .iter()
            .filter_map(|flag| match flag {
                Scalar::Text(text) => Some(text.as_str()),
                _ => None,
            })
            .chain(input.fields.iter().filter_map(|field| {
                matches!(field.value, Value::Boolean(true)).then_some(field.name.as_str())
            }))
            .collect();
        let texts = |name: &str| -> Vec<Option<&'a str>> {
            input
                .list(name)
                .unwrap_or_default()
                .iter()
                .map(|item| match item {
                    Scalar::Text(text) => Some(text.as_str()),
                    _ => None,
                })
                .collect()
        };
        let order = input.text("order_id").map(normalise_order);
        let (claimed_orders, returns) = (texts("prior_claims_order_id"), texts("prior_claims_rma"));
        let earlier_return = order.and_then(|order| {
            let index = claimed_orders
                .iter()
                .rposition(|claimed| claimed.map(normalise_order) == Some(order.clone()))?;
            Some(returns.get(index).copied().flatten().unwrap_or("an earlier return").to_owned())
        });
        Ok(Claim {
            purchased_at: input.datetime("purchase_date").ok_or_else(|| missing("purchase_date"))?,
            amount: input.money("amount").cloned().ok_or_else(|| missing("amount"))?,
            category: input.text("category"),
            final_sale: input.boolean("final_sale").unwrap_or(false),
            condition: input.text("condition").ok_or_else(|| missing("condition"))?.trim().to_lowercase(),
            prior_claims: input.number("prior_claims").unwrap_or(0.0).max(0.0) as u32,
            earlier_return,
            risk_flags,
        })
    }
}

pub fn decide(config: &Config, claim: &Claim<'_>, now: i64) -> Verdict {
    if let Some(signal) = claim.risk_flags.iter().find(|flag| config.fraud_signals.iter().any(|s| s == *flag))
    {
        return Verdict::Escalate(format!("fraud signal: {signal}"));
    }
    if let Some(earlier) = &claim.earlier_return {
        return Verdict::Escalate(format!("this order already has return {earlier}"));
    }
    if claim.prior_claims >= config.repeat_claims_escalate_at {
        return Verdict::Escalate(format!("repeat claims: {} before this one", claim.prior_claims));
    }
    let defective = claim.condition == "defective";
    let final_sale = claim.final_sale
        || claim.category.is_some_and(|category| {
            config.final_sale_categories.iter().any(|excluded| excluded.eq_ignore_ascii_case(category.trim()))
        });
    if final_sale && !defective {
        return Verdict::Deny("final sale items cannot be returned".to_owned());
    }
    let age_days = (now - claim.purchased_at).div_euclid(DAY_MS);
    if age_days > config.window_days {
        if defective && age_days <= config.warranty_days {
            return Verdict::Allow(vec![Remedy::Exchange]);
        }
        return Verdict::Deny(format!(
            "bought {age_days} days ago; returns are accepted within {} days",
            config.window_days
        ));
    }
    if claim.amount.amount_minor > config.escalate_above_minor {
        return Verdict::Escalate(format!(
            "amount {} {} is above the {} threshold",
            claim.amount.amount_minor, claim.amount.currency, config.escalate_above_minor
        ));
    }
    let Some(kinds) = config.conditions.get(&claim.condition) else {
        return Verdict::Escalate(format!("condition {:?} needs a human look", claim.condition));
    };
    if kinds.is_empty() {
        return Verdict::Deny(format!("items in {:?} condition cannot be returned", claim.condition));
    }
    let full = claim.amount.clone();
    let partial =
        Money::new(full.amount_minor * i64::from(config.partial_refund_percent) / 100, &full.currency);
    Verdict::Allow(
        kinds
            .iter()
            .map(|kind| match kind {
                RemedyKind::Exchange => Remedy::Exchange,
                RemedyKind::StoreCredit => Remedy::StoreCredit(full.clone()),
                RemedyKind::FullRefund => Remedy::FullRefund(full.clone()),
                RemedyKind::PartialRefund => Remedy::PartialRefund(partial.clone()),
            })
            .collect(),
    )
}

/// "a-1001", "A1001" and "A-1001" are one order.
fn normalise_order(order: &str) -> String {
    order.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_uppercase()
}

/// The tenant's config, parsed once per binding by `init`.
static CONFIG: ConfigCell<Config> = ConfigCell::new();

switchboard_sdk::export_plugin!(RefundPolicy, config = CONFIG);

#[cfg(test)]
mod tests;
