//! What the store holds, per tenant and per kind, for `switchboard store
//! stats`, and rewriting it whole for `switchboard store compact`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::{Store, StoreError, keys};

/// Keys and bytes (of keys and values) of one kind of record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub keys: u64,
    pub bytes: u64,
}

impl Usage {
    fn add(&mut self, key: &[u8], value: &[u8]) {
        self.keys += 1;
        self.bytes += (key.len() + value.len()) as u64;
    }
}

/// Usage by tenant and kind, and what no tenant owns alone.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub tenants: BTreeMap<String, BTreeMap<&'static str, Usage>>,
    /// Components and flow sources by hash (shared by every tenant that
    /// uses the same bytes), writes in progress, retired tenants' keys.
    pub shared: BTreeMap<&'static str, Usage>,
}

impl Stats {
    /// One tenant's usage, all kinds together.
    pub fn tenant_total(&self, tenant: &str) -> Usage {
        self.tenants.get(tenant).map_or_else(Usage::default, |kinds| {
            kinds.values().fold(Usage::default(), |sum, usage| Usage {
                keys: sum.keys + usage.keys,
                bytes: sum.bytes + usage.bytes,
            })
        })
    }
}

impl Store {
    /// Count every key of every tree; `progress` is called with the keys
    /// counted so far, every few thousand.
    pub fn stats(&self, mut progress: impl FnMut(u64)) -> Result<Stats, StoreError> {
        let trees = self.trees()?;
        let mut stats = Stats::default();
        let mut counted = 0_u64;
        for tree in [&trees.turns, &trees.plugin_state, &trees.blobs] {
            for entry in tree.iter() {
                let (key, value) = entry?;
                let usage = match keys::owner(&key) {
                    Some((tenant, kind)) => {
                        stats.tenants.entry(tenant.to_owned()).or_default().entry(kind).or_default()
                    }
                    None => stats.shared.entry(keys::shared_kind(&key)).or_default(),
                };
                usage.add(&key, &value);
                counted += 1;
                if counted.is_multiple_of(4096) {
                    progress(counted);
                }
            }
        }
        progress(counted);
        Ok(stats)
    }

    /// The tenants the store holds keys of.
    pub fn tenants(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.stats(|_| {})?.tenants.into_keys().collect())
    }

    /// Keys in every tree, for a progress bar's length.
    pub fn key_count(&self) -> Result<u64, StoreError> {
        let trees = self.trees()?;
        Ok([&trees.turns, &trees.plugin_state, &trees.blobs].iter().map(|tree| tree.len() as u64).sum())
    }

    /// Write everything this store's database holds into a new one at
    /// `dest` (which must not exist), synced: sled writes a database
    /// it rewrites this way without the space its log has not yet
    /// reclaimed. `progress` is called with the keys copied so far. The
    /// timer log is not copied; it is a directory of its own (`timers`).
    pub fn rewrite_into(&self, dest: &Path, mut progress: impl FnMut(u64)) -> Result<(), StoreError> {
        if dest.exists() {
            return Err(StoreError::Open {
                path: dest.display().to_string(),
                source: sled::Error::Unsupported("the destination of a rewrite must not exist".into()),
            });
        }
        let open_error = |source| StoreError::Open { path: dest.display().to_string(), source };
        let trees = self.trees()?;
        let copy = sled::Config::new().path(dest).open().map_err(open_error)?;
        let copied = std::cell::Cell::new(0_u64);
        let progress = std::cell::RefCell::new(&mut progress);
        let (copied, progress) = (&copied, &progress);
        let export = trees
            .db
            .export()
            .into_iter()
            .map(|(kind, name, entries)| {
                let entries = entries.inspect(move |_| {
                    copied.set(copied.get() + 1);
                    if copied.get().is_multiple_of(4096) {
                        (progress.borrow_mut())(copied.get());
                    }
                });
                (kind, name, entries)
            })
            .collect::<Vec<_>>();
        copy.import(export);
        (progress.borrow_mut())(copied.get());
        copy.flush().map_err(open_error)?;
        Ok(())
    }
}
