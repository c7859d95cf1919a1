//! One customer across channels: which conversation an identity
//! continues, links by a verified phone or email or by an agent, and
//! provider receipts recorded where their identity leads.

use switchboard_core::contract::{Channel, Identity, Value};
use switchboard_core::conversation::{Conversation, Effects};
use switchboard_core::event::{DomainEvent, EventBody};
use switchboard_core::flow::{FieldKind, Flow};
use switchboard_store::Committed;

use super::{Engine, EngineError};

impl Engine {
    /// The same phone or email verified by two conversations is one
    /// customer: the later identity continues the earlier conversation.
    pub(super) fn link_by_contact_point(
        &self,
        conversation: &Conversation,
        kind: &str,
        value: &str,
        now: i64,
    ) -> Result<(), EngineError> {
        let tenant = &conversation.tenant;
        let owner = self.store.claim_contact_point(tenant, kind, value, &conversation.id)?;
        if owner == conversation.id || self.store.conversation(tenant, &owner)?.is_none() {
            return Ok(());
        }
        let identity = &conversation.contact.id;
        let linked = EventBody::ContactLinked {
            identity: identity.clone(),
            conversation: owner.clone(),
            by: kind.to_owned(),
        };
        let event = conversation.event(now, linked);
        let in_owner = DomainEvent { conversation: owner.clone(), ..event.clone() };
        self.store.link_identity(tenant, identity, &owner, &[event, in_owner])?;
        Ok(())
    }

    /// The conversation an identity (`telegram:42`) continues: its own,
    /// unless it was linked to one this customer started elsewhere.
    pub(super) fn conversation_of(&self, tenant: &str, identity: &str) -> Result<String, EngineError> {
        Ok(self.store.linked_conversation(tenant, identity)?.unwrap_or_else(|| identity.to_owned()))
    }

    /// Link a channel identity to a conversation (an agent's explicit link,
    /// or WhatsApp's `user_changed_number`): its messages continue there.
    pub fn link_identity(
        &self,
        tenant: &str,
        identity: &str,
        conversation: &str,
        by: &str,
        now: i64,
    ) -> Result<(), EngineError> {
        self.tenant(tenant)?;
        let target = self.conversation_of(tenant, conversation)?;
        let Some(stored) = self.store.conversation(tenant, &target)? else {
            return Err(EngineError::UnknownConversation { tenant: tenant.to_owned(), conversation: target });
        };
        let linked = EventBody::ContactLinked {
            identity: identity.to_owned(),
            conversation: target.clone(),
            by: by.to_owned(),
        };
        let event = stored.conversation.event(now, linked);
        self.store.link_identity(tenant, identity, &target, &[event])?;
        Ok(())
    }

    /// Record a provider's receipt for a message sent to `recipient` on
    /// `channel`, in the conversation that identity continues; receipts for
    /// unknown conversations are ignored. A
    /// provider's retry of the same receipt is recorded once.
    pub fn record_status(
        &self,
        tenant: &str,
        channel: Channel,
        recipient: &str,
        body: EventBody,
        dedupe_id: &str,
        now: i64,
    ) -> Result<bool, EngineError> {
        self.tenant(tenant)?;
        let identity = Identity::new(channel, recipient).to_string();
        let conversation = self.conversation_of(tenant, &identity)?;
        let Some(stored) = self.store.conversation(tenant, &conversation)? else { return Ok(false) };
        let event = stored.conversation.event(now, body);
        let written = self.store.append_events(
            tenant,
            std::slice::from_ref(&event),
            Some((channel.as_str(), dedupe_id)),
        )?;
        if written == Committed::Written {
            crate::telemetry::events(tenant, &[event]);
        }
        Ok(written == Committed::Written)
    }
}

/// The phone numbers and email addresses a turn collected (validated by
/// their field's checks), as `(kind, value)`.
pub(super) fn verified_contact_points(flow: &Flow, effects: &Effects) -> Vec<(&'static str, String)> {
    effects
        .events
        .iter()
        .filter_map(|event| {
            let EventBody::FieldCollected { field, value: Value::Text(value) } = &event.body else {
                return None;
            };
            let spec = flow.intents.iter().find_map(|intent| intent.field(field))?;
            match spec.kind {
                FieldKind::Phone => Some(("phone", value.clone())),
                FieldKind::Email => Some(("email", value.to_lowercase())),
                _ => None,
            }
        })
        .collect()
}
