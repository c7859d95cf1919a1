//! What a component says about itself: its plugin manifest.
//!
//! An author writes `switchboard-plugin.toml` beside the plugin's source;
//! `switchboard plugin build` reads it, inlines the files it names (the
//! config schema, the samples), and embeds the result in the built component
//! as a custom section of JSON ([`SECTION`]), so the `.wasm` alone says what
//! it is. The host reads it when it loads a component ([`read`]):
//! - a binding's config is checked against [`Manifest::config_schema`]
//!   before it is accepted ([`Manifest::check_config`]);
//! - an upload runs [`Manifest::samples`] in the sandbox first
//!   ([`Manifest::run_samples`]), so a build that traps on every call is
//!   refused rather than found by a customer.
//!
//! Components without a manifest (every 0.1.0 component, and anything built
//! by hand) load as before; there is simply nothing to check them against.

use serde::{Deserialize, Serialize};
use switchboard_core::contract::{Decision, StepInput};
use switchboard_core::failure::FailureCode;

use crate::plugin::{CallContext, Plugin};

/// The custom section a built component carries its manifest in, as JSON.
pub const SECTION: &str = "switchboard-plugin";

/// The most a manifest may take, in its section: it is parsed in the host
/// process whenever the component loads.
pub const MAX_MANIFEST_BYTES: usize = 1 << 20;
/// The most samples a manifest may carry: an upload runs them all.
pub const MAX_SAMPLES: usize = 32;
/// How deeply a config schema may nest.
const MAX_SCHEMA_DEPTH: usize = 32;

/// What a plugin's name may be, said for an error message.
pub const PLUGIN_NAME_RULE: &str = "a lower-case letter, then up to 63 lower-case letters, digits and -";

/// Whether `name` is a plugin name ([`PLUGIN_NAME_RULE`]): it names a cargo
/// package, an npm package and a file, so it keeps to what all three take.
pub fn is_plugin_name(name: &str) -> bool {
    let plain = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    name.starts_with(|c: char| c.is_ascii_lowercase()) && name.len() <= 64 && name.chars().all(plain)
}

/// A plugin's manifest, as embedded: every file it names already inlined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// A lower-case letter, then lower-case letters, digits and `-`.
    pub name: String,
    /// Semantic version: `1.4.0`.
    pub version: String,
    pub language: Language,
    #[serde(default)]
    pub world: World,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The flow step names it serves (`input.step`); empty for any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
    /// The limits a binding starts with, within the operator's ceiling.
    #[serde(default)]
    pub defaults: Defaults,
    /// What it asks the tenant to grant.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// A JSON Schema (draft 2020-12 unless it says otherwise) its config
    /// must satisfy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_schema: Option<serde_json::Value>,
    /// Inputs with the outcome expected of each: run on upload.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<Sample>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Rust,
    Python,
    Js,
}

/// Which WIT world it is built for (`wit/since_v0.2.0/world.wit`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum World {
    #[default]
    Step,
    Classifier,
    Plugin,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    pub fuel: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub memory_mb: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    #[serde(default)]
    pub log: bool,
    #[serde(default)]
    pub kv: bool,
    /// Hosts it calls over HTTP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<String>,
    /// Names of the settings it reads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<String>,
    /// Names of the secrets it reads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
}

/// One input and what the plugin must answer to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    pub name: String,
    pub input: StepInput,
    /// The config to run it with, when the input's own is not the one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
    pub expect: Expect,
}

/// What a sample expects: these decisions exactly, or a failure with this code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    Decisions(Vec<Decision>),
    Failure(FailureCode),
}

/// Why a component's manifest cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("not a wasm component: {0}")]
    Parse(#[from] wasmparser::BinaryReaderError),
    #[error("its `{SECTION}` section is not a valid manifest: {0}")]
    Invalid(#[from] serde_json::Error),
    #[error("the manifest is invalid: {0}")]
    Rule(String),
    #[error("it carries more than one `{SECTION}` section")]
    Twice,
}

/// A sample whose outcome was not the one expected.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleMismatch {
    pub sample: String,
    pub expected: Expect,
    /// What the plugin did, in the form an expect file takes; `None` if
    /// the sample was not run.
    pub got: Option<Expect>,
    /// The failure's message, or why the sample was not run.
    pub detail: Option<String>,
}

impl Expect {
    /// As an expect file holds it: `{"decisions": [...]}` or `{"failure": "code"}`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|error| error.to_string())
    }
}

/// The manifest embedded in `component`, if it has one. Only the
/// component's own sections are read, not those of the modules inside it.
pub fn read(component: &[u8]) -> Result<Option<Manifest>, ManifestError> {
    use wasmparser::Payload;
    // How deep in nested modules and components the parser is.
    let mut depth = 0_usize;
    let mut found = None;
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        match payload? {
            Payload::CustomSection(section) if depth == 0 && section.name() == SECTION => {
                if found.is_some() {
                    return Err(ManifestError::Twice);
                }
                if section.data().len() > MAX_MANIFEST_BYTES {
                    return Err(ManifestError::Rule(format!(
                        "it takes {} bytes; at most {MAX_MANIFEST_BYTES} are read",
                        section.data().len()
                    )));
                }
                let manifest: Manifest = serde_json::from_slice(section.data())?;
                manifest.check()?;
                found = Some(manifest);
            }
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) if depth == 0 => break,
            Payload::End(_) => depth -= 1,
            _ => {}
        }
    }
    Ok(found)
}

/// `component` with `manifest` embedded at its end. Refuses a component
/// that has one already: build afresh rather than stack manifests.
pub fn embed(component: &[u8], manifest: &Manifest) -> Result<Vec<u8>, ManifestError> {
    use wasm_encoder::ComponentSection;
    manifest.check()?;
    if read(component)?.is_some() {
        return Err(ManifestError::Twice);
    }
    let data = serde_json::to_vec(manifest)?;
    let mut embedded = component.to_vec();
    wasm_encoder::CustomSection { name: SECTION.into(), data: data.into() }
        .append_to_component(&mut embedded);
    Ok(embedded)
}

impl Manifest {
    /// The rules serde cannot say: a plain name, a semantic version, a schema
    /// that compiles.
    pub fn check(&self) -> Result<(), ManifestError> {
        if !is_plugin_name(&self.name) {
            return Err(ManifestError::Rule(format!("name {:?}: use {PLUGIN_NAME_RULE}", self.name)));
        }
        if let Err(error) = semver::Version::parse(&self.version) {
            return Err(ManifestError::Rule(format!(
                "version {:?}: {error}; use a semantic version such as 1.0.0",
                self.version
            )));
        }
        if self.samples.len() > MAX_SAMPLES {
            return Err(ManifestError::Rule(format!(
                "{} samples; at most {MAX_SAMPLES} (an upload runs them all)",
                self.samples.len()
            )));
        }
        for sample in &self.samples {
            if let Expect::Failure(FailureCode::Other(code)) = &sample.expect {
                let known: Vec<&str> = FailureCode::KNOWN.iter().map(FailureCode::name).collect();
                return Err(ManifestError::Rule(format!(
                    "sample {:?} expects the failure {code:?}, which no step fails with: one of {}",
                    sample.name,
                    known.join(", ")
                )));
            }
        }
        if let Some(schema) = &self.config_schema {
            if depth(schema) > MAX_SCHEMA_DEPTH {
                return Err(ManifestError::Rule(format!(
                    "config_schema nests deeper than {MAX_SCHEMA_DEPTH}"
                )));
            }
            jsonschema::validator_for(schema)
                .map_err(|error| ManifestError::Rule(format!("config_schema does not compile: {error}")))?;
        }
        Ok(())
    }

    /// Whether `config` satisfies the config schema: every problem, each
    /// with where in the config it is (`/deposit: "20" is not of type
    /// "integer"`). Without a schema, any config passes.
    pub fn check_config(&self, config: &serde_json::Value) -> Result<(), Vec<String>> {
        let Some(schema) = &self.config_schema else { return Ok(()) };
        let validator = jsonschema::validator_for(schema).map_err(|error| vec![error.to_string()])?;
        let problems: Vec<String> = validator
            .iter_errors(config)
            .map(|error| {
                let at = error.instance_path().to_string();
                format!("{}: {error}", if at.is_empty() { "/" } else { &at })
            })
            .collect();
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }

    /// Run every sample on `plugin` (fresh instances, the call's limits and
    /// grants in `context`), each with its own config, else `config`, until
    /// `budget` is spent. Returns the samples whose outcome differed, and
    /// those the budget left unrun.
    pub fn run_samples(
        &self,
        plugin: &Plugin,
        config: &switchboard_core::contract::PluginConfig,
        context: &CallContext,
        budget: std::time::Duration,
    ) -> Vec<SampleMismatch> {
        let started = std::time::Instant::now();
        let mut mismatches = Vec::new();
        for sample in &self.samples {
            let mismatch = |got, detail| SampleMismatch {
                sample: sample.name.clone(),
                expected: sample.expect.clone(),
                got,
                detail,
            };
            if started.elapsed() > budget {
                mismatches.push(mismatch(None, Some(format!("not run: the samples' {budget:?} were spent"))));
                continue;
            }
            let mut input = sample.input.clone();
            input.config = match &sample.config {
                Some(own) => own.clone().into(),
                None if input.config.is_empty() => config.clone(),
                None => input.config,
            };
            match (&sample.expect, plugin.call(&input, context.clone())) {
                (Expect::Decisions(expected), Ok(outcome)) if *expected == outcome.decisions => {}
                (Expect::Failure(code), Err(failure)) if *code == failure.kind.code() => {}
                (_, Ok(outcome)) => {
                    mismatches.push(mismatch(Some(Expect::Decisions(outcome.decisions)), None))
                }
                (_, Err(failure)) => mismatches.push(mismatch(
                    Some(Expect::Failure(failure.kind.code())),
                    Some(failure.kind.to_string()),
                )),
            }
        }
        mismatches
    }
}

/// How deeply `value` nests (a scalar is 0).
fn depth(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(fields) => 1 + fields.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest component there is: the preamble alone.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

    fn manifest() -> Manifest {
        serde_json::from_value(serde_json::json!({
            "name": "deposit-policy",
            "version": "1.2.0",
            "language": "python",
            "steps": ["deposit"],
            "capabilities": { "log": true },
            "config_schema": {
                "type": "object",
                "properties": { "deposit_percent": { "type": "integer", "minimum": 0, "maximum": 100 } },
                "required": ["deposit_percent"],
                "additionalProperties": false
            }
        }))
        .expect("a manifest")
    }

    #[test]
    fn an_embedded_manifest_reads_back_and_a_component_without_one_has_none() {
        assert_eq!(read(EMPTY_COMPONENT).expect("reads"), None);
        let embedded = embed(EMPTY_COMPONENT, &manifest()).expect("embeds");
        assert_eq!(read(&embedded).expect("reads"), Some(manifest()));
        assert!(matches!(embed(&embedded, &manifest()), Err(ManifestError::Twice)));
    }

    #[test]
    fn a_config_is_checked_against_the_schema_with_where_each_problem_is() {
        let manifest = manifest();
        assert_eq!(manifest.check_config(&serde_json::json!({ "deposit_percent": 20 })), Ok(()));
        let problems =
            manifest.check_config(&serde_json::json!({ "deposit_precent": 20 })).expect_err("a typo");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems.iter().any(|p| p.contains("deposit_percent") && p.contains("required")),
            "{problems:?}"
        );
        assert!(problems.iter().any(|p| p.contains("deposit_precent")), "{problems:?}");
        let problems =
            manifest.check_config(&serde_json::json!({ "deposit_percent": "20" })).expect_err("a string");
        assert!(problems[0].starts_with("/deposit_percent: "), "{problems:?}");
    }

    /// A hostile upload's schema cannot make the host read its files or
    /// reach the network: no reference outside the schema resolves.
    #[test]
    fn a_schema_that_refers_to_a_file_or_a_url_is_refused_without_reading_it() {
        for outside in
            ["file:///etc/passwd", "http://169.254.169.254/latest/meta-data/", "https://example.com/s.json"]
        {
            let mut hostile = manifest();
            hostile.config_schema = Some(serde_json::json!({ "$ref": outside }));
            assert!(
                matches!(hostile.check(), Err(ManifestError::Rule(message)) if message.contains("config_schema")),
                "{outside}"
            );
        }
    }

    #[test]
    fn names_versions_and_schemas_are_checked() {
        let mut bad = manifest();
        bad.name = "Deposit Policy".into();
        assert!(matches!(bad.check(), Err(ManifestError::Rule(message)) if message.contains("name")));
        for version in ["1.2", "01.2.0", "1.2.0.0", "v1.2.0", ""] {
            let mut bad = manifest();
            bad.version = version.into();
            assert!(bad.check().is_err(), "{version:?}");
        }
        for version in ["0.1.0", "1.2.3-beta.1", "10.0.0+build.5"] {
            let mut good = manifest();
            good.version = version.into();
            assert!(good.check().is_ok(), "{version:?}");
        }
        let mut bad = manifest();
        bad.samples.push(
            serde_json::from_value(serde_json::json!({
                "name": "typo", "input": { "tenant": "t", "conversation": "c", "step": "s", "channel": "webchat",
                                           "contact": { "id": "c" }, "now": 0 },
                "expect": { "failure": "guest-error" }
            }))
            .expect("a sample"),
        );
        assert!(matches!(bad.check(), Err(ManifestError::Rule(message)) if message.contains("guest_error")));
        let mut deep = serde_json::json!({ "type": "object" });
        for _ in 0..40 {
            deep = serde_json::json!({ "type": "object", "properties": { "x": deep } });
        }
        let mut bad = manifest();
        bad.config_schema = Some(deep);
        assert!(matches!(bad.check(), Err(ManifestError::Rule(message)) if message.contains("nests deeper")));
        let mut bad = manifest();
        bad.config_schema = Some(serde_json::json!({ "type": "no-such-type" }));
        assert!(
            matches!(bad.check(), Err(ManifestError::Rule(message)) if message.contains("config_schema"))
        );
    }
}
