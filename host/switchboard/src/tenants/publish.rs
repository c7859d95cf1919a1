//! A plugin version published whole: its component, its config and a note,
//! in one edit (so a new config schema and the code that reads it arrive
//! together), served at once or as a canary on a share of new
//! conversations. A canary is promoted (it becomes the binding's version)
//! or rolled back (by a person, or by the engine when it crosses the
//! tenant's `[canary]` thresholds; see `engine/canary.rs`). Each is an
//! event in the tenant's log.

use std::sync::Arc;

use switchboard_core::event::EventBody;

use super::edit::NewFile;
use super::{ControlError, ControlPlane, plain_name};
use crate::engine::{Provenance, Rollback};
use crate::tenant::{ManagedBinding, ManagedCanary, Tenant};

/// A version to publish.
#[derive(Debug, Clone, Default)]
pub struct Publish {
    pub component: Vec<u8>,
    /// Its config, JSON; without one it runs with the binding's.
    pub config: Option<serde_json::Value>,
    /// Serve it to this percentage of new conversations (1-100) as a
    /// canary, rather than to all of them.
    pub canary: Option<u8>,
    /// Run it in shadow instead: beside the binding's version on the same
    /// inputs, compared, never applied.
    pub shadow: bool,
    pub provenance: Provenance,
}

/// One tenant's install of a catalog build.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Install {
    pub tenant: String,
    /// The binding its flow calls.
    pub binding: String,
    /// Its own config; without one, the binding's.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub config: Option<serde_json::Value>,
    /// Serve it to this percentage of new conversations first.
    #[serde(default)]
    pub canary: Option<u8>,
}

/// What to do with a canary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Canary {
    Promote,
    RollBack { reason: String },
}

impl ControlPlane {
    /// Publish a version of `binding` (checked, its samples run, as any
    /// upload): served to every new conversation, or as a canary. A binding
    /// with a canary takes a new canary (replacing it), not a new version:
    /// promote or roll back first.
    pub fn publish(
        &self,
        tenant: &str,
        binding: &str,
        publish: Publish,
    ) -> Result<Arc<Tenant>, ControlError> {
        plain_name(binding, "plugin")?;
        if publish.shadow && publish.canary.is_some() {
            return Err(ControlError::Request("a version is a canary or a shadow, not both".to_owned()));
        }
        let publish = Publish { canary: publish.canary.or(publish.shadow.then_some(0)), ..publish };
        if let Some(percent) = publish.canary.filter(|_| !publish.shadow)
            && !(1..=100).contains(&percent)
        {
            return Err(ControlError::Request(format!(
                "a canary serves 1-100 % of new conversations, not {percent}"
            )));
        }
        let config = publish
            .config
            .map(|config| serde_json::to_vec_pretty(&config))
            .transpose()
            .map_err(|error| ControlError::Request(error.to_string()))?;
        let canary = publish.canary.is_some();
        let name = binding.to_owned();
        let binding = binding.to_owned();
        let served = self.edit_from(tenant, &publish.provenance, move |current, managed, files| {
            let has_canary = current.plugins.get(&binding).is_some_and(|bound| bound.canary.is_some());
            if publish.canary.is_none() && has_canary {
                return Err(ControlError::Canary(format!(
                    "plugin {binding:?} has a canary; promote it or roll it back before publishing a version for everyone"
                )));
            }
            if publish.canary.is_some() && !current.plugins.contains_key(&binding) {
                return Err(ControlError::Canary(format!(
                    "plugin {binding:?} has no version yet to compare a canary with; publish one for everyone first"
                )));
            }
            let component = NewFile::named_by_content("plugins", &binding, "wasm", publish.component);
            let config = config.map(|json| NewFile::named_by_content("plugins", &binding, "json", json));
            let bound = managed.plugins.entry(binding).or_insert_with(ManagedBinding::default);
            match publish.canary {
                Some(percent) => {
                    bound.canary = Some(ManagedCanary {
                        component: component.relative.clone(),
                        config_file: config.as_ref().map(|config| config.relative.clone()),
                        percent,
                        shadow: publish.shadow,
                    });
                }
                None => {
                    bound.component = Some(component.relative.clone());
                    if let Some(config) = &config {
                        bound.config_file = Some(config.relative.clone());
                    }
                }
            }
            files.push(component);
            files.extend(config);
            Ok(())
        })?;
        if canary {
            // A new canary is measured from its start, beside the binding's calls from then on.
            self.engine.reset_canary_stats(tenant, &name);
            // Published anew on purpose: a version rolled back before serves again.
            if let Some(canary) = served.plugins.get(&name).and_then(|bound| bound.canary.as_ref()) {
                self.engine.unwithdraw(tenant, &name, &canary.version_id())?;
            }
        }
        Ok(served)
    }

    /// Promote `binding`'s canary to its version, or roll it back. With
    /// `version` (a `version_id`), only if the canary is still that one (an
    /// automatic rollback that raced a new canary leaves the new one alone).
    pub fn end_canary(
        &self,
        tenant: &str,
        binding: &str,
        version: Option<&str>,
        ending: Canary,
        by: &str,
    ) -> Result<Arc<Tenant>, ControlError> {
        plain_name(binding, "plugin")?;
        let mut ended = None;
        let name = binding.to_owned();
        let provenance = Provenance { by: Some(by.to_owned()), note: None };
        let reloaded = self.edit_from(tenant, &provenance, |current, managed, _| {
            let Some(canary) = current.plugins.get(&name).and_then(|bound| bound.canary.as_ref()) else {
                return Err(ControlError::Canary(format!("plugin {name:?} has no canary")));
            };
            let id = canary.version_id();
            if ending == Canary::Promote && self.engine.is_withdrawn(tenant, &name, &id) {
                return Err(ControlError::Canary(format!(
                    "plugin {name:?}'s canary was withdrawn (it crossed the tenant's thresholds); it cannot be promoted"
                )));
            }
            if version.is_some_and(|version| version != id) {
                return Err(ControlError::Canary(format!("plugin {name:?}'s canary is another version now")));
            }
            let bound = managed.plugins.entry(name.clone()).or_insert_with(ManagedBinding::default);
            let Some(managed_canary) = bound.canary.take() else {
                return Err(ControlError::Canary(format!(
                    "plugin {name:?}'s canary is the operator's; edit tenant.toml"
                )));
            };
            if ending == Canary::Promote {
                bound.component = Some(managed_canary.component);
                if let Some(config) = managed_canary.config_file {
                    bound.config_file = Some(config);
                }
            }
            ended = Some((id, canary.plugin.hash().to_string()));
            Ok(())
        })?;
        let (id, component) = ended.unwrap_or_default();
        let event = match ending {
            Canary::Promote => EventBody::PluginPromoted { plugin: name, component, by: by.to_owned() },
            Canary::RollBack { reason } => {
                self.engine.withdraw(tenant, &name, &id)?;
                EventBody::PluginRolledBack { plugin: name, component, reason, by: by.to_owned() }
            }
        };
        self.engine.append_tenant_events(tenant, &[event])?;
        Ok(reloaded)
    }

    /// Install `version` of the catalog's plugin `name` into `tenant` as
    /// `install.binding` (a new binding, or a new version of one), with its
    /// config (checked against the manifest's schema) or the binding's, as
    /// a canary if it says so: a publish, as an upload would be.
    pub fn install(
        &self,
        name: &str,
        version: &str,
        install: Install,
        by: &str,
    ) -> Result<Arc<Tenant>, ControlError> {
        let Install { tenant, binding, config, canary } = install;
        let Some((_, component)) = self.engine.catalog_build(name, version)? else {
            return Err(ControlError::Request(format!(
                "the catalog has no {name} {version}; GET /v1/catalog/plugins lists it"
            )));
        };
        let provenance =
            Provenance { by: Some(by.to_owned()), note: Some(format!("catalog {name} {version}")) };
        self.publish(&tenant, &binding, Publish { component, config, canary, shadow: false, provenance })
    }

    /// The newest version recorded for `binding` (what a publish made).
    pub fn latest_version(
        &self,
        tenant: &str,
        binding: &str,
    ) -> Result<Option<switchboard_store::PluginVersion>, ControlError> {
        Ok(self.engine.plugin_versions(tenant, binding)?.pop())
    }

    /// Roll back canaries the engine withdrew, as they come, until the
    /// control plane or the engine goes (a thread of its own: it blocks).
    /// Weak, so this thread never keeps the engine (and its store) alive.
    pub fn roll_back_canaries(
        control: std::sync::Weak<Self>,
        mut rollbacks: tokio::sync::mpsc::UnboundedReceiver<Rollback>,
    ) {
        while let Some(Rollback { tenant, binding, version, reason }) = rollbacks.blocking_recv() {
            let Some(control) = control.upgrade() else { return };
            let ending = Canary::RollBack { reason };
            match control.end_canary(&tenant, &binding, Some(&version), ending, "auto") {
                Ok(_) => tracing::info!(tenant, plugin = binding, version, "canary rolled back"),
                Err(error) => {
                    // It stays withdrawn in the engine (and the store) either way.
                    tracing::warn!(tenant, plugin = binding, %error, "the canary was not rolled back in the tenant's settings");
                }
            }
        }
    }
}
