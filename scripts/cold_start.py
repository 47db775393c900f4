"""Measures Lambda init of release binaries against a fake Runtime API.

Init = from spawning the process to its first `GET /runtime/invocation/next`, which the Lambda
runtime sends once main() has built its state. Reported as wall-time medians, and as ratios to
the first binary (the hello-world baseline), since this machine is shared and noisy; and, when
valgrind is installed, as instructions executed up to that poll (callgrind), which repeat
exactly whatever else the machine is doing."""

import http.server
import os
import pathlib
import statistics
import subprocess
import sys
import threading
import time
import zipfile
import io
import shutil
import signal
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
first_poll = threading.Event()


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.endswith("/invocation/next"):
            first_poll.set()
            time.sleep(0.5)  # hold the poll; the process is killed meanwhile
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


def runtime_env(port):
    return dict(
        os.environ,
        AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{port}",
        AWS_LAMBDA_FUNCTION_NAME="bench",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_LAMBDA_LOG_STREAM_NAME="bench",
        AWS_LAMBDA_LOG_GROUP_NAME="bench",
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        KEYGATE_TABLE="bench",
    )


def measure(binary, port, runs):
    env = runtime_env(port)
    times = []
    for _ in range(runs):
        first_poll.clear()
        start = time.perf_counter()
        process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not first_poll.wait(10):
            process.kill()
            raise SystemExit(f"{binary} never polled for an event")
        times.append(time.perf_counter() - start)
        process.kill()
        process.wait()
    return statistics.median(times)


def instructions(binary, env):
    """Instructions executed from exec to the first poll, counted by callgrind."""
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "callgrind.out")
        first_poll.clear()
        process = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        if not first_poll.wait(120):
            process.kill()
            raise SystemExit(f"{binary} never polled for an event under callgrind")
        process.send_signal(signal.SIGTERM)  # callgrind writes its counts as the process ends
        process.wait()
        with open(out) as counts:
            for line in counts:
                if line.startswith("totals:") or line.startswith("summary:"):
                    return int(line.split()[1])
    raise SystemExit(f"no callgrind totals for {binary}")


def zipped_size(binary):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(binary, "bootstrap")
    return len(buffer.getvalue())


def main():
    runs = int(sys.argv[1])
    names = sys.argv[2:]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    results = []
    # Interleave rounds so machine noise hits every binary alike.
    medians = {name: [] for name in names}
    for _ in range(5):
        for name in names:
            medians[name].append(measure(str(ROOT / "target/release" / name), port, max(1, runs // 5)))
    counted = {}
    if shutil.which("valgrind"):
        for name in names:
            counted[name] = instructions(str(ROOT / "target/release" / name), runtime_env(port))
    baseline = statistics.median(medians[names[0]])
    print(f"{'binary':<16}{'init median':>14}{'ratio':>8}{'instructions':>14}{'ratio':>8}{'binary MB':>11}{'zip MB':>9}")
    for name in names:
        binary = ROOT / "target/release" / name
        median = statistics.median(medians[name])
        count = counted.get(name)
        count_text = f"{count / 1e6:>12.2f} M{count / counted[names[0]]:>8.3f}" if count else f"{'-':>14}{'-':>8}"
        print(f"{name:<16}{median * 1000:>11.2f} ms{median / baseline:>8.2f}{count_text}{binary.stat().st_size / 1e6:>11.2f}{zipped_size(binary) / 1e6:>9.2f}")
    server.shutdown()


if __name__ == "__main__":
    main()
