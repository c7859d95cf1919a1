//! The tenant control plane: creating, editing, reloading and removing
//! tenants, and their API keys. HTTP handlers are thin calls into this
//! module; nothing here knows HTTP, so the same operations serve the CLI
//! and tests, and a new route cannot do a tenant's lifecycle differently.
//!
//! # Layout
//!
//! - `tenants.rs`: [`ControlPlane`] and its errors; create, remove, reload.
//! - `edit.rs`: a tenant's edits to itself, checked whole and committed
//!   with one rename, or nothing changed.
//! - `keys.rs`: API keys: minted, listed, revoked, and checked.
//! - `publish.rs`: a plugin version published whole (component, config,
//!   note), served or as a canary, and the canary promoted or rolled back.
//!
//! **Architecture Invariant:** a tenant directory is written only here. A
//! tenant that does not load is never served, and what an attempt wrote is
//! removed again.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::engine::{Engine, EngineError, Provenance};
use crate::tenant::{Managed, Tenant, escape};

mod catalog;
mod edit;
mod keys;
mod publish;

pub use catalog::{Catalog, FOLLOW_EVERY, PLUGINS};
pub use edit::NewFile;
pub use keys::{KeyInfo, MintedKey};
pub use publish::{Canary, Install, Publish};

/// Creates, edits, reloads and removes the engine's tenants.
#[derive(Debug)]
pub struct ControlPlane {
    engine: Arc<Engine>,
    /// The directory of tenant directories, where new tenants go; `None`
    /// when `serve` was given one tenant.
    root: Option<PathBuf>,
    /// Where components named without `.wasm` are found.
    plugin_dir: PathBuf,
    /// The store's tenant catalog, which every change is published to.
    catalog: Option<Arc<Catalog>>,
}

/// Why a control-plane operation did nothing.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Tenants cannot be created: there is no directory of them.
    #[error("serve was given one tenant, not a directory of them")]
    NoTenantsDirectory,
    #[error("a {what} name is 1-64 letters, digits, '-' or '_'")]
    BadName { what: &'static str },
    #[error("{0:?} is taken")]
    Exists(String),
    /// Another node changed the tenant since this one loaded it.
    #[error(
        "tenant {tenant:?} changed on another node a moment ago (revision {held}); nothing was changed: try again"
    )]
    Moved { tenant: String, held: u64 },
    /// A new tenant did not load; nothing of it was kept.
    #[error("nothing was created: {0}")]
    NotCreated(String),
    /// An edit did not load; the tenant runs what it had.
    #[error("nothing was changed: {0}")]
    NotChanged(String),
    #[error("no plugin bound as {0:?}")]
    UnknownPlugin(String),
    /// A canary is in the way (or missing): promote or roll it back first.
    #[error("{0}")]
    Canary(String),
    #[error("plugin {plugin:?} has no version {seq} (or the store no longer holds what it ran)")]
    UnknownVersion { plugin: String, seq: u64 },
    /// The component's own samples (its manifest) did not give what they
    /// expect; the tenant runs what it had.
    #[error("nothing was changed: {0}")]
    SamplesFailed(String),
    #[error("{0}")]
    UnknownKey(&'static str),
    /// The request itself is wrong (nothing was read or written).
    #[error("{0}")]
    Request(String),
    #[error("no randomness for a new key")]
    NoRandomness,
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// What the operator asks for in a new tenant.
#[derive(Debug, Clone)]
pub struct NewTenant {
    /// Letters, digits, `-` and `_`: the tenant's directory and URL name.
    pub name: String,
    pub display_name: Option<String>,
    /// An IANA zone, e.g. `Asia/Yerevan`.
    pub timezone: String,
    /// The flow, in TOML.
    pub flow: String,
    /// Serve anonymous web chat.
    pub web_chat: bool,
}

/// A tenant just created, with its first API key (shown once).
#[derive(Debug)]
pub struct Created {
    pub name: String,
    pub flow_version: String,
    pub key: MintedKey,
}

/// A tenant just removed.
#[derive(Debug)]
pub struct Removed {
    pub name: String,
    /// Where its directory was set aside, relative to the tenants directory
    /// (no path of the server leaves it); `None` if it stayed in place.
    pub kept_in: Option<String>,
    /// How many stored records were moved out of the name's reach.
    pub records_retired: u64,
}

impl ControlPlane {
    pub fn new(engine: Arc<Engine>, root: Option<PathBuf>, plugin_dir: PathBuf) -> Self {
        Self { engine, root, plugin_dir, catalog: None }
    }

    /// Publish every change to the tenant catalog (`catalog.rs`).
    pub fn with_catalog(mut self, catalog: Arc<Catalog>) -> Self {
        self.catalog = Some(catalog);
        self
    }

    pub fn catalog(&self) -> Option<&Arc<Catalog>> {
        self.catalog.as_ref()
    }

    /// Create a tenant: its directory, `tenant.toml` and flow, loaded whole
    /// before it is served, and a first API key. Plugins, hours and channels
    /// follow through the tenant's own edits. Blocking.
    pub fn create(&self, request: NewTenant) -> Result<Created, ControlError> {
        let root = self.root.as_deref().ok_or(ControlError::NoTenantsDirectory)?;
        plain_name(&request.name, "tenant")?;
        let _one_at_a_time = edit::one_at_a_time(&request.name);
        let dir = root.join(&request.name);
        if self.engine.tenant(&request.name).is_ok() {
            return Err(ControlError::Exists(request.name));
        }
        if let Some(catalog) = &self.catalog
            && catalog.was_removed(&request.name)?
        {
            // This node's copy of the removed tenant, if it missed the
            // removal, goes aside; and another node may have served it a
            // moment past its removal: what it wrote is not the new one's.
            catalog.set_aside(&request.name);
            self.engine.retire_tenant(&request.name, jiff::Timestamp::now().as_millisecond())?;
        }
        // Claimed by creating the directory: of two creates, one gets it.
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(ControlError::Exists(request.name));
            }
            Err(error) => return Err(ControlError::NotCreated(format!("the tenant's directory: {error}"))),
        }
        let created = self.fill_new_tenant(&dir, &request);
        if created.is_err()
            && let Err(error) = std::fs::remove_dir_all(&dir)
        {
            tracing::warn!(%error, tenant = %request.name, "a tenant that was not created left its directory");
        }
        let (flow_version, key) = created?;
        tracing::info!(tenant = %request.name, %flow_version, "created a tenant");
        Ok(Created { name: request.name, flow_version, key })
    }

    /// Write, load and serve a new tenant in its claimed directory, with
    /// its first key.
    fn fill_new_tenant(&self, dir: &Path, request: &NewTenant) -> Result<(String, MintedKey), ControlError> {
        write_new_tenant(dir, request)
            .map_err(|error| ControlError::NotCreated(format!("the tenant's directory: {error}")))?;
        let tenant = self
            .engine
            .load_tenant(dir, &self.plugin_dir, &crate::tenant::env_var)
            .map_err(|error| ControlError::NotCreated(format!("{error:#}")))?;
        let flow_version = tenant.flow.version.clone();
        let published = match &self.catalog {
            Some(catalog) => Some((catalog, catalog.publish(&tenant, &[], true)?)),
            None => None,
        };
        // Served only with its first key: if none can be made, it is not created.
        let served = self
            .engine
            .add_tenant(tenant)
            .map_err(ControlError::from)
            .and_then(|()| {
                keys::mint(&self.engine, &request.name, "created with the tenant").inspect_err(|_| {
                    let _ = self.engine.remove_tenant(&request.name);
                })
            })
            .and_then(|key| Ok((self.engine.tenant(&request.name)?, key)));
        match (served, published) {
            (Ok((tenant, key)), published) => {
                if let Some((catalog, publication)) = published {
                    catalog.committed(&tenant, &publication);
                }
                Ok((flow_version, key))
            }
            (Err(error), published) => {
                if let Some((catalog, publication)) = published {
                    catalog.withdraw(&request.name, publication.revision);
                }
                Err(error)
            }
        }
    }

    /// Stop serving a tenant. Its directory is set aside under `.removed/`,
    /// and its stored data is retired: kept, but out of the name's reach,
    /// so its keys stop working and a tenant created later under the name
    /// starts empty. Blocking.
    pub fn remove(&self, name: &str, now: i64) -> Result<Removed, ControlError> {
        let _one_at_a_time = edit::one_at_a_time(name);
        self.engine.tenant(name)?;
        if let Some(catalog) = &self.catalog {
            catalog.publish_removal(name)?;
        }
        let removed = self.engine.remove_tenant(name)?;
        let records_retired = self.engine.retire_tenant(name, now)?;
        tracing::info!(tenant = %name, records_retired, "removed a tenant and retired its stored data");
        let kept_in = match set_aside(&removed.dir, now) {
            Ok(relative) => Some(relative.display().to_string()),
            Err(error) => {
                tracing::warn!(%error, dir = %removed.dir.display(), "a removed tenant's directory stays in place");
                None
            }
        };
        Ok(Removed { name: name.to_owned(), kept_in, records_retired })
    }

    /// Load a tenant's directory again (an operator edited its files). If
    /// anything in it is wrong, the running version stays. Blocking.
    pub fn reload(&self, name: &str) -> Result<Arc<Tenant>, ControlError> {
        let _one_at_a_time = edit::one_at_a_time(name);
        let reloaded = self.engine.load_again(name, &crate::tenant::env_var)?;
        let published = match &self.catalog {
            Some(catalog) => Some((catalog, catalog.publish(&reloaded, &[], false)?)),
            None => None,
        };
        let served = self.engine.add_tenant(reloaded).and_then(|()| self.engine.tenant(name));
        match (&served, published) {
            (Ok(tenant), Some((catalog, publication))) => catalog.committed(tenant, &publication),
            (Err(_), Some((catalog, _))) => catalog.not_committed(name),
            (_, None) => {}
        }
        Ok(served?)
    }

    /// Change a tenant with `change`, which gets the tenant as it runs, its
    /// managed settings, and a list for the files the change brings. The
    /// tenant as reloaded, or why nothing changed (see `edit.rs`). Blocking.
    fn edit(
        &self,
        tenant: &str,
        change: impl FnOnce(&Tenant, &mut Managed, &mut Vec<NewFile>) -> Result<(), ControlError>,
    ) -> Result<Arc<Tenant>, ControlError> {
        self.edit_from(tenant, &Provenance::default(), change)
    }

    /// [`ControlPlane::edit`], saying who made it and why (kept with the
    /// plugin versions it makes).
    fn edit_from(
        &self,
        tenant: &str,
        provenance: &Provenance,
        change: impl FnOnce(&Tenant, &mut Managed, &mut Vec<NewFile>) -> Result<(), ControlError>,
    ) -> Result<Arc<Tenant>, ControlError> {
        edit::edit(&self.engine, self.catalog.as_deref(), tenant, &crate::tenant::env_var, provenance, change)
    }
}

/// Move a removed tenant's directory under `.removed/` beside it, as
/// `{folder}-{now}` (named after the directory, not the tenant.toml name,
/// which no check keeps plain). Where it went, relative to the directory's
/// parent: no path of the server's leaves it.
pub(crate) fn set_aside(dir: &Path, now: i64) -> std::io::Result<PathBuf> {
    let (Some(root), Some(folder)) = (dir.parent(), dir.file_name()) else {
        return Err(std::io::Error::other("the directory has no parent to keep it in"));
    };
    let relative = Path::new(".removed").join(format!("{}-{now}", folder.to_string_lossy()));
    std::fs::create_dir_all(root.join(".removed"))?;
    std::fs::rename(dir, root.join(&relative))?;
    Ok(relative)
}

/// Tenant and plugin binding names become file names: keep them plain.
pub fn plain_name(name: &str, what: &'static str) -> Result<(), ControlError> {
    let plain = (1..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if plain { Ok(()) } else { Err(ControlError::BadName { what }) }
}

/// A new tenant's directory: its flow, and a tenant.toml in which what the
/// request says is written escaped, since tenant.toml is expanded when
/// loaded and a request's text must stay literal.
fn write_new_tenant(dir: &Path, request: &NewTenant) -> std::io::Result<()> {
    let mut file = toml_edit::DocumentMut::new();
    file["name"] = toml_edit::value(request.name.clone());
    let display_name = request.display_name.as_deref().unwrap_or(&request.name);
    file["display_name"] = toml_edit::value(escape(display_name));
    file["flow"] = toml_edit::value("flow.toml");
    file["web_chat"] = toml_edit::value(request.web_chat);
    let mut calendar = toml_edit::Table::new();
    calendar["timezone"] = toml_edit::value(escape(&request.timezone));
    file["calendar"] = toml_edit::Item::Table(calendar);
    std::fs::write(dir.join("flow.toml"), &request.flow)?;
    std::fs::write(dir.join("tenant.toml"), file.to_string())
}
