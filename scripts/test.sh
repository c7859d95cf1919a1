#!/usr/bin/env bash
# Every test Switchboard has, from a fresh checkout. This is the README's test
# command, and .ci/run calls it, so a green CI means the README works.
#
# Needs only what a fresh machine has: rustup, Python 3 and Node. The wasm
# target comes from rust-toolchain.toml; componentize-py, esbuild and
# componentize-js are installed by the SDK build scripts on first use, into
# ~/.cache/switchboard/tools.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "room on disk for the build and the tests"
# A clean clone's build and run of everything took 4 GiB under target/ by
# the browser tests (2026-12-07), and more with lints and benchmarks; the
# store refuses writes, and most tests fail, once its disk is nearly full,
# so say so now rather than after the build.
need_gib=8
mkdir -p target
free_gib=$(( $(df --output=avail -k target | tail -n 1) / 1024 / 1024 ))
if (( free_gib < need_gib )); then
    echo "only ${free_gib} GiB free under $(pwd)/target; the build and tests need about ${need_gib} GiB." \
        "Free some (cargo clean in other checkouts; target/debug/incremental is safe to delete) and run again." >&2
    exit 1
fi
echo "${free_gib} GiB free"

step "toolchain (rust-toolchain.toml, with wasm32-wasip2)"
rustup toolchain install
rustup target list --installed | grep -qx wasm32-wasip2

step "formatting"
cargo fmt --all --check

step "plugins from source: Rust, Python (componentize-py), JavaScript (componentize-js)"
scripts/build-plugins.sh

step "the console's build is reproducible: its source builds to the dist/ the binary embeds"
scripts/build-console.sh
git diff --exit-code --stat -- host/switchboard/console/dist \
    || { echo "host/switchboard/console/dist is stale: run scripts/build-console.sh and commit it" >&2; exit 1; }

step "plugin logic tests in their own languages"
(cd plugins/slot-picker-py && python3 -m unittest -v 2>&1 | tail -n 4)
(cd plugins/contact-validator-js && node --test)
(cd plugins/deposit-policy-py && python3 -B -m unittest 2>&1 | tail -n 4)
node --test sdk/js/guard.test.js # the SDK's guard, its shapes checked against the WIT
# The SDKs' test hosts, which plugin adapters are unit-tested against.
node --import ./sdk/js/testing/register.mjs --test sdk/js/testing.test.js
bindings="$(mktemp -d)"
sdk/python/build.sh --bindings "$bindings/py" > /dev/null
PYTHONPATH="$bindings/py:sdk/python" python3 -B -m unittest discover -s sdk/python/tests 2>&1 | tail -n 1
rm -rf "$bindings"

step "a throwaway PostgreSQL (Debian's, installed if missing), for the PostgreSQL store's tests"
eval "$(scripts/postgres.sh start)"
trap 'scripts/postgres.sh stop "$SWITCHBOARD_PG_DIR"' EXIT
echo "$SWITCHBOARD_TEST_POSTGRES"

step "Rust tests: unit, integration (real components through the sandbox), the attack suite (tests/attacks), docs, the store's conformance suite on sled and PostgreSQL"
# The hostile fixture only makes sense as wasm; it is built above and run by the runtime tests.
cargo test --workspace --exclude hostile-fixture

step "the plugin author's path: plugin new, unit tests, plugin build, in Rust, Python and JavaScript"
cargo build --quiet -p switchboard
tests/lifecycle/run.sh target/debug/switchboard
target/debug/switchboard plugin build plugins/deposit-policy-py | tail -n 4

step "the web chat widget and the console in headless Chromium (Debian's, installed if missing; Playwright)"
tests/browser/run.sh

step "the crate graph: the store knows no wasm, the host no example plugin"
if cargo tree --quiet -p switchboard-store -e normal --prefix none | grep -q '^wasmtime '; then
    echo "switchboard-store depends on wasmtime (see: cargo tree -p switchboard-store -i wasmtime);" \
        "plugin-state types belong in switchboard_core::kv" >&2
    exit 1
fi
# The whole tree first: grep -q would stop reading early, and with pipefail a
# cargo killed by SIGPIPE would hide the match.
host_tree=$(cargo tree --quiet -p switchboard -e normal --prefix none)
plugin_crates='^(pricing-calculator|lead-scoring|refund-policy|order-status|approval-routing|llm-classifier|switchboard-sdk) '
if grep -qE "$plugin_crates" <<<"$host_tree"; then
    echo "switchboard depends on $(grep -oE "$plugin_crates" <<<"$host_tree" | sort -u | xargs)" \
        "(see: cargo tree -p switchboard -e normal -i <crate>); only switchboard-bench (host/bench)" \
        "may depend on the example plugins and the SDK" >&2
    exit 1
fi

step "lints"
cargo clippy --workspace --exclude hostile-fixture --all-targets -- -D warnings

step "the benchmarks run and their paths agree (smoke runs, not measurements)"
cargo run --quiet -p switchboard-bench -- steps --rounds 1 --sample-ms 1 > /dev/null
cargo run --quiet -p switchboard-bench -- engine --conversations 2 --store "$SWITCHBOARD_TEST_POSTGRES" > /dev/null
cargo run --quiet -p switchboard-bench -- timers --timers 200 > /dev/null
cargo run --quiet -p switchboard-bench -- kpis --conversations 2 --events 5000 --queries 1 > /dev/null
cargo run --quiet -p switchboard-bench -- http --seconds 1 --connections 2 > /dev/null
cargo run --quiet -p switchboard-bench -- delivery --tenants 3 --customers 2 --seconds 1 --outage-seconds 2 \
    --outage-pair-every 1 --latency-ms 20 > /dev/null
cargo run --quiet -- flow check examples/moving/flow.toml
cargo run --quiet -- flow check examples/salon/flow.toml
cargo run --quiet -- flow check examples/webshop/flow.toml
cargo run --quiet -- flow check examples/office/flow.toml
cargo run --quiet -- flow check examples/subscriptions/flow.toml
cargo run --quiet -- flow check examples/electronics/flow.toml

step "all tests passed"
