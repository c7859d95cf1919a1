//! The inbox: conversations a person has (handed off and not yet handed
//! back or closed), indexed by every turn in its own batch, so the console
//! lists them without reading every conversation.
//!
//! `t/{tenant}/ih/{conversation}` holds an [`InboxEntry`]: what the list
//! shows, from the conversation and its latest handoff card.

use serde::{Deserialize, Serialize};
use switchboard_core::contract::{Channel, Priority};
use switchboard_core::conversation::Status;
use switchboard_core::event::EventBody;

use crate::batch::Batch;
use crate::conversations::{TurnRecord, decode};
use crate::{Store, StoreError, keys};

/// A line of the inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboxEntry {
    pub id: String,
    pub channel: Channel,
    pub queue: String,
    pub assignee: Option<String>,
    pub priority: Priority,
    pub intent: Option<String>,
    pub name: Option<String>,
    /// From the handoff card: why, as prose and as a stable name, and the summary.
    pub reason: String,
    #[serde(default)]
    pub cause: String,
    pub summary: String,
    /// When it was handed off.
    pub since: i64,
    pub updated_at: i64,
}

impl InboxEntry {
    /// What a conversation's state alone says, without its handoff card.
    fn of_state(
        conversation: &switchboard_core::conversation::Conversation,
        queue: &str,
        assignee: &Option<String>,
    ) -> Self {
        Self {
            id: conversation.id.clone(),
            channel: conversation.channel,
            queue: queue.to_owned(),
            assignee: assignee.clone(),
            priority: conversation.route.as_ref().map(|route| route.priority).unwrap_or_default(),
            intent: conversation.intent.clone(),
            name: conversation.contact.display_name.clone(),
            reason: String::new(),
            cause: String::new(),
            summary: String::new(),
            since: conversation.updated_at,
            updated_at: conversation.updated_at,
        }
    }
}

impl InboxEntry {
    /// Whether [`InboxEntry::after_turn`] needs the conversation's previous
    /// entry: a person has it, and the turn brings no new handoff card.
    pub fn needs_previous(turn: &TurnRecord<'_>) -> bool {
        matches!(turn.stored.conversation.status, Status::Human { .. }) && handoff_card(turn).is_none()
    }

    /// The entry a turn leaves its conversation with: none unless a person
    /// has it; else from the turn's handoff card, or the entry it had
    /// (`previous`, see [`InboxEntry::needs_previous`]), or its state.
    pub fn after_turn(turn: &TurnRecord<'_>, previous: Option<InboxEntry>) -> Option<InboxEntry> {
        let conversation = &turn.stored.conversation;
        let Status::Human { queue, assignee } = &conversation.status else { return None };
        let mut entry = match handoff_card(turn) {
            Some((at, card)) => InboxEntry {
                id: conversation.id.clone(),
                channel: conversation.channel,
                queue: queue.clone(),
                assignee: assignee.clone(),
                priority: card.priority,
                intent: card.intent.clone(),
                name: card.name.clone(),
                reason: card.reason.clone(),
                cause: card.cause.clone(),
                summary: card.summary.clone(),
                since: at,
                updated_at: conversation.updated_at,
            },
            // Handed over before the index existed: what the state says.
            None => previous.unwrap_or_else(|| InboxEntry::of_state(conversation, queue, assignee)),
        };
        entry.queue = queue.clone();
        entry.assignee = assignee.clone();
        entry.channel = conversation.channel;
        entry.updated_at = conversation.updated_at;
        Some(entry)
    }
}

/// The turn's last handoff card, and when.
fn handoff_card<'a>(turn: &'a TurnRecord<'_>) -> Option<(i64, &'a switchboard_core::event::HandoffCard)> {
    turn.events.iter().rev().find_map(|event| match &event.body {
        EventBody::HandoffRequested { card } => Some((event.at, card)),
        _ => None,
    })
}

impl Store {
    /// Keep `tenant`'s inbox entry of a turn's conversation in the turn's batch.
    pub(crate) fn stage_inbox(
        &self,
        batch: &mut Batch,
        tenant: &str,
        turn: &TurnRecord<'_>,
    ) -> Result<(), StoreError> {
        let key = keys::inbox(tenant, &turn.stored.conversation.id);
        let previous = match InboxEntry::needs_previous(turn) {
            true => {
                self.trees()?.turns.get(&key)?.map(|bytes| decode::<InboxEntry>(&key, &bytes)).transpose()?
            }
            false => None,
        };
        let Some(entry) = InboxEntry::after_turn(turn, previous) else {
            if self.trees()?.turns.contains_key(&key)? {
                batch.remove(key);
            }
            return Ok(());
        };
        let bytes = serde_json::to_vec(&entry)
            .map_err(|source| StoreError::Decode { key: entry.id.clone(), source })?;
        batch.insert(key, bytes);
        Ok(())
    }

    /// `tenant`'s inbox: every conversation a person has, most recently
    /// handed off first.
    pub fn inbox(&self, tenant: &str) -> Result<Vec<InboxEntry>, StoreError> {
        let mut entries = Vec::new();
        for entry in self.trees()?.turns.scan_prefix(keys::inbox_prefix(tenant)) {
            let (key, bytes) = entry?;
            entries.push(decode::<InboxEntry>(&key, &bytes)?);
        }
        entries.sort_by(|a, b| b.since.cmp(&a.since).then_with(|| a.id.cmp(&b.id)));
        Ok(entries)
    }
}

impl Store {
    /// Index every conversation a person has that the inbox does not list
    /// (those handed off before the index existed), once per database; how
    /// many. Runs at open, before anything is served.
    pub(crate) fn backfill_inbox(&self) -> Result<usize, StoreError> {
        if self.trees()?.turns.contains_key(keys::INBOX_INDEXED)? {
            return Ok(0);
        }
        let mut batch = Batch::default();
        let mut indexed = 0;
        for entry in self.trees()?.turns.scan_prefix(b"t/") {
            let (key, bytes) = entry?;
            let Some((tenant, "conversations")) = keys::owner(&key) else { continue };
            let Ok(stored) = decode::<crate::StoredConversation>(&key, &bytes) else { continue };
            let conversation = &stored.conversation;
            let Status::Human { queue, assignee } = &conversation.status else { continue };
            let entry = InboxEntry::of_state(conversation, queue, assignee);
            let value = serde_json::to_vec(&entry)
                .map_err(|source| StoreError::Decode { key: entry.id.clone(), source })?;
            batch.insert(keys::inbox(tenant, &conversation.id), value);
            indexed += 1;
        }
        batch.insert(keys::INBOX_INDEXED, &[]);
        self.write(batch)?;
        Ok(indexed)
    }
}

#[cfg(test)]
mod tests {
    use switchboard_core::conversation::Status;

    use crate::test_support::{flow, stored};
    use crate::{Store, TurnRecord, keys};

    fn turn(stored: &crate::StoredConversation) -> TurnRecord<'_> {
        TurnRecord { stored, events: &[], dedupe: None, outbox: &[], timers: &[] }
    }

    #[test]
    fn a_handoff_is_listed_until_a_person_lets_it_go_and_old_ones_are_backfilled() {
        let store = Store::temporary().expect("a store");
        let flow = flow();
        let mut conversation = stored("telegram:1", &flow);
        conversation.conversation.status = Status::Human { queue: "desk".into(), assignee: None };
        store.commit_turn("acme", &turn(&conversation)).expect("committed");
        let listed = store.inbox("acme").expect("read");
        assert_eq!((listed.len(), listed[0].queue.as_str()), (1, "desk"));
        assert!(store.inbox("beta").expect("read").is_empty(), "another tenant's inbox is its own");

        // Handed off before the index existed: listed once backfilled.
        let trees = store.trees().expect("trees");
        trees.turns.remove(keys::inbox("acme", "telegram:1")).expect("removed");
        trees.turns.remove(keys::INBOX_INDEXED).expect("removed");
        assert!(store.inbox("acme").expect("read").is_empty());
        assert_eq!(store.backfill_inbox().expect("backfilled"), 1);
        assert_eq!(store.inbox("acme").expect("read").len(), 1);
        assert_eq!(store.backfill_inbox().expect("once"), 0, "once per database");

        conversation.conversation.status = Status::Bot;
        store.commit_turn("acme", &turn(&conversation)).expect("committed");
        assert!(store.inbox("acme").expect("read").is_empty(), "handed back: no longer waiting");
    }
}
