"""schemathesis hooks for `npm run test:fuzz` (loaded through SCHEMATHESIS_HOOKS).

They give generated requests the test data a real checkout and a real provider have, so the fuzz reaches
past the first refusal:
- an order's lines name SKUs of the sandbox's catalog at its prices (any other line is a 422 REJECTED,
  which the document allows, but which would keep every generated order from ever being placed);
- a payment webhook names a configured provider and is signed the way that provider signs it. The body
  is serialized here, once, and sent as those bytes: the signature is over the exact bytes the API
  receives. (An unknown provider's 404 and a bad signature's 401 are tested in the jest suite.)
"""

import hashlib
import hmac
import json
import os
import time

import schemathesis
from schemathesis.core import NotSet

SECRETS = json.loads(os.environ["FUZZ_PROVIDER_SECRETS"])
CATALOG = json.loads(os.environ["FUZZ_CATALOG"])
WEBHOOKS = "/webhooks/payments/"


@schemathesis.hook
def map_body(context, body):
    operation = context.operation
    if operation is None or (operation.method.upper(), operation.path) != ("POST", "/orders"):
        return body
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return body
    for index, item in enumerate(body["items"]):
        if isinstance(item, dict):
            entry = CATALOG[index % len(CATALOG)]
            item["sku"], item["unitPrice"] = entry["sku"], entry["unitPrice"]
    return body


@schemathesis.hook
def map_path_parameters(context, path_parameters):
    operation = context.operation
    if operation is None or not operation.path.startswith(WEBHOOKS) or not isinstance(path_parameters, dict):
        return path_parameters
    providers = sorted(SECRETS)
    return {**path_parameters, "provider": providers[len(str(path_parameters.get("provider", ""))) % len(providers)]}


@schemathesis.hook
def before_call(context, case, **kwargs):
    if not case.operation.path.startswith(WEBHOOKS) or isinstance(case.body, NotSet):
        return
    secret = SECRETS.get((case.path_parameters or {}).get("provider"))
    if secret is None:
        return  # an unknown provider: its 404 is what is under test
    # Called again for a retry of the same case: the body is already the signed bytes.
    raw = case.body if isinstance(case.body, bytes) else json.dumps(case.body).encode()
    timestamp = int(time.time())
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
    case.body = raw
    case.media_type = "application/octet-stream"
    case.headers = {**(case.headers or {}), "Payment-Signature": f"t={timestamp},v1={digest}"}
