//! Sends paced to what each provider accepts, so a busy tenant meets its
//! provider's limit as a short wait here rather than as 429s and retries.
//!
//! The rates are each provider's own ([`crate::channels::Rate`], in its
//! module's limits): per sending account (WhatsApp's number, Telegram's bot,
//! a Meta page) and, where the provider has one, per recipient (Telegram's
//! chat). Keys include the tenant, so a tenant that names another's number
//! or bot slows only itself.

use std::collections::HashMap;
use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use switchboard_core::contract::Channel;

use super::OutboxEntry;
use crate::channels;
use crate::tenant::Tenant;

/// Keyed rate limiters, per channel that has a rate.
#[derive(Debug)]
pub struct Pace {
    /// Keyed by (tenant, sender).
    senders: HashMap<Channel, DefaultKeyedRateLimiter<(String, String)>>,
    /// Keyed by (tenant, recipient), for channels with a per-recipient rate.
    recipients: HashMap<Channel, DefaultKeyedRateLimiter<(String, String)>>,
}

/// Which limits one send counts against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// A handoff card to the tenant's own webhook, or a channel without a
    /// rate: not paced.
    Unpaced,
    Paced {
        channel: Channel,
        /// (tenant, the account it sends from: [`channels::Provider::sender`]).
        sender: (String, String),
        /// (tenant, the customer's id on the channel).
        recipient: (String, String),
    },
}

/// Recipients remembered per channel before the quiet ones are forgotten.
const RECIPIENTS_KEPT: usize = 10_000;

impl Default for Pace {
    fn default() -> Self {
        let rate = |per_second: u32| NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        let mut pace = Self { senders: HashMap::new(), recipients: HashMap::new() };
        for channel in Channel::ALL {
            let Some(limit) = channels::provider(channel).limits().rate else { continue };
            pace.senders.insert(channel, RateLimiter::keyed(Quota::per_second(rate(limit.per_sender))));
            if let Some(recipient) = limit.per_recipient {
                let quota = Quota::per_second(rate(recipient.per_second)).allow_burst(rate(recipient.burst));
                pace.recipients.insert(channel, RateLimiter::keyed(quota));
            }
        }
        pace
    }
}

impl Pace {
    /// The limits `entry` counts against.
    pub fn key(&self, tenant: &Tenant, entry: &OutboxEntry) -> Key {
        if entry.handoff.is_some() || !self.senders.contains_key(&entry.channel) {
            return Key::Unpaced;
        }
        let sender = channels::provider(entry.channel).sender(&tenant.channels);
        Key::Paced {
            channel: entry.channel,
            sender: (tenant.name.clone(), sender),
            recipient: (tenant.name.clone(), entry.to.clone()),
        }
    }

    /// Wait until a send under `key` keeps within every limit it counts against.
    pub async fn wait(&self, key: &Key) {
        let Key::Paced { channel, sender, recipient } = key else { return };
        if let Some(recipients) = self.recipients.get(channel) {
            recipients.until_key_ready(recipient).await;
            if recipients.len() > RECIPIENTS_KEPT {
                // Recipients quiet for a while need no state.
                recipients.retain_recent();
            }
        }
        if let Some(senders) = self.senders.get(channel) {
            senders.until_key_ready(sender).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_channel_with_a_rate_is_paced_and_no_other() {
        let pace = Pace::default();
        for channel in Channel::ALL {
            let rate = channels::provider(channel).limits().rate;
            assert_eq!(pace.senders.contains_key(&channel), rate.is_some(), "{channel}");
            let per_recipient = rate.and_then(|rate| rate.per_recipient);
            assert_eq!(pace.recipients.contains_key(&channel), per_recipient.is_some(), "{channel}");
        }
        assert!(pace.recipients.contains_key(&Channel::Telegram), "Telegram paces each chat");
        assert!(!pace.senders.contains_key(&Channel::Webchat));
    }

    #[tokio::test]
    async fn an_unpaced_send_never_waits() {
        let pace = Pace::default();
        for _ in 0..1_000 {
            pace.wait(&Key::Unpaced).await;
        }
    }
}
