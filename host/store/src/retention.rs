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
//! - **conversations** idle since before the conversations cutoff, when the
//!   tenant sets one: untouched by the customer, the bot and its people
//!   alike, with no timer pending, and only while nobody else holds their turn lock (the caller's `hold`), so
//!   a turn never writes back a conversation removed under it. Each goes
//!   with its transcript index and the links (identities, phone numbers,
//!   emails) that lead to it; its state is exported first, one stored
//!   conversation a line. The customer's next message starts afresh.
//!
//! API keys, plugin state and pending outbox entries are never swept: they
//! are what the tenant runs on, and a settled outbox entry is removed when
//! it settles. Without a conversations cutoff, conversations and contacts
//! stay for good. Each page of removals
//! is one atomic, durable write, so a crash mid-sweep leaves a shorter log,
//! never a damaged one; an export that fails removes nothing. A crash
//! between a page's export and its removal exports that page again next
//! time: readers of the exports dedupe by `seq`.

use std::io::Write;
use std::path::{Path, PathBuf};

use switchboard_core::conversation::Conversation;
use switchboard_core::event::DomainEvent;

use crate::batch::Batch;
use crate::conversations::decode;
use crate::{Store, StoreError, StoredConversation, keys};

/// Records, or dedupe ids, removed per atomic write.
const PAGE: usize = 500;

/// What to remove, as Unix-millisecond cutoffs: anything older goes.
#[derive(Debug, Clone)]
pub struct Cutoffs {
    pub events_before: i64,
    pub dedupe_before: i64,
    /// Conversations idle since before this go; `None` keeps them.
    pub conversations_before: Option<i64>,
    /// Recorded step calls made before this go.
    pub step_calls_before: i64,
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
    pub conversations: u64,
    /// Identities, phone numbers and emails that led to a removed conversation.
    pub links: u64,
    /// Recorded step calls (never exported: they are for replay, not history).
    pub step_calls: u64,
    /// Bytes of keys and values removed.
    pub bytes: u64,
    /// The files the removed events were exported to.
    pub exported: Vec<PathBuf>,
}

impl Store {
    /// Remove what `tenant` keeps past `cutoffs` (see the module doc).
    /// `hold(conversation)` takes that conversation's turn lock if it is
    /// free, and `None` if a turn has it; a conversation is removed only
    /// while its guard lives.
    pub fn sweep<G>(
        &self,
        tenant: &str,
        cutoffs: &Cutoffs,
        mut hold: impl FnMut(&str) -> Option<G>,
    ) -> Result<Swept, StoreError> {
        // Nothing is exported for removals an unwritable store would refuse.
        self.writable()?;
        let mut swept = Swept::default();
        while self.sweep_events(tenant, cutoffs, &mut swept)? {}
        let mut after = None;
        while let Some(next) = self.sweep_dedupe(tenant, cutoffs, after, &mut swept)? {
            after = Some(next);
        }
        loop {
            let (removed, bytes) = self.sweep_step_calls(tenant, cutoffs.step_calls_before)?;
            swept.step_calls += removed;
            swept.bytes += bytes;
            if removed == 0 {
                break;
            }
        }
        if let Some(before) = cutoffs.conversations_before {
            let mut after = None;
            while let Some(next) =
                self.sweep_conversations(tenant, before, cutoffs, after, &mut hold, &mut swept)?
            {
                after = Some(next);
            }
        }
        Ok(swept)
    }

    /// Remove one page of idle conversations after the key `after`; the
    /// last key looked at, if there may be more.
    fn sweep_conversations<G>(
        &self,
        tenant: &str,
        before: i64,
        cutoffs: &Cutoffs,
        after: Option<Vec<u8>>,
        hold: &mut impl FnMut(&str) -> Option<G>,
        swept: &mut Swept,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let (entries, more) = self.sweep_page(&keys::conversations(tenant), after)?;
        let mut idle = Vec::new();
        for (key, bytes) in &entries {
            // One conversation that does not decode must not stop the sweep.
            match decode::<StoredConversation>(key, bytes) {
                Ok(stored) if is_idle(&stored.conversation, before) => idle.push(stored.conversation.id),
                Ok(_) => {}
                Err(error) => tracing::warn!(tenant, %error, "a conversation that does not decode is kept"),
            }
        }
        // Under each one's turn lock, it is read again: a turn may have
        // come between the scan and the lock.
        let mut held = Vec::new();
        let mut gone: Vec<(String, Vec<u8>, sled::IVec)> = Vec::new();
        for id in idle {
            let Some(guard) = hold(&id) else { continue };
            let key = keys::conversation(tenant, &id);
            let Some(bytes) = self.trees()?.turns.get(&key)? else { continue };
            let Ok(stored) = decode::<StoredConversation>(&key, &bytes) else { continue };
            if is_idle(&stored.conversation, before) {
                held.push(guard);
                gone.push((id, key, bytes));
            }
        }
        if gone.is_empty() {
            return Ok(more);
        }
        if let Some(dir) = &cutoffs.export_to {
            let conversations: Vec<&[u8]> = gone.iter().map(|(.., bytes)| bytes.as_ref()).collect();
            let exported =
                export_conversations(dir, tenant, cutoffs.now, swept.conversations, &conversations)
                    .map_err(|source| StoreError::Export { dir: dir.display().to_string(), source })?;
            swept.exported.push(exported);
        }
        let mut batch = Batch::default();
        let trees = self.trees()?;
        let ids: std::collections::BTreeSet<&str> = gone.iter().map(|(id, ..)| id.as_str()).collect();
        for (id, key, bytes) in &gone {
            swept.bytes += (key.len() + bytes.len()) as u64;
            batch.remove(key.clone());
            // Its inbox line and the KPI fold's marks go with it (the
            // tallies it counted in stay).
            batch.remove(keys::inbox(tenant, id));
            batch.remove(keys::kpi_marks(tenant, id));
            for entry in trees.turns.scan_prefix(keys::conversation_events(tenant, id)) {
                let (key, value) = entry?;
                swept.index_entries += 1;
                swept.bytes += (key.len() + value.len()) as u64;
                batch.remove(key.to_vec());
            }
        }
        // Links are few (made only across channels), so they are scanned whole.
        for links in [keys::identities(tenant), keys::contact_points(tenant)] {
            for entry in trees.turns.scan_prefix(links) {
                let (key, value) = entry?;
                if std::str::from_utf8(&value).is_ok_and(|owner| ids.contains(owner)) {
                    swept.links += 1;
                    swept.bytes += (key.len() + value.len()) as u64;
                    batch.remove(key.to_vec());
                }
            }
        }
        swept.conversations += gone.len() as u64;
        self.write(batch)?;
        drop(held);
        Ok(more)
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
            let records: Vec<(u64, &[DomainEvent])> =
                expired.iter().map(|(seq, events, _)| (*seq, events.as_slice())).collect();
            let exported = export_events(dir, tenant, &records)
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
        let (entries, more) = self.sweep_page(&keys::inbound_prefix(tenant), after)?;
        let mut batch = Batch::default();
        for (key, value) in &entries {
            match keys::dedupe_handled_at(value) {
                Some(at) if at < cutoffs.dedupe_before => {
                    swept.dedupe_ids += 1;
                    swept.bytes += (key.len() + value.len()) as u64;
                    batch.remove(key.to_vec());
                }
                Some(_) => {}
                None => batch.insert(key.to_vec(), keys::dedupe_stamp(cutoffs.now).as_slice()),
            }
        }
        if !batch.is_empty() {
            self.write(batch)?;
        }
        Ok(more)
    }

    /// A page of the keys under `prefix` after `after`, with their values;
    /// and the last key, if there may be more.
    fn sweep_page(&self, prefix: &[u8], after: Option<Vec<u8>>) -> Result<SweepPage, StoreError> {
        let entries = self.trees()?.turns_after(prefix, after, PAGE)?;
        let more = entries.last().filter(|_| entries.len() == PAGE).map(|(key, _)| key.to_vec());
        Ok((entries, more))
    }
}

/// A page of keys and values, and the key to go on after.
type SweepPage = (Vec<(sled::IVec, sled::IVec)>, Option<Vec<u8>>);

/// Whether a conversation may go: untouched since `before` and no timer
/// pending (a booking's reminder, a follow-up). One handed to a person
/// goes too: nobody touched it for the whole retention.
pub fn is_idle(conversation: &Conversation, before: i64) -> bool {
    conversation.updated_at < before && conversation.timers.is_empty()
}

/// Write expired event records (sequence number, events) to a new NDJSON
/// file under `dir/{tenant}/`, synced, before they are removed; its path.
/// One line per event, with its record's sequence number. Every backend's
/// sweep exports this way.
pub fn export_events(
    dir: &Path,
    tenant: &str,
    records: &[(u64, &[DomainEvent])],
) -> std::io::Result<PathBuf> {
    let first = records.first().map_or(0, |(first, _)| *first);
    let last = records.last().map_or(0, |(last, _)| *last);
    write_ndjson(dir, tenant, &format!("events-{first:020}-{last:020}.ndjson"), |file| {
        for (seq, events) in records {
            for event in *events {
                serde_json::to_writer(&mut *file, &ExportedEvent { seq: *seq, event })?;
                file.write_all(b"\n")?;
            }
        }
        Ok(())
    })
}

/// Write idle conversations (each as stored, JSON) to a new NDJSON file
/// under `dir/{tenant}/`, synced, before they are removed; its path.
/// `now` and `already` (how many this sweep exported before) name it.
pub fn export_conversations(
    dir: &Path,
    tenant: &str,
    now: i64,
    already: u64,
    conversations: &[&[u8]],
) -> std::io::Result<PathBuf> {
    write_ndjson(dir, tenant, &format!("conversations-{now:020}-{already}.ndjson"), |file| {
        conversations.iter().try_for_each(|json| {
            file.write_all(json)?;
            file.write_all(b"\n")
        })
    })
}

/// Write `dir/{tenant}/{name}` with `lines`, through a synced `.partial`
/// file renamed into place, and return its path.
fn write_ndjson(
    dir: &Path,
    tenant: &str,
    name: &str,
    lines: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<PathBuf> {
    let dir = dir.join(tenant);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(name);
    let partial = path.with_extension("ndjson.partial");
    let written = (|| {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&partial)?);
        lines(&mut file)?;
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
        said_in("acme", conversation, at)
    }

    fn said_in(tenant: &str, conversation: &str, at: i64) -> DomainEvent {
        DomainEvent {
            at,
            tenant: tenant.into(),
            conversation: conversation.into(),
            channel: Channel::Telegram,
            body: EventBody::MessageReceived { text: format!("at {at}") },
        }
    }

    /// Every turn lock is free.
    fn free(_: &str) -> Option<()> {
        Some(())
    }

    fn retention(before: i64, export_to: Option<PathBuf>) -> Cutoffs {
        Cutoffs {
            events_before: before,
            dedupe_before: before,
            step_calls_before: before,
            conversations_before: None,
            export_to,
            now: 10_000,
        }
    }

    #[test]
    fn expired_events_are_exported_then_removed_and_younger_ones_stay_readable() {
        let store = Store::temporary().expect("store");
        for at in [100, 200, 300, 5_000, 6_000] {
            store.append_events("acme", &[said("a", at), said("b", at)], None).expect("written");
        }
        store.append_events("other", &[said_in("other", "a", 1)], None).expect("another tenant's");
        let exports = tempfile::tempdir().expect("temp dir");

        let swept =
            store.sweep("acme", &retention(1_000, Some(exports.path().to_owned())), free).expect("swept");

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

        let again =
            store.sweep("acme", &retention(1_000, Some(exports.path().to_owned())), free).expect("swept");
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

        let swept = store.sweep("acme", &retention(1_000, None), free).expect("swept");
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

    #[test]
    fn idle_conversations_go_with_their_transcripts_and_links_and_busy_ones_stay() {
        use switchboard_core::conversation::PendingTimer;

        let store = Store::temporary().expect("store");
        let flow = crate::test_support::flow();
        let save = |tenant: &str, id: &str, updated_at: i64, change: &dyn Fn(&mut Conversation)| {
            let read = store.conversation(tenant, id).expect("read");
            let mut stored = read.unwrap_or_else(|| crate::test_support::stored_in(tenant, id, &flow));
            stored.conversation.updated_at = updated_at;
            change(&mut stored.conversation);
            let events = [said_in(tenant, id, updated_at)];
            let turn = crate::TurnRecord {
                stored: &stored,
                events: &events,
                dedupe: None,
                outbox: &[],
                timers: &[],
            };
            store.commit_turn(tenant, &turn).expect("committed");
        };
        let nothing = |_: &mut Conversation| {};
        // Enough turns that its transcript index outgrows the conversation.
        for _ in 0..10 {
            save("acme", "idle", 100, &nothing);
        }
        save("acme", "locked", 100, &nothing);
        save("acme", "young", 5_000, &nothing);
        save("acme", "left with a person", 100, &|c| {
            c.status =
                switchboard_core::conversation::Status::Human { queue: "support".into(), assignee: None }
        });
        save("acme", "reminder due", 100, &|c| {
            let timer = PendingTimer {
                kind: "reminder".into(),
                due_at: 50_000,
                cancel_on_reply: false,
                payload: String::new(),
                context: None,
            };
            c.timers.insert("reminder".into(), timer);
        });
        save("other", "idle", 100, &nothing);
        store.link_identity("acme", "whatsapp:1", "idle", &[]).expect("linked");
        store.link_identity("acme", "whatsapp:2", "young", &[]).expect("linked");
        store.claim_contact_point("acme", "phone", "+37491000001", "idle").expect("claimed");
        let exports = tempfile::tempdir().expect("temp dir");
        let cutoffs =
            Cutoffs { conversations_before: Some(1_000), ..retention(0, Some(exports.path().to_owned())) };

        let swept = store.sweep("acme", &cutoffs, |id| (id != "locked").then_some(())).expect("swept");

        assert_eq!((swept.conversations, swept.links), (2, 2), "{swept:?}");
        assert_eq!(swept.index_entries, 1, "the idle conversation's transcript, beyond its tail");
        assert_eq!(store.conversation("acme", "idle").expect("read"), None);
        assert!(store.conversation_events("acme", "idle").expect("read").is_empty());
        assert_eq!(store.conversation("acme", "left with a person").expect("read"), None);
        for stays in ["locked", "young", "reminder due"] {
            assert!(store.conversation("acme", stays).expect("read").is_some(), "{stays}");
        }
        assert!(store.conversation("other", "idle").expect("read").is_some(), "another tenant's");
        assert_eq!(store.linked_conversation("acme", "whatsapp:1").expect("read"), None);
        assert_eq!(store.linked_conversation("acme", "whatsapp:2").expect("read").as_deref(), Some("young"));
        assert_eq!(
            store.claim_contact_point("acme", "phone", "+37491000001", "young").expect("claimed"),
            "young",
            "the phone number is free again"
        );
        assert_eq!(
            store.tenant_events("acme", None, 100).expect("read").len(),
            14,
            "events keep their own retention"
        );

        let [file] = swept.exported.as_slice() else { panic!("one export: {:?}", swept.exported) };
        let text = std::fs::read_to_string(file).expect("exported");
        let exported: Vec<StoredConversation> =
            text.lines().map(|line| serde_json::from_str(line).expect("a stored conversation")).collect();
        let ids: Vec<&str> = exported.iter().map(|stored| stored.conversation.id.as_str()).collect();
        assert_eq!(ids, ["idle", "left with a person"]);

        let again = store.sweep("acme", &cutoffs, |id| (id != "locked").then_some(())).expect("swept");
        assert_eq!(again.conversations, 0, "nothing more to sweep");
        let unlocked = store.sweep("acme", &cutoffs, free).expect("swept");
        assert_eq!(unlocked.conversations, 1, "the locked one, once its turn is over");
        assert_eq!(store.conversation("acme", "locked").expect("read"), None);
    }
}
