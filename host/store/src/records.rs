//! The tenant event log's records: one per write (a turn, or several turns
//! sharing a batch), the events of each turn under one envelope.

use std::collections::BTreeSet;

use serde::Deserialize;
use switchboard_core::contract::Channel;
use switchboard_core::event::{DomainEvent, EventBody};

use crate::StoreError;
use crate::conversations::decode;
use crate::visibility::Reserved;

/// Events of one tenant, from one turn or several, on their way to being one
/// record of its log, built as they come:
///
/// ```json
/// {"tenant": "acme", "turns": [
///   {"at": 1767600000000, "conversation": "telegram:42", "channel": "telegram",
///    "events": [{"type": "message.received", "data": {...}}, ...]}]}
/// ```
///
/// Consecutive events of one conversation at one time (a turn's) share
/// their envelope, which is most of a small event's bytes.
pub(crate) struct EventRecord<'a> {
    pub(crate) tenant: &'a str,
    /// Its sequence number in the tenant's log.
    pub(crate) seq: u64,
    /// Holds readers of the log below `seq` until the record is applied.
    reserved: Reserved,
    json: Vec<u8>,
    /// The envelope of the group being written.
    open: Option<(i64, &'a str, Channel)>,
    /// The conversations they belong to, each to be indexed.
    pub(crate) conversations: BTreeSet<&'a str>,
    /// Those written in the same batch, whose transcript tail points here.
    pub(crate) indexed_inline: BTreeSet<&'a str>,
}

impl<'a> EventRecord<'a> {
    pub(crate) fn new(tenant: &'a str, reserved: Reserved) -> Self {
        Self {
            tenant,
            seq: reserved.seq,
            reserved,
            json: Vec::new(),
            open: None,
            conversations: BTreeSet::new(),
            indexed_inline: BTreeSet::new(),
        }
    }

    pub(crate) fn push(&mut self, events: &'a [DomainEvent]) -> Result<(), StoreError> {
        for event in events {
            if event.tenant != self.tenant {
                return Err(StoreError::Foreign {
                    tenant: self.tenant.to_owned(),
                    other: event.tenant.clone(),
                });
            }
            let encode_error = |source| StoreError::Decode { key: event.conversation.clone(), source };
            let envelope = (event.at, event.conversation.as_str(), event.channel);
            if self.open == Some(envelope) {
                self.json.push(b',');
            } else {
                self.json.extend_from_slice(match self.open {
                    Some(_) => b"]},",
                    None => b"",
                });
                self.json.extend_from_slice(b"{\"at\":");
                serde_json::to_writer(&mut self.json, &event.at).map_err(encode_error)?;
                self.json.extend_from_slice(b",\"conversation\":");
                serde_json::to_writer(&mut self.json, &event.conversation).map_err(encode_error)?;
                self.json.extend_from_slice(b",\"channel\":");
                serde_json::to_writer(&mut self.json, &event.channel).map_err(encode_error)?;
                self.json.extend_from_slice(b",\"events\":[");
                self.open = Some(envelope);
            }
            serde_json::to_writer(&mut self.json, &event.body).map_err(encode_error)?;
            // A tenant's own events (a plugin version) belong to no transcript.
            if !event.conversation.is_empty() {
                self.conversations.insert(&event.conversation);
            }
        }
        Ok(())
    }

    pub(crate) fn len(&self) -> usize {
        self.json.len()
    }

    /// The record's bytes, and the reservation its batch holds until applied.
    pub(crate) fn finish(self) -> Result<(Vec<u8>, Reserved), StoreError> {
        let mut record = b"{\"tenant\":".to_vec();
        serde_json::to_writer(&mut record, self.tenant)
            .map_err(|source| StoreError::Decode { key: self.tenant.to_owned(), source })?;
        record.extend_from_slice(b",\"turns\":[");
        record.extend_from_slice(&self.json);
        if self.open.is_some() {
            record.extend_from_slice(b"]}");
        }
        record.extend_from_slice(b"]}");
        Ok((record, self.reserved))
    }
}

/// One log record: the events of one write, a turn or several. Records
/// written before envelopes were shared are an array of whole events, and
/// before that a single event.
pub(crate) fn decode_record(key: &[u8], bytes: &[u8]) -> Result<Vec<DomainEvent>, StoreError> {
    #[derive(Deserialize)]
    struct Group {
        at: i64,
        conversation: String,
        channel: Channel,
        events: Vec<EventBody>,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Record {
        Grouped { tenant: String, turns: Vec<Group> },
        Many(Vec<DomainEvent>),
        One(Box<DomainEvent>),
    }
    Ok(match decode(key, bytes)? {
        Record::Grouped { tenant, turns } => turns
            .into_iter()
            .flat_map(|group| {
                let (tenant, Group { at, conversation, channel, events }) = (tenant.clone(), group);
                events.into_iter().map(move |body| DomainEvent {
                    at,
                    tenant: tenant.clone(),
                    conversation: conversation.clone(),
                    channel,
                    body,
                })
            })
            .collect(),
        Record::Many(events) => events,
        Record::One(event) => vec![*event],
    })
}
