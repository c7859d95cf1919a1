//! Sending replies back through the providers, from a durable outbox.
//!
//! A turn on a provider channel commits its replies as outbox entries in the
//! same atomic write as the turn itself, so a reply is never lost between
//! deciding it and sending it. The delivery worker sends entries in order,
//! rendering each for its provider (`render.rs`) and posting it
//! (`client.rs`). A success removes the entry and records `message.delivered`;
//! a failure is retried with exponential backoff and jitter, and a refusal
//! the provider will repeat (a 4xx other than 429) or the last attempt
//! records `message.failed`.
//!
//! Every send connects through the runtime's outbound policy
//! (`switchboard_runtime::OutboundPolicy`, the one plugins' HTTP uses): an
//! `api_base` or handoff webhook that resolves to loopback, a private or a
//! link-local address is refused before any connection, unless the operator
//! allowed it, and the tenant reads only `destination not allowed`.
//!
//! An entry is removed only after the provider accepted it, so a crash
//! between the two sends it again on restart: delivery is at least once. The
//! entry's sequence number goes with it as an idempotency key
//! (`Idempotency-Key`), for providers and proxies that honour one.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use switchboard_core::contract::{Channel, QuickReply};
use switchboard_core::conversation::{Effects, OutsideWindow};
use switchboard_core::event::{DomainEvent, EventBody};
use switchboard_store::StoredConversation;

use crate::engine::{Engine, channel_name};
use crate::tenant::Tenant;

mod client;
mod render;

pub use client::{Client, NOT_ALLOWED, UNREACHABLE};

/// Attempts before a reply is given up on.
const MAX_ATTEMPTS: u32 = 6;

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
}

/// The outbox entries a turn becomes: its replies, on provider channels the
/// tenant can send on, and its handoff cards, if the tenant has a webhook.
pub(crate) fn outbox_entries(
    tenant: &Tenant,
    stored: &StoredConversation,
    effects: &Effects,
) -> Vec<Vec<u8>> {
    let conversation = &stored.conversation;
    let mut entries = Vec::new();
    let prefix = format!("{}:", channel_name(conversation.channel));
    let to = conversation.contact.id.strip_prefix(&prefix);
    if let Some(to) = to.filter(|_| can_send(tenant, conversation.channel)) {
        entries.extend(effects.outbound.iter().map(|reply| OutboxEntry {
            conversation: conversation.id.clone(),
            channel: conversation.channel,
            to: to.to_owned(),
            text: reply.text.clone(),
            quick_replies: reply.quick_replies.clone(),
            outside_window: reply.outside_window.clone(),
            handoff: None,
            attempts: 0,
            not_before: 0,
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
        }));
    }
    entries.iter().filter_map(|entry| serde_json::to_vec(entry).ok()).collect()
}

fn can_send(tenant: &Tenant, channel: Channel) -> bool {
    let channels = &tenant.channels;
    match channel {
        Channel::Whatsapp => channels
            .whatsapp
            .as_ref()
            .is_some_and(|c| c.access_token.is_some() && c.phone_number_id.is_some()),
        Channel::Messenger => channels.messenger.as_ref().is_some_and(|c| c.access_token.is_some()),
        Channel::Instagram => channels.instagram.as_ref().is_some_and(|c| c.access_token.is_some()),
        Channel::Telegram => channels.telegram.as_ref().is_some_and(|c| c.bot_token.is_some()),
        Channel::Webchat | Channel::Internal => false,
    }
}

/// Run the delivery worker until the process ends.
pub async fn run(engine: Arc<Engine>) {
    let client = match Client::new(switchboard_runtime::OutboundPolicy::installed()) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "no TLS client: replies stay in the outbox");
            return;
        }
    };
    loop {
        let mut sent_any = false;
        for tenant in engine.tenant_names() {
            let now = jiff::Timestamp::now().as_millisecond();
            match deliver_due(&engine, &client, &tenant, now).await {
                Ok(sent) => sent_any |= sent > 0,
                Err(error) => tracing::error!(tenant, %error, "outbox delivery failed"),
            }
        }
        if !sent_any {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Send what is due for one tenant at `now` (Unix ms); how many entries were settled.
pub async fn deliver_due(
    engine: &Arc<Engine>,
    client: &Client,
    tenant_name: &str,
    now: i64,
) -> anyhow::Result<usize> {
    let tenant = engine.tenant(tenant_name)?;
    let store = engine.store().clone();
    let name = tenant_name.to_owned();
    let entries = tokio::task::spawn_blocking(move || store.outbox(&name, 64)).await??;
    let mut settled = 0;
    let mut blocked = std::collections::HashSet::new();
    for (seq, bytes) in entries {
        let mut entry: OutboxEntry = serde_json::from_slice(&bytes)?;
        // Replies of one conversation go out in order: a later one waits for an earlier retry.
        if entry.not_before > now || blocked.contains(&entry.conversation) {
            blocked.insert(entry.conversation.clone());
            continue;
        }
        let Some(request) = render::request(&tenant, &entry, seq) else {
            blocked.insert(entry.conversation.clone());
            continue;
        };
        entry.attempts += 1;
        let outcome = client.post(request).await;
        let (retry, body) = match outcome {
            Ok(provider_id) => (
                None,
                EventBody::MessageDelivered {
                    text: entry.text.clone(),
                    attempts: entry.attempts,
                    provider_id,
                },
            ),
            Err(failure) => {
                let gave_up = !failure.retryable || entry.attempts >= MAX_ATTEMPTS;
                tracing::warn!(tenant = tenant_name, conversation = %entry.conversation, attempts = entry.attempts, gave_up, reason = %failure.reason, "send failed: {}", failure.detail);
                let event = EventBody::MessageFailed {
                    text: entry.text.clone(),
                    attempts: entry.attempts,
                    reason: failure.reason,
                    gave_up,
                };
                if gave_up {
                    (None, event)
                } else {
                    entry.not_before = now + backoff_ms(entry.attempts, seq);
                    blocked.insert(entry.conversation.clone());
                    (Some(serde_json::to_vec(&entry)?), event)
                }
            }
        };
        let outcome = match (&body, &retry) {
            (EventBody::MessageDelivered { .. }, _) => "delivered",
            (_, Some(_)) => "retrying",
            _ => "failed",
        };
        crate::telemetry::delivery(tenant_name, &channel_name(entry.channel), outcome);
        let event = DomainEvent {
            at: now,
            tenant: tenant_name.to_owned(),
            conversation: entry.conversation.clone(),
            channel: entry.channel,
            body,
        };
        let store = engine.store().clone();
        let name = tenant_name.to_owned();
        tokio::task::spawn_blocking(move || store.settle_outbox(&name, seq, retry.as_deref(), &[event]))
            .await??;
        settled += 1;
    }
    Ok(settled)
}

/// 0.5 s, 1 s, 2 s, … capped at a minute, plus up to 25% jitter so retries of
/// many entries do not arrive in step.
fn backoff_ms(attempts: u32, seed: u64) -> i64 {
    let base = 500_i64.saturating_mul(1 << attempts.saturating_sub(1).min(7)).min(60_000);
    let jitter = (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 33) as i64 % (base / 4 + 1);
    base + jitter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        assert!((500..=625).contains(&backoff_ms(1, 7)));
        assert!((1_000..=1_250).contains(&backoff_ms(2, 7)));
        assert!((60_000..=75_000).contains(&backoff_ms(30, 7)));
        assert_ne!(backoff_ms(3, 1), backoff_ms(3, 2), "different entries spread out");
    }
}
