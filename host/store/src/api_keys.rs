//! Tenants' API keys, stored as SHA-256 hashes: a key is shown once, when
//! it is made, and cannot be read back. Revoked keys stay listed, marked.

use serde::{Deserialize, Serialize};

use crate::{Store, StoreError, keys};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    pub label: String,
    /// Hex SHA-256 of the key's secret part.
    #[serde(rename = "hash")]
    pub secret_sha256: String,
    pub created_at: i64,
    #[serde(default)]
    pub revoked_at: Option<i64>,
}

impl Store {
    pub fn put_api_key(&self, tenant: &str, key: &ApiKey) -> Result<(), StoreError> {
        let bytes =
            serde_json::to_vec(key).map_err(|source| StoreError::Decode { key: key.id.clone(), source })?;
        self.database.write(|trees| trees.turns.insert(keys::api_key(tenant, &key.id), bytes))?;
        self.durable()?;
        Ok(())
    }

    pub fn api_key(&self, tenant: &str, id: &str) -> Result<Option<ApiKey>, StoreError> {
        let key = keys::api_key(tenant, id);
        self.trees()?.turns.get(&key)?.map(|bytes| crate::conversations::decode(&key, &bytes)).transpose()
    }

    pub fn api_keys(&self, tenant: &str) -> Result<Vec<ApiKey>, StoreError> {
        self.trees()?
            .turns
            .scan_prefix(keys::api_keys(tenant))
            .map(|entry| {
                let (key, bytes) = entry?;
                crate::conversations::decode(&key, &bytes)
            })
            .collect()
    }
}
