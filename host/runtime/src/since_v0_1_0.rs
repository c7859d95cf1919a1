//! Bindings for `switchboard:plugin@0.1.0`, the first released plugin API.
//!
//! This module is frozen together with `wit/since_v0.1.0/`. It converts 0.1.0
//! guests into the latest [`switchboard_core::contract`] types, so the rest of
//! the host never learns which version a plugin was built against. The shared
//! glue is in `bridge.rs`; what is particular to 0.1.0 is here.

use switchboard_core::contract as latest;

use crate::state::HostState;

mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit/since_v0.1.0",
        world: "step",
        // Host functions return `wasmtime::Result<T>`: an `Err` traps the guest,
        // while the WIT-level `result` inside `T` is what the guest sees.
        imports: { default: trappable },
    });
}

use bindings::switchboard::plugin::{config, kv, log, types};

pub(crate) fn add_to_linker(linker: &mut wasmtime::component::Linker<HostState>) -> wasmtime::Result<()> {
    bindings::Step::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(linker, |state| state)
}

crate::bridge::host_capabilities!();
crate::bridge::step_handler!("switchboard:plugin/handler@0.1.0");
crate::bridge::conversions!();

fn step_error(error: types::StepError) -> latest::StepError {
    match error {
        types::StepError::InvalidInput(message) => latest::StepError::InvalidInput(message),
        types::StepError::InvalidConfig(message) => latest::StepError::InvalidConfig(message),
        types::StepError::Refused(message) => latest::StepError::Refused(message),
        types::StepError::Unavailable(message) => latest::StepError::Unavailable(message),
    }
}

// 0.1.0 decisions carry no language.

fn verdict_to_latest(verdict: types::Verdict) -> latest::Verdict {
    match verdict {
        types::Verdict::Allow(remedies) => latest::Verdict::Allow(remedies_to_latest(remedies)),
        types::Verdict::Deny(reason) => latest::Verdict::Deny(reason),
        types::Verdict::Escalate(reason) => latest::Verdict::Escalate(reason),
    }
}

fn reply_locale(_: &types::Reply) -> Option<String> {
    None
}

fn ask_locale(_: &types::Ask) -> Option<String> {
    None
}

fn quote_locale(_: &types::Quote) -> Option<String> {
    None
}
