"""AK/SK signature verification details, using the SDK's own Signer on hand-built requests.

A request signed by huaweicloudsdkcore's Signer is sent with `requests` exactly as signed; then one signed part is
changed after signing and the server must answer 401 APIGW.0301.
"""
import datetime
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
