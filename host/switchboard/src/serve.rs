//! `switchboard serve`: load every tenant under a directory and serve them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use switchboard_runtime::{Runtime, RuntimeConfig};
use switchboard_store::Store;

use switchboard::engine::Engine;
use switchboard::scheduler::SystemClock;
use switchboard::server;
use switchboard::tenant::{Tenant, tenant_dirs};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A tenant directory, or a directory of them (each with a tenant.toml).
    #[arg(long, default_value = "examples")]
    tenants: PathBuf,
    /// Where compiled plugin components are.
    #[arg(long, default_value = "target/plugins")]
    plugins: PathBuf,
    /// The sled database directory.
    #[arg(long, default_value = ".switchboard/data")]
    data: PathBuf,
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Also serve a stand-in shop order API under /demo/shop (for the web-shop example).
    #[arg(long)]
    demo_shop: bool,
    /// Serve Prometheus metrics at /metrics to requests with this bearer token.
    #[arg(long, env = "SWITCHBOARD_METRICS_TOKEN")]
    metrics_token: Option<String>,
    /// The operator's key for /v1/admin (tenants, minting their API keys).
    #[arg(long, env = "SWITCHBOARD_ADMIN_KEY")]
    admin_key: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime =
        Arc::new(Runtime::new(RuntimeConfig { cache_dir: crate::cache_dir(), ..RuntimeConfig::default() })?);
    let store = Store::open(&args.data)?;
    let engine = Arc::new(Engine::new(store, runtime.clone()));
    let vars = |name: &str| std::env::var(name).ok();
    let mut loaded = 0;
    for dir in tenant_dirs(&args.tenants)? {
        // One broken tenant must not take the others down.
        match Tenant::load(&dir, &args.plugins, &runtime, &vars) {
            Ok(tenant) => {
                let name = tenant.name.clone();
                engine.add_tenant(tenant).with_context(|| format!("failed to add tenant {name}"))?;
                eprintln!("loaded tenant {name} from {}", dir.display());
                loaded += 1;
            }
            Err(error) => eprintln!("error: tenant in {} not loaded: {error:#}", dir.display()),
        }
    }
    if loaded == 0 {
        anyhow::bail!("no tenant loaded from {}", args.tenants.display());
    }
    if args.metrics_token.is_some() {
        switchboard::telemetry::install();
    }
    let options = server::Options {
        demo_shop: args.demo_shop,
        metrics_token: args.metrics_token,
        admin_key: args.admin_key,
        // A directory of tenants (not one tenant's own) takes new ones.
        tenants_root: (!args.tenants.join("tenant.toml").exists()).then(|| args.tenants.clone()),
        plugin_dir: args.plugins.clone(),
    };
    let app = server::app(engine.clone(), options);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        tokio::spawn(switchboard::delivery::run(engine.clone()));
        tokio::spawn(switchboard::scheduler::run(engine, Arc::new(SystemClock)));
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("failed to listen on {}", args.listen))?;
        eprintln!("switchboard is listening on http://{}/", listener.local_addr()?);
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("server failed")
    })?;
    Ok(ExitCode::SUCCESS)
}
