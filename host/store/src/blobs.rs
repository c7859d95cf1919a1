//! Components stored by content hash. The same bytes uploaded by two tenants
//! are stored once; which tenant may *use* them is recorded by their bindings.

use sha2::{Digest, Sha256};

use crate::{Store, StoreError};

impl Store {
    /// Store `bytes`, returning their SHA-256 (hex), which names them.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let hash = hex::encode(Sha256::digest(bytes));
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

    pub fn flow(&self, tenant: &str, version: &str) -> Result<Option<String>, StoreError> {
        let Some(hash) = self.trees()?.blobs.get(crate::keys::flow(tenant, version))? else {
            return Ok(None);
        };
        let bytes = self.blob(&String::from_utf8_lossy(&hash))?;
        Ok(bytes.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// The bytes named `hash`, checked against it.
    pub fn blob(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(bytes) = self.trees()?.blobs.get(hash.as_bytes())? else { return Ok(None) };
        let actual = hex::encode(Sha256::digest(&bytes));
        if actual != hash {
            return Err(StoreError::Corrupt { expected: hash.to_owned(), actual });
        }
        Ok(Some(bytes.to_vec()))
    }
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
}
