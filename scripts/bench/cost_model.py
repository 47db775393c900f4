"""Cost per million authenticated requests, from measured inputs.

Runs the release `authorizer` and `auth` binaries under a fake Lambda Runtime API, with their
DynamoDB endpoint a counting proxy in front of the emulator, and sends each warm instance the
same authenticated request (`GET /v1/auth/me`) many times: first through the authorizer, then
the function with the authorizer's context, as API Gateway does. Credentials: the bootstrap
API key, a key that key created (one ancestor in its lineage), an access token exchanged for
the bootstrap key, a metered key (a rate limit and credits, made from a session so it has
no ancestor), and a metered key that metered key made (each request charged to both budgets in
one transaction). `GET /v1/auth/me` costs 0 in the shipped policy (not metered), so the metered key
calls a platform's product route instead: `POST /v1/single-turn/q2a` (cost 1, shipped policy),
served by the release `platform-function` (examples/), which reads only the context.

Measured per request: the DynamoDB calls and the request units they consume (counted at the
proxy from each request and response: a read is 1 unit per 4 KB strongly consistent, 0.5
eventually consistent, per item in a batch; a write 1 unit per KB of the larger of the item
before and after, read from the emulator around the write, also when its condition fails;
twice that in a transaction, a cancelled one counted as if it wrote), each function's CPU time
(from /proc around each warm invocation), and what each writes to its log (JSON lines at INFO,
as template.yaml's LoggingConfig sets; one CloudWatch Logs event per line).

Billed duration per invocation, measured: each function runs in a cgroup holding it to a
256 MB function's CPU, 256/1769 of a vCPU as a CFS quota per period (LambdaCpuShare; the period,
which Lambda does not publish, is --cpu-period-ms), and its invocation's duration (event handed
out → answer) has the time the emulator held its DynamoDB calls replaced by one in-region round
trip per call (--dynamodb-ms, a stated input: the emulator here is a Python process, slower
than DynamoDB), rounded up to the ms. Also printed, as a bound: ceil(CPU time × 1769 / 256 +
DynamoDB calls × round trip), as if every instruction ran at the share and none in a burst;
without a cgroup (not root, no cpu controller) the dollars use that bound. Prices are us-east-1
list prices (PRICES below). Each row is measured in --rounds rounds (fresh instances each, the
rows interleaved, so a change of the machine's load reaches every row) and reported as medians:
of each invocation's CPU time and billed ms within a round, then over rounds.
Usage: scripts/cost-model [--requests N] [--rounds R] [--dynamodb-ms MS] [--cpu-period-ms MS]"""

import argparse
import json
import math
import os
import pathlib
import statistics
import sys
import threading
import time
import uuid

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "lib"))
from keygate_scripts import (
    Function,
    authorizer_event,
    emulator_call,
    forwarding_handler,
    http_event,
    serve,
)

# us-east-1 list prices (first tiers), USD.
PRICES = {
    "http_api_per_million": 1.00,
    "lambda_request_per_million": 0.20,
    "lambda_gb_second": {"x86_64": 0.0000166667, "arm64": 0.0000133334},
    "read_request_unit_per_million": 0.125,
    "write_request_unit_per_million": 0.625,
    "log_ingestion_per_gb": 0.50,  # CloudWatch Logs, standard class
}
LOG_EVENT_OVERHEAD = 26  # bytes CloudWatch Logs adds to each event's size
MEMORY_GB = 256 / 1024
VCPU_SHARE = 256 / 1769  # Lambda: 1769 MB = 1 vCPU, CPU proportional to memory


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


def consumed_reads(operation, request, response):
    """Read units one successful DynamoDB read consumes (an absent item costs the minimum)."""
    if operation == "GetItem":
        return read_units(item_size(response.get("Item")), request.get("ConsistentRead", False))
    if operation == "BatchGetItem":
        reads = 0.0
        for table, asked in request.get("RequestItems", {}).items():
            found = response.get("Responses", {}).get(table, [])
            sizes = [item_size(item) for item in found] + [0] * (len(asked["Keys"]) - len(found))
            reads += sum(read_units(size, asked.get("ConsistentRead", False)) for size in sizes)
        return reads
    if operation == "Query":
        size = sum(item_size(item) for item in response.get("Items", []))
        return read_units(size, request.get("ConsistentRead", False))
    if operation == "TransactGetItems":
        return sum(2 * read_units(item_size(r.get("Item")), True) for r in response.get("Responses", []))
    return 0.0


SINGLE_WRITES = ("PutItem", "UpdateItem", "DeleteItem")


def written_items(operation, request):
    """(table, key) of every item a write request touches (a write is billed by the larger
    of the item before and after it)."""
    def key_of(action):  # keygate's table keys items by PK and SK
        if "Key" in action:
            return action["Key"]
        return {name: action["Item"][name] for name in ("PK", "SK")}

    if operation in SINGLE_WRITES:
        return [(request["TableName"], key_of(request))]
    if operation == "TransactWriteItems":
        return [(a["TableName"], key_of(a)) for a in (next(iter(i.values())) for i in request["TransactItems"])]
    if operation == "BatchWriteItem":
        return [(table, key_of(next(iter(r.values()))))
                for table, requests in request.get("RequestItems", {}).items() for r in requests]
    return []


def stored_size(upstream, table, key):
    """The size of an item as stored now, read from the emulator directly (not counted)."""
    headers = {"content-type": "application/x-amz-json-1.0", "x-amz-target": "DynamoDB_20120810.GetItem",
               "authorization": "AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/dynamodb/aws4_request, "
                                "SignedHeaders=host, Signature=0"}
    body = json.dumps({"TableName": table, "Key": key, "ConsistentRead": True}).encode()
    status, _, answer = emulator_call(upstream, "/", headers, body)
    return item_size(json.loads(answer).get("Item")) if status == 200 else 0


# A failed condition still consumes the write (DynamoDB bills the attempt); a cancelled
# transaction is counted as if it wrote (an upper bound).
BILLED_FAILURES = ("ConditionalCheckFailedException", "TransactionCanceledException")


class Meter:
    def __init__(self):
        self.lock = threading.Lock()
        self.calls, self.reads, self.writes, self.operations = 0, 0.0, 0, []
        self.held = 0.0  # seconds the proxy held calls: the emulator's time, not DynamoDB's

    def add(self, operation, reads, writes, held):
        with self.lock:
            self.calls += 1
            self.held += held
            self.reads += reads
            self.writes += writes
            self.operations.append(operation)

    def snapshot(self):
        with self.lock:
            return self.calls, self.reads, self.writes, len(self.operations)

    def calls_and_held(self):
        with self.lock:
            return self.calls, self.held


def counting_proxy(upstream, meter):
    def watch(operation, body, send):
        started = time.perf_counter()
        request = json.loads(body or b"{}")
        items = written_items(operation, request)
        before = [stored_size(upstream, table, key) for table, key in items]
        status, headers, answer = send()
        response = json.loads(answer or b"{}")
        failure = response.get("__type", "").rsplit("#", 1)[-1]
        if status == 200 or failure in BILLED_FAILURES:
            after = [stored_size(upstream, table, key) for table, key in items]
            units = [write_units(max(b, a)) for b, a in zip(before, after, strict=True)]
            if operation == "TransactWriteItems":
                units = [2 * u for u in units]
            reads = consumed_reads(operation, request, response) if status == 200 else 0.0
            meter.add(operation if status == 200 else f"{operation} (failed)", reads, sum(units),
                      time.perf_counter() - started)
        return status, headers, answer

    server = serve(forwarding_handler(upstream, watch))
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class LambdaCpuShare:
    """The CPU Lambda gives a 256 MB function: 256/1769 of a vCPU, enforced by the kernel's
    CFS bandwidth control as a quota of CPU time per scheduling period (a function may run at
    full speed until its quota for the period is spent, then waits for the next period). A
    cgroup with that quota, when this machine lets us make one (root and cgroup v1 `cpu` or
    v2 `cpu.max`); every measured function runs in it. Lambda does not publish its period:
    `period_ms` is an input (--cpu-period-ms)."""

    def __init__(self, period_ms):
        period = round(period_ms * 1000)
        quota = round(period * VCPU_SHARE)
        name = f"keygate-cost-{os.getpid()}"
        self.directory, self.unavailable = None, None
        self.description = f"{quota / 1000:g} ms of CPU per {period / 1000:g} ms period"
        if quota < 1000:
            self.unavailable = f"the kernel's smallest quota is 1 ms: the period must be ≥ {1 / VCPU_SHARE:.1f} ms"
            return
        try:
            if pathlib.Path("/sys/fs/cgroup/cgroup.controllers").exists():
                directory = pathlib.Path("/sys/fs/cgroup") / name
                directory.mkdir()
                self.directory = directory
                (directory / "cpu.max").write_text(f"{quota} {period}")
            else:
                directory = pathlib.Path("/sys/fs/cgroup/cpu") / name
                directory.mkdir()
                self.directory = directory
                (directory / "cpu.cfs_period_us").write_text(str(period))
                (directory / "cpu.cfs_quota_us").write_text(str(quota))
        except OSError as error:
            self.close()
            self.directory, self.unavailable = None, str(error)

    def join(self):
        """Moves the calling process into the cgroup (a `preexec_fn`: before the binary runs)."""
        if self.directory:
            (self.directory / "cgroup.procs").write_text(str(os.getpid()))

    def throttling(self):
        """How often the quota bit: 'throttled in N of M periods', from the cgroup's cpu.stat."""
        stat = dict(line.split() for line in (self.directory / "cpu.stat").read_text().splitlines())
        return f"throttled in {stat.get('nr_throttled', '?')} of {stat.get('nr_periods', '?')} periods"

    def close(self):
        if self.directory:
            try:
                self.directory.rmdir()
            except OSError:
                pass


def cpu_seconds(pid):
    """CPU time of every thread of `pid` so far, in nanosecond resolution (schedstat)."""
    total = 0
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def measure(meter, function, events, dynamodb_ms, warmup=1):
    """Per warm invocation: CPU milliseconds and billed ms (medians of each invocation's own;
    billed = its duration with the emulator's time replaced by `dynamodb_ms` per call, rounded
    up), DynamoDB calls, units and the operations seen (means); and the last answer. The first
    `warmup` invocations are left out (they pay connection set-up and a new key's first
    `last_used_at` stamp)."""
    answer = None
    for event in events[:warmup]:
        _, answer = function.runtime.invoke(event)
    calls0, reads0, writes0, operations0 = meter.snapshot()
    lines0, bytes0 = function.output()
    cpus, billed = [], []
    for event in events[warmup:]:
        before = cpu_seconds(function.process.pid)
        calls_before, held_before = meter.calls_and_held()
        elapsed, answer = function.runtime.invoke(event)
        cpus.append(cpu_seconds(function.process.pid) - before)
        calls_after, held_after = meter.calls_and_held()
        own_ms = (elapsed - (held_after - held_before)) * 1000
        billed.append(max(1, math.ceil(own_ms + (calls_after - calls_before) * dynamodb_ms)))
    count = len(cpus)
    lines, logged = function.output()
    calls, reads, writes, operations = meter.snapshot()
    seen = meter.operations[operations0:operations]
    return {
        "cpu_ms": statistics.median(cpus) * 1000,
        "billed_ms": statistics.median(billed),
        "calls": (calls - calls0) / count,
        "reads": (reads - reads0) / count,
        "writes": (writes - writes0) / count,
        "operations": {name: seen.count(name) / count for name in sorted(set(seen))},
        "log_lines": (lines - lines0) / count,
        "log_bytes": (logged - bytes0) / count,
        "answer": answer,
    }


def median_of(rounds):
    """The median over rounds of every measured figure of one step."""
    return {
        "cpu_ms": statistics.median(r["cpu_ms"] for r in rounds),
        "billed_ms": statistics.median(r["billed_ms"] for r in rounds),
        "calls": statistics.median(r["calls"] for r in rounds),
        "reads": statistics.median(r["reads"] for r in rounds),
        "writes": statistics.median(r["writes"] for r in rounds),
        "log_lines": statistics.median(r["log_lines"] for r in rounds),
        "log_bytes": statistics.median(r["log_bytes"] for r in rounds),
        "operations": {name: statistics.median(r["operations"].get(name, 0) for r in rounds)
                       for name in sorted({n for r in rounds for n in r["operations"]})},
    }


def stretched_billed_ms(step, dynamodb_ms):
    """The bound: as if every CPU instruction ran at the 256 MB share, never in a burst."""
    return max(1, math.ceil(step["cpu_ms"] / VCPU_SHARE + step["calls"] * dynamodb_ms))


def billed_ms(step, dynamodb_ms, capped):
    """Measured under the CPU cap when there was one; else the stretched bound."""
    return math.ceil(step["billed_ms"]) if capped else stretched_billed_ms(step, dynamodb_ms)


def cost_per_million(authorizer, function, architecture, dynamodb_ms, capped):
    duration = (billed_ms(authorizer, dynamodb_ms, capped) + billed_ms(function, dynamodb_ms, capped)) / 1000
    return (
        PRICES["http_api_per_million"]
        + 2 * PRICES["lambda_request_per_million"]
        + duration * MEMORY_GB * PRICES["lambda_gb_second"][architecture] * 1e6
        + (authorizer["reads"] + function["reads"]) * PRICES["read_request_unit_per_million"]
        + (authorizer["writes"] + function["writes"]) * PRICES["write_request_unit_per_million"]
    )


def product_events(credential):
    """A platform's product call, `POST /v1/single-turn/q2a` (cost 1 in the shipped policy,
    served by examples/platform-function): the authorizer's event, and a function event
    maker taking the authorizer's context."""
    event = authorizer_event(credential)
    event["routeKey"] = event["requestContext"]["routeKey"] = "POST /v1/single-turn/q2a"
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/v1/single-turn/q2a"
    event["requestContext"]["http"]["method"] = "POST"
    event["routeArn"] = event["routeArn"].replace("GET/v1/auth/me", "POST/v1/single-turn/q2a")

    def served(context):
        product = http_event("platform-function/q2a.json", context=context)
        product["headers"].pop("authorization", None)
        return product

    return event, served


def call(function, path_file, credential=None, body=None, bearer=None, raw_path=None):
    """One request to a function without an authorizer (it verifies the credential itself);
    the parsed JSON body of its 2xx answer."""
    event = http_event(path_file, credential, body=body)
    if bearer:
        event["headers"]["authorization"] = f"Bearer {bearer}"
    if raw_path:
        event["rawPath"] = event["requestContext"]["http"]["path"] = raw_path
    _, answer = function.runtime.invoke(event)
    if not 200 <= answer.get("statusCode", 500) < 300:
        raise SystemExit(f"{path_file} answered {answer}")
    return json.loads(answer.get("body") or "null")


def under_user_budget(auth, made, budget, user_id=None):
    """A metered key (made by the tenant's bootstrap key, an unmetered ancestor) of a user
    with a user budget: a new user of the tenant, or `user_id`."""
    if user_id is None:
        user_id = call(auth, "auth/create-user.json", made["api_key"],
                       {"email": f"budgeted-{uuid.uuid4().hex[:8]}@example.com"})["id"]
    call(auth, "auth/put-user-budget.json", made["api_key"], budget, raw_path=f"/v1/users/{user_id}/budget")
    return call(auth, "auth/create-user-key.json", made["api_key"], {"name": "under a user budget", **budget},
                raw_path=f"/v1/users/{user_id}/api-keys")["key"]


def credentials(endpoint, env, made, budgeted):
    """(label, secret, expected lineage depth) of every credential measured, made through the
    auth function itself."""
    auth = Function("auth", endpoint, env)
    user_path = f"/v1/users/{made['user_id']}/api-keys"
    token = call(auth, "auth/exchange-token.json",
                 body={"email": made["email"], "api_key": made["api_key"]})["access_token"]
    # A key created by a key: the bootstrap key is its one ancestor.
    child = call(auth, "auth/create-user-key.json", made["api_key"], {"name": "child"}, raw_path=user_path)["key"]
    # A metered key made from a session (a session adds no ancestor).
    password = "cost model passphrase " + uuid.uuid4().hex
    call(auth, "auth/set-password.json", made["api_key"], {"new_password": password})
    session = call(auth, "auth/sign-in.json", body={"email": made["email"], "password": password})["session"]
    budget = {
        "ratelimits": [{"name": "requests", "limit": 1_000_000, "window_secs": 3600}],
        "credits": {"remaining": 1_000_000},
    }
    metered = call(auth, "auth/create-user-key.json", body={
        "name": "metered", "scopes": ["chat", "read", "write", "admin"], **budget,
    }, bearer=session, raw_path=user_path)["key"]
    # A metered key made by that metered key: every request is charged to both budgets
    # (one TransactWriteItems of two updates).
    metered_child = call(auth, "auth/create-user-key.json", metered,
                         {"name": "metered child", **budget}, raw_path=user_path)["key"]
    # The budgets above keys: a user's (one more update in the transaction), and a user's in
    # a tenant with a tenant budget (two more).
    with_user = under_user_budget(auth, made, budget)
    with_tenant = under_user_budget(auth, budgeted, budget, user_id=budgeted["user_id"])
    auth.stop()
    return [("API key", made["api_key"], 0), ("API key, 1 ancestor", child, 1),
            ("access token", token, 0), ("metered API key (q2a, cost 1)", metered, 0),
            ("metered API key under a metered key (q2a, cost 1)", metered_child, 1),
            ("metered API key + user budget (q2a, cost 1)", with_user, 1),
            ("metered API key + user + tenant budgets (q2a, cost 1)", with_tenant, 1)]


def measure_case(endpoint, meter, env, label, credential, depth, requests, dynamodb_ms, cpu_share):
    """One row's figures: fresh (warm after one request) instances of the authorizer, then
    of the function serving the route with the authorizer's context."""
    asked, served_event, served_by = authorizer_event(credential), me_event, "auth"
    if label.startswith("metered"):
        (asked, served_event), served_by = product_events(credential), "platform-function"
    authorizer = Function("authorizer", endpoint, env, count_output=True,
                          preexec_fn=cpu_share.join if cpu_share else None)
    verified = measure(meter, authorizer, [asked] * requests, dynamodb_ms)
    authorizer.stop()
    context = verified["answer"]["context"]
    if not verified["answer"].get("isAuthorized") or "keygate_denied" in context:
        raise SystemExit(f"the authorizer refused the {label}: {verified['answer']}")
    if len(context.get("key_lineage", "").split()) != depth:
        raise SystemExit(f"the {label} has lineage {context.get('key_lineage')!r}")
    if label.startswith("metered") and "keygate_ratelimit_policy" not in context:
        raise SystemExit(f"the {label} was not metered: {context}")
    function = Function(served_by, endpoint, env, count_output=True,
                        preexec_fn=cpu_share.join if cpu_share else None)
    served = measure(meter, function, [served_event(context)] * requests, dynamodb_ms)
    function.stop()
    if served["answer"].get("statusCode") != 200:
        raise SystemExit(f"{served_by} answered {served['answer']}")
    return verified, served


def me_event(context):
    return http_event("auth/me.json", context=context)


def logs_per_million(authorizer, function):
    """CloudWatch Logs ingestion of both functions' lines, $ per million requests."""
    size = sum(step["log_bytes"] + step["log_lines"] * LOG_EVENT_OVERHEAD for step in (authorizer, function))
    return size * 1e6 / 1e9 * PRICES["log_ingestion_per_gb"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dynamodb-ms", type=float, default=4.0)
    parser.add_argument("--cpu-period-ms", type=float, default=20.0,
                        help="the CFS period of the emulated 256 MB CPU share (0: no cap, the stretched bound only)")
    parser.add_argument("--bootstrap", required=True, help="keygate-admin bootstrap output (JSON)")
    parser.add_argument("--budgeted-tenant", required=True,
                        help="keygate-admin bootstrap output of a tenant with a tenant budget (JSON)")
    parser.add_argument("--table", required=True)
    args = parser.parse_args()
    emulator = os.environ["KEYGATE_DYNAMODB_ENDPOINT"]
    made = json.loads(args.bootstrap)
    meter = Meter()
    proxy, endpoint = counting_proxy(emulator, meter)
    # Logging as template.yaml's LoggingConfig sets it (JSON, INFO; the platform's START/END/
    # REPORT lines are off at SystemLogLevel WARN), so the metric lines are written too.
    base_env = {"KEYGATE_TABLE": args.table, "AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO"}
    measured = credentials(endpoint, base_env, made, json.loads(args.budgeted_tenant))
    cases = [(mode, dict(base_env, KEYGATE_AUTH_CACHE_SECS=cache_secs), label, credential, depth)
             for mode, cache_secs in (("default (cache off)", "0"), ("opt-in cache, hit", "5"))
             for label, credential, depth in measured
             if cache_secs == "0" or not depth]  # a hit reads nothing, whatever the lineage
    samples = {(mode, label): ([], []) for mode, _, label, _, _ in cases}
    cpu_share = LambdaCpuShare(args.cpu_period_ms) if args.cpu_period_ms > 0 else None
    capped = bool(cpu_share and cpu_share.directory)
    try:
        for _ in range(args.rounds):  # rounds interleave the rows: a change of load hits them all
            for mode, env, label, credential, depth in cases:
                verified, served = measure_case(endpoint, meter, env, label, credential, depth, args.requests,
                                                args.dynamodb_ms, cpu_share if capped else None)
                samples[(mode, label)][0].append(verified)
                samples[(mode, label)][1].append(served)
        throttling = cpu_share.throttling() if capped else ""
    finally:
        proxy.shutdown()
        if cpu_share:
            cpu_share.close()

    print(f"Cost per million authenticated requests (GET /v1/auth/me, served by auth, through the authorizer; "
          f"the metered rows: POST /v1/single-turn/q2a, served by platform-function); {args.rounds} rounds of "
          f"{args.requests - 1} warm requests per row, medians; 256 MB; DynamoDB round trip {args.dynamodb_ms:g} ms")
    if capped:
        print(f"Billed ms measured under a 256 MB CPU share ({cpu_share.description}; {throttling}): "
              f"each invocation's duration, "
              f"the emulator's time replaced by the round trip, rounded up; the dollars use it. 'Bound': CPU × 1769/256 "
              f"+ calls × round trip, as if no instruction ever ran in a burst.")
    else:
        why = cpu_share.unavailable if cpu_share else "--cpu-period-ms 0"
        print(f"No CPU cap ({why}): billed ms and dollars are the bound, CPU × 1769/256 + calls × round trip.")
    print("| mode | credential | DynamoDB calls per warm request | RRU | WRU | CPU ms authorizer / function | "
          "billed ms authorizer + function | bound | x86_64 $/M | arm64 $/M | arm64 $/M, bound | "
          "log lines (bytes) | arm64 + logs $/M |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (mode, label), rounds in samples.items():
        verified, served = (median_of(step) for step in rounds)
        reads = verified["reads"] + served["reads"]
        writes = verified["writes"] + served["writes"]
        operations = {}
        for step in (verified, served):
            for name, per_request in step["operations"].items():
                operations[name] = operations.get(name, 0) + per_request
        calls = " + ".join(f"{n:g} {name}" for name, n in operations.items()) or "0"
        print(f"| {mode} | {label} | {calls} | {reads:.3f} | {writes:.3f} | "
              f"{verified['cpu_ms']:.3f} / {served['cpu_ms']:.3f} | "
              f"{billed_ms(verified, args.dynamodb_ms, capped)} + {billed_ms(served, args.dynamodb_ms, capped)} | "
              f"{stretched_billed_ms(verified, args.dynamodb_ms)} + {stretched_billed_ms(served, args.dynamodb_ms)} | "
              f"{cost_per_million(verified, served, 'x86_64', args.dynamodb_ms, capped):.4f} | "
              f"{cost_per_million(verified, served, 'arm64', args.dynamodb_ms, capped):.4f} | "
              f"{cost_per_million(verified, served, 'arm64', args.dynamodb_ms, False):.4f} | "
              f"{verified['log_lines'] + served['log_lines']:g} ({verified['log_bytes'] + served['log_bytes']:.0f}) | "
              f"{cost_per_million(verified, served, 'arm64', args.dynamodb_ms, capped) + logs_per_million(verified, served):.4f} |")
    fees = PRICES["http_api_per_million"] + 2 * PRICES["lambda_request_per_million"]
    print(f"Fees alone: ${fees:.2f}/M (HTTP API ${PRICES['http_api_per_million']:.2f}/M + 2 Lambda requests "
          f"× ${PRICES['lambda_request_per_million']:.2f}/M). Duration: x86_64 "
          f"${PRICES['lambda_gb_second']['x86_64']}/GB-s, arm64 ${PRICES['lambda_gb_second']['arm64']}/GB-s "
          f"(${MEMORY_GB * PRICES['lambda_gb_second']['arm64'] * 1e3:.5f}/M per billed ms at 256 MB on arm64). "
          f"DynamoDB on-demand: ${PRICES['read_request_unit_per_million']}/M read units, "
          f"${PRICES['write_request_unit_per_million']}/M write units. CloudWatch Logs ingestion "
          f"${PRICES['log_ingestion_per_gb']:.2f}/GB (+{LOG_EVENT_OVERHEAD} B per line), in the last column only. "
          f"us-east-1 list prices.")
    print(f"Load average (1, 5, 15 min) after the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
