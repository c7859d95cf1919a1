//! The contract's `internal` channel, for conversations that reach no
//! customer through a provider (tests and tools use it). Nothing comes in
//! over a webhook and nothing goes out to a send API; its provider exists so
//! the registry covers every channel.

use switchboard_core::contract::Channel;

use super::{Limits, Provider};

pub(super) const LIMITS: Limits =
    Limits { text_chars: None, buttons: None, button_title_chars: None, rate: None };

pub(super) struct Internal;

impl Provider for Internal {
    fn channel(&self) -> Channel {
        Channel::Internal
    }

    fn limits(&self) -> Limits {
        LIMITS
    }
}
