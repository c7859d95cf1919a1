//! Sends paced to what each provider accepts, so a busy tenant meets its
//! provider's limit as a short wait here rather than as 429s and retries.
//!
//! The limits are the providers' documented defaults: WhatsApp Cloud API 80
//! messages/s per sending number, Telegram 30 messages/s per bot and about
//! one per second per chat (with a short burst), and the Messenger Platform
//! a few hundred calls/s per page. Keys include the tenant, so a tenant that
//! names another's number or bot slows only itself.

use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use switchboard_core::contract::Channel;

use super::OutboxEntry;
use crate::tenant::Tenant;

/// WhatsApp Cloud API: messages per second per sending number.
pub const WHATSAPP_PER_NUMBER: u32 = 80;
/// Telegram Bot API: messages per second per bot.
pub const TELEGRAM_PER_BOT: u32 = 30;
/// Meta Send API (Messenger, Instagram): calls per second per page.
pub const META_PER_PAGE: u32 = 250;

/// Keyed rate limiters, one per kind of sender.
#[derive(Debug)]
pub struct Pace {
    whatsapp: DefaultKeyedRateLimiter<(String, String)>,
    telegram_bot: DefaultKeyedRateLimiter<String>,
    telegram_chat: DefaultKeyedRateLimiter<(String, String)>,
    meta: DefaultKeyedRateLimiter<(String, Channel)>,
}

/// Which limits one send counts against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// A handoff card to the tenant's own webhook: not paced.
    Unpaced,
    /// (tenant, phone number id).
    Whatsapp((String, String)),
    /// Tenant and chat id.
    Telegram { tenant: String, chat: String },
    /// (tenant, channel): the tenant's page.
    Meta(String, Channel),
}

impl Default for Pace {
    fn default() -> Self {
        let per_second = |rate: u32| Quota::per_second(NonZeroU32::new(rate).unwrap_or(NonZeroU32::MIN));
        let chat =
            Quota::per_second(NonZeroU32::MIN).allow_burst(NonZeroU32::new(3).unwrap_or(NonZeroU32::MIN));
        Self {
            whatsapp: RateLimiter::keyed(per_second(WHATSAPP_PER_NUMBER)),
            telegram_bot: RateLimiter::keyed(per_second(TELEGRAM_PER_BOT)),
            telegram_chat: RateLimiter::keyed(chat),
            meta: RateLimiter::keyed(per_second(META_PER_PAGE)),
        }
    }
}

impl Pace {
    /// The limits `entry` counts against.
    pub fn key(&self, tenant: &Tenant, entry: &OutboxEntry) -> Key {
        if entry.handoff.is_some() {
            return Key::Unpaced;
        }
        let name = tenant.name.clone();
        match entry.channel {
            Channel::Whatsapp => {
                let number =
                    tenant.channels.whatsapp.as_ref().and_then(|secrets| secrets.phone_number_id.clone());
                Key::Whatsapp((name, number.unwrap_or_default()))
            }
            Channel::Telegram => Key::Telegram { tenant: name, chat: entry.to.clone() },
            Channel::Messenger | Channel::Instagram => Key::Meta(name, entry.channel),
            Channel::Webchat | Channel::Internal => Key::Unpaced,
        }
    }

    /// Wait until a send under `key` keeps within every limit it counts against.
    pub async fn wait(&self, key: &Key) {
        match key {
            Key::Unpaced => {}
            Key::Whatsapp(number) => self.whatsapp.until_key_ready(number).await,
            Key::Telegram { tenant, chat } => {
                let chat_key = (tenant.clone(), chat.clone());
                self.telegram_chat.until_key_ready(&chat_key).await;
                self.telegram_bot.until_key_ready(tenant).await;
                if self.telegram_chat.len() > 10_000 {
                    // Chats quiet for a while need no state.
                    self.telegram_chat.retain_recent();
                }
            }
            Key::Meta(tenant, channel) => self.meta.until_key_ready(&(tenant.clone(), *channel)).await,
        }
    }
}
