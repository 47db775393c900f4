"""The first request after a cold start, DynamoDB over TLS.

Serves the emulator over TLS (a front with a CA made here, given to the function through
KEYGATE_TLS_CA_FILE), queues an authorizer event before the process starts (as Lambda does on
a cold start: the event is waiting), then measures, per cold start of the release `authorizer`:
init (spawn → first poll), the first invocation (its GetItem opens the connection: TCP + TLS
handshake), a second, warm invocation (connection reused), and init + first invocation in
total. Each variant is run interleaved with the others, one cold start at a time; medians.
Usage: scripts/bench-first-request [runs]"""

import os
import pathlib
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "lib"))
from keygate_scripts import Function, authorizer_event, forwarding_handler, serve

# Opening the connection during init (a background DescribeEndpoints spawned after the client
# was built, overlapping the runtime's first poll) was measured as a second variant and lost:
# see README.md, "First request after a cold start". Add variants here as environments.
VARIANTS = {
    "connect on first call": {},
}


def make_certificates(directory):
    """A CA and a localhost server certificate it signed (RSA 2048, as DynamoDB's)."""
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=bench CA",
            "-keyout", "ca.key", "-out", "ca.pem")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
            "-keyout", "server.key", "-out", "server.csr")
    pathlib.Path(directory, "san.ext").write_text("subjectAltName=DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "1", "-extfile", "san.ext", "-out", "server.pem")


def tls_front(upstream, directory):
    """HTTPS with keep-alive in front of the emulator (which closes every connection)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.path.join(directory, "server.pem"), os.path.join(directory, "server.key"))
    server = serve(forwarding_handler(upstream), wrap=lambda s: context.wrap_socket(s, server_side=True))
    return server, f"https://localhost:{server.server_address[1]}"


def cold_start(endpoint, env, credential):
    event = authorizer_event(credential)
    started = time.perf_counter()
    function = Function("authorizer", endpoint, env, queued=[event, event])
    first_wall, first = function.runtime.answer()
    finished_first = time.perf_counter()
    warm_wall, _ = function.runtime.answer()
    init = function.runtime.polls[0] - started
    function.stop()
    if not first.get("isAuthorized") or "keygate_denied" in first.get("context", {}):
        raise SystemExit(f"the authorizer refused the key: {first}")
    return {"init": init, "first": first_wall, "warm": warm_wall, "total": finished_first - started}


def main():
    runs = int(sys.argv[1])
    table, api_key = sys.argv[2], sys.argv[3]
    with tempfile.TemporaryDirectory() as directory:
        make_certificates(directory)
        server, endpoint = tls_front(os.environ["KEYGATE_DYNAMODB_ENDPOINT"], directory)
        base = {"KEYGATE_TABLE": table, "KEYGATE_AUTH_CACHE_SECS": "0",
                "KEYGATE_TLS_CA_FILE": os.path.join(directory, "ca.pem")}
        results = {name: [] for name in VARIANTS}
        for _ in range(runs):
            for name, extra in VARIANTS.items():
                results[name].append(cold_start(endpoint, dict(base, **extra), api_key))
        server.shutdown()
    print(f"authorizer cold starts, DynamoDB over TLS (RSA 2048, TLS front of the emulator), "
          f"{runs} interleaved runs each; medians in ms")
    print("| variant | init | first invocation | warm invocation | first − warm (connection) | init + first |")
    print("|---|---|---|---|---|---|")
    for name, samples in results.items():
        median = {k: statistics.median(s[k] for s in samples) * 1000 for k in samples[0]}
        print(f"| {name} | {median['init']:.2f} | {median['first']:.2f} | {median['warm']:.2f} | "
              f"{median['first'] - median['warm']:.2f} | {median['total']:.2f} |")


if __name__ == "__main__":
    main()
