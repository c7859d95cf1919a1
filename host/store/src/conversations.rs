//! Conversations and their events, one atomic batch per turn.
//!
//! A turn's writes (the new conversation state, every event it produced, and
//! the inbound message id that makes a provider's retry a no-op) commit
//! together or not at all: they share one tree, `turns`, and go in one batch
//! (`batch.rs`), far more cheaply than a transaction across trees.
//! [`Store::commit_turn`] returns only once the batch is on disk, so whatever
//! a caller acknowledges survives a crash; [`Store::apply_turn`] leaves the
//! sync to the caller, so several turns can share it; [`Store::commit_turns`]
//! also lets them share a batch.
//!
//! New sled keys are what a turn's writes cost most (sled splits a leaf every
//! 16 keys and rewrites its parent), so a turn makes as few as it can: one
//! event-log record for all its events, shared by the turns of a batch, and
//! its transcript index kept in the conversation it rewrites anyway.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use switchboard_core::conversation::{Conversation, ScheduledTimer};
use switchboard_core::event::DomainEvent;

use crate::batch::Batch;
use crate::records::{EventRecord, decode_record};
use crate::{Store, StoreError, keys};

/// A conversation as stored: its state and what it is pinned to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredConversation {
    pub conversation: Conversation,
    /// Plugin binding name to the component hash this conversation started with.
    pub plugin_pins: BTreeMap<String, String>,
    /// Plugin binding name to the hash of the config it started with, so a
    /// config uploaded mid-conversation waits for the next one, like the
    /// code. Empty for conversations from before configs were pinned: they
    /// take the binding's current config.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config_pins: BTreeMap<String, String>,
    /// The store's own: the event-log records holding this conversation's
    /// latest events, its transcript index kept in the conversation rather
    /// than as a key per turn, since each new sled key costs more than a
    /// turn's other writes. Every `TRANSCRIPT_TAIL` of them move to one
    /// index key. Sound because each turn reads the conversation afresh,
    /// under its turn lock, before writing it back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    transcript_tail: Vec<u64>,
}

impl StoredConversation {
    pub fn new(conversation: Conversation, plugin_pins: BTreeMap<String, String>) -> Self {
        Self { conversation, plugin_pins, config_pins: BTreeMap::new(), transcript_tail: Vec::new() }
    }

    /// The conversation without what sled keeps in it for itself, as it
    /// moves to another store (`portable.rs`).
    pub(crate) fn portable(mut self) -> Self {
        self.transcript_tail.clear();
        self
    }
}

/// How many records a conversation's transcript tail holds before they move
/// to an index key of their own.
const TRANSCRIPT_TAIL: usize = 8;

/// What one handled inbound message changes.
#[derive(Debug)]
pub struct TurnRecord<'a> {
    pub stored: &'a StoredConversation,
    pub events: &'a [DomainEvent],
    /// `(channel, provider message id)`; a second turn with the same id is refused.
    pub dedupe: Option<(&'a str, &'a str)>,
    /// Replies to send through a provider, committed with the turn so none is
    /// lost; opaque to the store (the engine's delivery entries, as JSON).
    pub outbox: &'a [Vec<u8>],
    /// Timers set (or moved) by the turn, to index. Fired, cancelled and
    /// moved-away entries need no write: see `timers.rs`.
    pub timers: &'a [ScheduledTimer],
}

/// How large a batch [`Store::commit_turns`] lets grow before applying it.
/// Past it, sharing the redo record saves little, and sled writes a value
/// over about 128 KiB to a file of its own.
const SHARED_BATCH_BYTES: usize = 32 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    Written,
    /// The inbound message id was seen before; nothing was written.
    Duplicate,
}

impl Store {
    pub fn conversation(&self, tenant: &str, id: &str) -> Result<Option<StoredConversation>, StoreError> {
        let key = keys::conversation(tenant, id);
        self.trees()?.turns.get(&key)?.map(|bytes| decode(&key, &bytes)).transpose()
    }

    /// Whether an inbound message id was already handled.
    pub fn seen(&self, tenant: &str, channel: &str, message_id: &str) -> Result<bool, StoreError> {
        self.is_duplicate(&keys::inbound(tenant, channel, message_id))
    }

    /// Whether the inbound key `key` is there. An unwritable store may hold
    /// turns that never reached the disk, so it is not asked; and a
    /// duplicate found counts as relied on until the caller syncs (which
    /// refuses if the store reopened meanwhile; see `database.rs`).
    fn is_duplicate(&self, key: &[u8]) -> Result<bool, StoreError> {
        let trees = self.writable()?;
        let found = trees.turns.contains_key(key)?;
        if found {
            trees.touched();
        }
        Ok(found)
    }

    /// Write a turn atomically (one batch on one tree), then return once it
    /// is on disk.
    ///
    /// Callers serialise turns per conversation (the engine's turn locks), so
    /// the duplicate check and the write cannot interleave with a retry of
    /// the same message, which belongs to the same conversation.
    pub fn commit_turn(&self, tenant: &str, turn: &TurnRecord<'_>) -> Result<Committed, StoreError> {
        let committed = self.apply_turn(tenant, turn)?;
        if committed == Committed::Written {
            self.durable()?;
        }
        Ok(committed)
    }

    /// Write a turn atomically like [`Store::commit_turn`], but return as soon
    /// as it is applied, before it is on disk. Readers see it at once; call
    /// [`Store::durable`] before acknowledging anything that depends on it.
    /// Several turns applied this way share one disk sync.
    pub fn apply_turn(&self, tenant: &str, turn: &TurnRecord<'_>) -> Result<Committed, StoreError> {
        let mut batch = Batch::default();
        let mut record = match turn.events {
            [] => None,
            _ => Some(EventRecord::new(tenant, self.reserve_event_seq()?)),
        };
        if self.stage_turn(&mut batch, tenant, turn, record.as_mut())? == Committed::Duplicate {
            return Ok(Committed::Duplicate);
        }
        if let Some(mut record) = record {
            record.push(turn.events)?;
            self.stage_record(&mut batch, record)?;
        }
        // Index entries go first, so they are never behind the turn.
        self.index_timers(tenant, &turn.stored.conversation.id, turn.timers)?;
        self.apply(batch)?;
        Ok(Committed::Written)
    }

    /// Write several turns (of different conversations) with one disk sync
    /// for all: the scheduler fires a page of timers this way.
    ///
    /// Consecutive turns share a batch, up to `SHARED_BATCH_BYTES`, so they
    /// also share its redo record and one record in the tenant's event log:
    /// each batch lands whole or not at all, which keeps every turn in it
    /// atomic. A turn carrying an inbound message id is applied on its own,
    /// so its duplicate check sees every turn before it.
    pub fn commit_turns(&self, turns: &[(&str, TurnRecord<'_>)]) -> Result<(), StoreError> {
        let mut batch = Batch::default();
        let mut events: Option<EventRecord<'_>> = None;
        for (tenant, turn) in turns {
            if turn.dedupe.is_some() {
                self.apply_shared(&mut batch, events.take())?;
                self.apply_turn(tenant, turn)?;
                continue;
            }
            if events.as_ref().is_some_and(|record| record.tenant != *tenant) {
                self.apply_shared(&mut batch, events.take())?;
            }
            let record = match events {
                Some(ref mut record) => record,
                None => events.insert(EventRecord::new(tenant, self.reserve_event_seq()?)),
            };
            self.stage_turn(&mut batch, tenant, turn, Some(&mut *record))?;
            record.push(turn.events)?;
            // Index entries go before the batch is applied, as in `apply_turn`.
            self.index_timers(tenant, &turn.stored.conversation.id, turn.timers)?;
            let record_len = events.as_ref().map_or(0, EventRecord::len);
            if batch.encoded_len() + record_len >= SHARED_BATCH_BYTES {
                self.apply_shared(&mut batch, events.take())?;
            }
        }
        self.apply_shared(&mut batch, events)?;
        self.durable()
    }

    /// Apply a batch of [`Store::commit_turns`] with its event record, and
    /// leave an empty one.
    fn apply_shared(&self, batch: &mut Batch, events: Option<EventRecord<'_>>) -> Result<(), StoreError> {
        if let Some(events) = events {
            self.stage_record(batch, events)?;
        }
        self.apply(std::mem::take(batch))
    }

    /// Stage a turn's conversation and outbox entries. If its events go into
    /// `record`, the conversation's transcript tail gets the record's
    /// sequence number.
    fn stage_turn<'a>(
        &self,
        batch: &mut Batch,
        tenant: &str,
        turn: &TurnRecord<'a>,
        record: Option<&mut EventRecord<'a>>,
    ) -> Result<Committed, StoreError> {
        let stored = turn.stored;
        if stored.conversation.tenant != tenant {
            return Err(StoreError::Foreign {
                tenant: tenant.to_owned(),
                other: stored.conversation.tenant.clone(),
            });
        }
        let conversation_id = &stored.conversation.id;
        let encode_error = |source| StoreError::Decode { key: conversation_id.clone(), source };
        if let Some((channel, message_id)) = turn.dedupe
            && self.stage_dedupe(batch, tenant, channel, message_id, handled_at(turn.events))?
                == Committed::Duplicate
        {
            return Ok(Committed::Duplicate);
        }
        let mut tail = std::borrow::Cow::Borrowed(&stored.transcript_tail);
        let own_events = turn.events.iter().any(|event| event.conversation == *conversation_id);
        if let Some(record) = record.filter(|_| own_events) {
            record.indexed_inline.insert(conversation_id);
            let tail = tail.to_mut();
            tail.push(record.seq);
            if tail.len() >= TRANSCRIPT_TAIL {
                let seqs: Vec<u8> = tail.iter().flat_map(|seq| seq.to_be_bytes()).collect();
                batch.insert(keys::conversation_event(tenant, conversation_id, tail[0]), seqs);
                tail.clear();
            }
        }
        let encoded = serde_json::to_vec(&EncodedConversation {
            conversation: &stored.conversation,
            plugin_pins: &stored.plugin_pins,
            config_pins: &stored.config_pins,
            transcript_tail: &tail,
        });
        batch.insert(keys::conversation(tenant, conversation_id), encoded.map_err(encode_error)?);
        self.stage_inbox(batch, tenant, turn)?;
        for entry in turn.outbox {
            batch.insert(keys::outbox(tenant, self.next_id()?), entry.as_slice());
        }
        Ok(Committed::Written)
    }

    /// Up to `limit` outbox entries of a tenant, oldest first, all on disk:
    /// a reply is never sent for a turn a crash could still undo.
    pub fn outbox(&self, tenant: &str, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.outbox_after(tenant, None, limit)
    }

    /// Up to `limit` outbox entries after sequence number `after`, oldest
    /// first: a page, so a reader can go through an outbox of any size
    /// without holding it all, and see past entries it cannot send yet.
    pub fn outbox_after(
        &self,
        tenant: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let prefix = keys::outbox_prefix(tenant);
        let entries = self.page(&prefix, after.map(|seq| keys::outbox(tenant, seq)), limit)?;
        if !entries.is_empty() {
            // Entries of turns applied but not yet synced (see `apply_turn`).
            self.durable()?;
        }
        Ok(entries)
    }

    /// Up to `limit` keys under `prefix` after the key `after`, as
    /// (sequence number, value).
    fn page(
        &self,
        prefix: &[u8],
        after: Option<Vec<u8>>,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let trees = self.trees()?;
        let entries = trees.turns_after(prefix, after, limit)?;
        if !entries.is_empty() {
            // The outbox's readers sync before they send what they read.
            trees.touched();
        }
        Ok(entries.into_iter().map(|(key, value)| (keys::seq_after(prefix, &key), value.to_vec())).collect())
    }

    /// Move an outbox entry that cannot be sent as it is (its channel's
    /// credentials are gone, its messaging window closed with no template or
    /// tag to fall back on) out of the outbox, with the events that say
    /// so, durably. It keeps its sequence number, and `entry` replaces what
    /// was stored (with its attempts so far).
    pub fn park_outbox(
        &self,
        tenant: &str,
        seq: u64,
        entry: &[u8],
        events: &[DomainEvent],
    ) -> Result<(), StoreError> {
        if !self.writable()?.turns.contains_key(keys::outbox(tenant, seq))? {
            // Gone meanwhile (its tenant removed): nothing to park.
            return Ok(());
        }
        let mut batch = Batch::default();
        batch.remove(keys::outbox(tenant, seq));
        batch.insert(keys::parked_outbox(tenant, seq), entry);
        self.stage_events(&mut batch, tenant, events)?;
        self.write(batch)
    }

    /// Up to `limit` parked entries after `after`, oldest first.
    pub fn parked_outbox(
        &self,
        tenant: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let prefix = keys::parked_outbox_prefix(tenant);
        self.page(&prefix, after.map(|seq| keys::parked_outbox(tenant, seq)), limit)
    }

    /// Put every parked entry back in the outbox under its old sequence
    /// number, `reset` applied to each (delivery clears its backoff), in
    /// pages that are each atomic and durable; how many moved.
    pub fn redrive_parked(
        &self,
        tenant: &str,
        reset: impl Fn(&[u8]) -> Vec<u8>,
    ) -> Result<usize, StoreError> {
        let mut moved = 0;
        let mut after = None;
        loop {
            // Forward from where the last page ended: what delivery parks
            // again meanwhile waits for the next re-drive.
            let page = self.parked_outbox(tenant, after, 256)?;
            let Some((last, _)) = page.last() else { return Ok(moved) };
            after = Some(*last);
            let mut batch = Batch::default();
            for (seq, entry) in &page {
                batch.remove(keys::parked_outbox(tenant, *seq));
                batch.insert(keys::outbox(tenant, *seq), reset(entry));
            }
            self.write(batch)?;
            moved += page.len();
        }
    }

    /// Settle an outbox entry: remove it (sent, or given up) or replace it
    /// (a retry later), together with the events that say so, durably.
    pub fn settle_outbox(
        &self,
        tenant: &str,
        seq: u64,
        retry: Option<&[u8]>,
        events: &[DomainEvent],
    ) -> Result<(), StoreError> {
        if !self.writable()?.turns.contains_key(keys::outbox(tenant, seq))? {
            // Gone meanwhile (its tenant removed and its data retired): a
            // retry must not bring it back under a name a new tenant may take.
            return Ok(());
        }
        let mut batch = Batch::default();
        match retry {
            Some(entry) => batch.insert(keys::outbox(tenant, seq), entry),
            None => batch.remove(keys::outbox(tenant, seq)),
        }
        self.stage_events(&mut batch, tenant, events)?;
        self.write(batch)?;
        Ok(())
    }

    /// Append events to the tenant's log as one record under one sequence
    /// number, plus a transcript index entry for each conversation they
    /// belong to (usually one): two keys per write, however many events.
    pub(crate) fn stage_events(
        &self,
        batch: &mut Batch,
        tenant: &str,
        events: &[DomainEvent],
    ) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut record = EventRecord::new(tenant, self.reserve_event_seq()?);
        record.push(events)?;
        self.stage_record(batch, record)
    }

    /// Stage an event record, with an index entry (empty: the sequence
    /// number is in the key) for each conversation whose own transcript tail
    /// does not already point at it.
    fn stage_record(&self, batch: &mut Batch, record: EventRecord<'_>) -> Result<(), StoreError> {
        if record.len() == 0 {
            return Ok(());
        }
        for conversation in record.conversations.difference(&record.indexed_inline) {
            batch.insert(keys::conversation_event(record.tenant, conversation, record.seq), &[]);
        }
        let (tenant, seq) = (record.tenant, record.seq);
        let (bytes, reserved) = record.finish()?;
        batch.insert(keys::tenant_event(tenant, seq), bytes);
        batch.hold(reserved);
        Ok(())
    }

    /// Mark a provider's message id as handled, unless it already was: a
    /// provider's retry of it then changes nothing.
    fn stage_dedupe(
        &self,
        batch: &mut Batch,
        tenant: &str,
        channel: &str,
        message_id: &str,
        at: i64,
    ) -> Result<Committed, StoreError> {
        let key = keys::inbound(tenant, channel, message_id);
        if self.is_duplicate(&key)? {
            return Ok(Committed::Duplicate);
        }
        batch.insert(key, keys::dedupe_stamp(at).as_slice());
        Ok(Committed::Written)
    }

    /// Append events outside a turn (a provider's delivery receipt), durably;
    /// `dedupe` makes a provider's retry a no-op, as for inbound messages.
    pub fn append_events(
        &self,
        tenant: &str,
        events: &[DomainEvent],
        dedupe: Option<(&str, &str)>,
    ) -> Result<Committed, StoreError> {
        let mut batch = Batch::default();
        if let Some((channel, id)) = dedupe
            && self.stage_dedupe(&mut batch, tenant, channel, id, handled_at(events))? == Committed::Duplicate
        {
            return Ok(Committed::Duplicate);
        }
        self.stage_events(&mut batch, tenant, events)?;
        self.write(batch)?;
        Ok(Committed::Written)
    }

    /// A tenant's events, oldest first: all of them, or those after the
    /// sequence number `after`. Events of one turn share a sequence number
    /// and are never split across pages, so a page may hold a few more than
    /// `limit`; the next page starts after the last sequence number returned.
    ///
    /// A page stops short of any record still being written (see
    /// `visibility.rs`), so a cursor moved to its last number never passes
    /// a record that appears later: paging misses nothing.
    pub fn tenant_events(
        &self,
        tenant: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, DomainEvent)>, StoreError> {
        let horizon = self.event_horizon();
        let prefix = keys::tenant_events(tenant);
        let start = match after {
            Some(after) => keys::tenant_event(tenant, after.saturating_add(1)),
            None => prefix.clone(),
        };
        let mut events = Vec::new();
        for entry in self
            .trees()?
            .turns
            .range(start..)
            .take_while(|entry| entry.as_ref().is_ok_and(|(key, _)| key.starts_with(&prefix)))
        {
            let (key, bytes) = entry?;
            let seq = keys::seq_after(&prefix, &key);
            if seq >= horizon {
                break;
            }
            events.extend(decode_record(&key, &bytes)?.into_iter().map(|event| (seq, event)));
            if events.len() >= limit {
                break;
            }
        }
        Ok(events)
    }

    /// A cursor for reading only what is committed from now on: every
    /// record at or below it is visible already.
    pub fn event_cursor_now(&self) -> u64 {
        self.event_horizon().saturating_sub(1)
    }

    /// One conversation's events, oldest first.
    pub fn conversation_events(
        &self,
        tenant: &str,
        conversation: &str,
    ) -> Result<Vec<DomainEvent>, StoreError> {
        let tail = self.conversation(tenant, conversation)?.map(|stored| stored.transcript_tail);
        self.events_of(tenant, conversation, tail.as_deref().unwrap_or_default())
    }

    /// The events of a conversation already read, oldest first: what
    /// [`Store::conversation_events`] gives, without reading it again.
    pub fn transcript(
        &self,
        tenant: &str,
        stored: &StoredConversation,
    ) -> Result<Vec<DomainEvent>, StoreError> {
        self.events_of(tenant, &stored.conversation.id, &stored.transcript_tail)
    }

    /// The events of `conversation` in the records its transcript index and
    /// `tail` name.
    fn events_of(
        &self,
        tenant: &str,
        conversation: &str,
        tail: &[u64],
    ) -> Result<Vec<DomainEvent>, StoreError> {
        // The transcript index holds sequence numbers; the events live once,
        // in the tenant log. An index entry is empty (the number is in its
        // key) or a list of them, moved out of the conversation's tail.
        let prefix = keys::conversation_events(tenant, conversation);
        let mut seqs = tail.to_vec();
        let trees = self.trees()?;
        for entry in trees.turns.scan_prefix(&prefix) {
            let (key, value) = entry?;
            if value.is_empty() {
                seqs.push(keys::seq_after(&prefix, &key));
                continue;
            }
            let numbers = value.chunks_exact(8);
            if !numbers.remainder().is_empty() {
                return Err(StoreError::Damaged { key: String::from_utf8_lossy(&key).into_owned() });
            }
            seqs.extend(numbers.map(|bytes| u64::from_be_bytes(bytes.try_into().unwrap_or_default())));
        }
        seqs.sort_unstable();
        seqs.dedup();
        let mut events = Vec::new();
        for seq in seqs {
            let event_key = keys::tenant_event(tenant, seq);
            if let Some(bytes) = trees.turns.get(&event_key)? {
                let record = decode_record(&event_key, &bytes)?;
                events.extend(record.into_iter().filter(|event| event.conversation == conversation));
            }
        }
        Ok(events)
    }

    /// A page of a tenant's conversations: up to `limit`, in key order,
    /// starting after the conversation `after`.
    pub fn conversations(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredConversation>, StoreError> {
        use std::ops::Bound;
        let mut prefix = keys::tenant_prefix(tenant);
        prefix.extend_from_slice(b"c/");
        let start = match after {
            Some(id) => Bound::Excluded(keys::conversation(tenant, id)),
            None => Bound::Included(prefix.clone()),
        };
        self.trees()?
            .turns
            .range((start, Bound::Unbounded))
            .take_while(|entry| entry.as_ref().map_or(true, |(key, _)| key.starts_with(&prefix)))
            .take(limit)
            .map(|entry| {
                let (key, bytes) = entry?;
                decode(&key, &bytes)
            })
            .collect()
    }
}

/// How a conversation is written: [`StoredConversation`]'s fields, with the
/// transcript tail as this write leaves it.
#[derive(Serialize)]
struct EncodedConversation<'a> {
    conversation: &'a Conversation,
    plugin_pins: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    config_pins: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "<[u64]>::is_empty")]
    transcript_tail: &'a [u64],
}

/// When a message with an id was handled: its events' time, or now.
fn handled_at(events: &[DomainEvent]) -> i64 {
    events.iter().map(|event| event.at).max().unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
    })
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes)
        .map_err(|source| StoreError::Decode { key: String::from_utf8_lossy(key).into_owned(), source })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use switchboard_core::contract::Channel;
    use switchboard_core::event::EventBody;

    use super::*;
    use crate::test_support::{flow, stored};

    fn said(conversation: &str, text: &str) -> DomainEvent {
        DomainEvent {
            at: 0,
            tenant: "acme".into(),
            conversation: conversation.into(),
            channel: Channel::Webchat,
            body: EventBody::MessageReceived { text: text.into() },
        }
    }

    /// The event-log cursor's promise: a reader paging `after` the last
    /// number it saw, while writers race, sees every record exactly once.
    #[test]
    fn a_reader_paging_the_log_sees_every_record_once_while_writers_race() {
        const WRITERS: usize = 4;
        const EACH: usize = 400;
        let store = Store::temporary().unwrap();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let (store, done) = (store.clone(), done.clone());
                std::thread::spawn(move || {
                    for i in 0..EACH {
                        let conversation = format!("c{writer}-{}", i % 7);
                        let event = said(&conversation, &format!("{writer}/{i}"));
                        store.append_events("acme", &[event], None).unwrap();
                    }
                    done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                })
            })
            .collect();
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            // Whether every writer had finished before this page was read.
            let finished = done.load(std::sync::atomic::Ordering::SeqCst) == WRITERS;
            let page = store.tenant_events("acme", cursor, 16).unwrap();
            if let Some((last, _)) = page.last() {
                cursor = Some(*last);
            }
            seen.extend(texts(&page));
            if finished && page.is_empty() {
                break;
            }
        }
        for writer in writers {
            writer.join().unwrap();
        }
        let mut expected: Vec<String> =
            (0..WRITERS).flat_map(|writer| (0..EACH).map(move |i| format!("{writer}/{i}"))).collect();
        expected.sort();
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "a record was read twice");
        seen.sort();
        let missed: Vec<&String> = expected.iter().filter(|text| seen.binary_search(text).is_err()).collect();
        assert!(
            missed.is_empty(),
            "{} records were passed over, e.g. {:?}",
            missed.len(),
            &missed[..missed.len().min(5)]
        );
        assert_eq!(seen, expected);
    }

    fn texts(events: &[(u64, DomainEvent)]) -> Vec<String> {
        events
            .iter()
            .map(|(_, event)| match &event.body {
                EventBody::MessageReceived { text } => text.clone(),
                _ => String::new(),
            })
            .collect()
    }

    #[test]
    fn records_share_a_turns_envelope_and_records_of_earlier_formats_still_read() {
        let store = Store::temporary().expect("store");
        let events = [said("a", "1"), said("a", "2"), said("b", "3"), said("a", "4")];
        store.append_events("acme", &events, None).expect("written");
        let (key, bytes) =
            store.trees().unwrap().turns.scan_prefix(keys::tenant_events("acme")).next().unwrap().unwrap();
        let record: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
        assert_eq!(record["turns"].as_array().map(Vec::len), Some(3), "a, then b, then a again: {record}");
        assert_eq!(record["turns"][0]["events"].as_array().map(Vec::len), Some(2));
        assert_eq!(decode_record(&key, &bytes).expect("decodes"), events);

        // As written before: an array of whole events, and one event alone.
        let many = serde_json::to_vec(&events[..2]).expect("JSON");
        assert_eq!(decode_record(b"k", &many).expect("decodes"), events[..2]);
        let one = serde_json::to_vec(&events[3]).expect("JSON");
        assert_eq!(decode_record(b"k", &one).expect("decodes"), [events[3].clone()]);
    }

    #[test]
    fn a_writes_events_are_one_record_and_pages_never_split_it() {
        let store = Store::temporary().expect("store");
        store
            .append_events("acme", &[said("a", "1"), said("b", "2"), said("a", "3")], None)
            .expect("written");
        store.append_events("acme", &[said("a", "4")], None).expect("written");

        let all = store.tenant_events("acme", None, 100).expect("read");
        assert_eq!(texts(&all), ["1", "2", "3", "4"]);
        assert!(all[..3].iter().all(|(seq, _)| *seq == all[0].0), "one write, one sequence number");
        assert_ne!(all[2].0, all[3].0, "another write, another record");

        let first = store.tenant_events("acme", None, 1).expect("read");
        assert_eq!(texts(&first), ["1", "2", "3"], "the page holds the whole record");
        let next = store.tenant_events("acme", Some(first[2].0), 10).expect("read");
        assert_eq!(texts(&next), ["4"]);

        let transcript = |conversation| {
            let events = store.conversation_events("acme", conversation).expect("read");
            texts(&events.into_iter().map(|event| (0, event)).collect::<Vec<_>>())
        };
        assert_eq!(transcript("a"), ["1", "3", "4"], "a transcript holds only its own events");
        assert_eq!(transcript("b"), ["2"]);
        assert!(store.tenant_events("other", None, 10).expect("read").is_empty());
    }

    #[test]
    fn turns_committed_together_share_records_but_keep_their_own_transcripts() {
        let store = Store::temporary().expect("store");
        let flow = flow();
        let conversations: Vec<_> = (0..50).map(|n| stored(&format!("c{n}"), &flow)).collect();
        let events: Vec<_> =
            conversations.iter().map(|c| vec![said(&c.conversation.id, &c.conversation.id)]).collect();
        let outbox = vec![b"reply".to_vec()];
        let record = |index: usize, dedupe| TurnRecord {
            stored: &conversations[index],
            events: &events[index],
            dedupe,
            outbox: &outbox,
            timers: &[],
        };
        // Turn 0 is committed first with an inbound message id; in the
        // shared commit, turns 0, 10, 20... bring that same id and are refused.
        store.commit_turn("acme", &record(0, Some(("telegram", "m1")))).expect("first");
        let turns: Vec<_> = (0..50)
            .map(|index| ("acme", record(index, (index % 10 == 0).then_some(("telegram", "m1")))))
            .collect();
        store.commit_turns(&turns).expect("committed");

        for (index, conversation) in conversations.iter().enumerate() {
            let id = &conversation.conversation.id;
            let duplicate = index % 10 == 0 && index > 0;
            let expected = (!duplicate).then_some(&conversation.conversation);
            let read = store.conversation("acme", id).expect("read");
            assert_eq!(read.as_ref().map(|stored| &stored.conversation), expected, "{id}");
            let transcript = store.conversation_events("acme", id).expect("read");
            assert_eq!(transcript.len(), usize::from(!duplicate), "{id}");
            assert!(transcript.iter().all(|event| event.conversation == *id));
        }
        let all = store.tenant_events("acme", None, 1_000).expect("read");
        // 1 from the first turn, then 45 turns that were not duplicates.
        assert_eq!(all.len(), 1 + 45);
        let records: BTreeSet<u64> = all.iter().map(|(seq, _)| *seq).collect();
        assert!(records.len() < 10, "shared records, not one per turn: {}", records.len());
        assert_eq!(store.outbox("acme", 1_000).expect("read").len(), 1 + 45);
        assert_eq!(
            store.trees().unwrap().turns.scan_prefix(keys::REDO_PREFIX).count(),
            0,
            "no redo record left"
        );
    }

    #[test]
    fn the_outbox_pages_and_a_parked_entry_returns_to_its_old_place_in_its_own_tenant() {
        let store = Store::temporary().expect("store");
        let flow = flow();
        for (tenant, n) in [("acme", 0), ("acme", 1), ("acme", 2), ("beta", 3), ("acme", 4)] {
            let conversation = crate::test_support::stored_in(tenant, &format!("c{n}"), &flow);
            let outbox = vec![format!("reply {n}").into_bytes()];
            let record =
                TurnRecord { stored: &conversation, events: &[], dedupe: None, outbox: &outbox, timers: &[] };
            store.commit_turn(tenant, &record).expect("committed");
        }
        let values = |page: &[(u64, Vec<u8>)]| {
            page.iter().map(|(_, value)| String::from_utf8_lossy(value).into_owned()).collect::<Vec<_>>()
        };
        let first = store.outbox_after("acme", None, 2).expect("read");
        assert_eq!(values(&first), ["reply 0", "reply 1"]);
        let rest = store.outbox_after("acme", Some(first[1].0), 10).expect("read");
        assert_eq!(values(&rest), ["reply 2", "reply 4"], "past the page, never another tenant's");

        let (seq, _) = first[1];
        store.park_outbox("acme", seq, b"reply 1, parked", &[said("c1", "parked")]).expect("parked");
        assert_eq!(values(&store.outbox("acme", 10).expect("read")), ["reply 0", "reply 2", "reply 4"]);
        assert_eq!(values(&store.parked_outbox("acme", None, 10).expect("read")), ["reply 1, parked"]);
        assert!(store.parked_outbox("beta", None, 10).expect("read").is_empty());
        assert_eq!(texts(&store.tenant_events("acme", None, 10).expect("read")), ["parked"]);

        assert_eq!(store.redrive_parked("beta", |value| value.to_vec()).expect("redrive"), 0);
        assert_eq!(store.redrive_parked("acme", |value| [value, b" again"].concat()).expect("redrive"), 1);
        let outbox = store.outbox("acme", 10).expect("read");
        assert_eq!(values(&outbox), ["reply 0", "reply 1, parked again", "reply 2", "reply 4"]);
        assert_eq!(outbox[1].0, seq, "the same sequence number, so the same place");
        assert!(store.parked_outbox("acme", None, 10).expect("read").is_empty());

        // A settle or park of an entry gone meanwhile (its tenant removed) brings nothing back.
        store.settle_outbox("acme", 9_999, Some(b"ghost"), &[said("c9", "ghost")]).expect("settled");
        store.park_outbox("acme", 9_998, b"ghost", &[said("c9", "ghost")]).expect("parked");
        assert_eq!(store.outbox("acme", 10).expect("read").len(), 4);
        assert!(store.parked_outbox("acme", None, 10).expect("read").is_empty());
        assert_eq!(texts(&store.tenant_events("acme", None, 10).expect("read")), ["parked"]);
    }

    #[test]
    fn turns_of_two_tenants_committed_together_stay_in_their_own_logs() {
        let store = Store::temporary().expect("store");
        let flow = flow();
        // Five turns of one tenant, five of another, five of the first again.
        let tenant_of = |index: usize| if (5..10).contains(&index) { "beta" } else { "acme" };
        let conversations: Vec<_> =
            (0..15).map(|n| crate::test_support::stored_in(tenant_of(n), &format!("c{n}"), &flow)).collect();
        let events: Vec<Vec<DomainEvent>> = conversations
            .iter()
            .enumerate()
            .map(|(index, c)| {
                let mut event = said(&c.conversation.id, &c.conversation.id);
                event.tenant = tenant_of(index).into();
                vec![event]
            })
            .collect();
        let outbox = vec![b"reply".to_vec()];
        let turns: Vec<_> = (0..15)
            .map(|index| {
                let record = TurnRecord {
                    stored: &conversations[index],
                    events: &events[index],
                    dedupe: None,
                    outbox: &outbox,
                    timers: &[],
                };
                (tenant_of(index), record)
            })
            .collect();
        store.commit_turns(&turns).expect("committed");

        for tenant in ["acme", "beta"] {
            let log = store.tenant_events(tenant, None, 100).expect("read");
            assert_eq!(log.len(), if tenant == "beta" { 5 } else { 10 }, "{tenant}");
            assert!(log.iter().all(|(_, event)| event.tenant == tenant), "{tenant} sees only its own");
            assert_eq!(store.outbox(tenant, 100).expect("read").len(), log.len(), "{tenant}");
        }
        for (index, conversation) in conversations.iter().enumerate() {
            let (own, other) = if tenant_of(index) == "beta" { ("beta", "acme") } else { ("acme", "beta") };
            let id = &conversation.conversation.id;
            assert_eq!(store.conversation_events(own, id).expect("read").len(), 1, "{id}");
            assert!(store.conversation_events(other, id).expect("read").is_empty(), "{id}");
            assert!(store.conversation(other, id).expect("read").is_none(), "{id}");
        }
    }

    #[test]
    fn a_transcript_reads_back_in_order_from_its_tail_its_index_keys_and_events_outside_turns() {
        let store = Store::temporary().expect("store");
        let flow = flow();
        let mut stored = stored("c1", &flow);
        for turn in 0..20 {
            let events = [said("c1", &format!("turn {turn}"))];
            let record =
                TurnRecord { stored: &stored, events: &events, dedupe: None, outbox: &[], timers: &[] };
            store.commit_turn("acme", &record).expect("turn");
            if turn % 7 == 3 {
                // A delivery receipt, say: written without the conversation.
                store.append_events("acme", &[said("c1", &format!("receipt {turn}"))], None).expect("append");
            }
            // Each turn starts from the conversation as stored, as the engine's do.
            stored = store.conversation("acme", "c1").expect("read").expect("stored");
        }
        let texts: Vec<String> = store
            .conversation_events("acme", "c1")
            .expect("read")
            .into_iter()
            .map(|event| match event.body {
                EventBody::MessageReceived { text } => text,
                _ => String::new(),
            })
            .collect();
        let mut expected = Vec::new();
        for turn in 0..20 {
            expected.push(format!("turn {turn}"));
            if turn % 7 == 3 {
                expected.push(format!("receipt {turn}"));
            }
        }
        assert_eq!(texts, expected);
        // 20 turns: two full tails moved to index keys, four still in the
        // conversation; and one key for each of the three receipts.
        let index_keys =
            store.trees().unwrap().turns.scan_prefix(keys::conversation_events("acme", "c1")).count();
        assert_eq!(index_keys, 2 + 3);
        assert_eq!(stored.transcript_tail.len(), 20 % TRANSCRIPT_TAIL);
    }
}
