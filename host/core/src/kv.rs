//! Plugin state as the core sees it: whose state a `kv` call touches, how
//! much a tenant may keep, and the backend trait that keeps it.
//!
//! The runtime calls a [`KvBackend`] for a plugin's `kv` imports and the
//! store implements it on sled; neither needs the other, so the store knows
//! nothing of wasm.

use std::fmt;

/// Whose state a `kv` call touches: one plugin of one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KvScope {
    pub tenant: String,
    pub plugin: String,
}

/// How much `kv` state one tenant's plugins may keep, all together: keys,
/// and bytes of keys and values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvQuota {
    pub keys: u64,
    pub bytes: u64,
}

impl Default for KvQuota {
    fn default() -> Self {
        Self { keys: 10_000, bytes: 64 << 20 }
    }
}

/// A `kv` write the tenant's [`KvQuota`] has no room for. Backends return
/// it (in the `anyhow` error), and the guest sees `host-error::limit`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the tenant's plugin state is at its quota of {limit} {what}")]
pub struct KvQuotaExceeded {
    pub what: &'static str,
    pub limit: u64,
}

/// Where plugin state lives. The store crate implements it on sled; the
/// runtime only needs these three operations. `set` keeps the tenant's
/// state within `quota`, or fails with [`KvQuotaExceeded`].
pub trait KvBackend: Send + Sync + fmt::Debug {
    fn get(&self, scope: &KvScope, key: &str) -> anyhow::Result<Option<Vec<u8>>>;
    fn set(&self, scope: &KvScope, key: &str, value: &[u8], quota: &KvQuota) -> anyhow::Result<()>;
    fn delete(&self, scope: &KvScope, key: &str) -> anyhow::Result<()>;
}
