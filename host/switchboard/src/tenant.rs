//! Loading a tenant from its directory: `tenant.toml`, its flow, and its
//! plugin bindings, each checked before anything is replaced.
//!
//! ```toml
//! name = "moving"
//! display_name = "Swift Movers"
//! flow = "flow.toml"
//!
//! [calendar]
//! timezone = "Asia/Yerevan"
//! hours.mon = ["09:00-19:00"]
//!
//! [plugins.pricing]
//! component = "pricing_calculator"   # in the plugin directory, or a path to a .wasm
//! config_file = "pricing.json"       # or an inline `config = { ... }`
//! limits = { timeout_ms = 100 }
//! grants = { log = true }
//! ```
//!
//! `${NAME}` and `${NAME:-default}` in `tenant.toml` are replaced from the
//! given variables (the environment, in `serve`), so deployments can point a
//! plugin at their own URLs without editing the file.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use serde::Deserialize;
use switchboard_core::calendar::{Calendar, CalendarConfig};
use switchboard_core::contract::PluginConfig;
use switchboard_core::flow::Flow;
use switchboard_runtime::{Grants, Limits, Plugin, Runtime};

use crate::channels::ChannelSecrets;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantFile {
    name: String,
    #[serde(default)]
    display_name: Option<String>,
    flow: PathBuf,
    calendar: CalendarConfig,
    #[serde(default)]
    plugins: BTreeMap<String, BindingFile>,
    /// The bearer token for this tenant's admin and agent API. Without one,
    /// that API is closed.
    #[serde(default)]
    api_token: Option<String>,
    /// Credentials for the messenger webhooks this tenant receives.
    #[serde(default)]
    channels: ChannelSecrets,
    /// Where handoff cards are posted, signed.
    #[serde(default)]
    handoff_webhook: Option<HandoffWebhook>,
    /// Link a customer's identities when the same phone or email is collected
    /// on two channels. Off by default: a typed address proves nothing, so
    /// whoever types another customer's email would continue their
    /// conversation. Agents' links and WhatsApp's number changes always work.
    #[serde(default)]
    link_by_contact: bool,
}

/// A tenant's own endpoint for handoff cards: each is POSTed as JSON with
/// `X-Switchboard-Signature: sha256=<hex HMAC-SHA256(secret, body)>`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffWebhook {
    pub url: String,
    pub secret: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BindingFile {
    component: String,
    #[serde(default)]
    config: Option<serde_json::Value>,
    #[serde(default)]
    config_file: Option<PathBuf>,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    grants: Grants,
}

/// A loaded tenant: everything a turn needs, immutable once built. A reload
/// builds a new one and swaps it in whole.
#[derive(Debug)]
pub struct Tenant {
    pub name: String,
    pub display_name: String,
    pub calendar: Calendar,
    pub flow: Arc<Flow>,
    /// The flow's source, stored so conversations pinned to it outlive a reload.
    pub flow_source: String,
    pub plugins: HashMap<String, Binding>,
    pub api_token: Option<String>,
    pub channels: ChannelSecrets,
    pub handoff_webhook: Option<HandoffWebhook>,
    /// See `TenantFile::link_by_contact`.
    pub link_by_contact: bool,
    /// Where it was loaded from, so it can be reloaded (and edited).
    pub dir: PathBuf,
    /// The flow file, inside `dir`.
    pub flow_file: PathBuf,
    pub plugin_dir: PathBuf,
}

/// One plugin as a tenant uses it.
#[derive(Debug, Clone)]
pub struct Binding {
    pub plugin: Plugin,
    pub component: PathBuf,
    pub config: PluginConfig,
    pub limits: Limits,
    pub grants: Arc<Grants>,
}

impl Tenant {
    /// Load `dir/tenant.toml`. Components are looked up in `plugin_dir`.
    pub fn load(
        dir: &Path,
        plugin_dir: &Path,
        runtime: &Runtime,
        vars: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let path = dir.join("tenant.toml");
        let raw =
            std::fs::read_to_string(&path).with_context(|| format!("failed to read {}", path.display()))?;
        let text = substitute(&raw, vars).with_context(|| format!("in {}", path.display()))?;
        let file: TenantFile = toml::from_str(&text).map_err(|error| {
            let at = error.span().map(|span| line_of(&text, span.start)).unwrap_or(1);
            anyhow::anyhow!("{}:{at}: {}", path.display(), error.message())
        })?;
        let calendar =
            Calendar::new(&file.calendar).with_context(|| format!("{}: [calendar]", path.display()))?;

        let mut plugins = HashMap::new();
        for (name, binding) in &file.plugins {
            let component = resolve_component(&binding.component, dir, plugin_dir);
            let plugin = runtime
                .load_file(&component)
                .with_context(|| format!("{}: plugin {name:?} ({})", path.display(), component.display()))?;
            let config = match (&binding.config, &binding.config_file) {
                (Some(_), Some(_)) => {
                    bail!("{}: plugin {name:?} has both config and config_file", path.display())
                }
                (Some(inline), None) => PluginConfig::from(inline.clone()),
                (None, Some(file)) => {
                    let file = dir.join(file);
                    let text = std::fs::read_to_string(&file)
                        .with_context(|| format!("failed to read {}", file.display()))?;
                    let value: serde_json::Value = serde_json::from_str(&text)
                        .with_context(|| format!("{} is not JSON", file.display()))?;
                    PluginConfig::from(value)
                }
                (None, None) => PluginConfig::default(),
            };
            let binding = Binding {
                plugin,
                component,
                config,
                limits: binding.limits,
                grants: Arc::new(binding.grants.clone()),
            };
            plugins.insert(name.clone(), binding);
        }

        let flow_path = dir.join(&file.flow);
        let flow_source = std::fs::read_to_string(&flow_path)
            .with_context(|| format!("failed to read {}", flow_path.display()))?;
        let bound: BTreeSet<String> = plugins.keys().cloned().collect();
        let flow = Flow::parse(&flow_path.display().to_string(), &flow_source, &bound)?;
        Ok(Self {
            display_name: file.display_name.unwrap_or_else(|| file.name.clone()),
            name: file.name,
            calendar,
            flow: Arc::new(flow),
            flow_source,
            plugins,
            api_token: file.api_token.filter(|token| !token.is_empty()),
            channels: file.channels,
            handoff_webhook: file.handoff_webhook.filter(|hook| !hook.url.is_empty()),
            link_by_contact: file.link_by_contact,
            dir: dir.to_owned(),
            flow_file: flow_path.clone(),
            plugin_dir: plugin_dir.to_owned(),
        })
    }

    /// The plugin hashes a new conversation pins.
    pub fn pins(&self) -> BTreeMap<String, String> {
        self.plugins.iter().map(|(name, binding)| (name.clone(), binding.plugin.hash().to_string())).collect()
    }
}

/// Every tenant directory under `root` (directories holding a `tenant.toml`).
pub fn tenant_dirs(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if root.join("tenant.toml").exists() {
        return Ok(vec![root.to_owned()]);
    }
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(root).with_context(|| format!("failed to list {}", root.display()))? {
        let path = entry?.path();
        if path.join("tenant.toml").exists() {
            dirs.push(path);
        }
    }
    dirs.sort();
    Ok(dirs)
}

fn resolve_component(component: &str, dir: &Path, plugin_dir: &Path) -> PathBuf {
    if component.ends_with(".wasm") {
        dir.join(component)
    } else {
        plugin_dir.join(format!("{component}.wasm"))
    }
}

/// Replace `${NAME}` and `${NAME:-default}`.
fn substitute(text: &str, vars: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else { bail!("unclosed ${{ in tenant file") };
        let inner = &rest[start + 2..start + end];
        let (name, default) = match inner.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (inner, None),
        };
        match vars(name).or(default.map(str::to_owned)) {
            Some(value) => out.push_str(&value),
            None => bail!("variable {name} is not set and has no default"),
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_substituted_with_defaults() {
        let vars = |name: &str| (name == "SHOP").then(|| "http://127.0.0.1:9".to_owned());
        assert_eq!(substitute("a ${SHOP}/x ${PORT:-80} b", &vars).unwrap(), "a http://127.0.0.1:9/x 80 b");
        assert!(substitute("${MISSING}", &vars).is_err());
    }
}
