# Sourced by scripts/test, scripts/run-local and scripts/sam-local: installs moto[server] into
# .venv when missing, starts it (scripts/emulator_server.py) on a free port of
# KEYGATE_EMULATOR_HOST (default loopback; sam-local passes the Docker bridge's address so
# containers reach it), and stops it when the calling script exits (stop_emulator).
# Exports KEYGATE_DYNAMODB_ENDPOINT.

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"

if [ ! -x "$venv/bin/moto_server" ]; then
    echo "installing the DynamoDB emulator (moto[server]) into .venv ..." >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]>=5,<6'
fi

emulator_host="${KEYGATE_EMULATOR_HOST:-127.0.0.1}"
emulator_port="$("$venv/bin/python" -c 'import socket, sys; s = socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$emulator_host")"
emulator_log="$(mktemp -t keygate-moto.XXXXXX.log)"
"$venv/bin/python" "$root/scripts/emulator_server.py" -H "$emulator_host" -p "$emulator_port" >"$emulator_log" 2>&1 &
emulator_pid=$!

stop_emulator() {
    kill "$emulator_pid" 2>/dev/null || true
    wait "$emulator_pid" 2>/dev/null || true
    rm -f "$emulator_log"
}
trap stop_emulator EXIT INT TERM

for _ in $(seq 1 100); do
    if "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://$emulator_host:$emulator_port/moto-api/')" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$emulator_pid" 2>/dev/null; then
        echo "the DynamoDB emulator failed to start:" >&2
        cat "$emulator_log" >&2
        exit 1
    fi
    sleep 0.2
done

export KEYGATE_DYNAMODB_ENDPOINT="http://$emulator_host:$emulator_port"
export AWS_REGION="${AWS_REGION:-us-east-1}"
echo "DynamoDB emulator on $KEYGATE_DYNAMODB_ENDPOINT" >&2
