//! Every key layout in the store, so isolation can be reviewed in one file.

/// `t/{tenant}/`: the prefix all of one tenant's keys share.
pub(crate) fn tenant_prefix(tenant: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(tenant.len() + 3);
    key.extend_from_slice(b"t/");
    push_segment(&mut key, tenant);
    key
}

/// `t/{tenant}/kv/{plugin}/{key}`.
pub(crate) fn plugin_state(tenant: &str, plugin: &str, key: &str) -> Vec<u8> {
    let mut full = tenant_prefix(tenant);
    full.extend_from_slice(b"kv/");
    push_segment(&mut full, plugin);
    full.extend_from_slice(key.as_bytes());
    full
}

/// `t/{tenant}/c/{conversation}`: a conversation's state.
pub(crate) fn conversation(tenant: &str, conversation: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(b"c/");
    push_segment(&mut key, conversation);
    key
}

/// `t/{tenant}/e/{seq}`: the tenant's event log, in order.
pub(crate) fn tenant_event(tenant: &str, seq: u64) -> Vec<u8> {
    let mut key = tenant_events(tenant);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

pub(crate) fn tenant_events(tenant: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(b"e/");
    key
}

/// `t/{tenant}/ce/{conversation}/{seq}`: one conversation's events (its transcript).
pub(crate) fn conversation_event(tenant: &str, conversation: &str, seq: u64) -> Vec<u8> {
    let mut key = conversation_events(tenant, conversation);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

pub(crate) fn conversation_events(tenant: &str, conversation: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(b"ce/");
    push_segment(&mut key, conversation);
    key
}

/// `t/{tenant}/in/{channel}/{message id}`: inbound messages already handled.
pub(crate) fn inbound(tenant: &str, channel: &str, message_id: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(b"in/");
    push_segment(&mut key, channel);
    key.extend_from_slice(message_id.as_bytes());
    key
}

/// `t/{tenant}/f/{version}`: the blob hash of a flow version's source.
pub(crate) fn flow(tenant: &str, version: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(b"f/");
    key.extend_from_slice(version.as_bytes());
    key
}

/// `t/{tenant}/o/{seq}`: replies waiting to be sent to a provider.
pub(crate) fn outbox(tenant: &str, seq: u64) -> Vec<u8> {
    let mut key = outbox_prefix(tenant);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

pub(crate) fn outbox_prefix(tenant: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(b"o/");
    key
}

/// The sequence number that ends a key built as `prefix` + big-endian `u64`.
pub(crate) fn seq_after(prefix: &[u8], key: &[u8]) -> u64 {
    key.get(prefix.len()..).and_then(|tail| tail.try_into().ok()).map_or(0, u64::from_be_bytes)
}

/// Segments are length-prefixed, so a tenant called `a/kv` can never produce
/// a key that another tenant's prefix matches.
fn push_segment(key: &mut Vec<u8>, segment: &str) {
    key.extend_from_slice(&(segment.len() as u32).to_be_bytes());
    key.extend_from_slice(segment.as_bytes());
    key.push(b'/');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_tenants_keys_never_fall_under_anothers_prefix() {
        let sneaky = plugin_state("a/kv", "x", "y");
        assert!(!sneaky.starts_with(&tenant_prefix("a")));
        assert!(plugin_state("a", "p", "k").starts_with(&tenant_prefix("a")));
    }
}
