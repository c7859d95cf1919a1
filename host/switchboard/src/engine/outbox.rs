//! What a turn leaves for delivery: its replies on provider channels the
//! tenant can send on, and its handoff cards, if the tenant has a webhook.
//!
//! The entries are a pure function of the turn, committed in the turn's own
//! atomic write. Delivery (`crate::delivery`) reads them back from the store
//! and never calls into the engine's turn path; the engine only tells it
//! which tenants have something new ([`OutboxSignal`]), the way it hands web
//! chat replies to open sessions.

use std::collections::HashSet;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use switchboard_core::contract::{Channel, Identity, QuickReply};
use switchboard_core::conversation::{Conversation, Effects, MESSAGING_WINDOW_MS, OutsideWindow};
use switchboard_core::event::{DomainEvent, EventBody};
use switchboard_store::StoredConversation;

use super::{Engine, EngineError};
use crate::tenant::Tenant;

/// One reply waiting for its provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub conversation: String,
    pub channel: Channel,
    /// The customer's id on the channel (phone number, PSID, chat id).
    pub to: String,
    pub text: String,
    #[serde(default)]
    pub quick_replies: Vec<QuickReply>,
    /// How to send once the channel's 24 h window has closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outside_window: Option<OutsideWindow>,
    /// Set for a handoff card bound for the tenant's own webhook rather than
    /// a reply to the customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff: Option<serde_json::Value>,
    #[serde(default)]
    pub attempts: u32,
    /// Unix milliseconds before which it is not tried again.
    #[serde(default)]
    pub not_before: i64,
    /// Unix milliseconds of the last attempt (0: never tried).
    #[serde(default)]
    pub last_tried: i64,
    /// Unix milliseconds at which the channel's messaging window closes for
    /// this reply: a plain reply the provider has not accepted by then can
    /// only go out on the template or tag path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_until: Option<i64>,
    /// The conversation's language, for a template sent after the window.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub locale: String,
    /// Why delivery set it aside, while it is parked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parked_because: Option<String>,
    /// Not a reply to the conversation's customer: a one-time code to the
    /// phone on record, a notice to a staff member, a handoff card for the
    /// tenant's webhook. Delivery records no event when it is sent (it is no
    /// response to the customer) and never its text.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub private: bool,
}

impl OutboxEntry {
    /// The text delivery events may record.
    pub fn logged_text(&self) -> String {
        if self.private { PRIVATE_TEXT.to_owned() } else { self.text.clone() }
    }
}

/// What events say in place of a private entry's text.
pub const PRIVATE_TEXT: &str = "(private: a one-time code, a notice to staff or a handoff card)";

/// A message to a staff member on their own channel, about a conversation
/// (`staff_channels.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Notice {
    pub channel: Channel,
    /// Their id on the channel.
    pub to: String,
    pub text: String,
    pub quick_replies: Vec<QuickReply>,
}

/// The outbox entries a turn becomes, encoded for the store: its replies,
/// its handoff cards for the tenant's webhook, and its notices to staff.
pub(crate) fn entries(
    tenant: &Tenant,
    stored: &StoredConversation,
    effects: &Effects,
    notices: &[Notice],
) -> Vec<Vec<u8>> {
    let conversation = &stored.conversation;
    let mut entries = Vec::new();
    let to = Identity::id_on(&conversation.contact.id, conversation.channel);
    let windowed = crate::channels::provider(conversation.channel).messaging_window();
    // A template needs a language: the conversation's, else the flow's.
    let locale = if conversation.locale().is_empty() {
        tenant.flow.default_locale.as_str()
    } else {
        conversation.locale()
    };
    if let Some(to) = to.filter(|_| can_send(tenant, conversation.channel)) {
        let replies = effects.outbound.iter().filter(|reply| reply.to.is_none());
        entries.extend(replies.map(|reply| OutboxEntry {
            conversation: conversation.id.clone(),
            channel: conversation.channel,
            to: to.to_owned(),
            text: reply.text.clone(),
            quick_replies: reply.quick_replies.clone(),
            outside_window: reply.outside_window.clone(),
            handoff: None,
            attempts: 0,
            not_before: 0,
            last_tried: 0,
            window_until: (windowed && reply.outside_window.is_none()).then(|| window_until(conversation)),
            locale: locale.to_owned(),
            parked_because: None,
            private: false,
        }));
    }
    if tenant.handoff_webhook.is_some() {
        let cards = effects.events.iter().filter_map(|event| match &event.body {
            EventBody::HandoffRequested { card } => Some(serde_json::json!({
                "tenant": event.tenant, "conversation": event.conversation, "at": event.at, "card": card,
            })),
            _ => None,
        });
        entries.extend(cards.map(|card| OutboxEntry {
            conversation: conversation.id.clone(),
            channel: conversation.channel,
            to: String::new(),
            text: "handoff card".to_owned(),
            quick_replies: Vec::new(),
            outside_window: None,
            handoff: Some(card),
            attempts: 0,
            not_before: 0,
            last_tried: 0,
            window_until: None,
            locale: String::new(),
            parked_because: None,
            private: true,
        }));
    }
    // Messages for another identity than the customer's: a one-time code to
    // the phone on record, notices to staff. Outside this conversation's
    // window, and private.
    let to_others = effects.outbound.iter().filter_map(|reply| {
        let identity = Identity::parse(reply.to.as_deref()?)?;
        Some(Notice {
            channel: identity.channel,
            to: identity.id,
            text: reply.text.clone(),
            quick_replies: Vec::new(),
        })
    });
    for notice in to_others.chain(notices.iter().cloned()) {
        if !can_send(tenant, notice.channel) {
            tracing::warn!(tenant = %tenant.name, channel = notice.channel.as_str(), "a message to another identity cannot be sent: no credentials for its channel");
            continue;
        }
        entries.push(OutboxEntry {
            conversation: conversation.id.clone(),
            channel: notice.channel,
            to: notice.to,
            text: notice.text,
            quick_replies: notice.quick_replies,
            outside_window: None,
            handoff: None,
            attempts: 0,
            not_before: 0,
            last_tried: 0,
            // The recipient's own window is not this conversation's.
            window_until: None,
            locale: locale.to_owned(),
            parked_because: None,
            private: true,
        });
    }
    entries.iter().filter_map(|entry| serde_json::to_vec(entry).ok()).collect()
}

/// Whether the tenant has the credentials to send on `channel`.
pub fn can_send(tenant: &Tenant, channel: Channel) -> bool {
    crate::channels::provider(channel).can_send(&tenant.channels)
}

/// The tenants whose outbox gained entries since delivery last looked.
#[derive(Debug, Default)]
pub(crate) struct OutboxSignal {
    dirty: Mutex<HashSet<String>>,
    notify: tokio::sync::Notify,
}

impl OutboxSignal {
    pub(crate) fn mark(&self, tenant: &str) {
        let mut dirty = self.dirty.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !dirty.contains(tenant) {
            dirty.insert(tenant.to_owned());
        }
        drop(dirty);
        self.notify.notify_one();
    }

    /// Wait until some tenant has new entries, and take the set.
    pub(crate) async fn changed(&self) -> HashSet<String> {
        loop {
            let taken =
                std::mem::take(&mut *self.dirty.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
            if !taken.is_empty() {
                return taken;
            }
            self.notify.notified().await;
        }
    }
}

/// The outbox as delivery sees it. Every read is of entries on disk, so a
/// reply never goes out for a turn a crash could still undo.
impl Engine {
    /// Up to `limit` of a tenant's outbox entries after sequence number
    /// `after`, oldest first. An entry that no longer decodes is logged and
    /// left where it is; the page still moves past it.
    pub fn outbox(&self, tenant: &str, after: Option<u64>, limit: usize) -> Result<OutboxPage, EngineError> {
        Ok(decode(tenant, self.store.outbox_after(tenant, after, limit)?))
    }

    /// Claim a conversation's delivery lane for `lease`, renewing a claim
    /// this node holds: `false` while another node sends its replies.
    pub fn claim_lane(
        &self,
        tenant: &str,
        lane: &str,
        lease: std::time::Duration,
    ) -> Result<bool, EngineError> {
        Ok(self.store.claim_lane(tenant, lane, lease)?)
    }

    pub fn release_lane(&self, tenant: &str, lane: &str) -> Result<(), EngineError> {
        Ok(self.store.release_lane(tenant, lane)?)
    }

    /// Whether the outbox still holds entry `seq` (another node may have
    /// sent and settled it since it was read).
    pub fn outbox_holds(&self, tenant: &str, seq: u64) -> Result<bool, EngineError> {
        let first = self.store.outbox_after(tenant, seq.checked_sub(1), 1)?;
        Ok(first.first().is_some_and(|(found, _)| *found == seq))
    }

    /// Whether other nodes share the store, so their outbox entries are
    /// found by looking rather than by being told.
    pub fn store_is_shared(&self) -> bool {
        self.store.shared()
    }

    /// Settle an entry: `retry` replaces it (a later attempt), `None`
    /// removes it (sent, or refused for good), with the events that say so.
    /// An entry gone meanwhile (its tenant removed) is left gone.
    pub fn settle_outbox(
        &self,
        tenant: &str,
        seq: u64,
        retry: Option<&OutboxEntry>,
        events: &[DomainEvent],
    ) -> Result<(), EngineError> {
        let retry = retry.map(serde_json::to_vec).transpose().map_err(encoding)?;
        self.store.settle_outbox(tenant, seq, retry.as_deref(), events)?;
        crate::telemetry::events(tenant, events);
        Ok(())
    }

    /// Set aside an entry that cannot be sent as it is, with the event that
    /// says why: it waits in the parked list for [`Engine::redrive_parked`].
    pub fn park_outbox(
        &self,
        tenant: &str,
        seq: u64,
        entry: &OutboxEntry,
        events: &[DomainEvent],
    ) -> Result<(), EngineError> {
        let bytes = serde_json::to_vec(entry).map_err(encoding)?;
        self.store.park_outbox(tenant, seq, &bytes, events)?;
        crate::telemetry::events(tenant, events);
        Ok(())
    }

    /// Up to `limit` parked entries after sequence number `after`, oldest first.
    pub fn parked_outbox(
        &self,
        tenant: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<OutboxPage, EngineError> {
        self.tenant(tenant)?;
        Ok(decode(tenant, self.store.parked_outbox(tenant, after, limit)?))
    }

    /// Put every parked entry of a tenant back in its outbox, in its old
    /// place, to be tried at once; how many went back. A re-driven reply
    /// goes after any of its conversation's replies sent while it was
    /// parked: parking takes it out of its conversation's order.
    pub fn redrive_parked(&self, tenant: &str) -> Result<usize, EngineError> {
        self.tenant(tenant)?;
        let reset = |bytes: &[u8]| {
            let Ok(mut entry) = serde_json::from_slice::<OutboxEntry>(bytes) else { return bytes.to_vec() };
            entry.not_before = 0;
            entry.attempts = 0;
            entry.parked_because = None;
            // The customer may have written since: the window is theirs now.
            if entry.window_until.is_some()
                && let Ok(Some(stored)) = self.store.conversation(tenant, &entry.conversation)
            {
                entry.window_until = Some(window_until(&stored.conversation));
            }
            serde_json::to_vec(&entry).unwrap_or_else(|_| bytes.to_vec())
        };
        let moved = self.store.redrive_parked(tenant, &reset)?;
        if moved > 0 {
            self.outbox.mark(tenant);
        }
        Ok(moved)
    }
}

/// A page of outbox (or parked) entries.
#[derive(Debug, Default)]
pub struct OutboxPage {
    pub entries: Vec<(u64, OutboxEntry)>,
    /// The last sequence number read, decoded or not: where the next page
    /// starts. `None` when nothing was read.
    pub last: Option<u64>,
    /// How many were read, decoded or not (a full page means there may be more).
    pub read: usize,
}

fn decode(tenant: &str, page: Vec<(u64, Vec<u8>)>) -> OutboxPage {
    let (last, read) = (page.last().map(|(seq, _)| *seq), page.len());
    let entries = page
        .into_iter()
        .filter_map(|(seq, bytes)| match serde_json::from_slice(&bytes) {
            Ok(entry) => Some((seq, entry)),
            Err(error) => {
                tracing::error!(tenant, seq, %error, "an outbox entry does not decode; it stays where it is");
                None
            }
        })
        .collect();
    OutboxPage { entries, last, read }
}

/// When the conversation's messaging window closes.
fn window_until(conversation: &Conversation) -> i64 {
    let last_customer = if conversation.last_customer_at == 0 {
        conversation.started_at
    } else {
        conversation.last_customer_at
    };
    last_customer.saturating_add(MESSAGING_WINDOW_MS)
}

fn encoding(error: serde_json::Error) -> EngineError {
    EngineError::Store(switchboard_store::StoreError::Decode {
        key: "an outbox entry".to_owned(),
        source: error,
    })
}
