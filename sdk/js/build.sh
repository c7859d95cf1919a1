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
hash() { if command -v sha256sum > /dev/null; then sha256sum "$1"; else shasum -a 256 "$1"; fi; }
lock_hash="$(hash "$sdk/package-lock.json" | cut -c1-16)"
dir="$tools/js-sdk-$lock_hash"
if [[ ! -e "$dir/.installed" ]]; then
    echo "installing esbuild and componentize-js into $dir (once)"
    # Installed beside, then moved into place whole: a build running at the
    # same time never sees half an install (if two install at once, the
    # second's move finds the first's in place and its own is dropped).
    mkdir -p "$tools"
    partial="$(mktemp -d "$tools/.js-sdk-XXXXXX")"
    cp "$sdk/package.json" "$sdk/package-lock.json" "$partial/"
    # `npm install`, not `npm ci`: npm 11's `ci` rejects lockfiles that omit
    # other platforms' optional native bindings. The versions are pinned
    # exactly in package.json and recorded in package-lock.json either way.
    (cd "$partial" && npm install --no-audit --no-fund --loglevel=error)
    touch "$partial/.installed"
    # What an older, cut-short install left goes first.
    if [[ -e "$dir" && ! -e "$dir/.installed" ]]; then rm -rf "$dir"; fi
    mv -T "$partial" "$dir" 2> /dev/null || rm -rf "$partial"
fi
# Run from the cache, so its node_modules resolve, as a copy of this run's
# own (another checkout's build may run beside it); the SDK's files come
# from here.
script="$(mktemp "$dir/build-XXXXXX.mjs")"
trap 'rm -f "$script"' EXIT
cp "$sdk/build.mjs" "$script"
node "$script" --sdk "$sdk" "$@"
