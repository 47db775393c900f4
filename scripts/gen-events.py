#!/usr/bin/env python3
"""Writes events/<function>/<name>.json: one API Gateway HTTP API (payload 2.0) sample event
per route, usable with `cargo lambda invoke <function> --data-file ...` and `sam local invoke`.

The events carry no authorizer context, so a function verifies the credential itself (X-API-Key,
or x-access-tokens for the Ask Sage surface): replace
REPLACE_WITH_API_KEY with a key printed by scripts/run-local. Re-run after adding a route."""

import json
import pathlib

KEY = "REPLACE_WITH_API_KEY"
ID = "01KAAAAAAAAAAAAAAAAAAAAAAA"

# (function, event name, method, route key path, concrete path, query, body, authenticated)
ROUTES = [
    ("auth", "exchange-token", "POST", "/v1/auth/token", "/v1/auth/token", "", {"email": "demo@example.com", "api_key": KEY}, False),
    ("auth", "temp-token", "POST", "/v1/auth/tokens", "/v1/auth/tokens", "", {"ak_role": "asker", "chat_role": {"role_id": "1", "role_variables": {"id": "42"}}, "user_profile": {"name": "Zhang San"}, "token_ttl": 900}, True),
    ("auth", "me", "GET", "/v1/auth/me", "/v1/auth/me", "", None, True),
    ("auth", "create-user", "POST", "/v1/users", "/v1/users", "", {"email": "new.user@example.com", "name": "New User"}, True),
    ("auth", "list-users", "GET", "/v1/users", "/v1/users", "limit=50", None, True),
    ("auth", "update-user", "PATCH", "/v1/users/{proxy+}", f"/v1/users/{ID}", "", {"cac_verified": True}, True),
    ("auth", "create-user-key", "POST", "/v1/users/{proxy+}", f"/v1/users/{ID}/api-keys", "", {"name": "first key"}, True),
    ("api-keys", "create-key", "POST", "/v1/api-keys", "/v1/api-keys", "", {"name": "ci", "scopes": ["chat", "read"]}, True),
    ("api-keys", "list-keys", "GET", "/v1/api-keys", "/v1/api-keys", "limit=50&include_revoked=false", None, True),
    ("api-keys", "revoke-all-keys", "DELETE", "/v1/api-keys", "/v1/api-keys", "exclude_current=true", None, True),
    ("api-keys", "get-key", "GET", "/v1/api-keys/{key_id}", f"/v1/api-keys/{ID}", "", None, True),
    ("api-keys", "patch-key", "PATCH", "/v1/api-keys/{key_id}", f"/v1/api-keys/{ID}", "", {"name": "renamed", "is_active": False}, True),
    ("api-keys", "revoke-key", "DELETE", "/v1/api-keys/{key_id}", f"/v1/api-keys/{ID}", "", None, True),
    ("asksage", "get-token-with-api-key", "POST", "/user/get-token-with-api-key", "/user/get-token-with-api-key", "", {"email": "demo@example.com", "api_key": KEY}, False),
    ("asksage", "get-user-logs", "POST", "/user/{proxy+}", "/user/get-user-logs", "", {}, True),
    ("asksage", "add-dataset", "POST", "/user/{proxy+}", "/user/add-dataset", "", {"dataset": "MyDataset123"}, True),
    ("asksage", "get-user-api-keys", "POST", "/user/{proxy+}", "/user/get-user-api-keys", "", {}, True),
]

# Ask Sage's clients present their credential in x-access-tokens; keygate's own, in X-API-Key.
CREDENTIAL_HEADER = {"asksage": "x-access-tokens"}


def event(function, method, route_path, path, query, body, authenticated):
    headers = {
        "host": "abcdef123.execute-api.us-east-1.amazonaws.com",
        "user-agent": "curl/8.5.0",
        "x-forwarded-for": "203.0.113.7",
    }
    if authenticated:
        headers[CREDENTIAL_HEADER.get(function, "x-api-key")] = KEY
    if body is not None:
        headers["content-type"] = "application/json"
    route_key = f"{method} {route_path}"
    result = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef123",
            "domainName": "abcdef123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abcdef123",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "routeKey": route_key,
            "stage": "$default",
            "time": "25/Nov/2026:14:00:00 +0000",
            "timeEpoch": 1795615200000,
        },
        "isBase64Encoded": False,
    }
    if query:
        result["queryStringParameters"] = dict(pair.split("=", 1) for pair in query.split("&"))
    if body is not None:
        result["body"] = json.dumps(body)
    return result


def main():
    root = pathlib.Path(__file__).resolve().parent.parent / "events"
    for function, name, method, route_path, path, query, body, authenticated in ROUTES:
        target = root / function / f"{name}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(event(function, method, route_path, path, query, body, authenticated), indent=2) + "\n")
    print(f"wrote {len(ROUTES)} events under {root}")


if __name__ == "__main__":
    main()
