//! KPI tallies, folded from the event log (`switchboard_core::kpi`).
//!
//! - `t/{tenant}/qd/{day}`: a day's [`Tally`] (the day in the tenant's zone,
//!   offset so it sorts), so a span of days is one range read.
//! - `t/{tenant}/qm/{conversation}`: the fold's [`Marks`] of a conversation.
//! - `t/{tenant}/qc`: the sequence number of the last event record folded.
//! - `t/{tenant}/qr`: a rebuild's clearing in progress, from this day on.
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
pub(crate) fn decode_binary<T: serde::de::DeserializeOwned>(
    key: &[u8],
    bytes: &[u8],
) -> Result<T, StoreError> {
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

    /// Start over from the log: remove `tenant`'s tallies of the days from
    /// `from` on (older days' events may be gone with retention: their
    /// tallies stay), every conversation's marks and the checkpoint, so the
    /// next fold starts from the log's first record. A marker is written
    /// first and removed last, so a crash halfway is finished by
    /// [`Store::finish_kpi_rebuild`] before anything is folded on top of a
    /// half-cleared tally. How many keys went.
    pub fn clear_kpis(&self, tenant: &str, from: Day) -> Result<usize, StoreError> {
        let mut batch = Batch::default();
        batch.insert(keys::kpi_rebuilding(tenant), from.to_be_bytes().to_vec());
        self.write(batch)?;
        self.finish_kpi_rebuild(tenant).map(|removed| removed.unwrap_or(0))
    }

    /// Finish a rebuild's clearing that a crash interrupted, if there is
    /// one: how many keys went.
    pub fn finish_kpi_rebuild(&self, tenant: &str) -> Result<Option<usize>, StoreError> {
        let marker = keys::kpi_rebuilding(tenant);
        let Some(value) = self.trees()?.turns.get(&marker)? else { return Ok(None) };
        let from = value.as_ref().try_into().map(Day::from_be_bytes).unwrap_or(Day::MIN);
        let mut removed = 0;
        let days = keys::kpi_day(tenant, from)..keys::kpi_day(tenant, Day::MAX);
        loop {
            let trees = self.trees()?;
            let mut page: Vec<sled::IVec> =
                trees.turns.range(days.clone()).keys().take(PAGE).collect::<Result<_, _>>()?;
            if page.len() < PAGE {
                page.extend(
                    trees
                        .turns
                        .scan_prefix(keys::kpi_all_marks(tenant))
                        .keys()
                        .take(PAGE - page.len())
                        .collect::<Result<Vec<_>, _>>()?,
                );
            }
            if page.is_empty() {
                break;
            }
            removed += page.len();
            let mut batch = Batch::default();
            for key in page {
                batch.remove(key);
            }
            self.write(batch)?;
        }
        let mut batch = Batch::default();
        batch.remove(keys::kpi_checkpoint(tenant));
        batch.remove(marker);
        self.write(batch)?;
        Ok(Some(removed))
    }
}
#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use switchboard_core::contract::Channel;
    use switchboard_core::event::{DomainEvent, EventBody};
    use switchboard_core::kpi::{ByDay, Measure};

    use super::*;

    #[test]
    fn a_fold_is_kept_whole_and_read_back_as_it_was() {
        let store = Store::temporary().expect("a store");
        let mut marks = Marks::default();
        let mut days = ByDay::new(jiff::tz::TimeZone::UTC);
        for (at, body) in [
            (1_000, EventBody::MessageReceived { text: "hi".into() }),
            (1_000, EventBody::IntentDetected { intent: "quote".into() }),
            (90_000_000, EventBody::ConversationClosed { state: "resolved".into() }),
        ] {
            let event = DomainEvent {
                at,
                tenant: "acme".into(),
                conversation: "c".into(),
                channel: Channel::Webchat,
                body,
            };
            marks.observe(&event, &mut days);
        }
        let kept = BTreeMap::from([("c".to_owned(), marks.clone())]);
        store.save_kpis("acme", 7, &kept, &days.days).expect("saved");
        assert_eq!(store.kpi_checkpoint("acme").expect("read"), Some(7));
        assert_eq!(store.kpi_marks("acme", "c").expect("read"), Some(marks));
        let read = store.kpi_days("acme", 0, 1).expect("read");
        assert_eq!(read, days.days.clone().into_iter().collect::<Vec<_>>());
        assert_eq!(read[0].1.count(Measure::Rounds), 1);
        assert_eq!(read[1].1.count(Measure::Closed), 1);
        assert!(
            store.kpi_days("beta", 0, 1).expect("read").is_empty(),
            "another tenant's tallies are its own"
        );
        store.clear_kpis("acme", 1).expect("cleared");
        assert_eq!(
            store.kpi_days("acme", 0, 1).expect("read").len(),
            1,
            "day 0 was before the log's first day: it stays"
        );
        assert_eq!(
            (store.kpi_checkpoint("acme").expect("read"), store.kpi_marks("acme", "c").expect("read")),
            (None, None)
        );
    }
}
