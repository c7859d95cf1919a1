//! The attack suite: each finding of issue 12 ("Hostile tenants") as a test
//! that failed before its fix and passes after, so it stays fixed.
//!
//! Every test runs the real `switchboard serve` binary on loopback, with the
//! example tenants copied to a temp dir (`support.rs`), and attacks it only
//! through what a tenant or an anonymous client can reach. Attacks come from
//! `127.0.0.2` and benign traffic from `127.0.0.1`, so per-address limits
//! tell them apart. A benign moving-company turn is timed before and during
//! an attack ([`support::assert_benign_ok_during`]): every benign turn must
//! succeed, and their median must stay within 2x the baseline (measured
//! before the attack, and once more after it should the turns alone have
//! slowed meanwhile, up to half again the first: a shared machine's disk
//! syncs drift).
//!
//! Loads are bounded in count and time, and the whole suite takes well under
//! a minute. Run it alone with `cargo test -p switchboard --test attacks`;
//! it needs the plugins `scripts/build-plugins.sh` builds.
//!
//! # Layout
//!
//! One file per kind of attack; each test names the finding it reproduces.
//!
//! - `tenant_files.rs`: **C1**, a tenant's `${VAR}` read the server's
//!   environment; **C2**, crafted values wrote the tenant its own grants,
//!   limits and paths; **M1**, a crash during an edit left the tenant
//!   unloadable; **M2**, concurrent edits lost acknowledged changes.
//! - `blocking.rs`: **H1**, a step that sleeps in the host outlived its
//!   deadline and wedged every tenant; **H2**, a component whose start
//!   function sleeps hung edits and start-up; **H3**, a compile bomb.
//! - `connections.rs`: **H4**, idle TCP connections from one client exhaust
//!   file descriptors (caps per address and host-wide, header timeout).
//! - `removal.rs`: **M3**, a removed tenant's name, created again, brought
//!   back its conversations and keys.
//! - `egress.rs`: **M4**, a tenant's `api_base` scanned the server's network
//!   and read the answer in `message.failed`; **M6**, a plugin's allowlisted
//!   name resolved to loopback, and a bare host allowed every port.
//! - `quotas.rs`: **M5**, anonymous web chat wrote to disk and took CPU
//!   without limit (rate limits per address and per tenant), and a tenant's
//!   kv keys and bytes, events per day, step output and message size had no
//!   quota.
//! - `memory.rs`: **M7**, one tenant could claim gigabytes of guest memory.
//! - `live.rs`: **L1**, every live reply of every tenant woke every open
//!   web chat session, so one tenant's bursts cost the others CPU and
//!   dropped replies.
//! - `disclosure.rs`: **L4**, errors named server paths, a tenant's API
//!   told which tenants exist before checking the key, and `/` listed them.
//! - `surface.rs`: **L5**, an internal tenant answered anonymous web chat,
//!   and the bootstrap token could be neither revoked nor rotated.
//! - `impersonation.rs`: **S1**, a customer sent the button a staff member
//!   gets on their own channel; **S2**, a crafted `intent:` payload started
//!   an intent the menu does not offer (issue 18).
//! - `loops.rs`: **S3**, a tenant's timers set each other off through
//!   their events and kept the scheduler firing for ever (issue 18).
//! - `tokens.rs`: **L2**, an empty metrics token leaves `/metrics` open;
//!   **L3**, a tenant sets an empty Meta or Telegram secret, so deliveries
//!   can be forged (also unit-tested in `channels/tests.rs`).
//!
//! **L6** (the widget's session ids came from `Math.random`) is in the
//! browser test, which runs the widget in Chromium: `tests/browser/
//! widget.test.mjs`, "the widget makes its session id without Math.random".
//!
//! A new finding gets a file here, and a line in the list above.

mod blocking;
mod connections;
mod disclosure;
mod egress;
mod impersonation;
mod live;
mod loops;
mod memory;
mod quotas;
mod removal;
mod support;
mod surface;
mod tenant_files;
mod tokens;
