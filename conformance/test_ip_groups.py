"""IP address groups: the 9 operations through the SDK, CIDR rules, listener bindings, tenancy and quota."""
import ipaddress
import time
import uuid

import pytest

from conftest import (Account, create_accelerator, create_listener,
                      delete, expect_error, start_server, uniq, wait_for, wait_gone)
from huaweicloudsdkga.v1 import (
    AddIpGroupIpRequest, AddIpGroupIpRequestBody, AssociateListenerRequest, AssociateListenerRequestBody,
    CreateIpGroupIpOption, CreateIpGroupOption, CreateIpGroupRequest, CreateIpGroupRequestBody,
    DeleteIpGroupRequest, DisassociateListenerRequest, DisassociateListenerRequestBody, ListIpGroupsRequest,
    RemoveIpGroupIpRequest, RemoveIpGroupIpRequestBody, ShowIpGroupRequest, UpdateIpGroupOption,
    UpdateIpGroupRequest, UpdateIpGroupRequestBody,
)

NF = (404, "GA.9002")
INVALID = (400, "GA.9001")
DUPLICATE = (400, "GA.9110")


# --------------------------------------------------------------------------------------------------------------
# Helpers (also imported by test_access_control.py)
# --------------------------------------------------------------------------------------------------------------

def ip_options(cidrs):
    """CIDR strings or (cidr, description) pairs -> [CreateIpGroupIpOption]."""
    out = []
    for c in cidrs:
        cidr, desc = (c, None) if isinstance(c, str) else c
        out.append(CreateIpGroupIpOption(cidr=cidr, description=desc))
    return out


def create_ip_group(client, cidrs=(), name=None, description=None, wait=True, raw_response=False):
    opt = CreateIpGroupOption(name=name or uniq("ipg"), description=description,
                              ip_list=ip_options(cidrs) if cidrs else None)
    resp = client.create_ip_group(CreateIpGroupRequest(body=CreateIpGroupRequestBody(ip_group=opt)))
    assert resp.status_code == 201, resp.status_code
    g = resp.ip_group
    assert g is not None and g.id, "create_ip_group response lacks ip_group.id"
    if wait:
        wait_group_active(client, g.id)
    return resp if raw_response else g


def show_group(client, group_id):
    return client.show_ip_group(ShowIpGroupRequest(ip_group_id=group_id)).ip_group


def wait_group_active(client, group_id, timeout=10.0):
    seen = []

    def fetch():
        g = show_group(client, group_id)
        seen.append(g.status)
        return g

    g = wait_for(fetch, lambda g: g.status == "ACTIVE", timeout=timeout, desc="ip_group %s ACTIVE" % group_id)
    bad = [s for s in seen if s not in ("PENDING", "ACTIVE")]
    assert not bad, "ip_group %s went through unexpected states %s" % (group_id, seen)
    return g


def add_ips(client, group_id, cidrs):
    return client.add_ip_group_ip(AddIpGroupIpRequest(
        ip_group_id=group_id, body=AddIpGroupIpRequestBody(ip_list=ip_options(cidrs))))


def remove_ips(client, group_id, cidrs):
    return client.remove_ip_group_ip(RemoveIpGroupIpRequest(
        ip_group_id=group_id, body=RemoveIpGroupIpRequestBody(ip_list=list(cidrs))))


def associate(client, group_id, listener_id, kind="WHITE"):
    return client.associate_listener(AssociateListenerRequest(
        ip_group_id=group_id, body=AssociateListenerRequestBody(listener_id=listener_id, type=kind)))


def disassociate(client, group_id, listener_id):
    return client.disassociate_listener(DisassociateListenerRequest(
        ip_group_id=group_id, body=DisassociateListenerRequestBody(listener_id=listener_id)))


def delete_group(client, group_id):
    return client.delete_ip_group(DeleteIpGroupRequest(ip_group_id=group_id))


def list_groups(client, **kw):
    return client.list_ip_groups(ListIpGroupsRequest(**kw))


def cidrs_of(group):
    return [e.cidr for e in (group.ip_list or [])]


def bindings_of(group):
    return sorted((b.listener_id, b.type) for b in (group.associated_listeners or []))


def _acc_listener(client, port=80):
    acc = create_accelerator(client)
    return acc, create_listener(client, acc.id, ports=((port, port),))


@pytest.fixture(scope="module")
def listeners(client):
    """One accelerator with four ACTIVE listeners (no endpoint groups, so they are deletable)."""
    acc = create_accelerator(client)
    return [create_listener(client, acc.id, ports=((p, p),)) for p in (81, 82, 83, 84)]


# --------------------------------------------------------------------------------------------------------------
# Create / show / update / list
# --------------------------------------------------------------------------------------------------------------

def test_create_answers_pending_then_active_with_normalised_cidrs(client):
    name = uniq("ipg")
    resp = create_ip_group(client, [("192.0.2.0/24", "office"), "2001:db8::1", "198.51.100.7"], name=name,
                           description="first group", wait=False, raw_response=True)
    assert resp.status_code == 201
    assert resp.request_id
    g = resp.ip_group
    assert g.status == "PENDING", "create must answer PENDING, got %r" % g.status
    assert g.name == name and g.description == "first group"
    uuid.UUID(g.id)
    assert cidrs_of(g) == ["192.0.2.0/24", "2001:db8::1/128", "198.51.100.7/32"]
    assert g.ip_list[0].description == "office"
    assert all(e.created_at is not None for e in g.ip_list)
    assert not g.associated_listeners
    assert g.created_at is not None and g.updated_at is not None

    active = wait_group_active(client, g.id)
    assert active.name == name
    assert cidrs_of(active) == ["192.0.2.0/24", "2001:db8::1/128", "198.51.100.7/32"]
    assert not active.associated_listeners


def test_create_without_ips(client):
    g = create_ip_group(client)
    assert cidrs_of(g) == []


def test_update_name_and_description(client):
    g = create_ip_group(client, ["192.0.2.0/24"])
    new = uniq("ipg-renamed")
    resp = client.update_ip_group(UpdateIpGroupRequest(ip_group_id=g.id, body=UpdateIpGroupRequestBody(
        ip_group=UpdateIpGroupOption(name=new, description="changed"))))
    assert resp.status_code == 200
    assert resp.ip_group.id == g.id and resp.ip_group.name == new and resp.ip_group.description == "changed"
    got = wait_group_active(client, g.id)
    assert (got.name, got.description, cidrs_of(got)) == (new, "changed", ["192.0.2.0/24"])
    # only the keys carried change
    client.update_ip_group(UpdateIpGroupRequest(ip_group_id=g.id, body=UpdateIpGroupRequestBody(
        ip_group=UpdateIpGroupOption(description="again"))))
    got = wait_group_active(client, g.id)
    assert (got.name, got.description) == (new, "again")


def test_create_and_update_validate_name(client):
    expect_error(lambda: create_ip_group(client, name="bad name!", wait=False), *INVALID)
    g = create_ip_group(client, wait=False)
    expect_error(lambda: client.update_ip_group(UpdateIpGroupRequest(ip_group_id=g.id, body=UpdateIpGroupRequestBody(
        ip_group=UpdateIpGroupOption(description="<script>")))), *INVALID)


def test_list_contains_group_and_pages_by_marker(fresh_account):
    c = fresh_account.client
    ids = [create_ip_group(c, ["10.%d.0.0/16" % i], wait=False).id for i in range(3)]
    r = list_groups(c)
    assert r.status_code == 200
    assert sorted(g.id for g in r.ip_groups) == sorted(ids)
    assert r.page_info.current_count == 3 and not r.page_info.next_marker
    walked, marker = [], None
    for _ in range(10):
        kw = {"limit": 1}
        if marker:
            kw["marker"] = marker
        page = list_groups(c, **kw)
        assert len(page.ip_groups) <= 1 and page.page_info.current_count == len(page.ip_groups)
        walked += [g.id for g in page.ip_groups]
        if not page.page_info.next_marker:
            break
        assert page.page_info.next_marker == page.ip_groups[-1].id
        marker = page.page_info.next_marker
    assert sorted(walked) == sorted(ids) and len(walked) == 3


# --------------------------------------------------------------------------------------------------------------
# CIDR entries
# --------------------------------------------------------------------------------------------------------------

def test_add_and_remove_ips(client):
    g = create_ip_group(client, ["192.0.2.0/24"])
    resp = add_ips(client, g.id, [("203.0.113.0/24", "lab"), "2001:db8:1::/48"])
    assert resp.status_code == 200
    got = wait_group_active(client, g.id)
    assert cidrs_of(got) == ["192.0.2.0/24", "203.0.113.0/24", "2001:db8:1::/48"]
    assert [e.description for e in got.ip_list if e.cidr == "203.0.113.0/24"] == ["lab"]

    resp = remove_ips(client, g.id, ["203.0.113.0/24", "192.0.2.0/24"])
    assert resp.status_code == 200
    got = wait_group_active(client, g.id)
    assert cidrs_of(got) == ["2001:db8:1::/48"]
    # a single address is removed by its normalised or its plain form
    add_ips(client, g.id, ["198.51.100.9", "2001:db8::5"])
    wait_group_active(client, g.id)
    remove_ips(client, g.id, ["198.51.100.9/32", "2001:db8::5"])
    assert cidrs_of(wait_group_active(client, g.id)) == ["2001:db8:1::/48"]


def test_cidr_forms_are_normalised(client):
    g = create_ip_group(client, ["198.51.100.5/24", "2001:DB8:0:0::2", "10.0.0.1/32"])
    assert cidrs_of(g) == ["198.51.100.0/24", "2001:db8::2/128", "10.0.0.1/32"]
    add_ips(client, g.id, ["2001:DB8:AB::/48"])
    assert cidrs_of(wait_group_active(client, g.id))[-1] == "2001:db8:ab::/48"


def test_entry_lists_must_not_be_empty_and_descriptions_are_checked(client):
    g = create_ip_group(client, ["192.0.2.0/24"], wait=False)
    expect_error(lambda: add_ips(client, g.id, []), *INVALID)
    expect_error(lambda: remove_ips(client, g.id, []), *INVALID)
    expect_error(lambda: add_ips(client, g.id, [("10.0.0.0/8", "<b>")]), *INVALID)
    expect_error(lambda: list_groups(client, limit=0), *INVALID)
    expect_error(lambda: list_groups(client, limit=2001), *INVALID)
    expect_error(lambda: show_group(client, "x" * 37), *INVALID)
    assert cidrs_of(show_group(client, g.id)) == ["192.0.2.0/24"]


@pytest.mark.parametrize("bad", ["not-a-cidr", "300.1.2.3/24", "10.0.0.0/33", "2001:db8::/129", ""])
def test_bad_cidr_is_rejected(client, bad):
    expect_error(lambda: create_ip_group(client, [bad], wait=False), *INVALID)
    g = create_ip_group(client, ["192.0.2.0/24"], wait=False)
    expect_error(lambda: add_ips(client, g.id, [bad]), *INVALID)
    assert cidrs_of(show_group(client, g.id)) == ["192.0.2.0/24"]


def test_duplicate_cidr_in_one_call(client):
    expect_error(lambda: create_ip_group(client, ["10.1.0.0/16", "10.1.0.0/16"], wait=False), *DUPLICATE)
    g = create_ip_group(client, ["192.0.2.0/24"], wait=False)
    expect_error(lambda: add_ips(client, g.id, ["10.2.0.0/16", "10.2.0.0/16"]), *DUPLICATE)
    # the same address written two ways is the same entry
    expect_error(lambda: add_ips(client, g.id, ["2001:db8::1", "2001:db8::1/128"]), *DUPLICATE)
    assert cidrs_of(show_group(client, g.id)) == ["192.0.2.0/24"], "a rejected add changed the group"


def test_duplicate_cidr_already_present(client):
    g = create_ip_group(client, ["192.0.2.0/24", "2001:db8::1"])
    expect_error(lambda: add_ips(client, g.id, ["192.0.2.0/24"]), *DUPLICATE)
    expect_error(lambda: add_ips(client, g.id, ["10.3.0.0/16", "2001:db8::1/128"]), *DUPLICATE)
    assert cidrs_of(wait_group_active(client, g.id)) == ["192.0.2.0/24", "2001:db8::1/128"]


def test_at_most_20_cidrs_per_call(client):
    many = ["10.9.%d.0/24" % i for i in range(21)]
    expect_error(lambda: create_ip_group(client, many, wait=False), *INVALID)
    g = create_ip_group(client)
    expect_error(lambda: add_ips(client, g.id, many), *INVALID)
    assert add_ips(client, g.id, many[:20]).status_code == 200
    assert len(cidrs_of(wait_group_active(client, g.id))) == 20
    expect_error(lambda: remove_ips(client, g.id, many), *INVALID)
    assert remove_ips(client, g.id, many[:20]).status_code == 200
    assert cidrs_of(wait_group_active(client, g.id)) == []


def test_remove_cidr_not_in_group(client):
    g = create_ip_group(client, ["192.0.2.0/24"])
    expect_error(lambda: remove_ips(client, g.id, ["198.51.100.0/24"]), *INVALID)
    expect_error(lambda: remove_ips(client, g.id, ["192.0.2.0/24", "198.51.100.0/24"]), *INVALID)
    expect_error(lambda: remove_ips(client, g.id, ["garbage"]), *INVALID)
    assert cidrs_of(wait_group_active(client, g.id)) == ["192.0.2.0/24"], "a rejected remove changed the group"


# --------------------------------------------------------------------------------------------------------------
# Listener bindings
# --------------------------------------------------------------------------------------------------------------

def test_associate_and_disassociate(client, listeners):
    lis = listeners[0]
    g = create_ip_group(client, ["192.0.2.0/24"])
    resp = associate(client, g.id, lis.id, "WHITE")
    assert resp.status_code == 200
    got = wait_group_active(client, g.id)
    assert bindings_of(got) == [(lis.id, "WHITE")]
    resp = disassociate(client, g.id, lis.id)
    assert resp.status_code == 200
    got = wait_group_active(client, g.id)
    assert bindings_of(got) == []
    # BLACK works the same way
    associate(client, g.id, lis.id, "BLACK")
    assert bindings_of(wait_group_active(client, g.id)) == [(lis.id, "BLACK")]
    disassociate(client, g.id, lis.id)
    assert bindings_of(wait_group_active(client, g.id)) == []
    # disassociating a listener that is not bound is a bad request
    expect_error(lambda: disassociate(client, g.id, lis.id), *INVALID)


def test_associate_unknown_listener(client):
    g = create_ip_group(client, ["192.0.2.0/24"])
    expect_error(lambda: associate(client, g.id, str(uuid.uuid4()), "WHITE"), *NF)
    expect_error(lambda: associate(client, str(uuid.uuid4()), str(uuid.uuid4()), "WHITE"), *NF)
    assert bindings_of(show_group(client, g.id)) == []


def test_associate_bad_type(client, listeners):
    g = create_ip_group(client, ["192.0.2.0/24"])
    expect_error(lambda: associate(client, g.id, listeners[0].id, "GREY"), *INVALID)


def test_listener_bound_to_only_one_group(client, listeners):
    lis = listeners[1]
    g1 = create_ip_group(client, ["192.0.2.0/24"])
    g2 = create_ip_group(client, ["198.51.100.0/24"])
    associate(client, g1.id, lis.id, "WHITE")
    wait_group_active(client, g1.id)
    expect_error(lambda: associate(client, g2.id, lis.id, "BLACK"), 400, "GA.9104")
    expect_error(lambda: associate(client, g1.id, lis.id, "BLACK"), 400, "GA.9104")
    assert bindings_of(show_group(client, g2.id)) == []
    assert bindings_of(show_group(client, g1.id)) == [(lis.id, "WHITE")]
    # once released, the other group may take it
    disassociate(client, g1.id, lis.id)
    wait_group_active(client, g1.id)
    associate(client, g2.id, lis.id, "BLACK")
    assert bindings_of(wait_group_active(client, g2.id)) == [(lis.id, "BLACK")]
    disassociate(client, g2.id, lis.id)
    wait_group_active(client, g2.id)


def test_one_group_many_listeners(client, listeners):
    g = create_ip_group(client, ["192.0.2.0/24"])
    associate(client, g.id, listeners[2].id, "WHITE")
    wait_group_active(client, g.id)
    associate(client, g.id, listeners[3].id, "BLACK")
    got = wait_group_active(client, g.id)
    assert bindings_of(got) == sorted([(listeners[2].id, "WHITE"), (listeners[3].id, "BLACK")])
    disassociate(client, g.id, listeners[2].id)
    wait_group_active(client, g.id)
    disassociate(client, g.id, listeners[3].id)
    assert bindings_of(wait_group_active(client, g.id)) == []


def test_delete_bound_group_and_bound_listener_conflict(client):
    acc, lis = _acc_listener(client)
    g = create_ip_group(client, ["192.0.2.0/24"])
    associate(client, g.id, lis.id, "WHITE")
    wait_group_active(client, g.id)

    expect_error(lambda: delete_group(client, g.id), 409, "GA.9005")
    expect_error(lambda: delete(client, "listener", lis.id), 409, "GA.9005")
    assert show_group(client, g.id).status == "ACTIVE"

    disassociate(client, g.id, lis.id)
    wait_group_active(client, g.id)
    resp = delete_group(client, g.id)
    assert resp.status_code == 204
    wait_gone(client, "ip_group", g.id)
    expect_error(lambda: delete_group(client, g.id), *NF)
    # the listener is free to go now
    assert delete(client, "listener", lis.id).status_code == 204


def test_list_filtered_by_listener(fresh_account):
    c = fresh_account.client
    acc = create_accelerator(c)
    l1, l2, l3 = (create_listener(c, acc.id, ports=((p, p),)) for p in (91, 92, 93))
    g1 = create_ip_group(c, ["192.0.2.0/24"])
    g2 = create_ip_group(c, ["198.51.100.0/24"])
    g3 = create_ip_group(c, ["203.0.113.0/24"])
    associate(c, g1.id, l1.id, "WHITE")
    wait_group_active(c, g1.id)
    associate(c, g1.id, l2.id, "BLACK")
    wait_group_active(c, g1.id)
    associate(c, g2.id, l3.id, "BLACK")
    wait_group_active(c, g2.id)

    r = list_groups(c, listener_id=l1.id)
    assert [g.id for g in r.ip_groups] == [g1.id]
    assert bindings_of(r.ip_groups[0]) == [(l1.id, "WHITE")], "associated_listeners not narrowed to the filter"
    assert r.page_info.current_count == 1
    r = list_groups(c, listener_id=l2.id)
    assert [g.id for g in r.ip_groups] == [g1.id]
    assert bindings_of(r.ip_groups[0]) == [(l2.id, "BLACK")]
    r = list_groups(c, listener_id=l3.id)
    assert [g.id for g in r.ip_groups] == [g2.id]
    assert bindings_of(r.ip_groups[0]) == [(l3.id, "BLACK")]
    assert list_groups(c, listener_id=str(uuid.uuid4())).ip_groups == []

    full = {g.id: g for g in list_groups(c).ip_groups}
    assert set(full) == {g1.id, g2.id, g3.id}
    assert bindings_of(full[g1.id]) == sorted([(l1.id, "WHITE"), (l2.id, "BLACK")])
    assert bindings_of(full[g3.id]) == []


# --------------------------------------------------------------------------------------------------------------
# Tenancy and quota
# --------------------------------------------------------------------------------------------------------------

def test_other_account_sees_nothing(client, fresh_account, listeners):
    g = create_ip_group(client, ["192.0.2.0/24"])
    b = fresh_account.client
    expect_error(lambda: show_group(b, g.id), *NF)
    expect_error(lambda: b.update_ip_group(UpdateIpGroupRequest(ip_group_id=g.id, body=UpdateIpGroupRequestBody(
        ip_group=UpdateIpGroupOption(name=uniq("x"))))), *NF)
    expect_error(lambda: add_ips(b, g.id, ["10.0.0.0/8"]), *NF)
    expect_error(lambda: remove_ips(b, g.id, ["192.0.2.0/24"]), *NF)
    expect_error(lambda: associate(b, g.id, listeners[0].id, "WHITE"), *NF)
    expect_error(lambda: disassociate(b, g.id, listeners[0].id), *NF)
    expect_error(lambda: delete_group(b, g.id), *NF)
    r = list_groups(b)
    assert r.ip_groups == [] and r.page_info.current_count == 0
    # A's group bound to A's listener: A's listener filter finds it, B's finds nothing.
    associate(client, g.id, listeners[0].id, "WHITE")
    wait_group_active(client, g.id)
    assert [x.id for x in list_groups(client, listener_id=listeners[0].id).ip_groups] == [g.id]
    assert list_groups(b, listener_id=listeners[0].id).ip_groups == []
    disassociate(client, g.id, listeners[0].id)
    wait_group_active(client, g.id)
    # B's own group cannot bind A's listener
    own = create_ip_group(b, ["10.0.0.0/8"])
    expect_error(lambda: associate(b, own.id, listeners[0].id, "WHITE"), *NF)
    # A's group is untouched
    got = show_group(client, g.id)
    assert cidrs_of(got) == ["192.0.2.0/24"] and got.name == g.name


def test_ip_group_quota(tmp_path_factory):
    srv = start_server(tmp_path_factory, "ipg-quota", env={"SLIPSTREAM_QUOTA_IP_GROUPS": "2"})
    try:
        c = Account(srv, srv.credentials()).client
        first = create_ip_group(c, wait=False)
        create_ip_group(c, wait=False)
        expect_error(lambda: create_ip_group(c, wait=False), 400, "GA.9103")
        assert len(list_groups(c).ip_groups) == 2
        # another account has its own quota
        other = Account(srv, srv.create_account(uniq("acct"))).client
        create_ip_group(other, wait=False)
        # freeing one makes room again
        wait_group_active(c, first.id)
        assert delete_group(c, first.id).status_code == 204
        wait_gone(c, "ip_group", first.id)
        create_ip_group(c, wait=False)
        expect_error(lambda: create_ip_group(c, wait=False), 400, "GA.9103")
    finally:
        srv.stop()
