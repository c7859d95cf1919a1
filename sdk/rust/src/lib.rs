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
mod configured;
mod decision;
pub mod http;
mod input;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use bindings::switchboard::plugin::types::{
    Amount, Ask, Channel, Contact, Crash, CrashKind, Decision, Denial, Due, Event, Field, HandoffCard,
    HostError, LeadGrade, LeadTier, LineItem, Message, Money, Priority, QuickReply, Quote, Remedy, Reply,
    Route, Scalar, ScoreChange, Slot, StepError, StepInput, Timer, Value, Verdict,
};
pub use capabilities::{config, kv, log};
pub use classifier_bindings::exports::switchboard::plugin::understanding::{
    Classification, ClassifyInput, Entity, FieldKind, FieldSpec, IntentGuess, IntentSpec,
};
pub use configured::ConfigCell;

/// A step plugin: what [`export_plugin!`] exports as the component's
/// `handler`. Its `init` is the macro's to give (see [`ConfigCell`]).
pub trait Plugin {
    /// One step: the facts in, the decisions out.
    fn run(input: StepInput) -> Result<Vec<Decision>, StepError>;
}

/// An understanding plugin: what [`export_classifier!`] exports as the
/// component's `understanding`.
pub trait Classifier {
    /// Read one message: which of the flow's intents, which fields.
    fn classify(input: ClassifyInput) -> Result<Classification, StepError>;
}

/// Everything a plugin usually needs, in one `use`.
pub mod prelude {
    pub use crate::{
        Amount, Classification, Classifier, ClassifyInput, ConfigCell, Crash, CrashKind, Decision, Denial,
        Entity, IntentGuess, LeadTier, Money, Plugin, Priority, Remedy, StepError, StepInput, Value, Verdict,
        config, http, kv, log,
    };
}

/// Export a [`Plugin`] implementation as the component's `handler`, with
/// its `init`.
///
/// Use it once, at the root of the plugin crate:
///
/// - `export_plugin!(MyPlugin)`: `init` accepts any config;
/// - `export_plugin!(MyPlugin, config = CONFIG)`: `init` parses the config
///   into the [`ConfigCell`] `CONFIG`, once per binding (the host snapshots
///   what `init` leaves), and refuses a config that does not parse;
/// - `export_plugin!(MyPlugin, init = my_init)`: `init` is
///   `fn(&str) -> Result<(), StepError>` of your own.
///
/// Natively (for tests and benchmarks) it exports nothing and only checks
/// the types.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ident) => {
        $crate::export_plugin!($plugin, init = |_: &str| Ok(()));
    };
    ($plugin:ident, config = $cell:expr) => {
        $crate::export_plugin!($plugin, init = |config: &str| $cell.init(config));
    };
    ($plugin:ident, init = $init:expr) => {
        $crate::__export!(
            $plugin,
            $init,
            Plugin,
            handler,
            fn run(input: $crate::StepInput) -> Result<Vec<$crate::Decision>, $crate::StepError>,
            bindings,
            __export_step_world
        );
    };
}

/// Export a [`Classifier`] implementation as the component's `understanding`
/// (WIT 0.2.0): a tenant's own reading of each message, which the host merges
/// with its built-in one by confidence. A component is either a step or a
/// classifier; use this macro or [`export_plugin!`], not both. Its `init`
/// forms are [`export_plugin!`]'s.
#[macro_export]
macro_rules! export_classifier {
    ($classifier:ident) => {
        $crate::export_classifier!($classifier, init = |_: &str| Ok(()));
    };
    ($classifier:ident, config = $cell:expr) => {
        $crate::export_classifier!($classifier, init = |config: &str| $cell.init(config));
    };
    ($classifier:ident, init = $init:expr) => {
        $crate::__export!(
            $classifier,
            $init,
            Classifier,
            understanding,
            fn classify(input: $crate::ClassifyInput) -> Result<$crate::Classification, $crate::StepError>,
            classifier_bindings,
            __export_classifier_world
        );
    };
}

/// What [`export_plugin!`] and [`export_classifier!`] share: one hidden type
/// that forwards the export to the author's and adds `init`.
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
#[macro_export]
macro_rules! __export {
    ($author:ident, $init:expr, $trait:ident, $interface:ident,
     fn $method:ident($input:ident: $input_ty:ty) -> $output:ty, $bindings:ident, $world:ident) => {
        const _: () = {
            struct Exported;

            impl $crate::$bindings::exports::switchboard::plugin::$interface::Guest for Exported {
                fn init(config: String) -> Result<(), $crate::StepError> {
                    let init: fn(&str) -> Result<(), $crate::StepError> = $init;
                    init(&config)
                }

                fn $method($input: $input_ty) -> $output {
                    <$author as $crate::$trait>::$method($input)
                }
            }

    $crate::$bindings::$world!(Exported with_types_in $crate::$bindings);
        };
    };
}

/// Natively nothing is exported: this only checks the types.
#[cfg(not(target_arch = "wasm32"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __export {
    ($author:ident, $init:expr, $trait:ident, $interface:ident,
     fn $method:ident($input:ident: $input_ty:ty) -> $output:ty, $bindings:ident, $world:ident) => {
        const _: fn() = || {
            fn implements<T: $crate::$trait>() {}
            implements::<$author>();
            let _init: fn(&str) -> Result<(), $crate::StepError> = $init;
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
