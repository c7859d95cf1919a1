//! A store's contents in a form every backend reads and writes: how
//! `switchboard store migrate` moves a deployment from one backend to
//! another, and shows that everything arrived.
//!
//! - [`Record`]: one thing a tenant holds, by what it means rather than how
//!   a backend lays it out (a sled key, a PostgreSQL row). Sequence numbers
//!   (the event log's, the outbox's, recorded step calls') travel as they
//!   are, so a reader's cursor into the event log stays valid after a move.
//! - [`Shared`]: what no tenant owns: blobs, the plugin catalog, the tenant
//!   catalog's bundles (sealed, so they move as opaque bytes).
//! - [`dump_tenant`] and [`dump_shared`]: every record of a store, written
//!   once over the [`Backend`] contract; each backend adds only the
//!   listings no other read gives ([`Backend::dump_listed`]).
//! - [`Inventory`]: how many records of each kind, and a digest of them
//!   that does not depend on the order they were read in (backends keep
//!   different orders), so a source and its copy are compared kind by kind.
//!
//! Left out on purpose: console sessions and login links (people sign in
//! again), delivery lanes and leases (held by running nodes), and the
//! timer index, which each backend rebuilds from the conversations' own
//! `timers` maps, its truth.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use switchboard_core::event::DomainEvent;
use switchboard_core::kpi::{Day, Marks, Tally};

use crate::{ApiKey, Backend, CatalogEntry, InboxEntry, PluginVersion, StoreError, StoredConversation};

/// Records read per page where the contract reads a page at a time.
const PAGE: usize = 512;

/// One thing a tenant holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Record {
    /// A conversation's state, without what a backend keeps in it for
    /// itself (sled's transcript tail).
    Conversation(Box<StoredConversation>),
    /// An event, under its record's sequence number in the tenant's log.
    Event {
        seq: u64,
        event: DomainEvent,
    },
    /// The last sequence number the tenant's log gave (its events may have
    /// been swept since): the next event goes after it, and after every
    /// cursor a reader or the KPI fold holds.
    EventHead {
        seq: u64,
    },
    /// An inbound message id already handled, and when (Unix ms; 0 when
    /// the store did not note it).
    Handled {
        channel: String,
        message_id: String,
        at: i64,
    },
    Outbox {
        seq: u64,
        entry: Vec<u8>,
    },
    Parked {
        seq: u64,
        entry: Vec<u8>,
    },
    Inbox(InboxEntry),
    Identity {
        identity: String,
        conversation: String,
    },
    ContactPoint {
        kind: String,
        value: String,
        conversation: String,
    },
    ApiKey(ApiKey),
    /// A flow version's source, by the hash of its blob.
    Flow {
        version: String,
        hash: String,
    },
    PluginConfig {
        hash: String,
        text: String,
    },
    Number {
        sequence: String,
        last: u64,
    },
    PluginVersion {
        binding: String,
        version: PluginVersion,
    },
    Withdrawn {
        binding: String,
        component: String,
    },
    StepCall {
        at: i64,
        seq: u64,
        record: Vec<u8>,
    },
    Staff {
        id: String,
        record: Vec<u8>,
    },
    PluginState {
        plugin: String,
        key: String,
        value: Vec<u8>,
    },
    /// What the tenant's plugin state counts against its quota, as the
    /// store counted it.
    PluginUsage {
        keys: u64,
        bytes: u64,
    },
    KpiCheckpoint {
        seq: u64,
    },
    KpiDay {
        day: Day,
        tally: Tally,
    },
    KpiMarks {
        conversation: String,
        marks: Marks,
    },
}

impl Record {
    /// The kind's name, as [`Inventory`] counts it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Conversation(_) => "conversations",
            Self::Event { .. } => "events",
            Self::EventHead { .. } => "event log head",
            Self::Handled { .. } => "dedupe ids",
            Self::Outbox { .. } => "outbox",
            Self::Parked { .. } => "parked outbox",
            Self::Inbox(_) => "inbox lines",
            Self::Identity { .. } => "linked identities",
            Self::ContactPoint { .. } => "contact points",
            Self::ApiKey(_) => "api keys",
            Self::Flow { .. } => "flow versions",
            Self::PluginConfig { .. } => "plugin configs",
            Self::Number { .. } => "numbers",
            Self::PluginVersion { .. } => "plugin versions",
            Self::Withdrawn { .. } => "withdrawn components",
            Self::StepCall { .. } => "recorded steps",
            Self::Staff { .. } => "staff",
            Self::PluginState { .. } => "plugin state",
            Self::PluginUsage { .. } => "plugin state usage",
            Self::KpiCheckpoint { .. } | Self::KpiDay { .. } | Self::KpiMarks { .. } => "kpi tallies",
        }
    }
}

/// What no tenant owns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shared {
    /// Bytes named by their SHA-256 (components, flow sources).
    Blob { hash: String, bytes: Vec<u8> },
    /// A build in the operator's plugin catalog.
    CatalogEntry(CatalogEntry),
    /// A tenant's directory in the tenant catalog: its sealed bundle at a
    /// revision, or none once removed.
    TenantBundle { tenant: String, revision: u64, bundle: Option<Vec<u8>> },
}

impl Shared {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Blob { .. } => "blobs",
            Self::CatalogEntry(_) => "plugin catalog",
            Self::TenantBundle { .. } => "tenant catalog",
        }
    }
}

/// Hand every record of `tenant` to `sink`, kind by kind.
pub fn dump_tenant(
    store: &dyn Backend,
    tenant: &str,
    sink: &mut dyn FnMut(Record) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut after: Option<String> = None;
    loop {
        let page = store.conversations(tenant, after.as_deref(), PAGE)?;
        let Some(last) = page.last() else { break };
        after = Some(last.conversation.id.clone());
        for stored in page {
            sink(Record::Conversation(Box::new(stored.portable())))?;
        }
    }
    by_seq(|after| store.tenant_events(tenant, after, PAGE), &mut |seq, event| {
        sink(Record::Event { seq, event })
    })?;
    let head = store.event_cursor_now(tenant)?;
    if head > 0 {
        sink(Record::EventHead { seq: head })?;
    }
    by_seq(|after| store.outbox_after(tenant, after, PAGE), &mut |seq, entry| {
        sink(Record::Outbox { seq, entry })
    })?;
    by_seq(|after| store.parked_outbox(tenant, after, PAGE), &mut |seq, entry| {
        sink(Record::Parked { seq, entry })
    })?;
    let mut from = (i64::MIN, 0);
    loop {
        let page = store.step_calls(tenant, from, PAGE)?;
        let Some(&(at, seq, _)) = page.last() else { break };
        from = (at, seq + 1);
        for (at, seq, record) in page {
            sink(Record::StepCall { at, seq, record })?;
        }
    }
    for entry in store.inbox(tenant)? {
        sink(Record::Inbox(entry))?;
    }
    for key in store.api_keys(tenant)? {
        sink(Record::ApiKey(key))?;
    }
    for (binding, component) in store.withdrawn_components(tenant)? {
        sink(Record::Withdrawn { binding, component })?;
    }
    for (id, record) in store.staff(tenant)? {
        sink(Record::Staff { id, record })?;
    }
    if let Some(seq) = store.kpi_checkpoint(tenant)? {
        sink(Record::KpiCheckpoint { seq })?;
    }
    for (day, tally) in store.kpi_days(tenant, Day::MIN, Day::MAX)? {
        sink(Record::KpiDay { day, tally })?;
    }
    store.dump_listed(tenant, sink)
}

/// Every item of a listing read a page at a time, each page after the
/// last sequence number of the one before.
fn by_seq<T>(
    read: impl Fn(Option<u64>) -> Result<Vec<(u64, T)>, StoreError>,
    each: &mut dyn FnMut(u64, T) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut after = None;
    loop {
        let page = read(after)?;
        let Some(last) = page.last().map(|(seq, _)| *seq) else { return Ok(()) };
        after = Some(last);
        for (seq, item) in page {
            each(seq, item)?;
        }
    }
}

/// Hand every shared record to `sink`: blobs, then the plugin catalog,
/// then the tenant catalog.
pub fn dump_shared(
    store: &dyn Backend,
    sink: &mut dyn FnMut(Shared) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    for hash in store.blob_hashes()? {
        // A blob listed and gone by the time it is read was swept: skip it.
        if let Some(bytes) = store.blob(&hash)? {
            sink(Shared::Blob { hash, bytes })?;
        }
    }
    for entry in store.catalog()? {
        sink(Shared::CatalogEntry(entry))?;
    }
    for revision in store.tenant_revisions()? {
        let bundle = store.tenant_bundle(&revision.tenant)?.map(|(_, bytes)| bytes);
        sink(Shared::TenantBundle { tenant: revision.tenant, revision: revision.revision, bundle })?;
    }
    Ok(())
}

/// How many records of each kind, with a digest of them: the sum, modulo
/// 2^256, of each record's SHA-256, so the order they were read in does
/// not matter and a record missing, added or changed does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    kinds: BTreeMap<&'static str, Count>,
}

/// One kind's count and digest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    pub records: u64,
    sum: [u8; 32],
}

impl Count {
    /// The digest, in hex.
    pub fn digest(&self) -> String {
        hex::encode(self.sum)
    }
}

impl Inventory {
    pub fn add(&mut self, kind: &'static str, record: &impl Serialize) -> Result<(), StoreError> {
        let encoded = serde_json::to_vec(record)
            .map_err(|source| StoreError::Decode { key: format!("a record of {kind}"), source })?;
        let hash: [u8; 32] = Sha256::digest(&encoded).into();
        let count = self.kinds.entry(kind).or_default();
        count.records += 1;
        add_256(&mut count.sum, &hash);
        Ok(())
    }

    pub fn record(&mut self, record: &Record) -> Result<(), StoreError> {
        self.add(record.kind(), record)
    }

    pub fn shared(&mut self, record: &Shared) -> Result<(), StoreError> {
        self.add(record.kind(), record)
    }

    /// Every kind seen, with its count and digest, by name.
    pub fn kinds(&self) -> impl Iterator<Item = (&'static str, &Count)> {
        self.kinds.iter().map(|(kind, count)| (*kind, count))
    }

    /// One kind's count and digest, if any record of it was seen.
    pub fn count(&self, kind: &str) -> Option<Count> {
        self.kinds.get(kind).copied()
    }

    pub fn total(&self) -> u64 {
        self.kinds.values().map(|count| count.records).sum()
    }

    /// Fold another inventory into this one.
    pub fn merge(&mut self, other: &Inventory) {
        for (kind, theirs) in &other.kinds {
            let count = self.kinds.entry(kind).or_default();
            count.records += theirs.records;
            add_256(&mut count.sum, &theirs.sum);
        }
    }
}

/// `sum += value`, both big-endian 256-bit numbers, the carry out dropped.
fn add_256(sum: &mut [u8; 32], value: &[u8; 32]) {
    let mut carry = 0u16;
    for (digit, add) in sum.iter_mut().zip(value).rev() {
        let total = u16::from(*digit) + u16::from(*add) + carry;
        *digit = total as u8;
        carry = total >> 8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inventory_does_not_depend_on_order_but_on_every_record() {
        let records = [
            Record::Number { sequence: "invoice".into(), last: 7 },
            Record::Handled { channel: "telegram".into(), message_id: "1".into(), at: 5 },
            Record::Number { sequence: "order".into(), last: 2 },
        ];
        let mut forward = Inventory::default();
        let mut backward = Inventory::default();
        for record in &records {
            forward.record(record).unwrap();
        }
        for record in records.iter().rev() {
            backward.record(record).unwrap();
        }
        assert_eq!(forward, backward);

        let mut changed = Inventory::default();
        for record in &records[..2] {
            changed.record(record).unwrap();
        }
        changed.record(&Record::Number { sequence: "order".into(), last: 3 }).unwrap();
        assert_eq!(forward.total(), changed.total());
        assert_ne!(forward, changed, "a changed value changes the digest");
    }

    #[test]
    fn the_digest_carries_across_bytes() {
        let mut sum = [0u8; 32];
        sum[31] = 0xff;
        let mut one = [0u8; 32];
        one[31] = 1;
        add_256(&mut sum, &one);
        assert_eq!(&sum[30..], &[1, 0]);
    }
}
