#!/usr/bin/env bash
# Pack the three SDKs as the libraries they publish as, into one folder:
#
#   scripts/package-sdks.sh [OUT_DIR]     # default: target/sdk-packages
#
# - Rust: `cargo package` (its `wit/` links to wit/since_v0.2.0 and is
#   copied in; the package is built once to check it);
# - Python: `pip wheel`, from a copy, so the checkout gets no build/ or
#   egg-info (setuptools is fetched into pip's own build environment);
# - JavaScript: `npm pack`, from a copy with the contract (`wit/`) in it.
#
# Each version follows the contract they build against (0.2.0).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$(mkdir -p "${1:-$root/target/sdk-packages}" && cd "${1:-$root/target/sdk-packages}" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "==> rust: cargo package"
(cd "$root" && cargo package --quiet -p switchboard-sdk --allow-dirty)
cp "${CARGO_TARGET_DIR:-$root/target}"/package/switchboard-sdk-*.crate "$out/"

echo "==> python: pip wheel"
cp -r "$root/sdk/python" "$work/python"
find "$work/python" -name __pycache__ -prune -exec rm -rf {} +
python3 -m pip wheel --quiet --disable-pip-version-check --no-deps "$work/python" -w "$out"

echo "==> js: npm pack"
# From a copy with the contract in it (`wit/`, which build.mjs prefers to
# the checkout's), so the package builds plugins on its own.
cp -r "$root/sdk/js" "$work/js"
rm -rf "$work/js/node_modules"
cp -r "$root/wit/since_v0.2.0" "$work/js/wit"
(cd "$work/js" && npm pack --silent --pack-destination "$out" > /dev/null)

ls -1 "$out"
