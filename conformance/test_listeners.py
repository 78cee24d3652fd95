"""Listeners: CRUD, defaults, port-range overlap (GA.9101), parent/child rules, validation."""
import datetime
import uuid

import pytest

from conftest import (CreateListenerOption, CreateListenerRequest, CreateListenerRequestBody, DeleteListenerRequest,
                      ListListenersRequest, PortRange, ResourceTag, ShowListenerRequest, UpdateListenerOption,
                      UpdateListenerRequest, UpdateListenerRequestBody, create_accelerator, create_endpoint_group,
                      create_listener, delete_and_wait, expect_error, list_all_ids, show, uniq, wait_active,
                      wait_gone)


def _create(client, **opt):
    return client.create_listener(CreateListenerRequest(body=CreateListenerRequestBody(listener=CreateListenerOption(**opt))))


def _update(client, lid, **opt):
    return client.update_listener(UpdateListenerRequest(
        listener_id=lid, body=UpdateListenerRequestBody(listener=UpdateListenerOption(**opt))))


def _ranges(obj):
    return [(p.from_port, p.to_port) for p in (obj.port_ranges or [])]


@pytest.fixture
def acc(client):
    return create_accelerator(client)


def test_create_returns_pending_with_defaults(client, acc, acct_a):
    name = uniq("lis")
    resp = create_listener(client, acc.id, ports=((80, 80), (8000, 8010)), protocol="TCP", name=name,
                           description="web", tags=[ResourceTag(key="team", value="net")], wait=False,
                           raw_response=True)
    assert resp.status_code == 201
    assert resp.request_id
    lis = resp.listener
    uuid.UUID(lis.id)
    assert lis.name == name
    assert lis.description == "web"
    assert lis.protocol == "TCP"
    assert lis.status == "PENDING"
    assert _ranges(lis) == [(80, 80), (8000, 8010)]
    assert lis.client_affinity == "NONE", "client_affinity must default to NONE"
    assert lis.accelerator_id == acc.id
    assert lis.domain_id == acct_a.domain_id
    assert isinstance(lis.created_at, datetime.datetime)
    assert isinstance(lis.updated_at, datetime.datetime)
    assert lis.frozen_info is not None and lis.frozen_info.status == 0
    assert [(t.key, t.value) for t in (lis.tags or [])] == [("team", "net")]
    got = wait_active(client, "listener", lis.id)
    assert got.name == name and _ranges(got) == [(80, 80), (8000, 8010)] and got.client_affinity == "NONE"


def test_create_udp_with_source_ip_affinity(client, acc):
    lis = create_listener(client, acc.id, ports=((5000, 5100),), protocol="UDP", client_affinity="SOURCE_IP")
    resp = client.show_listener(ShowListenerRequest(listener_id=lis.id))
    assert resp.status_code == 200
    assert resp.request_id
    got = resp.listener
    assert got.protocol == "UDP"
    assert got.client_affinity == "SOURCE_IP"
    assert got.status == "ACTIVE"
    assert _ranges(got) == [(5000, 5100)]


def test_unknown_accelerator_is_404(client):
    expect_error(lambda: _create(client, name=uniq("lis"), protocol="TCP",
                                 port_ranges=[PortRange(from_port=80, to_port=80)],
                                 accelerator_id=str(uuid.uuid4())), 404, "GA.9002")


def test_overlapping_ranges_on_one_accelerator_rejected(client, acc):
    create_listener(client, acc.id, ports=((1000, 1100),))
    for rng in [(1100, 1200), (900, 1000), (1050, 1050), (1, 65535)]:
        expect_error(lambda: _create(client, name=uniq("lis"), protocol="TCP",
                                     port_ranges=[PortRange(from_port=rng[0], to_port=rng[1])],
                                     accelerator_id=acc.id), 400, "GA.9101")
    # adjacent, non-overlapping ranges are fine
    create_listener(client, acc.id, ports=((1101, 1101),), wait=False)
    create_listener(client, acc.id, ports=((999, 999),), wait=False)


def test_same_ports_on_different_accelerators_allowed(client):
    a1 = create_accelerator(client)
    a2 = create_accelerator(client)
    create_listener(client, a1.id, ports=((443, 443),), wait=False)
    create_listener(client, a2.id, ports=((443, 443),), wait=False)


def test_overlap_within_one_request_rejected(client, acc):
    expect_error(lambda: _create(client, name=uniq("lis"), protocol="TCP",
                                 port_ranges=[PortRange(from_port=100, to_port=200),
                                              PortRange(from_port=150, to_port=250)],
                                 accelerator_id=acc.id), 400, ("GA.9101", "GA.9001"))


@pytest.mark.parametrize("ranges", [
    [(200, 100)],       # from > to
    [(0, 10)],          # port 0
    [(65000, 65536)],   # > 65535
    [],                 # min_items 1
])
def test_invalid_port_ranges_rejected(client, acc, ranges):
    expect_error(lambda: _create(client, name=uniq("lis"), protocol="TCP",
                                 port_ranges=[PortRange(from_port=a, to_port=b) for a, b in ranges],
                                 accelerator_id=acc.id), 400, ("GA.9001", "GA.9101"))


@pytest.mark.parametrize("field,over", [
    ("name", {"name": None}),
    ("name", {"name": "bad name"}),
    ("name", {"name": "n" * 65}),
    ("description", {"description": "<b>"}),
    ("protocol", {"protocol": None}),
    ("protocol", {"protocol": "HTTP"}),
    ("port_ranges", {"port_ranges": None}),
    ("client_affinity", {"client_affinity": "STICKY"}),
    ("accelerator_id", {"accelerator_id": None}),
])
def test_create_validation(client, acc, field, over):
    opt = dict(name=uniq("lis"), protocol="TCP", port_ranges=[PortRange(from_port=7000, to_port=7000)],
               accelerator_id=acc.id)
    opt.update(over)
    expect_error(lambda: _create(client, **opt), 400, "GA.9001", msg_contains=field)


def test_update_changes_only_carried_keys(client, acc):
    lis = create_listener(client, acc.id, ports=((80, 80),), description="keep me")
    resp = _update(client, lis.id, client_affinity="SOURCE_IP")
    assert resp.status_code == 200
    assert resp.request_id
    u = resp.listener
    assert u.client_affinity == "SOURCE_IP"
    assert u.name == lis.name and u.description == "keep me" and _ranges(u) == [(80, 80)]
    assert u.protocol == "TCP" and u.accelerator_id == acc.id
    wait_active(client, "listener", lis.id)
    new_name = uniq("lis2")
    u = _update(client, lis.id, name=new_name, port_ranges=[PortRange(from_port=80, to_port=81)]).listener
    assert u.name == new_name and _ranges(u) == [(80, 81)]
    assert u.client_affinity == "SOURCE_IP" and u.description == "keep me"
    got = wait_active(client, "listener", lis.id)
    assert got.name == new_name and _ranges(got) == [(80, 81)] and got.client_affinity == "SOURCE_IP"


def test_update_port_ranges_overlap_rejected(client, acc):
    l1 = create_listener(client, acc.id, ports=((2000, 2000),))
    l2 = create_listener(client, acc.id, ports=((3000, 3000),))
    expect_error(lambda: _update(client, l2.id, port_ranges=[PortRange(from_port=1990, to_port=2005)]),
                 400, "GA.9101")
    assert _ranges(show(client, "listener", l2.id)) == [(3000, 3000)]
    # overlapping only its own old range is fine
    u = _update(client, l1.id, port_ranges=[PortRange(from_port=2000, to_port=2010)]).listener
    assert _ranges(u) == [(2000, 2010)]


@pytest.mark.parametrize("field,over", [
    ("name", {"name": ""}),
    ("description", {"description": "a>b"}),
    ("client_affinity", {"client_affinity": "BOTH"}),
])
def test_update_validation(client, acc, field, over):
    lis = create_listener(client, acc.id)
    expect_error(lambda: _update(client, lis.id, **over), 400, "GA.9001", msg_contains=field)


def test_update_invalid_ranges_rejected(client, acc):
    lis = create_listener(client, acc.id)
    expect_error(lambda: _update(client, lis.id, port_ranges=[PortRange(from_port=90, to_port=10)]),
                 400, ("GA.9001", "GA.9101"))


def test_list_filter_by_accelerator(client):
    a1 = create_accelerator(client)
    a2 = create_accelerator(client)
    l1 = create_listener(client, a1.id, ports=((10, 10),), wait=False)
    l2 = create_listener(client, a1.id, ports=((11, 11),), wait=False)
    l3 = create_listener(client, a2.id, ports=((10, 10),), wait=False)
    resp = client.list_listeners(ListListenersRequest(accelerator_id=a1.id))
    assert resp.status_code == 200
    assert resp.request_id
    assert sorted(x.id for x in resp.listeners) == sorted([l1.id, l2.id])
    assert resp.page_info.current_count == 2
    assert not resp.page_info.next_marker
    assert all(x.accelerator_id == a1.id for x in resp.listeners)
    assert set(list_all_ids(client, "listener")) >= {l1.id, l2.id, l3.id}
    r = client.list_listeners(ListListenersRequest(id=l3.id))
    assert [x.id for x in r.listeners] == [l3.id]
    r = client.list_listeners(ListListenersRequest(name=l2.name))
    assert l2.id in [x.id for x in r.listeners]


def test_unknown_listener_is_404(client):
    missing = str(uuid.uuid4())
    expect_error(lambda: client.show_listener(ShowListenerRequest(listener_id=missing)), 404, "GA.9002")
    expect_error(lambda: _update(client, missing, name="abc"), 404, "GA.9002")
    expect_error(lambda: client.delete_listener(DeleteListenerRequest(listener_id=missing)), 404, "GA.9002")


def test_delete_listener_and_then_accelerator(client):
    acc = create_accelerator(client)
    lis = create_listener(client, acc.id)
    resp = client.delete_listener(DeleteListenerRequest(listener_id=lis.id))
    assert resp.status_code == 204
    wait_gone(client, "listener", lis.id)
    r = client.list_listeners(ListListenersRequest(accelerator_id=acc.id))
    assert r.listeners == []
    # the freed ports can be reused, and the now childless accelerator can be deleted
    create_listener(client, acc.id, ports=((80, 80),), wait=True)
    lis2 = client.list_listeners(ListListenersRequest(accelerator_id=acc.id)).listeners[0]
    delete_and_wait(client, "listener", lis2.id)
    delete_and_wait(client, "accelerator", acc.id)


def test_delete_listener_with_endpoint_group_conflicts(client):
    acc = create_accelerator(client)
    lis = create_listener(client, acc.id)
    create_endpoint_group(client, lis.id)
    expect_error(lambda: client.delete_listener(DeleteListenerRequest(listener_id=lis.id)), 409, "GA.9005")
    assert show(client, "listener", lis.id).status == "ACTIVE"


def test_default_listener_quota_is_10(client):
    acc = create_accelerator(client)
    for i in range(10):
        create_listener(client, acc.id, ports=((20000 + i, 20000 + i),), wait=False)
    expect_error(lambda: _create(client, name=uniq("lis"), protocol="TCP",
                                 port_ranges=[PortRange(from_port=21000, to_port=21000)],
                                 accelerator_id=acc.id), 400, "GA.9103")
