# Sourced by scripts/test and scripts/run-local: installs moto[server] into .venv when
# missing, starts it (scripts/emulator_server.py) on a free loopback port, and stops it when the calling script exits.
# Exports KEYGATE_DYNAMODB_ENDPOINT.

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"

if [ ! -x "$venv/bin/moto_server" ]; then
    echo "installing the DynamoDB emulator (moto[server]) into .venv ..." >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]>=5,<6'
fi

emulator_port="$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
emulator_log="$(mktemp -t keygate-moto.XXXXXX.log)"
"$venv/bin/python" "$root/scripts/emulator_server.py" -H 127.0.0.1 -p "$emulator_port" >"$emulator_log" 2>&1 &
emulator_pid=$!

stop_emulator() {
    kill "$emulator_pid" 2>/dev/null || true
    wait "$emulator_pid" 2>/dev/null || true
    rm -f "$emulator_log"
}
trap stop_emulator EXIT INT TERM

for _ in $(seq 1 100); do
    if "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$emulator_port/moto-api/')" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$emulator_pid" 2>/dev/null; then
        echo "the DynamoDB emulator failed to start:" >&2
        cat "$emulator_log" >&2
        exit 1
    fi
    sleep 0.2
done

export KEYGATE_DYNAMODB_ENDPOINT="http://127.0.0.1:$emulator_port"
export AWS_REGION="${AWS_REGION:-us-east-1}"
echo "DynamoDB emulator on $KEYGATE_DYNAMODB_ENDPOINT" >&2
