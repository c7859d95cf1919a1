//! What a plugin may reach beyond its own input: deny by default.
//!
//! A tenant grants capabilities per plugin binding. An ungranted capability is
//! still linked (components built with componentize-py or -js import every
//! interface of the world whether they use it or not), but every call to it
//! answers `host-error::denied("<capability>")`, and `log` lines are dropped.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use switchboard_core::kv::{KvBackend, KvQuota, KvQuotaExceeded, KvScope};

use crate::http::HttpGrant;

/// The capabilities granted to one plugin binding.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Grants {
    /// Write to the host log.
    pub log: bool,
    /// Plugin-scoped key-value state for this tenant.
    pub kv: bool,
    /// Settings readable through `config.get`. Granted when non-empty.
    pub settings: BTreeMap<String, String>,
    /// Secrets readable through `config.secret`. Granted when non-empty.
    pub secrets: BTreeMap<String, Secret>,
    /// Outbound HTTP through `wasi:http`: allowlisted hosts only.
    pub http: HttpGrant,
}

impl Grants {
    /// Everything a trusted, first-party plugin may use; handy in tests and the CLI.
    pub fn all() -> Self {
        Self { log: true, kv: true, ..Self::default() }
    }
}

/// A secret value: serialized as given, never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Secret(***)")
    }
}

type MemoryEntries = HashMap<(KvScope, String), Vec<u8>>;

/// An in-memory [`KvBackend`], for tests and `switchboard plugin run`.
#[derive(Debug, Default, Clone)]
pub struct MemoryKv {
    entries: Arc<Mutex<MemoryEntries>>,
}

impl MemoryKv {
    fn entries(&self) -> std::sync::MutexGuard<'_, MemoryEntries> {
        // A poisoned lock only means another test thread panicked mid-insert; the map is still usable.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl KvBackend for MemoryKv {
    fn get(&self, scope: &KvScope, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self.entries().get(&(scope.clone(), key.to_owned())).cloned())
    }

    fn set(&self, scope: &KvScope, key: &str, value: &[u8], quota: &KvQuota) -> anyhow::Result<()> {
        let mut entries = self.entries();
        let entry = (scope.clone(), key.to_owned());
        let tenant = entries.iter().filter(|((held, _), _)| held.tenant == scope.tenant);
        let (mut keys, mut bytes) = tenant.fold((0, 0), |(keys, bytes), ((_, key), value)| {
            (keys + 1, bytes + (key.len() + value.len()) as u64)
        });
        if let Some(old) = entries.get(&entry) {
            keys -= 1;
            bytes -= (key.len() + old.len()) as u64;
        }
        if keys + 1 > quota.keys {
            return Err(KvQuotaExceeded { what: "keys", limit: quota.keys }.into());
        }
        if bytes + (key.len() + value.len()) as u64 > quota.bytes {
            return Err(KvQuotaExceeded { what: "bytes", limit: quota.bytes }.into());
        }
        entries.insert(entry, value.to_vec());
        Ok(())
    }

    fn delete(&self, scope: &KvScope, key: &str) -> anyhow::Result<()> {
        self.entries().remove(&(scope.clone(), key.to_owned()));
        Ok(())
    }
}

/// Sizes past which a `kv` call answers `host-error::limit`.
pub(crate) const KV_MAX_KEY_BYTES: usize = 256;
pub(crate) const KV_MAX_VALUE_BYTES: usize = 64 << 10;
