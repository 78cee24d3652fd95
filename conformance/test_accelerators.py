"""Accelerators: create / show / list / update / delete and their validation errors."""
import datetime
import uuid

import pytest

from conftest import (DEFAULT_CM_POOL, DEFAULT_OUTOFCM_POOL, CreateAcceleratorOption, CreateAcceleratorOptionIpSets,
                      CreateAcceleratorRequest, CreateAcceleratorRequestBody, DeleteAcceleratorRequest,
                      ListAcceleratorsRequest, ResourceTag, ShowAcceleratorRequest, UpdateAcceleratorOption,
                      UpdateAcceleratorRequest, UpdateAcceleratorRequestBody, create_accelerator, create_listener,
                      expect_error, in_network, list_all_ids, show, uniq, wait_active, wait_gone)


def _create(client, **opt):
    return client.create_accelerator(CreateAcceleratorRequest(
        body=CreateAcceleratorRequestBody(accelerator=CreateAcceleratorOption(**opt))))


def _valid_opt(**over):
    opt = dict(name=uniq("acc"), ip_sets=[CreateAcceleratorOptionIpSets(ip_type="IPV4", area="OUTOFCM")],
               enterprise_project_id="0")
    opt.update(over)
    return opt


def _update(client, acc_id, **opt):
    return client.update_accelerator(UpdateAcceleratorRequest(
        accelerator_id=acc_id, body=UpdateAcceleratorRequestBody(accelerator=UpdateAcceleratorOption(**opt))))


def test_create_returns_pending_with_full_detail(client, acct_a):
    name = uniq("acc")
    resp = create_accelerator(client, name=name, description="conformance demo",
                              tags=[ResourceTag(key="env", value="dev")], wait=False, raw_response=True)
    assert resp.status_code == 201
    assert resp.request_id, "create response lacks request_id"
    acc = resp.accelerator
    uuid.UUID(acc.id)
    assert len(acc.id) <= 36
    assert acc.name == name
    assert acc.description == "conformance demo"
    assert acc.status == "PENDING"
    assert acc.domain_id == acct_a.domain_id
    assert acc.enterprise_project_id == "0"
    assert isinstance(acc.created_at, datetime.datetime), acc.created_at
    assert isinstance(acc.updated_at, datetime.datetime), acc.updated_at
    assert acc.created_at.tzinfo is not None
    assert acc.frozen_info is not None and acc.frozen_info.status == 0
    assert acc.ip_sets and len(acc.ip_sets) == 1
    ip = acc.ip_sets[0]
    assert ip.ip_type == "IPV4"
    assert ip.area == "OUTOFCM"
    assert ip.ip_address and in_network(ip.ip_address, DEFAULT_OUTOFCM_POOL), ip.ip_address
    assert [(t.key, t.value) for t in (acc.tags or [])] == [("env", "dev")]


def test_create_becomes_active_and_show_matches(client):
    created = create_accelerator(client, description="d1", wait=False)
    active = wait_active(client, "accelerator", created.id)
    resp = client.show_accelerator(ShowAcceleratorRequest(accelerator_id=created.id))
    assert resp.status_code == 200
    assert resp.request_id
    got = resp.accelerator
    assert got.status == "ACTIVE"
    assert got.id == created.id
    assert got.name == created.name
    assert got.description == "d1"
    assert got.ip_sets[0].ip_address == created.ip_sets[0].ip_address
    assert got.ip_sets[0].area == "OUTOFCM"
    assert got.created_at == created.created_at
    assert active.domain_id == created.domain_id


def test_cm_accelerator_gets_address_from_cm_pool(client):
    acc = create_accelerator(client, area="CM")
    got = show(client, "accelerator", acc.id)
    assert got.ip_sets[0].area == "CM"
    assert in_network(got.ip_sets[0].ip_address, DEFAULT_CM_POOL), got.ip_sets[0].ip_address


def test_accelerators_get_distinct_addresses(client):
    accs = [create_accelerator(client, wait=False) for _ in range(3)]
    ips = [a.ip_sets[0].ip_address for a in accs]
    assert len(set(ips)) == 3, ips


def test_chinese_and_max_length_names_accepted(client):
    acc = create_accelerator(client, name="加速器-测试-1", wait=False)
    assert show(client, "accelerator", acc.id).name == "加速器-测试-1"
    name64 = ("a" * 52) + uuid.uuid4().hex[:12]
    assert len(name64) == 64
    acc2 = create_accelerator(client, name=name64, wait=False)
    assert acc2.name == name64


def test_list_contains_and_filters(client):
    a = create_accelerator(client)
    b = create_accelerator(client, wait=False)
    resp = client.list_accelerators(ListAcceleratorsRequest())
    assert resp.status_code == 200
    assert resp.request_id
    assert resp.page_info is not None and resp.page_info.current_count == len(resp.accelerators)
    ids = set(list_all_ids(client, "accelerator"))
    assert {a.id, b.id} <= ids
    # id filter
    r = client.list_accelerators(ListAcceleratorsRequest(id=a.id))
    assert [x.id for x in r.accelerators] == [a.id]
    assert r.page_info.current_count == 1
    # name filter
    r = client.list_accelerators(ListAcceleratorsRequest(name=a.name))
    assert a.id in [x.id for x in r.accelerators]
    assert all(a.name in x.name for x in r.accelerators), [x.name for x in r.accelerators]
    # status filter
    r = client.list_accelerators(ListAcceleratorsRequest(status="ACTIVE", limit=2000))
    assert all(x.status == "ACTIVE" for x in r.accelerators)
    assert a.id in [x.id for x in r.accelerators]
    # enterprise project filter
    r = client.list_accelerators(ListAcceleratorsRequest(enterprise_project_id="0", id=a.id))
    assert [x.id for x in r.accelerators] == [a.id]
    # listed objects carry the full detail
    listed = client.list_accelerators(ListAcceleratorsRequest(id=a.id)).accelerators[0]
    assert listed.name == a.name and listed.ip_sets[0].ip_address == a.ip_sets[0].ip_address
    assert listed.status in ("ACTIVE", "PENDING")


def test_list_with_unmatched_filter_is_empty(client):
    r = client.list_accelerators(ListAcceleratorsRequest(id=str(uuid.uuid4())))
    assert r.status_code == 200
    assert r.accelerators == []
    assert r.page_info.current_count == 0
    assert not r.page_info.next_marker


def test_update_changes_only_carried_keys(client):
    acc = create_accelerator(client, description="original")
    new_name = uniq("renamed")
    resp = _update(client, acc.id, name=new_name)
    assert resp.status_code == 200
    assert resp.request_id
    assert resp.accelerator.id == acc.id
    assert resp.accelerator.name == new_name
    assert resp.accelerator.description == "original"
    wait_active(client, "accelerator", acc.id)
    resp = _update(client, acc.id, description="changed")
    assert resp.accelerator.name == new_name
    assert resp.accelerator.description == "changed"
    got = wait_active(client, "accelerator", acc.id)
    assert got.name == new_name and got.description == "changed"
    assert got.ip_sets[0].ip_address == acc.ip_sets[0].ip_address
    assert got.enterprise_project_id == "0"
    # empty description is allowed (0-255 chars)
    resp = _update(client, acc.id, description="")
    assert resp.accelerator.description == ""
    assert resp.accelerator.name == new_name


def test_delete_then_gone(client):
    acc = create_accelerator(client)
    resp = client.delete_accelerator(DeleteAcceleratorRequest(accelerator_id=acc.id))
    assert resp.status_code == 204
    wait_gone(client, "accelerator", acc.id)
    assert acc.id not in list_all_ids(client, "accelerator")
    expect_error(lambda: client.delete_accelerator(DeleteAcceleratorRequest(accelerator_id=acc.id)), 404, "GA.9002")


def test_delete_with_listener_conflicts(client):
    acc = create_accelerator(client)
    create_listener(client, acc.id)
    e = expect_error(lambda: client.delete_accelerator(DeleteAcceleratorRequest(accelerator_id=acc.id)),
                     409, "GA.9005")
    assert e.error_msg
    assert show(client, "accelerator", acc.id).status == "ACTIVE"


def test_unknown_accelerator_is_404(client):
    missing = str(uuid.uuid4())
    expect_error(lambda: client.show_accelerator(ShowAcceleratorRequest(accelerator_id=missing)), 404, "GA.9002")
    expect_error(lambda: _update(client, missing, name="x1"), 404, "GA.9002")
    expect_error(lambda: client.delete_accelerator(DeleteAcceleratorRequest(accelerator_id=missing)), 404, "GA.9002")


def test_overlong_path_id_rejected(client):
    long_id = "a" * 37
    try:
        client.show_accelerator(ShowAcceleratorRequest(accelerator_id=long_id))
    except Exception as e:          # 400 GA.9001 (validation) or 404 GA.9002 are both reasonable
        assert getattr(e, "status_code", None) in (400, 404), e
        assert e.error_code in ("GA.9001", "GA.9002"), e
    else:
        pytest.fail("a 37-character accelerator id was accepted")


@pytest.mark.parametrize("field,over", [
    ("name", {"name": None}),
    ("name", {"name": ""}),
    ("name", {"name": "n" * 65}),
    ("name", {"name": "bad name!"}),
    ("name", {"name": "under_score"}),
    ("name", {"name": 12345}),
    ("description", {"description": "has <angle> brackets"}),
    ("description", {"description": "d" * 256}),
    ("ip_sets", {"ip_sets": None}),
    ("ip_sets", {"ip_sets": []}),
    ("ip_type", {"ip_sets": [CreateAcceleratorOptionIpSets(ip_type="IPV5", area="OUTOFCM")]}),
    ("area", {"ip_sets": [CreateAcceleratorOptionIpSets(ip_type="IPV4", area="MARS")]}),
    ("area", {"ip_sets": [CreateAcceleratorOptionIpSets(ip_type="IPV4")]}),
    ("enterprise_project_id", {"enterprise_project_id": None}),
    ("enterprise_project_id", {"enterprise_project_id": "e" * 37}),
])
def test_create_validation(client, field, over):
    opt = _valid_opt(**over)
    expect_error(lambda: _create(client, **opt), 400, "GA.9001", msg_contains=field)


def test_create_ipv6_with_empty_pool_is_pool_exhausted(client):
    # IPv6 pools are empty by default: allocating an IPv6 anycast address must fail as "pool exhausted".
    opt = _valid_opt(ip_sets=[CreateAcceleratorOptionIpSets(ip_type="IPV6", area="OUTOFCM")])
    expect_error(lambda: _create(client, **opt), 500, "GA.9201")


@pytest.mark.parametrize("field,over", [
    ("name", {"name": ""}),
    ("name", {"name": "x" * 65}),
    ("name", {"name": "no spaces"}),
    ("description", {"description": "<script>"}),
])
def test_update_validation(client, field, over):
    acc = create_accelerator(client)
    before = show(client, "accelerator", acc.id)
    expect_error(lambda: _update(client, acc.id, **over), 400, "GA.9001", msg_contains=field)
    got = show(client, "accelerator", acc.id)
    assert (got.name, got.description, got.updated_at) == (before.name, before.description, before.updated_at), \
        "a rejected update must not change the accelerator"
