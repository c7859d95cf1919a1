//! sled's side of moving a deployment (`portable.rs`): the records no other
//! read lists, read back out of their keys, and which tenants and blobs
//! the store holds.

use std::collections::BTreeSet;

use crate::blobs::COMPONENTS_DIR;
use crate::keys::{self, pop_segment};
use crate::portable::Record;
use crate::{Store, StoreError};

impl Store {
    pub(crate) fn dump_listed(
        &self,
        tenant: &str,
        sink: &mut dyn FnMut(Record) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let trees = self.trees()?;
        let prefix = keys::tenant_prefix(tenant);
        for tree in [&trees.turns, &trees.blobs, &trees.plugin_state] {
            for entry in tree.scan_prefix(&prefix) {
                let (key, value) = entry?;
                let damaged = || StoreError::Damaged { key: String::from_utf8_lossy(&key).into_owned() };
                let kind = &key[prefix.len()..];
                if let Some(record) = listed(kind, &value, &key).ok_or_else(damaged)? {
                    sink(record)?;
                }
            }
        }
        Ok(())
    }

    /// Blobs in the `blobs` tree (named by their hash, nothing else there
    /// is 64 hex digits long) and those that are files.
    pub(crate) fn blob_hashes(&self) -> Result<Vec<String>, StoreError> {
        let is_hash = |name: &[u8]| name.len() == 64 && name.iter().all(u8::is_ascii_hexdigit);
        let mut hashes = BTreeSet::new();
        for entry in self.trees()?.blobs.iter().keys() {
            let key = entry?;
            if is_hash(&key) {
                hashes.insert(String::from_utf8_lossy(&key).into_owned());
            }
        }
        let files = match std::fs::read_dir(self.dir.join(COMPONENTS_DIR)) {
            Ok(files) => files.collect::<Result<Vec<_>, _>>()?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(error) => return Err(error.into()),
        };
        for file in files {
            let name = file.file_name();
            if is_hash(name.as_encoded_bytes()) {
                hashes.insert(name.to_string_lossy().into_owned());
            }
        }
        Ok(hashes.into_iter().collect())
    }

    /// Every tenant with a key, found by jumping from one tenant's prefix
    /// to the next rather than reading every key.
    pub(crate) fn stored_tenants(&self) -> Result<Vec<String>, StoreError> {
        let trees = self.trees()?;
        let mut tenants = BTreeSet::new();
        for tree in [&trees.turns, &trees.blobs, &trees.plugin_state] {
            let mut from = b"t/".to_vec();
            while let Some(entry) = tree.range(from.clone()..).next() {
                let (key, _) = entry?;
                let Some((tenant, _)) = keys::owner(&key) else { break };
                let tenant = tenant.to_owned();
                from = keys::tenant_prefix(&tenant);
                // Past every key under the prefix, which ends in `/`.
                *from.last_mut().expect("a prefix is never empty") += 1;
                tenants.insert(tenant);
            }
        }
        Ok(tenants.into_iter().collect())
    }
}

/// The record a key of a tenant's holds, for the kinds only a listing
/// finds; `Some(None)` for a key of another kind, `None` for one that does
/// not parse.
fn listed(kind: &[u8], value: &[u8], key: &[u8]) -> Option<Option<Record>> {
    let text = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).ok();
    let record = if let Some(rest) = kind.strip_prefix(b"in/") {
        let (channel, id) = pop_segment(rest)?;
        // Ids from before the handling time was noted have none.
        let at = keys::dedupe_handled_at(value).unwrap_or(0);
        Record::Handled { channel, message_id: text(id)?, at }
    } else if let Some(identity) = kind.strip_prefix(b"id/") {
        Record::Identity { identity: text(identity)?, conversation: text(value)? }
    } else if let Some(rest) = kind.strip_prefix(b"ct/") {
        let (kind, point) = pop_segment(rest)?;
        Record::ContactPoint { kind, value: text(point)?, conversation: text(value)? }
    } else if let Some(version) = kind.strip_prefix(b"f/") {
        Record::Flow { version: text(version)?, hash: text(value)? }
    } else if let Some(hash) = kind.strip_prefix(b"pc/") {
        Record::PluginConfig { hash: text(hash)?, text: text(value)? }
    } else if let Some(rest) = kind.strip_prefix(b"n/") {
        let (sequence, _) = pop_segment(rest)?;
        Record::Number { sequence, last: u64::from_be_bytes(value.try_into().ok()?) }
    } else if let Some(rest) = kind.strip_prefix(b"pv/") {
        let (binding, _) = pop_segment(rest)?;
        Record::PluginVersion { binding, version: crate::conversations::decode(key, value).ok()? }
    } else if let Some(rest) = kind.strip_prefix(b"kv/") {
        let (plugin, key) = pop_segment(rest)?;
        Record::PluginState { plugin, key: text(key)?, value: value.to_vec() }
    } else if let Some(rest) = kind.strip_prefix(b"qm/") {
        let (conversation, _) = pop_segment(rest)?;
        Record::KpiMarks { conversation, marks: postcard::from_bytes(value).ok()? }
    } else {
        return Some(None);
    };
    Some(Some(record))
}
