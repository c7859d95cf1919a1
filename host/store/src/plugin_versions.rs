//! Every version of a tenant's plugin binding: the component and config it
//! ran, in order, so a tenant can see what changed and go back to any of them.
//!
//! A version is recorded whenever a binding starts running a component or
//! config it was not running before (a start-up, a reload, an upload), never
//! twice in a row for the same pair. The component's bytes and the config's
//! text stay in the store (`blobs.rs`), so a listed version can run again
//! (the control plane's restore).

use serde::{Deserialize, Serialize};

use crate::{Store, StoreError, keys};

/// One version of a binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginVersion {
    /// Its place in the binding's history, from 1.
    pub seq: u64,
    /// SHA-256 of the component.
    pub component: String,
    /// SHA-256 of the config's text (of no text, without a config).
    pub config: String,
    /// The component's manifest name and version, if it carries one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// When it started running (Unix ms).
    pub at: i64,
    /// For a canary: the share of new conversations it started on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<u8>,
    /// The id of the API key that brought it (`bootstrap` for the
    /// operator's token); none for the operator's own files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// What its uploader said about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A version to record: what runs, and who brought it.
#[derive(Debug, Clone, Default)]
pub struct NewVersion {
    pub component: String,
    pub config: String,
    pub manifest: Option<String>,
    pub canary: Option<u8>,
    pub by: Option<String>,
    pub note: Option<String>,
    pub at: i64,
}

impl Store {
    /// Record that `binding` of `tenant` now runs `new.component` with
    /// `new.config` (as its canary, with `new.canary`), unless its latest
    /// version of that kind is that already: the version, and whether it is
    /// new.
    pub fn record_plugin_version(
        &self,
        tenant: &str,
        binding: &str,
        new: NewVersion,
    ) -> Result<(PluginVersion, bool), StoreError> {
        // A new key is written only if nobody took it first (start-up loads
        // tenants on several threads): else read again and retry.
        loop {
            let (latest, last_seq) = self.latest_plugin_version(tenant, binding, new.canary.is_some())?;
            if let Some(latest) = latest.filter(|latest| {
                latest.component == new.component
                    && latest.config == new.config
                    && latest.canary == new.canary
            }) {
                return Ok((latest, false));
            }
            let version = PluginVersion {
                seq: last_seq + 1,
                component: new.component.clone(),
                config: new.config.clone(),
                manifest: new.manifest.clone(),
                at: new.at,
                canary: new.canary,
                by: new.by.clone(),
                note: new.note.clone(),
            };
            let key = keys::plugin_version(tenant, binding, version.seq);
            if self.insert_new_blob_key(&key, &version)?.is_none() {
                return Ok((version, true));
            }
        }
    }

    /// Write `value` (as JSON) under `key` in the blobs tree, durably,
    /// unless the key holds something already: then what it holds, and
    /// nothing written. How a record that is written once and never
    /// replaced (a version, a catalog entry) is kept when two may race.
    pub(crate) fn insert_new_blob_key(
        &self,
        key: &[u8],
        value: &impl Serialize,
    ) -> Result<Option<sled::IVec>, StoreError> {
        let encoded = serde_json::to_vec(value).map_err(|source| StoreError::Decode {
            key: String::from_utf8_lossy(key).into_owned(),
            source,
        })?;
        let swapped = self
            .database
            .write(|trees| trees.blobs.compare_and_swap(key, None as Option<&[u8]>, Some(encoded)))?;
        match swapped {
            Ok(()) => {
                self.durable()?;
                Ok(None)
            }
            Err(taken) => Ok(Some(taken.current.unwrap_or_default())),
        }
    }

    /// The newest version of `binding` that is (or is not) a canary, read
    /// from the end (every tenant load asks), and the newest seq of any.
    fn latest_plugin_version(
        &self,
        tenant: &str,
        binding: &str,
        canary: bool,
    ) -> Result<(Option<PluginVersion>, u64), StoreError> {
        let mut last_seq = None;
        for entry in self.trees()?.blobs.scan_prefix(keys::plugin_versions(tenant, binding)).rev() {
            let (key, bytes) = entry?;
            let version: PluginVersion = crate::conversations::decode(&key, &bytes)?;
            let last = *last_seq.get_or_insert(version.seq);
            if version.canary.is_some() == canary {
                return Ok((Some(version), last));
            }
        }
        Ok((None, last_seq.unwrap_or(0)))
    }

    /// Remember that `component` was withdrawn from `binding` (a canary
    /// rolled back): conversations pinned to it go back to the binding's
    /// version, across restarts.
    pub fn withdraw_component(&self, tenant: &str, binding: &str, component: &str) -> Result<(), StoreError> {
        let key = keys::withdrawn(tenant, binding, component);
        self.database.write(|trees| trees.blobs.insert(key, &[]))?;
        self.durable()
    }

    /// Serve a withdrawn `component` of `binding` again.
    pub fn unwithdraw_component(
        &self,
        tenant: &str,
        binding: &str,
        component: &str,
    ) -> Result<(), StoreError> {
        let key = keys::withdrawn(tenant, binding, component);
        self.database.write(|trees| trees.blobs.remove(key))?;
        self.durable()
    }

    /// Every `(binding, component)` withdrawn from `tenant`.
    pub fn withdrawn_components(&self, tenant: &str) -> Result<Vec<(String, String)>, StoreError> {
        let prefix = keys::withdrawn_prefix(tenant);
        let mut withdrawn = Vec::new();
        for entry in self.trees()?.blobs.scan_prefix(&prefix) {
            let (key, _) = entry?;
            if let Some(pair) = keys::parse_withdrawn(&prefix, &key) {
                withdrawn.push(pair);
            }
        }
        Ok(withdrawn)
    }

    /// Every version of `binding`, oldest first.
    pub fn plugin_versions(&self, tenant: &str, binding: &str) -> Result<Vec<PluginVersion>, StoreError> {
        self.trees()?
            .blobs
            .scan_prefix(keys::plugin_versions(tenant, binding))
            .map(|entry| {
                let (key, bytes) = entry?;
                crate::conversations::decode(&key, &bytes)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binding_gains_a_version_only_when_what_it_runs_changes() {
        let store = Store::temporary().expect("store");
        let version = |component: &str, config: &str, at| NewVersion {
            component: component.into(),
            config: config.into(),
            at,
            ..NewVersion::default()
        };
        let record = |component: &str, config: &str, at| {
            store
                .record_plugin_version("acme", "pricing", version(component, config, at))
                .expect("recorded")
                .0
        };
        assert_eq!(record("c1", "k1", 10).seq, 1);
        assert_eq!(record("c1", "k1", 20).seq, 1, "the same pair again is no new version");
        assert_eq!(record("c1", "k2", 30).seq, 2);
        assert_eq!(record("c2", "k2", 40).seq, 3);
        assert_eq!(record("c1", "k1", 50).seq, 4, "going back is a version of its own");
        store.record_plugin_version("acme", "pricing-v2", version("x", "y", 60)).expect("recorded");
        store.record_plugin_version("other", "pricing", version("z", "z", 60)).expect("recorded");

        let versions = store.plugin_versions("acme", "pricing").expect("read");
        let pairs: Vec<(&str, &str, i64)> =
            versions.iter().map(|v| (v.component.as_str(), v.config.as_str(), v.at)).collect();
        assert_eq!(pairs, [("c1", "k1", 10), ("c1", "k2", 30), ("c2", "k2", 40), ("c1", "k1", 50)]);

        let canary = NewVersion { canary: Some(50), by: Some("k_1".into()), ..version("c3", "k1", 70) };
        let (recorded, new) =
            store.record_plugin_version("acme", "pricing", canary.clone()).expect("recorded");
        assert_eq!((recorded.seq, new, recorded.by.as_deref()), (5, true, Some("k_1")));
        assert!(!store.record_plugin_version("acme", "pricing", canary).expect("recorded").1);
        assert_eq!(
            record("c1", "k1", 80).seq,
            4,
            "a canary beside it leaves the binding's own version as it was"
        );
        assert_eq!(record("c3", "k1", 90).seq, 6, "its promotion is a version");
    }

    #[test]
    fn withdrawn_components_are_kept_per_tenant() {
        let store = Store::temporary().expect("store");
        store.withdraw_component("acme", "pricing", "c2").expect("kept");
        store.withdraw_component("acme", "refunds", "c9").expect("kept");
        store.withdraw_component("other", "pricing", "c3").expect("kept");
        let mut withdrawn = store.withdrawn_components("acme").expect("read");
        withdrawn.sort();
        assert_eq!(withdrawn, [("pricing".into(), "c2".into()), ("refunds".into(), "c9".into())]);
    }
}
