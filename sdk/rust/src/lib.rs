//! Write Switchboard step plugins in Rust.
//!
//! A plugin is a type implementing [`Plugin`], exported with [`export_plugin!`]:
//!
//! ```ignore
//! use switchboard_sdk::prelude::*;
//!
//! struct Greeter;
//!
//! impl Plugin for Greeter {
//!     fn run(input: StepInput) -> Result<Vec<Decision>, StepError> {
//!         let name = input.contact.display_name.as_deref().unwrap_or("there");
//!         Ok(vec![Decision::reply(format!("Hello, {name}!"))])
//!     }
//! }
//!
//! switchboard_sdk::export_plugin!(Greeter);
//! ```
//!
//! Build it with `cargo build --target wasm32-wasip2 --profile plugin`; the
//! resulting `.wasm` is a component the host loads.
//!
//! # Testing natively
//!
//! The same crate compiles for the host target, so plugin logic is tested with
//! plain `cargo test`: call `Greeter::run(input)` directly. Capabilities
//! ([`kv`], [`config`], [`log`]) talk to the host inside wasm, and to an
//! in-process [`testing::TestHost`] natively, which a test can fill and inspect.
//!
//! # Layout
//!
//! - [`bindings`]: what wit-bindgen generates from `wit/since_v0.2.0`; the
//!   types are re-exported from the crate root and [`prelude`]. The
//!   `classifier` world's bindings share them.
//! - `decision.rs`, `input.rs`: constructors and accessors that make those
//!   types pleasant to use.
//! - [`kv`], [`config`], [`log`], [`http`]: the host capabilities.
//! - [`testing`] (native only): input builders and the in-process host.

#![forbid(unsafe_code)]

#[allow(missing_debug_implementations, clippy::all)]
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "step",
        pub_export_macro: true,
        export_macro_name: "__export_step_world",
        default_bindings_module: "switchboard_sdk::bindings",
        additional_derives: [Clone, PartialEq],
    });
}

/// The `classifier` world, sharing the step world's types and imports.
#[allow(missing_debug_implementations, clippy::all)]
#[doc(hidden)]
pub mod classifier_bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "classifier",
        with: {
            "switchboard:plugin/types@0.2.0": crate::bindings::switchboard::plugin::types,
            "switchboard:plugin/log@0.2.0": crate::bindings::switchboard::plugin::log,
            "switchboard:plugin/config@0.2.0": crate::bindings::switchboard::plugin::config,
            "switchboard:plugin/kv@0.2.0": crate::bindings::switchboard::plugin::kv,
        },
        pub_export_macro: true,
        export_macro_name: "__export_classifier_world",
        default_bindings_module: "switchboard_sdk::classifier_bindings",
        additional_derives: [Clone, PartialEq],
    });
}

mod capabilities;
mod classify;
mod decision;
pub mod http;
mod input;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use bindings::exports::switchboard::plugin::handler::Guest as Plugin;
pub use bindings::switchboard::plugin::types::{
    Amount, Ask, Channel, Contact, Crash, CrashKind, Decision, Denial, Due, Event, Field, HandoffCard,
    HostError, LeadGrade, LeadTier, LineItem, Message, Money, Priority, QuickReply, Quote, Remedy, Reply,
    Route, Scalar, ScoreChange, Slot, StepError, StepInput, Timer, Value, Verdict,
};
pub use capabilities::{config, kv, log};
pub use classifier_bindings::exports::switchboard::plugin::understanding::{
    Classification, ClassifyInput, Entity, FieldKind, FieldSpec, Guest as Classifier, IntentGuess, IntentSpec,
};

/// Everything a plugin usually needs, in one `use`.
pub mod prelude {
    pub use crate::{
        Amount, Classification, Classifier, ClassifyInput, Crash, CrashKind, Decision, Denial, Entity,
        IntentGuess, LeadTier, Money, Plugin, Priority, Remedy, StepError, StepInput, Value, Verdict, config,
        http, kv, log,
    };
}

/// Export a [`Plugin`] implementation as the component's `handler`.
///
/// Use it once, at the root of the plugin crate. Natively (for tests and
/// benchmarks) it exports nothing and only checks that the type is a plugin.
#[cfg(target_arch = "wasm32")]
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ident) => {
        $crate::bindings::__export_step_world!($plugin with_types_in $crate::bindings);
    };
}

/// Export a [`Plugin`] implementation as the component's `handler`.
///
/// Use it once, at the root of the plugin crate. Natively (for tests and
/// benchmarks) it exports nothing and only checks that the type is a plugin.
#[cfg(not(target_arch = "wasm32"))]
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ident) => {
        const _: fn() = || {
            fn is_a_plugin<T: $crate::Plugin>() {}
            is_a_plugin::<$plugin>();
        };
    };
}

/// Export a [`Classifier`] implementation as the component's `understanding`
/// (WIT 0.2.0): a tenant's own reading of each message, which the host merges
/// with its built-in one by confidence. A component is either a step or a
/// classifier; use this macro or [`export_plugin!`], not both.
#[cfg(target_arch = "wasm32")]
#[macro_export]
macro_rules! export_classifier {
    ($classifier:ident) => {
        $crate::classifier_bindings::__export_classifier_world!($classifier with_types_in $crate::classifier_bindings);
    };
}

/// Export a [`Classifier`] implementation as the component's `understanding`.
/// Natively it exports nothing and only checks that the type is a classifier.
#[cfg(not(target_arch = "wasm32"))]
#[macro_export]
macro_rules! export_classifier {
    ($classifier:ident) => {
        const _: fn() = || {
            fn is_a_classifier<T: $crate::Classifier>() {}
            is_a_classifier::<$classifier>();
        };
    };
}

/// Milliseconds in common spans, for timers and windows.
pub mod time {
    pub const SECOND_MS: i64 = 1_000;
    pub const MINUTE_MS: i64 = 60 * SECOND_MS;
    pub const HOUR_MS: i64 = 60 * MINUTE_MS;
    pub const DAY_MS: i64 = 24 * HOUR_MS;
}
