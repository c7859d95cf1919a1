//! What the fold counts: one day's tallies per measure, channel, intent
//! and label, which add up across days, channels and intents.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::histogram::Histogram;
use crate::contract::Channel;

/// A raw measure the fold counts. KPIs (`definitions.rs`) are computed from
/// these. Tallies are stored by each measure's place in this enum: add new
/// ones at the end (or rebuild the tallies, `POST …/kpis/rebuild`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// A conversation round began (its first message, or the first after it ended).
    Rounds,
    /// A round took up an intent (counted once per intent and round).
    IntentRounds,
    /// Label: a field's name, collected for the first time in the round.
    FieldReached,
    /// A round got its first quote.
    Quoted,
    /// A round got its first slot offer.
    Offered,
    /// A round got its first policy decision.
    Decided,
    /// Label: the terminal state a round closed in.
    Closed,
    /// A round closed that never went to a human.
    ClosedByBot,
    /// Duration: a round's start to its close (resolution time).
    Resolution,
    /// A round closed resolved, after a close of the same intent within 7 days.
    Reopened,
    /// A round handed to a human (once per round).
    HandedOff,
    /// Label: a handoff's cause.
    HandoffCause,
    /// Duration: a round's first customer message to the first reply that
    /// reached them.
    FirstResponse,
    /// First responses within the channel's standard.
    FirstResponseInStandard,
    /// Duration: a handoff to the first message a person sent.
    HumanResponse,
    /// Human responses within the channel's standard.
    HumanResponseInStandard,
    /// A round was graded (once per round, the last grade counts).
    Graded,
    /// A graded round's grade was hot or warm.
    Qualified,
    /// A graded round reached a meeting (`booking.created`, `callback.requested`, `meeting.booked`).
    GradedMeeting,
    /// `booking.created`.
    Booked,
    /// Sum: customer messages in the round up to its booking.
    MessagesToBooking,
    /// `booking.no_show`.
    NoShow,
    /// Duration: a round's start to its first quote.
    TimeToQuote,
    /// A quoted round that also went to a human.
    QuotedHandedOff,
    /// `payment.received` within 30 days of a quote.
    QuotePaid,
    /// Duration: the quote to its payment.
    QuoteToPayment,
    /// Sum: the amounts of `payment.received`, in minor units.
    Revenue,
    /// `payment.received`.
    Payments,
    /// A round that named an order.
    OrderContacts,
    /// An order named for the first time in the conversation.
    Orders,
    /// Label: `positive` or `negative`, from `feedback.received`.
    Feedback,
    /// `rma.created`.
    Rmas,
    /// Duration: a round's start to its RMA.
    TimeToRma,
    /// Duration: an RMA to `refund.completed`.
    RefundCycle,
    /// `payment.disputed`.
    Disputed,
    /// Label: the outcome of `renewal.outcome` (`renewed`, `paused`, `cancelled`, `needs_follow_up`).
    RenewalOutcome,
    /// Label: the reason a `renewal.outcome` gave for cancelling.
    ChurnReason,
    /// Sum: the amounts of `payment.recovered`, in minor units.
    Recovered,
    /// A reactivation nudge was sent to a silent conversation.
    Nudged,
    /// A nudged conversation wrote back within 7 days.
    Reactivated,
    /// Duration: an approval request (the round's handoff) to its decision.
    ApprovalTime,
    /// Label: `approved` or `rejected`.
    ApprovalDecided,
    /// `approval.escalated`.
    Escalations,
    /// A round closed whose fields all came in its first message.
    CompleteRequest,
    /// Label: a failure code.
    StepFailed,
    /// Label: `plugin@version` (the component's hash, shortened).
    StepFailedVersion,
    /// Label: the plugin binding that answered (`step.ran`).
    StepRan,
}

/// Where a tally belongs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Cell {
    pub measure: Measure,
    pub channel: Channel,
    /// Empty before the round has an intent.
    pub intent: String,
    pub label: String,
}

/// The count, sum and distribution of one cell. Stored in a binary format
/// that is not self-describing (`switchboard_store`'s `kpis.rs`): fields
/// are never skipped, and new [`Measure`]s go at the end of the enum.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    /// How many (may go down: a regraded round moves between tiers).
    pub n: i64,
    pub sum: f64,
    pub hist: Option<Histogram>,
}

impl Stat {
    pub fn merge(&mut self, other: &Stat) {
        self.n += other.n;
        self.sum += other.sum;
        if let Some(hist) = &other.hist {
            self.hist.get_or_insert_with(Histogram::default).merge(hist);
        }
    }
}

/// Distinct labels a day's tally keeps per measure, channel and intent;
/// beyond them, new ones count under `other`. Some labels come from
/// plugins' `emit` payloads (a churn reason, a renewal outcome), so no
/// tenant can grow its tallies, and every fold's work, without end. (Past
/// the bound, which labels made it in can depend on how the log was paged,
/// so an incremental fold and a rebuild may split `other` differently.)
pub const MAX_LABELS: usize = 64;
/// Characters of a label kept.
const MAX_LABEL_CHARS: usize = 64;
const OVERFLOW: &str = "other";

/// Tallies of one tenant over some span (a day, as stored, or the sum of
/// several).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "Vec<(Cell, Stat)>", into = "Vec<(Cell, Stat)>")]
pub struct Tally {
    pub cells: BTreeMap<Cell, Stat>,
}

impl Tally {
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    pub fn merge(&mut self, other: &Tally) {
        for (cell, stat) in &other.cells {
            self.add(cell, stat);
        }
    }

    /// Add one cell's stat.
    pub fn add(&mut self, cell: &Cell, stat: &Stat) {
        match self.cells.get_mut(cell) {
            Some(mine) => mine.merge(stat),
            None => {
                self.cells.insert(cell.clone(), stat.clone());
            }
        }
    }

    /// The cells `keep` accepts, merged into a new tally.
    pub fn filtered(&self, keep: impl Fn(&Cell) -> bool) -> Tally {
        Tally {
            cells: self
                .cells
                .iter()
                .filter(|(cell, _)| keep(cell))
                .map(|(c, s)| (c.clone(), s.clone()))
                .collect(),
        }
    }

    pub(super) fn stat(
        &mut self,
        measure: Measure,
        channel: Channel,
        intent: &str,
        label: &str,
    ) -> &mut Stat {
        let label: String = label.chars().take(MAX_LABEL_CHARS).collect();
        let cell = self.admitted(Cell { measure, channel, intent: intent.to_owned(), label });
        self.cells.entry(cell).or_default()
    }

    /// Merge `other` in as a stored day keeps it: within [`MAX_LABELS`].
    pub fn merge_bounded(&mut self, other: &Tally) {
        for (cell, stat) in &other.cells {
            let cell = self.admitted(cell.clone());
            self.add(&cell, stat);
        }
    }

    /// `cell`, or its measure's `other` once its channel and intent hold
    /// [`MAX_LABELS`] labels already.
    fn admitted(&self, cell: Cell) -> Cell {
        if cell.label.is_empty() || self.cells.contains_key(&cell) {
            return cell;
        }
        let first = Cell { label: String::new(), ..cell.clone() };
        let labels = self
            .cells
            .range(first..)
            .take_while(|(other, _)| {
                (other.measure, other.channel, &other.intent) == (cell.measure, cell.channel, &cell.intent)
            })
            .filter(|(other, _)| !other.label.is_empty() && other.label != OVERFLOW)
            .count();
        if labels < MAX_LABELS { cell } else { Cell { label: OVERFLOW.to_owned(), ..cell } }
    }

    /// The sum of `n` over every cell of `measure`.
    pub fn count(&self, measure: Measure) -> i64 {
        self.of(measure).map(|(_, stat)| stat.n).sum()
    }

    /// The sum of `sum` over every cell of `measure`.
    pub fn sum(&self, measure: Measure) -> f64 {
        // From +0.0: `Iterator::sum` of no floats is -0.0.
        self.of(measure).fold(0.0, |sum, (_, stat)| sum + stat.sum)
    }

    /// The merged distribution of `measure`.
    pub fn histogram(&self, measure: Measure) -> Histogram {
        let mut merged = Histogram::default();
        for (_, stat) in self.of(measure) {
            if let Some(hist) = &stat.hist {
                merged.merge(hist);
            }
        }
        merged
    }

    /// `n` of `measure` by label.
    pub fn by_label(&self, measure: Measure) -> BTreeMap<String, i64> {
        let mut labels = BTreeMap::new();
        for (cell, stat) in self.of(measure) {
            *labels.entry(cell.label.clone()).or_default() += stat.n;
        }
        labels.retain(|_, n| *n != 0);
        labels
    }

    /// The cells of one measure: a range, since cells sort by measure first.
    fn of(&self, measure: Measure) -> impl Iterator<Item = (&Cell, &Stat)> {
        let first = Cell { measure, channel: Channel::ALL[0], intent: String::new(), label: String::new() };
        self.cells.range(first..).take_while(move |(cell, _)| cell.measure == measure)
    }
}

impl From<Vec<(Cell, Stat)>> for Tally {
    fn from(cells: Vec<(Cell, Stat)>) -> Self {
        let mut tally = Tally::default();
        for (cell, stat) in cells {
            tally.cells.entry(cell).or_default().merge(&stat);
        }
        tally
    }
}

impl From<Tally> for Vec<(Cell, Stat)> {
    fn from(tally: Tally) -> Self {
        tally.cells.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plugin that emits a new churn reason on every call.
    #[test]
    fn a_flood_of_labels_is_bounded_per_day() {
        let mut stored = Tally::default();
        for page in 0..10 {
            let mut delta = Tally::default();
            for reason in 0..100 {
                let label = format!("reason-{page}-{reason}-{}", "x".repeat(200));
                delta.stat(Measure::ChurnReason, Channel::Webchat, "cancel", &label).n += 1;
            }
            assert_eq!(delta.by_label(Measure::ChurnReason).len(), MAX_LABELS + 1);
            stored.merge_bounded(&delta);
        }
        let labels = stored.by_label(Measure::ChurnReason);
        assert_eq!(labels.len(), MAX_LABELS + 1, "64 reasons and `other`");
        assert_eq!(labels.values().sum::<i64>(), 1000, "nothing is lost, only lumped");
        assert!(labels.keys().all(|label| label.chars().count() <= MAX_LABEL_CHARS));
        assert_eq!(labels["other"], 1000 - MAX_LABELS as i64);
    }
}
