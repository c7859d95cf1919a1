//! The tenants the engine serves: added, reloaded, removed, looked up,
//! and the ones known but not served (loading, or failed to load).

use std::path::Path;
use std::sync::Arc;

use super::{Engine, EngineError, Unavailable, lock, read, write};
use crate::tenant::{Managed, Tenant, Vars};

impl Engine {
    /// Load a tenant's directory (`tenant.toml` with its `managed.toml` on
    /// top), its components checked in this engine's sandbox. Nothing is
    /// served until [`Engine::add_tenant`].
    pub fn load_tenant(&self, dir: &Path, plugin_dir: &Path, vars: Vars<'_>) -> anyhow::Result<Tenant> {
        Tenant::load(dir, plugin_dir, &self.runtime, vars)
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
        self.store.put_flow(&tenant.name, &tenant.flow.version, &tenant.flow_source)?;
        for binding in tenant.plugins.values() {
            let bytes = std::fs::read(&binding.component).map_err(|error| EngineError::Setup {
                tenant: tenant.name.clone(),
                message: format!("{}: {error}", binding.component.display()),
            })?;
            self.store.put_blob(&bytes)?;
            lock(&self.components).insert(binding.plugin.hash().to_string(), binding.plugin.clone());
            if !binding.config.is_empty() {
                let hash = self.store.put_plugin_config(&tenant.name, binding.config.as_str())?;
                lock(&self.configs).insert((tenant.name.clone(), hash), binding.config.clone());
            }
        }
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
        for (binding_name, binding) in &tenant.plugins {
            let manifest =
                binding.plugin.manifest().map(|manifest| format!("{} {}", manifest.name, manifest.version));
            let component = binding.plugin.hash().to_string();
            let recorded = self.store.record_plugin_version(
                &name,
                binding_name,
                &component,
                binding.config_hash(),
                manifest,
                now,
            );
            if let Err(error) = recorded {
                tracing::error!(tenant = %name, plugin = %binding_name, %error, "the plugin's version was not recorded");
            }
        }
        // What it left unsent (a crash, credentials it has only now) goes out.
        self.outbox.mark(&name);
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
        self.add_tenant(reloaded)?;
        self.tenant(name)
    }

    /// Stop serving a tenant. Its stored conversations, events and timers
    /// stay (its timers wait, parked, in case it comes back).
    pub fn remove_tenant(&self, name: &str) -> Result<Arc<Tenant>, EngineError> {
        let mut tenants = self.tenants.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        tenants.remove(name).ok_or_else(|| EngineError::UnknownTenant(name.to_owned()))
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

/// What a plugin version ran: the component's bytes, and its config's text
/// (none, for a binding that had none).
pub type VersionContents = (Vec<u8>, Option<String>);
