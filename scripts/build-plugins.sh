#!/usr/bin/env bash
# Build every plugin component from source into target/plugins/:
# the Rust plugins and fixtures with cargo, the Python plugin and fixture with
# componentize-py, the JavaScript ones with esbuild and componentize-js (the
# tools go to a user cache once: see sdk/python/build.sh, sdk/js/build.sh).
#
#   scripts/build-plugins.sh          # everything, test fixtures included
#   scripts/build-plugins.sh plugins  # the plugins and Rust fixtures, not the Python and JS fixtures
#   scripts/build-plugins.sh rust     # only the Rust components
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/plugins
mkdir -p "$out"

rust_plugins=(pricing-calculator lead-scoring refund-policy order-status approval-routing llm-classifier hostile-fixture slow-start-fixture contract-v0-1-fixture)
echo "==> Rust plugins: ${rust_plugins[*]}"
cargo build --quiet --target wasm32-wasip2 --profile plugin ${rust_plugins[@]/#/-p }
for crate in "${rust_plugins[@]}"; do
    cp "target/wasm32-wasip2/plugin/${crate//-/_}.wasm" "$out/"
done

mode="${1:-all}"
if [[ "$mode" == "all" || "$mode" == "plugins" ]]; then
    echo "==> Python plugin: slot-picker (componentize-py)"
    sdk/python/build.sh plugins/slot-picker-py "$out/slot_picker.wasm"
    echo "==> JavaScript plugin: contact-validator (esbuild, componentize-js)"
    sdk/js/build.sh plugins/contact-validator-js "$out/contact_validator.wasm"
fi
if [[ "$mode" == "all" ]]; then
    echo "==> steps that break on purpose, for the SDK guards' tests: tests/fixtures/crashing-{py,js}"
    sdk/python/build.sh tests/fixtures/crashing-py "$out/crashing_py.wasm"
    sdk/js/build.sh tests/fixtures/crashing-js "$out/crashing_js.wasm"
fi

ls -l "$out"
