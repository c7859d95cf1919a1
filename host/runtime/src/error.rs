//! How loading or running a plugin can fail.

use std::time::Duration;

use switchboard_core::contract::{Crash, CrashKind, StepError};
use switchboard_core::failure::FailureCode;

use crate::limits::ResourceReport;

/// A component that cannot become a [`Plugin`](crate::Plugin).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("not a valid wasm component: {0:#}")]
    Invalid(anyhow::Error),
    /// Missing or mismatched exports, or imports this host does not provide.
    #[error("incompatible component: {0}")]
    Incompatible(String),
    #[error("failed to read component {path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// Compiling it would take more than the host allows
    /// ([`CompileSandbox`](crate::CompileSandbox)).
    #[error("component refused: {0}; make it smaller or less deeply nested")]
    TooCostly(String),
    /// `init` refused the config it was bound with.
    #[error("its init refused the config: {0}")]
    InitRefused(StepError),
    /// `init` trapped, or ran past the binding's limits.
    #[error(
        "its init failed under the binding's limits: {0}; fix the plugin's init, or raise the binding's limits"
    )]
    InitFailed(FailureKind),
}

/// Why a step call produced no decisions. The host always survives these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FailureKind {
    #[error("fuel exhausted after {budget} units")]
    FuelExhausted { budget: u64 },
    #[error("deadline of {timeout:?} exceeded")]
    Deadline { timeout: Duration },
    #[error("memory limit of {limit_bytes} bytes exceeded (asked for {requested_bytes})")]
    MemoryLimit { limit_bytes: u64, requested_bytes: u64 },
    #[error("table limit of {limit_elements} elements exceeded")]
    TableLimit { limit_elements: u64 },
    #[error("stack overflow")]
    StackOverflow,
    #[error("guest panicked: {message}")]
    Panic { message: String },
    #[error("guest trapped: {message}")]
    Trap { message: String },
    /// The plugin returned its own `step-error`: not a crash, a refusal.
    #[error("plugin refused the step: {0}")]
    Guest(StepError),
    /// An uncaught exception or a malformed answer: reported by the guest's
    /// SDK (`step-error::crashed`, WIT 0.2.0), or read from the traceback a
    /// language runtime printed before it trapped.
    #[error("{0}")]
    Crashed(Crash),
    /// The host could not prepare the call (e.g. the instance pool is exhausted).
    #[error("host failed to run the step: {message}")]
    Host { message: String },
}

impl FailureKind {
    /// The stable code events and metric labels carry.
    pub fn code(&self) -> FailureCode {
        match self {
            FailureKind::FuelExhausted { .. } => FailureCode::FuelExhausted,
            FailureKind::Deadline { .. } => FailureCode::Deadline,
            FailureKind::MemoryLimit { .. } => FailureCode::MemoryLimit,
            FailureKind::TableLimit { .. } => FailureCode::TableLimit,
            FailureKind::StackOverflow => FailureCode::StackOverflow,
            FailureKind::Panic { .. } => FailureCode::Panic,
            FailureKind::Trap { .. } => FailureCode::Trap,
            FailureKind::Guest(_) => FailureCode::GuestError,
            FailureKind::Crashed(Crash { kind: CrashKind::Exception, .. }) => FailureCode::Exception,
            FailureKind::Crashed(Crash { kind: CrashKind::BadOutput, .. }) => FailureCode::BadOutput,
            FailureKind::Host { .. } => FailureCode::HostError,
        }
    }
}

/// A failed step call, with what it consumed before failing and what it
/// logged on the way: a failure is when an author most needs the logs.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind}")]
pub struct StepFailure {
    pub kind: FailureKind,
    pub report: ResourceReport,
    pub logs: Vec<crate::LogLine>,
}

impl StepFailure {
    /// A failure before the guest ran: it used nothing and logged nothing.
    pub fn before_running(kind: FailureKind) -> Self {
        Self { kind, report: ResourceReport::default(), logs: Vec::new() }
    }
}
