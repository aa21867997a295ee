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
the positive hire cases (body and Idempotency-Key within the schema; chosen by a hash of the body,
as above) are made into a hire the sandbox takes: an active recruiting request of the partner's
(read from the gateway once, when the hooks load; CONTRACT_GATEWAY), a new person with the
generated names made printable, the generated dates kept when within the gateway's 1900-2100 and
the flag kept, without the option-set keys, codes and collections; its Idempotency-Key one of its
own. The rest are left as they are.
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
_KEY_PARAM = next(p for p in _OPENAPI["paths"]["/v1/candidates"]["post"]["parameters"]
                  if p["name"] == "Idempotency-Key")
IDEMPOTENCY_KEY = re.compile(_KEY_PARAM["schema"]["pattern"])
# The gateway's own range for a person's and a hire's dates (wider ones are schema-valid: 422).
DATES = ("1900-01-01", "2100-12-31")


def _active_requests():
    """Numbers of the partner's active recruiting requests (none without a gateway to ask)."""
    if not GATEWAY or not TOKEN:
        return []
    req = urllib.request.Request(GATEWAY + "/v1/recruiting-requests?status=active&page_size=50",
                                 headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            numbers = [row["number"] for row in json.load(r)["data"]]
    except (OSError, ValueError, KeyError) as e:
        raise RuntimeError(f"contract hooks: reading the partner's active recruiting requests from "
                           f"{GATEWAY} failed: {e}") from e
    if not numbers:
        raise RuntimeError(f"contract hooks: the partner has no active recruiting request at {GATEWAY}")
    return numbers


ACTIVE_REQUESTS = _active_requests()


def _key(value):
    """A number from `value` alone: Hypothesis runs a hook again when it replays or shrinks a case,
    and must get the same answer."""
    return zlib.crc32(json.dumps(value, sort_keys=True).encode())


def _string_or_null(form, key):
    return form.get(key) is None or isinstance(form.get(key), str)


def _token_form(body):
    """Half of the schema-valid token forms, with the sandbox partner's credentials."""
    valid = (isinstance(body, dict) and isinstance(body.get("grant_type"), str)
             and all(_string_or_null(body, k) for k in ("client_id", "client_secret", "scope")))
    if not valid or _key(body) & 1:
        return body
    return {**body, "grant_type": "client_credentials", "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET}


def _printable(text, fallback):
    """Letters, digits and spaces of `text` (a person's record refuses control and format
    characters), or `fallback` when none are left."""
    kept = "".join(c for c in text if c.isalnum() or c == " ").strip()[:255] if isinstance(text, str) else ""
    return kept or fallback


def _date(value):
    return isinstance(value, str) and DATES[0] <= value <= DATES[1]


def _hire(body):
    """Half of the schema-valid hire bodies as a hire the sandbox takes (see the module's text), or
    `None`. A body the schema forbids is not one: it must still meet its 4xx."""
    if not ACTIVE_REQUESTS or not isinstance(body, dict) or not isinstance(body.get("person"), dict):
        return None
    if not _HIRE.is_valid(body):
        return None
    key = _key(body)
    if key & 1:
        return None
    person = body["person"]
    new = {"first_name": _printable(person.get("first_name"), "Evelyn"),
           "last_name": _printable(person.get("last_name"), "Chambers")}
    for k in ("middle_name", "last_name_prefix", "known_as"):
        if isinstance(person.get(k), str):
            new[k] = _printable(person[k], "A")
    if _date(person.get("birth_date")):
        new["birth_date"] = person["birth_date"]
    hire = {"recruiting_request": ACTIVE_REQUESTS[(key >> 1) % len(ACTIVE_REQUESTS)], "person": new}
    if _date(body.get("availability_date")):
        hire["availability_date"] = body["availability_date"]
    if "willing_to_relocate" in body:
        hire["willing_to_relocate"] = body["willing_to_relocate"]
    if isinstance(body.get("comments"), str):
        hire["comments"] = _printable(body["comments"], "Accepted the offer")
    return hire


@schemathesis.hook
def map_case(ctx, case):
    """Hires: only a case generated to fit the schema (positive), whose body and Idempotency-Key
    both do. Its key becomes one of its own (from the hire and the generated key): a key the
    generator repeats with another body would meet the 422 of a reused key."""
    op = case.operation
    if op.method.upper() != "POST" or op.path != "/v1/candidates":
        return case
    meta = getattr(case, "meta", None)
    if meta is None or str(meta.generation.mode) != "positive":
        return case
    headers = dict(case.headers or {})
    name = next((k for k in headers if k.lower() == "idempotency-key"), None)
    if name is None or not isinstance(headers[name], str) or not IDEMPOTENCY_KEY.fullmatch(headers[name]):
        return case
    hire = _hire(case.body)
    if hire is None:
        return case
    headers[name] = f"contract-{_key([hire, headers[name]]):08x}"
    case.body, case.headers = hire, headers
    return case


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
