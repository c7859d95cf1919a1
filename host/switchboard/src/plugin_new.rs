//! `switchboard plugin new NAME --lang rust|python|js`: a working plugin,
//! outside any checkout, that `switchboard plugin build` builds and whose
//! unit tests run in its own language.
//!
//! Every template greets the customer with the `greeting` of its config, so
//! the manifest, the config schema, a sample and a unit test each have
//! something real to say; the author replaces the logic and keeps the shape.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

use switchboard_runtime::manifest;

use crate::plugin_build::MANIFEST_FILE;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plugin's name: lower-case letters, digits and `-`.
    name: String,
    /// The language it is written in.
    #[arg(long, value_parser = ["rust", "python", "js"])]
    lang: String,
    /// The folder to create it in [default: ./NAME].
    #[arg(long)]
    dir: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !manifest::is_plugin_name(&args.name) {
        bail!("{:?}: a plugin name is {}, such as deposit-policy", args.name, manifest::PLUGIN_NAME_RULE);
    }
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&args.name));
    if dir.exists() && dir.read_dir().map(|mut entries| entries.next().is_some()).unwrap_or(true) {
        bail!("{} exists and is not empty: pick another --dir", dir.display());
    }
    let files = files(&args.name, &args.lang)?;
    for (path, text) in &files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!("created {} ({}):", dir.display(), args.lang);
    for (path, _) in &files {
        println!("  {}", path.display());
    }
    println!(
        "\nnext:\n  cd {}\n  switchboard plugin test        # its unit tests, in {}, with the SDK's test host\n  switchboard plugin build       # the component, with its samples run in the sandbox",
        dir.display(),
        args.lang
    );
    Ok(ExitCode::SUCCESS)
}

/// The starting limits for a step in `lang`, from what the example steps
/// burn per call in `switchboard-bench steps` (fuel, from a snapshot):
/// about ten times that, so a step several times the example's size fits.
fn language_defaults(lang: &str) -> &'static str {
    match lang {
        "python" => {
            "# A Python step like plugins/slot-picker-py burns about 4 M fuel and
             # 4 ms per call: ten times that.
fuel = 40_000_000
timeout_ms = 300"
        }
        "js" => {
            "# A JavaScript step like plugins/contact-validator-js burns about 3 M
             # fuel and 1 ms per call: ten times that.
fuel = 30_000_000
timeout_ms = 100"
        }
        _ => {
            "# A Rust step burns 20-45 k fuel per call, and a 1,000-item quote
             # about 1.1 M: the host's default leaves room for far more.
fuel = 11_000_000
timeout_ms = 100"
        }
    }
}

/// Each file of the new plugin, by path inside its folder.
fn files(name: &str, lang: &str) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let fill =
        |template: &str| template.replace("{{name}}", name).replace("{{crate}}", &name.replace('-', "_"));
    let mut files = vec![
        (
            PathBuf::from(MANIFEST_FILE),
            fill(&MANIFEST.replace("{{lang}}", lang).replace("{{defaults}}", language_defaults(lang))),
        ),
        (PathBuf::from("config.schema.json"), fill(SCHEMA)),
        (PathBuf::from("samples/config.json"), SAMPLE_CONFIG.to_owned()),
        (PathBuf::from("samples/hello.json"), fill(SAMPLE_INPUT)),
        (PathBuf::from("samples/hello.expect.json"), SAMPLE_EXPECT.to_owned()),
        (PathBuf::from(".gitignore"), "/build/\n/target/\n/node_modules/\n__pycache__/\n".to_owned()),
        (PathBuf::from("README.md"), fill(&readme(lang))),
    ];
    match lang {
        "rust" => {
            let sdk = sdk_dependency()?;
            files.push(("Cargo.toml".into(), fill(&RUST_CARGO.replace("{{sdk}}", &sdk))));
            files.push(("src/lib.rs".into(), fill(RUST_LIB)));
        }
        "python" => {
            files.push(("app.py".into(), fill(PYTHON_APP)));
            files.push(("greeting.py".into(), PYTHON_LOGIC.to_owned()));
            files.push(("test_greeting.py".into(), PYTHON_TEST.to_owned()));
            files.push(("test_app.py".into(), PYTHON_APP_TEST.to_owned()));
        }
        _ => {
            files.push(("app.js".into(), JS_APP.to_owned()));
            files.push(("greeting.js".into(), JS_LOGIC.to_owned()));
            files.push(("greeting.test.js".into(), JS_TEST.to_owned()));
            files.push(("app.test.js".into(), JS_APP_TEST.to_owned()));
            files.push(("package.json".into(), fill(JS_PACKAGE)));
        }
    }
    Ok(files)
}

/// How the Rust template depends on the SDK: the checkout's `sdk/rust`
/// (`$SWITCHBOARD_SDK`, else the one this binary was built from), until the
/// SDK is on crates.io.
fn sdk_dependency() -> anyhow::Result<String> {
    let sdk = crate::plugin_build::sdk_dir()?.join("rust");
    let sdk = sdk.canonicalize().with_context(|| format!("no Rust SDK at {}", sdk.display()))?;
    Ok(format!("{{ path = {:?} }}", path_text(&sdk)))
}

fn path_text(path: &Path) -> String {
    path.display().to_string()
}

const MANIFEST: &str = r#"# What this plugin is, for `switchboard plugin build` and the hosts it is
# uploaded to: it is embedded in the built component.
name = "{{name}}"
version = "0.1.0"
language = "{{lang}}"
world = "step"
description = "Greets the customer"
# The flow steps it serves (`input.step`).
steps = ["greet"]
# Its config must satisfy this JSON Schema, checked when a tenant sets it.
config_schema = "config.schema.json"

# The limits a binding starts with (within the host's ceiling and what the
# operator lets a tenant set).
[defaults]
{{defaults}}

# What it asks the tenant to grant.
[capabilities]
log = false

# Run in the sandbox by `plugin build` and on every upload: a build that
# does not answer as its samples expect is refused.
[[samples]]
name = "greets a customer without a name"
input = "samples/hello.json"
config = "samples/config.json"
expect = "samples/hello.expect.json"
"#;

const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "{{name}} config",
  "type": "object",
  "properties": {
    "greeting": { "type": "string", "minLength": 1, "description": "What the reply starts with" }
  },
  "required": ["greeting"],
  "additionalProperties": false
}
"#;

const SAMPLE_CONFIG: &str = "{ \"greeting\": \"Hello\" }\n";

const SAMPLE_INPUT: &str = r#"{
  "tenant": "sample",
  "conversation": "sample-1",
  "step": "greet",
  "channel": "webchat",
  "contact": { "id": "c-1", "locale": "en" },
  "now": 1767585600000
}
"#;

const SAMPLE_EXPECT: &str = "{ \"decisions\": [{ \"reply\": { \"text\": \"Hello, there!\" } }] }\n";

fn readme(lang: &str) -> String {
    let files = match lang {
        "rust" => "`src/lib.rs`: the step and its unit tests (the SDK's `testing` host)",
        "python" => {
            "`greeting.py`: the logic, plain Python; `app.py`: the step; `test_greeting.py`: the logic's \
             tests; `test_app.py`: the step's, against the SDK's test host (`switchboard_sdk.testing`)"
        }
        _ => {
            "`greeting.js`: the logic; `app.js`: the step; `greeting.test.js`: the logic's tests; \
             `app.test.js`: the step's, against the SDK's test host (`switchboard/testing`)"
        }
    };
    let test = "switchboard plugin test";
    format!(
        "# {{{{name}}}}\n\nA Switchboard step plugin ({lang}).\n\n- {files}\n- `switchboard-plugin.toml`: \
         its manifest: name, version, config schema, samples\n- `samples/`: inputs with the decisions \
         expected of each\n\n```console\n$ {test}                    # the logic\n$ switchboard plugin build     \
         # build/{{{{name}}}}.wasm, manifest embedded, samples run\n$ switchboard plugin run \
         build/{{{{name}}}}.wasm --input samples/hello.json --config samples/config.json\n```\n\nUpload it to a \
         tenant with `PUT /v1/tenants/{{tenant}}/plugins/{{{{name}}}}/component` and its config with `PUT \
         .../config`; the host checks the config against the schema and runs the samples first.\n"
    )
}

const RUST_CARGO: &str = r#"[package]
name = "{{name}}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
# cdylib: the wasm component; rlib: the native unit tests.
crate-type = ["cdylib", "rlib"]

[dependencies]
switchboard-sdk = {{sdk}}
serde = { version = "1", features = ["derive"] }

# A workspace of its own, wherever it is created.
[workspace]

[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
panic = "abort"
strip = true
"#;

const RUST_LIB: &str = r##"//! {{name}}: greets the customer with the greeting its config gives.

use serde::Deserialize;
use switchboard_sdk::prelude::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    greeting: String,
}

#[derive(Debug)]
pub struct Greeter;

/// The config, parsed once per binding: the host runs `init` when a
/// tenant binds the plugin and starts every call from what it left.
static CONFIG: ConfigCell<Config> = ConfigCell::new();

impl Plugin for Greeter {
    fn run(input: StepInput) -> Result<Vec<Decision>, StepError> {
        let config = CONFIG.get(&input.config)?;
        let name = input.contact.display_name.as_deref().unwrap_or("there");
        Ok(vec![Decision::reply(format!("{}, {name}!", config.greeting))])
    }
}

switchboard_sdk::export_plugin!(Greeter, config = CONFIG);

#[cfg(test)]
mod tests {
    use switchboard_sdk::testing::input;

    use super::*;

    #[test]
    fn greets_with_the_configured_greeting() {
        let decisions = Greeter::run(input("greet").config(r#"{"greeting": "Barev"}"#).build()).unwrap();
        assert_eq!(decisions, vec![Decision::reply("Barev, there!")]);
    }

    #[test]
    fn a_config_without_a_greeting_is_refused() {
        assert!(matches!(Greeter::run(input("greet").config("{}").build()), Err(StepError::InvalidConfig(_))));
    }
}
"##;

const PYTHON_APP: &str = r#""""{{name}} as a Switchboard step: `greeting.py` behind the plugin contract."""

from typing import List

import switchboard_sdk as sdk
from wit_world import exports
from wit_world.imports import types as t

import greeting


class Handler(exports.Handler):
    def run(self, input: t.StepInput) -> List[t.Decision]:
        config = sdk.config(input)
        if "greeting" not in config:
            raise sdk.invalid_config("config needs a greeting")
        return [sdk.reply(greeting.greet(config["greeting"], input.contact.display_name))]
"#;

const PYTHON_LOGIC: &str = r#""""The logic, in plain Python, so it is unit-tested without building anything."""

from typing import Optional


def greet(greeting: str, name: Optional[str]) -> str:
    return f"{greeting}, {name or 'there'}!"
"#;

const PYTHON_TEST: &str = r#""""Run with `python3 -m unittest` in this folder."""

import unittest

from greeting import greet


class GreetingTest(unittest.TestCase):
    def test_greets_by_name(self):
        self.assertEqual(greet("Barev", "Ani"), "Barev, Ani!")

    def test_greets_someone_without_a_name(self):
        self.assertEqual(greet("Hello", None), "Hello, there!")


if __name__ == "__main__":
    unittest.main()
"#;

const PYTHON_APP_TEST: &str = r#""""The step itself, against the SDK's test host: run with `switchboard plugin test`."""

import unittest

from switchboard_sdk.testing import TestHost, step_input

import app


class StepTest(unittest.TestCase):
    def test_greets_with_the_configured_greeting(self):
        with TestHost():
            decisions = app.Handler().run(step_input("greet", config={"greeting": "Barev"}, display_name="Ani"))
        self.assertEqual([decision.value.text for decision in decisions], ["Barev, Ani!"])

    def test_a_config_without_a_greeting_is_refused(self):
        with TestHost(), self.assertRaises(Exception) as refused:
            app.Handler().run(step_input("greet", config={}))
        self.assertIn("greeting", str(refused.exception.value))


if __name__ == "__main__":
    unittest.main()
"#;

const JS_APP: &str = r#"// The step: `greeting.js` behind the plugin contract.
import { config, reply, invalidConfig } from 'switchboard';
import { greet } from './greeting.js';

export const handler = {
  run(input) {
    const settings = config(input);
    if (!settings.greeting) throw invalidConfig('config needs a greeting');
    return [reply(greet(settings.greeting, input.contact.displayName))];
  },
};
"#;

const JS_LOGIC: &str = r#"// The logic, in plain JavaScript, so it is unit-tested without building anything.
export const greet = (greeting, name) => `${greeting}, ${name ?? 'there'}!`;
"#;

const JS_TEST: &str = r#"// Run with `node --test` in this folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { greet } from './greeting.js';

test('greets by name', () => assert.equal(greet('Barev', 'Ani'), 'Barev, Ani!'));
test('greets someone without a name', () => assert.equal(greet('Hello', undefined), 'Hello, there!'));
"#;

const JS_APP_TEST: &str = r#"// The step itself, against the SDK's test host: run with `switchboard plugin test`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { host, stepInput } from 'switchboard/testing';
import { handler } from './app.js';

test('greets with the configured greeting', () => {
  host.reset();
  const decisions = handler.run(stepInput('greet', { config: { greeting: 'Barev' }, displayName: 'Ani' }));
  assert.deepEqual(decisions.map((decision) => decision.val.text), ['Barev, Ani!']);
});

test('a config without a greeting is refused', () => {
  assert.throws(() => handler.run(stepInput('greet', { config: {} })), (error) => error.tag === 'invalid-config');
});
"#;

const JS_PACKAGE: &str = r#"{
  "name": "{{name}}",
  "version": "0.1.0",
  "type": "module",
  "private": true,
  "scripts": { "test": "switchboard plugin test" }
}
"#;
