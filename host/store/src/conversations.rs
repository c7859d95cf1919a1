//! Conversations and their events, one atomic batch per turn.
//!
//! A turn's writes (the new conversation state, every event it produced, and
//! the inbound message id that makes a provider's retry a no-op) commit
//! together or not at all: they share one tree, `turns`, and go in one batch
//! (`batch.rs`), far more cheaply than a transaction across trees.
//! [`Store::commit_turn`] returns only once the batch is on disk, so whatever
//! a caller acknowledges survives a crash; [`Store::apply_turn`] leaves the
//! sync to the caller, so several turns can share it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use switchboard_core::conversation::{Conversation, ScheduledTimer};
use switchboard_core::event::DomainEvent;

use crate::batch::Batch;
use crate::{Store, StoreError, keys};

/// A conversation as stored: its state and what it is pinned to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredConversation {
    pub conversation: Conversation,
    /// Plugin binding name to the component hash this conversation started with.
    pub plugin_pins: BTreeMap<String, String>,
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    Written,
    /// The inbound message id was seen before; nothing was written.
    Duplicate,
}

impl Store {
    pub fn conversation(&self, tenant: &str, id: &str) -> Result<Option<StoredConversation>, StoreError> {
        let key = keys::conversation(tenant, id);
        self.turns.get(&key)?.map(|bytes| decode(&key, &bytes)).transpose()
    }

    /// Whether an inbound message id was already handled.
    pub fn seen(&self, tenant: &str, channel: &str, message_id: &str) -> Result<bool, StoreError> {
        Ok(self.turns.contains_key(keys::inbound(tenant, channel, message_id))?)
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
        if self.stage_turn(&mut batch, tenant, turn)? == Committed::Duplicate {
            return Ok(Committed::Duplicate);
        }
        // Index entries go first, so they are never behind the turn.
        self.index_timers(tenant, &turn.stored.conversation.id, turn.timers)?;
        self.apply(batch)?;
        Ok(Committed::Written)
    }

    /// Write several turns (of different conversations), each atomically,
    /// with one disk sync for all: the scheduler fires a page of timers
    /// this way.
    pub fn commit_turns(&self, turns: &[(&str, TurnRecord<'_>)]) -> Result<(), StoreError> {
        for (tenant, turn) in turns {
            self.apply_turn(tenant, turn)?;
        }
        self.durable()
    }

    fn stage_turn(
        &self,
        batch: &mut Batch,
        tenant: &str,
        turn: &TurnRecord<'_>,
    ) -> Result<Committed, StoreError> {
        let conversation_id = &turn.stored.conversation.id;
        let encode_error = |source| StoreError::Decode { key: conversation_id.clone(), source };
        if let Some((channel, message_id)) = turn.dedupe
            && self.stage_dedupe(batch, tenant, channel, message_id, conversation_id.as_bytes())?
                == Committed::Duplicate
        {
            return Ok(Committed::Duplicate);
        }
        batch.insert(
            keys::conversation(tenant, conversation_id),
            serde_json::to_vec(turn.stored).map_err(encode_error)?,
        );
        self.stage_events(batch, tenant, turn.events)?;
        for entry in turn.outbox {
            batch.insert(keys::outbox(tenant, self.db.generate_id()?), entry.as_slice());
        }
        Ok(Committed::Written)
    }

    /// Up to `limit` outbox entries of a tenant, oldest first, all on disk:
    /// a reply is never sent for a turn a crash could still undo.
    pub fn outbox(&self, tenant: &str, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let prefix = keys::outbox_prefix(tenant);
        let mut entries = Vec::new();
        for entry in self.turns.scan_prefix(&prefix).take(limit) {
            let (key, value) = entry?;
            let seq = keys::seq_after(&prefix, &key);
            entries.push((seq, value.to_vec()));
        }
        if !entries.is_empty() {
            // Entries of turns applied but not yet synced (see `apply_turn`).
            self.durable()?;
        }
        Ok(entries)
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
        let mut batch = Batch::default();
        match retry {
            Some(entry) => batch.insert(keys::outbox(tenant, seq), entry),
            None => batch.remove(keys::outbox(tenant, seq)),
        }
        self.stage_events(&mut batch, tenant, events)?;
        self.write(batch)?;
        Ok(())
    }

    /// Append events to the tenant's log: one record per conversation they
    /// belong to (usually one), holding them all, under one sequence number,
    /// plus that conversation's transcript index entry. Two keys per turn,
    /// however many events it produced.
    pub(crate) fn stage_events(
        &self,
        batch: &mut Batch,
        tenant: &str,
        events: &[DomainEvent],
    ) -> Result<(), StoreError> {
        for record in events.chunk_by(|one, next| one.conversation == next.conversation) {
            let conversation = &record[0].conversation;
            let bytes = serde_json::to_vec(record)
                .map_err(|source| StoreError::Decode { key: conversation.clone(), source })?;
            let seq = self.db.generate_id()?;
            batch.insert(keys::tenant_event(tenant, seq), bytes);
            batch.insert(keys::conversation_event(tenant, conversation, seq), &[]);
        }
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
        value: &[u8],
    ) -> Result<Committed, StoreError> {
        let key = keys::inbound(tenant, channel, message_id);
        if self.turns.contains_key(&key)? {
            return Ok(Committed::Duplicate);
        }
        batch.insert(key, value);
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
            && self.stage_dedupe(&mut batch, tenant, channel, id, &[])? == Committed::Duplicate
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
    pub fn tenant_events(
        &self,
        tenant: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, DomainEvent)>, StoreError> {
        let prefix = keys::tenant_events(tenant);
        let start = match after {
            Some(after) => keys::tenant_event(tenant, after.saturating_add(1)),
            None => prefix.clone(),
        };
        let mut events = Vec::new();
        for entry in self
            .turns
            .range(start..)
            .take_while(|entry| entry.as_ref().is_ok_and(|(key, _)| key.starts_with(&prefix)))
        {
            let (key, bytes) = entry?;
            let seq = keys::seq_after(&prefix, &key);
            events.extend(decode_record(&key, &bytes)?.into_iter().map(|event| (seq, event)));
            if events.len() >= limit {
                break;
            }
        }
        Ok(events)
    }

    /// One conversation's events, oldest first.
    pub fn conversation_events(
        &self,
        tenant: &str,
        conversation: &str,
    ) -> Result<Vec<DomainEvent>, StoreError> {
        // The transcript index holds sequence numbers; the events live once, in the tenant log.
        let prefix = keys::conversation_events(tenant, conversation);
        let mut events = Vec::new();
        for entry in self.turns.scan_prefix(&prefix) {
            let (key, _) = entry?;
            let seq = keys::seq_after(&prefix, &key);
            let event_key = keys::tenant_event(tenant, seq);
            if let Some(bytes) = self.turns.get(&event_key)? {
                let record = decode_record(&event_key, &bytes)?;
                events.extend(record.into_iter().filter(|event| event.conversation == conversation));
            }
        }
        Ok(events)
    }

    /// Every stored conversation of a tenant.
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
        self.turns
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

/// One log record: a turn's events (or, as written before records held
/// several, a single event).
fn decode_record(key: &[u8], bytes: &[u8]) -> Result<Vec<DomainEvent>, StoreError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Record {
        Many(Vec<DomainEvent>),
        One(Box<DomainEvent>),
    }
    Ok(match decode(key, bytes)? {
        Record::Many(events) => events,
        Record::One(event) => vec![*event],
    })
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes)
        .map_err(|source| StoreError::Decode { key: String::from_utf8_lossy(key).into_owned(), source })
}

#[cfg(test)]
mod tests {
    use switchboard_core::contract::Channel;
    use switchboard_core::event::EventBody;

    use super::*;

    fn said(conversation: &str, text: &str) -> DomainEvent {
        DomainEvent {
            at: 0,
            tenant: "acme".into(),
            conversation: conversation.into(),
            channel: Channel::Webchat,
            body: EventBody::MessageReceived { text: text.into() },
        }
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
    fn a_turns_events_are_one_record_and_pages_never_split_it() {
        let store = Store::temporary().expect("store");
        store
            .append_events("acme", &[said("a", "1"), said("a", "2"), said("b", "3")], None)
            .expect("written");
        store.append_events("acme", &[said("a", "4")], None).expect("written");

        let all = store.tenant_events("acme", None, 100).expect("read");
        assert_eq!(texts(&all), ["1", "2", "3", "4"]);
        assert_eq!(all[0].0, all[1].0, "one turn, one sequence number");
        assert_ne!(all[1].0, all[2].0, "another conversation, another record");

        let first = store.tenant_events("acme", None, 1).expect("read");
        assert_eq!(texts(&first), ["1", "2"], "the page holds the whole record");
        let next = store.tenant_events("acme", Some(first[1].0), 10).expect("read");
        assert_eq!(texts(&next), ["3", "4"]);

        let transcript = store.conversation_events("acme", "a").expect("read");
        let transcript: Vec<_> = transcript.into_iter().map(|event| (0, event)).collect();
        assert_eq!(texts(&transcript), ["1", "2", "4"]);
        assert!(store.tenant_events("other", None, 10).expect("read").is_empty());
    }
}
