"""Raw wire format (plain requests with an IAM token): headers, JSON shapes and types, malformed bodies."""
import json
import re
import uuid

import requests

from conftest import OUTOFCM_REGION, fresh_endpoint_ip, free_port, wait_for

TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00:00)$")


def _ok(r, status):
    assert r.status_code == status, "%s %s -> %s %s" % (r.request.method, r.request.url, r.status_code, r.text[:500])
    assert r.headers.get("X-Request-Id"), "missing X-Request-Id on %s %s" % (r.request.method, r.request.url)
    if status != 204:
        assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers.get("Content-Type")
        body = r.json()
        assert body.get("request_id") == r.headers["X-Request-Id"], \
            "body request_id %r != X-Request-Id %r" % (body.get("request_id"), r.headers["X-Request-Id"])
        return body
    return None


def _err(r, status, code):
    assert r.status_code == status, "%s %s -> %s %s" % (r.request.method, r.request.url, r.status_code, r.text[:500])
    rid = r.headers.get("X-Request-Id")
    assert rid, "missing X-Request-Id on error"
    assert r.headers.get("Content-Type", "").startswith("application/json")
    body = r.json()
    assert body.get("error_code") == code, body
    assert isinstance(body.get("error_msg"), str) and body["error_msg"], body
    if "request_id" in body:
        assert body["request_id"] == rid
    return body


def _check_common(obj, domain_id):
    assert isinstance(obj["id"], str) and len(obj["id"]) <= 36
    uuid.UUID(obj["id"])
    assert obj["status"] in ("ACTIVE", "PENDING", "ERROR", "DELETING")
    for k in ("created_at", "updated_at"):
        assert isinstance(obj[k], str) and TS_RE.match(obj[k]), "%s=%r is not an ISO-8601 UTC timestamp" % (k, obj[k])
    assert obj["domain_id"] == domain_id
    fi = obj["frozen_info"]
    assert type(fi["status"]) is int and type(fi["effect"]) is int and isinstance(fi["scene"], list), fi


def _wait_active_raw(acct, path, key):
    return wait_for(lambda: acct.raw("GET", path).json()[key], lambda o: o.get("status") == "ACTIVE",
                    desc="%s ACTIVE" % path)


def test_full_chain_raw_shapes(acct_a):
    a = acct_a
    # accelerator
    r = a.raw("POST", "/v1/accelerators", json={"accelerator": {
        "name": "raw-acc-" + uuid.uuid4().hex[:8], "enterprise_project_id": "0",
        "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}]}})
    acc = _ok(r, 201)["accelerator"]
    _check_common(acc, a.domain_id)
    assert acc["status"] == "PENDING"
    assert isinstance(acc["ip_sets"], list) and isinstance(acc["ip_sets"][0]["ip_address"], str)
    assert acc.get("description") in ("", None)
    assert isinstance(acc.get("tags", []), list)
    _wait_active_raw(a, "/v1/accelerators/" + acc["id"], "accelerator")
    # listener
    r = a.raw("POST", "/v1/listeners", json={"listener": {
        "name": "raw-lis", "protocol": "TCP", "port_ranges": [{"from_port": 80, "to_port": 80}],
        "accelerator_id": acc["id"]}})
    lis = _ok(r, 201)["listener"]
    _check_common(lis, a.domain_id)
    assert lis["port_ranges"] == [{"from_port": 80, "to_port": 80}]
    assert lis["client_affinity"] == "NONE"
    _wait_active_raw(a, "/v1/listeners/" + lis["id"], "listener")
    # endpoint group
    r = a.raw("POST", "/v1/endpoint-groups", json={"endpoint_group": {
        "name": "raw-eg", "region_id": OUTOFCM_REGION, "listeners": [{"id": lis["id"]}]}})
    eg = _ok(r, 201)["endpoint_group"]
    _check_common(eg, a.domain_id)
    assert type(eg["traffic_dial_percentage"]) is int and eg["traffic_dial_percentage"] == 100
    assert eg["listeners"] == [{"id": lis["id"]}]
    _wait_active_raw(a, "/v1/endpoint-groups/" + eg["id"], "endpoint_group")
    # endpoint
    ip = fresh_endpoint_ip()
    r = a.raw("POST", "/v1/endpoint-groups/%s/endpoints" % eg["id"], json={"endpoint": {
        "resource_id": str(uuid.uuid4()), "resource_type": "EIP", "ip_address": ip}})
    ep = _ok(r, 201)["endpoint"]
    _check_common(ep, a.domain_id)
    assert type(ep["weight"]) is int and ep["weight"] == 1
    assert ep["health_state"] == "NO_MONITOR"
    assert ep["endpoint_group_id"] == eg["id"] and ep["ip_address"] == ip
    # health check
    r = a.raw("POST", "/v1/health-checks", json={"health_check": {
        "endpoint_group_id": eg["id"], "protocol": "TCP", "port": free_port(), "interval": 5, "timeout": 3,
        "max_retries": 3, "enabled": False}})
    hc = _ok(r, 201)["health_check"]
    _check_common(hc, a.domain_id)
    assert hc["enabled"] is False
    for k in ("port", "interval", "timeout", "max_retries"):
        assert type(hc[k]) is int, (k, hc[k])
    # lists carry page_info with an int current_count
    for path, key in [("/v1/accelerators", "accelerators"), ("/v1/listeners", "listeners"),
                      ("/v1/endpoint-groups", "endpoint_groups"),
                      ("/v1/endpoint-groups/%s/endpoints" % eg["id"], "endpoints"),
                      ("/v1/health-checks", "health_checks")]:
        body = _ok(a.raw("GET", path, params={"limit": 1}), 200)
        assert isinstance(body[key], list) and len(body[key]) == 1
        assert type(body["page_info"]["current_count"]) is int and body["page_info"]["current_count"] == 1
    # updates and deletes
    _wait_active_raw(a, "/v1/endpoint-groups/%s/endpoints/%s" % (eg["id"], ep["id"]), "endpoint")
    _wait_active_raw(a, "/v1/health-checks/" + hc["id"], "health_check")
    r = a.raw("PUT", "/v1/endpoint-groups/%s/endpoints/%s" % (eg["id"], ep["id"]), json={"endpoint": {"weight": 3}})
    assert _ok(r, 200)["endpoint"]["weight"] == 3
    r = a.raw("DELETE", "/v1/health-checks/" + hc["id"])
    _ok(r, 204)
    assert r.content == b""
    r = a.raw("DELETE", "/v1/endpoint-groups/%s/endpoints/%s" % (eg["id"], ep["id"]))
    _ok(r, 204)
    # regions
    body = _ok(a.raw("GET", "/v1/regions"), 200)
    assert all(isinstance(x["region_id"], str) and x["area"] in ("OUTOFCM", "CM") for x in body["regions"])


def test_request_ids_are_unique(acct_a):
    ids = {acct_a.raw("GET", "/v1/regions").headers.get("X-Request-Id") for _ in range(5)}
    assert None not in ids and len(ids) == 5


def test_request_id_on_healthz_and_errors(server, acct_a):
    r = requests.get(server.endpoint + "/healthz", timeout=10)
    assert r.status_code == 200 and r.headers.get("X-Request-Id")
    _err(acct_a.raw("GET", "/v1/accelerators/" + str(uuid.uuid4())), 404, "GA.9002")
    _err(acct_a.raw("GET", "/v1/listeners/" + str(uuid.uuid4())), 404, "GA.9002")
    _err(acct_a.raw("DELETE", "/v1/health-checks/" + str(uuid.uuid4())), 404, "GA.9002")


def test_malformed_json_is_ga9001(acct_a):
    r = acct_a.raw("POST", "/v1/accelerators", data=b'{"accelerator": {"name": "x"')
    _err(r, 400, "GA.9001")
    r = acct_a.raw("POST", "/v1/listeners", data=b"not json at all")
    _err(r, 400, "GA.9001")
    r = acct_a.raw("POST", "/v1/accelerators", data=b"[1, 2, 3]")
    _err(r, 400, "GA.9001")


def test_missing_wrapper_key_is_ga9001(acct_a):
    _err(acct_a.raw("POST", "/v1/accelerators", json={}), 400, "GA.9001")
    _err(acct_a.raw("POST", "/v1/accelerators", json={"name": "flat", "enterprise_project_id": "0",
                                                      "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}]}),
         400, "GA.9001")
    _err(acct_a.raw("POST", "/v1/health-checks", json={"healthcheck": {}}), 400, "GA.9001")


def test_wrong_json_types_are_ga9001(acct_a):
    r = acct_a.raw("POST", "/v1/accelerators", json={"accelerator": {
        "name": "types", "enterprise_project_id": "0", "ip_sets": {"ip_type": "IPV4", "area": "OUTOFCM"}}})
    _err(r, 400, "GA.9001")
    r = acct_a.raw("POST", "/v1/accelerators", json={"accelerator": "not-an-object"})
    _err(r, 400, "GA.9001")


def test_unknown_route_is_404(acct_a):
    r = acct_a.raw("GET", "/v1/no-such-thing")
    assert r.status_code == 404
    assert r.headers.get("X-Request-Id")


def test_update_with_empty_object_changes_nothing(acct_a):
    r = acct_a.raw("POST", "/v1/accelerators", json={"accelerator": {
        "name": "raw-empty-upd", "description": "keep", "enterprise_project_id": "0",
        "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}]}})
    acc = _ok(r, 201)["accelerator"]
    _wait_active_raw(acct_a, "/v1/accelerators/" + acc["id"], "accelerator")
    r = acct_a.raw("PUT", "/v1/accelerators/" + acc["id"], json={"accelerator": {}})
    got = _ok(r, 200)["accelerator"]
    assert got["name"] == "raw-empty-upd" and got["description"] == "keep"


def test_non_integer_query_values_are_ga9001(acct_a):
    _err(acct_a.raw("GET", "/v1/accelerators", params={"limit": "abc"}), 400, "GA.9001")
    _err(acct_a.raw("GET", "/v1/listeners", params={"limit": "1.5"}), 400, "GA.9001")


def test_oversized_default_body_rejected(server, acct_a):
    """Default SLIPSTREAM_MAX_BODY_BYTES is 1 MiB: a 1.5 MiB body is refused with a 4xx (never 2xx/5xx)."""
    big = json.dumps({"accelerator": {"name": "big", "enterprise_project_id": "0",
                                      "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}],
                                      "padding": "p" * (1536 * 1024)}}).encode()
    try:
        r = acct_a.raw("POST", "/v1/accelerators", data=big)
        assert r.status_code in (400, 413), (r.status_code, r.text[:300])
        assert r.headers.get("X-Request-Id")
    except requests.ConnectionError:
        pass
    assert requests.get(server.endpoint + "/healthz", timeout=10).status_code == 200


def test_wrong_method_is_405_with_allow(acct_a):
    r = acct_a.raw("PATCH", "/v1/accelerators")
    _err(r, 405, "APIGW.0101")
    assert r.headers.get("Allow") == "GET, POST", r.headers
    r = acct_a.raw("POST", "/v1/endpoint-groups/abc/endpoints/def", json={})
    _err(r, 405, "APIGW.0101")
    assert r.headers.get("Allow") == "DELETE, GET, PUT", r.headers


def test_path_ids_are_checked_after_percent_decoding(acct_a):
    # 20 two-byte characters: 20 characters (not found), not the 120 of their encoded text (too long).
    _err(acct_a.raw("GET", "/v1/accelerators/" + "%C3%A9" * 20), 404, "GA.9002")
    _err(acct_a.raw("GET", "/v1/accelerators/" + "%C3%A9" * 37), 400, "GA.9001")


def test_logtank_for_an_unknown_listener_is_404(acct_a):
    body = {"logtank": {"resource_type": "LISTENER", "resource_id": str(uuid.uuid4()),
                        "log_group_id": "g1", "log_stream_id": "s1"}}
    _err(acct_a.raw("POST", "/v1/logtanks", json=body), 404, "GA.9002")
    spec = requests.get(acct_a.server.endpoint + "/openapi.json", timeout=30).json()
    assert "404" in spec["paths"]["/v1/logtanks"]["post"]["responses"]
