//! `switchboard plugin build [DIR]`: a plugin built from its manifest.
//!
//! `DIR/switchboard-plugin.toml` says the plugin's name, version, language
//! and world, and names its config schema and samples. The build runs the
//! language's toolchain (cargo for Rust; the SDK's scripts for Python and
//! JavaScript, which install their tools once into a user cache), embeds the
//! manifest with those files inlined (`switchboard_runtime::manifest`), then
//! loads the component into the sandbox and runs every sample, so a build
//! that does not do what its samples say fails here rather than on upload.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use switchboard_runtime::manifest::{self, Capabilities, Defaults, Language, Manifest, Sample, World};
use switchboard_runtime::{CallContext, Grants, MemoryKv, Runtime, RuntimeConfig};

/// The manifest's file name, in the plugin's directory.
pub const MANIFEST_FILE: &str = "switchboard-plugin.toml";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plugin's directory, holding switchboard-plugin.toml.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Where the component goes [default: DIR/build/NAME.wasm].
    #[arg(long, short)]
    output: Option<PathBuf>,
}

/// `switchboard-plugin.toml` as written: the manifest, with files named
/// where the embedded one inlines them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    name: String,
    version: String,
    language: Language,
    #[serde(default)]
    world: World,
    #[serde(default)]
    description: String,
    #[serde(default)]
    steps: Vec<String>,
    #[serde(default)]
    defaults: Defaults,
    #[serde(default)]
    capabilities: Capabilities,
    /// A JSON Schema file for the plugin's config.
    config_schema: Option<PathBuf>,
    #[serde(default)]
    samples: Vec<SampleSource>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SampleSource {
    name: String,
    /// A step input, as JSON (what `plugin run --input` takes).
    input: PathBuf,
    /// The config to run it with, as JSON; else the input's own.
    config: Option<PathBuf>,
    /// `{"decisions": [...]}` or `{"failure": "code"}`, as JSON.
    expect: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dir =
        args.dir.canonicalize().with_context(|| format!("no plugin directory {}", args.dir.display()))?;
    let manifest = read_manifest(&dir)?;
    let output = args.output.unwrap_or_else(|| dir.join("build").join(format!("{}.wasm", manifest.name)));
    if let Some(parent) = output.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }

    let built =
        step(&format!("building {} {} ({:?})", manifest.name, manifest.version, manifest.language), || {
            build(&dir, &manifest, &output)
        })?;
    let component = manifest::embed(&built, &manifest).context("embedding the manifest")?;
    std::fs::write(&output, &component).with_context(|| format!("cannot write {}", output.display()))?;

    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: crate::cache_dir(),
        max_concurrent_calls: 2,
        ..RuntimeConfig::default()
    })?;
    let plugin = step("loading it into the sandbox", || Ok(runtime.load(&component)?))?;
    let grants = Grants { log: manifest.capabilities.log, kv: manifest.capabilities.kv, ..Grants::default() };
    let context = CallContext {
        plugin: manifest.name.clone(),
        grants: Arc::new(grants),
        kv: Some(Arc::new(MemoryKv::default())),
        ..CallContext::new(&manifest.name)
    };
    let mismatches = manifest.run_samples(&plugin, &Default::default(), &context, Duration::from_secs(60));
    for sample in &manifest.samples {
        match mismatches.iter().find(|mismatch| mismatch.sample == sample.name) {
            None => println!("  ✓ {}", sample.name),
            Some(mismatch) => {
                println!("  ✗ {}", sample.name);
                println!("      expected {}", mismatch.expected.to_json());
                if let Some(got) = &mismatch.got {
                    println!("      got      {}", got.to_json());
                }
                if let Some(detail) = &mismatch.detail {
                    println!("               {detail}");
                }
            }
        }
    }
    println!("{} ({} bytes, sha256 {})", output.display(), component.len(), plugin.hash());
    if mismatches.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "error: {} of {} samples failed; fix the plugin or the sample's expect file",
            mismatches.len(),
            manifest.samples.len()
        );
        Ok(ExitCode::from(2))
    }
}

/// Read `dir`'s manifest and inline the files it names.
pub fn read_manifest(dir: &Path) -> anyhow::Result<Manifest> {
    let path = dir.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!("no {MANIFEST_FILE} in {} (switchboard plugin new writes one)", dir.display())
    })?;
    let source: Source = toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))?;
    let json = |file: &Path| -> anyhow::Result<serde_json::Value> {
        let text = std::fs::read_to_string(dir.join(file))
            .with_context(|| format!("{MANIFEST_FILE} names {}, which cannot be read", file.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))
    };
    let config_schema = source.config_schema.as_deref().map(json).transpose()?;
    let samples = source
        .samples
        .iter()
        .map(|sample| {
            let input = serde_json::from_value(json(&sample.input)?)
                .with_context(|| format!("{} is not a step input", sample.input.display()))?;
            let config = sample.config.as_deref().map(json).transpose()?;
            let expect = serde_json::from_value(json(&sample.expect)?).with_context(|| {
                format!(
                    "{}: write {{\"decisions\": [...]}} or {{\"failure\": \"code\"}}",
                    sample.expect.display()
                )
            })?;
            Ok(Sample { name: sample.name.clone(), input, config, expect })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let manifest = Manifest {
        name: source.name,
        version: source.version,
        language: source.language,
        world: source.world,
        description: source.description,
        steps: source.steps,
        defaults: source.defaults,
        capabilities: source.capabilities,
        config_schema,
        samples,
    };
    manifest.check().with_context(|| format!("{}", path.display()))?;
    Ok(manifest)
}

/// Run the language's build; the component's bytes.
fn build(dir: &Path, manifest: &Manifest, output: &Path) -> anyhow::Result<Vec<u8>> {
    let world = match manifest.world {
        World::Step => "step",
        World::Classifier => "classifier",
        World::Plugin => "plugin",
    };
    let built = match manifest.language {
        Language::Rust => return build_rust(dir),
        Language::Python => sdk_dir()?.join("python/build.sh"),
        Language::Js => sdk_dir()?.join("js/build.sh"),
    };
    let mut command = Command::new(built);
    command.arg(dir).arg(output).arg(world);
    run_quietly(&mut command)?;
    std::fs::read(output).with_context(|| format!("the build wrote no {}", output.display()))
}

/// `cargo build --release --target wasm32-wasip2` in `dir`, and the
/// component it made: the crate's `cdylib`.
fn build_rust(dir: &Path) -> anyhow::Result<Vec<u8>> {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(dir).args([
        "build",
        "--release",
        "--target",
        "wasm32-wasip2",
        "--message-format=json-render-diagnostics",
    ]);
    let stdout = run_quietly(&mut command)?;
    let manifest_path = dir.join("Cargo.toml");
    let mut wasm = None;
    for line in stdout.lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if message["reason"] != "compiler-artifact"
            || message["manifest_path"].as_str().map(Path::new) != Some(manifest_path.as_path())
        {
            continue;
        }
        let is_cdylib = message["target"]["crate_types"]
            .as_array()
            .is_some_and(|types| types.iter().any(|kind| kind == "cdylib"));
        if is_cdylib {
            wasm = message["filenames"]
                .as_array()
                .and_then(|files| {
                    files.iter().filter_map(|file| file.as_str()).find(|file| file.ends_with(".wasm"))
                })
                .map(PathBuf::from);
        }
    }
    let Some(wasm) = wasm else {
        bail!(
            "cargo built no component: add `[lib] crate-type = [\"cdylib\"]` to {}",
            manifest_path.display()
        );
    };
    std::fs::read(&wasm).with_context(|| format!("cannot read {}", wasm.display()))
}

/// Where the SDK's build scripts are: `$SWITCHBOARD_SDK`, else the `sdk/`
/// of the checkout this binary was built from.
pub fn sdk_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("SWITCHBOARD_SDK") {
        return Ok(PathBuf::from(dir));
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk");
    if built_from.join("python/build.sh").exists() {
        return Ok(built_from.canonicalize()?);
    }
    bail!("cannot find the Switchboard SDK: set SWITCHBOARD_SDK to the sdk/ folder of a Switchboard checkout")
}

/// Run `command` with its output kept; its stdout, or its output in the
/// error if it failed.
fn run_quietly(command: &mut Command) -> anyhow::Result<String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {:?}", command.get_program()))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let shown: Vec<&str> = stdout.lines().filter(|line| !line.starts_with('{')).collect();
        bail!("the build failed ({}):\n{}\n{stderr}", output.status, shown.join("\n"));
    }
    Ok(stdout)
}

/// Do `work` behind a spinner that says what it is doing.
fn step<T>(what: &str, work: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    let spinner = indicatif::ProgressBar::new_spinner().with_message(what.to_owned());
    spinner.enable_steady_tick(Duration::from_millis(120));
    let result = work();
    match &result {
        Ok(_) => spinner.finish_with_message(format!("{what}: done")),
        Err(_) => spinner.finish_with_message(format!("{what}: failed")),
    }
    result
}
