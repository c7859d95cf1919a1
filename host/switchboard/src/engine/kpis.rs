//! KPIs: the event log folded into per-day tallies as it is committed, and
//! dashboards read from the tallies.
//!
//! A fold takes the records after the tenant's checkpoint, in commit order
//! (the log's cursor never passes a record still being written), runs each
//! event through its conversation's marks (`switchboard_core::kpi`), and
//! keeps the touched days' tallies, the marks and the new checkpoint in one
//! batch. The serve loop folds every tenant every second; a query folds
//! first, so it always counts everything committed before it. One fold per
//! tenant runs at a time.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use switchboard_core::contract::Channel;
use switchboard_core::kpi::{ByDay, Day, FlowShape, Marks, Report, Tally, Value, day_of};

use super::{Engine, EngineError, lock};

/// Event records folded per batch.
const FOLD_PAGE: usize = 2000;

/// Each tenant's fold lock, and whether a rebuild holds it.
#[derive(Debug, Default)]
pub(super) struct Folds {
    locks: Mutex<HashMap<String, Arc<Fold>>>,
}

#[derive(Debug, Default)]
struct Fold {
    running: Mutex<()>,
    rebuilding: std::sync::atomic::AtomicBool,
}

impl Folds {
    fn of(&self, tenant: &str) -> Arc<Fold> {
        lock(&self.locks).entry(tenant.to_owned()).or_default().clone()
    }
}

/// Marks a rebuild in progress while held.
struct Rebuilding<'a>(&'a Fold);

impl Drop for Rebuilding<'_> {
    fn drop(&mut self) {
        self.0.rebuilding.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

/// How a dashboard groups days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    #[default]
    Day,
    /// ISO weeks, from Monday.
    Week,
}

/// What a dashboard asks for: days `from..=to` in the tenant's zone.
#[derive(Debug, Clone)]
pub struct KpiQuery {
    pub from: Day,
    pub to: Day,
    pub channel: Option<Channel>,
    pub intent: Option<String>,
    pub granularity: Granularity,
}

/// A period's KPIs, for charts over time.
#[derive(Debug, Clone, Serialize)]
pub struct Period {
    /// Its first day, `YYYY-MM-DD`.
    pub start: String,
    pub kpis: BTreeMap<&'static str, Value>,
}

/// The answer: the whole span's report, the KPIs per channel and per
/// intent, and per period.
#[derive(Debug, Clone, Serialize)]
pub struct KpiAnswer {
    pub zone: String,
    pub from: String,
    pub to: String,
    pub granularity: Granularity,
    pub total: Report,
    pub by_channel: BTreeMap<Channel, BTreeMap<&'static str, Value>>,
    pub by_intent: BTreeMap<String, BTreeMap<&'static str, Value>>,
    pub series: Vec<Period>,
    /// Events folded so far: the log's sequence number.
    pub folded_to: Option<u64>,
}

/// `YYYY-MM-DD` of a day number.
pub fn day_name(day: Day) -> String {
    let date = jiff::civil::date(1970, 1, 1).checked_add(jiff::Span::new().days(i64::from(day)));
    date.map(|date| date.to_string()).unwrap_or_default()
}

/// The day number of `YYYY-MM-DD`.
pub fn parse_day(text: &str) -> Option<Day> {
    let date: jiff::civil::Date = text.parse().ok()?;
    let days = date.since((jiff::Unit::Day, jiff::civil::date(1970, 1, 1))).ok()?.get_days();
    Some(days)
}

fn period_of(day: Day, granularity: Granularity) -> Day {
    match granularity {
        Granularity::Day => day,
        // 1970-01-01 was a Thursday: Mondays are 3 mod 7 before it.
        Granularity::Week => (day + 3).div_euclid(7) * 7 - 3,
    }
}

impl Engine {
    /// Fold what `tenant` committed since its last fold into its tallies;
    /// how many events.
    pub fn fold_kpis(&self, tenant: &str) -> Result<usize, EngineError> {
        let fold = self.folds.of(tenant);
        let _one_at_a_time = lock(&fold.running);
        self.fold(tenant, &|_| {})
    }

    /// Fold `tenant` unless a fold or a rebuild of it is running (the serve
    /// loop's: one tenant's rebuild must not hold up every other's fold).
    pub fn fold_kpis_if_idle(&self, tenant: &str) -> Result<usize, EngineError> {
        let fold = self.folds.of(tenant);
        let Ok(_one_at_a_time) = fold.running.try_lock() else { return Ok(0) };
        self.fold(tenant, &|_| {})
    }

    /// A fold, under the tenant's fold lock, telling `progress` each page's count.
    fn fold(&self, tenant: &str, progress: &dyn Fn(usize)) -> Result<usize, EngineError> {
        let zone = self.tenant(tenant)?.calendar.zone().clone();
        // A rebuild's clearing a crash interrupted is finished first: never
        // fold on top of a half-cleared tally.
        self.store.finish_kpi_rebuild(tenant)?;
        let mut after = self.store.kpi_checkpoint(tenant)?;
        let mut folded = 0;
        loop {
            let page = self.store.tenant_events(tenant, after, FOLD_PAGE)?;
            let Some(&(last, _)) = page.last() else { return Ok(folded) };
            let mut days = ByDay::new(zone.clone());
            let mut marks: BTreeMap<String, Marks> = BTreeMap::new();
            for (_, event) in &page {
                // A tenant's own events (a plugin version) belong to no conversation.
                if event.conversation.is_empty() {
                    continue;
                }
                if !marks.contains_key(&event.conversation) {
                    let stored = self.store.kpi_marks(tenant, &event.conversation)?.unwrap_or_default();
                    marks.insert(event.conversation.clone(), stored);
                }
                if let Some(conversation) = marks.get_mut(&event.conversation) {
                    conversation.observe(event, &mut days);
                }
            }
            let mut merged = BTreeMap::new();
            for (day, tally) in days.days {
                let mut whole =
                    self.store.kpi_days(tenant, day, day)?.pop().map(|(_, t)| t).unwrap_or_default();
                whole.merge_bounded(&tally);
                merged.insert(day, whole);
            }
            if !self.store.save_kpis(tenant, after, last, &marks, &merged)? {
                // Another node folded these events first: they count once.
                return Ok(folded);
            }
            folded += page.len();
            progress(page.len());
            after = Some(last);
        }
    }

    /// Throw `tenant`'s tallies away and fold its whole log again; how
    /// many events. `progress` hears each page's count.
    ///
    /// Days before the log's first (their events gone with retention) keep
    /// their tallies. One rebuild per tenant at a time; dashboards answer
    /// `Busy` meanwhile, and the serve loop leaves the tenant alone.
    pub fn rebuild_kpis(&self, tenant: &str, progress: &dyn Fn(usize)) -> Result<usize, EngineError> {
        let zone = self.tenant(tenant)?.calendar.zone().clone();
        let fold = self.folds.of(tenant);
        if fold.rebuilding.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err(EngineError::Busy(format!("{tenant}'s KPI tallies are being rebuilt already")));
        }
        let _rebuilding = Rebuilding(&fold);
        let _one_at_a_time = lock(&fold.running);
        let first = self.store.tenant_events(tenant, None, 1)?;
        let from =
            first.first().map_or(switchboard_core::kpi::Day::MIN, |(_, event)| day_of(&zone, event.at));
        self.store.clear_kpis(tenant, from)?;
        self.fold(tenant, progress)
    }

    /// `tenant`'s stored day tallies `from..=to`, for tests and exports.
    pub fn kpi_days(&self, tenant: &str, from: Day, to: Day) -> Result<Vec<(Day, Tally)>, EngineError> {
        Ok(self.store.kpi_days(tenant, from, to)?)
    }

    /// The dashboard: fold what is new, then read the span's tallies.
    pub fn kpis(&self, tenant: &str, query: &KpiQuery) -> Result<KpiAnswer, EngineError> {
        if self.folds.of(tenant).rebuilding.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(EngineError::Busy(format!(
                "{tenant}'s KPI tallies are being rebuilt from the event log; ask again in a moment"
            )));
        }
        self.fold_kpis(tenant)?;
        let served = self.tenant(tenant)?;
        let shape = FlowShape::of(&served.flow);
        let keep = |cell: &switchboard_core::kpi::Cell| {
            query.channel.is_none_or(|channel| cell.channel == channel)
                && query.intent.as_deref().is_none_or(|intent| cell.intent == intent)
        };
        // Days into periods, periods into the total; the total's cells keep
        // their channel and intent, so the breakdowns are its parts.
        let mut periods: BTreeMap<Day, Tally> = BTreeMap::new();
        for (day, tally) in self.store.kpi_days(tenant, query.from, query.to)? {
            let period = periods.entry(period_of(day, query.granularity)).or_default();
            for (cell, stat) in tally.cells.iter().filter(|(cell, _)| keep(cell)) {
                period.add(cell, stat);
            }
        }
        let mut total = Tally::default();
        for period in periods.values() {
            total.merge(period);
        }
        let mut by_channel: BTreeMap<Channel, Tally> = BTreeMap::new();
        let mut by_intent: BTreeMap<String, Tally> = BTreeMap::new();
        for (cell, stat) in &total.cells {
            by_channel.entry(cell.channel).or_default().add(cell, stat);
            if !cell.intent.is_empty() {
                by_intent.entry(cell.intent.clone()).or_default().add(cell, stat);
            }
        }
        let kpis_of = |tally: &Tally| Report::of(tally, &shape).kpis;
        Ok(KpiAnswer {
            zone: served.calendar.zone().iana_name().unwrap_or("UTC").to_owned(),
            from: day_name(query.from),
            to: day_name(query.to),
            granularity: query.granularity,
            total: Report::of(&total, &shape),
            by_channel: by_channel.iter().map(|(channel, tally)| (*channel, kpis_of(tally))).collect(),
            by_intent: by_intent.iter().map(|(intent, tally)| (intent.clone(), kpis_of(tally))).collect(),
            series: periods
                .iter()
                .map(|(start, tally)| Period { start: day_name(*start), kpis: kpis_of(tally) })
                .collect(),
            folded_to: self.store.kpi_checkpoint(tenant)?,
        })
    }
}
