//! Which store a command opens: `sled:DIR` (the embedded default) or a
//! PostgreSQL URL, as `serve --store` and `store migrate` take them.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use switchboard_store::{Backend, Store};
use switchboard_store_postgres::PgStore;

/// A store to open. Its `Debug` is its `Display`: a password never shows.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreUrl {
    Sled(PathBuf),
    Postgres(String),
}

impl FromStr for StoreUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(dir) = text.strip_prefix("sled:") {
            if dir.is_empty() {
                return Err("`sled:` needs a directory: sled:.switchboard/data".to_owned());
            }
            return Ok(Self::Sled(PathBuf::from(dir)));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(Self::Postgres(text.to_owned()));
        }
        Err(format!(
            "`{text}` names no store: use sled:DIR (the embedded store) or postgres://user@host:port/database"
        ))
    }
}

impl std::fmt::Display for StoreUrl {
    /// The store, without a password a PostgreSQL URL may carry.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sled(dir) => write!(f, "sled:{}", dir.display()),
            Self::Postgres(url) => {
                let masked = url.split_once("://").and_then(|(scheme, rest)| {
                    let (credentials, host) = rest.split_once('@')?;
                    let (user, _password) = credentials.split_once(':')?;
                    Some(format!("{scheme}://{user}:***@{host}"))
                });
                f.write_str(masked.as_deref().unwrap_or(url))
            }
        }
    }
}

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl StoreUrl {
    /// Open it: sled's directory is created if missing; PostgreSQL's schema
    /// is migrated to this version.
    /// The operator's key that seals what this store holds of tenants'
    /// secrets: `SWITCHBOARD_SECRETS_KEY`, or on the embedded store the key
    /// file beside its data (made on first start). Many nodes share one
    /// key, so a shared store takes it from the environment only.
    pub fn secrets_key(&self) -> anyhow::Result<crate::sealing::SecretsKey> {
        use crate::sealing::{KEY_VAR, SecretsKey};
        if let Some(key) = SecretsKey::from_env()? {
            return Ok(key);
        }
        match self {
            Self::Sled(dir) => SecretsKey::in_dir(dir),
            Self::Postgres(_) => anyhow::bail!(
                "a store that many nodes share needs the operator's secrets key, the same on every node: \
                 make one with `switchboard secrets-key` and set {KEY_VAR} to it on each node"
            ),
        }
    }

    pub fn open(&self) -> anyhow::Result<Arc<dyn Backend>> {
        Ok(match self {
            Self::Sled(dir) => Arc::new(Store::open(dir)?),
            Self::Postgres(url) => Arc::new(PgStore::connect(url)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_is_named_by_its_kind_and_a_password_is_never_shown() {
        assert_eq!("sled:data".parse(), Ok(StoreUrl::Sled(PathBuf::from("data"))));
        let postgres: StoreUrl = "postgres://app:secret@db:5432/sb".parse().expect("a PostgreSQL URL");
        assert_eq!(postgres.to_string(), "postgres://app:***@db:5432/sb");
        assert_eq!(
            format!("{postgres:?}"),
            "postgres://app:***@db:5432/sb",
            "nor in a debug print of the arguments"
        );
        assert_eq!(
            "postgresql://app@db/sb".parse::<StoreUrl>().map(|url| url.to_string()),
            Ok("postgresql://app@db/sb".to_owned())
        );
        let wrong = "mysql://db".parse::<StoreUrl>().expect_err("not a store");
        assert!(wrong.contains("sled:DIR") && wrong.contains("postgres://"), "{wrong}");
        assert!("sled:".parse::<StoreUrl>().is_err());
    }
}
