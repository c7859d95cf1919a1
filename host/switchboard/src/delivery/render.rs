//! One outbox entry as the request that sends it: a handoff card to the
//! tenant's own webhook, signed, or a reply through its channel's provider
//! (`crate::channels`, which owns each send API's shape). Every request
//! carries the entry's idempotency key.

use crate::channels::{self, Outgoing};
use crate::tenant::Tenant;

use super::OutboxEntry;

pub use crate::channels::Request;

/// `None` when the tenant cannot send on this channel (any more).
pub fn request(tenant: &Tenant, entry: &OutboxEntry, seq: u64) -> Option<Request> {
    let idempotency = ("idempotency-key".to_owned(), format!("{}-{seq}", tenant.name));
    if let Some(card) = &entry.handoff {
        let hook = tenant.handoff_webhook.as_ref()?;
        let signature = ("x-switchboard-signature".to_owned(), sign(&hook.secret, &card.to_string()));
        return Some(Request {
            url: hook.url.clone(),
            headers: vec![signature, idempotency],
            body: card.clone(),
        });
    }
    let mut request = channels::provider(entry.channel).request(&tenant.channels, &outgoing(entry))?;
    request.headers.push(idempotency);
    Some(request)
}

/// The reply an entry holds, as a provider sends it.
fn outgoing(entry: &OutboxEntry) -> Outgoing<'_> {
    Outgoing {
        to: &entry.to,
        text: &entry.text,
        quick_replies: &entry.quick_replies,
        outside_window: entry.outside_window.as_ref(),
    }
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`, over the exact bytes sent
/// (the client sends `body.to_string()`).
fn sign(secret: &str, body: &str) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else { return String::new() };
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}
