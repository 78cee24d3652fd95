"""Endpoints: CRUD, defaults (weight 1, NO_MONITOR), duplicates (GA.9104), quota, validation."""
import datetime
import uuid

import pytest

from conftest import (CreateEndpointOption, CreateEndpointRequest, CreateEndpointRequestBody, DeleteEndpointRequest,
                      ListEndpointsRequest, ShowEndpointRequest, UpdateEndpointOption, UpdateEndpointRequest,
                      UpdateEndpointRequestBody, UpdateHealthCheckOption, UpdateHealthCheckRequest,
                      UpdateHealthCheckRequestBody, create_endpoint, create_endpoint_group, create_health_check,
                      expect_error, fresh_endpoint_ip, make_stack, show, wait_active, wait_for, wait_gone)


def _create(client, eg_id, **opt):
    return client.create_endpoint(CreateEndpointRequest(
        endpoint_group_id=eg_id, body=CreateEndpointRequestBody(endpoint=CreateEndpointOption(**opt))))


def _valid(**over):
    opt = dict(resource_id=str(uuid.uuid4()), resource_type="EIP", ip_address=fresh_endpoint_ip())
    opt.update(over)
    return opt


def _update(client, eg_id, ep_id, **opt):
    return client.update_endpoint(UpdateEndpointRequest(
        endpoint_group_id=eg_id, endpoint_id=ep_id,
        body=UpdateEndpointRequestBody(endpoint=UpdateEndpointOption(**opt))))


@pytest.fixture
def eg(client):
    return make_stack(client)[2]


def test_create_returns_pending_with_defaults(client, eg, acct_a):
    rid, ip = str(uuid.uuid4()), fresh_endpoint_ip()
    resp = create_endpoint(client, eg.id, ip_address=ip, resource_id=rid, resource_type="EIP", wait=False,
                           raw_response=True)
    assert resp.status_code == 201
    assert resp.request_id
    ep = resp.endpoint
    uuid.UUID(ep.id)
    assert ep.resource_id == rid
    assert ep.ip_address == ip
    assert ep.resource_type == "EIP"
    assert ep.endpoint_group_id == eg.id
    assert ep.status == "PENDING"
    assert ep.weight == 1, "weight must default to 1"
    assert ep.health_state == "NO_MONITOR", "no health check on the group -> NO_MONITOR"
    assert ep.domain_id == acct_a.domain_id
    assert isinstance(ep.created_at, datetime.datetime)
    assert isinstance(ep.updated_at, datetime.datetime)
    assert ep.frozen_info is not None and ep.frozen_info.status == 0
    got = wait_active(client, "endpoint", (eg.id, ep.id))
    assert got.weight == 1 and got.health_state == "NO_MONITOR" and got.ip_address == ip


def test_show(client, eg):
    ep = create_endpoint(client, eg.id, weight=7)
    resp = client.show_endpoint(ShowEndpointRequest(endpoint_group_id=eg.id, endpoint_id=ep.id))
    assert resp.status_code == 200
    assert resp.request_id
    got = resp.endpoint
    assert got.id == ep.id and got.weight == 7 and got.status == "ACTIVE"
    assert got.endpoint_group_id == eg.id


def test_endpoint_via_other_group_is_404(client, eg):
    ep = create_endpoint(client, eg.id)
    other = make_stack(client)[2]
    expect_error(lambda: client.show_endpoint(ShowEndpointRequest(endpoint_group_id=other.id, endpoint_id=ep.id)),
                 404, "GA.9002")
    expect_error(lambda: _update(client, other.id, ep.id, weight=5), 404, "GA.9002")
    expect_error(lambda: client.delete_endpoint(DeleteEndpointRequest(endpoint_group_id=other.id, endpoint_id=ep.id)),
                 404, "GA.9002")
    assert show(client, "endpoint", (eg.id, ep.id)).weight == 1


def test_unknown_group_or_endpoint_is_404(client, eg):
    missing = str(uuid.uuid4())
    expect_error(lambda: _create(client, missing, **_valid()), 404, "GA.9002")
    expect_error(lambda: client.list_endpoints(ListEndpointsRequest(endpoint_group_id=missing)), 404, "GA.9002")
    expect_error(lambda: client.show_endpoint(ShowEndpointRequest(endpoint_group_id=eg.id, endpoint_id=missing)),
                 404, "GA.9002")
    expect_error(lambda: _update(client, eg.id, missing, weight=3), 404, "GA.9002")
    expect_error(lambda: client.delete_endpoint(DeleteEndpointRequest(endpoint_group_id=eg.id, endpoint_id=missing)),
                 404, "GA.9002")


def test_duplicate_resource_id_rejected(client, eg):
    ep = create_endpoint(client, eg.id, wait=False)
    expect_error(lambda: _create(client, eg.id, **_valid(resource_id=ep.resource_id)), 400, "GA.9104")


def test_duplicate_ip_address_rejected(client, eg):
    ep = create_endpoint(client, eg.id, wait=False)
    expect_error(lambda: _create(client, eg.id, **_valid(ip_address=ep.ip_address)), 400, "GA.9104")


def test_same_endpoint_in_two_groups_allowed(client, eg):
    ep = create_endpoint(client, eg.id, wait=False)
    other = make_stack(client)[2]
    ep2 = create_endpoint(client, other.id, resource_id=ep.resource_id, ip_address=ep.ip_address, wait=False)
    assert ep2.id != ep.id


@pytest.mark.parametrize("field,over", [
    ("resource_id", {"resource_id": None}),
    ("resource_type", {"resource_type": None}),
    ("resource_type", {"resource_type": "TOASTER"}),
    ("weight", {"weight": 101}),
    ("weight", {"weight": -1}),
    ("ip_address", {"ip_address": None}),
    ("ip_address", {"ip_address": "not-an-ip"}),
])
def test_create_validation(client, eg, field, over):
    expect_error(lambda: _create(client, eg.id, **_valid(**over)), 400, "GA.9001", msg_contains=field)


def test_weight_bounds_accepted(client, eg):
    e0 = create_endpoint(client, eg.id, weight=0, wait=False)
    e100 = create_endpoint(client, eg.id, weight=100, wait=False)
    assert e0.weight == 0 and e100.weight == 100


def test_update_weight(client, eg):
    ep = create_endpoint(client, eg.id)
    resp = _update(client, eg.id, ep.id, weight=10)
    assert resp.status_code == 200
    assert resp.request_id
    u = resp.endpoint
    assert u.weight == 10
    assert u.id == ep.id and u.ip_address == ep.ip_address and u.resource_id == ep.resource_id
    assert u.resource_type == "EIP"
    got = wait_active(client, "endpoint", (eg.id, ep.id))
    assert got.weight == 10
    assert _update(client, eg.id, ep.id, weight=0).endpoint.weight == 0
    wait_active(client, "endpoint", (eg.id, ep.id))
    # an empty update changes nothing
    assert _update(client, eg.id, ep.id).endpoint.weight == 0


@pytest.mark.parametrize("weight", [101, -5])
def test_update_validation(client, eg, weight):
    ep = create_endpoint(client, eg.id)
    expect_error(lambda: _update(client, eg.id, ep.id, weight=weight), 400, "GA.9001", msg_contains="weight")
    assert show(client, "endpoint", (eg.id, ep.id)).weight == 1


def test_list_endpoints_of_group(client, eg):
    eps = [create_endpoint(client, eg.id, wait=False) for _ in range(3)]
    other = make_stack(client)[2]
    create_endpoint(client, other.id, wait=False)
    resp = client.list_endpoints(ListEndpointsRequest(endpoint_group_id=eg.id))
    assert resp.status_code == 200
    assert resp.request_id
    assert sorted(x.id for x in resp.endpoints) == sorted(e.id for e in eps)
    assert resp.page_info.current_count == 3
    assert not resp.page_info.next_marker
    assert all(x.endpoint_group_id == eg.id for x in resp.endpoints)
    r = client.list_endpoints(ListEndpointsRequest(endpoint_group_id=eg.id, id=eps[1].id))
    assert [x.id for x in r.endpoints] == [eps[1].id]


def test_delete_endpoint(client, eg):
    ep = create_endpoint(client, eg.id)
    resp = client.delete_endpoint(DeleteEndpointRequest(endpoint_group_id=eg.id, endpoint_id=ep.id))
    assert resp.status_code == 204
    wait_gone(client, "endpoint", (eg.id, ep.id))
    assert client.list_endpoints(ListEndpointsRequest(endpoint_group_id=eg.id)).endpoints == []
    # after deletion the same resource may be added again
    create_endpoint(client, eg.id, resource_id=ep.resource_id, ip_address=ep.ip_address, wait=False)


def test_default_endpoint_quota_is_10(client, eg):
    for _ in range(10):
        create_endpoint(client, eg.id, wait=False)
    expect_error(lambda: _create(client, eg.id, **_valid()), 400, "GA.9103")


def test_health_state_follows_health_check(client, eg):
    ep = create_endpoint(client, eg.id)
    assert show(client, "endpoint", (eg.id, ep.id)).health_state == "NO_MONITOR"
    hc = create_health_check(client, eg.id, enabled=False)
    assert show(client, "endpoint", (eg.id, ep.id)).health_state == "NO_MONITOR", \
        "a disabled health check must leave endpoints at NO_MONITOR"
    client.update_health_check(UpdateHealthCheckRequest(
        health_check_id=hc.id, body=UpdateHealthCheckRequestBody(health_check=UpdateHealthCheckOption(enabled=True))))
    monitored = wait_for(lambda: show(client, "endpoint", (eg.id, ep.id)),
                         lambda o: o.health_state in ("INITIAL", "HEALTHY", "UNHEALTHY"), timeout=10,
                         desc="endpoint health_state to leave NO_MONITOR once the health check is enabled")
    assert monitored.health_state != "NO_MONITOR"
    wait_active(client, "health_check", hc.id)
    client.update_health_check(UpdateHealthCheckRequest(
        health_check_id=hc.id, body=UpdateHealthCheckRequestBody(health_check=UpdateHealthCheckOption(enabled=False))))
    wait_for(lambda: show(client, "endpoint", (eg.id, ep.id)), lambda o: o.health_state == "NO_MONITOR",
             timeout=10, desc="endpoint health_state back to NO_MONITOR after disabling the health check")


def test_endpoint_groups_dont_share_endpoints(client):
    _, lis, eg1 = make_stack(client)
    eg2 = create_endpoint_group(client, lis.id, region_id="ap-southeast-3")
    ep = create_endpoint(client, eg1.id, wait=False)
    assert client.list_endpoints(ListEndpointsRequest(endpoint_group_id=eg2.id)).endpoints == []
    expect_error(lambda: client.show_endpoint(ShowEndpointRequest(endpoint_group_id=eg2.id, endpoint_id=ep.id)),
                 404, "GA.9002")
