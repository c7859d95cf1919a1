//! Retention: what a tenant keeps, and for how long.
//!
//! A sweep ([`Store::sweep`]) removes, for one tenant:
//! - **event records** whose every event is older than the events cutoff,
//!   oldest first, exported beforehand (NDJSON, one event per line, synced
//!   and renamed into place) when an export directory is given, together with
//!   the transcript index entries that point only at removed records;
//! - **dedupe ids** of inbound messages handled before the dedupe cutoff: a
//!   provider retries for hours or days, not for ever. An id written before
//!   ids carried their time is stamped with the sweep's time instead, so it
//!   goes one retention period later.
//!
//! Conversations' state, contacts, API keys, plugin state and pending
//! outbox entries are never swept: they are what the tenant runs on, and
//! a settled outbox entry is removed when it settles. Each page of removals
//! is one atomic, durable write, so a crash mid-sweep leaves a shorter log,
//! never a damaged one; an export that fails removes nothing. A crash
//! between a page's export and its removal exports that page again next
//! time: readers of the exports dedupe by `seq`.

use std::io::Write;
use std::path::{Path, PathBuf};

use switchboard_core::event::DomainEvent;

use crate::batch::Batch;
use crate::{Store, StoreError, keys};

/// Records, or dedupe ids, removed per atomic write.
const PAGE: usize = 500;

/// What to remove, as Unix-millisecond cutoffs: anything older goes.
#[derive(Debug, Clone)]
pub struct Cutoffs {
    pub events_before: i64,
    pub dedupe_before: i64,
    /// Where removed events are written first, under `{tenant}/`; `None`
    /// removes them without a copy.
    pub export_to: Option<PathBuf>,
    /// The sweep's own time, stamped on dedupe ids that have none.
    pub now: i64,
}

/// What a sweep removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    pub event_records: u64,
    pub events: u64,
    pub index_entries: u64,
    pub dedupe_ids: u64,
    /// Bytes of keys and values removed.
    pub bytes: u64,
    /// The files the removed events were exported to.
    pub exported: Vec<PathBuf>,
}

impl Store {
    /// Remove what `tenant` keeps past `cutoffs` (see the module doc).
    pub fn sweep(&self, tenant: &str, cutoffs: &Cutoffs) -> Result<Swept, StoreError> {
        // Nothing is exported for removals an unwritable store would refuse.
        self.writable()?;
        let mut swept = Swept::default();
        while self.sweep_events(tenant, cutoffs, &mut swept)? {}
        let mut after = None;
        while let Some(next) = self.sweep_dedupe(tenant, cutoffs, after, &mut swept)? {
            after = Some(next);
        }
        Ok(swept)
    }

    /// Remove one page of expired event records; whether there may be more.
    fn sweep_events(&self, tenant: &str, cutoffs: &Cutoffs, swept: &mut Swept) -> Result<bool, StoreError> {
        let prefix = keys::tenant_events(tenant);
        let mut expired: Vec<(u64, Vec<DomainEvent>, usize)> = Vec::new();
        for entry in self.trees()?.turns.scan_prefix(&prefix).take(PAGE) {
            let (key, bytes) = entry?;
            let events = crate::records::decode_record(&key, &bytes)?;
            let newest = events.iter().map(|event| event.at).max().unwrap_or(i64::MIN);
            if newest >= cutoffs.events_before {
                break;
            }
            expired.push((keys::seq_after(&prefix, &key), events, key.len() + bytes.len()));
        }
        let Some(&(last, ..)) = expired.last() else { return Ok(false) };
        if let Some(dir) = &cutoffs.export_to {
            let exported = export(dir, tenant, &expired, last)
                .map_err(|source| StoreError::Export { dir: dir.display().to_string(), source })?;
            swept.exported.push(exported);
        }
        let mut batch = Batch::default();
        let mut conversations = std::collections::BTreeSet::new();
        for (seq, events, bytes) in &expired {
            batch.remove(keys::tenant_event(tenant, *seq));
            conversations.extend(events.iter().map(|event| event.conversation.as_str()));
            swept.events += events.len() as u64;
            swept.bytes += *bytes as u64;
        }
        swept.event_records += expired.len() as u64;
        // Every record up to `last` is gone, so is every index entry that
        // points at no record after it.
        let trees = self.trees()?;
        for conversation in conversations {
            let index = keys::conversation_events(tenant, conversation);
            for entry in trees.turns.scan_prefix(&index) {
                let (key, value) = entry?;
                if keys::seq_after(&index, &key) > last {
                    break;
                }
                let newest =
                    value.chunks_exact(8).filter_map(|seq| seq.try_into().ok()).map(u64::from_be_bytes).max();
                if newest.is_none_or(|newest| newest <= last) {
                    swept.index_entries += 1;
                    swept.bytes += (key.len() + value.len()) as u64;
                    batch.remove(key.to_vec());
                }
            }
        }
        self.write(batch)?;
        Ok(expired.len() == PAGE)
    }

    /// Remove one page of expired dedupe ids after the key `after`; the last
    /// key looked at, if there may be more.
    fn sweep_dedupe(
        &self,
        tenant: &str,
        cutoffs: &Cutoffs,
        after: Option<Vec<u8>>,
        swept: &mut Swept,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        use std::ops::Bound;
        let prefix = keys::inbound_prefix(tenant);
        let start = after.map_or(Bound::Included(prefix.clone()), Bound::Excluded);
        let mut batch = Batch::default();
        let mut last = None;
        let mut seen = 0;
        for entry in self.trees()?.turns.range((start, Bound::Unbounded)).take(PAGE) {
            let (key, value) = entry?;
            if !key.starts_with(&prefix) {
                break;
            }
            seen += 1;
            match keys::dedupe_handled_at(&value) {
                Some(at) if at < cutoffs.dedupe_before => {
                    swept.dedupe_ids += 1;
                    swept.bytes += (key.len() + value.len()) as u64;
                    batch.remove(key.to_vec());
                }
                Some(_) => {}
                None => batch.insert(key.to_vec(), keys::dedupe_stamp(cutoffs.now).as_slice()),
            }
            last = Some(key.to_vec());
        }
        if !batch.is_empty() {
            self.write(batch)?;
        }
        Ok(last.filter(|_| seen == PAGE))
    }
}

/// Write `records` to a new NDJSON file under `dir/{tenant}/`, synced, and
/// return its path: one line per event, with its record's sequence number.
fn export(
    dir: &Path,
    tenant: &str,
    records: &[(u64, Vec<DomainEvent>, usize)],
    last: u64,
) -> std::io::Result<PathBuf> {
    let first = records.first().map_or(last, |(first, ..)| *first);
    let dir = dir.join(tenant);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("events-{first:020}-{last:020}.ndjson"));
    let partial = path.with_extension("ndjson.partial");
    let written = (|| {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&partial)?);
        for (seq, events, _) in records {
            for event in events {
                serde_json::to_writer(&mut file, &ExportedEvent { seq: *seq, event })?;
                file.write_all(b"\n")?;
            }
        }
        file.into_inner().map_err(std::io::IntoInnerError::into_error)?.sync_all()
    })();
    if let Err(error) = written {
        // A full disk is the likeliest cause: give back what was written.
        let _ = std::fs::remove_file(&partial);
        return Err(error);
    }
    std::fs::rename(&partial, &path)?;
    std::fs::File::open(&dir)?.sync_all()?;
    Ok(path)
}

#[derive(serde::Serialize)]
struct ExportedEvent<'a> {
    seq: u64,
    #[serde(flatten)]
    event: &'a DomainEvent,
}

#[cfg(test)]
mod tests {
    use switchboard_core::contract::Channel;
    use switchboard_core::event::{DomainEvent, EventBody};

    use super::*;
    use crate::Committed;

    fn said(conversation: &str, at: i64) -> DomainEvent {
        DomainEvent {
            at,
            tenant: "acme".into(),
            conversation: conversation.into(),
            channel: Channel::Telegram,
            body: EventBody::MessageReceived { text: format!("at {at}") },
        }
    }

    fn retention(before: i64, export_to: Option<PathBuf>) -> Cutoffs {
        Cutoffs { events_before: before, dedupe_before: before, export_to, now: 10_000 }
    }

    #[test]
    fn expired_events_are_exported_then_removed_and_younger_ones_stay_readable() {
        let store = Store::temporary().expect("store");
        for at in [100, 200, 300, 5_000, 6_000] {
            store.append_events("acme", &[said("a", at), said("b", at)], None).expect("written");
        }
        store.append_events("other", &[said("a", 1)], None).expect("another tenant's");
        let exports = tempfile::tempdir().expect("temp dir");

        let swept = store.sweep("acme", &retention(1_000, Some(exports.path().to_owned()))).expect("swept");

        assert_eq!((swept.event_records, swept.events), (3, 6));
        assert_eq!(swept.index_entries, 6, "each conversation's entries for the three records");
        let left: Vec<i64> =
            store.tenant_events("acme", None, 100).expect("read").iter().map(|(_, e)| e.at).collect();
        assert_eq!(left, [5_000, 5_000, 6_000, 6_000]);
        let transcript: Vec<i64> =
            store.conversation_events("acme", "a").expect("read").iter().map(|e| e.at).collect();
        assert_eq!(transcript, [5_000, 6_000]);
        assert_eq!(
            store.tenant_events("other", None, 10).expect("read").len(),
            1,
            "another tenant keeps its own"
        );

        let [file] = swept.exported.as_slice() else { panic!("one export: {:?}", swept.exported) };
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(file)
            .expect("exported")
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect();
        assert_eq!(lines.len(), 6);
        assert_eq!(lines[0]["type"], "message.received");
        assert_eq!(lines[0]["at"], 100);
        assert!(lines[0]["seq"].is_u64());
        assert!(file.starts_with(exports.path().join("acme")));

        let again = store.sweep("acme", &retention(1_000, Some(exports.path().to_owned()))).expect("swept");
        assert_eq!(again, Swept::default(), "nothing more to sweep");
    }

    #[test]
    fn dedupe_ids_expire_and_ids_without_a_time_are_stamped_with_the_sweeps() {
        let store = Store::temporary().expect("store");
        store.append_events("acme", &[said("a", 100)], Some(("telegram", "old"))).expect("written");
        store.append_events("acme", &[said("a", 9_000)], Some(("telegram", "young"))).expect("written");
        // As written before ids carried their time: the conversation's id.
        let legacy = keys::inbound("acme", "telegram", "legacy");
        store.trees().unwrap().turns.insert(&legacy, b"a".as_slice()).expect("insert");

        let swept = store.sweep("acme", &retention(1_000, None)).expect("swept");
        assert_eq!(swept.dedupe_ids, 1);
        assert!(!store.seen("acme", "telegram", "old").expect("read"), "an expired id is forgotten");
        assert!(store.seen("acme", "telegram", "young").expect("read"));
        assert!(
            store.seen("acme", "telegram", "legacy").expect("read"),
            "a legacy id gets a time, not removal"
        );
        let stamped = store.trees().unwrap().turns.get(&legacy).expect("read").expect("there");
        assert_eq!(keys::dedupe_handled_at(&stamped), Some(10_000));
        assert_eq!(
            store.append_events("acme", &[said("a", 9_500)], Some(("telegram", "young"))).expect("checked"),
            Committed::Duplicate
        );
    }
}
