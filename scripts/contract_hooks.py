"""schemathesis hooks for scripts/contract-check.sh (loaded through SCHEMATHESIS_HOOKS).

A subscription's URL must resolve to an address the gateway may deliver to; a generated host
never does here (no DNS), so every `POST /v1/webhooks` would be refused and the routes that take a
subscription's id would only ever see 404. A generated URL the schema allows (its `pattern` and
`maxLength`, read from openapi/openapi.json) is swapped for a loopback address the sandbox accepts, where nothing listens
(test events and deliveries fail to connect, as to a receiver that is down); a URL the schema
forbids is left as it is, so negative cases still meet their 422. Only the generated phases pass
through this hook: the coverage phase's bodies keep their hosts and meet the 422 of DNS.

A token form the generated phases make never holds a partner's secret, so it would only ever meet
400 or 401. About half of the token forms the schema allows (chosen by a hash of the form, so a
replayed or shrunk case gets the same) are given the sandbox partner's credentials and
`client_credentials`, their generated `scope` kept: the scope parsing and the token answer are
fuzzed too. Forms the schema forbids are left as they are.
"""
import json
import os
import re
import zlib

import schemathesis

RECEIVER = os.environ.get("CONTRACT_WEBHOOK_URL", "http://127.0.0.1:9/contract-hooks")
_DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "openapi", "openapi.json")
with open(_DOC) as _f:
    _URL = json.load(_f)["components"]["schemas"]["NewSubscriptionBody"]["properties"]["url"]
ALLOWED = re.compile(_URL["pattern"])
MAX_LEN = _URL["maxLength"]
CLIENT_ID = os.environ.get("CONTRACT_CLIENT_ID", "acme-ats")
CLIENT_SECRET = os.environ.get("CONTRACT_CLIENT_SECRET", "acme-demo-secret")


def _string_or_null(form, key):
    return form.get(key) is None or isinstance(form.get(key), str)


def _token_form(body):
    """Half of the schema-valid token forms, with the sandbox partner's credentials: which half
    depends on the form alone (Hypothesis runs this again when it replays or shrinks a case)."""
    valid = (isinstance(body, dict) and isinstance(body.get("grant_type"), str)
             and all(_string_or_null(body, k) for k in ("client_id", "client_secret", "scope")))
    if not valid:
        return body
    if zlib.crc32(json.dumps(body, sort_keys=True).encode()) & 1:
        return body
    return {**body, "grant_type": "client_credentials", "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET}


@schemathesis.hook
def map_body(ctx, body):
    op = ctx.operation
    if op is None or op.method.upper() != "POST":
        return body
    if op.path == "/oauth2/token":
        return _token_form(body)
    if op.path != "/v1/webhooks":
        return body
    if isinstance(body, dict):
        url = body.get("url")
        if isinstance(url, str) and len(url) <= MAX_LEN and ALLOWED.match(url):
            body = {**body, "url": RECEIVER}
    return body
