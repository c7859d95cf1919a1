//! Durations in logarithmic buckets: mergeable, sparse and small.
//!
//! A day of first-response times must add to the next day's, and a year of
//! them must answer "the median" from a few hundred bytes a day. Dense
//! sketches (HDR, DDSketch) allocate every bucket between the smallest and
//! largest value, kilobytes per day and dimension; this keeps only the
//! buckets used. Each is 8 % wide, so a quantile read back is within 4 % of
//! a value in its bucket.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Each bucket's upper bound over its lower.
const GROWTH: f64 = 1.08;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "Vec<(u16, u64)>", into = "Vec<(u16, u64)>")]
pub struct Histogram {
    /// Bucket `b > 0` holds values in `[GROWTH^(b-1), GROWTH^b)`; bucket 0 holds 0.
    bins: BTreeMap<u16, u64>,
}

impl Histogram {
    pub fn record(&mut self, value: i64) {
        self.add(bucket(value), 1);
    }

    fn add(&mut self, bucket: u16, count: u64) {
        *self.bins.entry(bucket).or_default() += count;
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (&bucket, &count) in &other.bins {
            self.add(bucket, count);
        }
    }

    pub fn count(&self) -> u64 {
        self.bins.values().sum()
    }

    /// The value at quantile `q` (0.5 for the median), to within 4 %.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        // The smallest value with at least `q` of them at or below it.
        let rank = ((q.clamp(0.0, 1.0) * count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (&bucket, &n) in &self.bins {
            seen += n;
            if seen >= rank {
                return Some(middle(bucket));
            }
        }
        self.bins.keys().next_back().map(|&bucket| middle(bucket))
    }
}

fn bucket(value: i64) -> u16 {
    if value <= 0 {
        return 0;
    }
    ((value as f64).ln() / GROWTH.ln()).floor() as u16 + 1
}

/// The geometric middle of a bucket: within 4 % of anything in it.
fn middle(bucket: u16) -> f64 {
    match bucket {
        0 => 0.0,
        _ => GROWTH.powf(f64::from(bucket) - 0.5),
    }
}

impl From<Vec<(u16, u64)>> for Histogram {
    fn from(bins: Vec<(u16, u64)>) -> Self {
        let mut histogram = Self::default();
        for (bucket, count) in bins {
            histogram.add(bucket, count);
        }
        histogram
    }
}

impl From<Histogram> for Vec<(u16, u64)> {
    fn from(histogram: Histogram) -> Self {
        histogram.bins.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_four_percent() {
        let mut histogram = Histogram::default();
        let values: Vec<i64> = (1..=1001).map(|i| i * 37).collect();
        for &value in &values {
            histogram.record(value);
        }
        for (q, exact) in [(0.5, values[500]), (0.9, values[900]), (1.0, values[1000])] {
            let estimate = histogram.quantile(q).unwrap();
            let error = (estimate - exact as f64).abs() / exact as f64;
            assert!(error <= 0.04, "q{q}: {estimate} for {exact}");
        }
    }

    #[test]
    fn merging_equals_recording_everything_in_one() {
        let (mut a, mut b, mut both) = (Histogram::default(), Histogram::default(), Histogram::default());
        for value in [0, 5, 900, 60_000] {
            a.record(value);
            both.record(value);
        }
        for value in [5, 7, 3_600_000] {
            b.record(value);
            both.record(value);
        }
        a.merge(&b);
        assert_eq!(a, both);
        assert_eq!(a.count(), 7);
        let round_trip: Histogram = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert_eq!(round_trip, a);
    }

    #[test]
    fn zero_and_empty_are_answered() {
        assert_eq!(Histogram::default().quantile(0.5), None);
        let mut histogram = Histogram::default();
        histogram.record(0);
        assert_eq!(histogram.quantile(0.5), Some(0.0));
    }
}
