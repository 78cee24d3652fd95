"""Endpoint groups: CRUD, defaults, region rules (GA.9105), one group per listener+region (GA.9104), children."""
import datetime
import uuid

import pytest

from conftest import (OUTOFCM_REGION, OUTOFCM_REGION_2, CreateEndpointGroupOption, CreateEndpointGroupRequest,
                      CreateEndpointGroupRequestBody, DeleteEndpointGroupRequest, Id, ListEndpointGroupsRequest,
                      ShowEndpointGroupRequest, UpdateEndpointGroupOption, UpdateEndpointGroupRequest,
                      UpdateEndpointGroupRequestBody, create_accelerator, create_endpoint, create_endpoint_group,
                      create_health_check, create_listener, delete_and_wait, expect_error, list_all_ids, show, uniq,
                      wait_active, wait_gone)


def _create(client, **opt):
    return client.create_endpoint_group(CreateEndpointGroupRequest(
        body=CreateEndpointGroupRequestBody(endpoint_group=CreateEndpointGroupOption(**opt))))


def _update(client, eg_id, **opt):
    return client.update_endpoint_group(UpdateEndpointGroupRequest(
        endpoint_group_id=eg_id, body=UpdateEndpointGroupRequestBody(endpoint_group=UpdateEndpointGroupOption(**opt))))


@pytest.fixture
def listener(client):
    acc = create_accelerator(client)
    return create_listener(client, acc.id)


def test_create_returns_pending_with_defaults(client, listener, acct_a):
    name = uniq("eg")
    resp = create_endpoint_group(client, listener.id, name=name, description="group one", wait=False,
                                 raw_response=True)
    assert resp.status_code == 201
    assert resp.request_id
    eg = resp.endpoint_group
    uuid.UUID(eg.id)
    assert eg.name == name
    assert eg.description == "group one"
    assert eg.status == "PENDING"
    assert eg.traffic_dial_percentage == 100, "traffic_dial_percentage must default to 100"
    assert eg.region_id == OUTOFCM_REGION
    assert [x.id for x in eg.listeners] == [listener.id]
    assert eg.domain_id == acct_a.domain_id
    assert isinstance(eg.created_at, datetime.datetime)
    assert isinstance(eg.updated_at, datetime.datetime)
    assert eg.frozen_info is not None and eg.frozen_info.status == 0
    got = wait_active(client, "endpoint_group", eg.id)
    assert got.traffic_dial_percentage == 100 and got.region_id == OUTOFCM_REGION


def test_show(client, listener):
    eg = create_endpoint_group(client, listener.id, traffic_dial_percentage=0)
    resp = client.show_endpoint_group(ShowEndpointGroupRequest(endpoint_group_id=eg.id))
    assert resp.status_code == 200
    assert resp.request_id
    got = resp.endpoint_group
    assert got.id == eg.id and got.name == eg.name
    assert got.traffic_dial_percentage == 0
    assert got.status == "ACTIVE"
    assert [x.id for x in got.listeners] == [listener.id]


def test_unknown_region_is_ga9105(client, listener):
    expect_error(lambda: _create(client, name=uniq("eg"), region_id="mars-north-1", listeners=[Id(id=listener.id)]),
                 400, "GA.9105")


def test_unknown_listener_is_404(client):
    expect_error(lambda: _create(client, name=uniq("eg"), region_id=OUTOFCM_REGION,
                                 listeners=[Id(id=str(uuid.uuid4()))]), 404, "GA.9002")


def test_one_group_per_listener_and_region(client, listener):
    create_endpoint_group(client, listener.id, region_id=OUTOFCM_REGION)
    expect_error(lambda: _create(client, name=uniq("eg"), region_id=OUTOFCM_REGION, listeners=[Id(id=listener.id)]),
                 400, "GA.9104")
    # another region on the same listener is fine
    eg2 = create_endpoint_group(client, listener.id, region_id=OUTOFCM_REGION_2, wait=False)
    assert eg2.region_id == OUTOFCM_REGION_2


@pytest.mark.parametrize("field,over", [
    ("name", {"name": None}),
    ("name", {"name": "has space"}),
    ("name", {"name": "n" * 65}),
    ("description", {"description": "<x>"}),
    ("traffic_dial_percentage", {"traffic_dial_percentage": 101}),
    ("traffic_dial_percentage", {"traffic_dial_percentage": -1}),
    ("region_id", {"region_id": None}),
    ("listeners", {"listeners": None}),
    ("listeners", {"listeners": []}),
])
def test_create_validation(client, listener, field, over):
    opt = dict(name=uniq("eg"), region_id=OUTOFCM_REGION, listeners=[Id(id=listener.id)])
    opt.update(over)
    expect_error(lambda: _create(client, **opt), 400, "GA.9001", msg_contains=field)


def test_two_listeners_rejected(client):
    acc = create_accelerator(client)
    l1 = create_listener(client, acc.id, ports=((80, 80),))
    l2 = create_listener(client, acc.id, ports=((81, 81),))
    expect_error(lambda: _create(client, name=uniq("eg"), region_id=OUTOFCM_REGION,
                                 listeners=[Id(id=l1.id), Id(id=l2.id)]), 400, "GA.9001", msg_contains="listeners")


def test_update_changes_only_carried_keys(client, listener):
    eg = create_endpoint_group(client, listener.id, description="desc")
    resp = _update(client, eg.id, traffic_dial_percentage=50)
    assert resp.status_code == 200
    assert resp.request_id
    u = resp.endpoint_group
    assert u.traffic_dial_percentage == 50
    assert u.name == eg.name and u.description == "desc" and u.region_id == OUTOFCM_REGION
    assert [x.id for x in u.listeners] == [listener.id]
    wait_active(client, "endpoint_group", eg.id)
    new_name = uniq("eg2")
    u = _update(client, eg.id, name=new_name).endpoint_group
    assert u.name == new_name and u.traffic_dial_percentage == 50 and u.description == "desc"
    got = wait_active(client, "endpoint_group", eg.id)
    assert got.name == new_name and got.traffic_dial_percentage == 50


@pytest.mark.parametrize("field,over", [
    ("traffic_dial_percentage", {"traffic_dial_percentage": 150}),
    ("name", {"name": ""}),
    ("description", {"description": ">"}),
])
def test_update_validation(client, listener, field, over):
    eg = create_endpoint_group(client, listener.id)
    before = show(client, "endpoint_group", eg.id)
    expect_error(lambda: _update(client, eg.id, **over), 400, "GA.9001", msg_contains=field)
    got = show(client, "endpoint_group", eg.id)
    fields = ("name", "description", "traffic_dial_percentage", "updated_at")
    assert [getattr(got, f) for f in fields] == [getattr(before, f) for f in fields], \
        "a rejected update must not change the endpoint group"


def test_list_and_filters(client):
    acc = create_accelerator(client)
    l1 = create_listener(client, acc.id, ports=((80, 80),))
    l2 = create_listener(client, acc.id, ports=((81, 81),))
    e1 = create_endpoint_group(client, l1.id, region_id=OUTOFCM_REGION, wait=False)
    e2 = create_endpoint_group(client, l1.id, region_id=OUTOFCM_REGION_2, wait=False)
    e3 = create_endpoint_group(client, l2.id, wait=False)
    resp = client.list_endpoint_groups(ListEndpointGroupsRequest(listener_id=l1.id))
    assert resp.status_code == 200
    assert resp.request_id
    assert sorted(x.id for x in resp.endpoint_groups) == sorted([e1.id, e2.id])
    assert resp.page_info.current_count == 2
    r = client.list_endpoint_groups(ListEndpointGroupsRequest(id=e3.id))
    assert [x.id for x in r.endpoint_groups] == [e3.id]
    r = client.list_endpoint_groups(ListEndpointGroupsRequest(name=e2.name))
    assert e2.id in [x.id for x in r.endpoint_groups]
    assert set(list_all_ids(client, "endpoint_group")) >= {e1.id, e2.id, e3.id}


def test_unknown_group_is_404(client):
    missing = str(uuid.uuid4())
    expect_error(lambda: client.show_endpoint_group(ShowEndpointGroupRequest(endpoint_group_id=missing)),
                 404, "GA.9002")
    expect_error(lambda: _update(client, missing, name="abc"), 404, "GA.9002")
    expect_error(lambda: client.delete_endpoint_group(DeleteEndpointGroupRequest(endpoint_group_id=missing)),
                 404, "GA.9002")


def test_delete_group(client, listener):
    eg = create_endpoint_group(client, listener.id)
    resp = client.delete_endpoint_group(DeleteEndpointGroupRequest(endpoint_group_id=eg.id))
    assert resp.status_code == 204
    wait_gone(client, "endpoint_group", eg.id)
    # the listener+region slot is free again, and the listener can now be deleted after its new group goes
    eg2 = create_endpoint_group(client, listener.id)
    delete_and_wait(client, "endpoint_group", eg2.id)
    delete_and_wait(client, "listener", listener.id)


def test_delete_group_with_endpoint_conflicts(client, listener):
    eg = create_endpoint_group(client, listener.id)
    ep = create_endpoint(client, eg.id)
    expect_error(lambda: client.delete_endpoint_group(DeleteEndpointGroupRequest(endpoint_group_id=eg.id)),
                 409, "GA.9005")
    assert show(client, "endpoint_group", eg.id).status == "ACTIVE"
    delete_and_wait(client, "endpoint", (eg.id, ep.id))
    delete_and_wait(client, "endpoint_group", eg.id)


def test_delete_group_with_health_check_conflicts(client, listener):
    eg = create_endpoint_group(client, listener.id)
    hc = create_health_check(client, eg.id)
    expect_error(lambda: client.delete_endpoint_group(DeleteEndpointGroupRequest(endpoint_group_id=eg.id)),
                 409, "GA.9005")
    delete_and_wait(client, "health_check", hc.id)
    delete_and_wait(client, "endpoint_group", eg.id)
