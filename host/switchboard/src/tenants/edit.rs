//! A tenant's own edits to itself.
//!
//! An edit reads the tenant's `managed.toml` under that tenant's edit lock
//! (so concurrent edits never lose one another), changes it, writes the
//! files it brings under names derived from their content, and loads the
//! whole tenant from the result. Only a tenant that loads is committed
//! (`Managed::commit`, one rename) and swapped in; otherwise nothing the
//! tenant runs or reads changed, and the files it brought are removed.
//!
//! The lock is per tenant: an edit that is slow to check (a large
//! component to compile) holds up that tenant's next edit, nobody else's.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use switchboard_core::calendar::CalendarConfig;
use switchboard_core::contract::Channel;
use switchboard_runtime::manifest::Expect;
use switchboard_runtime::{CallContext, Grants, KvQuota, MemoryKv};

use super::{ControlError, ControlPlane, plain_name};
use crate::channels::{self, ChannelSecrets};
use crate::engine::{Engine, EngineError, Provenance};
use crate::tenant::managed::{MANAGED_FILE, sync_dir, write_synced};
use crate::tenant::{Managed, ManagedBinding, SelfGrants, SelfLimits, Tenant, Vars};

/// The edits a tenant makes to itself, each checked whole before it
/// replaces anything. Blocking.
impl ControlPlane {
    /// Replace the flow (TOML). New conversations get it; running ones keep theirs.
    pub fn set_flow(&self, tenant: &str, flow: Vec<u8>) -> Result<Arc<Tenant>, ControlError> {
        self.edit(tenant, move |_, managed, files| {
            let flow = NewFile::named_by_content("flows", "flow", "toml", flow);
            managed.flow = Some(flow.relative.clone());
            files.push(flow);
            Ok(())
        })
    }

    /// Replace the time zone, business hours and holidays.
    pub fn set_calendar(&self, tenant: &str, calendar: CalendarConfig) -> Result<Arc<Tenant>, ControlError> {
        self.edit(tenant, move |_, managed, _| {
            managed.calendar = Some(calendar);
            Ok(())
        })
    }

    /// Set one channel's credentials, as that channel's provider reads them.
    pub fn set_channel(
        &self,
        tenant: &str,
        channel: &str,
        secrets: serde_json::Value,
    ) -> Result<Arc<Tenant>, ControlError> {
        let provider = channel
            .parse::<Channel>()
            .ok()
            .map(channels::provider)
            .filter(|provider| provider.takes_credentials())
            .ok_or_else(|| ControlError::Request(format!("unknown channel {channel:?}")))?;
        let mut given = ChannelSecrets::default();
        provider
            .put_secrets(&mut given, secrets)
            .map_err(|error| ControlError::Request(format!("{channel}: {error}")))?;
        self.edit(tenant, move |_, managed, _| {
            managed.channels.overlay(given);
            Ok(())
        })
    }

    /// Bind `binding` to this component (the raw `.wasm`), keeping the
    /// binding's config, limits and grants. Checked in the sandbox first.
    pub fn put_component(
        &self,
        tenant: &str,
        binding: &str,
        wasm: Vec<u8>,
        provenance: &Provenance,
    ) -> Result<Arc<Tenant>, ControlError> {
        plain_name(binding, "plugin")?;
        let binding = binding.to_owned();
        self.edit_from(tenant, provenance, move |_, managed, files| {
            let component = NewFile::named_by_content("plugins", &binding, "wasm", wasm);
            let bound = managed.plugins.entry(binding).or_insert_with(ManagedBinding::default);
            bound.component = Some(component.relative.clone());
            files.push(component);
            Ok(())
        })
    }

    /// Set a bound plugin's config (JSON), kept beside it in `plugins/`.
    pub fn put_config(
        &self,
        tenant: &str,
        binding: &str,
        config: &serde_json::Value,
        provenance: &Provenance,
    ) -> Result<Arc<Tenant>, ControlError> {
        plain_name(binding, "plugin")?;
        let json =
            serde_json::to_vec_pretty(config).map_err(|error| ControlError::Request(error.to_string()))?;
        let binding = binding.to_owned();
        self.edit_from(tenant, provenance, move |current, managed, files| {
            if !current.plugins.contains_key(&binding) {
                return Err(ControlError::UnknownPlugin(binding));
            }
            let config = NewFile::named_by_content("plugins", &binding, "json", json);
            let bound = managed.plugins.entry(binding).or_insert_with(ManagedBinding::default);
            bound.config_file = Some(config.relative.clone());
            files.push(config);
            Ok(())
        })
    }
}

impl ControlPlane {
    /// Set limits on a bound plugin: each one given replaces the one set
    /// before, within the operator's `[self_service]` maxima.
    pub fn set_limits(
        &self,
        tenant: &str,
        binding: &str,
        limits: SelfLimits,
        provenance: &Provenance,
    ) -> Result<Arc<Tenant>, ControlError> {
        self.edit_binding(tenant, binding, provenance, move |bound| {
            let set = bound.limits.get_or_insert_with(SelfLimits::default);
            set.fuel = limits.fuel.or(set.fuel);
            set.timeout_ms = limits.timeout_ms.or(set.timeout_ms);
            set.memory_mb = limits.memory_mb.or(set.memory_mb);
        })
    }

    /// Grant (or take back) `log`, `kv` and outbound HTTP hosts on a bound
    /// plugin, within the operator's `[self_service]`.
    pub fn set_grants(
        &self,
        tenant: &str,
        binding: &str,
        grants: SelfGrants,
        provenance: &Provenance,
    ) -> Result<Arc<Tenant>, ControlError> {
        self.edit_binding(tenant, binding, provenance, move |bound| {
            let set = bound.grants.get_or_insert_with(SelfGrants::default);
            set.log = grants.log.or(set.log);
            set.kv = grants.kv.or(set.kv);
            set.http = grants.http.or(set.http.take());
        })
    }

    /// Change what the tenant set on its bound plugin `binding`.
    fn edit_binding(
        &self,
        tenant: &str,
        binding: &str,
        provenance: &Provenance,
        change: impl FnOnce(&mut ManagedBinding),
    ) -> Result<Arc<Tenant>, ControlError> {
        plain_name(binding, "plugin")?;
        let binding = binding.to_owned();
        self.edit_from(tenant, provenance, move |current, managed, _| {
            if !current.plugins.contains_key(&binding) {
                return Err(ControlError::UnknownPlugin(binding));
            }
            change(managed.plugins.entry(binding).or_insert_with(ManagedBinding::default));
            Ok(())
        })
    }

    /// Run version `seq` of a binding again: its component and config, as
    /// an upload of both would (checked, samples run), recorded as a new
    /// version. The store keeps what every listed version ran.
    pub fn restore_plugin_version(
        &self,
        tenant: &str,
        binding: &str,
        seq: u64,
        provenance: &Provenance,
    ) -> Result<Arc<Tenant>, ControlError> {
        plain_name(binding, "plugin")?;
        let Some((component, config)) = self.engine.plugin_version_contents(tenant, binding, seq)? else {
            return Err(ControlError::UnknownVersion { plugin: binding.to_owned(), seq });
        };
        let binding = binding.to_owned();
        self.edit_from(tenant, provenance, move |current, managed, files| {
            let Some(running) = current.plugins.get(&binding) else {
                return Err(ControlError::UnknownPlugin(binding));
            };
            if config.is_none() && !running.config.is_empty() {
                // There is no saying "no config" over the operator's file or
                // an upload: the component would run with today's config.
                return Err(ControlError::Request(format!(
                    "version {seq} of {binding:?} ran without a config, and the binding has one now; \
                     restore a version that had a config, or upload the component alone"
                )));
            }
            let component = NewFile::named_by_content("plugins", &binding, "wasm", component);
            let config =
                config.map(|text| NewFile::named_by_content("plugins", &binding, "json", text.into_bytes()));
            let bound = managed.plugins.entry(binding).or_insert_with(ManagedBinding::default);
            bound.component = Some(component.relative.clone());
            files.push(component);
            if let Some(config) = config {
                bound.config_file = Some(config.relative.clone());
                files.push(config);
            }
            Ok(())
        })
    }
}

/// A file an edit brings, inside the tenant's directory.
#[derive(Debug)]
pub struct NewFile {
    pub relative: PathBuf,
    pub bytes: Vec<u8>,
}

impl NewFile {
    /// `{folder}/{stem}-{first 16 hex digits of its SHA-256}.{extension}`:
    /// a new version never overwrites the one running.
    pub fn named_by_content(folder: &str, stem: &str, extension: &str, bytes: Vec<u8>) -> Self {
        let hash = hex::encode(Sha256::digest(&bytes));
        Self { relative: PathBuf::from(format!("{folder}/{stem}-{}.{extension}", &hash[..16])), bytes }
    }
}

/// Change `tenant` with `change`, which gets the tenant's managed settings
/// and a list to put the files it brings in. The tenant as reloaded, or why
/// nothing changed.
pub(super) fn edit(
    engine: &Engine,
    catalog: Option<&super::Catalog>,
    tenant: &str,
    vars: Vars<'_>,
    provenance: &Provenance,
    change: impl FnOnce(&Tenant, &mut Managed, &mut Vec<NewFile>) -> Result<(), ControlError>,
) -> Result<Arc<Tenant>, ControlError> {
    let _one_at_a_time = one_at_a_time(tenant);
    // Looked up under the lock: a removal or reload before it is seen.
    let current = engine.tenant(tenant)?;
    let dir = current.dir.as_path();
    let setup = |error: anyhow::Error| EngineError::Setup {
        tenant: tenant.to_owned(),
        message: format!("{error:#}"),
    };
    let before = Managed::read(dir).map_err(setup)?;
    let mut after = before.clone();
    let mut files = Vec::new();
    change(&current, &mut after, &mut files)?;

    let created = write_new_files(dir, files).map_err(setup)?;
    let loaded = engine
        .load_tenant_with(dir, &current.plugin_dir, vars, &after)
        .map_err(|error| Refused::Invalid(format!("{error:#}")))
        .and_then(|loaded| match loaded.name == tenant {
            true => Ok(loaded),
            false => Err(Refused::Invalid(format!("tenant.toml now names the tenant {:?}", loaded.name))),
        });
    let loaded = match loaded.and_then(|loaded| run_samples(&current, &loaded).map(|()| loaded)) {
        Ok(loaded) => loaded,
        Err(Refused::Invalid(problems)) => {
            remove(dir, created.iter().map(PathBuf::as_path));
            return Err(ControlError::NotChanged(problems));
        }
        Err(Refused::Samples(failed)) => {
            remove(dir, created.iter().map(PathBuf::as_path));
            return Err(ControlError::SamplesFailed(failed));
        }
    };
    // Published before it is committed here: a change another node made
    // meanwhile refuses it, and nothing of it stays.
    let published = match catalog {
        Some(catalog) => {
            // The directory as it will be once committed.
            let text = after.text().map_err(setup)?;
            let current = std::fs::read(dir.join(MANAGED_FILE)).ok();
            let previous = format!("{MANAGED_FILE}.previous");
            let mut replacing = vec![(MANAGED_FILE, text.as_bytes())];
            if let Some(current) = &current {
                replacing.push((previous.as_str(), current.as_slice()));
            }
            match catalog.publish(&loaded, &replacing, false) {
                Ok(publication) => Some((catalog, publication)),
                Err(error) => {
                    remove(dir, created.iter().map(PathBuf::as_path));
                    return Err(error);
                }
            }
        }
        None => None,
    };
    let older = Managed::read_previous(dir);
    let served = after.commit(dir).map_err(|error| ControlError::from(setup(error))).and_then(|()| {
        let served = engine.add_tenant_from(loaded, provenance).map_err(ControlError::from);
        served.and_then(|()| engine.tenant(tenant).map_err(ControlError::from))
    });
    match (&served, published) {
        (Ok(now), Some((catalog, publication))) => catalog.committed(now, &publication),
        // Published but not served here: the next look takes the catalog's.
        (Err(_), Some((catalog, _))) => catalog.not_committed(tenant),
        (_, None) => {}
    }
    served?;
    // Keep the files of this version and the one before it; what only the
    // version before that named is garbage now.
    let kept: BTreeSet<&Path> = after.files().chain(before.files()).collect();
    remove(dir, older.iter().flat_map(Managed::files).filter(|file| !kept.contains(file)));
    Ok(engine.tenant(tenant)?)
}

/// Why an edit's tenant is not taken.
enum Refused {
    Invalid(String),
    Samples(String),
}

/// How much of a failing sample's answer an error shows.
const MAX_SHOWN_ANSWER_CHARS: usize = 2000;

/// How long an upload's samples may take together, past each call's own deadline.
const SAMPLES_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

/// Run the samples of every binding whose component or config the edit
/// changed (those its manifest carries), in the sandbox with the binding's
/// limits, its `log` and `settings`, a throwaway `kv`, and no secrets or
/// outbound HTTP: nothing a sample does reaches the tenant's state or the
/// world. Each failing sample, said, if any failed.
fn run_samples(current: &Tenant, loaded: &Tenant) -> Result<(), Refused> {
    let mut failures = Vec::new();
    for (name, binding) in &loaded.plugins {
        let was = current.plugins.get(name);
        let canary = binding.canary.as_ref().map(|canary| (&canary.plugin, &canary.config));
        let canary_was =
            was.and_then(|was| was.canary.as_ref()).map(|canary| (&canary.plugin, &canary.config));
        let code = [
            ("", Some((&binding.plugin, &binding.config)), was.map(|was| (&was.plugin, &was.config))),
            (" canary", canary, canary_was),
        ];
        for (role, now, before) in code {
            let Some((plugin, config)) = now else { continue };
            let unchanged =
                before.is_some_and(|(was, was_config)| was.hash() == plugin.hash() && was_config == config);
            let Some(manifest) = plugin.manifest().filter(|_| !unchanged) else { continue };
            let grants = Grants {
                log: binding.grants.log,
                kv: binding.grants.kv,
                settings: binding.grants.settings.clone(),
                ..Grants::default()
            };
            let context = CallContext {
                plugin: name.clone(),
                limits: binding.limits,
                grants: Arc::new(grants),
                kv: Some(Arc::new(MemoryKv::default())),
                kv_quota: KvQuota::default(),
            };
            for mismatch in manifest.run_samples(plugin, config, &context, SAMPLES_BUDGET) {
                let mut got = mismatch.got.as_ref().map_or_else(String::new, Expect::to_json);
                // A sample's answer may be megabytes; the error says its start.
                if let Some((cut, _)) = got.char_indices().nth(MAX_SHOWN_ANSWER_CHARS) {
                    got.truncate(cut);
                    got.push('…');
                }
                let detail = mismatch.detail.map(|detail| format!(" ({detail})")).unwrap_or_default();
                failures.push(format!(
                    "plugin {name:?}{role} ({} {}), sample {:?}: expected {}, got {got}{detail}",
                    manifest.name,
                    manifest.version,
                    mismatch.sample,
                    mismatch.expected.to_json()
                ));
            }
        }
    }
    if failures.is_empty() { Ok(()) } else { Err(Refused::Samples(failures.join("; "))) }
}

impl Managed {
    fn read_previous(dir: &Path) -> Option<Managed> {
        let text = std::fs::read_to_string(dir.join(format!("{MANAGED_FILE}.previous"))).ok()?;
        toml::from_str(&text).ok()
    }
}

/// Write the files that are not there yet (same name, same content), each
/// beside then renamed, and sync their folders. The ones it wrote.
fn write_new_files(dir: &Path, files: Vec<NewFile>) -> anyhow::Result<Vec<PathBuf>> {
    let mut created = Vec::new();
    let mut folders = BTreeSet::new();
    for file in files {
        let path = dir.join(&file.relative);
        if path.exists() {
            continue;
        }
        let partial = path.with_extension("partial");
        write_synced(&partial, &file.bytes)?;
        std::fs::rename(&partial, &path)?;
        folders.extend(path.parent().map(Path::to_owned));
        created.push(file.relative);
    }
    for folder in folders {
        sync_dir(&folder)?;
    }
    Ok(created)
}

fn remove<'a>(dir: &Path, files: impl Iterator<Item = &'a Path>) {
    for file in files {
        if let Err(error) = std::fs::remove_file(dir.join(file))
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(file = %file.display(), %error, "could not remove an unused tenant file");
        }
    }
}

/// Hold one tenant's lifecycle lock: its edits, reloads and removal go one
/// at a time, so none brings back a version another replaced or removed.
/// Blocking: call it from the blocking pool, never from async code.
pub(super) fn one_at_a_time(tenant: &str) -> tokio::sync::OwnedMutexGuard<()> {
    type Locks = HashMap<String, Arc<tokio::sync::Mutex<()>>>;
    static LOCKS: Mutex<Option<Locks>> = Mutex::new(None);
    let lock = {
        let mut locks = LOCKS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.get_or_insert_with(HashMap::new).entry(tenant.to_owned()).or_default().clone()
    };
    lock.blocking_lock_owned()
}
