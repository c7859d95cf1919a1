//! The tenants the engine serves: added, reloaded, removed, looked up,
//! and the ones known but not served (loading, or failed to load).

use std::path::Path;
use std::sync::Arc;

use switchboard_core::contract::Channel;
use switchboard_core::event::{DomainEvent, EventBody};
use switchboard_store::{NewVersion, PluginVersion};

use super::{Engine, EngineError, Unavailable, lock, read, write};
use crate::tenant::{Managed, Tenant, Vars};

impl Engine {
    /// Load a tenant's directory (`tenant.toml` with its `managed.toml` on
    /// top), its components checked in this engine's sandbox. Nothing is
    /// served until [`Engine::add_tenant`].
    pub fn load_tenant(&self, dir: &Path, plugin_dir: &Path, vars: Vars<'_>) -> anyhow::Result<Tenant> {
        Tenant::load(dir, plugin_dir, &self.runtime, vars)
    }

    /// Compile a component and check that this host runs it, ahead of an
    /// edit that uses it (the edit's own load then finds it compiled).
    pub fn compile(&self, wasm: &[u8]) -> Result<(), EngineError> {
        self.runtime.load(wasm).map(|_| ()).map_err(|error| EngineError::Candidate(error.to_string()))
    }

    /// [`Engine::load_tenant`] with `managed` in place of the tenant's
    /// `managed.toml`: how an edit is checked whole before it is committed.
    pub fn load_tenant_with(
        &self,
        dir: &Path,
        plugin_dir: &Path,
        vars: Vars<'_>,
        managed: &Managed,
    ) -> anyhow::Result<Tenant> {
        Tenant::load_with(dir, plugin_dir, &self.runtime, vars, managed)
    }

    /// Add or replace a tenant. Its flow source, components and plugin
    /// configs go to the store first, so conversations pinned to this
    /// version survive later reloads and restarts.
    pub fn add_tenant(&self, tenant: Tenant) -> Result<(), EngineError> {
        self.add_tenant_from(tenant, &Provenance::default())
    }

    /// [`Engine::add_tenant`], saying who brought the change (an API key),
    /// and why, for the versions and events it records.
    pub fn add_tenant_from(&self, tenant: Tenant, provenance: &Provenance) -> Result<(), EngineError> {
        self.store.put_flow(&tenant.name, &tenant.flow.version, &tenant.flow_source)?;
        for binding in tenant.plugins.values() {
            self.keep_code(&tenant.name, &binding.component, &binding.plugin, &binding.config)?;
            if let Some(canary) = &binding.canary {
                self.keep_code(&tenant.name, &canary.component, &canary.plugin, &canary.config)?;
            }
        }
        self.load_withdrawn(&tenant.name)?;
        lock(&self.flows).insert((tenant.name.clone(), tenant.flow.version.clone()), tenant.flow.clone());
        write(&self.unavailable).remove(&tenant.name);
        let name = tenant.name.clone();
        let tenant = Arc::new(tenant);
        self.tenants
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(name.clone(), tenant.clone());
        // What each binding runs now is a version of it, unless it was
        // already: recorded once it serves, so a tenant that failed to load
        // leaves no version behind.
        let now = jiff::Timestamp::now().as_millisecond();
        let mut events = Vec::new();
        for (binding_name, binding) in &tenant.plugins {
            let canary = binding
                .canary
                .as_ref()
                .map(|canary| (&canary.plugin, canary.config_hash.as_str(), Some(canary.percent)));
            let stable = (&binding.plugin, binding.config_hash(), None);
            for (plugin, config, canary) in std::iter::once(stable).chain(canary) {
                let new = NewVersion {
                    component: plugin.hash().to_string(),
                    config: config.to_owned(),
                    manifest: plugin
                        .manifest()
                        .map(|manifest| format!("{} {}", manifest.name, manifest.version)),
                    canary,
                    by: provenance.by.clone(),
                    note: provenance.note.clone(),
                    at: now,
                };
                match self.store.record_plugin_version(&name, binding_name, new) {
                    Ok((version, true)) => events.push(version_event(binding_name, version)),
                    Ok((_, false)) => {}
                    Err(error) => {
                        tracing::error!(tenant = %name, plugin = %binding_name, %error, "the plugin's version was not recorded");
                    }
                }
            }
        }
        if let Err(error) = self.append_tenant_events(&name, &events) {
            tracing::error!(tenant = %name, %error, "the plugin version events were not recorded");
        }
        // What it left unsent (a crash, credentials it has only now) goes out.
        self.outbox.mark(&name);
        Ok(())
    }

    /// A component's bytes and its config, kept in the store for the
    /// conversations that pin them.
    fn keep_code(
        &self,
        tenant: &str,
        path: &Path,
        plugin: &switchboard_runtime::Plugin,
        config: &switchboard_core::contract::PluginConfig,
    ) -> Result<(), EngineError> {
        let bytes = std::fs::read(path).map_err(|error| EngineError::Setup {
            tenant: tenant.to_owned(),
            message: format!("{}: {error}", path.display()),
        })?;
        self.store.put_blob(&bytes)?;
        lock(&self.components).insert(plugin.hash().to_string(), plugin.clone());
        if !config.is_empty() {
            let hash = self.store.put_plugin_config(tenant, config.as_str())?;
            lock(&self.configs).insert((tenant.to_owned(), hash), config.clone());
        }
        Ok(())
    }

    /// Record events of the tenant's own (no conversation): plugin
    /// versions, promotions, rollbacks.
    pub fn append_tenant_events(&self, tenant: &str, events: &[EventBody]) -> Result<(), EngineError> {
        if events.is_empty() {
            return Ok(());
        }
        let at = jiff::Timestamp::now().as_millisecond();
        let events: Vec<DomainEvent> = events
            .iter()
            .map(|body| DomainEvent {
                at,
                tenant: tenant.to_owned(),
                conversation: String::new(),
                channel: Channel::Internal,
                body: body.clone(),
            })
            .collect();
        self.store.append_events(tenant, &events, None)?;
        crate::telemetry::events(tenant, &events);
        Ok(())
    }

    /// Every version of a tenant's plugin binding, oldest first.
    pub fn plugin_versions(
        &self,
        tenant: &str,
        binding: &str,
    ) -> Result<Vec<switchboard_store::PluginVersion>, EngineError> {
        Ok(self.store.plugin_versions(tenant, binding)?)
    }

    /// The component bytes and config text (none, for a binding that had
    /// none) of version `seq` of a binding, to run it again; `None` if there
    /// is no such version, or the store no longer holds what it ran.
    pub fn plugin_version_contents(
        &self,
        tenant: &str,
        binding: &str,
        seq: u64,
    ) -> Result<Option<VersionContents>, EngineError> {
        let versions = self.store.plugin_versions(tenant, binding)?;
        let Some(version) = versions.into_iter().find(|version| version.seq == seq) else { return Ok(None) };
        let Some(component) = self.store.blob(&version.component)? else { return Ok(None) };
        if version.config == crate::tenant::NO_CONFIG_HASH {
            return Ok(Some((component, None)));
        }
        Ok(self.store.plugin_config(tenant, &version.config)?.map(|config| (component, Some(config))))
    }

    /// Load a tenant again from its directory. If anything in it is wrong,
    /// the running version stays and the problems are returned. Running
    /// conversations keep the versions they started with.
    pub fn reload(
        &self,
        name: &str,
        vars: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Arc<Tenant>, EngineError> {
        let reloaded = self.load_again(name, vars)?;
        self.add_tenant(reloaded)?;
        self.tenant(name)
    }

    /// A tenant loaded again from its directory, checked, not yet served.
    pub fn load_again(
        &self,
        name: &str,
        vars: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Tenant, EngineError> {
        let current = self.tenant(name)?;
        let reloaded = self.load_tenant(&current.dir, &current.plugin_dir, vars).map_err(|error| {
            EngineError::Invalid { tenant: name.to_owned(), problems: format!("{error:#}") }
        })?;
        if reloaded.name != name {
            return Err(EngineError::Invalid {
                tenant: name.to_owned(),
                problems: format!("tenant.toml now names the tenant {:?}", reloaded.name),
            });
        }
        Ok(reloaded)
    }

    /// Stop serving a tenant. Its stored conversations, events and timers
    /// stay (its timers wait, parked, in case it comes back).
    pub fn remove_tenant(&self, name: &str) -> Result<Arc<Tenant>, EngineError> {
        let removed = {
            let mut tenants = self.tenants.write().unwrap_or_else(|poisoned| poisoned.into_inner());
            tenants.remove(name).ok_or_else(|| EngineError::UnknownTenant(name.to_owned()))?
        };
        // A tenant created later under the name inherits none of it.
        self.forget_canaries(name);
        Ok(removed)
    }

    /// Move a removed tenant's stored data (conversations, events, keys,
    /// plugin state, timers) out of its name's reach: kept, but a tenant
    /// created later under the name starts empty. How many records moved.
    pub fn retire_tenant(&self, name: &str, now: i64) -> Result<u64, EngineError> {
        Ok(self.store.retire_tenant(name, now)?)
    }

    pub fn tenant(&self, name: &str) -> Result<Arc<Tenant>, EngineError> {
        let tenants = self.tenants.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(tenant) = tenants.get(name) {
            return Ok(tenant.clone());
        }
        match read(&self.unavailable).contains_key(name) {
            true => Err(EngineError::Unavailable(name.to_owned())),
            false => Err(EngineError::UnknownTenant(name.to_owned())),
        }
    }

    /// Record that `name` is known but not served, and why. A tenant that
    /// loads later (`add_tenant`) is served again.
    pub fn mark_unavailable(&self, name: &str, why: Unavailable) {
        if !read(&self.tenants).contains_key(name) {
            write(&self.unavailable).insert(name.to_owned(), why);
        }
    }

    pub(super) fn is_loading(&self, name: &str) -> bool {
        read(&self.unavailable).get(name) == Some(&Unavailable::Loading)
    }

    /// Forget that `name` was expected (it loaded under another name).
    pub fn forget_unavailable(&self, name: &str) {
        write(&self.unavailable).remove(name);
    }

    /// The tenants not served, and why, by name.
    pub fn unavailable(&self) -> Vec<(String, Unavailable)> {
        let mut list: Vec<_> =
            read(&self.unavailable).iter().map(|(n, why)| (n.clone(), why.clone())).collect();
        list.sort_by(|a, b| a.0.cmp(&b.0));
        list
    }

    pub fn tenant_names(&self) -> Vec<String> {
        let tenants = self.tenants.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut names: Vec<String> = tenants.keys().cloned().collect();
        names.sort();
        names
    }
}

/// Who changed a tenant, and why: kept with the plugin versions it made.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    /// The API key's id (`bootstrap` for the operator's token).
    pub by: Option<String>,
    pub note: Option<String>,
}

fn version_event(binding: &str, version: PluginVersion) -> EventBody {
    EventBody::PluginVersion {
        plugin: binding.to_owned(),
        seq: version.seq,
        component: version.component,
        config: version.config,
        manifest: version.manifest,
        canary: version.canary,
        by: version.by,
        note: version.note,
    }
}

/// What a plugin version ran: the component's bytes, and its config's text
/// (none, for a binding that had none).
pub type VersionContents = (Vec<u8>, Option<String>);

/// The tenant catalog in the store: what `tenants/catalog.rs` publishes
/// and follows. Bundles are sealed before they get here.
impl Engine {
    pub fn tenant_revisions(&self) -> Result<Vec<switchboard_store::TenantRevision>, EngineError> {
        Ok(self.store.tenant_revisions()?)
    }

    pub fn tenant_bundle(&self, tenant: &str) -> Result<Option<(u64, Vec<u8>)>, EngineError> {
        Ok(self.store.tenant_bundle(tenant)?)
    }

    pub fn publish_tenant(
        &self,
        tenant: &str,
        based_on: u64,
        bundle: Option<&[u8]>,
    ) -> Result<switchboard_store::Publish, EngineError> {
        Ok(self.store.publish_tenant(tenant, based_on, bundle)?)
    }

    /// Keep `bytes` (a component) by its SHA-256, which it returns.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<String, EngineError> {
        Ok(self.store.put_blob(bytes)?)
    }

    /// The bytes under a SHA-256, checked against it.
    pub fn blob(&self, hash: &str) -> Result<Option<Vec<u8>>, EngineError> {
        Ok(self.store.blob(hash)?)
    }
}
