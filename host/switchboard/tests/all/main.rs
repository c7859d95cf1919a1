//! The host's integration tests, one binary.
//!
//! - `auth.rs`: every route with a bearer refuses a missing, foreign or revoked key.
//! - `batching.rs`: several inbound messages handled with one disk sync.
//! - `cases.rs`: the end-to-end conversation cases in `tests/cases/` at the
//!   repository root, run through the real engine, store and plugins.
//! - `console.rs`: staff sign-in, sessions, CSRF, roles and the inbox,
//!   through the HTTP app.
//! - `crash.rs`: `switchboard serve` killed with SIGKILL and restarted.
//! - `disk_full.rs`: a full disk on a tmpfs the test mounts in its own
//!   namespace: 503s, reads served, recovery in-process, nothing lost.
//! - `delivery.rs`: the outbox and a fake provider send API.
//! - `outbox.rs`: nothing dropped (parking, re-drive, retries without a cap)
//!   and the concurrent worker's order and fairness.
//! - `http.rs`: the HTTP app, driven without a socket.
//! - `kpis.rs`: every KPI over a generated month against values computed
//!   from its known outcomes; a rebuild equals the incremental fold.
//! - `manage.rs`: a tenant editing its flow, hours, secrets and plugins.
//! - `nlu.rs`: the understanding corpus in `tests/nlu/` holds its targets.
//! - `retention.rs`: a tenant's `[retention]` through a sweep.
//! - `pinning.rs`: reloads and version pinning.
//! - `plugin_run.rs`: `switchboard plugin run` on a step that breaks.
//! - `webhooks.rs`: provider webhooks through the app.
//! - `store_cli.rs`: `switchboard store stats` and `store compact`.
//! - `scheduler.rs`: timers in real time through `switchboard serve`, and kill -9.
//! - `timers.rs`: the follow-up ladders through the scheduler, on a test clock.
//! - `tenant_catalog.rs`: tenants created, edited and removed on one node
//!   served (or not) by another; channel secrets sealed in the catalog.
//! - `nodes_killed.rs`: three `serve` processes on PostgreSQL, two killed
//!   with -9 under load: nothing acknowledged lost or doubled.
//! - `support.rs`: the shared runtime, a fake shop order API, paths.

mod auth;
mod batching;
mod canary;
mod cases;
mod catalog;
mod codes;
mod console;
mod crash;
mod delivery;
mod disk_full;
mod http;
mod kpis;
mod manage;
mod nlu;
mod nodes;
mod nodes_killed;
mod outbox;
mod pinning;
mod plugin_run;
mod replay;
mod retention;
mod scheduler;
mod self_service;
mod signals;
mod snapshots;
mod staff_channels;
mod store_cli;
mod store_migrate;
mod support;
mod tenant_catalog;
mod timers;
mod webhooks;
