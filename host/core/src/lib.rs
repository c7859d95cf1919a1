//! Switchboard's domain model and conversation logic.
//!
//! This crate is the part of the host that decides things. It does no IO: no
//! sockets, no files, no clocks, no wasm and no storage. Everything here can be
//! tested with plain values. (The time zone database is compiled in, which is
//! data, not IO.)
//!
//! # Layout
//!
//! - [`contract`]: the plugin contract as the rest of the host sees it: the
//!   facts a step receives ([`contract::StepInput`]) and the decisions it
//!   returns ([`contract::Decision`]). These are the *latest* types; the runtime
//!   converts every supported WIT version into them.
//! - [`flow`]: a tenant's declarative flow (TOML), with load-time checking that
//!   reports every problem with its line and column.
//! - [`conversation`]: the state machine, `(state, message, plugin decisions)
//!   -> (state, replies, events, timers)`, reaching plugins through a trait.
//! - [`event`]: the typed domain events KPIs are computed from.
//! - [`failure`]: why a plugin call failed, one typed code for every layer.
//! - [`text`]: normalisation, tolerant phrase matching, intent detection and
//!   language guessing for Russian, Armenian and English.
//! - [`understand`]: the understanding pass over each message: candidate
//!   intents and every entity it carries (dates, money, counts, phones, ids,
//!   choices), so any field can be filled from any message.
//! - [`validate`]: the built-in field checks.
//! - [`calendar`]: a tenant's zone, business hours and holidays.
//! - [`kpi`]: the KPIs of every scenario, folded from the event log into
//!   per-day tallies.

#![forbid(unsafe_code)]

pub mod calendar;
pub mod contract;
pub mod conversation;
pub mod event;
pub mod failure;
pub mod flow;
pub mod kpi;
pub mod kv;
pub mod text;
pub mod understand;
pub mod validate;
