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

A generated hire names a recruiting request, codes and people the sandbox does not have, so every
`POST /v1/candidates` would meet 422 and the write plan behind it would never run. About half of
the hire bodies the schema allows (chosen by a hash of the body, as above) are made into a hire the
sandbox takes: an open recruiting request of the partner's (read from the gateway once, when the
hooks load), a new person with the generated names made printable and the generated dates and flags
kept, without the option-set keys, codes and collections. The rest are left as they are.
"""
import json
import os
import re
import urllib.request
import zlib

import jsonschema
import schemathesis

RECEIVER = os.environ.get("CONTRACT_WEBHOOK_URL", "http://127.0.0.1:9/contract-hooks")
_DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "openapi", "openapi.json")
with open(_DOC) as _f:
    _OPENAPI = json.load(_f)
_URL = _OPENAPI["components"]["schemas"]["NewSubscriptionBody"]["properties"]["url"]
# The hire body's schema with the document's components beside it, so its `$ref`s resolve; formats
# (dates) are checked, as schemathesis generates them.
_HIRE = jsonschema.Draft202012Validator(
    {"$ref": "#/components/schemas/HireBody", "components": _OPENAPI["components"]},
    format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
ALLOWED = re.compile(_URL["pattern"])
MAX_LEN = _URL["maxLength"]
CLIENT_ID = os.environ.get("CONTRACT_CLIENT_ID", "acme-ats")
CLIENT_SECRET = os.environ.get("CONTRACT_CLIENT_SECRET", "acme-demo-secret")
GATEWAY = os.environ.get("CONTRACT_GATEWAY")
TOKEN = os.environ.get("CONTRACT_TOKEN")


def _open_requests():
    """Numbers of the partner's active recruiting requests (none without a gateway to ask)."""
    if not GATEWAY or not TOKEN:
        return []
    req = urllib.request.Request(GATEWAY + "/v1/recruiting-requests?status=active&page_size=50",
                                 headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=20) as r:
        return [row["number"] for row in json.load(r)["data"]]


OPEN_REQUESTS = _open_requests()


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


def _printable(text, fallback):
    """Letters, digits and spaces of `text` (a person's record refuses control and format
    characters), or `fallback` when none are left."""
    kept = "".join(c for c in text if c.isalnum() or c == " ").strip()[:255] if isinstance(text, str) else ""
    return kept or fallback


def _hire(body):
    """Half of the schema-valid hire bodies as a hire the sandbox takes (see the module's text). A
    body the schema forbids is left as it is: it must still meet its 4xx."""
    if not OPEN_REQUESTS or not isinstance(body, dict) or not isinstance(body.get("person"), dict):
        return body
    if not _HIRE.is_valid(body):
        return body
    key = zlib.crc32(json.dumps(body, sort_keys=True).encode())
    if key & 1:
        return body
    person = body["person"]
    new = {"first_name": _printable(person.get("first_name"), "Evelyn"),
           "last_name": _printable(person.get("last_name"), "Chambers")}
    for k in ("middle_name", "last_name_prefix", "known_as"):
        if isinstance(person.get(k), str):
            new[k] = _printable(person[k], "A")
    if isinstance(person.get("birth_date"), str):
        new["birth_date"] = person["birth_date"]
    hire = {"recruiting_request": OPEN_REQUESTS[(key >> 1) % len(OPEN_REQUESTS)], "person": new}
    for k in ("availability_date", "willing_to_relocate"):
        if k in body:
            hire[k] = body[k]
    if isinstance(body.get("comments"), str):
        hire["comments"] = _printable(body["comments"], "Accepted the offer")
    return hire


@schemathesis.hook
def map_body(ctx, body):
    op = ctx.operation
    if op is None or op.method.upper() != "POST":
        return body
    if op.path == "/oauth2/token":
        return _token_form(body)
    if op.path == "/v1/candidates":
        return _hire(body)
    if op.path != "/v1/webhooks":
        return body
    if isinstance(body, dict):
        url = body.get("url")
        if isinstance(url, str) and len(url) <= MAX_LEN and ALLOWED.match(url):
            body = {**body, "url": RECEIVER}
    return body
