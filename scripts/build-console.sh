#!/usr/bin/env bash
# Build the web console (Preact + uPlot, bundled by esbuild) into
# host/switchboard/console/dist/: index.html, console.js, console.css, which
# `switchboard serve` embeds and serves at /console/. The output is
# deterministic: CI rebuilds it and checks that dist/ is unchanged.
#
#   scripts/build-console.sh
set -euo pipefail
cd "$(dirname "$0")/../host/switchboard/console"

npm ci --no-audit --no-fund --silent
node build.mjs
