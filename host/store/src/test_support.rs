//! What the store's unit tests share.

use std::collections::{BTreeMap, BTreeSet};

use switchboard_core::contract::{Channel, Contact};
use switchboard_core::conversation::Conversation;
use switchboard_core::flow::Flow;

use crate::StoredConversation;

/// A flow of one intent, enough to start conversations with.
pub(crate) fn flow() -> Flow {
    let source = "version = \"v1\"\ndefault_locale = \"en\"\nmenu.en = \"Hi\"\n\
                  [[intents]]\nname = \"ask\"\ntitle.en = \"Ask\"\ntriggers.en = [\"ask\"]\n\
                  [intents.done]\nreply.en = \"Done.\"\nstate = \"resolved\"\n";
    Flow::parse("flow.toml", source, &BTreeSet::new()).expect("flow")
}

/// A new Telegram conversation of `acme`, started at 0.
#[cfg(test)]
pub(crate) fn stored(id: &str, flow: &Flow) -> StoredConversation {
    stored_in("acme", id, flow)
}

/// A new Telegram conversation of `tenant`, started at 0.
pub(crate) fn stored_in(tenant: &str, id: &str, flow: &Flow) -> StoredConversation {
    let contact = Contact { id: id.into(), display_name: None, locale: "en".into() };
    StoredConversation::new(
        Conversation::new(id, tenant, Channel::Telegram, contact, flow, 0),
        BTreeMap::new(),
    )
}
