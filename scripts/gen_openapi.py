#!/usr/bin/env python3
"""Generate Slipstream's OpenAPI 3.0.3 document, the API target's resource file openapi.json.

Usage:
    python3 scripts/gen_openapi.py GA_API_DIR

GA_API_DIR is the folder holding operations.json and models.json (the machine-readable
description of the Huawei Cloud Global Accelerator v1 API). The script writes
Sources/SlipstreamAPI/Resources/openapi.json, located relative to this script
(../Sources/...), as pretty-printed JSON (2-space indent, sorted keys). The server serves
the file at GET /openapi.json and takes its routes and query rules from it.

The document covers only what Slipstream serves:
  * the GA operations whose resource_group is accelerator, listener, endpoint_group,
    endpoint or health_check, plus list_regions (GET /v1/regions);
  * the two IAM (Keystone) calls the SDK / clients need: POST /v3/auth/tokens and
    GET /v3/auth/domains;
  * GET /healthz, GET /metrics and GET /openapi.json.

Component schemas are derived from models.json for every model reachable from the served
operations' request/response bodies (through object:/array<object:...> field types and
enum_ref links).
"""

import argparse
import json
import re
import sys
from pathlib import Path

OPENAPI_VERSION = "3.0.3"
API_VERSION = "1.0.0"

# resource_group values (operations.json) that Slipstream serves, with their OpenAPI tag.
SERVED_GROUPS = {
    "accelerator": "Accelerators",
    "listener": "Listeners",
    "endpoint_group": "Endpoint groups",
    "endpoint": "Endpoints",
    "health_check": "Health checks",
    "ip_group": "IP groups",
    "quota": "Quotas",
    "pop": "PoPs",
    "byoip_pool": "BYOIP pools",
    "tag": "Tags",
    "logtank": "Logtanks",
}
# Individual operations served outside those groups.
EXTRA_OPERATIONS = {
    "list_regions": "Regions",
}

TAG_DESCRIPTIONS = {
    "Accelerators": "Global accelerators and their anycast IP sets.",
    "Listeners": "TCP/UDP listeners (port ranges) on an accelerator.",
    "IP groups": "CIDR lists bound to listeners as allow (WHITE) or deny (BLACK) lists.",
    "Quotas": "The account's quotas and their current use.",
    "PoPs": "The data-plane nodes serving this deployment.",
    "BYOIP pools": "Operator-configured bring-your-own-IP pools.",
    "Tags": "Tags of accelerators and listeners, and queries by tag.",
    "Logtanks": "Access logs of listeners, written by the data plane.",
    "Endpoint groups": "Per-region groups of endpoints bound to exactly one listener.",
    "Endpoints": "Backend endpoints (EIP, ECS, ELB, custom IP/domain) inside an endpoint group.",
    "Health checks": "Health checks of an endpoint group.",
    "Regions": "Regions in which endpoint groups may be created.",
    "IAM": "The subset of the IAM (Keystone v3) API that Huawei Cloud clients call: "
    "password token issuance and domain discovery.",
    "Service": "Operational endpoints of this server.",
}

# Create operations whose request body references other resources by id, so a missing
# referenced resource yields 404 (GA.9002).
CREATES_REFERENCING_RESOURCES = {
    "create_listener",          # listener.accelerator_id
    "create_endpoint_group",    # endpoint_group.listeners[].id
    "create_health_check",      # health_check.endpoint_group_id
    "create_logtank",           # logtank.resource_id (a listener)
}

# Limits the server enforces where models.json states none (model, field) -> constraints in models.json's
# notation. The server validates request bodies against the document this script writes, so these are enforced.
SERVER_FIELD_LIMITS = {
    ("CreateAcceleratorOption", "enterprise_project_id"): {"min_length": 1},
    ("CreateListenerOption", "port_ranges"): {"max_items": 10},
    ("UpdateListenerOption", "port_ranges"): {"max_items": 10},
    ("CreateEndpointGroupOption", "region_id"): {"min_length": 1, "max_length": 64},
    ("CreateEndpointOption", "resource_id"): {"min_length": 1, "max_length": 255},
    ("CreateEndpointOption", "ip_address"): {"min_length": 1, "max_length": 255},
    ("RemoveIpGroupIpRequestBody", "ip_list"): {"item_min_length": 1},
    ("AssociateListenerRequestBody", "listener_id"): {"min_length": 1},
    ("DisassociateListenerRequestBody", "listener_id"): {"min_length": 1},
    ("DeleteTagsRequestBody", "tags"): {"max_items": 20},
    ("CreateLogtankOption", "log_group_id"): {"min_length": 1, "max_length": 64},
    ("CreateLogtankOption", "log_stream_id"): {"min_length": 1, "max_length": 64},
    ("UpdateLogtankOption", "log_group_id"): {"min_length": 1, "max_length": 64},
    ("UpdateLogtankOption", "log_stream_id"): {"min_length": 1, "max_length": 64},
    # Tag keys and values: Unicode letters, digits and a few marks (the description says which); an empty key passes
    # the schema and is refused with the API's own code for it, GA.9109.
    ("ResourceTag", "key"): {"extensions": {"x-character-rule": "tag-key", "x-empty-refused-with": "GA.9109"}},
    ("ResourceTag", "value"): {"extensions": {"x-character-rule": "tag-value"}},
    ("DeletingResourceTag", "key"): {"extensions": {"x-empty-refused-with": "GA.9109"}},
    ("Tag", "key"): {"extensions": {"x-empty-refused-with": "GA.9109"}},
}

STATUS_DESCRIPTIONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
}

# Formats in models.json that are standard OpenAPI / JSON Schema formats and can be
# emitted as-is. Anything else is described in prose instead.
STANDARD_FORMATS = {"uuid", "date-time", "date", "email", "uri", "ipv4", "ipv6", "password"}

NAME_TO_PASCAL = re.compile(r"(?:^|_)([a-z0-9])")


def pascal(name):
    return NAME_TO_PASCAL.sub(lambda m: m.group(1).upper(), name)


def fail(message):
    print("gen_openapi.py: error: " + message, file=sys.stderr)
    sys.exit(1)


def load_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as exc:
        fail("cannot read {}: {}".format(path, exc))
    except json.JSONDecodeError as exc:
        fail("{} is not valid JSON: {}".format(path, exc))


# --------------------------------------------------------------------------------------
# models.json -> component schemas
# --------------------------------------------------------------------------------------

ARRAY_TYPE = re.compile(r"^array<(.+)>$")
OBJECT_TYPE = re.compile(r"^object:(\w+)$")


def referenced_models(type_string):
    return re.findall(r"object:(\w+)", type_string)


def join_sentences(parts):
    text = " ".join(p.strip() for p in parts if p and p.strip())
    return text or None


def sentence(text):
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?", ")")) else text + "."


class SchemaBuilder:
    def __init__(self, models):
        self.models = models

    def reachable(self, roots):
        """Model names reachable from roots (depth-first, in discovery order)."""
        seen = []

        def visit(name):
            if name in seen:
                return
            if name not in self.models:
                fail("models.json has no model named {!r}".format(name))
            seen.append(name)
            for field in self.models[name].get("fields", []):
                for ref in referenced_models(field["type"]):
                    visit(ref)
                if field.get("enum_ref"):
                    visit(field["enum_ref"])

        for root in roots:
            visit(root)
        return seen

    def scalar_schema(self, type_string):
        if type_string in ("string", "integer", "boolean", "number"):
            return {"type": type_string}
        match = OBJECT_TYPE.match(type_string)
        if match:
            return {"$ref": "#/components/schemas/" + match.group(1)}
        fail("unsupported type {!r}".format(type_string))

    def field_schema(self, field):
        type_string = field["type"]
        notes = []
        array_match = ARRAY_TYPE.match(type_string)
        if array_match:
            schema = {"type": "array", "items": self.scalar_schema(array_match.group(1))}
            items = schema["items"]
            if "min_items" in field:
                schema["minItems"] = field["min_items"]
            if "max_items" in field:
                schema["maxItems"] = field["max_items"]
            if "enum" in field:
                items["enum"] = list(field["enum"])
            if "item_min_length" in field:
                items["minLength"] = field["item_min_length"]
            if "item_max_length" in field:
                items["maxLength"] = field["item_max_length"]
            if "default" in field:
                schema["default"] = field["default"]
            target = items  # where string constraints below apply
        else:
            schema = self.scalar_schema(type_string)
            target = schema
            if "enum" in field:
                schema["enum"] = list(field["enum"])
            if "default" in field:
                schema["default"] = field["default"]

        if "min" in field:
            target["minimum"] = field["min"]
        if "max" in field:
            target["maximum"] = field["max"]
        if "min_length" in field:
            target["minLength"] = field["min_length"]
        if "max_length" in field:
            target["maxLength"] = field["max_length"]
        if "pattern" in field:
            target["pattern"] = field["pattern"]
        # Slipstream's own `x-` keywords: rules a JSON Schema pattern cannot state portably (Unicode letter classes,
        # reserved prefixes), and fields whose emptiness a rule answers with its own error code. The server builds
        # its request validation from this document, so these are the rules it enforces.
        target.update(field.get("extensions", {}))
        if "forbidden_chars" in field:
            chars = field["forbidden_chars"]
            readable = " ".join("'{}'".format(c) for c in chars)
            notes.append("Must not contain {}.".format(readable))
            if "pattern" not in field:
                target["pattern"] = "^[^{}]*$".format(
                    "".join("\\" + c if c in "\\]^-[" else c for c in chars)
                )
        if "format" in field:
            fmt = field["format"]
            if fmt in STANDARD_FORMATS:
                target["format"] = fmt
            elif fmt == "ip":
                notes.append("IPv4 or IPv6 address.")
            elif fmt.startswith("ip "):
                notes.append("IP address {}.".format(fmt[3:].strip()))
            else:
                notes.append("Format: {}.".format(fmt))
        if field.get("unit") == "s":
            notes.append("Unit: seconds.")
        elif field.get("unit"):
            notes.append("Unit: {}.".format(field["unit"]))
        if field.get("enum_ref"):
            notes.append("Values of the {} enumeration.".format(field["enum_ref"]))
        if field.get("note"):
            notes.insert(0, sentence(field["note"]))

        description = join_sentences(notes)
        if description:
            if "$ref" in schema:
                # Siblings of $ref are ignored in OpenAPI 3.0; wrap to keep the description.
                schema = {"allOf": [schema], "description": description}
            else:
                schema["description"] = description
        return schema

    def model_schema(self, name):
        model = self.models[name]
        kind = model["kind"]
        if kind == "enum":
            return {
                "type": model.get("type", "string"),
                "enum": list(model["values"]),
                "description": "Enumeration {} (fields using it list the values inline).".format(name),
            }
        schema = {"type": "object", "properties": {}}
        required = []
        for field in model.get("fields", []):
            field = dict(field, **SERVER_FIELD_LIMITS.get((name, field["name"]), {}))
            if field.get("in") not in (None, "body"):
                fail("model {} field {} is a {} parameter, not a body field".format(
                    name, field["name"], field["in"]))
            schema["properties"][field["name"]] = self.field_schema(field)
            if field.get("required"):
                required.append(field["name"])
        if required:
            schema["required"] = required
        if len(schema["properties"]) > 1:
            # The order models.json lists the fields in, which JSON objects do not keep: the server checks a body's
            # fields in this order, so a body with several faults is answered about the first of them.
            schema["x-field-order"] = [field["name"] for field in model.get("fields", [])]
        descriptions = {
            "request_body": "Request body.",
            "response_body": "Response body.",
        }
        description = join_sentences([
            descriptions.get(kind, ""),
            sentence(model["note"]) if model.get("note") else "",
        ])
        if description:
            schema["description"] = description
        return schema


# --------------------------------------------------------------------------------------
# Shared components
# --------------------------------------------------------------------------------------

ERROR_RESPONSES = {
    400: ("BadRequest",
          "The request is malformed or fails validation: invalid JSON, a missing or invalid field or "
          "parameter (GA.9001), a target resource not in an operable state (GA.9004), invalid or "
          "overlapping listener port ranges (GA.9101), an exhausted quota (GA.9103), a duplicate "
          "(GA.9104), or a region without acceleration capability (GA.9105).",
          {"error_code": "GA.9001", "error_msg": "Invalid name: length must be 1-64",
           "request_id": "7f0c2f4e-0000-4000-8000-000000000400"}),
    401: ("Unauthorized",
          "Authentication failed: missing or invalid SDK-HMAC-SHA256 signature (Authorization), missing, "
          "invalid or expired X-Auth-Token, or (for POST /v3/auth/tokens) wrong user name, password or "
          "domain (APIGW.0301).",
          {"error_code": "APIGW.0301",
           "error_msg": "Incorrect IAM authentication information: verify aksk signature fail",
           "request_id": "7f0c2f4e-0000-4000-8000-000000000401"}),
    404: ("NotFound",
          "A resource named in the path or referenced by the request body does not exist (GA.9002).",
          {"error_code": "GA.9002", "error_msg": "Not found: accelerator 3c1f0d2e-0000-4000-8000-00000000a001",
           "request_id": "7f0c2f4e-0000-4000-8000-000000000404"}),
    409: ("Conflict",
          "The resource cannot be deleted because other resources still depend on it (GA.9005), e.g. an "
          "accelerator with listeners, a listener with an endpoint group, or an endpoint group with "
          "endpoints or a health check.",
          {"error_code": "GA.9005",
           "error_msg": "Found accelerator 3c1f0d2e-0000-4000-8000-00000000a001 is associated by listener",
           "request_id": "7f0c2f4e-0000-4000-8000-000000000409"}),
    413: ("PayloadTooLarge",
          "The request body exceeds the server's size limit (GA.9001; 1 MiB unless configured otherwise).",
          {"error_code": "GA.9001", "error_msg": "Invalid body: larger than 1048576 bytes",
           "request_id": "7f0c2f4e-0000-4000-8000-000000000413"}),
    500: ("InternalServerError",
          "Unexpected server-side failure (SYS.0500, GA.92xx).",
          {"error_code": "SYS.0500", "error_msg": "There was an internal server error",
           "request_id": "7f0c2f4e-0000-4000-8000-000000000500"}),
}

REQUEST_ID_HEADER = {"$ref": "#/components/headers/X-Request-Id"}


def shared_components():
    headers = {
        "X-Request-Id": {
            "description": "Identifier the server assigns to the request. It is sent on every response, "
                           "and JSON bodies repeat it as request_id. The Huawei Cloud SDK takes the "
                           "request id of an error from this header.",
            "schema": {"type": "string"},
        },
        "X-Subject-Token": {
            "description": "The issued IAM token. Send it as X-Auth-Token on later requests.",
            "required": True,
            "schema": {"type": "string"},
        },
    }
    schemas = {
        "ErrorResponse": {
            "type": "object",
            "description": "Error body, in the format Huawei Cloud uses. The SDK reads error_code and error_msg; "
                           "it takes the request id from the X-Request-Id header.",
            "properties": {
                "error_code": {"type": "string",
                               "description": "Machine-readable error code, e.g. GA.9001, GA.9002, APIGW.0301."},
                "error_msg": {"type": "string", "description": "Human-readable error message."},
                "request_id": {"type": "string", "description": "Same value as the X-Request-Id header."},
            },
            "required": ["error_code", "error_msg"],
        },
    }
    responses = {}
    for status, (name, description, example) in ERROR_RESPONSES.items():
        media = {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}
        if example is not None:
            media["example"] = example
        responses[name] = {
            "description": description,
            "headers": {"X-Request-Id": REQUEST_ID_HEADER},
            "content": {"application/json": media},
        }
    security_schemes = {
        "AkSkSignature": {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "AK/SK request signing as done by the Huawei Cloud SDKs (algorithm SDK-HMAC-SHA256). "
                "Header format: `Authorization: SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<h1;h2;...>, "
                "Signature=<hex>`. The request must also carry `X-Sdk-Date: YYYYMMDDTHHMMSSZ` (UTC), and "
                "x-sdk-date and host must be among the signed headers.\n\n"
                "Signature = lowercase hex of HMAC-SHA256(key = SK, message = StringToSign). No key derivation.\n"
                "StringToSign = `SDK-HMAC-SHA256\\n<X-Sdk-Date>\\n<hex SHA-256 of CanonicalRequest>`.\n"
                "CanonicalRequest = `METHOD\\nCanonicalURI\\nCanonicalQuery\\nCanonicalHeaders\\nSignedHeaders\\n"
                "PayloadHash`, where:\n"
                "* CanonicalURI: the path percent-decoded, split on '/', each segment percent-encoded keeping "
                "only A-Z a-z 0-9 - _ . ~ (uppercase hex), re-joined, with a trailing '/' appended when missing;\n"
                "* CanonicalQuery: (key, value) pairs sorted by key then value, both encoded with the same rule, "
                "joined as k=v with '&' (empty when there is no query);\n"
                "* CanonicalHeaders: one `lowercase-name:trimmed-value\\n` line per signed header, in the "
                "SignedHeaders order (names sorted, lowercase, joined with ';');\n"
                "* PayloadHash: lowercase hex SHA-256 of the exact body bytes (of the empty string when there "
                "is no body). An X-Sdk-Content-Sha256 header counts only when signed and must equal that hash; "
                "UNSIGNED-PAYLOAD is accepted only without a body.\n\n"
                "X-Domain-Id, X-Project-Id, X-Security-Token and X-Sdk-Content-Sha256 must be signed when present, "
                "a signed header must appear once, and a path may not contain an encoded '/' (%2F).\n\n"
                "The SDK typically signs content-type;host;user-agent;x-sdk-date plus x-domain-id or "
                "x-project-id when it knows them. Verification failure answers 401 with APIGW.0301."
            ),
        },
        "IamToken": {
            "type": "apiKey",
            "in": "header",
            "name": "X-Auth-Token",
            "description": "IAM token obtained from POST /v3/auth/tokens (returned in its X-Subject-Token "
                           "response header). Requests that send it need no Authorization header.",
        },
    }
    return headers, schemas, responses, security_schemes


# --------------------------------------------------------------------------------------
# IAM (Keystone) and service schemas (not part of models.json)
# --------------------------------------------------------------------------------------

def id_name_object(description, required=("id", "name")):
    return {
        "type": "object",
        "description": description,
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
        },
        "required": list(required),
    }


def iam_schemas():
    ref = lambda name: {"$ref": "#/components/schemas/" + name}  # noqa: E731
    return {
        "KeystoneCreateUserTokenByPasswordRequestBody": {
            "type": "object",
            "description": "Request body of POST /v3/auth/tokens (password authentication, domain scope).",
            "properties": {"auth": ref("KeystonePasswordAuth")},
            "required": ["auth"],
        },
        "KeystonePasswordAuth": {
            "type": "object",
            "properties": {
                "identity": ref("KeystonePasswordIdentity"),
                "scope": ref("KeystoneDomainScope"),
            },
            "required": ["identity", "scope"],
        },
        "KeystonePasswordIdentity": {
            "type": "object",
            "properties": {
                "methods": {
                    "type": "array",
                    "description": "Authentication methods; must be [\"password\"].",
                    "items": {"type": "string", "enum": ["password"]},
                    "minItems": 1,
                },
                "password": ref("KeystonePasswordCredentials"),
            },
            "required": ["methods", "password"],
        },
        "KeystonePasswordCredentials": {
            "type": "object",
            "properties": {"user": ref("KeystonePasswordUser")},
            "required": ["user"],
        },
        "KeystonePasswordUser": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "IAM user name."},
                "password": {"type": "string", "format": "password", "description": "IAM user password."},
                "domain": ref("KeystoneDomainByName"),
            },
            "required": ["name", "password", "domain"],
        },
        "KeystoneDomainByName": {
            "type": "object",
            "description": "The account (domain) the user belongs to.",
            "properties": {"name": {"type": "string", "description": "Account (domain) name."}},
            "required": ["name"],
        },
        "KeystoneDomainScope": {
            "type": "object",
            "description": "Token scope. Only domain scope is supported (GA is a global service).",
            "properties": {"domain": ref("KeystoneDomainRef")},
            "required": ["domain"],
        },
        "KeystoneDomainRef": {
            "type": "object",
            "description": "Domain identified by id or by name.",
            "properties": {
                "id": {"type": "string", "description": "Domain id."},
                "name": {"type": "string", "description": "Domain name."},
            },
            "anyOf": [{"required": ["id"]}, {"required": ["name"]}],
        },
        "KeystoneCreateUserTokenByPasswordResponse": {
            "type": "object",
            "description": "Response body of POST /v3/auth/tokens. The token itself is in the "
                           "X-Subject-Token response header.",
            "properties": {"token": ref("KeystoneTokenResult")},
            "required": ["token"],
        },
        "KeystoneTokenResult": {
            "type": "object",
            "properties": {
                "expires_at": {"type": "string", "format": "date-time",
                               "description": "Expiry time (ISO-8601 UTC), e.g. 2020-01-04T09:05:22.701000Z."},
                "issued_at": {"type": "string", "format": "date-time",
                              "description": "Issue time (ISO-8601 UTC)."},
                "methods": {"type": "array", "items": {"type": "string"},
                            "description": "Authentication methods used, e.g. [\"password\"]."},
                "domain": ref("KeystoneTokenDomain"),
                "user": ref("KeystoneTokenUser"),
                "roles": {"type": "array", "items": ref("KeystoneTokenRole"),
                          "description": "Roles granted to the user; may be empty."},
            },
            "required": ["expires_at", "issued_at", "methods", "domain", "user", "roles"],
        },
        "KeystoneTokenDomain": id_name_object("Domain (account) the token is scoped to or the user belongs to."),
        "KeystoneTokenUser": {
            "type": "object",
            "description": "The authenticated user.",
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "domain": ref("KeystoneTokenDomain"),
            },
            "required": ["id", "name", "domain"],
        },
        "KeystoneTokenRole": id_name_object("A role granted to the user."),
        "KeystoneListAuthDomainsResponse": {
            "type": "object",
            "description": "Domains the caller may access. The Huawei Cloud SDK uses domains[0].id as the domain id "
                           "(X-Domain-Id) when it was not configured.",
            "properties": {
                "domains": {"type": "array", "items": ref("KeystoneAuthDomain")},
            },
            "required": ["domains"],
        },
        "KeystoneAuthDomain": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "description": "Domain (account) id."},
                "name": {"type": "string", "description": "Domain (account) name."},
                "enabled": {"type": "boolean", "description": "Whether the domain is enabled."},
            },
            "required": ["id", "name", "enabled"],
        },
    }


# --------------------------------------------------------------------------------------
# Operations
# --------------------------------------------------------------------------------------

def param_schema(param):
    """The parameter's schema. Types are mapped from the reference's notation (`array<string>`) to OpenAPI's."""
    array_match = ARRAY_TYPE.match(param["type"])
    if array_match:
        item_type = array_match.group(1)
        if item_type not in ("string", "integer", "boolean", "number"):
            fail("parameter {} has unsupported item type {!r}".format(param["name"], item_type))
        schema = {"type": "array", "items": {"type": item_type}}
        if "enum" in param:
            schema["items"]["enum"] = list(param["enum"])
        return schema
    if param["type"] not in ("string", "integer", "boolean", "number"):
        fail("parameter {} has unsupported type {!r}".format(param["name"], param["type"]))
    schema = {"type": param["type"]}
    for source, target in (("min", "minimum"), ("max", "maximum"), ("min_length", "minLength"),
                           ("max_length", "maxLength"), ("pattern", "pattern"), ("default", "default")):
        if source in param:
            schema[target] = param[source]
    if "enum" in param:
        schema["enum"] = list(param["enum"])
    return schema


def parameter_object(param, location):
    obj = {
        "name": param["name"],
        "in": location,
        "required": True if location == "path" else bool(param.get("required")),
        "schema": param_schema(param),
    }
    description = param.get("note")
    if location == "path" and not description:
        description = "Id of the {}.".format(param["name"][:-3].replace("_", " ")) \
            if param["name"].endswith("_id") else None
    if description:
        obj["description"] = sentence(description)
    return obj


class ParameterRegistry:
    """Shares identical parameter definitions through components/parameters."""

    def __init__(self):
        self.components = {}

    def ref(self, param, location):
        obj = parameter_object(param, location)
        key = pascal(param["name"]) + ("Path" if location == "path" else "Query")
        existing = self.components.get(key)
        if existing is None:
            self.components[key] = obj
        elif existing != obj:
            return obj  # same name, different definition: keep it inline
        return {"$ref": "#/components/parameters/" + key}


def error_refs(statuses):
    return {str(s): {"$ref": "#/components/responses/" + ERROR_RESPONSES[s][0]} for s in statuses}


def ga_operation(op, tag, params):
    name = op["name"]
    path_params = op.get("path_params") or []
    query_params = op.get("query_params") or []
    status = int(op["success_status"])

    description_parts = [sentence(op["summary"])]
    if op.get("async"):
        description_parts.append("Asynchronous: {}".format(sentence(op["async"])))
    if op.get("note"):
        description_parts.append(sentence(op["note"]))
    operation = {
        "operationId": name,
        "summary": op["summary"].rstrip("."),
        "description": " ".join(description_parts),
        "tags": [tag],
    }
    parameters = [params.ref(p, "path") for p in path_params] + \
                 [params.ref(p, "query") for p in query_params]
    if parameters:
        operation["parameters"] = parameters

    if op.get("request_body"):
        operation["requestBody"] = {
            "required": True,
            "content": {
                op.get("request_content_type") or "application/json": {
                    "schema": {"$ref": "#/components/schemas/" + op["request_body"]},
                },
            },
        }

    success = {
        "description": STATUS_DESCRIPTIONS.get(status, "Success"),
        "headers": {"X-Request-Id": REQUEST_ID_HEADER},
    }
    has_body = status != 204 and op.get("response_has_body", True) and op.get("response_body")
    if has_body:
        success["content"] = {
            "application/json": {"schema": {"$ref": "#/components/schemas/" + op["response_body"]}},
        }
    responses = {str(status): success}

    errors = [401, 500]
    if op.get("request_body") or path_params or query_params:
        errors.append(400)
    if path_params or name in CREATES_REFERENCING_RESOURCES:
        errors.append(404)
    # Deletes that the service blocks while dependants exist (operations.json "async" says
    # "requires no ...") answer 409 GA.9005.
    if op["method"].upper() == "DELETE" and "requires no" in (op.get("async") or ""):
        errors.append(409)
    if op.get("request_body"):
        errors.append(413)
    responses.update(error_refs(sorted(errors)))
    operation["responses"] = responses
    return operation


def iam_and_service_paths():
    json_ref = lambda name: {"application/json": {"schema": {"$ref": "#/components/schemas/" + name}}}  # noqa
    return {
        ("/v3/auth/tokens", "post"): {
            "operationId": "keystone_create_user_token_by_password",
            "summary": "Obtain an IAM user token through password authentication",
            "description": "Issues a domain-scoped token for an IAM user (Keystone v3 password method). The "
                           "token is returned in the X-Subject-Token response header; send it as "
                           "X-Auth-Token on GA requests. No request signing is needed.",
            "tags": ["IAM"],
            "security": [],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/KeystoneCreateUserTokenByPasswordRequestBody"},
                        "example": {"auth": {
                            "identity": {"methods": ["password"],
                                         "password": {"user": {"name": "iam-user", "password": "******",
                                                               "domain": {"name": "account-name"}}}},
                            "scope": {"domain": {"name": "account-name"}}}},
                    },
                },
            },
            "responses": dict({
                "201": {
                    "description": "Created. The token is in the X-Subject-Token header.",
                    "headers": {
                        "X-Request-Id": REQUEST_ID_HEADER,
                        "X-Subject-Token": {"$ref": "#/components/headers/X-Subject-Token"},
                    },
                    "content": json_ref("KeystoneCreateUserTokenByPasswordResponse"),
                },
            }, **error_refs([400, 401, 413, 500])),
        },
        ("/v3/auth/domains", "get"): {
            "operationId": "keystone_list_auth_domains",
            "summary": "List the domains the caller may access",
            "description": "The Huawei Cloud SDK (GlobalCredentials without a domain id) calls this and "
                           "uses domains[0].id as X-Domain-Id.",
            "tags": ["IAM"],
            "responses": dict({
                "200": {
                    "description": "OK",
                    "headers": {"X-Request-Id": REQUEST_ID_HEADER},
                    "content": json_ref("KeystoneListAuthDomainsResponse"),
                },
            }, **error_refs([401, 500])),
        },
        ("/healthz", "get"): {
            "operationId": "healthz",
            "summary": "Liveness probe",
            "description": "Returns the text `ok` while the server is running. No authentication.",
            "tags": ["Service"],
            "security": [],
            "responses": {
                "200": {
                    "description": "The server is up.",
                    "headers": {"X-Request-Id": REQUEST_ID_HEADER},
                    "content": {"text/plain": {"schema": {"type": "string", "enum": ["ok"]}, "example": "ok"}},
                },
            },
        },
        ("/metrics", "get"): {
            "operationId": "metrics",
            "summary": "Prometheus metrics",
            "description": "Data-plane and API metrics in the Prometheus text format (version 0.0.4). No authentication.",
            "tags": ["Service"],
            "security": [],
            "responses": {
                "200": {
                    "description": "The metrics.",
                    "headers": {"X-Request-Id": REQUEST_ID_HEADER},
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
            },
        },
        ("/openapi.json", "get"): {
            "operationId": "openapi",
            "summary": "This OpenAPI document",
            "description": "Returns the OpenAPI 3.0.3 description of the API this server serves. No authentication.",
            "tags": ["Service"],
            "security": [],
            "responses": {
                "200": {
                    "description": "The OpenAPI document.",
                    "headers": {"X-Request-Id": REQUEST_ID_HEADER},
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
            },
        },
    }


# --------------------------------------------------------------------------------------
# Document assembly
# --------------------------------------------------------------------------------------

def build_document(operations, models):
    served = []
    for op in operations:
        tag = SERVED_GROUPS.get(op.get("resource_group")) or EXTRA_OPERATIONS.get(op.get("name"))
        if tag:
            served.append((op, tag))
    names = {op["name"] for op, _ in served}
    missing = sorted(set(EXTRA_OPERATIONS) - names)
    if missing:
        fail("operations.json lacks required operation(s): " + ", ".join(missing))
    groups_found = {op["resource_group"] for op, _ in served}
    missing_groups = sorted(set(SERVED_GROUPS) - groups_found)
    if missing_groups:
        fail("operations.json has no operations in resource group(s): " + ", ".join(missing_groups))

    builder = SchemaBuilder(models)
    roots = []
    for op, _ in served:
        if op.get("request_body"):
            roots.append(op["request_body"])
        has_body = int(op["success_status"]) != 204 and op.get("response_has_body", True)
        if op.get("response_body") and has_body:
            roots.append(op["response_body"])

    headers, schemas, responses, security_schemes = shared_components()
    for name in builder.reachable(roots):
        if name in schemas:
            fail("model name {!r} collides with a built-in schema".format(name))
        schemas[name] = builder.model_schema(name)
    for name, schema in iam_schemas().items():
        if name in schemas:
            fail("IAM schema name {!r} collides with a models.json schema".format(name))
        schemas[name] = schema

    params = ParameterRegistry()
    paths = {}

    def add(path, method, operation):
        item = paths.setdefault(path, {})
        if method in item:
            fail("duplicate operation {} {}".format(method.upper(), path))
        item[method] = operation

    for op, tag in served:
        add(op["path"], op["method"].lower(), ga_operation(op, tag, params))
    for (path, method), operation in iam_and_service_paths().items():
        add(path, method, operation)

    used_tags = []
    for item in paths.values():
        for operation in item.values():
            for tag in operation.get("tags", []):
                if tag not in used_tags:
                    used_tags.append(tag)
    tag_order = list(SERVED_GROUPS.values()) + list(EXTRA_OPERATIONS.values()) + ["IAM", "Service"]
    tags = [{"name": t, "description": TAG_DESCRIPTIONS[t]} for t in tag_order if t in used_tags]

    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Slipstream: Huawei Cloud Global Accelerator v1 API (subset)",
            "version": API_VERSION,
            "description": (
                "Slipstream is a self-hosted server that speaks part of the Huawei Cloud Global Accelerator (GA) "
                "v1 REST API: accelerators, listeners, endpoint groups, endpoints, health checks and the region "
                "list, plus the IAM calls clients need to authenticate (password tokens and domain discovery).\n\n"
                "Authentication: sign requests with AK/SK (`Authorization: SDK-HMAC-SHA256 ...`, as the Huawei "
                "Cloud SDKs do) or send an IAM token in `X-Auth-Token`. Request and response objects are wrapped "
                "in a singular key (e.g. `{\"accelerator\": {...}}`); lists use the plural key plus `page_info` "
                "(marker paging). Create, update and delete are asynchronous: new objects start out `PENDING`. "
                "Errors use the body `{\"error_code\", \"error_msg\", \"request_id\"}`, and every response carries "
                "an `X-Request-Id` header."
            ),
        },
        "servers": [{"url": "/", "description": "This Slipstream instance"}],
        "tags": tags,
        "security": [{"AkSkSignature": []}, {"IamToken": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": params.components,
            "responses": responses,
            "headers": headers,
            "securitySchemes": security_schemes,
        },
    }


def render_json(document):
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Generate Sources/SlipstreamAPI/Resources/openapi.json (OpenAPI 3.0.3).")
    parser.add_argument("ga_api_dir", metavar="GA_API_DIR",
                        help="folder holding operations.json and models.json")
    args = parser.parse_args(argv)

    ga_dir = Path(args.ga_api_dir)
    operations = load_json(ga_dir / "operations.json")
    models = load_json(ga_dir / "models.json")
    if not isinstance(operations, list) or not isinstance(models, dict):
        fail("expected operations.json to hold a list and models.json an object")

    document = build_document(operations, models)
    out = Path(__file__).resolve().parent.parent / "Sources" / "SlipstreamAPI" / "Resources" / "openapi.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_json(document), encoding="utf-8")

    count = sum(len(item) for item in document["paths"].values())
    print("wrote {} ({} operations, {} schemas)".format(out, count, len(document["components"]["schemas"])))


if __name__ == "__main__":
    main()
