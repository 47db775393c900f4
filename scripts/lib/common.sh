# shellcheck shell=bash
# Helpers sourced by the scripts in scripts/ (`source scripts/lib/common.sh` from the
# repository root). Defines functions only; nothing runs on sourcing but setting `root` (the
# repository) and `venv` (its .venv, where the emulator lives).
#
#   free_port [HOST]            a free TCP port on HOST (default 127.0.0.1)
#   json_field FIELD            the FIELD of the JSON object on stdin
#   start_emulator              installs moto[server] into .venv when missing, starts it on a
#                               free port of $KEYGATE_EMULATOR_HOST (default loopback; sam-local
#                               passes the Docker bridge's address so containers reach it),
#                               exports KEYGATE_DYNAMODB_ENDPOINT and AWS_REGION, and sets an
#                               EXIT/INT/TERM trap that stops it (stop_emulator; a script with
#                               its own trap calls stop_emulator from it)
#   ensure_venv_tool VENV EXECUTABLE PIP_SPEC...   (below)
#   bootstrap_tenant [--quiet] TENANT EMAIL
#                               `keygate-admin create-table` ($KEYGATE_TABLE; --quiet drops its
#                               "created table" line) then `bootstrap`; prints bootstrap's JSON
#                               (api_key, email, tenant_id, user_id). Needs target/debug/keygate-admin.

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/.venv"

free_port() {
    python3 -c 'import socket, sys; s = socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' \
        "${1:-127.0.0.1}"
}

json_field() {
    python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

emulator_pid=""
emulator_log=""

stop_emulator() {
    if [ -n "$emulator_pid" ]; then
        kill "$emulator_pid" 2>/dev/null || true
        wait "$emulator_pid" 2>/dev/null || true
    fi
    if [ -n "$emulator_log" ]; then rm -f "$emulator_log"; fi
}

start_emulator() {
    local host="${KEYGATE_EMULATOR_HOST:-127.0.0.1}" port
    ensure_venv_tool .venv moto_server 'moto[server]>=5,<6'
    port="$(free_port "$host")"
    emulator_log="$(mktemp -t keygate-moto.XXXXXX.log)"
    "$venv/bin/python" "$root/scripts/lib/emulator_server.py" -H "$host" -p "$port" >"$emulator_log" 2>&1 &
    emulator_pid=$!
    trap stop_emulator EXIT INT TERM

    for _ in $(seq 1 100); do
        if "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://$host:$port/moto-api/')" 2>/dev/null; then
            break
        fi
        if ! kill -0 "$emulator_pid" 2>/dev/null; then
            echo "the DynamoDB emulator failed to start:" >&2
            cat "$emulator_log" >&2
            exit 1
        fi
        sleep 0.2
    done

    export KEYGATE_DYNAMODB_ENDPOINT="http://$host:$port"
    export AWS_REGION="${AWS_REGION:-us-east-1}"
    echo "DynamoDB emulator on $KEYGATE_DYNAMODB_ENDPOINT" >&2
}

bootstrap_tenant() {
    local quiet=""
    if [ "$1" = --quiet ]; then quiet=1; shift; fi
    if [ -n "$quiet" ]; then
        "$root/target/debug/keygate-admin" create-table 2>/dev/null || return
    else
        "$root/target/debug/keygate-admin" create-table || return
    fi
    "$root/target/debug/keygate-admin" bootstrap --tenant "$1" --email "$2"
}

# ensure_venv_tool VENV EXECUTABLE PIP_SPEC...: installs PIP_SPEC... into the virtualenv VENV
# (relative to the repository) unless VENV/bin/EXECUTABLE is already there.
ensure_venv_tool() {
    local venv_dir="$root/$1" executable="$2"
    shift 2
    if [ ! -x "$venv_dir/bin/$executable" ]; then
        echo "installing $* into ${venv_dir#"$root"/} ..." >&2
        python3 -m venv "$venv_dir"
        "$venv_dir/bin/pip" install --quiet --disable-pip-version-check "$@"
    fi
}
