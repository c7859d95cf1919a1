//! `switchboard plugin test [DIR]`: a plugin's unit tests in its own
//! language, with the SDK's test host in reach, so the adapter (`app.py`,
//! `app.js`, `src/lib.rs`) is tested as well as the logic under it:
//!
//! - Rust: `cargo test` (the SDK's `testing::TestHost`);
//! - Python: `python3 -m unittest`, with the contract's bindings (made once
//!   into the tool cache by `sdk/python/build.sh --bindings`) and the SDK
//!   on `PYTHONPATH` (`switchboard_sdk.testing`);
//! - JavaScript: `node --test`, with `switchboard`, `switchboard/testing`
//!   and the host's imports resolved to the SDK (`sdk/js/testing/`).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::Context;
use switchboard_runtime::manifest::Language;

use crate::plugin_build::{read_manifest, sdk_dir};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plugin's folder (with its switchboard-plugin.toml) [default: .].
    dir: Option<PathBuf>,
    /// Passed on to the test runner (`-- --test-name-pattern greet`).
    #[arg(last = true)]
    runner_args: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dir = args.dir.unwrap_or_else(|| PathBuf::from("."));
    let manifest = read_manifest(&dir)?;
    let mut command = match manifest.language {
        Language::Rust => {
            let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
            command.arg("test");
            command
        }
        Language::Python => {
            let sdk = sdk_dir()?.join("python");
            let bindings = python_bindings(&sdk)?;
            let mut path = std::env::join_paths([bindings, sdk])?;
            if let Some(existing) = std::env::var_os("PYTHONPATH") {
                path = std::env::join_paths(
                    std::env::split_paths(&path).chain(std::env::split_paths(&existing)),
                )?;
            }
            let mut command = Command::new("python3");
            // No __pycache__ in the author's folder.
            command.args(["-B", "-m", "unittest"]).env("PYTHONPATH", path);
            command
        }
        Language::Js => {
            let register = sdk_dir()?.join("js/testing/register.mjs");
            let mut command = Command::new("node");
            command.arg("--import").arg(register).arg("--test");
            command
        }
    };
    let status = command
        .args(&args.runner_args)
        .current_dir(&dir)
        .status()
        .with_context(|| format!("cannot run {:?} in {}", command.get_program(), dir.display()))?;
    Ok(if status.success() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The contract's Python bindings, made once per contract into the tool
/// cache (componentize-py installs there too).
fn python_bindings(sdk: &Path) -> anyhow::Result<PathBuf> {
    let tools = std::env::var_os("SWITCHBOARD_TOOLS")
        .map(PathBuf::from)
        .or_else(|| switchboard::cache_dir().and_then(|compiled| Some(compiled.parent()?.join("tools"))))
        .context("no cache directory: set SWITCHBOARD_TOOLS or HOME")?;
    let contract = sdk.join("../../wit/since_v0.2.0");
    let mut digest = sha2::Sha256::default();
    for name in ["types.wit", "world.wit"] {
        let text = std::fs::read(contract.join(name))
            .with_context(|| format!("no {name} in {}", contract.display()))?;
        sha2::Digest::update(&mut digest, &text);
    }
    let hash = hex::encode(sha2::Digest::finalize(digest));
    let bindings = tools.join(format!("py-bindings-{}", &hash[..16]));
    if bindings.join("wit_world").exists() {
        return Ok(bindings);
    }
    let partial = tools.join(format!("py-bindings-{}.partial-{}", &hash[..16], std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    let status = Command::new(sdk.join("build.sh"))
        .arg("--bindings")
        .arg(&partial)
        .status()
        .context("cannot run the Python SDK's build.sh")?;
    anyhow::ensure!(status.success(), "the contract's Python bindings could not be made");
    match std::fs::rename(&partial, &bindings) {
        Ok(()) => Ok(bindings),
        // Another run made them first.
        Err(_) if bindings.join("wit_world").exists() => {
            let _ = std::fs::remove_dir_all(&partial);
            Ok(bindings)
        }
        Err(error) => Err(error).context("cannot keep the Python bindings"),
    }
}
