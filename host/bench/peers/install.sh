#!/usr/bin/env bash
# Installs the peers' npm packages (isolated-vm) into a cache directory, never
# into the checkout: run.mjs loads them from there. Idempotent: does nothing
# when that directory already holds an install of this package.json.
#
#   bash host/bench/peers/install.sh
#
# SWITCHBOARD_PEERS_DIR overrides the directory (run.mjs reads it too).
# isolated-vm 5.x is the last line that supports Node 20 (6.x wants 22,
# 7.x wants 24); it compiles with node-gyp (g++, make, python3), a few
# minutes on two cores.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="${SWITCHBOARD_PEERS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/switchboard/bench-peers}"

if cmp -s "$here/package.json" "$dir/.installed" \
    && node -e "require(process.argv[1])" "$dir/node_modules/isolated-vm" 2>/dev/null; then
    echo "bench peers already installed in $dir" >&2
    exit 0
fi

# Anything else there (another package.json, an interrupted install, a
# build for another Node) is built again from scratch.
mkdir -p "$dir"
rm -rf "$dir/.installed" "$dir/node_modules" "$dir/package-lock.json"
cp "$here/package.json" "$dir/package.json"
# Build from source rather than let prebuild-install try to download a
# binary: the build is what every machine can do.
npm_config_build_from_source=true npm install --prefix "$dir" --no-audit --no-fund
# The marker goes last, so an interrupted install is redone next time.
cp "$here/package.json" "$dir/.installed"
echo "bench peers installed in $dir" >&2
