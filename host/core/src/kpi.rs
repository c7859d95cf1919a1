//! KPIs, computed from the event log.
//!
//! The log is the truth; KPIs are a fold over it. Each event, in commit
//! order, updates what its conversation's [`Marks`] remember (the round
//! under way, the open clocks) and adds to the [`Tally`] of the day it
//! happened on, in the tenant's zone. Tallies add up across days, channels
//! and intents, so a year's dashboard merges 365 stored tallies instead of
//! reading a year of events; [`Report`] turns a merged tally into every KPI
//! of SCENARIOS.md, each defined once in [`DEFINITIONS`].
//!
//! - `fold.rs`: what starts and stops every clock, and what counts.
//! - `tally.rs`: the measures counted, per channel, intent and label.
//! - `histogram.rs`: mergeable durations, for medians.
//! - `definitions.rs`: the KPIs, the funnels and the breakdowns.

mod definitions;
mod fold;
mod histogram;
mod tally;

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;

pub use definitions::{
    DEFINITIONS, Definition, FlowShape, FunnelStep, IntentShape, Report, Unit, Value, markdown,
};
pub use fold::{Days, Marks, standard};
pub use histogram::Histogram;
pub use tally::{Cell, Measure, Stat, Tally};

/// A day in a tenant's zone: days since 1970-01-01 there.
pub type Day = i32;

/// The day `at` (Unix milliseconds) falls on in `zone`.
pub fn day_of(zone: &TimeZone, at: i64) -> Day {
    let timestamp = Timestamp::from_millisecond(at).unwrap_or(Timestamp::UNIX_EPOCH);
    let offset = i64::from(zone.to_offset(timestamp).seconds());
    (at.div_euclid(1000) + offset).div_euclid(86_400) as Day
}

/// Tallies by day, filled by a fold.
#[derive(Debug, Clone)]
pub struct ByDay {
    zone: TimeZone,
    pub days: BTreeMap<Day, Tally>,
}

impl ByDay {
    pub fn new(zone: TimeZone) -> Self {
        Self { zone, days: BTreeMap::new() }
    }
}

impl Days for ByDay {
    fn day(&mut self, at: i64) -> &mut Tally {
        self.days.entry(day_of(&self.zone, at)).or_default()
    }
}
