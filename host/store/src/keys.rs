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

/// `t/{tenant}/kvusage`: how much plugin state the tenant keeps (`plugin_state.rs`).
pub(crate) fn kv_usage(tenant: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(b"kvusage");
    key
}

/// `t/{tenant}/qd/{day}`: a day's KPI tallies (`kpis.rs`); the day (in the
/// tenant's zone, since 1970) offset by 2^31 so keys sort as days do.
pub(crate) fn kpi_day(tenant: &str, day: i32) -> Vec<u8> {
    let mut key = kpi_days(tenant);
    key.extend_from_slice(&((i64::from(day) + (1 << 31)) as u32).to_be_bytes());
    key
}

pub(crate) fn kpi_days(tenant: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(b"qd/");
    key
}

/// The day a [`kpi_day`] key names.
pub(crate) fn kpi_day_of(prefix: &[u8], key: &[u8]) -> i32 {
    let offset = key.get(prefix.len()..).and_then(|tail| tail.try_into().ok()).map_or(0, u32::from_be_bytes);
    (i64::from(offset) - (1 << 31)) as i32
}

/// `t/{tenant}/qm/{conversation}`: what the KPI fold remembers of a conversation.
pub(crate) fn kpi_marks(tenant: &str, conversation: &str) -> Vec<u8> {
    let mut key = kpi_all_marks(tenant);
    push_segment(&mut key, conversation);
    key
}

pub(crate) fn kpi_all_marks(tenant: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(b"qm/");
    key
}

/// `t/{tenant}/qr`: a KPI rebuild's clearing in progress (`kpis.rs`).
pub(crate) fn kpi_rebuilding(tenant: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(b"qr");
    key
}

/// `t/{tenant}/qc`: the last event record the KPI fold took in.
pub(crate) fn kpi_checkpoint(tenant: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(b"qc");
    key
}

/// `t/{tenant}/n/{sequence}`: the last number a tenant's sequence gave
/// (`numbers.rs`), a big-endian u64.
pub(crate) fn number(tenant: &str, sequence: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(b"n/");
    push_segment(&mut key, sequence);
    key
}

/// `t/{tenant}/sf/{id}`: a staff member (`people.rs`).
pub(crate) fn staff(tenant: &str, id: &str) -> Vec<u8> {
    let mut key = staff_prefix(tenant);
    key.extend_from_slice(id.as_bytes());
    key
}

pub(crate) fn staff_prefix(tenant: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(b"sf/");
    key
}

/// `t/{tenant}/ih/{conversation}`: a conversation waiting for a person,
/// the inbox's index, kept by every turn (`conversations.rs`).
pub(crate) fn inbox(tenant: &str, conversation: &str) -> Vec<u8> {
    let mut key = inbox_prefix(tenant);
    key.extend_from_slice(conversation.as_bytes());
    key
}

pub(crate) fn inbox_prefix(tenant: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(b"ih/");
    key
}

/// `s/{token hash}`: a console session (`people.rs`); no tenant's prefix,
/// since a cookie names no tenant.
pub(crate) fn session(token_hash: &[u8; 32]) -> Vec<u8> {
    let mut key = SESSION_PREFIX.to_vec();
    key.extend_from_slice(token_hash);
    key
}

pub(crate) const SESSION_PREFIX: &[u8] = b"s/";

/// `v/inbox`: the inbox index was backfilled (`inbox.rs`).
pub(crate) const INBOX_INDEXED: &[u8] = b"v/inbox";
pub(crate) const LOGIN_LINK_PREFIX: &[u8] = b"l/";

/// `l/{token hash}`: a one-time console login link.
pub(crate) fn login_link(token_hash: &[u8; 32]) -> Vec<u8> {
    let mut key = LOGIN_LINK_PREFIX.to_vec();
    key.extend_from_slice(token_hash);
    key
}

/// `t/{tenant}/c/{conversation}`: a conversation's state.
pub(crate) fn conversation(tenant: &str, conversation: &str) -> Vec<u8> {
    let mut key = conversations(tenant);
    push_segment(&mut key, conversation);
    key
}

pub(crate) fn conversations(tenant: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(b"c/");
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

/// `t/{tenant}/ce/{conversation}/{seq}`: one conversation's transcript index.
/// Empty, for the record `seq` alone, or the numbers of several records,
/// `seq` the first, moved out of the conversation's transcript tail.
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
    let mut key = inbound_prefix(tenant);
    push_segment(&mut key, channel);
    key.extend_from_slice(message_id.as_bytes());
    key
}

pub(crate) fn inbound_prefix(tenant: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(b"in/");
    key
}

/// An inbound key's value: when the message was handled (Unix ms), behind
/// a version byte. Values written before it (the conversation's id, or
/// nothing) have no time; `dedupe_handled_at` reads them as `None`.
pub(crate) fn dedupe_stamp(at: i64) -> [u8; 9] {
    let mut value = [DEDUPE_STAMP; 9];
    value[1..].copy_from_slice(&at.to_be_bytes());
    value
}

pub(crate) fn dedupe_handled_at(value: &[u8]) -> Option<i64> {
    match value {
        [DEDUPE_STAMP, at @ ..] => at.try_into().ok().map(i64::from_be_bytes),
        _ => None,
    }
}

/// No conversation id starts with this byte.
const DEDUPE_STAMP: u8 = 1;

/// `t/{tenant}/f/{version}`: the blob hash of a flow version's source.
pub(crate) fn flow(tenant: &str, version: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(b"f/");
    key.extend_from_slice(version.as_bytes());
    key
}

/// `t/{tenant}/pc/{sha256}`: a plugin config the tenant ran, by the hash of
/// its text, so conversations pinned to it outlive a new one.
pub(crate) fn plugin_config(tenant: &str, hash: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(b"pc/");
    key.extend_from_slice(hash.as_bytes());
    key
}

/// `t/{tenant}/pv/{binding}/{seq}`: a version of a plugin binding
/// (`plugin_versions.rs`).
pub(crate) fn plugin_version(tenant: &str, binding: &str, seq: u64) -> Vec<u8> {
    let mut key = plugin_versions(tenant, binding);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

pub(crate) fn plugin_versions(tenant: &str, binding: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(b"pv/");
    push_segment(&mut key, binding);
    key
}

/// `t/{tenant}/sr/{at}{seq}`: a recorded step call (`step_calls.rs`),
/// by the time it was made (Unix ms) and a sequence number, big-endian.
pub(crate) fn step_call(tenant: &str, at: i64, seq: u64) -> Vec<u8> {
    let mut key = step_calls(tenant);
    // Offset so that times before 1970 still sort first.
    key.extend_from_slice(&((at as u64) ^ (1 << 63)).to_be_bytes());
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

pub(crate) fn step_calls(tenant: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(b"sr/");
    key
}

/// The time and sequence number of a [`step_call`] key.
pub(crate) fn step_call_at(prefix: &[u8], key: &[u8]) -> (i64, u64) {
    let word = |at: usize| {
        key.get(prefix.len() + at..prefix.len() + at + 8)
            .and_then(|bytes| bytes.try_into().ok())
            .map_or(0, u64::from_be_bytes)
    };
    ((word(0) ^ (1 << 63)) as i64, word(8))
}

/// `t/{tenant}/pw/{binding}/{component}`: a component withdrawn from a
/// binding (a canary rolled back).
pub(crate) fn withdrawn(tenant: &str, binding: &str, component: &str) -> Vec<u8> {
    let mut key = withdrawn_prefix(tenant);
    push_segment(&mut key, binding);
    key.extend_from_slice(component.as_bytes());
    key
}

pub(crate) fn withdrawn_prefix(tenant: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(b"pw/");
    key
}

/// The binding and component a [`withdrawn`] key names.
pub(crate) fn parse_withdrawn(prefix: &[u8], key: &[u8]) -> Option<(String, String)> {
    let (binding, rest) = pop_segment(key.strip_prefix(prefix)?)?;
    Some((binding, String::from_utf8(rest.to_vec()).ok()?))
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

/// `t/{tenant}/op/{seq}`: outbox entries delivery set aside because they
/// cannot be sent as they are (see `Store::park_outbox`), under the
/// sequence number they had in the outbox, so a re-drive keeps their order.
pub(crate) fn parked_outbox(tenant: &str, seq: u64) -> Vec<u8> {
    let mut key = parked_outbox_prefix(tenant);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

pub(crate) fn parked_outbox_prefix(tenant: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(b"op/");
    key
}

/// `t/{tenant}/key/{id}`: an API key's record (its hash, never the key).
pub(crate) fn api_key(tenant: &str, id: &str) -> Vec<u8> {
    let mut key = api_keys(tenant);
    key.extend_from_slice(id.as_bytes());
    key
}

pub(crate) fn api_keys(tenant: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(b"key/");
    key
}

/// `t/{tenant}/id/{identity}`: the conversation a channel identity
/// (`telegram:42`) continues, when it was linked to another one.
pub(crate) fn identity(tenant: &str, identity: &str) -> Vec<u8> {
    let mut key = identities(tenant);
    key.extend_from_slice(identity.as_bytes());
    key
}

pub(crate) fn identities(tenant: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(b"id/");
    key
}

/// `t/{tenant}/ct/{kind}/{value}`: the conversation that verified a phone
/// number or email address.
pub(crate) fn contact_point(tenant: &str, kind: &str, value: &str) -> Vec<u8> {
    let mut key = contact_points(tenant);
    push_segment(&mut key, kind);
    key.extend_from_slice(value.as_bytes());
    key
}

pub(crate) fn contact_points(tenant: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(b"ct/");
    key
}

/// `d/{due}/{tenant}/{conversation}/{key}`: every tenant's timers by due
/// time, as stores kept them before the timer log (`timer_log.rs`). Read
/// once, when such a store opens, to move them into the log.
#[cfg(test)]
pub(crate) fn due(due_at: i64, tenant: &str, conversation: &str, key: &str) -> Vec<u8> {
    let mut full = DUE_PREFIX.to_vec();
    full.extend_from_slice(&u64::try_from(due_at).unwrap_or(0).to_be_bytes());
    push_segment(&mut full, tenant);
    push_segment(&mut full, conversation);
    full.extend_from_slice(key.as_bytes());
    full
}

pub(crate) const DUE_PREFIX: &[u8] = b"d/";

/// `(due, tenant, conversation, key)` back out of a due-index key.
pub(crate) fn parse_due(key: &[u8]) -> Option<(i64, String, String, String)> {
    let rest = key.strip_prefix(DUE_PREFIX)?;
    let (due, rest) = rest.split_at_checked(8)?;
    let due = i64::try_from(u64::from_be_bytes(due.try_into().ok()?)).ok()?;
    let (tenant, rest) = pop_segment(rest)?;
    let (conversation, rest) = pop_segment(rest)?;
    Some((due, tenant, conversation, String::from_utf8(rest.to_vec()).ok()?))
}

pub(crate) fn pop_segment(key: &[u8]) -> Option<(String, &[u8])> {
    let (length, rest) = key.split_at_checked(4)?;
    let length = usize::try_from(u32::from_be_bytes(length.try_into().ok()?)).ok()?;
    let (segment, rest) = rest.split_at_checked(length)?;
    let rest = rest.strip_prefix(b"/")?;
    Some((String::from_utf8(segment.to_vec()).ok()?, rest))
}

/// `k/{name}/{version}`: a build in the plugin catalog (`catalog.rs`), in
/// the blobs tree; no tenant's.
pub(crate) fn catalog_entry(name: &str, version: &str) -> Vec<u8> {
    let mut key = CATALOG_PREFIX.to_vec();
    push_segment(&mut key, name);
    key.extend_from_slice(version.as_bytes());
    key
}

pub(crate) const CATALOG_PREFIX: &[u8] = b"k/";

/// `m/{tenant}`: a tenant's directory in the tenant catalog
/// (`tenant_catalog.rs`), in the blobs tree: read by the operator's nodes,
/// never by a tenant's key.
pub(crate) fn tenant_bundle(tenant: &str) -> Vec<u8> {
    let mut key = TENANT_CATALOG_PREFIX.to_vec();
    push_segment(&mut key, tenant);
    key
}

pub(crate) const TENANT_CATALOG_PREFIX: &[u8] = b"m/";

/// The tenant a [`tenant_bundle`] key names.
pub(crate) fn bundle_tenant(key: &[u8]) -> Option<String> {
    pop_segment(key.strip_prefix(TENANT_CATALOG_PREFIX)?).map(|(tenant, _)| tenant)
}

/// `r/{seq}`: a batch being written, recorded whole so a crash cannot leave
/// it half-applied (see `batch.rs`). Cross-tenant, and it lives only while
/// the batch is written.
pub(crate) fn redo(seq: u64) -> Vec<u8> {
    let mut key = REDO_PREFIX.to_vec();
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

pub(crate) const REDO_PREFIX: &[u8] = b"r/";

/// `z/{tenant}`: a retirement in progress (`retire.rs`), its value the
/// time it was retired at.
pub(crate) fn retiring(tenant: &str) -> Vec<u8> {
    let mut key = RETIRING_PREFIX.to_vec();
    push_segment(&mut key, tenant);
    key
}

pub(crate) const RETIRING_PREFIX: &[u8] = b"z/";

/// The tenant a [`retiring`] key names.
pub(crate) fn retiring_tenant(key: &[u8]) -> Option<String> {
    pop_segment(key.strip_prefix(RETIRING_PREFIX)?).map(|(tenant, _)| tenant)
}

/// `x/{retired at}/{key}`: a retired tenant's key, out of every tenant's
/// reach (no `t/` in front).
pub(crate) fn retired(retired_at: i64, key: &[u8]) -> Vec<u8> {
    let mut full = b"x/".to_vec();
    full.extend_from_slice(&retired_at.to_be_bytes());
    full.push(b'/');
    full.extend_from_slice(key);
    full
}

/// The sequence number that ends a key built as `prefix` + big-endian `u64`.
pub(crate) fn seq_after(prefix: &[u8], key: &[u8]) -> u64 {
    key.get(prefix.len()..).and_then(|tail| tail.try_into().ok()).map_or(0, u64::from_be_bytes)
}

/// The tenant a key belongs to and what kind of record it is, for stats;
/// `None` for a key outside every tenant's prefix.
pub(crate) fn owner(key: &[u8]) -> Option<(&str, &'static str)> {
    let rest = key.strip_prefix(b"t/")?;
    let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let tenant = std::str::from_utf8(rest.get(4..4 + len)?).ok()?;
    let rest = rest.get(4 + len + 1..)?;
    let kind = [
        (&b"c/"[..], "conversations"),
        (b"e/", "events"),
        (b"ce/", "transcript index"),
        (b"in/", "dedupe ids"),
        (b"o/", "outbox"),
        (b"op/", "parked outbox"),
        (b"kvusage", "plugin state"),
        (b"kv/", "plugin state"),
        (b"key/", "api keys"),
        (b"id/", "contacts"),
        (b"ct/", "contacts"),
        (b"f/", "flow versions"),
        (b"pc/", "plugin configs"),
        (b"pv/", "plugin versions"),
        (b"sr/", "recorded steps"),
        (b"pw/", "plugin versions"),
        (b"qd/", "kpi tallies"),
        (b"qm/", "kpi tallies"),
        (b"qc", "kpi tallies"),
        (b"qr", "kpi tallies"),
        (b"sf/", "staff"),
        (b"ih/", "inbox index"),
    ]
    .into_iter()
    .find_map(|(prefix, kind)| rest.starts_with(prefix).then_some(kind))
    .unwrap_or("other");
    Some((tenant, kind))
}

/// What a key outside every tenant's prefix is, for stats.
pub(crate) fn shared_kind(key: &[u8]) -> &'static str {
    match key {
        [b'r', b'/', ..] => "writes in progress",
        [b'x', b'/', ..] => "retired tenants",
        [b'z', b'/', ..] => "retirements in progress",
        [b'd', b'/', ..] => "old due index",
        [b'k', b'/', ..] => "plugin catalog",
        [b'm', b'/', ..] => "tenant catalog",
        [b's', b'/', ..] => "console sessions",
        [b'v', b'/', ..] => "store format markers",
        [b'l', b'/', ..] => "console login links",
        _ => "components and flow sources",
    }
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

    #[test]
    fn old_due_keys_parse_back() {
        let early = due(1_000, "acme/x", "conv", "remind:24h");
        assert_eq!(
            parse_due(&early),
            Some((1_000, "acme/x".to_owned(), "conv".to_owned(), "remind:24h".to_owned()))
        );
    }
}
