#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests and benchmarks: Debian's package
# (installed with apt-get if missing), a cluster made with initdb in a temp
# dir, run with pg_ctl as an unprivileged user, on a free loopback port.
#
#   eval "$(scripts/postgres.sh start)"   # exports SWITCHBOARD_TEST_POSTGRES and SWITCHBOARD_PG_DIR
#   scripts/postgres.sh stop "$SWITCHBOARD_PG_DIR"
#
# Nothing outside the temp dir is touched, except the package install.
set -euo pipefail

bin_dir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [[ -z "$dir" || ! -x "$dir/initdb" ]]; then
        echo "PostgreSQL is not installed; installing Debian's postgresql package" >&2
        if [[ $(id -u) -ne 0 ]]; then
            echo "run as root, or install it yourself: sudo apt-get install postgresql" >&2
            exit 1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 \
            || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2; }
        dir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi
    echo "$dir"
}

# Run a command as the unprivileged user that owns the cluster: PostgreSQL
# refuses to run as root, and a test server has no business being root.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u "$owner" -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

case "${1:-}" in
start)
    bin=$(bin_dir)
    owner=postgres
    if [[ $(id -u) -eq 0 ]] && ! id "$owner" > /dev/null 2>&1; then
        owner=nobody
    fi
    dir=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-pg.XXXXXX")
    [[ $(id -u) -eq 0 ]] && chown "$owner" "$dir"
    port=$(free_port)
    as_owner "$bin/initdb" --pgdata "$dir/data" --username postgres --auth trust \
        --encoding UTF8 --locale C.UTF-8 > "$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    # Durable as in production (fsync on), so benchmarks against it are fair.
    as_owner "$bin/pg_ctl" --pgdata "$dir/data" --log "$dir/server.log" --wait --silent \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=200" \
        start > /dev/null || { cat "$dir/server.log" >&2; exit 1; }
    # Switchboard connects as a role that is not a superuser and owns its
    # tables: row-level security binds it (a superuser would bypass it).
    as_owner "$bin/createuser" --host 127.0.0.1 --port "$port" --username postgres --createdb switchboard
    as_owner "$bin/createdb" --host 127.0.0.1 --port "$port" --username postgres --owner switchboard switchboard
    echo "export SWITCHBOARD_TEST_POSTGRES='postgres://switchboard@127.0.0.1:$port/switchboard'"
    echo "export SWITCHBOARD_PG_DIR='$dir'"
    ;;
stop)
    dir="${2:?usage: scripts/postgres.sh stop DIR}"
    bin=$(bin_dir)
    owner=$(stat -c %U "$dir")
    as_owner "$bin/pg_ctl" --pgdata "$dir/data" --mode immediate --wait --silent stop > /dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
*)
    echo "usage: scripts/postgres.sh start | stop DIR" >&2
    exit 2
    ;;
esac
