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
}

impl Store {
    /// Record that `binding` of `tenant` now runs `component` with `config`,
    /// unless its latest version is that already; the version it runs.
    pub fn record_plugin_version(
        &self,
        tenant: &str,
        binding: &str,
        component: &str,
        config: &str,
        manifest: Option<String>,
        at: i64,
    ) -> Result<PluginVersion, StoreError> {
        // A new key is written only if nobody took it first (start-up loads
        // tenants on several threads): else read again and retry.
        loop {
            let latest = self.latest_plugin_version(tenant, binding)?;
            if let Some(latest) =
                latest.as_ref().filter(|latest| latest.component == component && latest.config == config)
            {
                return Ok(latest.clone());
            }
            let seq = latest.map_or(1, |latest| latest.seq + 1);
            let version = PluginVersion {
                seq,
                component: component.to_owned(),
                config: config.to_owned(),
                manifest: manifest.clone(),
                at,
            };
            let key = keys::plugin_version(tenant, binding, seq);
            let value = serde_json::to_vec(&version).map_err(|source| StoreError::Decode {
                key: String::from_utf8_lossy(&key).into_owned(),
                source,
            })?;
            let swapped = self
                .database
                .write(|trees| trees.blobs.compare_and_swap(&key, None as Option<&[u8]>, Some(value)))?;
            if swapped.is_ok() {
                self.durable()?;
                return Ok(version);
            }
        }
    }

    /// The newest version of `binding`, read alone (every tenant load asks).
    fn latest_plugin_version(
        &self,
        tenant: &str,
        binding: &str,
    ) -> Result<Option<PluginVersion>, StoreError> {
        let Some(entry) = self.trees()?.blobs.scan_prefix(keys::plugin_versions(tenant, binding)).next_back()
        else {
            return Ok(None);
        };
        let (key, bytes) = entry?;
        crate::conversations::decode(&key, &bytes).map(Some)
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
        let record = |component: &str, config: &str, at| {
            store.record_plugin_version("acme", "pricing", component, config, None, at).expect("recorded")
        };
        assert_eq!(record("c1", "k1", 10).seq, 1);
        assert_eq!(record("c1", "k1", 20).seq, 1, "the same pair again is no new version");
        assert_eq!(record("c1", "k2", 30).seq, 2);
        assert_eq!(record("c2", "k2", 40).seq, 3);
        assert_eq!(record("c1", "k1", 50).seq, 4, "going back is a version of its own");
        store.record_plugin_version("acme", "pricing-v2", "x", "y", None, 60).expect("recorded");
        store.record_plugin_version("other", "pricing", "z", "z", None, 60).expect("recorded");

        let versions = store.plugin_versions("acme", "pricing").expect("read");
        let pairs: Vec<(&str, &str, i64)> =
            versions.iter().map(|v| (v.component.as_str(), v.config.as_str(), v.at)).collect();
        assert_eq!(pairs, [("c1", "k1", 10), ("c1", "k2", 30), ("c2", "k2", 40), ("c1", "k1", 50)]);
    }
}
