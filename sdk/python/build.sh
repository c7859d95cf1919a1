#!/usr/bin/env bash
# Build a Python plugin into a component with componentize-py.
#
#   sdk/python/build.sh PLUGIN_DIR OUTPUT.wasm [WORLD]
#
# PLUGIN_DIR holds `app.py`. For WORLD `step` (the default) it defines
# `class Handler` with `run(self, input) -> list[Decision]`; for `classifier`,
# `class Understanding` with `classify(self, input) -> Classification`; for
# `plugin`, both. The contract is `wit/since_v0.2.0`. componentize-py is
# installed into .tools/python (a virtualenv at the repository root) on first use.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
plugin_dir="$(cd "$1" && pwd)"
output="$2"
world="${3:-step}"
componentize_py_version="0.25.1"

venv="$root/.tools/python"
if [[ ! -x "$venv/bin/componentize-py" ]] || ! "$venv/bin/componentize-py" --version 2>/dev/null | grep -q "$componentize_py_version"; then
    echo "installing componentize-py $componentize_py_version into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$componentize_py_version"
fi

"$venv/bin/componentize-py" \
    --wit-path "$root/wit/since_v0.2.0" \
    --world "$world" \
    componentize app \
    --python-path "$plugin_dir" \
    --python-path "$root/sdk/python" \
    --output "$output"
