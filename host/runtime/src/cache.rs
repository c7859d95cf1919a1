//! Compiled components on disk, so a restart does not recompile.
//!
//! An entry's name is the component's SHA-256 plus the engine's compatibility
//! hash (wasmtime version and every codegen-relevant setting), so a new wasmtime
//! or a changed config simply misses the old entries instead of loading them.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::compile::{CompileSandbox, compile_in_sandbox};
use crate::error::LoadError;
use crate::plugin::ContentHash;
use crate::runtime::RuntimeConfig;

#[derive(Debug)]
pub(crate) struct CompileCache {
    dir: Option<PathBuf>,
    /// With a sandbox (and a directory), compiles run in a child process.
    sandbox: Option<(CompileSandbox, RuntimeConfig)>,
}

impl CompileCache {
    pub(crate) fn new(config: &RuntimeConfig) -> anyhow::Result<Self> {
        let dir = config.cache_dir.clone();
        let sandbox = config.compile_sandbox.clone().map(|sandbox| (sandbox, config.clone()));
        if let Some(dir) = &dir {
            std::fs::create_dir_all(dir)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            }
        }
        Ok(Self { dir, sandbox })
    }

    /// `bytes` compiled, or its artifact from an earlier compile.
    pub(crate) fn component(
        &self,
        engine: &Engine,
        hash: &ContentHash,
        bytes: &[u8],
    ) -> Result<Component, LoadError> {
        self.entry(engine, hash.as_str(), || Ok::<_, LoadError>(bytes.to_vec()))
    }

    /// The component cached as `name`; on a miss, what `source` makes,
    /// compiled and kept under that name. `name` must identify what
    /// `source` makes: a content hash, or a snapshot's key.
    pub(crate) fn entry<E: From<LoadError>>(
        &self,
        engine: &Engine,
        name: &str,
        source: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<Component, E> {
        let Some(dir) = &self.dir else {
            return Ok(compile(engine, &source()?)?);
        };
        let mut engine_hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut engine_hasher);
        let path = dir.join(format!("{name}-{:016x}.cwasm", engine_hasher.finish()));
        if path.exists() {
            // SAFETY: only this process writes into the cache directory (created
            // 0700 above), and entries are named by the engine's compatibility hash,
            // so the file is an artifact this engine produced. `deserialize_file`
            // still checks the header and the engine version.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok(component),
                Err(error) => {
                    tracing::warn!(path = %path.display(), "discarding unreadable cache entry: {error:#}")
                }
            }
        }
        let bytes = source()?;
        if let Some((sandbox, config)) = &self.sandbox {
            compile_in_sandbox(sandbox, config, &bytes, &path)?;
            return Ok(load_compiled(engine, &path)?);
        }
        let component = compile(engine, &bytes)?;
        if let Err(error) = store_entry(&path, &component) {
            // A cold cache costs only compile time on the next start; do not fail the load.
            tracing::warn!(path = %path.display(), "could not write compile cache entry: {error:#}");
        }
        Ok(component)
    }
}

fn compile(engine: &Engine, bytes: &[u8]) -> Result<Component, LoadError> {
    Component::new(engine, bytes).map_err(|error| LoadError::Invalid(error.into()))
}

/// What the sandbox's child compiled into `path`.
fn load_compiled(engine: &Engine, path: &std::path::Path) -> Result<Component, LoadError> {
    // SAFETY: the child that wrote it is this host's own compiler, run with
    // the same engine settings, into the directory only this process writes.
    unsafe { Component::deserialize_file(engine, path) }.map_err(|error| {
        let _ = std::fs::remove_file(path);
        LoadError::Invalid(anyhow::Error::from(error).context("the compiled component did not load"))
    })
}

/// A name beside `path` for a file on its way to becoming it (`what`:
/// `input`, `partial`), unique to this process and call: two binds of one
/// component at once must not write into each other's files.
pub(crate) fn scratch(path: &std::path::Path, what: &str) -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    path.with_extension(format!("{what}-{}-{n}", std::process::id()))
}

fn store_entry(path: &std::path::Path, component: &Component) -> anyhow::Result<()> {
    let serialized = component.serialize()?;
    // Write then rename, so a crash never leaves a half-written artifact under the real name.
    let partial = scratch(path, "partial");
    std::fs::write(&partial, serialized)?;
    std::fs::rename(&partial, path)?;
    Ok(())
}
