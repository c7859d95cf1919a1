#!/usr/bin/env bash
# The plugin author's path, as a new agency developer walks it, outside the
# checkout: for Rust, Python and JavaScript, `switchboard plugin new`, the
# plugin's unit tests in its own language, then `switchboard plugin build`
# (the component, its manifest embedded, its samples run in the sandbox).
#
#   tests/lifecycle/run.sh [path/to/switchboard]
#
# Needs what a fresh machine has (the SDK scripts install their tools once
# into ~/.cache/switchboard/tools). Rust plugins build into
# target/lifecycle, so the SDK's dependencies compile once across runs.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
switchboard="$(realpath "${1:-$root/target/debug/switchboard}")"
export CARGO_TARGET_DIR="$root/target/lifecycle"
# The plugins live outside the checkout, where its rust-toolchain.toml (and
# the wasm32-wasip2 target it installs) would not apply.
RUSTUP_TOOLCHAIN="$(cd "$root" && rustup show active-toolchain | cut -d' ' -f1)"
export RUSTUP_TOOLCHAIN
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

for lang in rust python js; do
    echo "==> $lang: plugin new, unit tests, plugin build"
    name="greeter-$lang"
    (cd "$work" && "$switchboard" plugin new "$name" --lang "$lang" > /dev/null)
    case "$lang" in
        rust) (cd "$work/$name" && cargo test --quiet 2>&1 | grep -E '^test result: ok. [1-9]') ;;
        python) (cd "$work/$name" && python3 -B -m unittest 2>&1 | tail -n 1) ;;
        js) (cd "$work/$name" && node --test --test-reporter=tap greeting.test.js 2>&1 | grep -E '^# pass [1-9]') ;;
    esac
    "$switchboard" plugin build "$work/$name" | tail -n 2
    test -s "$work/$name/build/$name.wasm"
    # The author's checkout holds what they wrote and the build, nothing installed.
    if [[ -n "$(find "$work/$name" \( -name node_modules -o -name __pycache__ -o -name .venv \) -print -quit)" ]]; then
        echo "tools were installed into the plugin's folder:" >&2
        find "$work/$name" -name node_modules -o -name __pycache__ -o -name '.venv' >&2
        exit 1
    fi
done
echo "the plugin author's path works in all three languages"
