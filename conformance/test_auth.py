"""Authentication: AK/SK signing via the SDK, and the IAM token flow with plain requests."""
import datetime
import uuid

import pytest
import requests

from conftest import (ListAcceleratorsRequest, ListRegionsRequest, ShowAcceleratorRequest, create_accelerator,
                      expect_error, make_client, request_token)


def test_sdk_global_credentials_work(client):
    r = client.list_accelerators(ListAcceleratorsRequest(limit=1))
    assert r.status_code == 200
    assert r.request_id


def test_sdk_without_domain_id_works(server, acct_a):
    """GlobalCredentials without domain_id (no X-Domain-Id header) must still be accepted."""
    c = make_client(server.endpoint, acct_a.creds, domain_id=None)
    assert c.list_regions(ListRegionsRequest()).status_code == 200
    assert c.list_accelerators(ListAcceleratorsRequest(limit=1)).status_code == 200


def test_sdk_basic_credentials_work(server, acct_a):
    """GaClient.new_builder() + BasicCredentials (no X-Project-Id) must be accepted too."""
    c = make_client(server.endpoint, acct_a.creds, basic=True)
    acc = create_accelerator(c, wait=False)
    assert c.show_accelerator(ShowAcceleratorRequest(accelerator_id=acc.id)).accelerator.domain_id == \
        acct_a.domain_id


def test_wrong_secret_key_is_401(server, acct_a):
    bad = make_client(server.endpoint, acct_a.creds, sk=acct_a.creds["secret_key"][:-1] +
                      ("x" if not acct_a.creds["secret_key"].endswith("x") else "y"))
    expect_error(lambda: bad.list_accelerators(ListAcceleratorsRequest()), 401, "APIGW.0301")
    expect_error(lambda: bad.list_regions(ListRegionsRequest()), 401, "APIGW.0301")


def test_unknown_access_key_is_401(server, acct_a):
    bad = make_client(server.endpoint, acct_a.creds, ak="UNKNOWNAK" + uuid.uuid4().hex[:11].upper())
    expect_error(lambda: bad.list_accelerators(ListAcceleratorsRequest()), 401, "APIGW.0301")


def test_wrong_secret_cannot_create(server, acct_a, client):
    bad = make_client(server.endpoint, acct_a.creds, sk="S" * 40)
    before = len(client.list_accelerators(ListAcceleratorsRequest(limit=2000)).accelerators)
    with pytest.raises(Exception) as ei:
        create_accelerator(bad, wait=False)
    assert getattr(ei.value, "status_code", None) == 401
    after = len(client.list_accelerators(ListAcceleratorsRequest(limit=2000)).accelerators)
    assert after == before


def test_no_credentials_is_401(server):
    r = requests.get(server.endpoint + "/v1/accelerators", headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 401
    assert r.json().get("error_code") == "APIGW.0301"
    assert r.headers.get("X-Request-Id")


def test_token_flow(server, acct_a):
    r = request_token(server.endpoint, acct_a.creds)
    assert r.status_code == 201, r.text
    token = r.headers.get("X-Subject-Token")
    assert token, "token must be returned in the X-Subject-Token header"
    body = r.json()
    expires = body["token"]["expires_at"]
    exp = datetime.datetime.fromisoformat(expires.replace("Z", "+00:00"))
    if exp.tzinfo is None:
        exp = exp.replace(tzinfo=datetime.timezone.utc)
    now = datetime.datetime.now(datetime.timezone.utc)
    assert exp > now + datetime.timedelta(hours=1), "token expires too soon: %s" % expires
    assert exp < now + datetime.timedelta(days=2), "token validity should be about 24 h: %s" % expires

    acc = create_accelerator(acct_a.client, wait=False)
    g = requests.get(server.endpoint + "/v1/accelerators", params={"limit": 2000},
                     headers={"X-Auth-Token": token, "Content-Type": "application/json"}, timeout=10)
    assert g.status_code == 200, g.text
    assert acc.id in [a["id"] for a in g.json()["accelerators"]]
    assert g.headers.get("X-Request-Id")
    # the same token works for a single GET too
    s = requests.get(server.endpoint + "/v1/accelerators/" + acc.id,
                     headers={"X-Auth-Token": token, "Content-Type": "application/json"}, timeout=10)
    assert s.status_code == 200 and s.json()["accelerator"]["id"] == acc.id


def test_garbage_token_is_401(server):
    for tok in ["garbage", "x" * 300, str(uuid.uuid4())]:
        r = requests.get(server.endpoint + "/v1/accelerators",
                         headers={"X-Auth-Token": tok, "Content-Type": "application/json"}, timeout=10)
        assert r.status_code == 401, (tok[:20], r.status_code, r.text[:200])
        assert r.json().get("error_code") == "APIGW.0301"
        assert r.headers.get("X-Request-Id")


def test_wrong_password_gets_no_token(server, acct_a):
    r = request_token(server.endpoint, acct_a.creds, password=acct_a.creds["password"] + "-wrong")
    assert r.status_code in (400, 401, 403), (r.status_code, r.text[:300])
    assert r.status_code != 201
    assert not r.headers.get("X-Subject-Token")


def test_unknown_user_gets_no_token(server, acct_a):
    creds = dict(acct_a.creds, user_name="nobody-" + uuid.uuid4().hex[:8])
    r = request_token(server.endpoint, creds)
    assert r.status_code in (400, 401, 403, 404), (r.status_code, r.text[:300])
    assert not r.headers.get("X-Subject-Token")


def test_token_is_scoped_to_its_account(server, acct_a, acct_b):
    acc = create_accelerator(acct_a.client, wait=False)
    r = acct_b.raw("GET", "/v1/accelerators", params={"limit": 2000})
    assert r.status_code == 200
    assert acc.id not in [a["id"] for a in r.json()["accelerators"]]
    r = acct_b.raw("GET", "/v1/accelerators/" + acc.id)
    assert r.status_code == 404 and r.json()["error_code"] == "GA.9002"
    r = acct_a.raw("GET", "/v1/accelerators/" + acc.id)
    assert r.status_code == 200


def test_aksk_with_foreign_domain_header_does_not_cross_tenants(server, acct_a, acct_b):
    """A's keys with B's X-Domain-Id must not expose B's resources (reject, or stay in A's account)."""
    b_acc = create_accelerator(acct_b.client, wait=False)
    c = make_client(server.endpoint, acct_a.creds, domain_id=acct_b.domain_id)
    try:
        r = c.list_accelerators(ListAcceleratorsRequest(limit=2000))
    except Exception as e:
        assert getattr(e, "status_code", 0) in (400, 401, 403), e
        return
    assert b_acc.id not in [a.id for a in r.accelerators]
    with pytest.raises(Exception) as ei:
        c.show_accelerator(ShowAcceleratorRequest(accelerator_id=b_acc.id))
    assert getattr(ei.value, "status_code", 0) in (400, 401, 403, 404)
