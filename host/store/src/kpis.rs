//! KPI tallies, folded from the event log (`switchboard_core::kpi`).
//!
//! - `t/{tenant}/qd/{day}`: a day's [`Tally`] (the day in the tenant's zone,
//!   offset so it sorts), so a span of days is one range read.
//! - `t/{tenant}/qm/{conversation}`: the fold's [`Marks`] of a conversation.
//! - `t/{tenant}/qc`: the sequence number of the last event record folded.
//!
//! A fold's tallies, marks and checkpoint land in one batch, so they always
//! agree: after a crash, folding resumes after the checkpoint that survived.
//! Nothing here needs its own sync: lost, it is folded again from the log.

use std::collections::BTreeMap;

use switchboard_core::kpi::{Day, Marks, Tally};

use crate::batch::Batch;
use crate::{Store, StoreError, keys};

/// Tallies and marks are stored with postcard: a year's dashboard decodes
/// 365 tallies, and the fold a conversation's marks per event page; JSON
/// took most of the time of both.
fn decode_binary<T: serde::de::DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|error| StoreError::Tally {
        key: String::from_utf8_lossy(key).into_owned(),
        message: error.to_string(),
    })
}

/// Keys removed per write when tallies are cleared for a rebuild.
const PAGE: usize = 1000;

impl Store {
    /// The last event record folded into `tenant`'s tallies, if any.
    pub fn kpi_checkpoint(&self, tenant: &str) -> Result<Option<u64>, StoreError> {
        let value = self.trees()?.turns.get(keys::kpi_checkpoint(tenant))?;
        Ok(value.and_then(|bytes| bytes.as_ref().try_into().ok()).map(u64::from_be_bytes))
    }

    /// What the fold remembers of one conversation.
    pub fn kpi_marks(&self, tenant: &str, conversation: &str) -> Result<Option<Marks>, StoreError> {
        let key = keys::kpi_marks(tenant, conversation);
        self.trees()?.turns.get(&key)?.map(|bytes| decode_binary(&key, &bytes)).transpose()
    }

    /// The stored tallies of the days `from..=to`, oldest first.
    pub fn kpi_days(&self, tenant: &str, from: Day, to: Day) -> Result<Vec<(Day, Tally)>, StoreError> {
        let (start, end) = (keys::kpi_day(tenant, from), keys::kpi_day(tenant, to));
        let prefix = keys::kpi_days(tenant);
        let mut days = Vec::new();
        for entry in self.trees()?.turns.range(start..=end) {
            let (key, bytes) = entry?;
            days.push((keys::kpi_day_of(&prefix, &key), decode_binary(&key, &bytes)?));
        }
        Ok(days)
    }

    /// Keep a fold: the days' whole tallies (stored ones merged with what
    /// was folded), the marks of the conversations it touched, and the
    /// last record folded, in one batch.
    pub fn save_kpis(
        &self,
        tenant: &str,
        folded_to: u64,
        marks: &BTreeMap<String, Marks>,
        days: &BTreeMap<Day, Tally>,
    ) -> Result<(), StoreError> {
        let mut batch = Batch::default();
        for (day, tally) in days {
            let bytes = postcard::to_stdvec(tally).map_err(|error| StoreError::Tally {
                key: format!("{tenant}/{day}"),
                message: error.to_string(),
            })?;
            batch.insert(keys::kpi_day(tenant, *day), bytes);
        }
        for (conversation, marks) in marks {
            let bytes = postcard::to_stdvec(marks).map_err(|error| StoreError::Tally {
                key: conversation.clone(),
                message: error.to_string(),
            })?;
            batch.insert(keys::kpi_marks(tenant, conversation), bytes);
        }
        batch.insert(keys::kpi_checkpoint(tenant), folded_to.to_be_bytes().to_vec());
        self.apply(batch)
    }

    /// Remove `tenant`'s tallies, marks and checkpoint, so the next fold
    /// starts from the log's first record; how many keys.
    pub fn clear_kpis(&self, tenant: &str) -> Result<usize, StoreError> {
        let mut removed = 0;
        for prefix in [keys::kpi_days(tenant), keys::kpi_all_marks(tenant), keys::kpi_checkpoint(tenant)] {
            loop {
                let page: Vec<_> =
                    self.trees()?.turns.scan_prefix(&prefix).keys().take(PAGE).collect::<Result<_, _>>()?;
                if page.is_empty() {
                    break;
                }
                let mut batch = Batch::default();
                removed += page.len();
                for key in page {
                    batch.remove(key);
                }
                self.apply(batch)?;
            }
        }
        Ok(removed)
    }
}
