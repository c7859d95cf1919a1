#!/usr/bin/env bash
# The demo: build the example plugins from source (Rust, Python, JavaScript),
# then serve the example tenants on the embedded sled store, reachable
# in a browser and with curl. This is the README's first command.
#
#   scripts/demo.sh              # http://127.0.0.1:8080/
#   PORT=9000 scripts/demo.sh    # another port
#
# Data lives in .switchboard/demo; delete it to start over.
set -euo pipefail
cd "$(dirname "$0")/.."

port="${PORT:-8080}"
rustup toolchain install > /dev/null
echo "==> building the example plugins from source (the first run installs componentize-py and -js)"
scripts/build-plugins.sh plugins > /dev/null
echo "==> building switchboard"
cargo build --quiet --release

cat <<EOM

Open http://127.0.0.1:${port}/ in a browser, or the console with the
"console:" link printed below (signed in as the salon's front desk; every
demo person's password is demo-password), or talk to a tenant with curl:

  curl -s localhost:${port}/v1/tenants/moving/messages -H 'content-type: application/json' \\
       -d '{"contact": {"id": "me"}, "text": "Сколько стоит переезд?"}'

A business's own system tells the bot what happened to a customer, and the
flow writes first (here: FitLab's billing, a failed payment):

  curl -s localhost:${port}/v1/tenants/subscriptions/signals -H 'authorization: Bearer demo-subscriptions-token' \\
       -H 'content-type: application/json' \\
       -d '{"name": "payment.failed", "to": "web:me", "fields": {"plan": "Gold"}}'

Each tenant's admin API (conversations, transcripts, events) takes its token:

  curl -s localhost:${port}/v1/tenants/salon/events -H 'authorization: Bearer demo-salon-token'

The operator's API (tenants, their keys) and the OpenAPI document:

  curl -s localhost:${port}/v1/admin/tenants -H 'authorization: Bearer demo-admin-key'
  curl -s localhost:${port}/v1/openapi.json

Prometheus metrics (events by tenant and type, turn latency, provider sends):

  curl -s localhost:${port}/metrics -H 'authorization: Bearer demo-metrics-token'

Stop with Ctrl-C.
EOM
# The web shop's order-status plugin asks the stand-in order API this server mounts.
export SHOP_API="${SHOP_API:-http://127.0.0.1:${port}/demo/shop}"
export SHOP_HOST="${SHOP_HOST:-127.0.0.1:${port}}"
export SWITCHBOARD_METRICS_TOKEN="${SWITCHBOARD_METRICS_TOKEN:-demo-metrics-token}"
export SWITCHBOARD_ADMIN_KEY="${SWITCHBOARD_ADMIN_KEY:-demo-admin-key}"
exec ./target/release/switchboard serve --tenants examples --plugins target/plugins \
    --data .switchboard/demo --listen "127.0.0.1:${port}" --demo
