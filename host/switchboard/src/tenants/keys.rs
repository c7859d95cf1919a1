//! API keys: each tenant's own keys, minted here, shown once, stored as
//! SHA-256 hashes, revocable; and the operator's bootstrap `api_token` from
//! tenant.toml, listed and revoked beside them.
//!
//! A tenant key reads `sbk_{id}_{secret}`: the id finds the record (under
//! the tenant's prefix, so another tenant's key finds nothing), and the
//! secret's hash is compared in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use switchboard_store::ApiKey;

use super::{ControlError, ControlPlane};
use crate::engine::Engine;
use crate::scheduler::{Clock, SystemClock};
use crate::tenant::token_sha256;

const PREFIX: &str = "sbk_";

/// The id under which the operator's bootstrap `api_token` is listed and revoked.
pub const BOOTSTRAP: &str = "bootstrap";
const BOOTSTRAP_LABEL: &str = "api_token in tenant.toml";

/// A key as its tenant sees it: never its secret or hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub id: String,
    pub label: String,
    /// `None` for the bootstrap token, which the operator wrote.
    pub created_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A key just made: the only time its secret is seen.
#[derive(Debug)]
pub struct MintedKey {
    pub info: KeyInfo,
    pub key: String,
}

impl ControlPlane {
    /// Whether `presented` opens `tenant`'s API: its bootstrap token, unless
    /// revoked, or one of its live stored keys. Compared in constant time;
    /// a tenant that is not served has no bootstrap token to match.
    pub fn key_opens(&self, tenant: &str, presented: &str) -> bool {
        self.key_holder(tenant, presented).is_some()
    }

    /// Which key of `tenant` `presented` is: `bootstrap` for the operator's
    /// `api_token`, or a stored key's id; `None` if it opens nothing.
    pub fn key_holder(&self, tenant: &str, presented: &str) -> Option<String> {
        let by_token = self.engine.tenant(tenant).is_ok_and(|found| {
            found
                .api_token
                .as_ref()
                .is_some_and(|token| bool::from(presented.as_bytes().ct_eq(token.as_bytes())))
        });
        if by_token {
            return Some(BOOTSTRAP.to_owned());
        }
        self.stored_key_opens(tenant, presented)
    }

    fn stored_key_opens(&self, tenant: &str, presented: &str) -> Option<String> {
        let (id, secret) = presented.strip_prefix(PREFIX).and_then(|rest| rest.split_once('_'))?;
        let record = self.engine.api_key(tenant, id).ok()??;
        let opens = record.revoked_at.is_none()
            && bool::from(sha256_hex(secret).as_bytes().ct_eq(record.secret_sha256.as_bytes()));
        opens.then(|| id.to_owned())
    }

    /// Make a key for `tenant`, stored on disk before it is returned. Blocking.
    pub fn mint_key(&self, tenant: &str, label: &str) -> Result<MintedKey, ControlError> {
        // Under the lifecycle lock: a key stored while the tenant is being
        // removed would outlive it, under a name a new tenant may take.
        let _one_at_a_time = super::edit::one_at_a_time(tenant);
        self.engine.tenant(tenant)?;
        mint(&self.engine, tenant, label)
    }

    /// A tenant's keys, the bootstrap token first if it has one. Blocking.
    pub fn keys(&self, tenant: &str) -> Result<Vec<KeyInfo>, ControlError> {
        let bootstrap = self.engine.tenant(tenant)?.api_token.is_some();
        let stored = self.engine.api_keys(tenant)?;
        let bootstrap = bootstrap.then(|| KeyInfo {
            id: BOOTSTRAP.to_owned(),
            label: BOOTSTRAP_LABEL.to_owned(),
            created_at: None,
            revoked_at: None,
        });
        Ok(bootstrap.into_iter().chain(stored.iter().map(info)).collect())
    }

    /// Revoke a key: it stops working at once. The bootstrap token's hash
    /// goes into the tenant's `managed.toml`, so it stays revoked across
    /// restarts until the operator sets another token. Blocking.
    pub fn revoke_key(&self, tenant: &str, id: &str) -> Result<KeyInfo, ControlError> {
        if id == BOOTSTRAP {
            // The token is read under the edit's lock, so a reload that
            // rotated it meanwhile is the one revoked.
            self.edit(tenant, move |current, managed, _| {
                let Some(token) = &current.api_token else {
                    return Err(ControlError::UnknownKey("the bootstrap token is not in use"));
                };
                managed.revoked_api_token_sha256 = Some(token_sha256(token));
                Ok(())
            })?;
            return Ok(KeyInfo {
                id: BOOTSTRAP.to_owned(),
                label: BOOTSTRAP_LABEL.to_owned(),
                created_at: None,
                revoked_at: Some(now()),
            });
        }
        let _one_at_a_time = super::edit::one_at_a_time(tenant);
        self.engine.tenant(tenant)?;
        let Some(mut key) = self.engine.api_key(tenant, id)? else {
            return Err(ControlError::UnknownKey("no such key"));
        };
        key.revoked_at.get_or_insert_with(now);
        self.engine.put_api_key(tenant, &key)?;
        Ok(info(&key))
    }
}

/// Make a key for `tenant` and store it, served or not (a tenant being
/// created gets its first key before it is served).
pub(super) fn mint(engine: &Engine, tenant: &str, label: &str) -> Result<MintedKey, ControlError> {
    let mut random = [0_u8; 36];
    getrandom::fill(&mut random).map_err(|error| {
        tracing::error!(%error, "no randomness for a new key");
        ControlError::NoRandomness
    })?;
    let (id, secret) = (hex::encode(&random[..4]), hex::encode(&random[4..]));
    let record = ApiKey {
        id: id.clone(),
        label: label.to_owned(),
        secret_sha256: sha256_hex(&secret),
        created_at: now(),
        revoked_at: None,
    };
    engine.put_api_key(tenant, &record)?;
    Ok(MintedKey { info: info(&record), key: format!("{PREFIX}{id}_{secret}") })
}

fn info(key: &ApiKey) -> KeyInfo {
    KeyInfo {
        id: key.id.clone(),
        label: key.label.clone(),
        created_at: Some(key.created_at),
        revoked_at: key.revoked_at,
    }
}

fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// When a key is made or revoked: the system clock the scheduler keeps.
fn now() -> i64 {
    SystemClock.now_ms()
}
