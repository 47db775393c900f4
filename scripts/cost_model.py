"""Cost per million authenticated requests, from measured inputs.

Runs the release `authorizer` and `auth` binaries under a fake Lambda Runtime API, with their
DynamoDB endpoint a counting proxy in front of the emulator, and sends each warm instance the
same authenticated request (`GET /v1/auth/me`) many times: first through the authorizer, then
the function with the authorizer's context, as API Gateway does. Measured per request: the
DynamoDB calls and the request units they consume (counted at the proxy from each request and
response: a read is 1 unit per 4 KB strongly consistent, 0.5 eventually consistent, per item
for batches; a write 1 unit per KB; transactions twice that), and each function's CPU time
(from /proc over the warm invocations).

Billed duration per invocation = ceil(CPU time × 1769 / 256 + DynamoDB calls × latency) in ms:
Lambda gives a 256 MB function 256/1769 of a vCPU, so CPU work stretches by that factor, and
each DynamoDB call waits for one in-region round trip (--dynamodb-ms, a stated input: the
emulator here is a Python process, slower than DynamoDB). Prices are us-east-1 list prices
(PRICES below). Usage: scripts/cost-model [--requests N] [--dynamodb-ms MS]"""

import argparse
import http.client
import http.server
import json
import math
import os
import pathlib
import queue
import subprocess
import threading
import time
import uuid

ROOT = pathlib.Path(__file__).resolve().parent.parent

# us-east-1 list prices (first tiers), USD.
PRICES = {
    "http_api_per_million": 1.00,
    "lambda_request_per_million": 0.20,
    "lambda_gb_second": {"x86_64": 0.0000166667, "arm64": 0.0000133334},
    "read_request_unit_per_million": 0.125,
    "write_request_unit_per_million": 0.625,
}
MEMORY_GB = 256 / 1024
VCPU_SHARE = 256 / 1769  # Lambda: 1769 MB = 1 vCPU, CPU proportional to memory


class QuietServer(http.server.ThreadingHTTPServer):
    """Killing a measured process resets its keep-alive connections: not worth a traceback."""

    def handle_error(self, request, client_address):
        pass


# --- DynamoDB request units, counted at a proxy -------------------------------------------

def value_size(value):
    (kind, inner), = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return len(inner.lstrip("-").replace(".", "")) // 2 + 1
    if kind == "B":
        return len(inner) * 3 // 4
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(value_size({kind[0]: v}) for v in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in inner.items())
    return 0


def item_size(item):
    return sum(len(name.encode()) + value_size(value) for name, value in (item or {}).items())


def read_units(size, consistent):
    return max(1, math.ceil(size / 4096)) * (1.0 if consistent else 0.5)


def write_units(size):
    return max(1, math.ceil(size / 1024))


def consumed(operation, request, response):
    """(read units, write units) one DynamoDB call consumes."""
    if operation == "GetItem":
        return read_units(item_size(response.get("Item")), request.get("ConsistentRead", False)), 0
    if operation == "BatchGetItem":
        reads = 0.0
        for table, asked in request.get("RequestItems", {}).items():
            found = response.get("Responses", {}).get(table, [])
            sizes = [item_size(item) for item in found] + [0] * (len(asked["Keys"]) - len(found))
            reads += sum(read_units(size, asked.get("ConsistentRead", False)) for size in sizes)
        return reads, 0
    if operation == "Query":
        size = sum(item_size(item) for item in response.get("Items", []))
        return read_units(size, request.get("ConsistentRead", False)), 0
    if operation == "TransactGetItems":
        return sum(2 * read_units(item_size(r.get("Item")), True) for r in response.get("Responses", [])), 0
    if operation == "PutItem":
        return 0, write_units(item_size(request.get("Item")))
    if operation in ("UpdateItem", "DeleteItem"):
        return 0, 1  # keygate's items are under 1 KB
    if operation == "TransactWriteItems":
        return 0, sum(2 * write_units(item_size(next(iter(i.values())).get("Item"))) for i in request["TransactItems"])
    if operation == "BatchWriteItem":
        writes = 0
        for requests in request.get("RequestItems", {}).values():
            for r in requests:
                writes += write_units(item_size(r.get("PutRequest", {}).get("Item")))
        return 0, writes
    return 0, 0


class Meter:
    def __init__(self):
        self.lock = threading.Lock()
        self.calls, self.reads, self.writes, self.operations = 0, 0.0, 0, []

    def add(self, operation, reads, writes):
        with self.lock:
            self.calls += 1
            self.reads += reads
            self.writes += writes
            self.operations.append(operation)

    def snapshot(self):
        with self.lock:
            return self.calls, self.reads, self.writes, len(self.operations)


def counting_proxy(upstream, meter):
    host, port = upstream.removeprefix("http://").split(":")

    class Proxy(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            emulator = http.client.HTTPConnection(host, int(port))
            emulator.request("POST", self.path, body, headers)
            reply = emulator.getresponse()
            answer = reply.read()
            operation = self.headers.get("x-amz-target", "").rsplit(".", 1)[-1]
            if reply.status == 200:
                meter.add(operation, *consumed(operation, json.loads(body or b"{}"), json.loads(answer or b"{}")))
            self.send_response(reply.status)
            for name, value in reply.getheaders():
                if name.lower() not in ("content-length", "connection", "server", "date"):
                    self.send_header(name, value)
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = QuietServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


# --- A fake Lambda Runtime API that hands out events one at a time ------------------------

class Runtime:
    def __init__(self):
        self.events = queue.Queue()
        self.answers = queue.Queue()
        self.polls = []
        runtime = self

        class Api(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self):
                runtime.polls.append(time.perf_counter())
                event = runtime.events.get()
                body = json.dumps(event).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", str(uuid.uuid4()))
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 10_000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                runtime.sent = time.perf_counter()

            def do_POST(self):
                answer = self.rfile.read(int(self.headers.get("content-length", 0)))
                elapsed = time.perf_counter() - runtime.sent
                self.send_response(202)
                self.send_header("content-length", "0")
                self.end_headers()
                runtime.answers.put((self.path, elapsed, answer))

            def log_message(self, *args):
                pass

        self.server = QuietServer(("127.0.0.1", 0), Api)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def invoke(self, event):
        self.events.put(event)
        return self.answer()

    def answer(self):
        """The next invocation's duration (event handed out → answer) and answer."""
        path, elapsed, answer = self.answers.get(timeout=30)
        if not path.endswith("/response"):
            raise SystemExit(f"invocation failed: {path} {answer[:300]!r}")
        return elapsed, json.loads(answer)


def cpu_seconds(pid):
    """CPU time of every thread of `pid` so far, in nanosecond resolution (schedstat)."""
    total = 0
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


class Function:
    """A release binary running under its own fake Runtime API."""

    def __init__(self, name, endpoint, extra_env, queued=()):
        self.runtime = Runtime()
        for event in queued:  # waiting before the process starts, as on a Lambda cold start
            self.runtime.events.put(event)
        env = dict(
            os.environ,
            AWS_LAMBDA_RUNTIME_API=self.runtime.address,
            AWS_LAMBDA_FUNCTION_NAME=name,
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
            AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
            AWS_LAMBDA_LOG_STREAM_NAME="bench",
            AWS_LAMBDA_LOG_GROUP_NAME="bench",
            AWS_REGION="us-east-1",
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
            KEYGATE_DYNAMODB_ENDPOINT=endpoint,
            **extra_env,
        )
        self.process = subprocess.Popen([str(ROOT / "target/release" / name)], env=env, stderr=subprocess.DEVNULL)

    def stop(self):
        self.process.kill()
        self.process.wait()
        self.runtime.server.shutdown()


def http_event(path_file, credential=None, context=None, body=None):
    event = json.loads((ROOT / "events" / path_file).read_text())
    event["headers"].pop("x-api-key", None)
    if credential:
        event["headers"]["x-api-key"] = credential
    if context is not None:
        event["requestContext"]["authorizer"] = {"lambda": context}
    if body is not None:
        event["body"] = json.dumps(body)
    return event


def authorizer_event(credential):
    event = json.loads((ROOT / "events/authorizer/request.json").read_text())
    event["headers"]["x-api-key"] = credential
    return event


def measure(meter, function, events, warmup=1):
    """Per warm invocation: wall seconds (median), CPU seconds, DynamoDB calls, units; and the
    last answer. The first `warmup` invocations are left out (they pay connection set-up)."""
    answer = None
    for event in events[:warmup]:
        _, answer = function.runtime.invoke(event)
    calls0, reads0, writes0, _ = meter.snapshot()
    cpu0 = cpu_seconds(function.process.pid)
    walls = []
    for event in events[warmup:]:
        wall, answer = function.runtime.invoke(event)
        walls.append(wall)
    count = len(walls)
    calls, reads, writes, _ = meter.snapshot()
    walls.sort()
    return {
        "wall_ms": walls[count // 2] * 1000,
        "cpu_ms": (cpu_seconds(function.process.pid) - cpu0) / count * 1000,
        "calls": (calls - calls0) / count,
        "reads": (reads - reads0) / count,
        "writes": (writes - writes0) / count,
        "answer": answer,
    }


def billed_ms(step, dynamodb_ms):
    return max(1, math.ceil(step["cpu_ms"] / VCPU_SHARE + step["calls"] * dynamodb_ms))


def cost_per_million(authorizer, function, architecture, dynamodb_ms):
    duration = (billed_ms(authorizer, dynamodb_ms) + billed_ms(function, dynamodb_ms)) / 1000
    return (
        PRICES["http_api_per_million"]
        + 2 * PRICES["lambda_request_per_million"]
        + duration * MEMORY_GB * PRICES["lambda_gb_second"][architecture] * 1e6
        + (authorizer["reads"] + function["reads"]) * PRICES["read_request_unit_per_million"]
        + (authorizer["writes"] + function["writes"]) * PRICES["write_request_unit_per_million"]
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--dynamodb-ms", type=float, default=4.0)
    parser.add_argument("--bootstrap", required=True, help="keygate-admin bootstrap output (JSON)")
    parser.add_argument("--table", required=True)
    args = parser.parse_args()
    emulator = os.environ["KEYGATE_DYNAMODB_ENDPOINT"]
    made = json.loads(args.bootstrap)
    meter = Meter()
    proxy, endpoint = counting_proxy(emulator, meter)
    base_env = {"KEYGATE_TABLE": args.table}

    # An access token for the token rows, exchanged through the auth function itself.
    auth = Function("auth", endpoint, base_env)
    _, exchanged = auth.runtime.invoke(http_event(
        "auth/exchange-token.json", body={"email": made["email"], "api_key": made["api_key"]}))
    token = json.loads(exchanged["body"])["access_token"]
    auth.stop()

    rows = []
    for mode, cache_secs in (("default (cache off)", "0"), ("opt-in cache, hit", "5")):
        env = dict(base_env, KEYGATE_AUTH_CACHE_SECS=cache_secs)
        for label, credential in (("API key", made["api_key"]), ("access token", token)):
            authorizer = Function("authorizer", endpoint, env)
            before = meter.snapshot()[3]
            verified = measure(meter, authorizer, [authorizer_event(credential)] * args.requests)
            operations = sorted(set(meter.operations[before:]))
            authorizer.stop()
            context = verified["answer"]["context"]
            if not verified["answer"].get("isAuthorized") or "keygate_denied" in context:
                raise SystemExit(f"the authorizer refused the {label}: {verified['answer']}")
            function = Function("auth", endpoint, env)
            served = measure(meter, function, [http_event("auth/me.json", context=context)] * args.requests)
            function.stop()
            if served["answer"].get("statusCode") != 200:
                raise SystemExit(f"GET /v1/auth/me answered {served['answer']}")
            rows.append((mode, label, verified, served, operations))
    proxy.shutdown()

    print(f"Cost per million authenticated requests (GET /v1/auth/me through the authorizer), "
          f"{args.requests - 1} warm requests each; 256 MB; DynamoDB round trip {args.dynamodb_ms:g} ms")
    print("| mode | credential | DynamoDB calls per warm request (operation) | RRU | WRU | CPU ms authorizer / function | "
          "billed ms authorizer + function | x86_64 $/M | arm64 $/M |")
    print("|---|---|---|---|---|---|---|---|---|")
    for mode, label, verified, served, operations in rows:
        reads = verified["reads"] + served["reads"]
        writes = verified["writes"] + served["writes"]
        calls = f"{verified['calls']:.2f} calls ({', '.join(operations) or 'none'})"
        print(f"| {mode} | {label} | {calls} | {reads:.3f} | {writes:.3f} | "
              f"{verified['cpu_ms']:.3f} / {served['cpu_ms']:.3f} | "
              f"{billed_ms(verified, args.dynamodb_ms)} + {billed_ms(served, args.dynamodb_ms)} | "
              f"{cost_per_million(verified, served, 'x86_64', args.dynamodb_ms):.4f} | "
              f"{cost_per_million(verified, served, 'arm64', args.dynamodb_ms):.4f} |")
    print("| metered request | – | n/a until metering | | | | | | |")
    fees = PRICES["http_api_per_million"] + 2 * PRICES["lambda_request_per_million"]
    print(f"Fees alone: ${fees:.2f}/M (HTTP API ${PRICES['http_api_per_million']:.2f}/M + 2 Lambda requests "
          f"× ${PRICES['lambda_request_per_million']:.2f}/M). Duration: x86_64 "
          f"${PRICES['lambda_gb_second']['x86_64']}/GB-s, arm64 ${PRICES['lambda_gb_second']['arm64']}/GB-s "
          f"(${MEMORY_GB * PRICES['lambda_gb_second']['arm64'] * 1e3:.5f}/M per billed ms at 256 MB on arm64). "
          f"DynamoDB on-demand: ${PRICES['read_request_unit_per_million']}/M read units, "
          f"${PRICES['write_request_unit_per_million']}/M write units. us-east-1 list prices.")


if __name__ == "__main__":
    main()
