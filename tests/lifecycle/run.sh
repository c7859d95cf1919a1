#!/usr/bin/env bash
# The plugin author's path, as a new agency developer walks it, outside the
# checkout:
#
# 0. the three SDKs pack as the libraries they publish as;
# 1. for Rust, Python and JavaScript, `switchboard plugin new`, the plugin's
#    unit tests in its own language, then `switchboard plugin build` (the
#    component, its manifest embedded, its samples run in the sandbox);
# 2. the Rust one published into two tenants of a running server, each
#    with its own config, then their flows use it;
# 3. a live conversation;
# 4. v2 (code and config) published while a v1 conversation is in flight,
#    which finishes on v1's code and config;
# 5. v2 replayed against the recorded production calls, with a diff;
# 6. v2 as a canary on half of the new conversations, then promoted;
# 7. v3, which traps on real traffic its samples miss, as a canary, rolled
#    back by itself;
# 8. the versions listed.
#
#   tests/lifecycle/run.sh [path/to/switchboard]
#
# Needs what a fresh machine has (the SDK scripts install their tools once
# into ~/.cache/switchboard/tools). Rust plugins build into
# target/lifecycle, so the SDK's dependencies compile once across runs.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
switchboard="$(realpath "${1:-$root/target/debug/switchboard}")"
export CARGO_TARGET_DIR="$root/target/lifecycle"
# The plugins live outside the checkout, where its rust-toolchain.toml (and
# the wasm32-wasip2 target it installs) would not apply.
RUSTUP_TOOLCHAIN="$(cd "$root" && rustup show active-toolchain | cut -d' ' -f1)"
export RUSTUP_TOOLCHAIN
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "==> the SDKs pack as libraries: cargo package, pip wheel, npm pack"
"$root/scripts/package-sdks.sh" "$work/packages" | tail -n 3

for lang in ${LIFECYCLE_LANGS:-rust python js}; do  # LIFECYCLE_LANGS=rust: a quicker run
    echo "==> $lang: plugin new, unit tests, plugin build"
    name="greeter-$lang"
    (cd "$work" && "$switchboard" plugin new "$name" --lang "$lang" > /dev/null)
    # The logic's tests and the step's, against the SDK's test host.
    case "$lang" in
        rust) (cd "$work/$name" && "$switchboard" plugin test 2>&1 | grep -E '^test result: ok. [1-9]') ;;
        python) (cd "$work/$name" && "$switchboard" plugin test 2>&1 | grep -E '^Ran [1-9]+ tests') ;;
        js) (cd "$work/$name" && "$switchboard" plugin test 2>&1 | grep -E '^# pass [1-9]') ;;
    esac
    "$switchboard" plugin build "$work/$name" | tail -n 2
    test -s "$work/$name/build/$name.wasm"
    # The author's checkout holds what they wrote and the build, nothing installed.
    if [[ -n "$(find "$work/$name" \( -name node_modules -o -name __pycache__ -o -name .venv \) -print -quit)" ]]; then
        echo "tools were installed into the plugin's folder:" >&2
        find "$work/$name" -name node_modules -o -name __pycache__ -o -name '.venv' >&2
        exit 1
    fi
done
echo "the plugin author's path works in: ${LIFECYCLE_LANGS:-rust python js}"

# ---- 2-8: a running server, two tenants, versions, replay, canary --------
if [[ " ${LIFECYCLE_LANGS:-rust} " != *" rust "* ]]; then
    echo "(steps 2-8 publish the Rust plugin: include rust in LIFECYCLE_LANGS to run them)"
    exit 0
fi
json() { python3 -c "import json,sys; data=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
server="http://127.0.0.1:$port"
flow() { # version [step]: a field, then (once the greeter is bound) the step
    cat <<TOML
version = "$1"
default_locale = "en"
menu.en = "Say hi."
[[intents]]
name = "hello"
title.en = "Hello"
triggers.en = ["hi"]
[[intents.fields]]
name = "city"
type = "text"
prompt.en = "Which city?"
$([[ -n "${2:-}" ]] && printf '[[intents.steps]]\nname = "greet"\nplugin = "greeter"\non_failure = "skip"')
[intents.done]
reply.en = "Done."
state = "resolved"
TOML
}
for tenant in salon dental; do
    mkdir -p "$work/tenants/$tenant"
    cat > "$work/tenants/$tenant/tenant.toml" <<TOML
name = "$tenant"
flow = "flow.toml"
api_token = "key-$tenant"
web_chat = true
[calendar]
timezone = "Asia/Yerevan"
[canary]
min_calls = 3
TOML
    flow 0 > "$work/tenants/$tenant/flow.toml"
done
"$switchboard" serve --tenants "$work/tenants" --data "$work/data" --plugins "$root/target/plugins" \
    --listen "127.0.0.1:$port" --web-chat-per-ip-per-minute 100000 --web-chat-per-tenant-per-minute 100000 \
    > "$work/serve.log" 2>&1 &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -fs "$server/readyz" > /dev/null && break; sleep 0.1; done
curl -fs "$server/readyz" > /dev/null || { cat "$work/serve.log" >&2; exit 1; }

publish() { # tenant, wasm, config, extra curl args...
    local tenant=$1 wasm=$2 config=$3; shift 3
    curl -fsS -X POST "$server/v1/tenants/$tenant/plugins/greeter/versions" -H "authorization: Bearer key-$tenant" \
        -F "component=@$wasm" -F "config=$config" "$@"
}
say() { # tenant, contact, text: the replies, one a line
    curl -fsS -X POST "$server/v1/tenants/$1/messages" -H 'content-type: application/json' \
        -d "{\"contact\": {\"id\": \"$2\", \"display_name\": \"$2\"}, \"text\": \"$3\"}" \
        | json '"\n".join(reply["text"] for reply in data["replies"])'
}
expect() { # what, got, wanted (a substring)
    if [[ "$2" != *"$3"* ]]; then echo "$1: expected \"$3\" in: $2" >&2; tail -n 20 "$work/serve.log" >&2; exit 1; fi
}

echo "==> install into two tenants, each with its own config"
v1="$work/greeter-rust/build/greeter-rust.wasm"
cp "$v1" "$work/v1.wasm"
publish salon "$work/v1.wasm" '{"greeting": "Barev"}' -F 'note=first release' | json 'data["version"]["seq"]'
publish dental "$work/v1.wasm" '{"greeting": "Hello"}' > /dev/null
for tenant in salon dental; do
    flow 1 greet | curl -fsS -X PUT "$server/v1/tenants/$tenant/flow" -H "authorization: Bearer key-$tenant" --data-binary @- > /dev/null
done

echo "==> a live conversation"
expect "salon asks" "$(say salon ann hi)" "Which city?"
expect "salon greets with its config" "$(say salon ann Yerevan)" "Barev, ann!"
expect "dental greets with its own" "$(say dental bob hi; say dental bob Gyumri)" "Hello, bob!"

echo "==> v2 (code and config) while a v1 conversation is in flight"
expect "in flight" "$(say salon vera hi)" "Which city?"
sed -i 's/{}, {name}!/{}, {name}! (v2)/' "$work/greeter-rust/src/lib.rs"
sed -i 's/there!/there! (v2)/' "$work/greeter-rust/samples/hello.expect.json"
sed -i 's/^version = "0.1.0"/version = "0.2.0"/' "$work/greeter-rust/switchboard-plugin.toml"
"$switchboard" plugin build "$work/greeter-rust" | tail -n 1
cp "$v1" "$work/v2.wasm"
publish salon "$work/v2.wasm" '{"greeting": "Voghjuyn"}' -F 'note=v2: a new greeting' > /dev/null
expect "the v1 conversation keeps v1's code and config" "$(say salon vera Vanadzor)" "Barev, vera!"
expect "a new one gets v2" "$(say salon zara hi; say salon zara Dilijan)" "Voghjuyn, zara! (v2)"

echo "==> replay v2 against the recorded calls"
replayed="$("$switchboard" plugin replay "$work/v2.wasm" --tenant salon --plugin greeter --server "$server" \
    --key key-salon --config '{"greeting": "Voghjuyn"}' --since 1h)"
echo "$replayed" | tail -n 1
expect "replay diff" "$replayed" "-      \"text\": \"Barev, ann!\""
expect "replay diff" "$replayed" "+      \"text\": \"Voghjuyn, ann! (v2)\""
expect "replay summary" "$replayed" "changed, 0 new failure(s)"

echo "==> v2 as a canary on half of dental's new conversations, then promoted"
publish dental "$work/v2.wasm" '{"greeting": "Hi"}' -F canary=50 > /dev/null
v1_seen=0; v2_seen=0
for n in $(seq 1 16); do
    said="$(say dental "c$n" hi; say dental "c$n" Abovyan)"
    if [[ "$said" == *"(v2)"* ]]; then v2_seen=$((v2_seen + 1)); else v1_seen=$((v1_seen + 1)); fi
done
echo "v1 served $v1_seen, the canary $v2_seen"
(( v1_seen > 0 && v2_seen > 0 )) || { echo "a 50 % canary served $v2_seen of 16" >&2; exit 1; }
curl -fsS "$server/v1/tenants/dental/plugins/greeter/canary" -H 'authorization: Bearer key-dental' | json 'data["canary"]'
curl -fsS -X POST "$server/v1/tenants/dental/plugins/greeter/canary/promote" -H 'authorization: Bearer key-dental' > /dev/null
expect "promoted" "$(say dental after hi; say dental after Ijevan)" "Hi, after! (v2)"

echo "==> v3 traps on named customers, which its samples miss: rolled back by itself"
sed -i 's/let name = input.contact.display_name.as_deref().unwrap_or("there");/let name = input.contact.display_name.as_deref().map(|name| panic!("v3 cannot greet {name}")).unwrap_or("there");/' \
    "$work/greeter-rust/src/lib.rs"
sed -i 's/^version = "0.2.0"/version = "0.3.0"/' "$work/greeter-rust/switchboard-plugin.toml"
"$switchboard" plugin build "$work/greeter-rust" | tail -n 1
cp "$v1" "$work/v3.wasm"
publish dental "$work/v3.wasm" '{"greeting": "Hi"}' -F canary=50 > /dev/null
for n in $(seq 1 16); do say dental "d$n" hi > /dev/null; say dental "d$n" Sevan > /dev/null; done
for _ in $(seq 50); do
    curl -fs "$server/v1/tenants/dental/plugins/greeter/canary" -H 'authorization: Bearer key-dental' > /dev/null || break
    sleep 0.1
done
events="$(curl -fsS "$server/v1/tenants/dental/events?limit=1000" -H 'authorization: Bearer key-dental')"
expect "an automatic rollback" "$events" '"type":"plugin.rolled_back"'
expect "after the rollback" "$(say dental later hi; say dental later Goris)" "Hi, later! (v2)"

echo "==> versions, listed and compared from the CLI"
listed="$("$switchboard" plugin versions --tenant dental --plugin greeter --server "$server" --key key-dental)"
echo "$listed"
[[ "$(wc -l <<< "$listed")" == 4 ]] || { echo "expected v1, the v2 canary, v2 promoted, the v3 canary" >&2; exit 1; }
expect "v3 was a canary" "$(sed -n 4p <<< "$listed")" "greeter-rust 0.3.0 canary 50% by bootstrap"
compared="$("$switchboard" plugin versions --tenant dental --plugin greeter --server "$server" --key key-dental --compare 1 3)"
expect "compare" "$compared" "code changed, config changed, manifest changed"
echo "the agency's path works: install, live, pinned v1, replay, canary, automatic rollback, versions"
