"""Account-level reads: tenant quotas (with current use), the PoP list and BYOIP pools."""
import ipaddress
import uuid

import pytest

from conftest import (DEFAULT_OUTOFCM_POOL, OUTOFCM_REGION, Account, wait_for, create_accelerator, create_listener,
                      expect_error, start_server, uniq)
from huaweicloudsdkga.v1 import (CreateIpGroupIpOption, CreateIpGroupOption, CreateIpGroupRequest,
                                 CreateIpGroupRequestBody, ListAllPopsRequest, ListByoipPoolsRequest,
                                 ListTenantQuotasRequest)

QUOTA_TYPES = {"accelerator_per_tenant", "listener_per_accelerator", "endpoint_per_endpoint_group",
               "ip_group_per_tenant", "ip_per_ip_group", "listener_per_ip_group"}
BYOIP_ENV = "203.0.113.0/24=OUTOFCM,2001:db8::/48=CM"
BYOIP_WANT = {("203.0.113.0/24", "IPV4", "OUTOFCM"), ("2001:db8::/48", "IPV6", "CM")}


def raw_quotas(acct, domain_id=None):
    r = acct.raw("GET", "/v1/%s/ga/quotas" % (domain_id or acct.domain_id))
    return r


def quotas_by_type(acct):
    r = raw_quotas(acct)
    assert r.status_code == 200, "%s %s" % (r.status_code, r.text[:300])
    resources = r.json()["quotas"]["resources"]
    by_type = {q["type"]: q for q in resources}
    assert len(by_type) == len(resources), "a quota type is listed twice"
    return by_type


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """A server with an accelerator quota of 2 and two BYOIP pools configured."""
    srv = start_server(tmp_path_factory, "limited", env={"SLIPSTREAM_QUOTA_ACCELERATORS": "2",
                                                          "SLIPSTREAM_BYOIP_POOLS": BYOIP_ENV})
    yield srv
    srv.stop()


# --------------------------------------------------------------------------------------------------------------
# Quotas
# --------------------------------------------------------------------------------------------------------------

def test_quotas_through_sdk(server, acct_a):
    resp = acct_a.client.list_tenant_quotas(ListTenantQuotasRequest())
    assert resp.status_code == 200
    got = {q.type: q for q in resp.quotas.resources}
    assert QUOTA_TYPES <= set(got), "missing quota types: %s" % (QUOTA_TYPES - set(got))
    for t in QUOTA_TYPES:
        assert isinstance(got[t].quota, int), (t, got[t].quota)
    assert got["accelerator_per_tenant"].quota == 2000      # the shared server's setting
    assert got["listener_per_accelerator"].quota == 10
    assert got["endpoint_per_endpoint_group"].quota == 10
    assert got["ip_group_per_tenant"].quota == 50
    assert got["ip_per_ip_group"].quota == 200
    assert got["listener_per_ip_group"].quota == 10
    # the explicit domain id gives the same answer
    again = acct_a.client.list_tenant_quotas(ListTenantQuotasRequest(domain_id=acct_a.domain_id))
    assert {q.type: q.quota for q in again.quotas.resources} == {t: q.quota for t, q in got.items()}


def test_quotas_report_used(fresh_account):
    acct = fresh_account
    q = quotas_by_type(acct)
    assert QUOTA_TYPES <= set(q)
    for t in QUOTA_TYPES:
        assert isinstance(q[t].get("quota"), int), q[t]
        assert isinstance(q[t].get("used"), int) and not isinstance(q[t]["used"], bool), \
            "quota %s lacks an integer 'used': %r" % (t, q[t])
        assert q[t]["used"] == 0, "a new account uses %s: %r" % (t, q[t])

    accs = [create_accelerator(acct.client, wait=False) for _ in range(3)]
    create_listener(acct.client, accs[0].id, ports=((80, 80),), wait=False)
    create_listener(acct.client, accs[0].id, ports=((81, 81),), wait=False)
    acct.client.create_ip_group(CreateIpGroupRequest(body=CreateIpGroupRequestBody(ip_group=CreateIpGroupOption(
        name=uniq("ipg"), ip_list=[CreateIpGroupIpOption(cidr="192.0.2.0/24"),
                                   CreateIpGroupIpOption(cidr="198.51.100.0/24")]))))
    q = quotas_by_type(acct)
    assert q["accelerator_per_tenant"]["used"] == 3
    assert q["ip_group_per_tenant"]["used"] == 1
    assert q["listener_per_accelerator"]["used"] == 2       # the fullest accelerator
    assert q["ip_per_ip_group"]["used"] == 2


def test_used_matches_shared_account(acct_a):
    from conftest import list_all_ids
    n = len(list_all_ids(acct_a.client, "accelerator"))
    assert quotas_by_type(acct_a)["accelerator_per_tenant"]["used"] == n


def test_quotas_of_another_domain_are_not_found(acct_a, acct_b):
    for domain in (acct_b.domain_id, uuid.uuid4().hex):
        r = raw_quotas(acct_a, domain)
        assert r.status_code == 404, "GET /v1/%s/ga/quotas: %s %s" % (domain, r.status_code, r.text[:300])
        assert r.json().get("error_code") == "GA.9002", r.text[:300]


def test_accelerator_quota_enforced(limited):
    acct = Account(limited, limited.credentials())
    c = acct.client
    got = {q.type: q.quota for q in c.list_tenant_quotas(ListTenantQuotasRequest()).quotas.resources}
    assert got["accelerator_per_tenant"] == 2
    create_accelerator(c, wait=False)
    create_accelerator(c, wait=False)
    expect_error(lambda: create_accelerator(c, wait=False), 400, "GA.9103")
    assert quotas_by_type(acct)["accelerator_per_tenant"]["used"] == 2


# --------------------------------------------------------------------------------------------------------------
# PoPs
# --------------------------------------------------------------------------------------------------------------

def test_pops_list_embedded(client, acct_a):
    # The embedded PoP is listed from its first report on (within a second of the server's start).
    resp = wait_for(lambda: client.list_all_pops(ListAllPopsRequest()), lambda r: any(p.id == "embedded" for p in r.pops),
                    desc="the embedded PoP listed")
    assert resp.status_code == 200
    ids = [p.id for p in resp.pops]
    assert "embedded" in ids
    assert len(set(ids)) == len(ids)
    assert resp.page_info.current_count == len(ids)

    r = acct_a.raw("GET", "/v1/pops")
    assert r.status_code == 200, r.text[:300]
    pop = [p for p in r.json()["pops"] if p.get("id") == "embedded"]
    assert len(pop) == 1, r.text[:500]
    assert pop[0].get("region_id") == OUTOFCM_REGION
    assert str(DEFAULT_OUTOFCM_POOL) in pop[0].get("addresses", []), pop[0]


def test_pops_paging(client):
    first = client.list_all_pops(ListAllPopsRequest(limit=1))
    assert len(first.pops) == 1 and first.page_info.current_count == 1
    total = len(client.list_all_pops(ListAllPopsRequest()).pops)
    if total == 1:
        assert not first.page_info.next_marker
    else:
        assert first.page_info.next_marker == first.pops[0].id


# --------------------------------------------------------------------------------------------------------------
# BYOIP pools
# --------------------------------------------------------------------------------------------------------------

def test_byoip_pools_empty_by_default(client):
    resp = client.list_byoip_pools(ListByoipPoolsRequest())
    assert resp.status_code == 200
    assert not resp.byoip_pools
    assert resp.page_info.current_count == 0 and not resp.page_info.next_marker


def test_byoip_pools_configured(limited):
    c = Account(limited, limited.credentials()).client
    resp = c.list_byoip_pools(ListByoipPoolsRequest())
    assert resp.status_code == 200
    pools = resp.byoip_pools
    assert {(p.cidr, p.ip_type, p.area) for p in pools} == BYOIP_WANT
    for p in pools:
        assert p.id
        ipaddress.ip_network(p.cidr)
    assert resp.page_info.current_count == 2 and not resp.page_info.next_marker
    # another account of the same server sees the same pools
    other = Account(limited, limited.create_account(uniq("acct"))).client
    assert {(p.cidr, p.ip_type, p.area) for p in other.list_byoip_pools(ListByoipPoolsRequest()).byoip_pools} \
        == BYOIP_WANT


def test_byoip_pools_paging(limited):
    c = Account(limited, limited.credentials()).client
    seen, marker = [], None
    for _ in range(5):
        kw = {"limit": 1}
        if marker:
            kw["marker"] = marker
        resp = c.list_byoip_pools(ListByoipPoolsRequest(**kw))
        assert len(resp.byoip_pools) <= 1 and resp.page_info.current_count == len(resp.byoip_pools)
        seen += [(p.cidr, p.ip_type) for p in resp.byoip_pools]
        if not resp.page_info.next_marker:
            break
        assert resp.page_info.next_marker == resp.byoip_pools[-1].id
        marker = resp.page_info.next_marker
    assert sorted(seen) == sorted((c_, t) for c_, t, _ in BYOIP_WANT)
