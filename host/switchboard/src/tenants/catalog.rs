//! The tenant catalog: every tenant's directory in the store, so each node
//! that shares the store serves the same tenants.
//!
//! A node keeps a working copy of each tenant's directory under its
//! tenants directory and loads it from there, as any directory. What a node
//! changes through the control plane (create, edit, reload, remove) it
//! publishes as the tenant's next revision, by compare-and-set, before it
//! serves the change; the other nodes follow the catalog ([`Catalog::follow`]),
//! write the new revision over their copy and load it. An edit based on a
//! revision another node has replaced is refused, to be tried again.
//!
//! On a shared store (PostgreSQL) the catalog is the truth: a node starts
//! by checking out every tenant, and a directory the catalog does not know
//! is not served (`switchboard tenants import` puts it there). On the
//! embedded store the directory is the truth and the catalog its copy,
//! which `tenants export` and `store migrate` read.
//!
//! A bundle holds every file of the directory by its path inside it, and
//! the components the tenant names from the plugin directory under
//! `.plugins/`. Components are blobs named by their hash; everything else,
//! `tenant.toml` and `managed.toml` with their channel secrets included, is
//! sealed with the operator's key (`sealing.rs`), bound to the tenant's name.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use switchboard_store::Publish;

use super::ControlError;
use super::edit::one_at_a_time;
use crate::engine::{Engine, EngineError};
use crate::sealing::SecretsKey;
use crate::tenant::Tenant;
use crate::tenant::managed::{sync_dir, write_synced};

/// Where a checked-out tenant's components from the plugin directory go.
pub const PLUGINS: &str = ".plugins";

/// The revision a working copy was checked out at, and the SHA-256 of the
/// sealed bundle it came from: a catalog rebuilt or imported again starts
/// its revisions over, and its bundles are sealed anew, so a copy from
/// before is never taken for current.
const REVISION_FILE: &str = ".catalog-revision";

/// The catalog's own entry (no tenant's name starts with a dot): a value
/// sealed by the first node, which every node opens before it serves, so a
/// node started with another key stops at once instead of publishing what
/// no other node can open.
const KEY_CHECK: &str = ".key-check";

/// How often a node looks for other nodes' changes.
pub const FOLLOW_EVERY: Duration = Duration::from_secs(2);

/// More than this in files other than components is not a tenant's
/// directory but something left in it.
const MAX_INLINE_BYTES: usize = 32 << 20;

/// A tenant's directory, as the catalog keeps it.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Bundle {
    /// By path inside the directory, `/`-separated.
    files: BTreeMap<String, Entry>,
}

#[derive(Debug, Serialize, Deserialize)]
enum Entry {
    Bytes(Vec<u8>),
    /// A component, stored once as a blob under its SHA-256.
    Blob(String),
}

/// A node's view of the tenant catalog.
#[derive(Debug)]
pub struct Catalog {
    engine: Arc<Engine>,
    key: SecretsKey,
    /// The working copies: `{root}/{tenant}`.
    root: PathBuf,
    /// The revision this node serves of each tenant.
    serving: Mutex<HashMap<String, u64>>,
    /// Revisions this node could not load, so it does not try every round.
    failed: Mutex<HashMap<String, u64>>,
    /// Tenants whose revision is being taken: the next look passes them
    /// over, so one slow to load (a large component to compile) holds up
    /// no other tenant's change.
    busy: Mutex<std::collections::HashSet<String>>,
    /// How many tenants' changes are taken at once.
    parallel: Arc<tokio::sync::Semaphore>,
}

impl Catalog {
    pub fn new(engine: Arc<Engine>, key: SecretsKey, root: PathBuf) -> Self {
        Self {
            engine,
            key,
            root,
            serving: Mutex::default(),
            failed: Mutex::default(),
            busy: Mutex::default(),
            parallel: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
            )),
        }
    }

    /// Check that this node's key is the one the catalog is sealed with
    /// (the first node to ask seals the check with its own). Call before
    /// serving or changing anything.
    pub fn check_key(&self) -> anyhow::Result<()> {
        for _ in 0..3 {
            if let Some((_, sealed)) = self.engine.tenant_bundle(KEY_CHECK)? {
                self.key.open(&context(KEY_CHECK), &sealed).context("the store's tenant catalog")?;
                return Ok(());
            }
            // A catalog from before the check: its tenants' bundles say
            // whether this is their key, before this node seals the check.
            if let Some(entry) = self.tenants()?.into_iter().find(|entry| !entry.removed)
                && let Some((_, sealed)) = self.engine.tenant_bundle(&entry.tenant)?
            {
                self.open(&entry.tenant, &sealed)?;
            }
            let sealed = self.key.seal(&context(KEY_CHECK), b"switchboard")?;
            if let Publish::Done(_) = self.engine.publish_tenant(KEY_CHECK, 0, Some(&sealed))? {
                return Ok(());
            }
        }
        bail!("the tenant catalog's key check keeps changing; try again")
    }

    /// Whether the catalog, not the directory, is what this node serves.
    pub fn is_authoritative(&self) -> bool {
        self.engine.store_is_shared()
    }

    /// Publish `tenant` as it is loaded (with `replacing` files of its
    /// directory, relative to it, given as they will be once committed) as
    /// its next revision. `creating`: a new tenant, refused if the catalog
    /// serves one of the name. The revision, or why nothing was published.
    pub fn publish(
        &self,
        tenant: &Tenant,
        replacing: &[(&str, &[u8])],
        creating: bool,
    ) -> Result<Publication, ControlError> {
        let bundle = self.bundle_of(tenant, replacing).map_err(|error| setup(&tenant.name, error))?;
        let sealed = self.seal(&tenant.name, &bundle)?;
        let based_on = self.based_on(&tenant.name, creating)?;
        match self.engine.publish_tenant(&tenant.name, based_on, Some(&sealed))? {
            // Noted as served once the caller has committed and served it
            // ([`Catalog::committed`]).
            Publish::Done(revision) => Ok(Publication { revision, digest: digest(&sealed) }),
            Publish::Moved(_) if creating => Err(ControlError::Exists(tenant.name.clone())),
            Publish::Moved(held) => Err(ControlError::Moved { tenant: tenant.name.clone(), held }),
        }
    }

    /// Note a tenant loaded at start-up. Checked out of the catalog, it is
    /// at its working copy's revision; loaded from the directory that is the
    /// truth (the embedded store), the catalog's copy is brought up to it.
    pub fn loaded(&self, tenant: &Tenant) -> Result<(), ControlError> {
        if self.is_authoritative() {
            if let Some((revision, _)) = read_marker(&tenant.dir) {
                self.lock_serving().insert(tenant.name.clone(), revision);
            }
            return Ok(());
        }
        let bundle = self.bundle_of(tenant, &[]).map_err(|error| setup(&tenant.name, error))?;
        if let Some((revision, sealed)) = self.engine.tenant_bundle(&tenant.name)?
            && let Ok(held) = self.open(&tenant.name, &sealed)
            && postcard::to_stdvec(&held).ok() == postcard::to_stdvec(&bundle).ok()
        {
            self.served(&tenant.name, &Publication { revision, digest: digest(&sealed) }, &tenant.dir);
            return Ok(());
        }
        self.publish(tenant, &[], false).map(drop)
    }

    /// Publish that `name` is removed, so every node stops serving it.
    pub fn publish_removal(&self, name: &str) -> Result<(), ControlError> {
        let based_on = self.based_on(name, false)?;
        match self.engine.publish_tenant(name, based_on, None)? {
            Publish::Done(_) => {
                self.lock_serving().remove(name);
                Ok(())
            }
            Publish::Moved(held) => Err(ControlError::Moved { tenant: name.to_owned(), held }),
        }
    }

    /// The revision a change of `name` is based on: the one this node
    /// serves, or (for a name it does not) the catalog's, where a new
    /// tenant may take a removed one's name only.
    fn based_on(&self, name: &str, creating: bool) -> Result<u64, ControlError> {
        if let Some(revision) = self.lock_serving().get(name) {
            return Ok(*revision);
        }
        match self.entry(name)? {
            None => Ok(0),
            Some(entry) if entry.removed => Ok(entry.revision),
            Some(_) if creating => Err(ControlError::Exists(name.to_owned())),
            // The embedded store's copy follows its directory.
            Some(entry) if !self.is_authoritative() => Ok(entry.revision),
            Some(entry) => Err(ControlError::Moved { tenant: name.to_owned(), held: entry.revision }),
        }
    }

    /// What was published is committed and served here.
    pub fn committed(&self, tenant: &Tenant, publication: &Publication) {
        self.served(&tenant.name, publication, &tenant.dir);
    }

    /// What was published did not get served here after all: this node
    /// checks the catalog's copy out again on its next look.
    pub fn not_committed(&self, name: &str) {
        self.lock_serving().remove(name);
    }

    /// The catalog's tenants (not its own entries).
    pub fn tenants(&self) -> Result<Vec<switchboard_store::TenantRevision>, EngineError> {
        let mut entries = self.engine.tenant_revisions()?;
        entries.retain(|entry| !entry.tenant.starts_with('.'));
        Ok(entries)
    }

    /// What the catalog holds of `name`, if it ever held it.
    fn entry(&self, name: &str) -> Result<Option<switchboard_store::TenantRevision>, EngineError> {
        Ok(self.engine.tenant_revisions()?.into_iter().find(|entry| entry.tenant == name))
    }

    /// Whether the catalog holds `name` as removed.
    pub fn was_removed(&self, name: &str) -> Result<bool, ControlError> {
        Ok(self.entry(name)?.is_some_and(|entry| entry.removed))
    }

    /// Take back revision `revision` of a tenant that was published but not
    /// created after all (its first key could not be made): it is removed.
    pub fn withdraw(&self, name: &str, revision: u64) {
        self.lock_serving().remove(name);
        if let Err(error) = self.engine.publish_tenant(name, revision, None) {
            tracing::error!(tenant = %name, %error, "a tenant not created stays in the catalog; remove it");
        }
    }

    /// Record that this node serves `revision` of `name`, from `dir` (a
    /// working copy notes it too; a directory that is the truth, perhaps
    /// the operator's checkout, gets no file of ours).
    fn served(&self, name: &str, publication: &Publication, dir: &Path) {
        self.lock_serving().insert(name.to_owned(), publication.revision);
        if self.is_authoritative()
            && let Err(error) = write_marker(dir, publication)
        {
            tracing::warn!(tenant = %name, %error, "could not note the revision a tenant's directory is at");
        }
    }

    fn lock_serving(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.serving.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Write every tenant the catalog serves into its working copy (those
    /// already at their revision stay as they are). Their directories, to
    /// load; a tenant that does not check out is reported and left out.
    pub fn check_out_all(&self) -> anyhow::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(&self.root).with_context(|| format!("creating {}", self.root.display()))?;
        let mut dirs = Vec::new();
        for entry in self.tenants()? {
            if entry.removed {
                continue;
            }
            match self.check_out(&entry.tenant) {
                Ok(Some((_, dir))) => dirs.push(dir),
                Ok(None) => {}
                Err(error) => eprintln!("error: tenant {} not checked out: {error:#}", entry.tenant),
            }
        }
        Ok(dirs)
    }

    /// Write the catalog's `name` into its working copy; its revision and
    /// directory, or `None` if the catalog serves no such tenant.
    pub fn check_out(&self, name: &str) -> anyhow::Result<Option<(u64, PathBuf)>> {
        let checked_out = self.check_out_keeping(name)?;
        Ok(checked_out.map(|checked_out| {
            let (revision, dir) = (checked_out.revision, checked_out.dir.clone());
            checked_out.keep();
            (revision, dir)
        }))
    }

    /// [`Catalog::check_out`], keeping the copy it replaced until
    /// [`CheckedOut::keep`] (dropped, the old copy is put back).
    fn check_out_keeping(&self, name: &str) -> anyhow::Result<Option<CheckedOut>> {
        super::plain_name(name, "tenant")
            .map_err(|_| anyhow::anyhow!("{name:?} is not a plain tenant name"))?;
        let Some((revision, sealed)) = self.engine.tenant_bundle(name)? else { return Ok(None) };
        let publication = Publication { revision, digest: digest(&sealed) };
        let dir = self.root.join(name);
        if read_marker(&dir).as_ref() == Some(&(publication.revision, publication.digest.clone())) {
            return Ok(Some(CheckedOut { revision, dir, replaced: None }));
        }
        let bundle = self.open(name, &sealed)?;
        let incoming = self.root.join(format!(".incoming-{name}"));
        let _ = std::fs::remove_dir_all(&incoming);
        self.write_bundle(&bundle, &incoming)?;
        write_marker(&incoming, &publication)?;
        sync_dir(&incoming)?;
        let replaced = self.root.join(format!(".replaced-{name}"));
        let _ = std::fs::remove_dir_all(&replaced);
        let had = dir.exists();
        if had {
            std::fs::rename(&dir, &replaced).with_context(|| format!("moving {} aside", dir.display()))?;
        }
        std::fs::rename(&incoming, &dir).with_context(|| format!("putting {} in place", dir.display()))?;
        sync_dir(&self.root)?;
        Ok(Some(CheckedOut { revision, dir, replaced: had.then_some(replaced) }))
    }

    /// Follow the catalog for ever: every `every`, take what other nodes
    /// changed, each tenant on a blocking thread of its own.
    pub async fn follow(self: Arc<Self>, every: Duration) {
        loop {
            tokio::time::sleep(every).await;
            let catalog = self.clone();
            let changed = tokio::task::spawn_blocking(move || catalog.changed()).await.unwrap_or_default();
            for entry in changed {
                // A few at a time: a mass import compiles no more at once
                // than the machine has cores.
                let Ok(permit) = self.parallel.clone().acquire_owned().await else { return };
                let catalog = self.clone();
                let taking = tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    catalog.follow_one(&entry);
                });
                tokio::spawn(async move {
                    if let Err(error) = taking.await {
                        tracing::error!(%error, "taking a tenant's change from the catalog panicked");
                    }
                });
            }
        }
    }

    /// One look at the catalog, waited for: load each tenant whose revision
    /// is not the one served here (in parallel), and stop serving the
    /// removed ones.
    pub fn follow_once(&self) {
        let changed = self.changed();
        std::thread::scope(|scope| {
            for entry in &changed {
                scope.spawn(move || self.follow_one(entry));
            }
        });
    }

    /// Mark `tenant` busy until the guard drops (a panic included); `None`
    /// if another thread is taking its change already.
    fn claim(&self, tenant: &str) -> Option<Busy<'_>> {
        let claimed =
            self.busy.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(tenant.to_owned());
        claimed.then(|| Busy { catalog: self, tenant: tenant.to_owned() })
    }

    /// The catalog's tenants whose revision is not the one served here.
    fn changed(&self) -> Vec<switchboard_store::TenantRevision> {
        let entries = match self.tenants() {
            Ok(entries) => entries,
            Err(error) => {
                tracing::warn!(%error, "could not read the tenant catalog; trying again");
                return Vec::new();
            }
        };
        entries
            .into_iter()
            .filter(|entry| self.lock_serving().get(&entry.tenant) != Some(&entry.revision))
            .collect()
    }

    /// Take one tenant's change: serve its new revision, or stop serving it.
    fn follow_one(&self, entry: &switchboard_store::TenantRevision) {
        let Some(_busy) = self.claim(&entry.tenant) else { return };
        let serving = self.lock_serving().get(&entry.tenant).copied();
        if serving == Some(entry.revision) {
            return;
        }
        if entry.removed {
            if serving.is_some() {
                self.stop_serving(&entry.tenant);
            }
            return;
        }
        let failed =
            self.failed.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&entry.tenant).copied();
        if failed == Some(entry.revision) {
            return;
        }
        match self.take(&entry.tenant) {
            Ok(()) => {}
            // The revision does not load here: not tried again until there
            // is another.
            Err(Taken::DoesNotLoad(error)) => {
                tracing::error!(tenant = %entry.tenant, revision = entry.revision, "{error:#}");
                self.failed
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .insert(entry.tenant.clone(), entry.revision);
            }
            // The store or the disk: tried again on the next look.
            Err(Taken::NotCheckedOut(error)) => {
                tracing::warn!(tenant = %entry.tenant, revision = entry.revision, "{error:#}; trying again");
            }
        }
    }

    /// Check out and serve the catalog's `name`, under its lifecycle lock.
    /// A revision that does not load leaves the copy this node serves in
    /// place, so its edits still start from what it serves.
    fn take(&self, name: &str) -> Result<(), Taken> {
        let _one_at_a_time = one_at_a_time(name);
        let Some(checked_out) = self.check_out_keeping(name).map_err(Taken::NotCheckedOut)? else {
            return Ok(());
        };
        let revision = checked_out.revision;
        if self.lock_serving().get(name) == Some(&revision) {
            checked_out.keep();
            return Ok(());
        }
        let loaded = self
            .engine
            .load_tenant(&checked_out.dir, &checked_out.dir.join(PLUGINS), &crate::tenant::env_var)
            .and_then(|tenant| match tenant.name == name {
                true => Ok(tenant),
                false => Err(anyhow::anyhow!("it names itself {:?}", tenant.name)),
            })
            .with_context(|| format!("revision {revision} of tenant {name} does not load on this node"))
            .map_err(Taken::DoesNotLoad)?;
        self.engine.add_tenant(loaded).map_err(|error| Taken::DoesNotLoad(error.into()))?;
        checked_out.keep();
        self.lock_serving().insert(name.to_owned(), revision);
        // Said as start-up says what it loaded: the operator sees the change arrive.
        eprintln!("loaded tenant {name} (revision {revision} of the catalog)");
        Ok(())
    }

    /// Stop serving a tenant another node removed, setting its working
    /// copy aside.
    fn stop_serving(&self, name: &str) {
        let _one_at_a_time = one_at_a_time(name);
        // Looked at again under the lock: this node may have created the
        // name anew since the catalog was read.
        let still_removed = match self.entry(name) {
            Ok(entry) => entry.is_some_and(|entry| entry.removed),
            Err(error) => {
                tracing::warn!(tenant = %name, %error, "could not read the tenant catalog; trying again");
                false
            }
        };
        if !still_removed {
            return;
        }
        self.lock_serving().remove(name);
        if let Err(error) = self.engine.remove_tenant(name) {
            tracing::warn!(tenant = %name, %error, "a tenant removed on another node was not served here");
        }
        self.set_aside(name);
        eprintln!("stopped serving tenant {name}: removed from the catalog");
    }

    /// Move a removed tenant's working copy, if this node has one, under
    /// `.removed/`.
    pub fn set_aside(&self, name: &str) {
        let dir = self.root.join(name);
        if !dir.exists() {
            return;
        }
        if let Err(error) = super::set_aside(&dir, jiff::Timestamp::now().as_millisecond()) {
            tracing::warn!(tenant = %name, %error, "a removed tenant's working copy stays in place");
        }
    }

    /// Load the tenant in `dir` (components named without `.wasm` from
    /// `plugin_dir`) and make it the catalog's next revision, whatever the
    /// catalog held: the operator's import. Its name and revision.
    pub fn import(&self, dir: &Path, plugin_dir: &Path) -> anyhow::Result<(String, u64)> {
        let tenant = self.engine.load_tenant(dir, plugin_dir, &crate::tenant::env_var)?;
        super::plain_name(&tenant.name, "tenant").map_err(|_| {
            anyhow::anyhow!("tenant.toml names the tenant {:?}, not a plain name", tenant.name)
        })?;
        let bundle = self.bundle_of(&tenant, &[])?;
        let sealed = self.seal(&tenant.name, &bundle)?;
        // Another import or node may publish between the read and the write: read again.
        for _ in 0..3 {
            let based_on = self.entry(&tenant.name)?.map_or(0, |entry| entry.revision);
            if let Publish::Done(revision) =
                self.engine.publish_tenant(&tenant.name, based_on, Some(&sealed))?
            {
                return Ok((tenant.name, revision));
            }
        }
        bail!("tenant {} kept changing while it was imported; import it again", tenant.name)
    }

    /// Export every tenant the catalog serves into `out/{tenant}`: the
    /// directory form, for GitOps. How many.
    pub fn export(&self, out: &Path) -> anyhow::Result<usize> {
        let mut count = 0;
        for entry in self.tenants()? {
            if entry.removed {
                continue;
            }
            super::plain_name(&entry.tenant, "tenant").map_err(|_| {
                anyhow::anyhow!("the catalog names a tenant {:?}, not a plain name", entry.tenant)
            })?;
            let Some((_, sealed)) = self.engine.tenant_bundle(&entry.tenant)? else { continue };
            let bundle = self.open(&entry.tenant, &sealed)?;
            let dir = out.join(&entry.tenant);
            if dir.exists() {
                bail!("{} exists; export into an empty directory", dir.display());
            }
            self.write_bundle(&bundle, &dir)?;
            count += 1;
        }
        Ok(count)
    }

    /// The bundle of a loaded tenant's directory.
    fn bundle_of(&self, tenant: &Tenant, replacing: &[(&str, &[u8])]) -> anyhow::Result<Bundle> {
        let mut bundle = Bundle::default();
        let mut inline = 0;
        let mut add = |relative: String, bytes: Vec<u8>| -> anyhow::Result<()> {
            let entry = if relative.ends_with(".wasm") {
                Entry::Blob(self.engine.put_blob(&bytes)?)
            } else {
                inline += bytes.len();
                if inline > MAX_INLINE_BYTES {
                    bail!(
                        "the tenant's directory holds over {} MiB besides components; keep only the tenant's files in it",
                        MAX_INLINE_BYTES >> 20
                    );
                }
                Entry::Bytes(bytes)
            };
            bundle.files.insert(relative, entry);
            Ok(())
        };
        for relative in files_in(&tenant.dir)? {
            let bytes = match replacing.iter().find(|(path, _)| *path == relative) {
                Some((_, bytes)) => bytes.to_vec(),
                None => std::fs::read(tenant.dir.join(&relative))
                    .with_context(|| format!("reading {relative} of tenant {}", tenant.name))?,
            };
            add(relative, bytes)?;
        }
        for (relative, bytes) in replacing {
            if !tenant.dir.join(relative).exists() {
                add((*relative).to_owned(), bytes.to_vec())?;
            }
        }
        // Components named from the plugin directory travel with the tenant.
        let components = tenant.plugins.values().flat_map(|binding| {
            std::iter::once(&binding.component).chain(binding.canary.as_ref().map(|canary| &canary.component))
        });
        for component in components {
            if component.starts_with(&tenant.dir) {
                continue;
            }
            let name =
                component.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
            let bytes = std::fs::read(component).with_context(|| format!("reading component {name}"))?;
            add(format!("{PLUGINS}/{name}"), bytes)?;
        }
        Ok(bundle)
    }

    /// Write `bundle`'s files under `dir` (which it makes).
    fn write_bundle(&self, bundle: &Bundle, dir: &Path) -> anyhow::Result<()> {
        for (relative, entry) in &bundle.files {
            let inside = Path::new(relative).components().all(|part| matches!(part, Component::Normal(_)));
            if !inside || relative.is_empty() {
                bail!("the bundle names {relative:?}, which is not inside the tenant's directory");
            }
            let bytes = match entry {
                Entry::Bytes(bytes) => bytes.clone(),
                Entry::Blob(hash) => self
                    .engine
                    .blob(hash)?
                    .with_context(|| format!("the store holds no component {hash} for {relative}"))?,
            };
            let path = dir.join(relative);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
            }
            // The working copy holds channel secrets in the clear: its owner's only.
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&path).with_context(|| format!("writing {}", path.display()))?;
            std::io::Write::write_all(&mut file, &bytes)
                .with_context(|| format!("writing {}", path.display()))?;
            file.sync_all().with_context(|| format!("writing {}", path.display()))?;
        }
        std::fs::create_dir_all(dir)?;
        Ok(())
    }

    fn seal(&self, name: &str, bundle: &Bundle) -> Result<Vec<u8>, ControlError> {
        let plain = postcard::to_stdvec(bundle).map_err(|error| setup(name, error.into()))?;
        self.key.seal(&context(name), &plain).map_err(|error| setup(name, error))
    }

    fn open(&self, name: &str, sealed: &[u8]) -> anyhow::Result<Bundle> {
        let plain = self
            .key
            .open(&context(name), sealed)
            .with_context(|| format!("tenant {name}'s bundle in the catalog does not open"))?;
        postcard::from_bytes(&plain).with_context(|| format!("tenant {name}'s bundle does not decode"))
    }
}

/// What this node could not do with a tenant's files, as the control plane says it.
fn setup(tenant: &str, error: anyhow::Error) -> ControlError {
    ControlError::Engine(EngineError::Setup { tenant: tenant.to_owned(), message: format!("{error:#}") })
}

fn context(name: &str) -> Vec<u8> {
    format!("switchboard tenant bundle:{name}").into_bytes()
}

/// What was published: its revision, and the SHA-256 of the sealed bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    pub revision: u64,
    digest: String,
}

fn digest(sealed: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(sealed))
}

fn read_marker(dir: &Path) -> Option<(u64, String)> {
    let text = std::fs::read_to_string(dir.join(REVISION_FILE)).ok()?;
    let (revision, digest) = text.trim().split_once(' ')?;
    Some((revision.parse().ok()?, digest.to_owned()))
}

fn write_marker(dir: &Path, publication: &Publication) -> anyhow::Result<()> {
    let text = format!("{} {}\n", publication.revision, publication.digest);
    write_synced(&dir.join(REVISION_FILE), text.as_bytes())
}

/// A tenant whose change a thread is taking ([`Catalog::claim`]).
struct Busy<'a> {
    catalog: &'a Catalog,
    tenant: String,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.catalog.busy.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&self.tenant);
    }
}

/// Why a revision was not taken.
enum Taken {
    DoesNotLoad(anyhow::Error),
    NotCheckedOut(anyhow::Error),
}

/// A working copy just checked out, with the one it replaced set aside:
/// put back when this drops, unless it is kept.
struct CheckedOut {
    revision: u64,
    dir: PathBuf,
    replaced: Option<PathBuf>,
}

impl CheckedOut {
    fn keep(mut self) {
        if let Some(replaced) = self.replaced.take() {
            let _ = std::fs::remove_dir_all(replaced);
        }
    }
}

impl Drop for CheckedOut {
    fn drop(&mut self) {
        let Some(replaced) = self.replaced.take() else { return };
        let restored =
            std::fs::remove_dir_all(&self.dir).and_then(|()| std::fs::rename(&replaced, &self.dir));
        if let Err(error) = restored {
            tracing::warn!(dir = %self.dir.display(), %error, "the copy a failed check-out replaced was not put back");
        }
    }
}

/// Every file of a tenant's directory, relative and `/`-separated: not the
/// catalog's marker, an edit's leftover (`.partial`), or
/// symbolic links (which would carry what is outside into the catalog).
fn files_in(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut files = Vec::new();
    let mut folders = vec![PathBuf::new()];
    while let Some(folder) = folders.pop() {
        let listing =
            std::fs::read_dir(dir.join(&folder)).with_context(|| format!("listing {}", dir.display()))?;
        for entry in listing {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let relative = folder.join(&name);
            let kind = entry.file_type()?;
            if kind.is_dir() {
                folders.push(relative);
            } else if kind.is_file() && name != REVISION_FILE && !name.ends_with(".partial") {
                let parts: Vec<String> = relative
                    .components()
                    .map(|part| part.as_os_str().to_string_lossy().into_owned())
                    .collect();
                files.push(parts.join("/"));
            }
        }
    }
    files.sort();
    Ok(files)
}
