//! One customer across channels: which conversation a channel identity
//! continues, and which conversation verified a phone number or email.
//!
//! A conversation is named by the identity that started it
//! (`whatsapp:37491000001`). When the same customer writes from another
//! identity, and the two are linked (the same phone or email verified in a
//! flow, an agent's explicit link, WhatsApp's `user_changed_number`), the
//! new identity points at the first conversation, so it continues there.

use switchboard_core::event::DomainEvent;

use crate::batch::Batch;
use crate::{Store, StoreError, keys};

impl Store {
    /// The conversation `identity` continues, if it was linked to one.
    pub fn linked_conversation(&self, tenant: &str, identity: &str) -> Result<Option<String>, StoreError> {
        let value = self.trees()?.turns.get(keys::identity(tenant, identity))?;
        Ok(value.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// From now on, messages from `identity` continue `conversation`; the
    /// link and the events that record it are written together.
    pub fn link_identity(
        &self,
        tenant: &str,
        identity: &str,
        conversation: &str,
        events: &[DomainEvent],
    ) -> Result<(), StoreError> {
        let mut batch = Batch::default();
        batch.insert(keys::identity(tenant, identity), conversation.as_bytes());
        self.stage_events(&mut batch, tenant, events)?;
        self.write(batch)
    }

    /// Record that `conversation` verified `value` (a `phone` or `email`),
    /// unless another conversation did first; the owner either way.
    pub fn claim_contact_point(
        &self,
        tenant: &str,
        kind: &str,
        value: &str,
        conversation: &str,
    ) -> Result<String, StoreError> {
        let key = keys::contact_point(tenant, kind, value);
        let previous = self.database.write(|trees| {
            trees.turns.compare_and_swap(&key, None as Option<&[u8]>, Some(conversation.as_bytes()))
        })?;
        match previous {
            Ok(()) => {
                self.durable()?;
                Ok(conversation.to_owned())
            }
            Err(current) => Ok(current
                .current
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .unwrap_or_default()),
        }
    }
}
