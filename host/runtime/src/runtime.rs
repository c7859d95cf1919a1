//! The engine: one per process, shared by every tenant.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use switchboard_core::contract::PluginConfig;
use wasmtime::component::{Component, Linker};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig, Strategy,
};

use crate::cache::CompileCache;
use crate::compile::CompileSandbox;
use crate::error::LoadError;
use crate::limits::Limits;
use crate::plugin::{ApiVersion, ContentHash, Exports, Plugin};
use crate::state::HostState;
use crate::{since_v0_1_0, since_v0_2_0};

/// Engine-wide settings. Per-call [`Limits`](crate::Limits) must fit inside them.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Where compiled components are kept, keyed by content hash and engine
    /// version, so a restart does not recompile. `None` keeps them in memory only.
    ///
    /// Only this process may write there: loading a cached artifact trusts it as
    /// native code.
    pub cache_dir: Option<PathBuf>,
    /// How many step calls may run at once (instances in the pool).
    pub max_concurrent_calls: u32,
    /// The ceiling on any one linear memory; per-call limits go below it.
    pub max_memory_bytes: u64,
    /// The ceiling on any one table.
    pub max_table_elements: u64,
    /// Wasm stack per call. Wasmtime sets this per engine, so it is one value
    /// for every plugin on this host rather than a per-plugin limit.
    pub max_stack_bytes: usize,
    /// How often the epoch advances: the granularity of call deadlines.
    pub epoch_tick: Duration,
    /// The most any binding may ask for: a tenant file whose limits are above
    /// it does not load. Its memory is also capped by `max_memory_bytes`.
    pub ceiling: Limits,
    /// Compile in a child process under limits (needs `cache_dir`, where the
    /// child leaves its artifact). `None` compiles in this process.
    pub compile_sandbox: Option<CompileSandbox>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            cache_dir: None,
            max_concurrent_calls: 256,
            max_memory_bytes: 512 << 20,
            max_table_elements: 200_000,
            max_stack_bytes: 512 << 10,
            epoch_tick: Duration::from_millis(1),
            ceiling: Limits::default_ceiling(),
            compile_sandbox: None,
        }
    }
}

/// Loads plugins and owns what every call shares: the engine, the linker and
/// the epoch ticker that enforces deadlines.
pub struct Runtime {
    engine: Engine,
    /// Every WIT version's imports: their names carry the version, so one
    /// linker serves components of any version.
    linker: Linker<HostState>,
    cache: CompileCache,
    epoch_tick: Duration,
    ceiling: Limits,
    ticker: Option<EpochTicker>,
}

impl Runtime {
    pub fn new(config: RuntimeConfig) -> anyhow::Result<Self> {
        let engine = Engine::new(&engine_config(&config, true)?)?;
        let mut linker = Linker::new(&engine);
        // Every WASI interface is linked, so components built by any toolchain
        // instantiate; what they can *do* is decided by the context in `state.rs`.
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        crate::deadline::add_to_linker(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)?;
        since_v0_1_0::add_to_linker(&mut linker)?;
        since_v0_2_0::add_to_linker(&mut linker)?;
        let ticker = EpochTicker::start(&engine, config.epoch_tick)?;
        Ok(Self {
            cache: CompileCache::new(&config)?,
            engine,
            linker,
            epoch_tick: config.epoch_tick,
            ceiling: Limits {
                memory_bytes: config.ceiling.memory_bytes.min(config.max_memory_bytes),
                table_elements: config.ceiling.table_elements.min(config.max_table_elements),
                ..config.ceiling
            },
            ticker: Some(ticker),
        })
    }

    /// Compile (or fetch from the cache), check and pre-instantiate a component.
    pub fn load(&self, bytes: &[u8]) -> Result<Plugin, LoadError> {
        let manifest = crate::manifest::read(bytes).map_err(|error| match error {
            crate::manifest::ManifestError::Parse(error) => LoadError::Invalid(error.into()),
            other => LoadError::Incompatible(other.to_string()),
        })?;
        let hash = ContentHash::of(bytes);
        let component = self.cache.component(&self.engine, &hash, bytes)?;
        self.plugin(&component, hash, manifest)
    }

    /// Load `bytes` as a binding with `config`: when the component has
    /// `init` (WIT 0.2.0), its calls with that config start from a snapshot
    /// taken after `init(config)` ran once (see `snapshot.rs`), cached
    /// beside the compiled code. A component without `init` loads as
    /// [`Runtime::load`] loads it.
    ///
    /// `init` runs under `limits` (held to the ceiling), as the binding's
    /// calls will: one that refuses the config, traps or overruns fails the
    /// load, naming why. A component wasmtime-wizer cannot snapshot binds
    /// without one, and runs `init` before each call.
    pub fn bind(&self, bytes: &[u8], config: &PluginConfig, limits: &Limits) -> Result<Plugin, LoadError> {
        self.initialise(&self.load(bytes)?, bytes, config, limits)
    }

    /// [`Runtime::bind`] for a plugin already loaded from `bytes` (so that a
    /// caller can check its manifest first).
    pub fn initialise(
        &self,
        plugin: &Plugin,
        bytes: &[u8],
        config: &PluginConfig,
        limits: &Limits,
    ) -> Result<Plugin, LoadError> {
        use crate::snapshot::{self, Unsnapshotted};
        if !plugin.has_init() {
            return Ok(plugin.clone());
        }
        if ContentHash::of(bytes) != *plugin.hash() {
            return Err(LoadError::Incompatible("these bytes are not the loaded plugin's".to_owned()));
        }
        let limits = Limits {
            fuel: limits.fuel.min(self.ceiling.fuel),
            timeout: limits.timeout.min(self.ceiling.timeout),
            memory_bytes: limits.memory_bytes.min(self.ceiling.memory_bytes),
            table_elements: limits.table_elements.min(self.ceiling.table_elements),
        };
        let key = snapshot::key(plugin.hash(), config.as_str());
        let started = std::time::Instant::now();
        let taken = self.cache.entry(&self.engine, &key, || {
            let wizer = snapshot::wizer();
            let (context, instrumented) = snapshot::instrument(&wizer, bytes)?;
            let component =
                self.cache.entry(&self.engine, &snapshot::instrumented_key(plugin.hash()), || {
                    Ok::<_, LoadError>(instrumented)
                })?;
            let instrumented = self.plugin(&component, plugin.hash().clone(), None)?;
            snapshot::take(&wizer, &context, &instrumented, config.as_str(), limits)
        });
        let component = match taken {
            Ok(component) => component,
            Err(Unsnapshotted::Init(error)) => return Err(error),
            Err(Unsnapshotted::Unsupported(reason)) => {
                tracing::warn!(component = %plugin.hash(), "{reason}: its calls run init first, unsnapshotted");
                return Ok(plugin.clone());
            }
        };
        let snapshot = self.plugin(&component, plugin.hash().clone(), None)?;
        // A snapshot is shared by every binding of the same component and
        // config, whatever its limits: one taken under roomier ones may
        // start with more memory than this binding's calls may have.
        snapshot.fits(limits).map_err(LoadError::InitFailed)?;
        tracing::debug!(
            component = %plugin.hash(),
            snapshot = %key,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "bound with a snapshot"
        );
        Ok(plugin.with_snapshot(config.clone(), snapshot, key))
    }

    /// A compiled component, checked against the contract and pre-instantiated.
    fn plugin(
        &self,
        component: &Component,
        hash: ContentHash,
        manifest: Option<crate::manifest::Manifest>,
    ) -> Result<Plugin, LoadError> {
        let (version, exports) = exports(&self.engine, component)?;
        let pre = self
            .linker
            .instantiate_pre(component)
            .map_err(|error| LoadError::Incompatible(format!("{error:#}")))?;
        let plugin = Plugin::new(self.engine.clone(), hash, version, pre, exports, self.epoch_tick, manifest);
        // The ceiling, not a call's defaults: a snapshot may start with more
        // memory than a default call gets.
        plugin.probe(self.ceiling)?;
        Ok(plugin)
    }

    pub fn load_file(&self, path: &std::path::Path) -> Result<Plugin, LoadError> {
        let bytes = std::fs::read(path)
            .map_err(|source| LoadError::Io { path: path.display().to_string(), source })?;
        self.load(&bytes)
    }

    /// The most any binding's [`Limits`] may be.
    pub fn ceiling(&self) -> &Limits {
        &self.ceiling
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Runtime")
            .field("cache", &self.cache)
            .field("epoch_tick", &self.epoch_tick)
            .finish_non_exhaustive()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(ticker) = self.ticker.take() {
            ticker.stop();
        }
    }
}

/// An engine that only compiles, for the compile sandbox's child: the same
/// code generation as the server's (so its artifacts load there), without
/// the instance pool.
pub(crate) fn compile_only_engine(config: &RuntimeConfig) -> anyhow::Result<Engine> {
    Ok(Engine::new(&engine_config(config, false)?)?)
}

fn engine_config(config: &RuntimeConfig, pooled: bool) -> anyhow::Result<Config> {
    let calls = config.max_concurrent_calls;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(calls)
        // Components from componentize-py and -js hold several core instances,
        // memories and tables each; Rust ones one or two.
        .total_core_instances(calls.saturating_mul(8))
        .total_memories(calls.saturating_mul(2))
        .total_tables(calls.saturating_mul(4))
        .max_core_instances_per_component(64)
        .max_memories_per_component(8)
        .max_tables_per_component(16)
        .max_memory_size(usize::try_from(config.max_memory_bytes)?)
        .table_elements(usize::try_from(config.max_table_elements)?)
        // Python and JS guests carry large vmctx images.
        .max_core_instance_size(8 << 20)
        .max_component_instance_size(1 << 20)
        // Reset freed slots in place instead of unmapping them: with
        // PAGEMAP_SCAN (Linux 6.7+) wasmtime finds the pages a call dirtied and
        // restores just those, so the next call on the slot takes no page faults
        // and the free takes no `madvise`. Without it, the low `keep_resident`
        // bytes are reset with memset and the rest is decommitted.
        .pagemap_scan(Enabled::Auto)
        .linear_memory_keep_resident(4 << 20)
        .table_keep_resident(256 << 10);

    let mut engine_config = Config::new();
    engine_config
        .strategy(Strategy::Cranelift)
        .cranelift_opt_level(OptLevel::Speed)
        .consume_fuel(true)
        .epoch_interruption(true)
        .max_wasm_stack(config.max_stack_bytes)
        .memory_init_cow(true);
    if pooled {
        engine_config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    Ok(engine_config)
}

/// Which `switchboard:plugin` version the component implements, and which of
/// its exports it has, from its exports. The newest version wins.
fn exports(engine: &Engine, component: &Component) -> Result<(ApiVersion, Exports), LoadError> {
    let handler = since_v0_2_0::Handler::find(component);
    let classifier = since_v0_2_0::Classifier::find(component);
    if handler.is_some() || classifier.is_some() {
        let lifecycle = since_v0_2_0::Lifecycle::find(component);
        return Ok((ApiVersion::V0_2, Exports::V0_2 { handler, classifier, lifecycle }));
    }
    if let Some(handler) = since_v0_1_0::Handler::find(component) {
        return Ok((ApiVersion::V0_1, Exports::V0_1 { handler }));
    }
    let exports: Vec<String> =
        component.component_type().exports(engine).map(|(name, _)| name.to_owned()).collect();
    Err(LoadError::Incompatible(format!(
        "component exports none of [{}, {}, {}]; it exports [{}]",
        since_v0_2_0::HANDLER_EXPORT,
        since_v0_2_0::UNDERSTANDING_EXPORT,
        since_v0_1_0::HANDLER_EXPORT,
        exports.join(", ")
    )))
}

/// Advances the engine's epoch on a fixed tick; calls past their deadline trap.
#[derive(Debug)]
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl EpochTicker {
    fn start(engine: &Engine, tick: Duration) -> anyhow::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let thread = std::thread::Builder::new().name("switchboard-epoch".to_owned()).spawn({
            let stop = stop.clone();
            move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => return,
                    }
                }
            }
        })?;
        Ok(Self { stop, thread })
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        // The thread wakes within one tick; a panic there has nothing left to clean up.
        let _ = self.thread.join();
    }
}
