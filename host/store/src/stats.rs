//! What the store holds, per tenant and per kind, for `switchboard store
//! stats`, and rewriting it whole for `switchboard store compact`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::{Store, StoreError, keys};

/// Where `switchboard store compact` builds the rewritten store and sets
/// the old one aside, beside the store's directory. While either exists,
/// the store does not open (a compaction was cut short; the command
/// finishes or undoes it).
#[derive(Debug, Clone)]
pub struct Compaction {
    pub fresh: PathBuf,
    pub old: PathBuf,
}

impl Compaction {
    pub fn of(path: &Path) -> Self {
        let sibling = |suffix: &str| {
            let mut name = path.file_name().map(std::ffi::OsStr::to_os_string).unwrap_or_default();
            name.push(suffix);
            path.with_file_name(name)
        };
        Self { fresh: sibling(".compacting"), old: sibling(".before-compact") }
    }
}

/// Keys and bytes (of keys and values) of one kind of record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub keys: u64,
    pub bytes: u64,
}

impl std::iter::Sum for Usage {
    fn sum<I: Iterator<Item = Self>>(usages: I) -> Self {
        usages.fold(Self::default(), |sum, usage| Self {
            keys: sum.keys + usage.keys,
            bytes: sum.bytes + usage.bytes,
        })
    }
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
        self.tenants.get(tenant).map_or_else(Usage::default, |kinds| kinds.values().copied().sum())
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
    /// `dest` (which must not exist), synced and checked: sled writes a
    /// database it rewrites this way without the space its log has not yet
    /// reclaimed. The new one's sequence numbers go on from this one's.
    /// `progress` is called with the keys copied so far. The timer log and
    /// the component files are not copied: they are directories of their own.
    pub fn rewrite_into(&self, dest: &Path, mut progress: impl FnMut(u64)) -> Result<(), StoreError> {
        let open_error = |source| StoreError::Open { path: dest.display().to_string(), source };
        if dest.exists() {
            return Err(open_error(sled::Error::Unsupported(
                "the rewrite's destination exists already".into(),
            )));
        }
        let trees = self.trees()?;
        let copy = sled::Config::new()
            .path(dest)
            .cache_capacity(crate::database::CACHE_BYTES)
            .open()
            .map_err(open_error)?;
        let mut copied = 0_u64;
        for name in trees.db.tree_names() {
            let (from, to) = (trees.db.open_tree(&name)?, copy.open_tree(&name).map_err(open_error)?);
            for entry in from.iter() {
                let (key, value) = entry?;
                to.insert(key, value).map_err(open_error)?;
                copied += 1;
                if copied.is_multiple_of(4096) {
                    progress(copied);
                }
            }
        }
        progress(copied);
        // Event records, outbox entries and redo records are named by
        // sequence numbers: the copy must never hand out one in use.
        let next = trees.db.generate_id()?;
        while copy.generate_id().map_err(open_error)? < next {}
        copy.flush().map_err(open_error)?;
        let (expected, actual) = (trees.db.checksum()?, copy.checksum().map_err(open_error)?);
        if expected != actual {
            return Err(StoreError::Corrupt {
                expected: format!("checksum {expected:08x} of the store"),
                actual: format!("{actual:08x} in its rewrite at {}", dest.display()),
            });
        }
        Ok(())
    }
}
