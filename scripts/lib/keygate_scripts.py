"""What the Python scripts in scripts/ share: one fake Lambda Runtime API, the environment
Lambda gives a function, a release binary run under that API, small loopback servers (a
keep-alive front of the DynamoDB emulator) and the sample events of events/.

A script in scripts/bench/ imports it after
`sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "lib"))`."""

import http.client
import http.server
import json
import os
import pathlib
import queue
import subprocess
import threading
import time
import uuid

ROOT = pathlib.Path(__file__).resolve().parents[2]


class QuietServer(http.server.ThreadingHTTPServer):
    """Killing a measured process resets its keep-alive connections: not worth a traceback."""

    def handle_error(self, request, client_address):
        pass


def serve(handler, wrap=None):
    """`handler` on a free loopback port, in a thread; `wrap` may wrap its socket (TLS)."""
    server = QuietServer(("127.0.0.1", 0), handler)
    if wrap:
        server.socket = wrap(server.socket)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --- A keep-alive front of the emulator ---------------------------------------------------

def emulator_call(upstream, path, headers, body):
    """One request to the emulator at `upstream` (it closes every connection): status,
    headers and body of its reply."""
    host, port = upstream.removeprefix("http://").split(":")
    emulator = http.client.HTTPConnection(host, int(port))
    try:
        emulator.request("POST", path, body, headers)
        reply = emulator.getresponse()
        return reply.status, reply.getheaders(), reply.read()
    finally:
        emulator.close()


def forwarding_handler(upstream, watch=None):
    """A request handler that forwards every POST to the emulator at `upstream` and answers
    with its reply over a kept-alive connection, as DynamoDB's endpoint does. `watch`, if
    given, is called as watch(operation, request body, send) and must return send()'s
    (status, headers, body): it sees both sides of each call."""

    class Forwarder(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}

            def send():
                return emulator_call(upstream, self.path, headers, body)

            operation = self.headers.get("x-amz-target", "").rsplit(".", 1)[-1]
            status, reply_headers, answer = watch(operation, body, send) if watch else send()
            self.send_response(status)
            for name, value in reply_headers:
                if name.lower() not in ("content-length", "connection", "server", "date"):
                    self.send_header(name, value)
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    return Forwarder


# --- The fake Lambda Runtime API ------------------------------------------------------------

def runtime_env(port, function_name="bench", **extra):
    """The environment Lambda gives a function (256 MB, us-east-1), its Runtime API on
    `port` (with KEYGATE_TABLE=bench unless `extra` names another)."""
    return dict(
        os.environ,
        AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{port}",
        AWS_LAMBDA_FUNCTION_NAME=function_name,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_LAMBDA_LOG_STREAM_NAME="bench",
        AWS_LAMBDA_LOG_GROUP_NAME="bench",
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        **({"KEYGATE_TABLE": "bench"} | extra),
    )


class Runtime:
    """A fake Lambda Runtime API on a free loopback port. Each poll
    (`GET /2018-06-01/runtime/invocation/next`) is recorded (`polls`: perf_counter times;
    `polled` is set) and handed the next event of `events`, waiting for one; the answer
    (`POST .../response` or `.../error`) goes to `answers` with the invocation's duration.
    With `hold` (seconds), a poll that finds no event within that time is answered 404
    instead: a process measured only up to its first poll is killed meanwhile."""

    def __init__(self, hold=None):
        self.events = queue.Queue()
        self.answers = queue.Queue()
        self.polls = []
        self.polled = threading.Event()
        self.sent = None
        runtime = self

        class Api(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self):
                runtime.polls.append(time.perf_counter())
                runtime.polled.set()
                try:
                    event = runtime.events.get(timeout=hold)
                except queue.Empty:
                    self.send_response(404)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
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

        self.server = serve(Api)
        self.port = self.server.server_address[1]
        self.address = f"127.0.0.1:{self.port}"

    def invoke(self, event):
        self.events.put(event)
        return self.answer()

    def answer(self):
        """The next invocation's duration (event handed out → answer) and answer."""
        path, elapsed, answer = self.answers.get(timeout=30)
        if not path.endswith("/response"):
            raise SystemExit(f"invocation failed: {path} {answer[:300]!r}")
        return elapsed, json.loads(answer)

    def shutdown(self):
        self.server.shutdown()


class Function:
    """A release binary of target/release running under its own fake Runtime API. With
    `count_output`, what it writes to stdout (its logs, each line one CloudWatch log event) is
    counted, not kept; `preexec_fn` runs in the child before the binary (a cgroup join)."""

    def __init__(self, name, endpoint, extra_env, queued=(), count_output=False, preexec_fn=None):
        self.runtime = Runtime()
        for event in queued:  # waiting before the process starts, as on a Lambda cold start
            self.runtime.events.put(event)
        env = runtime_env(self.runtime.port, name, KEYGATE_DYNAMODB_ENDPOINT=endpoint, **extra_env)
        self.output_lines, self.output_bytes = 0, 0
        # preexec_fn with threads running: the child only writes its pid to a cgroup file.
        self.process = subprocess.Popen([str(ROOT / "target/release" / name)], env=env,
                                        stdout=subprocess.PIPE if count_output else subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, preexec_fn=preexec_fn)  # noqa: PLW1509
        if count_output:
            threading.Thread(target=self._count_output, daemon=True).start()

    def _count_output(self):
        for line in self.process.stdout:
            self.output_lines += 1
            self.output_bytes += len(line.rstrip(b"\n"))

    def output(self):
        """(lines, bytes) written so far, once the pipe has been quiet for 50 ms (the last
        invocation's lines are written before its answer, but read here a little later)."""
        while True:
            seen = (self.output_lines, self.output_bytes)
            time.sleep(0.05)
            if seen == (self.output_lines, self.output_bytes):
                return seen

    def stop(self):
        self.process.kill()
        self.process.wait()
        self.runtime.shutdown()


# --- Sample events (events/, written by scripts/gen-events) ---------------------------------

def http_event(path_file, credential=None, context=None, body=None):
    """events/<path_file> with the credential as X-API-Key (or none), the authorizer's
    `context` and a JSON `body` when given."""
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
    """The authorizer's sample event (GET /v1/auth/me) with the credential as X-API-Key."""
    event = json.loads((ROOT / "events/authorizer/request.json").read_text())
    event["headers"]["x-api-key"] = credential
    return event
