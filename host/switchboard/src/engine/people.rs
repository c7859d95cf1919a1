//! The people who use the console: each tenant's staff (agents and tenant
//! admins) with argon2-hashed passwords or one-time login links, and
//! sessions for them and for the operator. API keys stay for machines.
//!
//! A session token is 32 random bytes, given to the browser once in an
//! HttpOnly cookie and stored only as its SHA-256, like a login link's.
//! Every request re-reads the session's person: a removed staff member or
//! a changed role takes effect on their next request, not at expiry.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Engine, EngineError};

/// How long a session lasts.
pub const SESSION_MS: i64 = 12 * 60 * 60 * 1000;
/// How long a login link stays usable.
pub const LINK_MS: i64 = 15 * 60 * 1000;

/// What a person may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Works the inbox and reads the dashboard of their tenant.
    Agent,
    /// What an agent does, and everything the tenant's API key does.
    Admin,
    /// The host's operator: every tenant's overview, no tenant's inbox.
    Operator,
}

/// A tenant's staff member, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StaffMember {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// An argon2 PHC string; none for someone who signs in by link only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    password: Option<String>,
    pub created_at: i64,
    /// Random, new when the person is added and when their password
    /// changes. Sessions and links carry it, so none outlives the person it
    /// was made for: a removed and re-added id, a tenant's name reused, a
    /// password reset.
    #[serde(default)]
    nonce: String,
    /// Added by `serve --demo` with a published password: it signs in only
    /// while the server runs as the demo.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub demo: bool,
    /// Their own messenger identities (`telegram:5551234`), where handoffs
    /// and approval requests reach them with buttons (`staff_channels.rs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<String>,
}

impl StaffMember {
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }
}

/// A signed-in person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub role: Role,
    /// None for the operator.
    pub tenant: Option<String>,
    pub staff: Option<String>,
    pub name: String,
    /// Sent back by the console in `X-CSRF-Token` on every change.
    pub csrf: String,
    pub expires_at: i64,
    /// The person's nonce when it was opened (the operator's: a hash of
    /// the admin key); it must still match.
    #[serde(default)]
    nonce: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct LoginLink {
    tenant: String,
    staff: String,
    expires_at: i64,
    #[serde(default)]
    nonce: String,
}

/// A new random token, hex.
pub fn token() -> Result<String, EngineError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|error| EngineError::Busy(format!("no randomness: {error}")))?;
    Ok(hex::encode(bytes))
}

fn hashed(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Staff ids are what people type to sign in: short, plain.
pub fn valid_staff_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'))
}

fn hash_password(password: &str) -> Result<String, EngineError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|error| EngineError::Busy(format!("no randomness: {error}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|error| EngineError::Busy(error.to_string()))?;
    let hash = argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|error| EngineError::Busy(format!("could not hash the password: {error}")))?;
    Ok(hash.to_string())
}

/// Checked against a real hash when the person does not exist, so a wrong
/// name takes as long as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not anyone's password").unwrap_or_default())
}

fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .is_ok_and(|parsed| argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

impl Engine {
    /// Add or change a staff member; `password` None keeps theirs. A new
    /// person or a new password gets a new nonce, ending every session and
    /// link made before. `demo`: added by `serve --demo`.
    #[allow(clippy::too_many_arguments)]
    pub fn put_staff(
        &self,
        tenant: &str,
        id: &str,
        name: &str,
        role: Role,
        password: Option<&str>,
        demo: bool,
        now: i64,
    ) -> Result<StaffMember, EngineError> {
        self.tenant(tenant)?;
        let old = self.staff_member(tenant, id)?;
        let nonce = match (&old, password) {
            (Some(old), None) => old.nonce.clone(),
            _ => token()?,
        };
        let password = match password {
            Some(password) => Some(hash_password(password)?),
            None => old.as_ref().and_then(|old| old.password.clone()),
        };
        let member = StaffMember {
            id: id.to_owned(),
            name: name.to_owned(),
            role,
            password,
            created_at: old.as_ref().map_or(now, |old| old.created_at),
            nonce,
            demo,
            contacts: old.map(|old| old.contacts).unwrap_or_default(),
        };
        self.store_staff(tenant, &member)?;
        Ok(member)
    }

    pub(super) fn store_staff(&self, tenant: &str, member: &StaffMember) -> Result<(), EngineError> {
        let bytes = serde_json::to_vec(member).map_err(|error| EngineError::Busy(error.to_string()))?;
        self.store.put_staff_member(tenant, &member.id, &bytes)?;
        Ok(())
    }

    pub fn staff_member(&self, tenant: &str, id: &str) -> Result<Option<StaffMember>, EngineError> {
        Ok(self.store.staff_member(tenant, id)?.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    pub fn staff(&self, tenant: &str) -> Result<Vec<StaffMember>, EngineError> {
        Ok(self
            .store
            .staff(tenant)?
            .into_iter()
            .filter_map(|(_, bytes)| serde_json::from_slice(&bytes).ok())
            .collect())
    }

    /// Remove a staff member and end their sessions and links; whether they existed.
    pub fn remove_staff(&self, tenant: &str, id: &str) -> Result<bool, EngineError> {
        // Sessions and links name their person the same way.
        #[derive(Deserialize)]
        struct Holder {
            tenant: Option<String>,
            staff: Option<String>,
        }
        let holds = |bytes: &[u8]| {
            serde_json::from_slice::<Holder>(bytes).is_ok_and(|holder| {
                holder.tenant.as_deref() == Some(tenant) && holder.staff.as_deref() == Some(id)
            })
        };
        Ok(self.store.remove_staff_member(tenant, id, &holds)?)
    }

    /// Sign a staff member in with their password: a new session token,
    /// or None for a wrong name or password (which take equally long).
    /// `demo`: the server runs as the demo, so the demo's people may.
    pub fn sign_in(
        &self,
        tenant: &str,
        id: &str,
        password: &str,
        demo: bool,
        now: i64,
    ) -> Result<Option<(String, Session)>, EngineError> {
        let member = match self.tenant(tenant) {
            Ok(_) => self.staff_member(tenant, id)?,
            Err(EngineError::UnknownTenant(_) | EngineError::Unavailable(_)) => None,
            Err(error) => return Err(error),
        };
        let hash = member.as_ref().and_then(|member| member.password.as_deref());
        let matches = verify(password, hash.unwrap_or_else(|| dummy_hash()));
        match member {
            Some(member) if matches && hash.is_some() && (demo || !member.demo) => {
                self.open_session(Some(tenant), &member, now).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// The operator's session (the handler checked `admin_key`, which the
    /// session stays bound to: a new key ends it).
    pub fn sign_in_operator(&self, admin_key: &str, now: i64) -> Result<(String, Session), EngineError> {
        let operator = StaffMember {
            id: String::new(),
            name: "operator".to_owned(),
            role: Role::Operator,
            password: None,
            created_at: now,
            nonce: operator_nonce(admin_key),
            demo: false,
            contacts: Vec::new(),
        };
        self.open_session(None, &operator, now)
    }

    fn open_session(
        &self,
        tenant: Option<&str>,
        member: &StaffMember,
        now: i64,
    ) -> Result<(String, Session), EngineError> {
        let token = token()?;
        let session = Session {
            role: member.role,
            tenant: tenant.map(str::to_owned),
            staff: tenant.map(|_| member.id.clone()),
            name: member.name.clone(),
            csrf: self::token()?,
            expires_at: now + SESSION_MS,
            nonce: member.nonce.clone(),
        };
        let bytes = serde_json::to_vec(&session).map_err(|error| EngineError::Busy(error.to_string()))?;
        self.store.put_session(&hashed(&token), &bytes)?;
        Ok((token, session))
    }

    /// A one-time login link's token for a staff member.
    pub fn login_link(&self, tenant: &str, id: &str, now: i64) -> Result<Option<String>, EngineError> {
        let Some(member) = self.staff_member(tenant, id)? else { return Ok(None) };
        let token = token()?;
        let link = LoginLink {
            tenant: tenant.to_owned(),
            staff: id.to_owned(),
            expires_at: now + LINK_MS,
            nonce: member.nonce,
        };
        let bytes = serde_json::to_vec(&link).map_err(|error| EngineError::Busy(error.to_string()))?;
        self.store.put_login_link(&hashed(&token), &bytes)?;
        Ok(Some(token))
    }

    /// Use a login link, once: a new session, or None if it is unknown,
    /// used or expired, or not for the person now under its name.
    pub fn use_login_link(
        &self,
        link: &str,
        demo: bool,
        now: i64,
    ) -> Result<Option<(String, Session)>, EngineError> {
        let Some(bytes) = self.store.take_login_link(&hashed(link))? else { return Ok(None) };
        let Ok(link) = serde_json::from_slice::<LoginLink>(&bytes) else { return Ok(None) };
        if link.expires_at < now || self.tenant(&link.tenant).is_err() {
            return Ok(None);
        }
        let Some(member) = self.staff_member(&link.tenant, &link.staff)? else { return Ok(None) };
        if member.nonce != link.nonce || (member.demo && !demo) {
            return Ok(None);
        }
        self.open_session(Some(&link.tenant), &member, now).map(Some)
    }

    /// The session a cookie's token opens, as it stands now: None if it is
    /// unknown or expired, or was opened for someone no longer there (a
    /// person removed, re-added or given a new password, a tenant's name
    /// reused, the operator's key changed). A staff member's current name
    /// and role replace the stored ones. Reads only: it runs on every
    /// request; expired sessions are left to `sweep_sessions`.
    pub fn session(
        &self,
        token: &str,
        admin_key: Option<&str>,
        now: i64,
    ) -> Result<Option<Session>, EngineError> {
        let Some(bytes) = self.store.session(&hashed(token))? else { return Ok(None) };
        let Ok(mut session) = serde_json::from_slice::<Session>(&bytes) else { return Ok(None) };
        if session.expires_at < now {
            return Ok(None);
        }
        match (session.role, session.tenant.as_deref(), session.staff.as_deref()) {
            (Role::Operator, None, None) => {
                if admin_key.is_none_or(|key| operator_nonce(key) != session.nonce) {
                    return Ok(None);
                }
            }
            (Role::Agent | Role::Admin, Some(tenant), Some(staff)) => {
                if self.tenant(tenant).is_err() {
                    return Ok(None);
                }
                let Some(member) = self.staff_member(tenant, staff)? else { return Ok(None) };
                if member.nonce != session.nonce || member.role == Role::Operator {
                    return Ok(None);
                }
                session.role = member.role;
                session.name = member.name;
            }
            _ => return Ok(None),
        }
        Ok(Some(session))
    }

    pub fn sign_out(&self, token: &str) -> Result<(), EngineError> {
        Ok(self.store.remove_session(&hashed(token))?)
    }

    /// Remove expired sessions and login links; how many.
    pub fn sweep_sessions(&self, now: i64) -> Result<usize, EngineError> {
        #[derive(Deserialize)]
        struct Expiry {
            expires_at: i64,
        }
        let expired = |bytes: &[u8]| {
            serde_json::from_slice::<Expiry>(bytes).is_ok_and(|record| record.expires_at < now)
        };
        Ok(self.store.sweep_sessions(&expired)?)
    }
}

/// What an operator's session is bound to: a hash of the admin key.
fn operator_nonce(admin_key: &str) -> String {
    hex::encode(Sha256::digest(format!("switchboard operator session\n{admin_key}").as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_hash_verifies_its_password_only() {
        let hash = hash_password("correct horse").expect("hashed");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify("correct horse", &hash));
        assert!(!verify("correct horse ", &hash));
        assert!(!verify("correct horse", "not a hash"));
    }

    #[test]
    fn staff_ids_are_plain() {
        assert!(valid_staff_id("lilit.m-2"));
        assert!(!valid_staff_id(""));
        assert!(!valid_staff_id("a/b"));
        assert!(!valid_staff_id(&"x".repeat(65)));
    }
}
