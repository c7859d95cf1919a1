//! `managed.toml`: what a tenant set about itself through its own API.
//!
//! The operator writes `tenant.toml`; the server never does. A tenant's
//! edits (flow, calendar, channel credentials, plugin components and
//! configs) go here instead, as literal values: nothing in this file is
//! ever expanded. The limits and grants a tenant sets on its own bindings
//! are checked against the operator's `[self_service]` maxima on every
//! load, and it has no place for secrets, settings, tokens or anything else
//! the operator decides, so a tenant cannot raise its own.
//!
//! Files an edit brings (a flow, a component, a config) are written under
//! names derived from their content before this file is replaced, and this
//! file is replaced by rename, so a crash at any point leaves either the
//! old tenant or the new one, never a mix. The version it replaced is kept
//! as `managed.toml.previous`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use switchboard_core::calendar::CalendarConfig;

use crate::channels::ChannelSecrets;

pub const MANAGED_FILE: &str = "managed.toml";

/// What the file says before its values.
const HEADER: &str = "\
# Written by switchboard: what this tenant set through its own API.
# Values are literal (nothing here is expanded) and override tenant.toml.
# Secrets, settings and tokens are the operator's, in tenant.toml, and
# limits and grants set here stay within its [self_service].
";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Managed {
    /// The flow file, inside the tenant's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<CalendarConfig>,
    #[serde(default)]
    pub channels: ChannelSecrets,
    /// Per binding: the component and config the tenant uploaded. A binding
    /// only named here gets the default limits and no grants.
    #[serde(default)]
    pub plugins: BTreeMap<String, ManagedBinding>,
    /// The SHA-256 (hex) of the bootstrap `api_token` the tenant revoked
    /// (`DELETE …/keys/bootstrap`). A token the operator sets later has
    /// another hash, so rotating it brings the bootstrap token back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_api_token_sha256: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagedBinding {
    /// A `.wasm` file inside the tenant's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<PathBuf>,
    /// A JSON file inside the tenant's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_file: Option<PathBuf>,
    /// A new version serving some of the new conversations until it is
    /// promoted or rolled back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<ManagedCanary>,
    /// Limits the tenant set, each within the operator's `[self_service]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<SelfLimits>,
    /// Capabilities the tenant granted, within the operator's `[self_service]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grants: Option<SelfGrants>,
}

/// Limits a tenant sets on its own binding (each unset one stays as it was).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
}

/// Capabilities a tenant grants its own binding. Settings and secrets are
/// the operator's alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfGrants {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv: Option<bool>,
    /// Hosts it may call over HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<Vec<String>>,
}

/// A canary: a component (and config) that new conversations get with
/// probability `percent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagedCanary {
    pub component: PathBuf,
    /// Without one, the canary runs with the binding's config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_file: Option<PathBuf>,
    pub percent: u8,
    /// A shadow: it serves no conversation (`percent` 0), and runs beside
    /// the binding's version on the same inputs, its answers compared and
    /// never applied.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shadow: bool,
}

impl Managed {
    /// Whether `api_token` is the bootstrap token the tenant revoked.
    pub fn revoked(&self, api_token: &str) -> bool {
        self.revoked_api_token_sha256.as_deref() == Some(token_sha256(api_token).as_str())
    }

    /// The tenant's `managed.toml`, or nothing set if it has none.
    /// The file's text, as [`Managed::commit`] writes it.
    pub fn text(&self) -> anyhow::Result<String> {
        let body = toml::to_string(self).context("failed to write managed.toml")?;
        Ok(format!("{HEADER}{body}"))
    }

    pub fn read(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(MANAGED_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(error) => return Err(error).context("failed to read managed.toml"),
        };
        toml::from_str(&text).map_err(|error| anyhow::anyhow!("managed.toml: {}", error.message()))
    }

    /// Every file this names, relative to the tenant's directory.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        let bindings = self.plugins.values();
        self.flow.as_deref().into_iter().chain(bindings.flat_map(|binding| {
            let canary = binding
                .canary
                .iter()
                .flat_map(|canary| std::iter::once(&canary.component).chain(&canary.config_file));
            binding.component.iter().chain(&binding.config_file).chain(canary).map(PathBuf::as_path)
        }))
    }

    /// Replace the tenant's `managed.toml` with this, durably: write beside,
    /// sync, keep the old one as `.previous`, rename, sync the directory.
    pub fn commit(&self, dir: &Path) -> anyhow::Result<()> {
        let text = self.text()?;
        let path = dir.join(MANAGED_FILE);
        let partial = dir.join(format!("{MANAGED_FILE}.partial"));
        write_synced(&partial, text.as_bytes())?;
        if path.exists() {
            std::fs::copy(&path, dir.join(format!("{MANAGED_FILE}.previous")))
                .context("failed to keep the previous managed.toml")?;
        }
        std::fs::rename(&partial, &path).context("failed to replace managed.toml")?;
        sync_dir(dir)
    }
}

/// A token's SHA-256, in hex: how revoked bootstrap tokens are kept.
pub fn token_sha256(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// Write `bytes` to `path` and make them durable before returning.
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).context("failed to make a tenant directory")?;
    }
    let mut file = std::fs::File::create(path).context("failed to write a tenant file")?;
    file.write_all(bytes).context("failed to write a tenant file")?;
    file.sync_all().context("failed to sync a tenant file")
}

pub(crate) fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::File::open(dir).and_then(|handle| handle.sync_all()).context("failed to sync a tenant directory")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_keeps_the_previous_version_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Managed::read(dir.path()).unwrap().flow.is_none());
        let mut managed = Managed { flow: Some("flows/a.toml".into()), ..Managed::default() };
        managed.commit(dir.path()).unwrap();
        managed.flow = Some("flows/b.toml".into());
        managed.plugins.insert(
            "pricing".to_owned(),
            ManagedBinding { component: Some("plugins/pricing-1.wasm".into()), ..ManagedBinding::default() },
        );
        managed.commit(dir.path()).unwrap();
        let read = Managed::read(dir.path()).unwrap();
        assert_eq!(toml::to_string(&read).unwrap(), toml::to_string(&managed).unwrap());
        let previous = std::fs::read_to_string(dir.path().join("managed.toml.previous")).unwrap();
        assert!(previous.contains("flows/a.toml"), "{previous}");
        let files: Vec<&Path> = managed.files().collect();
        assert_eq!(files, [Path::new("flows/b.toml"), Path::new("plugins/pricing-1.wasm")]);
    }

    #[test]
    fn it_has_no_place_for_what_the_operator_decides() {
        for text in [
            "[plugins.x]\ngrants = { secrets = { token = \"t\" } }",
            "[plugins.x]\ngrants = { settings = { url = \"u\" } }",
            "[plugins.x]\nlimits = { table_elements = 1 }",
            "api_token = \"t\"",
        ] {
            assert!(toml::from_str::<Managed>(text).is_err(), "{text}");
        }
        // Limits and grants it may set, within [self_service] (checked on load).
        assert!(
            toml::from_str::<Managed>("[plugins.x]\nlimits = { fuel = 1 }\ngrants = { kv = true }").is_ok()
        );
    }
}
