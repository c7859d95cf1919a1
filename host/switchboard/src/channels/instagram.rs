//! Instagram messaging, through Meta's Graph API: webhooks with
//! `object: instagram`, replies through the Send API (`/me/messages`), in
//! the format `meta.rs` shares with Messenger.

use std::collections::HashMap;

use http::HeaderMap;
use serde_json::Value;
use switchboard_core::contract::Channel;
use switchboard_core::conversation::OutsideWindow;

use super::meta;
use super::{ChannelSecrets, Delivery, Handshake, Limits, Outgoing, Provider, Rate, Request, WebhookError};

/// Instagram's documented limits: 1,000 characters of text, 13 quick
/// replies titled in 20, and the Send API's few hundred calls/s per
/// account (the tenant's account is its one sender).
pub(super) const LIMITS: Limits = Limits {
    text_chars: Some(1000),
    buttons: Some(meta::QUICK_REPLIES),
    button_title_chars: Some(meta::QUICK_REPLY_TITLE),
    rate: Some(Rate { per_sender: meta::SEND_API_PER_SECOND, per_recipient: None }),
};

pub(super) struct Instagram;

impl Provider for Instagram {
    fn channel(&self) -> Channel {
        Channel::Instagram
    }

    fn limits(&self) -> Limits {
        LIMITS
    }

    fn takes_credentials(&self) -> bool {
        true
    }

    fn configured(&self, secrets: &ChannelSecrets) -> bool {
        secrets.instagram.is_some()
    }

    fn put_secrets(&self, secrets: &mut ChannelSecrets, given: Value) -> Result<(), serde_json::Error> {
        meta::put(&mut secrets.instagram, given)
    }

    fn describe_secrets(&self, secrets: &ChannelSecrets) -> Option<Value> {
        secrets.instagram.as_ref().map(meta::describe)
    }

    fn has_webhook(&self) -> bool {
        true
    }

    fn handshake(&self, secrets: &ChannelSecrets, query: &HashMap<String, String>) -> Handshake {
        meta::handshake(secrets.instagram.as_ref(), query)
    }

    fn verify(&self, secrets: &ChannelSecrets, headers: &HeaderMap, body: &[u8]) -> Result<(), WebhookError> {
        meta::verify(secrets.instagram.as_ref(), headers, body)
    }

    fn parse(&self, body: &[u8]) -> Result<Delivery, WebhookError> {
        meta::parse(body, "instagram")
    }

    fn can_send(&self, secrets: &ChannelSecrets) -> bool {
        secrets.instagram.as_ref().is_some_and(|secrets| secrets.access_token.is_some())
    }

    fn request(&self, secrets: &ChannelSecrets, message: &Outgoing<'_>) -> Option<Request> {
        meta::send_api_request(secrets.instagram.as_ref()?, message)
    }

    fn messaging_window(&self) -> bool {
        true
    }

    /// A message tag.
    fn window_fallback(&self, secrets: &ChannelSecrets, _locale: &str) -> Option<OutsideWindow> {
        Some(OutsideWindow::Tag(secrets.instagram.as_ref()?.window_fallback.clone()?))
    }
}
