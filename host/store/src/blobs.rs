//! Components stored by content hash. The same bytes uploaded by two tenants
//! are stored once; which tenant may *use* them is recorded by their bindings.
//!
//! A blob of [`FILE_AT`] bytes or more (a component; Python and JavaScript
//! ones weigh 12-30 MB) is a file of its own, `components/{sha256}` in the
//! store's directory, written once, synced and renamed into place. In sled
//! it would be copied again each time sled cleans the log segment holding
//! it, which briefly doubles the store's size. Smaller blobs (flow sources)
//! stay in sled's `blobs` tree, as do large ones stored before this.

use std::io::Write;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::{Store, StoreError};

/// The size from which a blob is a file of its own.
pub(crate) const FILE_AT: usize = 256 * 1024;

/// The directory, in the store's, of the blobs that are files.
pub(crate) const COMPONENTS_DIR: &str = "components";

impl Store {
    /// Store `bytes`, returning their SHA-256 (hex), which names them.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let hash = hex::encode(Sha256::digest(bytes));
        if bytes.len() >= FILE_AT {
            self.writable()?;
            let path = self.blob_file(&hash).expect("a SHA-256 in hex names a file");
            write_once(&path, bytes).map_err(|source| StoreError::Blob { hash: hash.clone(), source })?;
            return Ok(hash);
        }
        let trees = self.writable()?;
        if trees.blobs.contains_key(hash.as_bytes())? {
            // Stored already (another tenant's, or an earlier start's):
            // writing it again would leave sled a second copy to collect.
            return Ok(hash);
        }
        drop(trees);
        self.database.write(|trees| trees.blobs.insert(hash.as_bytes(), bytes))?;
        Ok(hash)
    }

    /// Remember the source of a tenant's flow version, so conversations pinned
    /// to it can continue after the tenant moves on.
    pub fn put_flow(&self, tenant: &str, version: &str, source: &str) -> Result<(), StoreError> {
        let hash = self.put_blob(source.as_bytes())?;
        self.database
            .write(|trees| trees.blobs.insert(crate::keys::flow(tenant, version), hash.as_bytes()))?;
        Ok(())
    }

    /// Keep a plugin config `tenant` runs; its hash (SHA-256 of `text`, in
    /// hex). Under the tenant's own prefix, not a shared blob: a config may
    /// hold what only its tenant should, and it goes when the tenant does.
    pub fn put_plugin_config(&self, tenant: &str, text: &str) -> Result<String, StoreError> {
        let hash = hex::encode(Sha256::digest(text.as_bytes()));
        let key = crate::keys::plugin_config(tenant, &hash);
        self.database.write(|trees| trees.blobs.insert(key, text.as_bytes()))?;
        Ok(hash)
    }

    /// A plugin config of `tenant`'s, by its hash.
    pub fn plugin_config(&self, tenant: &str, hash: &str) -> Result<Option<String>, StoreError> {
        let text = self.trees()?.blobs.get(crate::keys::plugin_config(tenant, hash))?;
        Ok(text.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    }

    pub fn flow(&self, tenant: &str, version: &str) -> Result<Option<String>, StoreError> {
        let Some(hash) = self.trees()?.blobs.get(crate::keys::flow(tenant, version))? else {
            return Ok(None);
        };
        let bytes = self.blob(&String::from_utf8_lossy(&hash))?;
        Ok(bytes.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// The bytes named `hash`, checked against it.
    pub fn blob(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(path) = self.blob_file(hash).filter(|path| path.exists()) {
            let bytes =
                std::fs::read(&path).map_err(|source| StoreError::Blob { hash: hash.to_owned(), source })?;
            return checked(hash, bytes).map(Some);
        }
        let Some(bytes) = self.trees()?.blobs.get(hash.as_bytes())? else { return Ok(None) };
        checked(hash, bytes.to_vec()).map(Some)
    }

    /// Where the blob named `hash` is, if it is a file: only a SHA-256 in
    /// hex names one, so no name reaches outside the directory.
    fn blob_file(&self, hash: &str) -> Option<PathBuf> {
        is_sha256(hash.as_bytes()).then(|| self.dir.join(COMPONENTS_DIR).join(hash))
    }
}

/// Whether `name` is a SHA-256 in hex, as every blob's name is.
pub(crate) fn is_sha256(name: &[u8]) -> bool {
    name.len() == 64 && name.iter().all(u8::is_ascii_hexdigit)
}

/// Remove the component files a crash left half-written under `dir`;
/// their blobs were never reported stored.
pub(crate) fn remove_partials(dir: &std::path::Path) -> std::io::Result<usize> {
    let entries = match std::fs::read_dir(dir.join(COMPONENTS_DIR)) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err(error),
    };
    let mut removed = 0;
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|extension| extension == "partial") {
            std::fs::remove_file(&path)?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// `bytes`, if they are what `hash` names.
fn checked(hash: &str, bytes: Vec<u8>) -> Result<Vec<u8>, StoreError> {
    let actual = hex::encode(Sha256::digest(&bytes));
    if actual != hash {
        return Err(StoreError::Corrupt { expected: hash.to_owned(), actual });
    }
    Ok(bytes)
}

/// Write `bytes` to `path` unless a file of their length is there: through
/// a `.partial` file of its own (two tenants loading the same component
/// at once each write one), synced, renamed into place (the same bytes,
/// whichever lands last), and the directory synced.
fn write_once(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    if std::fs::metadata(path).is_ok_and(|meta| meta.len() == bytes.len() as u64) {
        return Ok(());
    }
    let dir = path.parent().ok_or(std::io::ErrorKind::InvalidInput)?;
    std::fs::create_dir_all(dir)?;
    // Removed on drop if anything below fails.
    let mut partial = tempfile::Builder::new().suffix(".partial").tempfile_in(dir)?;
    partial.write_all(bytes)?;
    partial.as_file().sync_all()?;
    partial.persist(path).map_err(|error| error.error)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use crate::Store;

    #[test]
    fn blobs_round_trip_by_hash() -> anyhow::Result<()> {
        let store = Store::temporary()?;
        let hash = store.put_blob(b"\0asm")?;
        assert_eq!(store.blob(&hash)?, Some(b"\0asm".to_vec()));
        assert_eq!(store.blob("00")?, None);
        Ok(())
    }

    #[test]
    fn a_component_is_a_file_of_its_own_written_once_and_checked_on_read() -> anyhow::Result<()> {
        let store = Store::temporary()?;
        let component = vec![7_u8; super::FILE_AT];
        let hash = store.put_blob(&component)?;
        let path = store.dir.join(super::COMPONENTS_DIR).join(&hash);
        assert_eq!(std::fs::read(&path)?, component, "a file named by its hash");
        assert!(store.trees()?.blobs.get(hash.as_bytes())?.is_none(), "not in sled");
        assert_eq!(store.blob(&hash)?, Some(component.clone()));
        assert_eq!(store.put_blob(&component)?, hash, "stored once");

        let mut damaged = component.clone();
        damaged[0] = 8;
        std::fs::write(&path, &damaged)?;
        assert!(matches!(store.blob(&hash), Err(crate::StoreError::Corrupt { .. })));
        assert_eq!(store.blob("../../etc/passwd")?, None, "only a hash names a file");
        Ok(())
    }

    #[test]
    fn tenants_storing_the_same_component_at_once_each_get_it_whole() -> anyhow::Result<()> {
        let store = Store::temporary()?;
        let component: Vec<u8> = (0..2 * super::FILE_AT).map(|index| index as u8).collect();
        let hashes: Vec<String> = std::thread::scope(|scope| {
            let writers: Vec<_> = (0..4).map(|_| scope.spawn(|| store.put_blob(&component))).collect();
            writers.into_iter().map(|writer| writer.join().expect("joined")).collect::<Result<_, _>>()
        })?;
        assert!(hashes.iter().all(|hash| *hash == hashes[0]));
        assert_eq!(store.blob(&hashes[0])?, Some(component));
        let left = std::fs::read_dir(store.dir.join(super::COMPONENTS_DIR))?.count();
        assert_eq!(left, 1, "one file, no .partial left behind");
        Ok(())
    }

    #[test]
    fn a_component_file_a_crash_left_half_written_is_removed_on_open() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("data");
        drop(Store::open(&path)?);
        let partial = path.join(super::COMPONENTS_DIR).join(format!("{}.partial", "ab".repeat(32)));
        std::fs::create_dir_all(partial.parent().expect("a directory"))?;
        std::fs::write(&partial, b"half a component")?;
        let _store = Store::open(&path)?;
        assert!(!partial.exists());
        Ok(())
    }
}
