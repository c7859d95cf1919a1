//! The data each call's `Store` holds, with WASI locked down.

use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::http::GrantedHttp;

use crate::limits::CallLimiter;
use crate::plugin::{CallContext, LogLine};

/// The seed every `init` sees: the same for every tenant and call, so that
/// a snapshot depends on the component and the config alone. (Anything a
/// guest seeds in `init`, a hash map's keys say, is therefore the same in
/// every call started from the snapshot.)
const INIT_SEED: u64 = 0x5eed_0f00_1417;

/// What a call's store had before [`HostState::enter_init`].
pub(crate) struct SavedForInit {
    grants: std::sync::Arc<crate::capabilities::Grants>,
    kv: Option<std::sync::Arc<dyn switchboard_core::kv::KvBackend>>,
    now_ms: i64,
    seed: u64,
}

/// How much guest stderr is kept (panic messages land there). A guest that
/// writes more traps, which is reported like any other trap.
const STDERR_CAPACITY: usize = 16 << 10;

pub(crate) struct HostState {
    /// Built on the guest's first WASI call: most steps make none (a Rust
    /// step that does not panic or print), and building it is a good part
    /// of what a fresh store costs.
    wasi: Option<WasiCtx>,
    /// What the WASI context is built from: the call's time and seed.
    now_ms: i64,
    seed: u64,
    table: ResourceTable,
    http: WasiHttpCtx,
    http_hooks: GrantedHttp,
    pub(crate) limiter: CallLimiter,
    pub(crate) context: CallContext,
    pub(crate) tenant: String,
    pub(crate) logs: Vec<LogLine>,
    pub(crate) stderr: MemoryOutputPipe,
    /// When every host call of this call must have returned (`deadline.rs`).
    pub(crate) deadline: Instant,
}

impl HostState {
    pub(crate) fn new(context: CallContext, tenant: &str, conversation: &str, now_ms: i64) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let seed = fnv1a([tenant.as_bytes(), conversation.as_bytes(), &now_ms.to_le_bytes()]);
        Self {
            wasi: None,
            now_ms,
            seed,
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            http_hooks: GrantedHttp::new(context.grants.clone()),
            limiter: CallLimiter::new(&context.limits),
            context,
            tenant: tenant.to_owned(),
            logs: Vec::new(),
            stderr,
            deadline: Instant::now(),
        }
    }

    /// Set this store up for `init`, as every `init` runs, in a snapshot or
    /// just before a call: time at the epoch, a seed of nothing of the
    /// tenant's, no capability. Gives back what [`Self::leave_init`] restores.
    pub(crate) fn enter_init(&mut self) -> SavedForInit {
        let saved = SavedForInit {
            grants: std::mem::take(&mut self.context.grants),
            kv: self.context.kv.take(),
            now_ms: self.now_ms,
            seed: self.seed,
        };
        (self.now_ms, self.seed) = (0, INIT_SEED);
        self.wasi = None;
        saved
    }

    /// The call's own capabilities, time and seed back after `init`; its
    /// WASI context is built afresh from them on first use.
    pub(crate) fn leave_init(&mut self, saved: SavedForInit) {
        self.context.grants = saved.grants;
        self.context.kv = saved.kv;
        (self.now_ms, self.seed) = (saved.now_ms, saved.seed);
        self.wasi = None;
    }

    /// Host resources the guest holds handles to (streams, requests).
    pub(crate) fn open_resources(&self) -> bool {
        !self.table.is_empty()
    }

    pub(crate) fn bounded_io(&mut self) -> crate::deadline::Bounded<'_> {
        crate::deadline::Bounded { table: &mut self.table, deadline: self.deadline }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let (now_ms, seed, stderr) = (self.now_ms, self.seed, &self.stderr);
        let wasi = self.wasi.get_or_insert_with(|| sandboxed_wasi(now_ms, seed, stderr.clone()));
        WasiCtxView { ctx: wasi, table: &mut self.table }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.http_hooks }
    }
}

/// WASI with nothing granted: no preopened directories, no environment, no
/// arguments, no sockets or name lookup, stdin closed, stdout discarded. Clocks
/// are frozen at the step's `now`, and randomness is seeded from the call's
/// identity, so a replay of the same input sees the same world.
fn sandboxed_wasi(now_ms: i64, seed: u64, stderr: MemoryOutputPipe) -> WasiCtx {
    let mut builder = WasiCtxBuilder::new();
    builder
        .wall_clock(FrozenWallClock(Duration::from_millis(now_ms.max(0) as u64)))
        .monotonic_clock(FrozenMonotonicClock)
        .secure_random(StdRng::seed_from_u64(seed))
        .insecure_random(StdRng::seed_from_u64(seed.rotate_left(17)))
        .insecure_random_seed(u128::from(seed))
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .stderr(stderr);
    builder.build()
}

struct FrozenWallClock(Duration);

impl HostWallClock for FrozenWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }

    fn now(&self) -> Duration {
        self.0
    }
}

struct FrozenMonotonicClock;

impl HostMonotonicClock for FrozenMonotonicClock {
    fn resolution(&self) -> u64 {
        1
    }

    fn now(&self) -> u64 {
        0
    }
}

/// A small, stable, non-cryptographic hash: the seed only needs to differ between
/// calls and stay the same across replays and hosts.
fn fnv1a<const N: usize>(parts: [&[u8]; N]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    for part in parts {
        for byte in part.iter().chain([0xff].iter()) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}
