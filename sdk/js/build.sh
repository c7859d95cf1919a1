#!/usr/bin/env bash
# Build a JavaScript plugin into a component with esbuild and componentize-js.
#
#   sdk/js/build.sh PLUGIN_DIR OUTPUT.wasm [step|classifier|plugin]
#
# The tools (pinned in package-lock.json) are installed once into a user
# cache ($SWITCHBOARD_TOOLS, else $XDG_CACHE_HOME/switchboard/tools, else
# ~/.cache/switchboard/tools), in a directory named by the lockfile's hash;
# nothing is installed into this checkout or PLUGIN_DIR. A plugin that uses
# npm packages installs them in its own directory (`npm install`) first.
set -euo pipefail
sdk="$(cd "$(dirname "$0")" && pwd)"
tools="${SWITCHBOARD_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/switchboard/tools}"
lock_hash="$(sha256sum "$sdk/package-lock.json" | cut -c1-16)"
dir="$tools/js-sdk-$lock_hash"
# `.installed` is written last, so an install cut short is done again.
if [[ ! -e "$dir/.installed" ]]; then
    echo "installing esbuild and componentize-js into $dir (once)"
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$sdk/package.json" "$sdk/package-lock.json" "$dir/"
    # `npm install`, not `npm ci`: npm 11's `ci` rejects lockfiles that omit
    # other platforms' optional native bindings. The versions are pinned
    # exactly in package.json and recorded in package-lock.json either way.
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
    touch "$dir/.installed"
fi
# Run from the cache so its node_modules resolve; the SDK's files come from here.
cp "$sdk/build.mjs" "$dir/build.mjs"
node "$dir/build.mjs" --sdk "$sdk" "$@"
