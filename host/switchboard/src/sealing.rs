//! The operator's secrets key, and what it seals: every tenant's bundle in
//! the tenant catalog, channel secrets included, so the store (sled or
//! PostgreSQL) never holds a secret in the clear.
//!
//! XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`): a random 192-bit
//! nonce per seal, so nonces never need coordinating across nodes, and a
//! context (the tenant's name) as associated data, so a bundle moved under
//! another tenant's name does not open. A sealed value starts with the
//! key's id (the first bytes of its SHA-256), so a node with the wrong key
//! says so instead of "corrupt".
//!
//! The key comes from `SWITCHBOARD_SECRETS_KEY` (64 hex digits, the same on
//! every node of a deployment) or, on the embedded store, from
//! `secrets.key` beside the data, made on first start.

use std::fmt;
use std::path::Path;

use anyhow::Context;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

/// Where a deployment's nodes find the key.
pub const KEY_VAR: &str = "SWITCHBOARD_SECRETS_KEY";

/// The key file the embedded store keeps beside its data.
pub const KEY_FILE: &str = "secrets.key";

const MAGIC: &[u8; 4] = b"SBS1";
const ID_LEN: usize = 8;
const NONCE_LEN: usize = 24;

/// A 256-bit key. Never printed: `Debug` shows its id only.
#[derive(Clone)]
pub struct SecretsKey {
    key: [u8; 32],
    id: [u8; ID_LEN],
}

/// Why a sealed value did not open.
#[derive(Debug, thiserror::Error)]
pub enum Unsealed {
    #[error("it is not a sealed value")]
    NotSealed,
    #[error(
        "it was sealed with another key (id {sealed_with}; this node's is {ours}): start every node with the same {KEY_VAR}"
    )]
    OtherKey { sealed_with: String, ours: String },
    #[error("it failed its integrity check: altered, or moved from another tenant")]
    Altered,
}

impl SecretsKey {
    fn new(key: [u8; 32]) -> Self {
        let digest = Sha256::digest(key);
        let mut id = [0; ID_LEN];
        id.copy_from_slice(&digest[..ID_LEN]);
        Self { key, id }
    }

    /// A fresh random key.
    pub fn generate() -> anyhow::Result<Self> {
        let mut key = [0; 32];
        getrandom::fill(&mut key).map_err(|error| anyhow::anyhow!("no randomness for a key: {error}"))?;
        Ok(Self::new(key))
    }

    /// A key written as 64 hex digits.
    pub fn from_hex(text: &str) -> anyhow::Result<Self> {
        let bytes = hex::decode(text.trim())
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .context("a secrets key is 64 hex digits; make one with `switchboard secrets-key`")?;
        Ok(Self::new(bytes))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.key)
    }

    /// The key's id: safe to print, the same for the same key.
    pub fn id(&self) -> String {
        hex::encode(self.id)
    }

    /// The key in `SWITCHBOARD_SECRETS_KEY`, if set.
    pub fn from_env() -> anyhow::Result<Option<Self>> {
        match std::env::var(KEY_VAR) {
            Ok(text) => Self::from_hex(&text).context(KEY_VAR).map(Some),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(error) => Err(error).context(KEY_VAR),
        }
    }

    /// The key in `dir/secrets.key`, made (readable by this user only) if
    /// there is none yet.
    pub fn in_dir(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => return Self::from_hex(&text).with_context(|| format!("{}", path.display())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
        }
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let key = Self::generate()?;
        // Written whole beside, then linked into place: a reader never sees
        // half a key, and of two processes making one, the first wins.
        let partial = dir.join(format!("{KEY_FILE}.{}.partial", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let written = options.open(&partial).and_then(|mut file| {
            use std::io::Write;
            file.write_all(format!("{}\n", key.to_hex()).as_bytes())?;
            file.sync_all()
        });
        let linked = written.and_then(|()| std::fs::hard_link(&partial, &path));
        let _ = std::fs::remove_file(&partial);
        match linked {
            Ok(()) => Ok(key),
            // Another process made it first: use theirs.
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Self::in_dir(dir),
            Err(error) => Err(error).with_context(|| format!("writing {}", path.display())),
        }
    }

    /// `plaintext` sealed, bound to `context`.
    pub fn seal(&self, context: &[u8], plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut nonce = [0; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|error| anyhow::anyhow!("no randomness for a nonce: {error}"))?;
        let cipher = XChaCha20Poly1305::new(&self.key.into());
        let sealed = cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad: context })
            .map_err(|_| anyhow::anyhow!("sealing failed"))?;
        let mut out = Vec::with_capacity(MAGIC.len() + ID_LEN + NONCE_LEN + sealed.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// What [`SecretsKey::seal`] sealed with this key and `context`.
    pub fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, Unsealed> {
        let rest = sealed.strip_prefix(MAGIC.as_slice()).ok_or(Unsealed::NotSealed)?;
        let (id, rest) = rest.split_at_checked(ID_LEN).ok_or(Unsealed::NotSealed)?;
        if id != self.id {
            return Err(Unsealed::OtherKey { sealed_with: hex::encode(id), ours: self.id() });
        }
        let (nonce, ciphertext) = rest.split_at_checked(NONCE_LEN).ok_or(Unsealed::NotSealed)?;
        let cipher = XChaCha20Poly1305::new(&self.key.into());
        cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: context })
            .map_err(|_| Unsealed::Altered)
    }
}

impl fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsKey").field("id", &self.id()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_with_its_key_and_context_only() {
        let key = SecretsKey::generate().expect("a key");
        let sealed = key.seal(b"acme", b"token=s3cret").expect("seals");
        assert!(!sealed.windows(6).any(|window| window == b"s3cret"), "the secret is not in the clear");
        assert_eq!(key.open(b"acme", &sealed).expect("opens"), b"token=s3cret");
        assert!(matches!(key.open(b"other", &sealed), Err(Unsealed::Altered)));
        let other = SecretsKey::generate().expect("a key");
        assert!(matches!(other.open(b"acme", &sealed), Err(Unsealed::OtherKey { .. })));
        let mut flipped = sealed.clone();
        *flipped.last_mut().expect("bytes") ^= 1;
        assert!(matches!(key.open(b"acme", &flipped), Err(Unsealed::Altered)));
        assert!(matches!(key.open(b"acme", b"plain"), Err(Unsealed::NotSealed)));
        assert!(!format!("{key:?}").contains(&key.to_hex()), "Debug never shows the key");
    }

    #[test]
    fn the_key_file_is_made_once_and_read_back() {
        let dir = tempfile::tempdir().expect("a dir");
        let made = SecretsKey::in_dir(dir.path()).expect("made");
        let read = SecretsKey::in_dir(dir.path()).expect("read");
        assert_eq!(made.to_hex(), read.to_hex());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE)).expect("there").permissions().mode();
            assert_eq!(mode & 0o077, 0, "only its owner reads it");
        }
        assert!(SecretsKey::from_hex("abc").is_err());
    }
}
