"""The latency a strongly consistent read adds to credential verification (run by
scripts/bench-consistent-read, which says how): interleaved GetItem and BatchGetItem calls,
ConsistentRead true vs false, on items shaped like an API key and a token, in a table this
creates and deletes. Usage: consistent_read.py RUNS (endpoint: KEYGATE_BENCH_ENDPOINT, or
DynamoDB in AWS_REGION when unset)."""

import os
import statistics
import sys
import time
import uuid

import boto3

runs = int(sys.argv[1])
endpoint = os.environ.get("KEYGATE_BENCH_ENDPOINT")
client = boto3.client("dynamodb", region_name=os.environ.get("AWS_REGION", "us-east-1"),
                      endpoint_url=endpoint)
table = f"keygate-bench-{uuid.uuid4().hex[:12]}"
client.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                    AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("PK", "SK")],
                    KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"},
                               {"AttributeName": "SK", "KeyType": "RANGE"}])
client.get_waiter("table_exists").wait(TableName=table)
try:
    key = {"PK": {"S": "KEY#01K0000000000000000000000"}, "SK": {"S": "KEY"}}
    token = {"PK": {"S": "TOKEN#01K0000000000000000000001"}, "SK": {"S": "TOKEN"}}
    filler = {"hash": {"S": "0" * 64}, "email": {"S": "someone@example.com"},
              "scopes": {"L": [{"S": s} for s in ("chat", "read", "write")]},
              "name": {"S": "a key"}, "key_type": {"S": "admin"}, "enabled": {"BOOL": True}}
    client.put_item(TableName=table, Item={**key, **filler})
    client.put_item(TableName=table, Item={**token, **filler})

    def get(consistent):
        client.get_item(TableName=table, Key=key, ConsistentRead=consistent)

    def batch(consistent):
        client.batch_get_item(RequestItems={table: {"Keys": [token, key], "ConsistentRead": consistent}})

    for call in (get, batch):
        for consistent in (False, True):  # warm up
            for _ in range(20):
                call(consistent)
    times = {(c.__name__, v): [] for c in (get, batch) for v in (False, True)}
    for _ in range(runs):
        for call in (get, batch):
            for consistent in (False, True):
                start = time.perf_counter()
                call(consistent)
                times[(call.__name__, consistent)].append(time.perf_counter() - start)
    where = endpoint or f"DynamoDB {client.meta.region_name}"
    print(f"{runs} interleaved calls per variant against {where}; medians:")
    for name, label in (("get", "GetItem (API key, session)"), ("batch", "BatchGetItem (token + key)")):
        eventual = statistics.median(times[(name, False)]) * 1000
        strong = statistics.median(times[(name, True)]) * 1000
        print(f"  {label:28} eventual {eventual:6.2f} ms  consistent {strong:6.2f} ms  "
              f"ratio {strong / eventual:.2f}  ({strong - eventual:+.2f} ms)")
    print("read units per verification (items under 4 KB): eventual 0.5 per item, consistent 1 per item")
    print("  -> GetItem 0.5 -> 1 RRU; BatchGetItem (2 items) 1 -> 2 RRU;"
          " on-demand $0.125 per million RRU (us-east-1): +$0.0625 / +$0.125 per million verifications")
finally:
    client.delete_table(TableName=table)
