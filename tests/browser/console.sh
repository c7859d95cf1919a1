#!/usr/bin/env bash
# The console in Debian's Chromium against a real `switchboard serve --demo`
# whose salon and moving tenants send WhatsApp through a fake provider on
# loopback (console.test.mjs runs it). Called by run.sh, which installs
# Chromium and playwright-core; screenshots land in $ARTIFACTS.
set -euo pipefail
cd "$(dirname "$0")"
root="$(cd ../.. && pwd)"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

data="$(mktemp -d)"
port="$(free_port)"
provider="$(free_port)"
for tenant in salon moving; do
    cp -r "$root/examples/$tenant" "$data/$tenant"
    cat >> "$data/$tenant/tenant.toml" <<TOML

[channels.whatsapp]
app_secret = "wa-secret-$tenant"
verify_token = "wa-verify"
access_token = "wa-token-$tenant"
phone_number_id = "pn-$tenant"
api_base = "http://127.0.0.1:$provider"
TOML
done
log="$data/serve.log"
(cd "$root" && exec target/debug/switchboard serve --tenants "$data" --plugins target/plugins \
    --data "$data/db" --listen "127.0.0.1:$port" --demo --admin-key console-admin-key \
    --allow-outbound "127.0.0.1:$provider" > "$log" 2>&1) &
server=$!
trap 'kill $server 2> /dev/null || true; wait $server 2> /dev/null || true; rm -rf "$data"' EXIT
# On a cold cache, loading compiles each plugin and its snapshot (the
# salon's Python one for a minute or more): up to 5 minutes.
for _ in $(seq 1 1500); do
    grep -q "^console: " "$log" && break
    kill -0 $server 2> /dev/null || { echo "switchboard serve exited:"; cat "$log"; exit 1; }
    sleep 0.2
done
grep -q "^console: " "$log" || { echo "switchboard serve did not seed the demo's people in 5 minutes:"; cat "$log"; exit 1; }
export ARTIFACTS="${ARTIFACTS:-$root/target/browser-artifacts}"
mkdir -p "$ARTIFACTS"
SWITCHBOARD_URL="http://127.0.0.1:$port" PROVIDER_PORT="$provider" \
    DEMO_LINK="$(sed -n 's/^console: //p' "$log" | head -n 1)" node --test console.test.mjs \
    || { echo "--- serve log"; tail -n 40 "$log"; exit 1; }
echo "screenshots: $ARTIFACTS"
