//! The people who sign in to the console: each tenant's staff, their
//! sessions and one-time login links. Values are opaque here (the engine's
//! JSON, with password hashes, never passwords).
//!
//! - `t/{tenant}/sf/{id}`: a staff member.
//! - `s/{sha256 of the session token}`: a session, naming its tenant and
//!   person. Outside every tenant's prefix because a cookie names no
//!   tenant; the record does, and is checked on every request.
//! - `l/{sha256 of the link token}`: a one-time login link, taken (read and
//!   removed in one step) when used.
//!
//! Tokens are stored by hash only, so a copy of the database signs no one in.

use crate::batch::Batch;
use crate::{Store, StoreError, keys};

impl Store {
    pub fn staff_member(&self, tenant: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.trees()?.turns.get(keys::staff(tenant, id))?.map(|value| value.to_vec()))
    }

    /// Every staff member of `tenant`, by id.
    pub fn staff(&self, tenant: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let prefix = keys::staff_prefix(tenant);
        let mut staff = Vec::new();
        for entry in self.trees()?.turns.scan_prefix(&prefix) {
            let (key, value) = entry?;
            let id = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
            staff.push((id, value.to_vec()));
        }
        Ok(staff)
    }

    /// Add or replace a staff member, durably.
    pub fn put_staff_member(&self, tenant: &str, id: &str, record: &[u8]) -> Result<(), StoreError> {
        let mut batch = Batch::default();
        batch.insert(keys::staff(tenant, id), record);
        self.write(batch)
    }

    /// Remove a staff member and every session and link they hold, durably.
    pub fn remove_staff_member(
        &self,
        tenant: &str,
        id: &str,
        holds: impl Fn(&[u8]) -> bool,
    ) -> Result<bool, StoreError> {
        let existed = self.staff_member(tenant, id)?.is_some();
        let mut batch = Batch::default();
        batch.remove(keys::staff(tenant, id));
        self.stage_sessions_where(&mut batch, holds)?;
        self.write(batch)?;
        Ok(existed)
    }

    /// Remove the sessions and login links `expired` says are; how many.
    pub fn sweep_sessions(&self, expired: impl Fn(&[u8]) -> bool) -> Result<usize, StoreError> {
        let mut batch = Batch::default();
        let removed = self.stage_sessions_where(&mut batch, expired)?;
        if removed > 0 {
            self.write(batch)?;
        }
        Ok(removed)
    }

    /// Stage the removal of every session and login link whose record
    /// `which` picks; how many.
    fn stage_sessions_where(
        &self,
        batch: &mut Batch,
        which: impl Fn(&[u8]) -> bool,
    ) -> Result<usize, StoreError> {
        let mut staged = 0;
        for prefix in [keys::SESSION_PREFIX, keys::LOGIN_LINK_PREFIX] {
            for entry in self.trees()?.turns.scan_prefix(prefix) {
                let (key, value) = entry?;
                if which(&value) {
                    staged += 1;
                    batch.remove(key);
                }
            }
        }
        Ok(staged)
    }

    pub fn session(&self, token_hash: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.trees()?.turns.get(keys::session(token_hash))?.map(|value| value.to_vec()))
    }

    pub fn put_session(&self, token_hash: &[u8; 32], record: &[u8]) -> Result<(), StoreError> {
        let mut batch = Batch::default();
        batch.insert(keys::session(token_hash), record);
        self.write(batch)
    }

    pub fn remove_session(&self, token_hash: &[u8; 32]) -> Result<(), StoreError> {
        let mut batch = Batch::default();
        batch.remove(keys::session(token_hash));
        self.write(batch)
    }

    pub fn put_login_link(&self, token_hash: &[u8; 32], record: &[u8]) -> Result<(), StoreError> {
        let mut batch = Batch::default();
        batch.insert(keys::login_link(token_hash), record);
        self.write(batch)
    }

    /// Read and remove a login link in one step: of two requests racing
    /// with the same link, one gets it.
    pub fn take_login_link(&self, token_hash: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        let trees = self.writable()?;
        let taken =
            trees.turns.remove(keys::login_link(token_hash)).map_err(|error| self.failed(&trees, error))?;
        if taken.is_some() {
            self.durable()?;
        }
        Ok(taken.map(|value| value.to_vec()))
    }
}
