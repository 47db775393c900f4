#!/usr/bin/env python3
"""Writes events/<function>/<name>.json: one API Gateway HTTP API (payload 2.0) sample event
per route, usable with `cargo lambda invoke <function> --data-file ...` and `sam local invoke`.

The events carry no authorizer context, so a function verifies the credential itself (X-API-Key,
or x-access-tokens for the Ask Sage surface): replace
REPLACE_WITH_API_KEY with a key printed by scripts/run-local (and REPLACE_WITH_SESSION with a
session from POST /v1/sessions for the cookie-only Assisters routes). Re-run after adding a route.

The last field of a route says how it authenticates: False (public), True (X-API-Key),
"bearer", "key" (Cogniac's `Authorization: Key`), "basic" (Cogniac's email and password),
"vai" (VirtuousAI's vai_token header), "session" (the dashboard cookie, with an Origin),
"idempotent" (X-API-Key and an Idempotency-Key), "github" (a secret-scanning report: replace
REPLACE_WITH_KEY_IDENTIFIER and REPLACE_WITH_SIGNATURE, base64 of the DER ECDSA P-256 signature
of the body by a key listed in KEYGATE_SECRET_SCANNING_KEYS) or "context" (the example platform
function's events: they carry keygate's authorizer context, a sample of the contract, as API
Gateway would hand it over)."""

import json
import pathlib

KEY = "REPLACE_WITH_API_KEY"
SESSION = "REPLACE_WITH_SESSION"
ORIGIN = "https://app.example.com"
BASIC = "Basic ZGVtb0BleGFtcGxlLmNvbTpSRVBMQUNFX1dJVEhfUEFTU1dPUkQ="  # demo@example.com:REPLACE_WITH_PASSWORD
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
    ("api-keys", "roll-key", "POST", "/v1/api-keys/{key_id}/roll", f"/v1/api-keys/{ID}/roll", "", {"grace_secs": 3600}, "idempotent"),
    ("api-keys", "secret-scanning-report", "POST", "/v1/secret-scanning/report", "/v1/secret-scanning/report", "", [{"token": "kg_REPLACE_WITH_LEAKED_TOKEN", "type": "keygate_api_key", "url": "https://github.com/octo-org/octo-repo/blob/main/.env", "source": "content"}], "github"),
    ("api-keys", "read-usage", "GET", "/v1/api-keys/{key_id}/usage", f"/v1/api-keys/{ID}/usage", "granularity=day", None, True),
    ("api-keys", "report-usage", "POST", "/v1/usage", "/v1/usage", "", {"key_id": ID, "units": 1200, "kind": "tokens_out", "model": "model-x", "request_id": "req-0001"}, True),
    ("api-keys", "openapi", "GET", "/v1/openapi.json", "/v1/openapi.json", "", None, False),
    ("datasets", "create-dataset", "POST", "/v1/datasets", "/v1/datasets", "", {"name": "MyDataset123"}, True),
    ("datasets", "list-datasets", "GET", "/v1/datasets", "/v1/datasets", "check_permissions=true", None, True),
    ("datasets", "delete-dataset", "DELETE", "/v1/datasets/{proxy+}", "/v1/datasets/user_custom_01KAAAAAAAAAAAAAAAAAAAAAAA_MyDataset123_content", "", None, True),
    ("datasets", "grant-dataset", "PUT", "/v1/datasets/{proxy+}", "/v1/datasets/user_custom_01KAAAAAAAAAAAAAAAAAAAAAAA_MyDataset123_content/grants/colleague@example.com", "", {"permission": "read"}, True),
    ("datasets", "revoke-grant", "DELETE", "/v1/datasets/{proxy+}", "/v1/datasets/user_custom_01KAAAAAAAAAAAAAAAAAAAAAAA_MyDataset123_content/grants/colleague@example.com", "", None, True),
    ("chats", "create-chat", "POST", "/v1/chats", "/v1/chats", "", {"name": "support", "role_id": "1", "role_variables": {"id": "42"}}, True),
    ("chats", "list-chats", "GET", "/v1/chats", "/v1/chats", "page=1&size=20", None, True),
    ("chats", "get-chat", "GET", "/v1/chats/{proxy+}", f"/v1/chats/{ID}", "", None, True),
    ("chats", "delete-chat", "DELETE", "/v1/chats/{proxy+}", f"/v1/chats/{ID}", "", None, True),
    ("chats", "ask", "POST", "/v1/chats/{proxy+}", f"/v1/chats/{ID}", "question=How%20many%20users%3F", None, True),
    ("chats", "append-message", "POST", "/v1/chats/{proxy+}", f"/v1/chats/{ID}/messages", "", {"role": "human", "content": {"text": "How many users signed up today?"}}, True),
    ("chats", "list-messages", "GET", "/v1/chats/{proxy+}", f"/v1/chats/{ID}/messages", "page=1&size=20", None, True),
    ("chats", "get-message", "GET", "/v1/chats/{proxy+}", f"/v1/chats/{ID}/messages/1", "", None, True),
    ("activity", "list-logs", "GET", "/v1/logs", "/v1/logs", "limit=20", None, True),
    ("activity", "list-logins", "GET", "/v1/logins", "/v1/logins", "limit=5", None, True),
    ("activity", "list-audit", "GET", "/v1/audit", "/v1/audit", "limit=50&type=key.created", None, True),
    ("auth", "sign-in", "POST", "/v1/sessions", "/v1/sessions", "", {"email": "demo@example.com", "password": "REPLACE_WITH_PASSWORD"}, False),
    ("auth", "sign-out", "DELETE", "/v1/sessions", "/v1/sessions", "", None, "ending-session"),
    ("auth", "set-password", "PUT", "/v1/users/{proxy+}", "/v1/users/me/password", "", {"new_password": "a long new passphrase"}, True),
    ("cogniac", "token", "GET", "/1/token", "/1/token", "tenant_id=REPLACE_WITH_TENANT_ID", None, "key"),
    ("cogniac", "token-basic", "GET", "/1/token", "/1/token", "", None, "basic"),
    ("cogniac", "user-tenants", "GET", "/1/users/current/tenants", "/1/users/current/tenants", "", None, "basic"),
    ("cogniac", "mfa-status", "GET", "/21/users/mfa/status", "/21/users/mfa/status", "", None, "basic"),
    ("cogniac", "current-tenant", "GET", "/1/tenants/current", "/1/tenants/current", "", None, "bearer"),
    ("cogniac", "current-user", "GET", "/1/users/current", "/1/users/current", "", None, "bearer"),
    ("cogniac", "create-key", "POST", "/1/users/{user_id}/apiKeys", "/1/users/REPLACE_WITH_USER_ID/apiKeys", "", {"description": "my key"}, "bearer"),
    ("cogniac", "list-keys", "GET", "/1/users/{user_id}/apiKeys", "/1/users/REPLACE_WITH_USER_ID/apiKeys", "", None, "bearer"),
    ("cogniac", "get-key", "GET", "/1/users/{user_id}/apiKeys/{key_id}", f"/1/users/REPLACE_WITH_USER_ID/apiKeys/{ID}", "", None, "bearer"),
    ("cogniac", "delete-key", "DELETE", "/1/users/{user_id}/apiKeys/{key_id}", f"/1/users/REPLACE_WITH_USER_ID/apiKeys/{ID}", "", None, "bearer"),
    ("virtuousai", "list-tokens", "GET", "/api/v1/access-tokens", "/api/v1/access-tokens", "limit=50&includeRevoked=false", None, "vai"),
    ("virtuousai", "create-token", "POST", "/api/v1/access-tokens", "/api/v1/access-tokens", "", {"name": "ci", "expiresInDays": 30}, "vai"),
    ("virtuousai", "revoke-all", "DELETE", "/api/v1/access-tokens", "/api/v1/access-tokens", "exclude_current=true", None, "vai"),
    ("virtuousai", "get-token", "GET", "/api/v1/access-tokens/{token_id}", "/api/v1/access-tokens/01890f3a-0000-4000-8000-000000000000", "", None, "vai"),
    ("virtuousai", "revoke-token", "DELETE", "/api/v1/access-tokens/{token_id}", "/api/v1/access-tokens/01890f3a-0000-4000-8000-000000000000", "", None, "vai"),
    ("assisters", "list-keys", "GET", "/api/keys", "/api/keys", "", None, "session"),
    ("assisters", "create-key", "POST", "/api/keys", "/api/keys", "", {"name": "Production", "scopes": ["chat", "read"]}, "session"),
    ("assisters", "update-key", "PATCH", "/api/keys/{id}", f"/api/keys/{ID}", "", {"name": "Renamed", "is_active": False}, "session"),
    ("assisters", "delete-key", "DELETE", "/api/keys/{id}", f"/api/keys/{ID}", "", None, "session"),
    ("asksage", "get-token-with-api-key", "POST", "/user/get-token-with-api-key", "/user/get-token-with-api-key", "", {"email": "demo@example.com", "api_key": KEY}, False),
    ("asksage", "get-user-logs", "POST", "/user/{proxy+}", "/user/get-user-logs", "", {}, True),
    ("asksage", "add-dataset", "POST", "/user/{proxy+}", "/user/add-dataset", "", {"dataset": "MyDataset123"}, True),
    ("asksage", "get-user-api-keys", "POST", "/user/{proxy+}", "/user/get-user-api-keys", "", {}, True),
    ("api-keys", "verify-key", "POST", "/v1/keys/verify", "/v1/keys/verify", "", {"key": KEY, "route": "POST /v1/single-turn/q2a", "scopes": ["chat"]}, True),
    ("platform-function", "q2a", "POST", "/v1/single-turn/q2a", "/v1/single-turn/q2a", "", {"question": "How many users signed up today?"}, "context"),
    ("platform-function", "get-bot", "GET", "/v1/bots/{id}", "/v1/bots/42", "", None, "context"),
    ("platform-function", "delete-bot", "DELETE", "/v1/bots/{id}", "/v1/bots/42", "", None, "admin-context"),
    ("platform-function", "status", "GET", "/v1/platform/status", "/v1/platform/status", "", None, False),
]

# keygate's authorizer context (contract version 1) for an asker temp token, as the example
# platform function receives it; "admin-context" is the same caller on an admin key.
SAMPLE_CONTEXT = {
    "context_version": "1",
    "tenant_id": "01KAAAAAAAAAAAAAAAAAAAAAAT",
    "user_id": "01KAAAAAAAAAAAAAAAAAAAAAAU",
    "email": "demo@example.com",
    "user_role": "member",
    "kind": "access_token",
    "credential_id": "01KAAAAAAAAAAAAAAAAAAAAAAC",
    "key_id": "01KAAAAAAAAAAAAAAAAAAAAAAK",
    "key_type": "asker",
    "scopes": "chat read",
    "expires_at": "1795616100",
    "key_expires_at": "",
    "temporary": "true",
    "chat_role": '{"role_id":"1","role_variables":{"id":"42"}}',
    "chat_role_id": "1",
    "role_variables": '{"id":"42"}',
    "user_profile": '{"name":"Zhang San"}',
    "route": "POST /v1/single-turn/q2a",
    "cost": "1",
}
ADMIN_CONTEXT = {
    **SAMPLE_CONTEXT,
    "kind": "api_key",
    "credential_id": SAMPLE_CONTEXT["key_id"],
    "key_type": "admin",
    "expires_at": "",
    "temporary": "false",
    "chat_role": "",
    "chat_role_id": "",
    "role_variables": "",
    "user_profile": "",
    "route": "default",
}

# Ask Sage's clients present their credential in x-access-tokens; keygate's own, in X-API-Key.
CREDENTIAL_HEADER = {"asksage": "x-access-tokens"}


def event(function, method, route_path, path, query, body, authenticated):
    headers = {
        "host": "abcdef123.execute-api.us-east-1.amazonaws.com",
        "user-agent": "curl/8.5.0",
        "x-forwarded-for": "203.0.113.7",
    }
    cookies = []
    if authenticated is True:
        headers[CREDENTIAL_HEADER.get(function, "x-api-key")] = KEY
    elif authenticated == "idempotent":
        headers["x-api-key"] = KEY
        headers["idempotency-key"] = "roll-2026-11-25-ci"
    elif authenticated == "github":
        headers["github-public-key-identifier"] = "REPLACE_WITH_KEY_IDENTIFIER"
        headers["github-public-key-signature"] = "REPLACE_WITH_SIGNATURE"
    elif authenticated == "bearer":
        headers["authorization"] = f"Bearer {KEY}"
    elif authenticated == "key":
        headers["authorization"] = f"Key {KEY}"
    elif authenticated == "basic":
        headers["authorization"] = BASIC
    elif authenticated == "vai":
        headers["vai_token"] = KEY
    elif authenticated in ("session", "ending-session"):
        # Signing out ends its session: that event has a session of its own.
        session = SESSION if authenticated == "session" else "REPLACE_WITH_SESSION_TO_END"
        cookies.append(f"keygate_session={session}")
        headers["origin"] = ORIGIN
    if body is not None:
        headers["content-type"] = "application/json"
    authorizer = {"context": SAMPLE_CONTEXT, "admin-context": ADMIN_CONTEXT}.get(authenticated)
    if authorizer is not None:
        # API Gateway ran keygate's authorizer; the function reads only its context.
        headers["authorization"] = "Bearer REPLACE_WITH_API_KEY"
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
    if authorizer is not None:
        result["requestContext"]["authorizer"] = {"lambda": authorizer}
    if cookies:
        result["cookies"] = cookies
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
