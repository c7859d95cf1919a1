//! Loading a tenant from its directory: `tenant.toml`, its flow, and its
//! plugin bindings, each checked before anything is replaced.
//!
//! ```toml
//! name = "moving"
//! display_name = "Swift Movers"
//! flow = "flow.toml"
//! web_chat = true                      # serve anonymous web chat (off unless said)
//! quotas = { web_chat_per_minute = 600 }  # over the host's default
//! retention = { events = "90d", dedupe = "7d", export = true }  # the defaults; add
//!                                      # conversations = "365d" to forget idle ones
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
//! `tenant.toml` is the operator's file, and the server never writes it.
//! `${NAME}` and `${NAME:-default}` in its string values are replaced from
//! the given variables (the environment, in `serve`), one parsed value at a
//! time (`vars.rs`). What the tenant sets through its own API is in
//! `managed.toml` (`managed.rs`), literal and layered on top;
//! `crate::tenants` (the control plane) makes those edits, one tenant at a time.
//!
//! Every path either file names stays inside the tenant's directory (or,
//! for a component named without `.wasm`, the plugin directory), and every
//! binding's limits stay within the host's ceiling.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use serde::{Deserialize, Serialize};
use switchboard_core::calendar::{Calendar, CalendarConfig};
use switchboard_core::contract::PluginConfig;
use switchboard_core::flow::Flow;
use switchboard_runtime::{Grants, Limits, LoadError, Plugin, Runtime};

use crate::channels::ChannelSecrets;

pub(crate) mod managed;
mod vars;

pub use managed::{
    MANAGED_FILE, Managed, ManagedBinding, ManagedCanary, SelfGrants, SelfLimits, token_sha256,
};
pub use vars::Vars;
pub(crate) use vars::escape;

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
    /// Whether anyone may chat with this tenant from a web page (the widget,
    /// `POST …/messages`, its WebSocket, `/chat/{tenant}`). Off unless the
    /// operator says so: an internal tenant has no public face.
    #[serde(default)]
    web_chat: bool,
    /// What this tenant may use, where it differs from the operator's defaults.
    #[serde(default)]
    quotas: Quotas,
    /// Where handoff cards are posted, signed.
    #[serde(default)]
    handoff_webhook: Option<HandoffWebhook>,
    /// Link a customer's identities when the same phone or email is collected
    /// on two channels. Off by default: a typed address proves nothing, so
    /// whoever types another customer's email would continue their
    /// conversation. Agents' links and WhatsApp's number changes always work.
    #[serde(default)]
    link_by_contact: bool,
    /// How long its events and inbound message ids are kept.
    #[serde(default)]
    retention: Retention,
    /// Which production step calls are kept for replay, and what of them.
    #[serde(default)]
    recording: Recording,
    /// When a canary is rolled back by itself.
    #[serde(default)]
    canary: CanaryPolicy,
    /// The most the tenant may set on its own bindings through the API.
    #[serde(default)]
    self_service: SelfService,
}

/// `[self_service]` in `tenant.toml`: the most a tenant may give its own
/// plugin bindings through the API (`PUT …/plugins/{name}/limits` and
/// `…/grants`), and what a binding it uploads starts with from its
/// manifest's `defaults` and `capabilities`. Secrets and settings are never
/// the tenant's to grant. Deny by default: without it, a tenant may set no
/// more than the host's default limits, and grant nothing.
///
/// ```toml
/// [self_service]
/// limits = { fuel = 100_000_000, timeout_ms = 1000, memory_mb = 64 }
/// grants = { log = true, kv = true, http = ["api.example.com"] }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SelfService {
    pub limits: SelfServiceLimits,
    pub grants: SelfServiceGrants,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SelfServiceLimits {
    pub fuel: u64,
    pub timeout_ms: u64,
    pub memory_mb: u64,
}

impl Default for SelfServiceLimits {
    /// The host's default limits: nothing raised.
    fn default() -> Self {
        let limits = Limits::default();
        Self {
            fuel: limits.fuel,
            timeout_ms: u64::try_from(limits.timeout.as_millis()).unwrap_or(u64::MAX),
            memory_mb: limits.memory_bytes >> 20,
        }
    }
}

/// Nothing, by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SelfServiceGrants {
    pub log: bool,
    pub kv: bool,
    pub http: Vec<String>,
}

impl SelfService {
    /// `base` with what the tenant set, each checked against these maxima.
    fn limits(&self, base: Limits, set: Option<&SelfLimits>) -> anyhow::Result<Limits> {
        let Some(set) = set else { return Ok(base) };
        let check = |what: &str, asked: Option<u64>, most: u64| match asked {
            Some(asked) if asked > most => Err(anyhow!(
                "limits.{what} = {asked} is above what this tenant may set ({most}); \
                 the operator raises it in tenant.toml's [self_service]"
            )),
            _ => Ok(asked),
        };
        let mut limits = base;
        if let Some(fuel) = check("fuel", set.fuel, self.limits.fuel)? {
            limits.fuel = fuel;
        }
        if let Some(ms) = check("timeout_ms", set.timeout_ms, self.limits.timeout_ms)? {
            limits.timeout = std::time::Duration::from_millis(ms);
        }
        if let Some(mib) = check("memory_mb", set.memory_mb, self.limits.memory_mb)? {
            limits.memory_bytes = mib << 20;
        }
        Ok(limits)
    }

    /// A binding the tenant uploaded starts with its manifest's defaults,
    /// each held to these maxima.
    fn manifest_limits(&self, defaults: &switchboard_runtime::manifest::Defaults) -> Limits {
        let mut limits = Limits::default();
        if let Some(fuel) = defaults.fuel {
            limits.fuel = fuel.min(self.limits.fuel);
        }
        if let Some(ms) = defaults.timeout_ms {
            limits.timeout = std::time::Duration::from_millis(ms.min(self.limits.timeout_ms));
        }
        if let Some(mib) = defaults.memory_mb {
            limits.memory_bytes = mib.min(self.limits.memory_mb) << 20;
        }
        limits
    }

    /// `base` with what the tenant granted, each within these maxima.
    fn grants(&self, mut base: Grants, set: Option<&SelfGrants>) -> anyhow::Result<Grants> {
        let Some(set) = set else { return Ok(base) };
        let refuse = |what: &str| {
            anyhow!(
                "grants.{what} is not this tenant's to grant; the operator allows it in tenant.toml's [self_service]"
            )
        };
        if let Some(log) = set.log {
            if log && !self.grants.log {
                return Err(refuse("log"));
            }
            base.log = log;
        }
        if let Some(kv) = set.kv {
            if kv && !self.grants.kv {
                return Err(refuse("kv"));
            }
            base.kv = kv;
        }
        if let Some(hosts) = &set.http {
            // The operator's own hosts for the binding stay the tenant's to keep.
            let allowed = |host: &String| self.grants.http.contains(host) || base.http.allow.contains(host);
            if let Some(host) = hosts.iter().find(|host| !allowed(host)) {
                return Err(refuse(&format!("http {host:?}")));
            }
            base.http.allow = hosts.clone();
        }
        Ok(base)
    }
}

/// `[canary]` in `tenant.toml`: when a binding's canary (a new version on a
/// share of new conversations) is rolled back by itself. Its failure rate
/// may exceed the binding's own by `max_failure_rate`; its mean fuel and
/// wall time per call may be at most these multiples of the binding's. No
/// verdict before `min_calls` calls (of each, for the ratios).
///
/// ```toml
/// [canary]
/// min_calls = 20
/// max_failure_rate = 0.1
/// max_fuel_ratio = 2.0
/// max_latency_ratio = 3.0
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CanaryPolicy {
    pub min_calls: u64,
    pub max_failure_rate: f64,
    pub max_fuel_ratio: f64,
    pub max_latency_ratio: f64,
}

impl Default for CanaryPolicy {
    fn default() -> Self {
        Self { min_calls: 20, max_failure_rate: 0.1, max_fuel_ratio: 2.0, max_latency_ratio: 3.0 }
    }
}

/// `[recording]` in `tenant.toml`: production step calls are kept (for
/// `[retention] steps`, 7 days by default) so a new plugin version can be
/// replayed against them. Redacted values are replaced by `[redacted]`
/// before anything is written.
///
/// ```toml
/// [recording]
/// steps = true                        # the default
/// redact_fields = ["phone", "email"]  # collected fields never kept
/// redact_message = false              # the customer's words
/// redact_contact = false              # their identity and name
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Recording {
    pub steps: bool,
    pub redact_fields: Vec<String>,
    pub redact_message: bool,
    pub redact_contact: bool,
}

impl Default for Recording {
    fn default() -> Self {
        Self { steps: true, redact_fields: Vec::new(), redact_message: false, redact_contact: false }
    }
}

/// `[retention]` in `tenant.toml`: how long the store keeps this tenant's
/// events, inbound message ids and idle conversations
/// (`switchboard::retention` sweeps them).
/// Durations are written `"90d"`, `"12h"`, `"30m"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Events (and the transcripts they make) older than this are exported
    /// and removed. Conversations' state stays.
    #[serde(deserialize_with = "duration")]
    pub events: std::time::Duration,
    /// A provider's retry of a message is recognised for this long.
    #[serde(deserialize_with = "duration")]
    pub dedupe: std::time::Duration,
    /// Conversations untouched this long (by the customer, the bot or a
    /// person) are exported and removed, with their transcripts and the
    /// contact links that lead to them, unless a timer is pending; the
    /// customer's next message starts afresh. Unset (the default): kept
    /// for good.
    #[serde(deserialize_with = "some_duration")]
    pub conversations: Option<std::time::Duration>,
    /// Recorded step calls (`[recording]`) older than this are removed.
    #[serde(deserialize_with = "duration")]
    pub steps: std::time::Duration,
    /// Write removed events and conversations to the export directory first (NDJSON).
    pub export: bool,
}

impl Default for Retention {
    fn default() -> Self {
        const DAY: u64 = 24 * 60 * 60;
        Self {
            events: std::time::Duration::from_secs(90 * DAY),
            dedupe: std::time::Duration::from_secs(7 * DAY),
            conversations: None,
            steps: std::time::Duration::from_secs(7 * DAY),
            export: true,
        }
    }
}

impl Retention {
    /// What goes at `now` (Unix ms): anything older than its retention,
    /// exported to `export_dir` first if the tenant says so.
    pub fn cutoffs(&self, now: i64, export_dir: &Path) -> crate::engine::RetentionCutoffs {
        let before = |kept: std::time::Duration| {
            now.saturating_sub(i64::try_from(kept.as_millis()).unwrap_or(i64::MAX))
        };
        crate::engine::RetentionCutoffs {
            events_before: before(self.events),
            dedupe_before: before(self.dedupe),
            conversations_before: self.conversations.map(before),
            step_calls_before: before(self.steps),
            export_to: self.export.then(|| export_dir.to_owned()),
            now,
        }
    }
}

/// `"90d"`, `"12h"`, `"1h 30m"`: jiff's friendly duration, days of 24 hours.
fn duration<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<std::time::Duration, D::Error> {
    use serde::de::Error;
    let text = String::deserialize(deserializer)?;
    let span: jiff::Span = text.parse().map_err(|error| D::Error::custom(format!("{text:?}: {error}")))?;
    let duration = span
        .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
        .map_err(|error| D::Error::custom(format!("{text:?}: {error}")))?;
    std::time::Duration::try_from(duration)
        .ok()
        .filter(|duration| !duration.is_zero())
        .ok_or_else(|| D::Error::custom(format!("{text:?}: a retention is longer than nothing")))
}

fn some_duration<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<std::time::Duration>, D::Error> {
    duration(deserializer).map(Some)
}

/// `[quotas]` in `tenant.toml`: the operator's limits for this tenant, over
/// the host's defaults (the tenant cannot set these through its API).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quotas {
    /// Web chat messages per minute, from all its visitors together.
    pub web_chat_per_minute: Option<u32>,
    /// Keys its plugins' `kv` state may hold, all plugins together.
    pub kv_keys: Option<u64>,
    /// MiB of keys and values its plugins' `kv` state may hold.
    pub kv_mib: Option<u64>,
    /// Events committed per UTC day before new messages wait for the next.
    pub events_per_day: Option<u64>,
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
    /// The operator's bootstrap token, unless the tenant revoked it.
    pub api_token: Option<String>,
    pub channels: ChannelSecrets,
    /// See `TenantFile::web_chat`.
    pub web_chat: bool,
    pub quotas: Quotas,
    pub handoff_webhook: Option<HandoffWebhook>,
    /// See `TenantFile::link_by_contact`.
    pub link_by_contact: bool,
    pub retention: Retention,
    pub recording: Recording,
    pub canary: CanaryPolicy,
    pub self_service: SelfService,
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
    /// The SHA-256 of `config`'s text, computed once: turns compare it with
    /// the conversation's pin on every plugin call.
    config_hash: String,
    pub limits: Limits,
    pub grants: Arc<Grants>,
    /// A new version serving `percent` of new conversations, with the
    /// binding's limits and grants, until it is promoted or rolled back.
    pub canary: Option<Canary>,
}

/// A binding's canary: its code and config, and its share of new conversations.
#[derive(Debug, Clone)]
pub struct Canary {
    pub plugin: Plugin,
    pub component: PathBuf,
    pub config: PluginConfig,
    pub config_hash: String,
    pub percent: u8,
    /// It runs in shadow: beside the binding's version, never applied.
    pub shadow: bool,
}

/// The config hash of a binding without a config: the SHA-256 of no text.
pub const NO_CONFIG_HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

impl Canary {
    /// What it runs, as canaries are told apart (`engine::version_id`).
    pub fn version_id(&self) -> String {
        crate::engine::version_id(self.plugin.hash().as_str(), &self.config_hash)
    }
}

impl Binding {
    /// What it runs, as canaries are told apart (`engine::version_id`).
    pub fn version_id(&self) -> String {
        crate::engine::version_id(self.plugin.hash().as_str(), &self.config_hash)
    }

    /// What a conversation pins this binding's config by: the SHA-256 of
    /// its text, as the store keeps it.
    pub fn config_hash(&self) -> &str {
        &self.config_hash
    }
}

impl Tenant {
    /// Load `dir/tenant.toml` with the tenant's `managed.toml` on top.
    /// Components are looked up in `plugin_dir`.
    pub fn load(dir: &Path, plugin_dir: &Path, runtime: &Runtime, vars: Vars<'_>) -> anyhow::Result<Self> {
        let managed = Managed::read(dir)?;
        Self::load_with(dir, plugin_dir, runtime, vars, &managed)
    }

    /// Load with `managed` in place of the tenant's `managed.toml`: how an
    /// edit is checked whole before it is committed.
    pub fn load_with(
        dir: &Path,
        plugin_dir: &Path,
        runtime: &Runtime,
        vars: Vars<'_>,
        managed: &Managed,
    ) -> anyhow::Result<Self> {
        let mut file = read_operator_file(dir, vars)?;
        // The operator's own bindings keep the limits and grants it wrote;
        // the ones the tenant uploaded start from their manifest.
        let operators: BTreeSet<String> = file.plugins.keys().cloned().collect();
        layer(&mut file, managed);
        let calendar = Calendar::new(&file.calendar).context("tenant.toml: [calendar]")?;

        let mut plugins = HashMap::new();
        for (name, binding) in &file.plugins {
            let context = || format!("plugin {name:?}");
            let component = resolve_component(&binding.component, dir, plugin_dir).with_context(context)?;
            let code = Code::load(
                name,
                &binding.component,
                &component,
                binding.config.as_ref(),
                binding.config_file.as_deref(),
                dir,
                runtime,
            )?;
            let canary = match managed.plugins.get(name).and_then(|uploaded| uploaded.canary.as_ref()) {
                None => None,
                Some(canary) => {
                    let context = || format!("plugin {name:?}'s canary");
                    let shown = canary.component.display().to_string();
                    let path = resolve_component(&shown, dir, plugin_dir).with_context(context)?;
                    let code = match &canary.config_file {
                        Some(file) => Code::load(name, &shown, &path, None, Some(file), dir, runtime),
                        None => Code::with_config(name, &shown, &path, code.config.clone(), runtime),
                    }
                    .with_context(context)?;
                    let allowed = if canary.shadow { 0..=0 } else { 1..=100 };
                    if !allowed.contains(&canary.percent) {
                        bail!(
                            "plugin {name:?}'s canary: percent {} is not within {allowed:?}",
                            canary.percent
                        );
                    }
                    Some((code, path, canary.percent, canary.shadow))
                }
            };
            let uploaded = managed.plugins.get(name);
            let (base_limits, base_grants) = match (operators.contains(name), code.plugin.manifest()) {
                (false, Some(manifest)) => {
                    let asked = &manifest.capabilities;
                    let allowed = &file.self_service.grants;
                    let grants = Grants {
                        log: asked.log && allowed.log,
                        kv: asked.kv && allowed.kv,
                        ..Grants::default()
                    };
                    (file.self_service.manifest_limits(&manifest.defaults), grants)
                }
                _ => (binding.limits, binding.grants.clone()),
            };
            let limits = file
                .self_service
                .limits(base_limits, uploaded.and_then(|uploaded| uploaded.limits.as_ref()))
                .with_context(context)?;
            if let Some(problem) = limits.above(runtime.ceiling()) {
                bail!("plugin {name:?}: {problem}");
            }
            let grants = file
                .self_service
                .grants(base_grants, uploaded.and_then(|uploaded| uploaded.grants.as_ref()))
                .with_context(context)?;
            // Bound under the binding's limits, as its calls run.
            let Code { plugin, config, config_hash, .. } = code.initialise(name, &limits, runtime)?;
            let canary = match canary {
                None => None,
                Some((code, component, percent, shadow)) => {
                    let code = code
                        .initialise(name, &limits, runtime)
                        .with_context(|| format!("plugin {name:?}'s canary"))?;
                    Some(Canary {
                        plugin: code.plugin,
                        component,
                        config: code.config,
                        config_hash: code.config_hash,
                        percent,
                        shadow,
                    })
                }
            };
            let binding =
                Binding { plugin, component, config, config_hash, limits, grants: Arc::new(grants), canary };
            plugins.insert(name.clone(), binding);
        }

        let (flow_path, flow_source, flow) = read_flow(dir, &file)?;
        check_exports(&flow, &plugins)?;
        Ok(Self {
            display_name: file.display_name.unwrap_or_else(|| file.name.clone()),
            name: file.name,
            calendar,
            flow: Arc::new(flow),
            flow_source,
            plugins,
            api_token: file.api_token.filter(|token| !token.is_empty() && !managed.revoked(token)),
            channels: file.channels,
            web_chat: file.web_chat,
            quotas: file.quotas,
            handoff_webhook: file.handoff_webhook.filter(|hook| !hook.url.is_empty()),
            link_by_contact: file.link_by_contact,
            retention: file.retention,
            recording: file.recording,
            canary: file.canary,
            self_service: file.self_service,
            dir: dir.to_owned(),
            flow_file: flow_path.clone(),
            plugin_dir: plugin_dir.to_owned(),
        })
    }

    /// The plugin hashes a new conversation pins.
    pub fn pins(&self) -> BTreeMap<String, String> {
        self.pins_for("").0
    }

    /// The component and config hashes a new conversation `conversation`
    /// pins, one per binding: a binding's canary for the conversations its
    /// percent picks (by a hash of the id, so the same id always gets the
    /// same answer), else the binding's own. A binding without a config
    /// pins [`NO_CONFIG_HASH`], so a config set later waits for the next
    /// conversation too. `""` picks no canary.
    pub fn pins_for(&self, conversation: &str) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
        let mut pins = BTreeMap::new();
        let mut config_pins = BTreeMap::new();
        for (name, binding) in &self.plugins {
            let (component, config) = match &binding.canary {
                Some(canary)
                    if !conversation.is_empty() && canary_picks(name, conversation, canary.percent) =>
                {
                    (canary.plugin.hash().to_string(), canary.config_hash.clone())
                }
                _ => (binding.plugin.hash().to_string(), binding.config_hash.clone()),
            };
            pins.insert(name.clone(), component);
            config_pins.insert(name.clone(), config);
        }
        (pins, config_pins)
    }
}

/// Whether a canary at `percent` serves `conversation`: the first two bytes
/// of SHA-256(binding, conversation) as a number below 100.
fn canary_picks(binding: &str, conversation: &str, percent: u8) -> bool {
    use sha2::Digest;
    let digest =
        sha2::Sha256::new().chain_update(binding).chain_update([0]).chain_update(conversation).finalize();
    u16::from_be_bytes([digest[0], digest[1]]) % 100 < u16::from(percent)
}

/// A binding's code with its config, loaded and checked.
struct Code {
    plugin: Plugin,
    config: PluginConfig,
    config_hash: String,
    /// The component's bytes, until [`Code::initialise`] snapshots it.
    bytes: Vec<u8>,
}

impl Code {
    /// `config` inline or from `config_file` (inside `dir`), else none.
    fn load(
        name: &str,
        shown: &str,
        component: &Path,
        config: Option<&serde_json::Value>,
        config_file: Option<&Path>,
        dir: &Path,
        runtime: &Runtime,
    ) -> anyhow::Result<Self> {
        let config = match (config, config_file) {
            (Some(_), Some(_)) => bail!("plugin {name:?} has both config and config_file"),
            (Some(inline), None) => PluginConfig::from(inline.clone()),
            (None, Some(file)) => {
                let path = confined(dir, file, "config_file").with_context(|| format!("plugin {name:?}"))?;
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("plugin {name:?}: failed to read {}", file.display()))?;
                let value: serde_json::Value = serde_json::from_str(&text)
                    .with_context(|| format!("plugin {name:?}: {} is not JSON", file.display()))?;
                PluginConfig::from(value)
            }
            (None, None) => PluginConfig::default(),
        };
        Self::with_config(name, shown, component, config, runtime)
    }

    /// The component at `component` (named `shown`, as the tenant's files
    /// name it) with `config`, checked against its manifest's schema.
    fn with_config(
        name: &str,
        shown: &str,
        component: &Path,
        config: PluginConfig,
        runtime: &Runtime,
    ) -> anyhow::Result<Self> {
        // Read here, so that an error names the component as the tenant
        // file does, never by its path on this server.
        let bytes =
            std::fs::read(component).with_context(|| format!("plugin {name:?}: failed to read {shown}"))?;
        let plugin = runtime.load(&bytes).with_context(|| format!("plugin {name:?} ({shown})"))?;
        // A binding uploaded before its config has none yet: the schema
        // applies once there is one.
        if let Some(manifest) = plugin.manifest().filter(|_| !config.is_empty()) {
            let value = serde_json::from_str(config.as_str()).unwrap_or(serde_json::Value::Null);
            manifest.check_config(&value).map_err(|problems| {
                anyhow!(
                    "plugin {name:?}: its config does not satisfy {} {}'s config_schema:\n  {}",
                    manifest.name,
                    manifest.version,
                    problems.join("\n  ")
                )
            })?;
        }
        let config_hash = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(config.as_str().as_bytes()))
        };
        Ok(Self { plugin, config, config_hash, bytes })
    }

    /// This code as its calls will run it: from a snapshot taken after the
    /// plugin's `init` parsed the config under `limits` (a component
    /// without `init` is as loaded). As with the schema, a binding without
    /// a config yet may have `init` refuse or fail on it: it runs without a
    /// snapshot until it has one.
    fn initialise(self, name: &str, limits: &Limits, runtime: &Runtime) -> anyhow::Result<Self> {
        let plugin = match runtime.initialise(&self.plugin, &self.bytes, &self.config, limits) {
            Ok(initialised) => initialised,
            Err(LoadError::InitRefused(_) | LoadError::InitFailed(_)) if self.config.is_empty() => {
                self.plugin
            }
            Err(error) => {
                return Err(anyhow::Error::from(error))
                    .with_context(|| format!("plugin {name:?} with its config"));
            }
        };
        Ok(Self { plugin, bytes: Vec::new(), ..self })
    }
}

/// Each binding the flow calls exports what it is called for: a step's
/// `handler`, or `understanding` for the flow's `[understanding]`.
fn check_exports(flow: &Flow, plugins: &HashMap<String, Binding>) -> anyhow::Result<()> {
    if let Some(step) = &flow.understanding
        && let Some(binding) = plugins.get(&step.plugin)
        && !binding.plugin.is_classifier()
    {
        bail!(
            "[understanding] names plugin {:?}, whose component does not export `understanding.classify`; \
             build it against wit/since_v0.2.0 (world `classifier`)",
            step.plugin
        );
    }
    for name in flow.step_plugins() {
        if let Some(binding) = plugins.get(name)
            && !binding.plugin.is_step()
        {
            bail!(
                "the flow calls plugin {name:?} as a step, but its component exports only \
                 `understanding`; name it in [understanding] instead"
            );
        }
    }
    Ok(())
}

/// A tenant's flow and calendar, read from its directory without loading its
/// plugins: what `plugin run --render` needs to word a step's answer.
pub fn flow_and_calendar(dir: &Path) -> anyhow::Result<(Flow, Calendar)> {
    let mut file = read_operator_file(dir, &env_var)?;
    // As it runs: with what the tenant changed through the API on top.
    layer(&mut file, &Managed::read(dir)?);
    let calendar = Calendar::new(&file.calendar).context("tenant.toml: [calendar]")?;
    let (_, _, flow) = read_flow(dir, &file)?;
    Ok((flow, calendar))
}

/// The tenant's flow: where it is, its source, and the flow it parses to,
/// with the tenant's bindings as the plugins it may call.
fn read_flow(dir: &Path, file: &TenantFile) -> anyhow::Result<(PathBuf, String, Flow)> {
    let flow_path = confined(dir, &file.flow, "flow")?;
    let source = std::fs::read_to_string(&flow_path)
        .with_context(|| format!("failed to read the flow {}", file.flow.display()))?;
    let bound: BTreeSet<String> = file.plugins.keys().cloned().collect();
    let flow = Flow::parse(&file.flow.display().to_string(), &source, &bound)?;
    Ok((flow_path, source, flow))
}

/// The process environment: where `${VAR}` in an operator's `tenant.toml`
/// comes from.
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A tenant's name and `[retention]`, read from its `tenant.toml` alone:
/// for `switchboard store compact`, which loads no tenant.
pub fn read_retention(dir: &Path) -> anyhow::Result<(String, Retention)> {
    #[derive(Deserialize)]
    struct Part {
        name: String,
        #[serde(default)]
        retention: Retention,
    }
    let path = dir.join("tenant.toml");
    let raw = std::fs::read_to_string(&path).with_context(|| format!("failed to read {}", path.display()))?;
    let part: Part = toml::from_str(&raw).with_context(|| format!("failed to read {}", path.display()))?;
    Ok((part.name, part.retention))
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

/// The operator's file, checked with line numbers as written, then with
/// its string values expanded.
fn read_operator_file(dir: &Path, vars: Vars<'_>) -> anyhow::Result<TenantFile> {
    let raw = std::fs::read_to_string(dir.join("tenant.toml")).context("failed to read tenant.toml")?;
    let at = |error: toml::de::Error| {
        let line = error.span().map(|span| line_of(&raw, span.start)).unwrap_or(1);
        anyhow::anyhow!("tenant.toml:{line}: {}", error.message())
    };
    // The shape is checked before expansion, so errors point at the text;
    // expansion only changes what strings say.
    toml::from_str::<TenantFile>(&raw).map_err(at)?;
    let mut table: toml::Table = toml::from_str(&raw).map_err(at)?;
    vars::expand_table(&mut table, vars).context("tenant.toml")?;
    TenantFile::deserialize(toml::Value::Table(table))
        .map_err(|error| anyhow::anyhow!("tenant.toml: {error}"))
}

/// Put what the tenant set through its API over the operator's file.
fn layer(file: &mut TenantFile, managed: &Managed) {
    if let Some(flow) = &managed.flow {
        file.flow = flow.clone();
    }
    if let Some(calendar) = &managed.calendar {
        file.calendar = calendar.clone();
    }
    // A channel the tenant set replaces the operator's; the rest stay.
    file.channels.overlay(managed.channels.clone());
    for (name, uploaded) in &managed.plugins {
        let binding = file.plugins.entry(name.clone()).or_insert_with(|| BindingFile {
            component: String::new(),
            config: None,
            config_file: None,
            limits: Limits::default(),
            grants: Grants::default(),
        });
        if let Some(component) = &uploaded.component {
            binding.component = component.display().to_string();
        }
        if let Some(config_file) = &uploaded.config_file {
            binding.config = None;
            binding.config_file = Some(config_file.clone());
        }
    }
}

/// A component is a plain name in the plugin directory, or a `.wasm` file
/// inside the tenant's directory.
fn resolve_component(component: &str, dir: &Path, plugin_dir: &Path) -> anyhow::Result<PathBuf> {
    if component.ends_with(".wasm") {
        return confined(dir, Path::new(component), "component");
    }
    let plain =
        !component.is_empty() && component.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !plain {
        bail!("component {component:?} is neither a name in the plugin directory nor a .wasm file");
    }
    Ok(plugin_dir.join(format!("{component}.wasm")))
}

/// `relative` inside `root`, or an error that names only `relative`: no
/// absolute path, no `..`, and no symbolic link that leads out.
fn confined(root: &Path, relative: &Path, what: &str) -> anyhow::Result<PathBuf> {
    let inside = relative.components().all(|part| matches!(part, Component::Normal(_) | Component::CurDir));
    if !inside || relative.as_os_str().is_empty() {
        bail!(
            "{what} {:?} must be a relative path inside the tenant's directory",
            relative.display().to_string()
        );
    }
    let path = root.join(relative);
    let (Ok(real), Ok(real_root)) = (path.canonicalize(), root.canonicalize()) else {
        bail!("{what} {:?} does not exist", relative.display().to_string());
    };
    if !real.starts_with(&real_root) {
        bail!("{what} {:?} leads outside the tenant's directory", relative.display().to_string());
    }
    Ok(path)
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use sha2::Digest;
    use switchboard_runtime::{Grants, HttpGrant, Limits};

    use super::{SelfGrants, SelfLimits, SelfService};

    #[test]
    fn without_self_service_a_tenant_raises_nothing_and_grants_nothing_but_keeps_the_operators_hosts() {
        let service = SelfService::default();
        let base = Limits::default();
        let timeout = |ms| SelfLimits { timeout_ms: Some(ms), ..SelfLimits::default() };
        assert!(service.limits(base, Some(&timeout(101))).is_err(), "above the default 100 ms");
        assert_eq!(service.limits(base, Some(&timeout(50))).expect("lower is fine").timeout.as_millis(), 50);
        let kv = SelfGrants { kv: Some(true), ..SelfGrants::default() };
        assert!(service.grants(Grants::default(), Some(&kv)).is_err(), "kv is not the tenant's to grant");
        let operators = Grants {
            http: HttpGrant { allow: vec!["api.shop.am".into()], ..HttpGrant::default() },
            ..Grants::default()
        };
        let keep = SelfGrants { http: Some(vec!["api.shop.am".into()]), ..SelfGrants::default() };
        assert!(service.grants(operators.clone(), Some(&keep)).is_ok());
        let more = SelfGrants {
            http: Some(vec!["api.shop.am".into(), "evil.example".into()]),
            ..SelfGrants::default()
        };
        assert!(service.grants(operators, Some(&more)).is_err());
    }

    #[test]
    fn no_config_pins_the_hash_of_no_text() {
        assert_eq!(super::NO_CONFIG_HASH, hex::encode(sha2::Sha256::digest(b"")));
    }
}

/// What a conversation replay runs instead of what the tenant runs: a
/// flow (TOML), and per binding a component (its `.wasm` at a path) and
/// its config. Anything left out stays as the tenant has it.
#[derive(Debug, Clone, Default)]
pub struct Candidate {
    pub flow: Option<String>,
    pub plugins: BTreeMap<String, (Option<PathBuf>, Option<serde_json::Value>)>,
}

impl Tenant {
    /// This tenant with `candidate` in place, for a replay in a sandbox:
    /// every binding's outbound HTTP and secrets taken away, no channel
    /// credentials and no handoff webhook, so nothing it does reaches the
    /// world or anything of the server's.
    pub fn with_candidate(&self, candidate: &Candidate, runtime: &Runtime) -> anyhow::Result<Self> {
        let mut plugins = self.plugins.clone();
        for (name, (component, config)) in &candidate.plugins {
            let binding = plugins
                .get_mut(name)
                .ok_or_else(|| anyhow!("the tenant has no plugin binding {name:?} to replace"))?;
            let path = component.clone().unwrap_or_else(|| binding.component.clone());
            let config = config.clone().map(PluginConfig::from).unwrap_or_else(|| binding.config.clone());
            let code = Code::with_config(name, name, &path, config, runtime)?.initialise(
                name,
                &binding.limits,
                runtime,
            )?;
            binding.plugin = code.plugin;
            binding.component = path;
            binding.config = code.config;
            binding.config_hash = code.config_hash;
        }
        for binding in plugins.values_mut() {
            let grants =
                Grants { secrets: BTreeMap::new(), http: Default::default(), ..(*binding.grants).clone() };
            binding.grants = Arc::new(grants);
            binding.canary = None;
        }
        let (flow_source, flow) = match &candidate.flow {
            Some(source) => {
                let bound: BTreeSet<String> = plugins.keys().cloned().collect();
                (source.clone(), Arc::new(Flow::parse("candidate flow", source, &bound)?))
            }
            None => (self.flow_source.clone(), self.flow.clone()),
        };
        check_exports(&flow, &plugins)?;
        Ok(Self {
            name: self.name.clone(),
            display_name: self.display_name.clone(),
            calendar: self.calendar.clone(),
            flow,
            flow_source,
            plugins,
            api_token: None,
            channels: ChannelSecrets::default(),
            web_chat: self.web_chat,
            quotas: self.quotas,
            handoff_webhook: None,
            link_by_contact: self.link_by_contact,
            retention: self.retention,
            recording: Recording { steps: false, ..Recording::default() },
            canary: self.canary,
            self_service: self.self_service.clone(),
            dir: self.dir.clone(),
            flow_file: self.flow_file.clone(),
            plugin_dir: self.plugin_dir.clone(),
        })
    }
}
