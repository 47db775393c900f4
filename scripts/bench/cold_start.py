"""Measures Lambda init of release binaries against a fake Runtime API (scripts/lib/keygate_scripts.py).

Init = from spawning the process to its first `GET /runtime/invocation/next`, which the Lambda
runtime sends once main() has built its state. Rows: `hello-pure` (the floor: a lambda_http
hello world without the AWS SDK), `hello-sdk` (the floor plus keygate's DynamoDB client, built
as every function builds it), `hello-baseline` (the naive yardstick: the SDK's default trust
store, which scans the machine's certificates), then every keygate function. Runs are
interleaved one by one (floor, b, c, ..., floor, b, c, ...), so machine noise hits every binary
alike, and reported as wall-time medians; when valgrind is installed, also as the instructions
executed up to that poll (callgrind), which repeat exactly whatever else the machine is doing.
Also prints each binary's zipped package size. Targets checked for every keygate function:
median wall time ≤ 1.5× the floor, instructions ≤ 1.5× `hello-sdk` (the SDK's own client
constructor is already 1.5× the floor in instructions: README, "Cold start"), package ≤ 3 MB
zipped."""

import io
import os
import pathlib
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "lib"))
from keygate_scripts import ROOT, Runtime, runtime_env

MAX_RATIO = 1.5
MAX_ZIP_BYTES = 3_000_000
# Bench binaries: the floor, the floor with keygate's SDK client, the naive SDK yardstick;
# every other name is a keygate function.
FLOOR, SDK_FLOOR = "hello-pure", "hello-sdk"
BENCHES = (FLOOR, SDK_FLOOR, "hello-baseline")


def init_time(runtime, binary, env):
    """Seconds from spawn to the first poll, one run."""
    runtime.polled.clear()
    start = time.perf_counter()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not runtime.polled.wait(10):
        process.kill()
        raise SystemExit(f"{binary} never polled for an event")
    elapsed = time.perf_counter() - start
    process.kill()
    process.wait()
    return elapsed


def instructions(runtime, binary, env):
    """Instructions executed from exec to the first poll, counted by callgrind."""
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "callgrind.out")
        runtime.polled.clear()
        process = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        if not runtime.polled.wait(120):
            process.kill()
            raise SystemExit(f"{binary} never polled for an event under callgrind")
        process.send_signal(signal.SIGTERM)  # callgrind writes its counts as the process ends
        process.wait()
        with open(out) as counts:
            for line in counts:
                if line.startswith(("totals:", "summary:")):
                    return int(line.split()[1])
    raise SystemExit(f"no callgrind totals for {binary}")


def zipped_size(binary):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(binary, "bootstrap")
    return len(buffer.getvalue())


# With KEYGATE_BENCH_PEPPER="<SSM endpoint> <parameter>" (scripts/bench-cold-start sets it
# on the emulator), one more row: the authorizer reading the pepper's versions at init. It is
# measured, not held to the targets: the call is the network round trip a pepper costs, here
# on loopback (README, "The pepper").
PEPPERED = "authorizer+pepper"


def main():
    runs = int(sys.argv[1])
    names = sys.argv[2:]
    # No event is ever queued: each poll is held (the process is killed meanwhile), then 404.
    runtime = Runtime(hold=0.5)
    env = runtime_env(runtime.port)
    envs = {name: env for name in names}
    binaries = {name: str(ROOT / "target/release" / name) for name in names}
    if os.environ.get("KEYGATE_BENCH_PEPPER") and "authorizer" in names:
        endpoint, parameter = os.environ["KEYGATE_BENCH_PEPPER"].split()
        names.append(PEPPERED)
        binaries[PEPPERED] = binaries["authorizer"]
        envs[PEPPERED] = runtime_env(
            runtime.port, KEYGATE_SSM_ENDPOINT=endpoint, KEYGATE_PEPPER_PARAMETER=parameter)
    times = {name: [] for name in names}
    for _ in range(runs):
        for name in names:
            times[name].append(init_time(runtime, binaries[name], envs[name]))
    counted = {}
    if shutil.which("valgrind"):
        for name in names:
            counted[name] = instructions(runtime, binaries[name], envs[name])
    runtime.shutdown()

    floor_median = statistics.median(times[FLOOR])
    print(f"{runs} interleaved runs each; ratios are to {FLOOR} (the floor) and, for instructions, "
          f"also to {SDK_FLOOR} (the floor with keygate's DynamoDB client)")
    print(f"{'binary':<18}{'init median':>14}{'ratio':>7}{'instructions':>15}{'ratio':>7}"
          f"{'÷ sdk':>7}{'binary MB':>11}{'zip MB':>8}")
    failures = []
    for name in names:
        median = statistics.median(times[name])
        wall_ratio = median / floor_median
        count = counted.get(name)
        if count:
            count_ratio = count / counted[FLOOR]
            sdk_ratio = count / counted[SDK_FLOOR]
            count_text = f"{count / 1e6:>13.2f} M{count_ratio:>7.2f}{sdk_ratio:>7.2f}"
        else:
            sdk_ratio = None
            count_text = f"{'-':>15}{'-':>7}{'-':>7}"
        zipped = zipped_size(binaries[name])
        size = pathlib.Path(binaries[name]).stat().st_size
        print(f"{name:<18}{median * 1000:>11.2f} ms{wall_ratio:>7.2f}{count_text}{size / 1e6:>11.2f}{zipped / 1e6:>8.2f}")
        if name in BENCHES or name == PEPPERED:
            continue
        if wall_ratio > MAX_RATIO:
            failures.append(f"{name}: init wall time {wall_ratio:.2f}× the floor")
        if sdk_ratio is not None and sdk_ratio > MAX_RATIO:
            failures.append(f"{name}: init instructions {sdk_ratio:.2f}× {SDK_FLOOR}")
        if zipped > MAX_ZIP_BYTES:
            failures.append(f"{name}: package {zipped / 1e6:.2f} MB zipped")
    if failures:
        print("over target (wall ≤ 1.5× the floor, instructions ≤ 1.5× hello-sdk, ≤ 3 MB zipped):\n  "
              + "\n  ".join(failures))
        sys.exit(1)
    print("every function: median wall ≤ 1.5× the floor, instructions ≤ 1.5× hello-sdk, ≤ 3 MB zipped")


if __name__ == "__main__":
    main()
