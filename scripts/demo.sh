#!/usr/bin/env bash
# The demo: build the example plugins from source and run one step of each,
# in the sandbox, printing decisions and the resource report. This is the
# README's first command.
#
#   scripts/demo.sh          # Rust plugins only (about a minute on a fresh machine)
#   scripts/demo.sh all      # also the Python and JavaScript plugins
set -euo pipefail
cd "$(dirname "$0")/.."

rustup toolchain install > /dev/null
scripts/build-plugins.sh "${1:-rust}" > /dev/null
cargo build --quiet --release

run() {
    local title="$1"; shift
    printf '\n\033[1m%s\033[0m\n$ switchboard plugin run %s\n' "$title" "$*"
    ./target/release/switchboard plugin run "$@"
}

run "A moving company quotes a move (pricing-calculator, Rust)" \
    target/plugins/pricing_calculator.wasm --input examples/inputs/moving-quote.json \
    --config plugins/pricing-calculator/config/moving.json
run "A web shop decides a refund (refund-policy, Rust)" \
    target/plugins/refund_policy.wasm --input examples/inputs/shop-refund.json \
    --config plugins/refund-policy/config/webshop.json
run "A lead is scored (lead-scoring, Rust)" \
    target/plugins/lead_scoring.wasm --input examples/inputs/moving-lead.json \
    --config plugins/lead-scoring/config/moving.json
if [[ "${1:-rust}" == "all" ]]; then
    run "A beauty salon offers slots (slot-picker, Python)" \
        target/plugins/slot_picker.wasm --input examples/inputs/salon-booking.json \
        --config plugins/slot-picker-py/config.json
    run "A phone number is checked (contact-validator, JavaScript)" \
        target/plugins/contact_validator.wasm --input examples/inputs/phone-answer.json \
        --config plugins/contact-validator-js/config.json
fi
printf '\nAnd a plugin that loops forever, stopped by its fuel budget:\n'
sed 's/"offer-slots"/"loop"/' examples/inputs/salon-booking.json > target/loop-input.json
./target/release/switchboard plugin run target/plugins/hostile_fixture.wasm --input target/loop-input.json || true
