"""Times failed sign-ins of three classes against a running keygate (see bench-sign-in).

Every attempt is a `POST /v1/sessions` that must answer 401. The classes run interleaved,
in a random order each round, so that load on the shared machine falls on all of them
alike; the report is the median per class and its ratio to the unknown email's median."""

import http.client
import json
import random
import statistics
import sys
import time
import urllib.parse

PASSWORD = "correct horse battery staple"
WRONG = "not the password at all"
ATTEMPTS_PER_WRONG_ACCOUNT = 4  # the fifth failure in a row would lock the account
LOCKED_ACCOUNTS = 3


class Api:
    def __init__(self, base):
        url = urllib.parse.urlsplit(base)
        self.connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)

    def call(self, method, path, body, headers=None):
        self.connection.request(
            method,
            path,
            body=json.dumps(body),
            headers={"content-type": "application/json", **(headers or {})},
        )
        response = self.connection.getresponse()
        return response.status, response.read()

    def sign_in(self, email, password):
        started = time.perf_counter()
        status, body = self.call("POST", "/v1/sessions", {"email": email, "password": password})
        elapsed = time.perf_counter() - started
        return status, body, elapsed


def wait_until_up(base):
    for _ in range(300):
        try:
            Api(base).call("GET", "/v1/auth/me", {})
            return
        except OSError:
            time.sleep(0.1)
    sys.exit("keygate-local did not start")


def main():
    base, admin_key, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    wait_until_up(base)
    api = Api(base)
    admin = {"x-api-key": admin_key}

    def new_user(email):
        status, body = api.call("POST", "/v1/users", {"email": email, "password": PASSWORD}, admin)
        if status != 201:
            sys.exit(f"creating {email}: {status} {body!r}")

    wrong_accounts = [
        f"wrong-{i}@bench.example" for i in range(-(-(rounds + 5) // ATTEMPTS_PER_WRONG_ACCOUNT))
    ]
    locked_accounts = [f"locked-{i}@bench.example" for i in range(LOCKED_ACCOUNTS)]
    print(f"creating {len(wrong_accounts) + len(locked_accounts)} accounts ...", file=sys.stderr)
    for email in wrong_accounts + locked_accounts:
        new_user(email)
    for email in locked_accounts:
        for _ in range(5):
            api.sign_in(email, WRONG)

    wrong_attempts = iter(
        email for email in wrong_accounts for _ in range(ATTEMPTS_PER_WRONG_ACCOUNT)
    )
    counter = iter(range(10**9))
    classes = {
        "unknown email": lambda: f"nobody-{next(counter)}@bench.example",
        "wrong password": lambda: next(wrong_attempts),
        "locked account": lambda: locked_accounts[next(counter) % LOCKED_ACCOUNTS],
    }
    times = {name: [] for name in classes}
    warmup = 5
    print(f"{rounds} interleaved attempts per class (after {warmup} warm-up rounds) ...", file=sys.stderr)
    for round_number in range(warmup + rounds):
        order = list(classes)
        random.shuffle(order)
        for name in order:
            status, body, elapsed = api.sign_in(classes[name](), WRONG)
            if status != 401:
                sys.exit(f"{name}: expected 401, got {status} {body!r}")
            if round_number >= warmup:
                times[name].append(elapsed * 1000)

    baseline = statistics.median(times["unknown email"])
    print(f"{'class':<16} {'median ms':>10} {'ratio':>6} {'p25 ms':>8} {'p75 ms':>8}")
    for name, samples in times.items():
        median = statistics.median(samples)
        q1, _, q3 = statistics.quantiles(samples, n=4)
        print(f"{name:<16} {median:>10.1f} {median / baseline:>6.2f} {q1:>8.1f} {q3:>8.1f}")


if __name__ == "__main__":
    main()
