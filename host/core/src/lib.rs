//! Switchboard's domain model.
//!
//! This crate is the part of the host that decides things. It does no IO: no
//! sockets, no files, no clocks, no wasm and no storage. Everything here can be
//! tested with plain values.
//!
//! # Layout
//!
//! - [`contract`]: the plugin contract as the rest of the host sees it: the
//!   facts a step receives ([`contract::StepInput`]) and the decisions it
//!   returns ([`contract::Decision`]). These are the *latest* types; the runtime
//!   converts every supported WIT version into them.

pub mod contract;
