//! Compiling a component in a child process under CPU-time and memory limits.
//!
//! Cranelift's compile time is not linear in the size of its input: deeply
//! nested blocks make it grow with the square of their size, so a 1 MB
//! component can take minutes and gigabytes. Compiling in the server's own
//! process would let one tenant's upload (or its file at start-up) hold a
//! core and the memory of the whole host. With a [`CompileSandbox`], the
//! server runs a child (the same binary, given [`compile_in_child`]'s
//! arguments) that sets its own `RLIMIT_CPU` and `RLIMIT_AS` before it
//! compiles, writes the artifact into the compile cache, and exits. The
//! server loads that artifact, or reports why the child died: a component
//! that needs more than the limits is refused, and nothing else waits for it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use wasmtime::component::Component;

use crate::error::LoadError;
use crate::runtime::{RuntimeConfig, compile_only_engine};

/// How, and within what, components are compiled out of process.
#[derive(Debug, Clone)]
pub struct CompileSandbox {
    /// The program to run, and the arguments that make it call
    /// [`compile_in_child`] (the server: its own executable and a hidden
    /// subcommand). `--input`, `--output` and the limits are appended.
    pub program: PathBuf,
    pub args: Vec<String>,
    /// CPU time the compile may use, across its threads.
    pub cpu: Duration,
    /// Address space the child may map.
    pub memory_bytes: u64,
    /// Wall-clock time before the child is killed (a child starved of CPU
    /// by a busy machine still ends).
    pub wall: Duration,
}

impl Default for CompileSandbox {
    fn default() -> Self {
        Self {
            program: PathBuf::new(),
            args: Vec::new(),
            cpu: Duration::from_secs(120),
            memory_bytes: 4 << 30,
            wall: Duration::from_secs(300),
        }
    }
}

/// What the child is told, as command-line arguments.
#[derive(Debug, Clone)]
pub struct ChildArgs {
    pub input: PathBuf,
    pub output: PathBuf,
    pub cpu_secs: u64,
    pub memory_bytes: u64,
    pub max_memory_bytes: u64,
    pub max_table_elements: u64,
    pub max_stack_bytes: usize,
}

impl ChildArgs {
    fn to_args(&self) -> Vec<String> {
        vec![
            format!("--input={}", self.input.display()),
            format!("--output={}", self.output.display()),
            format!("--cpu-secs={}", self.cpu_secs),
            format!("--memory-bytes={}", self.memory_bytes),
            format!("--max-memory-bytes={}", self.max_memory_bytes),
            format!("--max-table-elements={}", self.max_table_elements),
            format!("--max-stack-bytes={}", self.max_stack_bytes),
        ]
    }
}

/// The child's side: limit this process, compile `input`, write the
/// artifact to `output`. Called by the subcommand the sandbox names.
pub fn compile_in_child(args: &ChildArgs) -> anyhow::Result<()> {
    rlimit::setrlimit(rlimit::Resource::CPU, args.cpu_secs, args.cpu_secs.saturating_add(1))
        .context("failed to limit CPU time")?;
    rlimit::setrlimit(rlimit::Resource::AS, args.memory_bytes, args.memory_bytes)
        .context("failed to limit memory")?;
    let config = RuntimeConfig {
        max_memory_bytes: args.max_memory_bytes,
        max_table_elements: args.max_table_elements,
        max_stack_bytes: args.max_stack_bytes,
        ..RuntimeConfig::default()
    };
    let engine = compile_only_engine(&config)?;
    let bytes = std::fs::read(&args.input).context("failed to read the component")?;
    let component = Component::new(&engine, &bytes)?;
    let serialized = component.serialize()?;
    std::fs::write(&args.output, serialized).context("failed to write the compiled component")?;
    Ok(())
}

/// The parent's side: compile `bytes` in a child into `artifact`.
pub(crate) fn compile_in_sandbox(
    sandbox: &CompileSandbox,
    config: &RuntimeConfig,
    bytes: &[u8],
    artifact: &Path,
) -> Result<(), LoadError> {
    let host = |error: std::io::Error| LoadError::Io { path: "the compile cache".to_owned(), source: error };
    let input = crate::cache::scratch(artifact, "input");
    let output = crate::cache::scratch(artifact, "partial");
    std::fs::write(&input, bytes).map_err(host)?;
    let child_args = ChildArgs {
        input: input.clone(),
        output: output.clone(),
        cpu_secs: sandbox.cpu.as_secs().max(1),
        memory_bytes: sandbox.memory_bytes,
        max_memory_bytes: config.max_memory_bytes,
        max_table_elements: config.max_table_elements,
        max_stack_bytes: config.max_stack_bytes,
    };
    let outcome = run_child(sandbox, &child_args);
    let _ = std::fs::remove_file(&input);
    let result = outcome.and_then(|()| std::fs::rename(&output, artifact).map_err(host));
    if result.is_err() {
        let _ = std::fs::remove_file(&output);
    }
    result
}

fn run_child(sandbox: &CompileSandbox, args: &ChildArgs) -> Result<(), LoadError> {
    let started = Instant::now();
    // The child needs nothing of the host's environment, which may hold
    // the operator's secrets (its key to tenants' channel secrets).
    let mut child = Command::new(&sandbox.program)
        .env_clear()
        .args(&sandbox.args)
        .args(args.to_args())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| LoadError::Io { path: "the compiler process".to_owned(), source })?;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > sandbox.wall => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(LoadError::TooCostly(format!(
                    "compiling it took longer than {} s",
                    sandbox.wall.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(source) => return Err(LoadError::Io { path: "the compiler process".to_owned(), source }),
        }
    };
    if status.success() {
        return Ok(());
    }
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
    }
    use std::os::unix::process::ExitStatusExt;
    // SIGXCPU is what the CPU limit sends; an allocation past the address
    // space limit aborts (SIGABRT) or fails with "memory allocation failed".
    const SIGXCPU: i32 = 24;
    const SIGKILL: i32 = 9;
    match status.signal() {
        Some(SIGXCPU | SIGKILL) => {
            Err(LoadError::TooCostly(format!("compiling it needs more than {} s of CPU time", args.cpu_secs)))
        }
        Some(_) if stderr.contains("memory allocation") => Err(LoadError::TooCostly(format!(
            "compiling it needs more than {} MiB of memory",
            args.memory_bytes >> 20
        ))),
        _ if stderr.contains("memory allocation") || stderr.contains("out of memory") => {
            Err(LoadError::TooCostly(format!(
                "compiling it needs more than {} MiB of memory",
                args.memory_bytes >> 20
            )))
        }
        _ => {
            let last = stderr.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or("no message");
            Err(LoadError::Invalid(anyhow::anyhow!("{}", last.trim().trim_start_matches("error: "))))
        }
    }
}
