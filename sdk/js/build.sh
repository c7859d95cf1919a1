#!/usr/bin/env bash
# Build a JavaScript plugin into a component with componentize-js.
#
#   sdk/js/build.sh PLUGIN_DIR OUTPUT.wasm [step|classifier|plugin]
#
# Installs componentize-js (pinned in package-lock.json) into sdk/js/node_modules
# on first use.
set -euo pipefail
sdk="$(cd "$(dirname "$0")" && pwd)"
if [[ ! -d "$sdk/node_modules/@bytecodealliance/componentize-js" ]]; then
    echo "installing componentize-js into $sdk/node_modules"
    # `npm install`, not `npm ci`: npm 11's `ci` rejects lockfiles that omit
    # other platforms' optional native bindings. The version is pinned exactly
    # in package.json and recorded in package-lock.json either way.
    (cd "$sdk" && npm install --no-audit --no-fund --loglevel=error)
fi
node "$sdk/build.mjs" "$@"
