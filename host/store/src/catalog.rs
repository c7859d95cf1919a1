//! The plugin catalog: builds an agency (the operator) publishes once, by
//! name and version, to install into many tenants. `k/{name}/{version}` in
//! the blobs tree, beside the components themselves; not any tenant's, so
//! no tenant key reads it.

use serde::{Deserialize, Serialize};

use crate::{Store, StoreError, keys};

/// One published build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEntry {
    pub name: String,
    /// Its manifest's semantic version.
    pub version: String,
    /// SHA-256 of the component.
    pub component: String,
    pub language: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When it was published (Unix ms).
    pub at: i64,
}

/// What publishing found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    New(CatalogEntry),
    /// The same build under the same name and version: nothing changed.
    Again(CatalogEntry),
    /// Another build holds that name and version: a version is published once.
    Taken(CatalogEntry),
}

impl Store {
    /// Put `entry` in the catalog, unless its name and version are taken.
    /// Its component must be stored already (`put_blob`).
    pub fn publish_to_catalog(&self, entry: CatalogEntry) -> Result<Published, StoreError> {
        let key = keys::catalog_entry(&entry.name, &entry.version);
        match self.insert_new_blob_key(&key, &entry)? {
            None => Ok(Published::New(entry)),
            Some(current) => {
                let held: CatalogEntry = crate::conversations::decode(&key, &current)?;
                Ok(if held.component == entry.component {
                    Published::Again(held)
                } else {
                    Published::Taken(held)
                })
            }
        }
    }

    /// Every entry, by name then version (as text).
    pub fn catalog(&self) -> Result<Vec<CatalogEntry>, StoreError> {
        self.trees()?
            .blobs
            .scan_prefix(keys::CATALOG_PREFIX)
            .map(|entry| {
                let (key, bytes) = entry?;
                crate::conversations::decode(&key, &bytes)
            })
            .collect()
    }

    /// One entry.
    pub fn catalog_entry(&self, name: &str, version: &str) -> Result<Option<CatalogEntry>, StoreError> {
        let key = keys::catalog_entry(name, version);
        self.trees()?.blobs.get(&key)?.map(|bytes| crate::conversations::decode(&key, &bytes)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(version: &str, component: &str) -> CatalogEntry {
        CatalogEntry {
            name: "deposit".into(),
            version: version.into(),
            component: component.into(),
            language: "rust".into(),
            description: None,
            at: 1,
        }
    }

    #[test]
    fn a_version_is_published_once_and_read_back_by_name_and_version() {
        let store = Store::temporary().expect("store");
        assert!(matches!(store.publish_to_catalog(entry("1.0.0", "a")), Ok(Published::New(_))));
        assert!(matches!(store.publish_to_catalog(entry("1.0.0", "a")), Ok(Published::Again(_))));
        assert!(
            matches!(store.publish_to_catalog(entry("1.0.0", "b")), Ok(Published::Taken(held)) if held.component == "a")
        );
        store.publish_to_catalog(entry("1.1.0", "b")).expect("published");
        let versions: Vec<String> =
            store.catalog().expect("read").into_iter().map(|entry| entry.version).collect();
        assert_eq!(versions, ["1.0.0", "1.1.0"]);
        assert_eq!(
            store.catalog_entry("deposit", "1.1.0").expect("read").map(|entry| entry.component),
            Some("b".into())
        );
        assert_eq!(store.catalog_entry("deposit", "9").expect("read"), None);
    }
}
