//! sled's side of moving a deployment (`portable.rs`): the records no other
//! read lists, read back out of their keys, and which tenants and blobs
//! the store holds.

use std::collections::BTreeSet;

use crate::blobs::{COMPONENTS_DIR, is_sha256};
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
                if let Some(record) = listed(&key[prefix.len()..], &value, &key)? {
                    sink(record)?;
                }
            }
        }
        Ok(())
    }

    /// Blobs in the `blobs` tree (named by their hash, nothing else there
    /// is 64 hex digits long) and those that are files.
    pub(crate) fn blob_hashes(&self) -> Result<Vec<String>, StoreError> {
        let mut hashes = BTreeSet::new();
        for entry in self.trees()?.blobs.iter().keys() {
            let key = entry?;
            if is_sha256(&key) {
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
            if is_sha256(name.as_encoded_bytes()) {
                hashes.insert(name.to_string_lossy().into_owned());
            }
        }
        Ok(hashes.into_iter().collect())
    }

    /// Keys of removed tenants, kept out of every tenant's reach
    /// (`retire.rs`): a migration leaves them behind.
    pub fn retired_keys(&self) -> Result<u64, StoreError> {
        let trees = self.trees()?;
        let mut count = 0;
        for tree in [&trees.turns, &trees.blobs, &trees.plugin_state] {
            for key in tree.scan_prefix(b"x/").keys() {
                key?;
                count += 1;
            }
        }
        Ok(count)
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

/// Kinds of a tenant's keys that `portable::dump_tenant` reads through the
/// contract, or that the new store rebuilds (the transcript index).
const READ_ELSEWHERE: [&[u8]; 12] =
    [b"c/", b"e/", b"ce/", b"o/", b"op/", b"key/", b"sr/", b"pw/", b"sf/", b"ih/", b"qd/", b"qc"];

/// The record a key of a tenant's holds, for the kinds only a listing
/// finds; `None` for a kind read elsewhere. A kind this version does not
/// know is refused: a migration carries everything or says what it cannot.
fn listed(kind: &[u8], value: &[u8], key: &[u8]) -> Result<Option<Record>, StoreError> {
    let damaged = || StoreError::Damaged { key: String::from_utf8_lossy(key).into_owned() };
    let text = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).map_err(|_| damaged());
    let record = if let Some(rest) = kind.strip_prefix(b"in/") {
        let (channel, id) = pop_segment(rest).ok_or_else(damaged)?;
        // Ids from before the handling time was noted have none.
        let at = keys::dedupe_handled_at(value).unwrap_or(0);
        Record::Handled { channel, message_id: text(id)?, at }
    } else if let Some(identity) = kind.strip_prefix(b"id/") {
        Record::Identity { identity: text(identity)?, conversation: text(value)? }
    } else if let Some(rest) = kind.strip_prefix(b"ct/") {
        let (kind, point) = pop_segment(rest).ok_or_else(damaged)?;
        Record::ContactPoint { kind, value: text(point)?, conversation: text(value)? }
    } else if let Some(version) = kind.strip_prefix(b"f/") {
        Record::Flow { version: text(version)?, hash: text(value)? }
    } else if let Some(hash) = kind.strip_prefix(b"pc/") {
        Record::PluginConfig { hash: text(hash)?, text: text(value)? }
    } else if let Some(rest) = kind.strip_prefix(b"n/") {
        let (sequence, _) = pop_segment(rest).ok_or_else(damaged)?;
        Record::Number { sequence, last: u64::from_be_bytes(value.try_into().map_err(|_| damaged())?) }
    } else if let Some(rest) = kind.strip_prefix(b"pv/") {
        let (binding, _) = pop_segment(rest).ok_or_else(damaged)?;
        Record::PluginVersion { binding, version: crate::conversations::decode(key, value)? }
    } else if kind == b"kvusage" {
        let usage = crate::plugin_state::Usage::decode(Some(value));
        Record::PluginUsage { keys: usage.keys, bytes: usage.bytes }
    } else if let Some(rest) = kind.strip_prefix(b"kv/") {
        let (plugin, key) = pop_segment(rest).ok_or_else(damaged)?;
        Record::PluginState { plugin, key: text(key)?, value: value.to_vec() }
    } else if let Some(rest) = kind.strip_prefix(b"qm/") {
        let (conversation, _) = pop_segment(rest).ok_or_else(damaged)?;
        Record::KpiMarks { conversation, marks: crate::kpis::decode_binary(key, value)? }
    } else if READ_ELSEWHERE.iter().any(|prefix| kind.starts_with(prefix)) {
        return Ok(None);
    } else {
        return Err(StoreError::NotMigratable { key: key.escape_ascii().to_string() });
    };
    Ok(Some(record))
}

#[cfg(test)]
mod tests {
    use crate::{Store, StoreError, keys};

    fn dump(store: &Store) -> Result<usize, StoreError> {
        let mut records = 0;
        store.dump_listed("acme", &mut |_| {
            records += 1;
            Ok(())
        })?;
        Ok(records)
    }

    #[test]
    fn a_key_of_a_kind_the_dump_does_not_know_stops_it() {
        let store = Store::temporary().unwrap();
        store.next_number("acme", "invoice").unwrap();
        assert_eq!(dump(&store).unwrap(), 1);
        let mut unknown = keys::tenant_prefix("acme");
        unknown.extend_from_slice(b"zz/new-kind");
        store.trees().unwrap().turns.insert(unknown, &b"v"[..]).unwrap();
        let refused = dump(&store).expect_err("an unknown kind is not left behind");
        assert!(matches!(refused, StoreError::NotMigratable { .. }), "{refused}");
        assert!(refused.to_string().contains("zz/new-kind"), "{refused}");
    }

    #[test]
    fn a_kpi_rebuild_cut_short_stops_the_dump_until_it_is_finished() {
        let store = Store::temporary().unwrap();
        store.trees().unwrap().turns.insert(keys::kpi_rebuilding("acme"), &0i32.to_be_bytes()[..]).unwrap();
        assert!(matches!(dump(&store), Err(StoreError::NotMigratable { .. })));
        store.finish_kpi_rebuild("acme").unwrap();
        assert_eq!(dump(&store).unwrap(), 0);
    }
}
