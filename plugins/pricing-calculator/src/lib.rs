//! Quotes a price from the tenant's pricing table (scenario 3).
//!
//! Three pricing models, chosen by the tenant's config:
//!
//! - `modifiers`: a base price plus modifiers, each driven by a field: a
//!   multiplier per option (urgency, complexity) or a price per unit beyond an
//!   included amount (distance). A missing field widens the quote into a range
//!   and is named among the factors that move it.
//! - `packages`: a table of tiers (e.g. basic / standard / premium) plus add-ons.
//!   With no tier chosen yet, the quote spans the cheapest to the dearest tier.
//! - `catalog`: per-SKU prices with volume discounts, for orders that list
//!   items (`"sku"` or `"sku*quantity"`).
//!
//! Every model honours a minimum price.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use serde::Deserialize;
use switchboard_sdk::prelude::*;
use switchboard_sdk::{LineItem, Quote, Scalar, time::HOUR_MS};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub currency: String,
    /// The least any quote may total, in minor units.
    #[serde(default)]
    pub minimum_minor: i64,
    /// How long a quote stays valid.
    #[serde(default = "default_valid_hours")]
    pub valid_hours: i64,
    pub pricing: Pricing,
}

fn default_valid_hours() -> i64 {
    72
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Pricing {
    Modifiers {
        base_minor: i64,
        base_label: Label,
        modifiers: Vec<Modifier>,
    },
    Packages {
        tier_field: String,
        tiers: Vec<Tier>,
        addons_field: String,
        addons: Vec<Addon>,
    },
    Catalog {
        items_field: String,
        prices_minor: BTreeMap<String, i64>,
        volume_discounts: Vec<VolumeDiscount>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum Modifier {
    /// Multiplies the running total by the factor of the chosen option.
    Multiplier {
        field: String,
        label: Label,
        options: BTreeMap<String, f64>,
        /// What each option is called in the quote, per locale; the option's value otherwise.
        #[serde(default)]
        option_labels: BTreeMap<String, Label>,
    },
    /// Adds `unit_minor` per unit above `included`. `typical` bounds the range
    /// quoted while the field is unknown.
    PerUnit { field: String, label: Label, unit_minor: i64, included: f64, typical: (f64, f64) },
}

/// A label in one language, or per locale (`{ "en": "Distance", "ru": "Расстояние" }`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Label {
    One(String),
    PerLocale(BTreeMap<String, String>),
}

impl Label {
    /// In the customer's locale, else English, else any.
    pub fn get(&self, locale: &str) -> &str {
        match self {
            Label::One(label) => label,
            Label::PerLocale(labels) => labels
                .get(locale)
                .or_else(|| labels.get("en"))
                .or_else(|| labels.values().next())
                .map_or("", String::as_str),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub name: String,
    pub price_minor: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Addon {
    pub name: String,
    pub price_minor: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeDiscount {
    pub min_quantity: u32,
    pub percent: f64,
}

#[derive(Debug)]
pub struct PricingCalculator;

impl Plugin for PricingCalculator {
    fn run(input: StepInput) -> Result<Vec<Decision>, StepError> {
        let config = CONFIG.get(&input.config)?;
        let quote = quote(&config, &input)?;
        Ok(vec![Decision::Quote(quote)])
    }
}

/// A running price: exact while every input is known, a range once one is not.
#[derive(Debug, Clone, Copy)]
struct Span {
    low: f64,
    high: f64,
}

impl Span {
    fn exact(value: f64) -> Self {
        Self { low: value, high: value }
    }
}

/// Compute the quote for `input` under `config`.
pub fn quote(config: &Config, input: &StepInput) -> Result<Quote, StepError> {
    let mut line_items = Vec::new();
    let mut factors = Vec::new();
    let span = match &config.pricing {
        Pricing::Modifiers { base_minor, base_label, modifiers } => {
            price_modifiers(*base_minor, base_label, modifiers, input, &mut line_items, &mut factors)?
        }
        Pricing::Packages { tier_field, tiers, addons_field, addons } => {
            price_packages(tier_field, tiers, addons_field, addons, input, &mut line_items, &mut factors)?
        }
        Pricing::Catalog { items_field, prices_minor, volume_discounts } => {
            price_catalog(items_field, prices_minor, volume_discounts, input, &mut line_items)?
        }
    };

    let mut low = span.low.round() as i64;
    let mut high = span.high.round() as i64;
    if high < config.minimum_minor {
        line_items.push(LineItem {
            label: match input.contact.locale.as_str() {
                "ru" => "Минимальный заказ",
                "hy" => "Նվազագույն պատվեր",
                _ => "Minimum order",
            }
            .to_owned(),
            quantity: 1.0,
            unit_price_minor: config.minimum_minor - high,
            total_minor: config.minimum_minor - high,
        });
    }
    low = low.max(config.minimum_minor);
    high = high.max(config.minimum_minor);
    let total = if low == high { Amount::Exact(low) } else { Amount::Range((low, high)) };

    Ok(Quote {
        line_items,
        total,
        currency: config.currency.clone(),
        valid_until: Some(input.now + config.valid_hours * HOUR_MS),
        factors,
        // The labels were picked for the customer's language; saying so lets
        // the host keep this quote out of a conversation in another one.
        locale: Some(input.contact.locale.clone()).filter(|locale| !locale.is_empty()),
    })
}

fn price_modifiers(
    base_minor: i64,
    base_label: &Label,
    modifiers: &[Modifier],
    input: &StepInput,
    line_items: &mut Vec<LineItem>,
    factors: &mut Vec<String>,
) -> Result<Span, StepError> {
    let locale = input.contact.locale.as_str();
    line_items.push(item(base_label.get(locale), 1.0, base_minor));
    let mut span = Span::exact(base_minor as f64);
    for modifier in modifiers {
        match modifier {
            Modifier::Multiplier { field, label, options, option_labels } => {
                let label = label.get(locale);
                let chosen = input.text(field).map(|text| text.trim().to_lowercase());
                match chosen {
                    Some(choice) => {
                        let factor = *options.get(&choice).ok_or_else(|| {
                            StepError::InvalidInput(format!(
                                "{field} is {choice:?}; expected one of {:?}",
                                options.keys().collect::<Vec<_>>()
                            ))
                        })?;
                        let extra = span.low * (factor - 1.0);
                        if extra.abs() >= 0.5 {
                            let name =
                                option_labels.get(&choice).map_or(choice.as_str(), |name| name.get(locale));
                            line_items.push(item(&format!("{label} ({name})"), 1.0, extra.round() as i64));
                        }
                        span = Span { low: span.low * factor, high: span.high * factor };
                    }
                    None => {
                        let (min, max) = min_max(options.values().copied())
                            .ok_or_else(|| StepError::InvalidConfig(format!("{field} has no options")))?;
                        span = Span { low: span.low * min, high: span.high * max };
                        factors.push(label.to_owned());
                    }
                }
            }
            Modifier::PerUnit { field, label, unit_minor, included, typical } => {
                let label = label.get(locale);
                let (low_units, high_units) = match input.number(field) {
                    Some(units) if units < 0.0 => {
                        return Err(StepError::InvalidInput(format!("{field} cannot be negative")));
                    }
                    Some(units) => (units, units),
                    None => {
                        factors.push(label.to_owned());
                        *typical
                    }
                };
                let billable = |units: f64| (units - included).max(0.0);
                if low_units == high_units && billable(low_units) > 0.0 {
                    line_items.push(item(label, billable(low_units), *unit_minor));
                }
                span.low += billable(low_units) * *unit_minor as f64;
                span.high += billable(high_units) * *unit_minor as f64;
            }
        }
    }
    Ok(span)
}

fn price_packages(
    tier_field: &str,
    tiers: &[Tier],
    addons_field: &str,
    addons: &[Addon],
    input: &StepInput,
    line_items: &mut Vec<LineItem>,
    factors: &mut Vec<String>,
) -> Result<Span, StepError> {
    let mut span = match input.text(tier_field) {
        Some(chosen) => {
            let tier = tiers
                .iter()
                .find(|tier| tier.name.eq_ignore_ascii_case(chosen.trim()))
                .ok_or_else(|| StepError::InvalidInput(format!("no package called {chosen:?}")))?;
            line_items.push(item(&tier.name, 1.0, tier.price_minor));
            Span::exact(tier.price_minor as f64)
        }
        None => {
            factors.push(format!("package ({})", names(tiers.iter().map(|tier| tier.name.as_str()))));
            let (low, high) = min_max(tiers.iter().map(|tier| tier.price_minor as f64))
                .ok_or_else(|| StepError::InvalidConfig("no packages configured".to_owned()))?;
            Span { low, high }
        }
    };
    for chosen in input.list(addons_field).unwrap_or_default() {
        let Scalar::Text(chosen) = chosen else {
            return Err(StepError::InvalidInput(format!("{addons_field} must list add-on names")));
        };
        let addon = addons
            .iter()
            .find(|addon| addon.name.eq_ignore_ascii_case(chosen.trim()))
            .ok_or_else(|| StepError::InvalidInput(format!("no add-on called {chosen:?}")))?;
        line_items.push(item(&addon.name, 1.0, addon.price_minor));
        span.low += addon.price_minor as f64;
        span.high += addon.price_minor as f64;
    }
    Ok(span)
}

fn price_catalog(
    items_field: &str,
    prices_minor: &BTreeMap<String, i64>,
    volume_discounts: &[VolumeDiscount],
    input: &StepInput,
    line_items: &mut Vec<LineItem>,
) -> Result<Span, StepError> {
    let items = input
        .list(items_field)
        .ok_or_else(|| StepError::InvalidInput(format!("{items_field} is missing")))?;
    let mut quantities: BTreeMap<&str, u32> = BTreeMap::new();
    for entry in items {
        let Scalar::Text(entry) = entry else {
            return Err(StepError::InvalidInput(format!("{items_field} must list SKUs")));
        };
        let (sku, quantity) = match entry.split_once('*') {
            Some((sku, quantity)) => (
                sku.trim(),
                quantity
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| StepError::InvalidInput(format!("bad quantity in {entry:?}")))?,
            ),
            None => (entry.trim(), 1),
        };
        *quantities.entry(sku).or_default() += quantity;
    }
    let mut total = 0.0;
    for (sku, quantity) in quantities {
        let unit =
            *prices_minor.get(sku).ok_or_else(|| StepError::InvalidInput(format!("unknown SKU {sku:?}")))?;
        let discount = volume_discounts
            .iter()
            .filter(|discount| quantity >= discount.min_quantity)
            .map(|discount| discount.percent)
            .fold(0.0, f64::max);
        let unit = (unit as f64 * (1.0 - discount / 100.0)).round() as i64;
        line_items.push(item(sku, quantity as f64, unit));
        total += unit as f64 * quantity as f64;
    }
    Ok(Span::exact(total))
}

fn item(label: &str, quantity: f64, unit_price_minor: i64) -> LineItem {
    LineItem {
        label: label.to_owned(),
        quantity,
        unit_price_minor,
        total_minor: (quantity * unit_price_minor as f64).round() as i64,
    }
}

fn min_max(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |acc, value| match acc {
        None => Some((value, value)),
        Some((low, high)) => Some((low.min(value), high.max(value))),
    })
}

fn names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(" / ")
}

/// The tenant's config, parsed once per binding by `init`.
static CONFIG: ConfigCell<Config> = ConfigCell::new();

switchboard_sdk::export_plugin!(PricingCalculator, config = CONFIG);

#[cfg(test)]
mod tests;
