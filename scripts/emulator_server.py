"""moto's DynamoDB-compatible server, with requests applied one at a time.

moto applies a TransactWriteItems without any lock and, when one fails, restores the whole
table from a copy taken when it began, which can undo a concurrent request's committed write.
Real DynamoDB isolates transactions, and keygate's limits under concurrency rely on that, so
this wrapper serialises request handling (connections are still served by many threads)."""

import argparse
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


class OneAtATime:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            # Consume the whole response under the lock: WSGI bodies may be produced lazily.
            body = b"".join(self.app(environ, start_response))
        return [body]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, OneAtATime(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
