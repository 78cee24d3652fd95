"""AK/SK signature verification details, using the SDK's own Signer on hand-built requests.

A request signed by huaweicloudsdkcore's Signer is sent with `requests` exactly as signed; then one signed part is
changed after signing and the server must answer 401 APIGW.0301.
"""
import datetime
import hashlib
import http.client
import json
import uuid

import pytest
import requests

from huaweicloudsdkcore.auth.credentials import GlobalCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from conftest import ListAcceleratorsRequest, ShowAcceleratorRequest, create_accelerator

UA = "huaweicloud-usdk-python/3.0; conformance"


def _signed(server, creds, method, path, query=None, body=None, sdk_date=None, domain_header=True):
    host = "127.0.0.1:%d" % server.port
    headers = {"Content-Type": "application/json", "User-Agent": UA}
    if domain_header:
        headers["X-Domain-Id"] = creds["domain_id"]
    if sdk_date is not None:
        headers["X-Sdk-Date"] = sdk_date.strftime("%Y%m%dT%H%M%SZ")
    data = b"" if body is None else json.dumps(body).encode()
    req = SdkRequest(method=method, schema="http", host=host, resource_path=path, query_params=list(query or []),
                     header_params=headers, body=data)
    Signer(GlobalCredentials(creds["access_key"], creds["secret_key"], creds["domain_id"])).sign(req)
    return req


def _send(server, req, path=None, uri=None, body=None, headers=None):
    url = "http://127.0.0.1:%d%s" % (server.port, uri if uri is not None else req.uri)
    h = dict(req.header_params)
    h.update(headers or {})
    data = req.body if body is None else body
    return requests.request(req.method, url, headers=h, data=data or None, timeout=30)


def _assert_401(r):
    assert r.status_code == 401, (r.status_code, r.text[:300])
    assert r.json().get("error_code") == "APIGW.0301", r.text[:300]
    assert r.headers.get("X-Request-Id")


def test_signer_helper_is_accepted(server, acct_a):
    req = _signed(server, acct_a.creds, "GET", "/v1/accelerators", query=[("limit", 5)])
    r = _send(server, req)
    assert r.status_code == 200, r.text[:300]
    assert "accelerators" in r.json()


def test_signed_post_is_accepted(server, acct_a):
    body = {"accelerator": {"name": "signed-" + uuid.uuid4().hex[:8], "enterprise_project_id": "0",
                            "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}]}}
    req = _signed(server, acct_a.creds, "POST", "/v1/accelerators", body=body)
    r = _send(server, req)
    assert r.status_code == 201, r.text[:300]


def test_tampered_body_rejected(server, acct_a, client):
    name = "tamper-" + uuid.uuid4().hex[:8]
    body = {"accelerator": {"name": "signed-" + uuid.uuid4().hex[:8], "enterprise_project_id": "0",
                            "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}]}}
    req = _signed(server, acct_a.creds, "POST", "/v1/accelerators", body=body)
    body["accelerator"]["name"] = name
    _assert_401(_send(server, req, body=json.dumps(body).encode()))
    assert client.list_accelerators(ListAcceleratorsRequest(name=name)).accelerators == []


def test_tampered_query_rejected(server, acct_a):
    req = _signed(server, acct_a.creds, "GET", "/v1/accelerators", query=[("limit", 1)])
    _assert_401(_send(server, req, uri="/v1/accelerators?limit=2"))


def test_tampered_path_rejected(server, acct_a):
    req = _signed(server, acct_a.creds, "GET", "/v1/accelerators")
    _assert_401(_send(server, req, uri="/v1/listeners"))


def test_tampered_method_rejected(server, acct_a):
    acc = create_accelerator(acct_a.client)
    req = _signed(server, acct_a.creds, "GET", "/v1/accelerators/" + acc.id)
    req.method = "DELETE"
    _assert_401(_send(server, req))
    assert acct_a.client.show_accelerator(ShowAcceleratorRequest(accelerator_id=acc.id)).accelerator.status == "ACTIVE"


def test_tampered_signed_header_rejected(server, acct_a, acct_b):
    req = _signed(server, acct_a.creds, "GET", "/v1/accelerators")
    _assert_401(_send(server, req, headers={"X-Domain-Id": acct_b.domain_id}))
    _assert_401(_send(server, req, headers={"User-Agent": "something-else"}))


def test_stale_or_future_sdk_date_rejected(server, acct_a):
    now = datetime.datetime.utcnow()
    for skew in (datetime.timedelta(hours=-2), datetime.timedelta(hours=2), datetime.timedelta(days=-400)):
        req = _signed(server, acct_a.creds, "GET", "/v1/accelerators", sdk_date=now + skew)
        _assert_401(_send(server, req))
    # a small skew is fine
    req = _signed(server, acct_a.creds, "GET", "/v1/accelerators", sdk_date=now - datetime.timedelta(minutes=3))
    assert _send(server, req).status_code == 200


def test_missing_sdk_date_rejected(server, acct_a):
    req = _signed(server, acct_a.creds, "GET", "/v1/accelerators")
    h = {k: v for k, v in req.header_params.items() if k.lower() != "x-sdk-date"}
    r = requests.get("http://127.0.0.1:%d%s" % (server.port, req.uri), headers=h, timeout=30)
    _assert_401(r)


def test_malformed_authorization_rejected(server, acct_a):
    for value in ["SDK-HMAC-SHA256", "Bearer abc", "SDK-HMAC-SHA256 Access=, SignedHeaders=, Signature=",
                  "SDK-HMAC-SHA256 Access=%s, SignedHeaders=host, Signature=00" % acct_a.creds["access_key"]]:
        r = requests.get(server.endpoint + "/v1/accelerators",
                         headers={"Authorization": value, "Content-Type": "application/json",
                                  "X-Sdk-Date": datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")}, timeout=30)
        _assert_401(r)


def test_sdk_encodes_special_characters_consistently(client):
    """Percent-encoded query values and path ids must verify (canonical query / canonical URI rules)."""
    r = client.list_accelerators(ListAcceleratorsRequest(name="my ga/1+x", limit=5))
    assert r.status_code == 200
    assert r.accelerators == []
    with pytest.raises(Exception) as ei:
        client.show_accelerator(ShowAcceleratorRequest(accelerator_id="a b~c"))
    assert getattr(ei.value, "status_code", None) in (400, 404), ei.value
    assert ei.value.error_code in ("GA.9001", "GA.9002"), ei.value
    with pytest.raises(Exception) as ei:
        client.show_accelerator(ShowAcceleratorRequest(accelerator_id="x%2Fy"))
    assert getattr(ei.value, "status_code", None) in (400, 404), ei.value


# --------------------------------------------------------------------------------------------------------------
# The signature covers what the server acts on: nothing unsigned may change the request's meaning
# --------------------------------------------------------------------------------------------------------------

def _accelerator_body(name):
    return {"accelerator": {"name": name, "enterprise_project_id": "0",
                            "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}]}}


def test_body_cannot_be_swapped_under_an_unsigned_content_hash(server, acct_a, client):
    """Sign POST /v1/accelerators over body A as the SDK does; send body B with A's hash in X-Sdk-Content-Sha256."""
    signed = _accelerator_body("signed-" + uuid.uuid4().hex[:8])
    swapped_name = "swapped-" + uuid.uuid4().hex[:8]
    req = _signed(server, acct_a.creds, "POST", "/v1/accelerators", body=signed)
    assert "x-sdk-content-sha256" not in req.header_params["Authorization"].lower()
    swapped = json.dumps(_accelerator_body(swapped_name)).encode()
    r = _send(server, req, body=swapped, headers={"X-Sdk-Content-Sha256": hashlib.sha256(req.body).hexdigest()})
    _assert_401(r)
    assert client.list_accelerators(ListAcceleratorsRequest(name=swapped_name)).accelerators == []
    # The untouched request still works.
    assert _send(server, req).status_code == 201


def test_unsigned_payload_is_refused_on_a_body(server, acct_a):
    """The SDK's streaming form (X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD, signed) never covers a body we act on."""
    host = "127.0.0.1:%d" % server.port
    headers = {"Content-Type": "application/octet-stream", "User-Agent": UA, "X-Domain-Id": acct_a.creds["domain_id"]}
    body = json.dumps(_accelerator_body("unsigned-" + uuid.uuid4().hex[:8])).encode()
    req = SdkRequest(method="POST", schema="http", host=host, resource_path="/v1/accelerators", query_params=[],
                     header_params=headers, body=body)
    Signer(GlobalCredentials(acct_a.creds["access_key"], acct_a.creds["secret_key"], acct_a.creds["domain_id"])).sign(req)
    assert req.header_params.get("X-Sdk-Content-Sha256") == "UNSIGNED-PAYLOAD"
    _assert_401(_send(server, req))


def test_identity_headers_must_be_signed(server, acct_a):
    req = _signed(server, acct_a.creds, "GET", "/v1/accelerators", domain_header=False)
    assert _send(server, req).status_code == 200
    for name, value in (("X-Domain-Id", acct_a.creds["domain_id"]), ("X-Project-Id", uuid.uuid4().hex),
                        ("X-Security-Token", "token")):
        _assert_401(_send(server, req, headers={name: value}))


def test_query_is_verified_as_the_server_reads_it(server, acct_a):
    """`li%6Dit` decodes to `limit` in the SDK's canonical query but is not the `limit` parameter to the server."""
    req = _signed(server, acct_a.creds, "GET", "/v1/accelerators", query=[("limit", 1)])
    # http.client sends the target as given (requests would normalise %6D to m).
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("GET", "/v1/accelerators?li%6Dit=1", headers=dict(req.header_params))
        r = conn.getresponse()
        body = json.loads(r.read() or b"{}")
    finally:
        conn.close()
    assert r.status == 401, (r.status, body)
    assert body.get("error_code") == "APIGW.0301", body


def test_path_with_an_encoded_slash_is_refused(server, acct_a):
    req = _signed(server, acct_a.creds, "GET", "/v1/accelerators/a/b")
    _assert_401(_send(server, req, uri="/v1/accelerators/a%2Fb"))
