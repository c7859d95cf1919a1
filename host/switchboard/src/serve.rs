//! `switchboard serve`: load every tenant under a directory and serve them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use switchboard::store_url::StoreUrl;
use switchboard_runtime::{ChildArgs, CompileSandbox, Runtime, RuntimeConfig};

use switchboard::engine::{Engine, Leases};
use switchboard::scheduler::SystemClock;
use switchboard::server;
use switchboard::server::listen::ConnectionLimits;
use switchboard::tenant::tenant_dirs;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A tenant directory, or a directory of them (each with a tenant.toml).
    #[arg(long, default_value = "examples")]
    tenants: PathBuf,
    /// Where compiled plugin components are.
    #[arg(long, default_value = "target/plugins")]
    plugins: PathBuf,
    /// The sled database directory (the embedded store), unless `--store`
    /// names another. Exports and the compile cache go here either way.
    #[arg(long, default_value = ".switchboard/data")]
    data: PathBuf,
    /// The store: `sled:DIR`, or `postgres://user@host:port/db` for many
    /// nodes on one database (each node runs `serve` with the same URL).
    /// Default: sled in `--data`.
    #[arg(long, env = "SWITCHBOARD_STORE")]
    store: Option<switchboard::store_url::StoreUrl>,
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Run as the demo: `/` lists every tenant with a link to its chat page,
    /// and a stand-in shop order API is served under /demo/shop (for the
    /// web-shop example). Without it, `/` names no tenant.
    #[arg(long)]
    demo: bool,
    /// Serve Prometheus metrics at /metrics to requests with this bearer token.
    #[arg(long, env = "SWITCHBOARD_METRICS_TOKEN")]
    metrics_token: Option<String>,
    /// How often (ms) a node on a shared store looks for tenants other nodes
    /// created, changed or removed.
    #[arg(long, default_value_t = switchboard::tenants::FOLLOW_EVERY.as_millis() as u64)]
    catalog_follow_ms: u64,
    /// On a shared store, how long (ms) this node's claims on due timers
    /// and delivery lanes last: a node that dies leaves its claims to the
    /// others after this. Default: 60 s for timers, 30 s for lanes.
    #[arg(long)]
    lease_ms: Option<u64>,
    /// The operator's key for /v1/admin (tenants, minting their API keys).
    #[arg(long, env = "SWITCHBOARD_ADMIN_KEY")]
    admin_key: Option<String>,
    /// Open connections, all clients together; past it, new ones are closed at once.
    #[arg(long, default_value_t = ConnectionLimits::default().max_connections)]
    max_connections: usize,
    /// Open connections from one client address (an IPv6 /64). Behind a
    /// reverse proxy, set it to --max-connections and limit clients there.
    #[arg(long, default_value_t = ConnectionLimits::default().max_connections_per_ip)]
    max_connections_per_ip: usize,
    /// Seconds a connection may take to send a request head (also the idle
    /// keep-alive limit).
    #[arg(long, default_value_t = ConnectionLimits::default().header_read_timeout.as_secs())]
    header_timeout_secs: u64,
    /// Seconds a request body or a response may move no bytes before the
    /// connection is closed.
    #[arg(long, default_value_t = ConnectionLimits::default().idle_timeout.as_secs())]
    idle_timeout_secs: u64,
    /// Turns of one tenant that may run at once; its next ones wait in its own queue.
    #[arg(long, default_value_t = switchboard::engine::DEFAULT_TURNS_PER_TENANT)]
    max_turns_per_tenant: usize,
    /// CPU seconds compiling one component may take (in a child process);
    /// a component that needs more is refused.
    #[arg(long, default_value_t = CompileSandbox::default().cpu.as_secs())]
    compile_cpu_secs: u64,
    /// Memory (address space, MiB) compiling one component may take.
    #[arg(long, default_value_t = CompileSandbox::default().memory_bytes >> 20)]
    compile_memory_mib: u64,
    /// Seconds one tenant may take to load at start-up before it is
    /// reported and served as unavailable.
    #[arg(long, default_value_t = 300)]
    tenant_load_timeout_secs: u64,
    /// Guest memory (MiB) one tenant's steps in flight may hold together;
    /// each step holds its binding's memory limit while it runs.
    #[arg(long, default_value_t = switchboard::engine::DEFAULT_TENANT_BUDGET >> 20)]
    guest_memory_per_tenant_mib: u64,
    /// Guest memory (MiB) all tenants' steps in flight may hold together.
    #[arg(long, default_value_t = switchboard::engine::DEFAULT_HOST_BUDGET >> 20)]
    guest_memory_mib: u64,
    /// Web chat messages per minute from one client address (an IPv6 /64),
    /// to all tenants together; past it, 429 with Retry-After. Behind a
    /// reverse proxy every client has the proxy's address: limit there.
    #[arg(long, default_value_t = switchboard::server::rate::DEFAULT_PER_IP_PER_MINUTE)]
    web_chat_per_ip_per_minute: u32,
    /// Web chat messages per minute to one tenant, from all its visitors,
    /// unless its tenant.toml sets `[quotas] web_chat_per_minute`.
    #[arg(long, default_value_t = switchboard::server::rate::DEFAULT_PER_TENANT_PER_MINUTE)]
    web_chat_per_tenant_per_minute: u32,
    /// `/readyz` reports not ready when the store's filesystem has less free
    /// space than this, so a load balancer stops sending before writes fail.
    #[arg(long, default_value_t = switchboard::server::DEFAULT_MIN_FREE_DISK_MIB)]
    min_free_disk_mib: u64,
    /// How often every tenant's expired events are exported and removed, and
    /// its expired message ids forgotten, as its `[retention]` says.
    #[arg(long, default_value_t = switchboard::retention::DEFAULT_EVERY.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    retention_every_secs: u64,
    /// Where expired events are exported (NDJSON, under one directory per
    /// tenant) before they are removed. Default: `exports` in `--data`. Move
    /// the files off the machine to free the space.
    #[arg(long)]
    export_dir: Option<PathBuf>,
    /// Keys one tenant's plugins may keep in `kv` state, all together,
    /// unless its tenant.toml sets `[quotas] kv_keys`.
    #[arg(long, default_value_t = switchboard_runtime::KvQuota::default().keys)]
    kv_keys_per_tenant: u64,
    /// MiB of `kv` keys and values one tenant's plugins may keep, unless
    /// its tenant.toml sets `[quotas] kv_mib`.
    #[arg(long, default_value_t = switchboard_runtime::KvQuota::default().bytes >> 20)]
    kv_mib_per_tenant: u64,
    /// Events one tenant may commit per UTC day; past it, its new messages
    /// get 429 until the next day. `[quotas] events_per_day` in its
    /// tenant.toml overrides.
    #[arg(long, default_value_t = switchboard::engine::DEFAULT_EVENTS_PER_DAY)]
    events_per_tenant_per_day: u64,
    /// Destinations that are not public (loopback, private, link-local,
    /// CGNAT, ...) which outbound HTTP may reach anyway: plugins' requests,
    /// provider sends and handoff webhooks. IPs, networks (`10.0.0.0/8`) or
    /// one address and port (`127.0.0.1:9000`), comma-separated. Default:
    /// none, only public addresses. `--demo` adds `--listen` (its shop).
    #[arg(long, env = "SWITCHBOARD_ALLOW_OUTBOUND", value_delimiter = ',')]
    allow_outbound: Vec<switchboard_runtime::AllowedDestination>,
}

/// What the compile sandbox's child is given (see `switchboard_runtime::ChildArgs`).
#[derive(Debug, clap::Args)]
pub struct CompileArgs {
    #[arg(long)]
    input: PathBuf,
    #[arg(long)]
    output: PathBuf,
    #[arg(long)]
    cpu_secs: u64,
    #[arg(long)]
    memory_bytes: u64,
    #[arg(long)]
    max_memory_bytes: u64,
    #[arg(long)]
    max_table_elements: u64,
    #[arg(long)]
    max_stack_bytes: usize,
}

/// The child's side of the compile sandbox.
pub fn compile_component(args: CompileArgs) -> anyhow::Result<ExitCode> {
    switchboard_runtime::compile_in_child(&ChildArgs {
        input: args.input,
        output: args.output,
        cpu_secs: args.cpu_secs,
        memory_bytes: args.memory_bytes,
        max_memory_bytes: args.max_memory_bytes,
        max_table_elements: args.max_table_elements,
        max_stack_bytes: args.max_stack_bytes,
    })?;
    Ok(ExitCode::SUCCESS)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cache_dir = crate::cache_dir();
    // Compiling happens in a child process under limits, so a component
    // that is costly to compile is refused instead of taking the host.
    let compile_sandbox = match (&cache_dir, std::env::current_exe()) {
        (Some(_), Ok(program)) => Some(CompileSandbox {
            program,
            args: vec!["compile-component".to_owned()],
            cpu: Duration::from_secs(args.compile_cpu_secs),
            memory_bytes: args.compile_memory_mib << 20,
            ..CompileSandbox::default()
        }),
        _ => {
            eprintln!(
                "warning: no compile cache directory; components compile in this process, without limits"
            );
            None
        }
    };
    // One outbound policy for plugins' HTTP and delivery. The demo's shop is
    // this server itself, which the web-shop example's plugin calls.
    let demo_shop = args.demo.then(|| switchboard_runtime::AllowedDestination::address(args.listen));
    let outbound = args.allow_outbound.iter().copied().chain(demo_shop);
    switchboard_runtime::OutboundPolicy::allowing(outbound).install()?;
    let runtime =
        Arc::new(Runtime::new(RuntimeConfig { cache_dir, compile_sandbox, ..RuntimeConfig::default() })?);
    let store_url = args.store.clone().unwrap_or_else(|| StoreUrl::Sled(args.data.clone()));
    let secrets_key = store_url.secrets_key()?;
    let store = store_url.open()?;
    let engine = Arc::new(
        Engine::on(store, runtime.clone())
            .with_turns_per_tenant(args.max_turns_per_tenant)
            .with_guest_memory(args.guest_memory_per_tenant_mib << 20, args.guest_memory_mib << 20)
            .with_kv_quota(switchboard_runtime::KvQuota {
                keys: args.kv_keys_per_tenant,
                bytes: args.kv_mib_per_tenant << 20,
            })
            .with_events_per_day(args.events_per_tenant_per_day)
            .with_leases(args.lease_ms.map_or_else(Leases::default, |ms| Leases {
                timers: Duration::from_millis(ms),
                lanes: Duration::from_millis(ms),
            })),
    );
    // A directory of tenants (not one tenant's own) takes new ones, and is
    // kept in step with the store's tenant catalog.
    let tenants_root = (!args.tenants.join("tenant.toml").exists()).then(|| args.tenants.clone());
    let catalog = tenants_root
        .clone()
        .map(|root| Arc::new(switchboard::tenants::Catalog::new(engine.clone(), secrets_key, root)));
    if let Some(catalog) = &catalog {
        catalog.check_key()?;
    }
    let dirs = match &catalog {
        Some(catalog) if catalog.is_authoritative() => {
            let dirs = catalog.check_out_all()?;
            let served: std::collections::BTreeSet<&PathBuf> = dirs.iter().collect();
            let removed: std::collections::BTreeSet<String> = engine
                .tenant_revisions()?
                .into_iter()
                .filter(|entry| entry.removed)
                .map(|entry| entry.tenant)
                .collect();
            for local in tenant_dirs(&args.tenants)?.iter().filter(|dir| !served.contains(dir)) {
                let name =
                    local.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
                if removed.contains(&name) {
                    eprintln!(
                        "warning: {} is a tenant removed from the catalog; not served",
                        local.display()
                    );
                    continue;
                }
                eprintln!(
                    "warning: {} is not in the store's tenant catalog, so it is not served; \
                     put it there with `switchboard tenants import {} --store URL`",
                    local.display(),
                    args.tenants.display()
                );
            }
            dirs
        }
        None if engine.store_is_shared() => anyhow::bail!(
            "a store that many nodes share serves the tenants of its catalog: give --tenants a directory \
             for this node's copies of them, not one tenant's own"
        ),
        _ => tenant_dirs(&args.tenants)?,
    };
    if dirs.is_empty() && !engine.store_is_shared() {
        anyhow::bail!("no tenant directory (one holding a tenant.toml) in {}", args.tenants.display());
    }
    // Listen at once; tenants load in the background, each within its own
    // deadline, and one that fails is served as unavailable (startup.rs).
    let parallel = std::thread::available_parallelism().map_or(2, |cores| cores.get().min(4));
    let loading = switchboard::startup::load_in_background(
        engine.clone(),
        catalog.clone(),
        dirs,
        args.plugins.clone(),
        parallel,
        Duration::from_secs(args.tenant_load_timeout_secs),
    );
    if args.metrics_token.is_some() {
        switchboard::telemetry::install();
    }
    let options = server::Options {
        demo: args.demo,
        metrics_token: args.metrics_token,
        admin_key: args.admin_key,
        tenants_root,
        plugin_dir: args.plugins.clone(),
        catalog: catalog.clone(),
        web_chat_per_ip_per_minute: Some(args.web_chat_per_ip_per_minute),
        web_chat_per_tenant_per_minute: Some(args.web_chat_per_tenant_per_minute),
        min_free_disk_mib: Some(args.min_free_disk_mib),
    };
    let app = server::app(engine.clone(), options);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        tokio::spawn(switchboard::delivery::run(engine.clone()));
        // Other nodes' changes, once this node's own loads are done.
        if let Some(catalog) = catalog.filter(|catalog| catalog.is_authoritative()) {
            tokio::spawn(async move {
                let _ = tokio::task::spawn_blocking(move || loading.join()).await;
                catalog.follow(Duration::from_millis(args.catalog_follow_ms)).await;
            });
        }
        tokio::spawn(switchboard::recovery::run(engine.clone(), args.min_free_disk_mib << 20));
        tokio::spawn(switchboard::retention::run(
            engine.clone(),
            Arc::new(SystemClock),
            Duration::from_secs(args.retention_every_secs),
            args.export_dir.clone().unwrap_or_else(|| args.data.join("exports")),
        ));
        tokio::spawn(switchboard::kpis::run(engine.clone(), switchboard::kpis::EVERY));
        let demo_engine = engine.clone();
        tokio::spawn(switchboard::scheduler::run(engine, Arc::new(SystemClock)));
        let listener = server::listen::bind(args.listen)
            .with_context(|| format!("failed to listen on {}", args.listen))?;
        eprintln!("switchboard is listening on http://{}/", listener.local_addr()?);
        if args.demo {
            tokio::spawn(switchboard::demo::seed_staff(
                demo_engine,
                format!("http://{}", listener.local_addr()?),
            ));
        }
        let limits = ConnectionLimits {
            max_connections: args.max_connections,
            max_connections_per_ip: args.max_connections_per_ip,
            header_read_timeout: Duration::from_secs(args.header_timeout_secs),
            idle_timeout: Duration::from_secs(args.idle_timeout_secs),
        };
        server::listen::serve(listener, app, limits, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
