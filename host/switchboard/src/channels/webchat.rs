//! Web chat: the widget's WebSocket session (`server/api/socket.rs`) is both
//! its inbound and its outbound, so it has no credentials, webhook or send
//! API, and its replies reach the customer live rather than through the
//! outbox. Its provider exists so the registry covers every channel.

use switchboard_core::contract::Channel;

use super::{Limits, Provider};

/// Nothing the host does not already cap: a message's length is the API's
/// (`MAX_MESSAGE_CHARS`), buttons are the widget's to lay out.
pub(super) const LIMITS: Limits =
    Limits { text_chars: None, buttons: None, button_title_chars: None, rate: None };

pub(super) struct Webchat;

impl Provider for Webchat {
    fn channel(&self) -> Channel {
        Channel::Webchat
    }

    fn limits(&self) -> Limits {
        LIMITS
    }
}
