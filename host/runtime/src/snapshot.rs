//! Per-binding snapshots: a component's `init(config)` run once,
//! and the instance it leaves written out as a new component.
//!
//! wasmtime-wizer does the two halves that touch the component's shape: it
//! *instruments* the component (every module exports accessors for its
//! memories and globals, through one added instance), and after `init` has
//! run it *rewrites* the original with those memories and globals as data.
//! This module runs `init` in between, in an ordinary store under the
//! binding's limits, and reads the state back through the accessors.
//!
//! The result is compiled and cached like any component, under a key made of
//! the component's hash and the config's text (see [`key`]), so a restart
//! loads it from disk without running `init` again. The pool then maps its
//! memory copy-on-write: each call starts from the initialised state and
//! whatever the call writes is discarded when it ends.

use sha2::{Digest, Sha256};
use wasmtime::Store;
use wasmtime::component::{Instance, WasmList};
use wasmtime_wizer::{ComponentContext, ComponentInstanceState, Wizer};

use crate::error::LoadError;
use crate::limits::Limits;
use crate::plugin::{ContentHash, Plugin};
use crate::state::HostState;

/// Changes whenever what goes into a snapshot changes (how `init` runs, the
/// wizer release), so an old entry is never mistaken for a new one.
const FORMAT: &str = "switchboard-snapshot-1/wasmtime-wizer-48";

/// What the snapshot of `component` initialised with `config` is cached as.
pub(crate) fn key(component: &ContentHash, config: &str) -> String {
    let digest = Sha256::new()
        .chain_update(FORMAT)
        .chain_update([0])
        .chain_update(component.as_str())
        .chain_update([0])
        .chain_update(config)
        .finalize();
    format!("snapshot-{}", hex::encode(digest))
}

/// What the instrumented copy of `component` is cached as: the same for
/// every config, so a new config costs one compile, not two.
pub(crate) fn instrumented_key(component: &ContentHash) -> String {
    let digest =
        Sha256::new().chain_update(FORMAT).chain_update([0]).chain_update(component.as_str()).finalize();
    format!("instrumented-{}", hex::encode(digest))
}

/// Why a binding has no snapshot.
#[derive(Debug)]
pub(crate) enum Unsnapshotted {
    /// `init` refused, failed or overran: the binding fails with this.
    Init(LoadError),
    /// The component is one wizer cannot snapshot (a table it changes, a
    /// nested component with modules…), or its `init` left host resources
    /// open that a snapshot cannot carry: the binding runs `init` before
    /// each call instead.
    Unsupported(String),
}

impl From<LoadError> for Unsnapshotted {
    fn from(error: LoadError) -> Self {
        Unsnapshotted::Init(error)
    }
}

/// The wizer settings every snapshot uses: `init` stays exported (it lives
/// in an interface, which wizer would not remove anyway), and the host never
/// calls it on a snapshot.
pub(crate) fn wizer() -> Wizer {
    let mut wizer = Wizer::new();
    wizer.keep_init_func(true);
    wizer
}

/// Add the accessors wizer reads state through. wasmtime-wizer panics on a
/// few shapes it does not support, so a panic is caught and reported as one.
pub(crate) fn instrument<'a>(
    wizer: &Wizer,
    bytes: &'a [u8],
) -> Result<(ComponentContext<'a>, Vec<u8>), Unsnapshotted> {
    let instrumented =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wizer.instrument_component(bytes)));
    match instrumented {
        Ok(Ok(instrumented)) => Ok(instrumented),
        Ok(Err(error)) => {
            Err(Unsnapshotted::Unsupported(format!("wasmtime-wizer cannot instrument it: {error:#}")))
        }
        Err(_) => {
            Err(Unsnapshotted::Unsupported("wasmtime-wizer cannot instrument it (it panicked)".to_owned()))
        }
    }
}

/// Run `init(config)` on the instrumented component under `limits` and
/// return the original with the state it left: the snapshot's bytes.
pub(crate) fn take(
    wizer: &Wizer,
    context: &ComponentContext<'_>,
    instrumented: &Plugin,
    config: &str,
    limits: Limits,
) -> Result<Vec<u8>, Unsnapshotted> {
    let (mut store, instance) = instrumented.initialised(config, limits)?;
    if store.data().open_resources() {
        // A handle the guest keeps (a stream it printed through, say) would
        // point at nothing in a call's store.
        return Err(Unsnapshotted::Unsupported(
            "its init left host resources open (a stream it wrote to, a request); a snapshot cannot carry them"
                .to_owned(),
        ));
    }
    // Reading the state back runs wizer's accessors, which may grow a
    // memory by a page: give them what they need, whatever `init` left.
    store.data_mut().limiter.lift();
    let unsupported = |error: wasmtime::Error| Unsnapshotted::Unsupported(format!("{error:#}"));
    store.set_fuel(u64::MAX).map_err(unsupported)?;
    store.set_epoch_deadline(u64::from(u32::MAX));
    let mut state = State { store: &mut store, instance, failed: None };
    let snapshot = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        futures_executor::block_on(wizer.snapshot_component(context, &mut state))
    }))
    .map_err(|_| {
        Unsnapshotted::Unsupported("wasmtime-wizer could not snapshot it (it panicked)".to_owned())
    })?;
    if let Some(error) = state.failed {
        return Err(Unsnapshotted::Unsupported(format!("reading the initialised state failed: {error:#}")));
    }
    snapshot.map_err(unsupported)
}

/// The initialised instance, as wizer reads it. Its interface cannot fail,
/// so the first failure is kept here and every later read answers zero.
struct State<'a> {
    store: &'a mut Store<HostState>,
    instance: Instance,
    failed: Option<wasmtime::Error>,
}

impl State<'_> {
    /// Call `instance#func`, an accessor wizer added, and convert its result.
    fn call<R, T>(
        &mut self,
        instance: &str,
        func: &str,
        read: impl FnOnce(&Store<HostState>, R) -> T,
    ) -> Option<T>
    where
        R: wasmtime::component::Lift + 'static,
    {
        if self.failed.is_some() {
            return None;
        }
        let outcome = (|| {
            let parent = self
                .instance
                .get_export_index(&mut *self.store, None, instance)
                .ok_or_else(|| wasmtime::format_err!("no export {instance}"))?;
            let export = self
                .instance
                .get_export_index(&mut *self.store, Some(&parent), func)
                .ok_or_else(|| wasmtime::format_err!("no export {instance}#{func}"))?;
            let typed = self.instance.get_typed_func::<(), (R,)>(&mut *self.store, export)?;
            let (value,) = typed.call(&mut *self.store, ())?;
            Ok(read(self.store, value))
        })();
        match outcome {
            Ok(value) => Some(value),
            Err(error) => {
                self.failed = Some(error);
                None
            }
        }
    }
}

impl ComponentInstanceState for State<'_> {
    async fn call_func_ret_list_u8(
        &mut self,
        instance: &str,
        func: &str,
        contents: impl FnOnce(&[u8]) + Send,
    ) {
        let mut contents = Some(contents);
        self.call(instance, func, |store, list: WasmList<u8>| {
            if let Some(contents) = contents.take() {
                contents(list.as_le_slice(store));
            }
        });
        if let Some(contents) = contents {
            contents(&[]);
        }
    }

    async fn call_func_ret_s32(&mut self, instance: &str, func: &str) -> i32 {
        self.call(instance, func, |_, value: i32| value).unwrap_or(0)
    }

    async fn call_func_ret_s64(&mut self, instance: &str, func: &str) -> i64 {
        self.call(instance, func, |_, value: i64| value).unwrap_or(0)
    }

    async fn call_func_ret_f32(&mut self, instance: &str, func: &str) -> u32 {
        self.call(instance, func, |_, value: f32| value.to_bits()).unwrap_or(0)
    }

    async fn call_func_ret_f64(&mut self, instance: &str, func: &str) -> u64 {
        self.call(instance, func, |_, value: f64| value.to_bits()).unwrap_or(0)
    }
}
