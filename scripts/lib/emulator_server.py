"""moto's DynamoDB-compatible server, with requests applied one at a time.

moto applies a TransactWriteItems without any lock and, when one fails, restores the whole
table from a copy taken when it began, which can undo a concurrent request's committed write.
Real DynamoDB isolates transactions, and keygate's limits under concurrency rely on that, so
this wrapper serialises request handling (connections are still served by many threads).

moto also takes that backup once per item of the transaction (a deep copy of the whole table
each time), so a 50-item transaction on a table of a few hundred items took seconds, past the
SDK's attempt timeout; here the backup is taken once per table, which is the same backup."""

import argparse
import copy
import threading
import types

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def backup_each_table_once(transact_write_items):
    def transact(self, transact_items):
        copies = {}

        def deepcopy(value, memo=None):
            if isinstance(value, Table):
                if id(value) not in copies:
                    copies[id(value)] = copy.deepcopy(value)
                return copies[id(value)]
            return copy.deepcopy(value, memo)

        # Requests run one at a time (below), so swapping the module's `copy` is safe.
        dynamodb_models.copy = types.SimpleNamespace(deepcopy=deepcopy)
        try:
            return transact_write_items(self, transact_items)
        finally:
            dynamodb_models.copy = copy

    return transact


dynamodb_models.DynamoDBBackend.transact_write_items = backup_each_table_once(
    dynamodb_models.DynamoDBBackend.transact_write_items
)


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
