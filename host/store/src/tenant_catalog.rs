//! The tenant catalog: each tenant's directory (its `tenant.toml`, flow,
//! calendar, bindings, configs, components and channel secrets) as one
//! bundle under a revision, so every node that shares the store serves the
//! same tenants. The bundle is opaque here (the host seals it); a removed
//! tenant keeps its row, without a bundle, so a node that was away learns
//! of the removal.
//!
//! On sled, `m/{tenant}` in the blobs tree, beside the plugin catalog: the
//! operator's, never read with a tenant's key. The value is the revision
//! (`u64` big-endian), then the bundle, if the tenant is served.

use crate::{Store, StoreError, keys};

/// A tenant as the catalog lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRevision {
    pub tenant: String,
    /// Counts the tenant's publishes, from 1; a name never published is at 0.
    pub revision: u64,
    /// Removed at this revision: its nodes stop serving it.
    pub removed: bool,
}

/// What [`Store::publish_tenant`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publish {
    /// The catalog holds the new revision.
    Done(u64),
    /// The catalog holds another revision than the one the publish was
    /// based on (another node changed the tenant): nothing was written.
    Moved(u64),
}

fn encode(revision: u64, bundle: Option<&[u8]>) -> Vec<u8> {
    let mut value = revision.to_be_bytes().to_vec();
    value.extend_from_slice(bundle.unwrap_or_default());
    value
}

/// `(revision, bundle)`; an empty bundle is a removed tenant's.
fn decode(key: &[u8], value: &[u8]) -> Result<(u64, Option<Vec<u8>>), StoreError> {
    let damaged = || StoreError::Damaged { key: String::from_utf8_lossy(key).into_owned() };
    let (revision, bundle) = value.split_first_chunk::<8>().ok_or_else(damaged)?;
    Ok((u64::from_be_bytes(*revision), (!bundle.is_empty()).then(|| bundle.to_vec())))
}

impl Store {
    /// Every tenant the catalog has held, by name.
    pub fn tenant_revisions(&self) -> Result<Vec<TenantRevision>, StoreError> {
        // Keys sort by the name's length first (its prefix): sorted again.
        let mut tenants = self
            .trees()?
            .blobs
            .scan_prefix(keys::TENANT_CATALOG_PREFIX)
            .map(|entry| {
                let (key, value) = entry?;
                let tenant = keys::bundle_tenant(&key)
                    .ok_or_else(|| StoreError::Damaged { key: String::from_utf8_lossy(&key).into_owned() })?;
                let (revision, bundle) = decode(&key, &value)?;
                Ok(TenantRevision { tenant, revision, removed: bundle.is_none() })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        tenants.sort_by(|a, b| a.tenant.cmp(&b.tenant));
        Ok(tenants)
    }

    /// A served tenant's revision and bundle; `None` if it was never
    /// published or was removed.
    pub fn tenant_bundle(&self, tenant: &str) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        let key = keys::tenant_bundle(tenant);
        let Some(value) = self.trees()?.blobs.get(&key)? else { return Ok(None) };
        let (revision, bundle) = decode(&key, &value)?;
        Ok(bundle.map(|bundle| (revision, bundle)))
    }

    /// Publish `bundle` (`None`: the tenant is removed) as the revision
    /// after `based_on`, if the catalog still holds `based_on` (0 for a
    /// name never published). Durable when it returns `Done`.
    pub fn publish_tenant(
        &self,
        tenant: &str,
        based_on: u64,
        bundle: Option<&[u8]>,
    ) -> Result<Publish, StoreError> {
        if bundle.is_some_and(<[u8]>::is_empty) {
            return Err(StoreError::Damaged { key: format!("an empty bundle for tenant {tenant}") });
        }
        let key = keys::tenant_bundle(tenant);
        let current = self.trees()?.blobs.get(&key)?;
        let held = current.as_deref().map(|value| decode(&key, value)).transpose()?.map_or(0, |(at, _)| at);
        if held != based_on {
            return Ok(Publish::Moved(held));
        }
        let next = based_on + 1;
        let swapped = self.database.write(|trees| {
            trees.blobs.compare_and_swap(&key, current.as_deref(), Some(encode(next, bundle)))
        })?;
        match swapped {
            Ok(()) => {
                self.durable()?;
                Ok(Publish::Done(next))
            }
            Err(moved) => {
                let held = moved.current.as_deref().map(|value| decode(&key, value)).transpose()?;
                Ok(Publish::Moved(held.map_or(0, |(at, _)| at)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_name_with_a_slash_is_its_own_entry() {
        let store = Store::temporary().expect("store");
        assert_eq!(store.publish_tenant("a/b", 0, Some(b"x")).expect("writes"), Publish::Done(1));
        assert_eq!(store.publish_tenant("ab", 0, Some(b"y")).expect("writes"), Publish::Done(1));
        let names: Vec<String> =
            store.tenant_revisions().expect("reads").into_iter().map(|entry| entry.tenant).collect();
        assert_eq!(names, ["a/b", "ab"]);
    }
}
