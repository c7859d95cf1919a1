//! Loading every tenant at start-up, without letting one hold up the rest.
//!
//! `serve` listens at once and loads tenants in the background, a few at a
//! time. Each load has its own deadline: one that has not finished by then
//! (a component that takes long to compile, a plugin whose start function
//! waits) is reported and its tenant served as unavailable, and the others
//! go on. Until a tenant is loaded its requests get 503 `tenant_unavailable`,
//! and `/readyz` says loading is not finished.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use crate::engine::{Engine, Unavailable};
use crate::tenants::{Catalog, PLUGINS};

/// Load the tenants in `dirs` on `parallel` threads, each within `timeout`.
/// Returns at once; the handle finishes when every load has ended or timed out.
///
/// With a catalog, each tenant is noted in it as it loads (`Catalog::loaded`),
/// and one the catalog is the truth for takes its components from its
/// working copy's `.plugins`, not `plugin_dir`.
pub fn load_in_background(
    engine: Arc<Engine>,
    catalog: Option<Arc<Catalog>>,
    dirs: Vec<PathBuf>,
    plugin_dir: PathBuf,
    parallel: usize,
    timeout: Duration,
) -> std::thread::JoinHandle<()> {
    for dir in &dirs {
        engine.mark_unavailable(&dir_name(dir), Unavailable::Loading);
    }
    let queue = Arc::new(Mutex::new(VecDeque::from(dirs)));
    let plugin_dir = Arc::new(plugin_dir);
    std::thread::spawn(move || {
        let workers: Vec<_> = (0..parallel.max(1))
            .map(|_| {
                let (engine, queue, plugin_dir, catalog) =
                    (engine.clone(), queue.clone(), plugin_dir.clone(), catalog.clone());
                std::thread::spawn(move || {
                    while let Some(dir) = next(&queue) {
                        let plugin_dir = match &catalog {
                            Some(catalog) if catalog.is_authoritative() => Arc::new(dir.join(PLUGINS)),
                            _ => plugin_dir.clone(),
                        };
                        load_one(&engine, catalog.as_ref(), dir, &plugin_dir, timeout);
                    }
                })
            })
            .collect();
        for worker in workers {
            let _ = worker.join();
        }
    })
}

fn next(queue: &Mutex<VecDeque<PathBuf>>) -> Option<PathBuf> {
    queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop_front()
}

/// Load one tenant on a thread of its own, and wait for it at most `timeout`.
/// A load that overruns is abandoned: whatever it finishes with is dropped.
fn load_one(
    engine: &Arc<Engine>,
    catalog: Option<&Arc<Catalog>>,
    dir: PathBuf,
    plugin_dir: &Arc<PathBuf>,
    timeout: Duration,
) {
    let name = dir_name(&dir);
    let abandoned = Arc::new(AtomicBool::new(false));
    let (done, finished) = mpsc::channel();
    {
        let (engine, plugin_dir, abandoned, name, catalog) =
            (engine.clone(), plugin_dir.clone(), abandoned.clone(), name.clone(), catalog.cloned());
        std::thread::spawn(move || {
            let loaded = engine.load_tenant(&dir, &plugin_dir, &crate::tenant::env_var);
            if abandoned.load(Ordering::SeqCst) {
                return;
            }
            let outcome = loaded.map_err(|error| format!("{error:#}")).and_then(|tenant| {
                let loaded_as = tenant.name.clone();
                if loaded_as != name {
                    engine.forget_unavailable(&name);
                }
                // The embedded store's catalog is a copy: a tenant it cannot
                // take is still served from its directory.
                if let Some(catalog) = &catalog
                    && let Err(error) = catalog.loaded(&tenant)
                {
                    match catalog.is_authoritative() {
                        true => return Err(format!("the tenant catalog: {error}")),
                        false => eprintln!(
                            "warning: tenant {loaded_as} is not in the store's tenant catalog: {error}"
                        ),
                    }
                }
                engine.add_tenant(tenant).map(|()| loaded_as).map_err(|error| error.to_string())
            });
            let _ = done.send(outcome);
        });
    }
    match finished.recv_timeout(timeout) {
        Ok(Ok(loaded_as)) => eprintln!("loaded tenant {loaded_as}"),
        Ok(Err(problems)) => {
            eprintln!("error: tenant {name} not loaded: {problems}");
            engine.mark_unavailable(&name, Unavailable::Failed(problems));
        }
        Err(_) => {
            abandoned.store(true, Ordering::SeqCst);
            let problem = format!("it did not load within {} s", timeout.as_secs());
            eprintln!("error: tenant {name} not loaded: {problem}");
            engine.mark_unavailable(&name, Unavailable::Failed(problem));
        }
    }
}

fn dir_name(dir: &Path) -> String {
    dir.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default()
}
