#!/usr/bin/env bash
# The widget and the console in a real headless browser: Debian's Chromium, driven by
# playwright-core from npm. Installs both if missing, starts `switchboard
# serve` with the example tenants on a free port, and runs widget.test.mjs.
# Expects the plugins in target/plugins (scripts/build-plugins.sh).
set -euo pipefail
cd "$(dirname "$0")"
root="$(cd ../.. && pwd)"

if ! command -v chromium > /dev/null; then
    echo "==> installing Debian's chromium"
    sudo_=""; [[ "$(id -u)" != 0 ]] && sudo_="sudo"
    $sudo_ apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq chromium > /dev/null
fi
npm ci --no-audit --no-fund --silent

(cd "$root" && cargo build --quiet -p switchboard)
data="$(mktemp -d)"
log="$data/serve.log"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
# Only the tenant the test talks to: a cold start compiles its plugins.
(cd "$root" && exec target/debug/switchboard serve --tenants examples/moving --plugins target/plugins \
    --data "$data/db" --listen "127.0.0.1:$port" > "$log" 2>&1) &
server=$!
trap 'kill $server 2> /dev/null || true; wait $server 2> /dev/null || true; rm -rf "$data"' EXIT
# It listens before its tenants load; on a cold cache, loading compiles each
# plugin and its snapshot (up to 5 minutes here).
for _ in $(seq 1 1500); do
    grep -q "loaded tenant moving" "$log" && break
    kill -0 $server 2> /dev/null || { echo "switchboard serve exited:"; cat "$log"; exit 1; }
    sleep 0.2
done
grep -q "loaded tenant moving" "$log" || { echo "switchboard serve did not load moving in 5 minutes:"; cat "$log"; exit 1; }
SWITCHBOARD_URL="http://127.0.0.1:$port" node --test widget.test.mjs
kill $server 2> /dev/null || true; wait $server 2> /dev/null || true
# The console, against its own server (salon and moving on a fake WhatsApp).
./console.sh
