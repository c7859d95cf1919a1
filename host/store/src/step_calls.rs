//! Recorded step calls: what each production plugin call was given and
//! what it answered, so a candidate version can be replayed against real
//! traffic (`switchboard plugin replay`).
//!
//! `t/{tenant}/sr/{at ms}{seq}` (both big-endian), the value opaque here
//! (the engine's record, JSON). Time first, so `--since` is one range read
//! and retention removes a prefix of the range; a replay of one binding
//! skips the others' records.

use crate::batch::Batch;
use crate::{Store, StoreError, keys};

/// Records removed per atomic write by the retention sweep.
const PAGE: usize = 500;

impl Store {
    /// Keep `calls` (`(at, record)` pairs) of a turn, applied but not yet
    /// synced: the turn's own sync makes them durable with it.
    pub fn record_step_calls(&self, tenant: &str, calls: &[(i64, Vec<u8>)]) -> Result<(), StoreError> {
        let mut batch = Batch::default();
        for (at, record) in calls {
            batch.insert(keys::step_call(tenant, *at, self.next_id()?), record.as_slice());
        }
        self.apply(batch)
    }

    /// Up to `limit` recorded step calls of `tenant` from `from` on (the
    /// time, Unix ms, and sequence number of the first to read), oldest
    /// first: each with its time and sequence number, so the next page
    /// starts at the last one's `(at, seq + 1)`.
    pub fn step_calls(
        &self,
        tenant: &str,
        from: (i64, u64),
        limit: usize,
    ) -> Result<Vec<(i64, u64, Vec<u8>)>, StoreError> {
        let prefix = keys::step_calls(tenant);
        let start = keys::step_call(tenant, from.0, from.1);
        let mut calls = Vec::new();
        for entry in self.trees()?.turns.range(start..) {
            let (key, value) = entry?;
            if !key.starts_with(&prefix) || calls.len() >= limit {
                break;
            }
            let (at, seq) = keys::step_call_at(&prefix, &key);
            calls.push((at, seq, value.to_vec()));
        }
        Ok(calls)
    }

    /// Remove one page of `tenant`'s step calls made before `before`;
    /// how many, and their bytes.
    pub(crate) fn sweep_step_calls(&self, tenant: &str, before: i64) -> Result<(u64, u64), StoreError> {
        let prefix = keys::step_calls(tenant);
        let end = keys::step_call(tenant, before, 0);
        let mut batch = Batch::default();
        let (mut removed, mut bytes) = (0, 0);
        for entry in self.trees()?.turns.range(prefix..end).take(PAGE) {
            let (key, value) = entry?;
            removed += 1;
            bytes += (key.len() + value.len()) as u64;
            batch.remove(key);
        }
        if removed > 0 {
            self.write(batch)?;
        }
        Ok((removed, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_calls_are_read_from_a_time_on_and_swept_before_one_per_tenant() {
        let store = Store::temporary().expect("store");
        store.record_step_calls("acme", &[(100, b"a".to_vec()), (200, b"b".to_vec())]).expect("kept");
        store.record_step_calls("acme", &[(200, b"c".to_vec()), (300, b"d".to_vec())]).expect("kept");
        store.record_step_calls("other", &[(150, b"x".to_vec())]).expect("kept");

        let read = |tenant, since, limit| {
            store
                .step_calls(tenant, (since, 0), limit)
                .expect("read")
                .into_iter()
                .map(|(at, _, record)| (at, String::from_utf8(record).expect("text")))
                .collect::<Vec<_>>()
        };
        let all = read("acme", 0, 10);
        assert_eq!(all, [(100, "a".into()), (200, "b".into()), (200, "c".into()), (300, "d".into())]);
        assert_eq!(read("acme", 200, 2), [(200, "b".into()), (200, "c".into())]);
        assert_eq!(read("other", 0, 10), [(150, "x".into())]);

        assert_eq!(store.sweep_step_calls("acme", 250).expect("swept").0, 3);
        assert_eq!(read("acme", 0, 10), [(300, "d".into())]);
        assert_eq!(read("other", 0, 10), [(150, "x".into())], "another tenant's calls stay");
    }
}
