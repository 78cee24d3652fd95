"""Configuration through environment variables: quotas, regions, body size, env-only startup.

Each module-scoped server here is short-lived and has its own data dir.
"""
import json
import os
import socket
import uuid

import pytest
import requests

from conftest import (DEFAULT_REGIONS, Account, CreateAcceleratorOption, CreateAcceleratorOptionIpSets,
                      CreateAcceleratorRequest, CreateAcceleratorRequestBody, CreateEndpointGroupOption,
                      CreateEndpointGroupRequest, CreateEndpointGroupRequestBody, CreateEndpointOption,
                      CreateEndpointRequest, CreateEndpointRequestBody, CreateListenerOption, CreateListenerRequest,
                      CreateListenerRequestBody, Id, ListRegionsRequest, PortRange, Server, create_accelerator,
                      create_endpoint, create_endpoint_group, create_listener, delete_and_wait, expect_error,
                      free_port, fresh_endpoint_ip, start_server, uniq)

SMALL = {
    "SLIPSTREAM_QUOTA_ACCELERATORS": "2",
    "SLIPSTREAM_QUOTA_LISTENERS_PER_ACCELERATOR": "2",
    "SLIPSTREAM_QUOTA_ENDPOINTS_PER_GROUP": "2",
    "SLIPSTREAM_REGIONS": "eu-test-1:OUTOFCM,cn-test-2:CM",
    "SLIPSTREAM_MAX_BODY_BYTES": "4096",
}


@pytest.fixture(scope="module")
def small_server(tmp_path_factory):
    srv = start_server(tmp_path_factory, "small", env=SMALL)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def small_a(small_server):
    return Account(small_server, small_server.credentials())


def _create_acc(client, area="OUTOFCM"):
    return client.create_accelerator(CreateAcceleratorRequest(body=CreateAcceleratorRequestBody(
        accelerator=CreateAcceleratorOption(name=uniq("acc"), enterprise_project_id="0",
                                            ip_sets=[CreateAcceleratorOptionIpSets(ip_type="IPV4", area=area)]))))


def test_accelerator_quota(small_server, small_a):
    c = small_a.client
    a1 = create_accelerator(c)
    a2 = create_accelerator(c)
    e = expect_error(lambda: _create_acc(c), 400, "GA.9103")
    assert e.error_msg
    # the quota is per account: a new account still gets its own two
    b = Account(small_server, small_server.create_account(uniq("acct-q")))
    create_accelerator(b.client, wait=False)
    create_accelerator(b.client, wait=False)
    expect_error(lambda: _create_acc(b.client), 400, "GA.9103")
    # deleting frees the slot
    delete_and_wait(c, "accelerator", a2.id)
    a3 = create_accelerator(c, wait=False)
    assert a3.id not in (a1.id, a2.id)


def test_listener_and_endpoint_quota(small_server):
    c = Account(small_server, small_server.create_account(uniq("acct-lq"))).client
    acc = create_accelerator(c)
    l1 = create_listener(c, acc.id, ports=((80, 80),))
    create_listener(c, acc.id, ports=((81, 81),), wait=False)
    expect_error(lambda: c.create_listener(CreateListenerRequest(body=CreateListenerRequestBody(
        listener=CreateListenerOption(name=uniq("lis"), protocol="TCP", accelerator_id=acc.id,
                                      port_ranges=[PortRange(from_port=82, to_port=82)])))), 400, "GA.9103")
    eg = create_endpoint_group(c, l1.id, region_id="eu-test-1")
    create_endpoint(c, eg.id, wait=False)
    create_endpoint(c, eg.id, wait=False)
    expect_error(lambda: c.create_endpoint(CreateEndpointRequest(
        endpoint_group_id=eg.id, body=CreateEndpointRequestBody(endpoint=CreateEndpointOption(
            resource_id=str(uuid.uuid4()), resource_type="EIP", ip_address=fresh_endpoint_ip())))), 400, "GA.9103")


def test_custom_regions(small_a):
    c = small_a.client
    regions = {r.region_id: r.area for r in c.list_regions(ListRegionsRequest()).regions}
    assert regions == {"eu-test-1": "OUTOFCM", "cn-test-2": "CM"}


def test_custom_regions_endpoint_groups(small_server):
    acct = Account(small_server, small_server.create_account(uniq("acct-r")))
    c = acct.client
    acc = create_accelerator(c)
    lis = create_listener(c, acc.id)
    eg = create_endpoint_group(c, lis.id, region_id="eu-test-1", wait=False)
    assert eg.region_id == "eu-test-1"
    # a default region is not served by this server
    expect_error(lambda: c.create_endpoint_group(CreateEndpointGroupRequest(body=CreateEndpointGroupRequestBody(
        endpoint_group=CreateEndpointGroupOption(name=uniq("eg"), region_id="ap-southeast-1",
                                                 listeners=[Id(id=lis.id)])))), 400, "GA.9105")


def test_max_body_bytes(small_server, small_a):
    url = small_server.endpoint + "/v1/accelerators"
    headers = {"X-Auth-Token": small_a.token(), "Content-Type": "application/json"}
    big = json.dumps({"accelerator": {"name": "big", "enterprise_project_id": "0",
                                      "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}],
                                      "padding": "p" * 8192}}).encode()
    assert len(big) > 4096
    try:
        r = requests.post(url, data=big, headers=headers, timeout=30)
        assert 400 <= r.status_code < 500, "oversized body: %s %s" % (r.status_code, r.text[:300])
        assert r.status_code in (400, 413)
    except requests.ConnectionError:
        pass        # closing the connection on an oversized body is acceptable
    # the server is still fine afterwards, and a normal-sized body is accepted
    assert requests.get(small_server.endpoint + "/healthz", timeout=10).status_code == 200
    small = json.dumps({"accelerator": {"name": "small-" + uuid.uuid4().hex[:6], "enterprise_project_id": "0",
                                        "ip_sets": [{"ip_type": "IPV4", "area": "CM"}],
                                        "description": "d" * 200}}).encode()
    assert len(small) < 4096
    acct = Account(small_server, small_server.create_account(uniq("acct-body")))
    r = requests.post(url, data=small, headers={"X-Auth-Token": acct.token(), "Content-Type": "application/json"},
                      timeout=30)
    assert r.status_code == 201, r.text[:300]


def test_env_only_startup(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("envonly")
    srv = Server(data_dir, use_env_config=True).start()
    try:
        creds = srv.credentials()
        acct = Account(srv, creds)
        assert {r.region_id: r.area for r in acct.client.list_regions(ListRegionsRequest()).regions} == \
            DEFAULT_REGIONS
        assert os.path.exists(os.path.join(str(data_dir), "credentials.json"))
    finally:
        srv.stop()


def test_default_accelerator_quota_is_20(tmp_path_factory):
    srv = start_server(tmp_path_factory, "defquota")
    try:
        acct = Account(srv, srv.credentials())
        for i in range(20):
            create_accelerator(acct.client, wait=False)
        expect_error(lambda: _create_acc(acct.client), 400, "GA.9103")
    finally:
        srv.stop()


def test_no_data_plane_runs_the_api_alone(tmp_path):
    """`serve --no-data-plane`: writes settle as applied (nothing binds), no listener port answers, no PoP is listed."""
    srv = Server(tmp_path / "api-only", args=["--no-data-plane"]).start()
    try:
        acct = Account(srv, srv.credentials())
        acc = create_accelerator(acct.client)             # waits for ACTIVE
        port = free_port()
        create_listener(acct.client, acc.id, ports=((port, port),))   # waits for ACTIVE
        address = acc.ip_sets[0].ip_address
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((address, port), timeout=5).close()
        pops = acct.raw("GET", "/v1/pops")
        assert pops.status_code == 200, pops.text
        assert pops.json()["pops"] == [], pops.text
    finally:
        srv.stop()
