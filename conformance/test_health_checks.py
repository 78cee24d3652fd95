"""Health checks: CRUD, one per endpoint group (GA.9104), validation."""
import datetime
import uuid

import pytest

from conftest import (CreateHealthCheckOption, CreateHealthCheckRequest, CreateHealthCheckRequestBody,
                      DeleteHealthCheckRequest, ListHealthChecksRequest, ShowHealthCheckRequest,
                      UpdateHealthCheckOption, UpdateHealthCheckRequest, UpdateHealthCheckRequestBody,
                      create_health_check, expect_error, free_port, list_all_ids, make_stack, show, wait_active,
                      wait_gone)


def _create(client, **opt):
    return client.create_health_check(CreateHealthCheckRequest(
        body=CreateHealthCheckRequestBody(health_check=CreateHealthCheckOption(**opt))))


def _update(client, hc_id, **opt):
    return client.update_health_check(UpdateHealthCheckRequest(
        health_check_id=hc_id, body=UpdateHealthCheckRequestBody(health_check=UpdateHealthCheckOption(**opt))))


@pytest.fixture
def eg(client):
    return make_stack(client)[2]


def _valid(eg_id, **over):
    opt = dict(endpoint_group_id=eg_id, protocol="TCP", port=free_port(), interval=5, timeout=3, max_retries=3,
               enabled=True)
    opt.update(over)
    return opt


def test_create_returns_pending_with_full_detail(client, eg, acct_a):
    port = free_port()
    resp = create_health_check(client, eg.id, protocol="TCP", port=port, interval=10, timeout=4, max_retries=5,
                               enabled=True, wait=False, raw_response=True)
    assert resp.status_code == 201
    assert resp.request_id
    hc = resp.health_check
    uuid.UUID(hc.id)
    assert hc.endpoint_group_id == eg.id
    assert hc.protocol == "TCP"
    assert hc.status == "PENDING"
    assert (hc.port, hc.interval, hc.timeout, hc.max_retries) == (port, 10, 4, 5)
    assert hc.enabled is True
    assert hc.domain_id == acct_a.domain_id
    assert isinstance(hc.created_at, datetime.datetime)
    assert isinstance(hc.updated_at, datetime.datetime)
    assert hc.frozen_info is not None and hc.frozen_info.status == 0
    got = wait_active(client, "health_check", hc.id)
    assert (got.port, got.interval, got.timeout, got.max_retries, got.enabled) == (port, 10, 4, 5, True)


def test_show_udp_disabled(client, eg):
    hc = create_health_check(client, eg.id, protocol="UDP", enabled=False)
    resp = client.show_health_check(ShowHealthCheckRequest(health_check_id=hc.id))
    assert resp.status_code == 200
    assert resp.request_id
    got = resp.health_check
    assert got.protocol == "UDP" and got.enabled is False and got.status == "ACTIVE"
    assert got.endpoint_group_id == eg.id


def test_second_health_check_on_group_rejected(client, eg):
    create_health_check(client, eg.id, wait=False)
    expect_error(lambda: _create(client, **_valid(eg.id)), 400, "GA.9104")


def test_unknown_group_is_404(client):
    expect_error(lambda: _create(client, **_valid(str(uuid.uuid4()))), 404, "GA.9002")


@pytest.mark.parametrize("field,over", [
    ("endpoint_group_id", {"endpoint_group_id": None}),
    ("protocol", {"protocol": "HTTP"}),
    ("port", {"port": None}),
    ("port", {"port": 0}),
    ("port", {"port": 65536}),
    ("interval", {"interval": 0}),
    ("interval", {"interval": 61}),
    ("timeout", {"timeout": 0}),
    ("timeout", {"timeout": 61}),
    ("max_retries", {"max_retries": 0}),
    ("max_retries", {"max_retries": 11}),
])
def test_create_validation(client, eg, field, over):
    opt = _valid(eg.id, **over)
    expect_error(lambda: _create(client, **opt), 400, "GA.9001", msg_contains=field)


def test_update_changes_only_carried_keys(client, eg):
    hc = create_health_check(client, eg.id, port=8080, interval=5, timeout=3, max_retries=3, enabled=True)
    resp = _update(client, hc.id, interval=10, enabled=False)
    assert resp.status_code == 200
    assert resp.request_id
    u = resp.health_check
    assert (u.interval, u.enabled) == (10, False)
    assert (u.port, u.timeout, u.max_retries, u.protocol) == (8080, 3, 3, "TCP")
    assert u.endpoint_group_id == eg.id
    wait_active(client, "health_check", hc.id)
    u = _update(client, hc.id, protocol="UDP", port=9090, max_retries=10).health_check
    assert (u.protocol, u.port, u.max_retries) == ("UDP", 9090, 10)
    assert (u.interval, u.timeout, u.enabled) == (10, 3, False)
    got = wait_active(client, "health_check", hc.id)
    assert (got.protocol, got.port, got.interval, got.timeout, got.max_retries, got.enabled) == \
        ("UDP", 9090, 10, 3, 10, False)


@pytest.mark.parametrize("field,over", [
    ("port", {"port": 70000}),
    ("interval", {"interval": 100}),
    ("max_retries", {"max_retries": 0}),
    ("protocol", {"protocol": "ICMP"}),
])
def test_update_validation(client, eg, field, over):
    hc = create_health_check(client, eg.id, port=8081)
    expect_error(lambda: _update(client, hc.id, **over), 400, "GA.9001", msg_contains=field)
    got = show(client, "health_check", hc.id)
    assert (got.port, got.interval, got.max_retries, got.protocol) == (8081, 5, 3, "TCP")


def test_list_and_filter_by_group(client, eg):
    hc = create_health_check(client, eg.id, wait=False)
    other_eg = make_stack(client)[2]
    hc2 = create_health_check(client, other_eg.id, wait=False)
    resp = client.list_health_checks(ListHealthChecksRequest(endpoint_group_id=eg.id))
    assert resp.status_code == 200
    assert resp.request_id
    assert [x.id for x in resp.health_checks] == [hc.id]
    assert resp.page_info.current_count == 1
    assert not resp.page_info.next_marker
    r = client.list_health_checks(ListHealthChecksRequest(id=hc2.id))
    assert [x.id for x in r.health_checks] == [hc2.id]
    assert set(list_all_ids(client, "health_check")) >= {hc.id, hc2.id}


def test_unknown_health_check_is_404(client):
    missing = str(uuid.uuid4())
    expect_error(lambda: client.show_health_check(ShowHealthCheckRequest(health_check_id=missing)), 404, "GA.9002")
    expect_error(lambda: _update(client, missing, interval=5), 404, "GA.9002")
    expect_error(lambda: client.delete_health_check(DeleteHealthCheckRequest(health_check_id=missing)),
                 404, "GA.9002")


def test_delete_health_check(client, eg):
    hc = create_health_check(client, eg.id)
    resp = client.delete_health_check(DeleteHealthCheckRequest(health_check_id=hc.id))
    assert resp.status_code == 204
    wait_gone(client, "health_check", hc.id)
    assert client.list_health_checks(ListHealthChecksRequest(endpoint_group_id=eg.id)).health_checks == []
    # the group can take a new health check afterwards
    create_health_check(client, eg.id, wait=False)
