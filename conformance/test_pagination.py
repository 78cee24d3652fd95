"""Marker pagination: limit / marker / page_reverse / page_info on every list operation."""
import uuid

import pytest

from conftest import (ListAcceleratorsRequest, create_accelerator, create_endpoint, create_endpoint_group,
                      create_health_check, create_listener, expect_error, list_page, next_marker_pager,
                      terraform_pager)

N = 7


@pytest.fixture(scope="module")
def paged_account(server):
    """A fresh account holding exactly N accelerators (created in this order)."""
    from conftest import Account, uniq
    acct = Account(server, server.create_account(uniq("acct-page")))
    ids = [create_accelerator(acct.client, wait=False).id for _ in range(N)]
    return acct, ids


def _forward_ids(client):
    items, page_info, _ = list_page(client, "accelerator", limit=2000)
    assert not page_info.next_marker
    return [i.id for i in items]


def test_full_listing_has_every_item_once(paged_account):
    acct, ids = paged_account
    fwd = _forward_ids(acct.client)
    assert sorted(fwd) == sorted(ids)
    assert len(set(fwd)) == N


def test_default_listing_returns_all_without_next_marker(paged_account):
    acct, ids = paged_account
    r = acct.client.list_accelerators(ListAcceleratorsRequest())
    assert len(r.accelerators) == N
    assert r.page_info.current_count == N
    assert not r.page_info.next_marker, "next_marker must be absent when no more items remain"


def test_pages_and_next_marker(paged_account):
    acct, ids = paged_account
    fwd = _forward_ids(acct.client)
    items, pi, _ = list_page(acct.client, "accelerator", limit=3)
    assert [i.id for i in items] == fwd[:3]
    assert pi.current_count == 3 and pi.next_marker == fwd[2]
    items, pi, _ = list_page(acct.client, "accelerator", limit=3, marker=fwd[2])
    assert [i.id for i in items] == fwd[3:6]
    assert pi.current_count == 3 and pi.next_marker == fwd[5]
    items, pi, _ = list_page(acct.client, "accelerator", limit=3, marker=fwd[5])
    assert [i.id for i in items] == fwd[6:]
    assert pi.current_count == 1
    assert not pi.next_marker, "last page must not carry next_marker"
    # exact fit: limit == remaining items -> no next_marker
    items, pi, _ = list_page(acct.client, "accelerator", limit=N)
    assert len(items) == N and not pi.next_marker
    # the page after the last item is empty
    items, pi, _ = list_page(acct.client, "accelerator", limit=3, marker=fwd[-1])
    assert items == [] and pi.current_count == 0 and not pi.next_marker


@pytest.mark.parametrize("limit", [None, 1, 2, 3, 6, 7, 8, 500, 2000])
def test_terraform_pager_sees_every_item_once(paged_account, limit):
    acct, ids = paged_account
    seen = terraform_pager(acct.client, "accelerator", limit=limit)
    assert len(seen) == len(set(seen)), "duplicates while paging: %s" % seen
    assert sorted(seen) == sorted(ids)


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
def test_next_marker_chain_sees_every_item_once(paged_account, limit):
    acct, ids = paged_account
    seen = next_marker_pager(acct.client, "accelerator", limit=limit)
    assert len(seen) == len(set(seen))
    assert sorted(seen) == sorted(ids)


def test_page_reverse(paged_account):
    acct, ids = paged_account
    fwd = _forward_ids(acct.client)
    items, pi, _ = list_page(acct.client, "accelerator", limit=2, marker=fwd[5], page_reverse=True)
    assert {i.id for i in items} == {fwd[3], fwd[4]}, "page_reverse must return the items just before the marker"
    assert pi.current_count == 2
    items, pi, _ = list_page(acct.client, "accelerator", limit=10, marker=fwd[2], page_reverse=True)
    assert {i.id for i in items} == {fwd[0], fwd[1]}
    assert pi.current_count == 2
    items, pi, _ = list_page(acct.client, "accelerator", limit=10, marker=fwd[0], page_reverse=True)
    assert items == [] and pi.current_count == 0
    # page_reverse=false is the default forward order
    items, _, _ = list_page(acct.client, "accelerator", limit=2, marker=fwd[1], page_reverse=False)
    assert [i.id for i in items] == fwd[2:4]


def test_reverse_walk_sees_every_item_once(paged_account):
    acct, ids = paged_account
    fwd = _forward_ids(acct.client)
    # start from the last item and walk backwards, marker = the earliest item of the previous page
    seen, marker = [fwd[-1]], fwd[-1]
    for _ in range(20):
        items, pi, _ = list_page(acct.client, "accelerator", limit=2, marker=marker, page_reverse=True)
        if not items:
            break
        page = [i.id for i in items]
        seen.extend(page)
        marker = min(page, key=fwd.index)
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))


@pytest.mark.parametrize("limit", [0, -1, 2001])
def test_limit_out_of_range(client, limit):
    expect_error(lambda: client.list_accelerators(ListAcceleratorsRequest(limit=limit)), 400, "GA.9001",
                 msg_contains="limit")


def test_limit_bounds_accepted(client):
    assert client.list_accelerators(ListAcceleratorsRequest(limit=1)).status_code == 200
    assert client.list_accelerators(ListAcceleratorsRequest(limit=2000)).status_code == 200


def test_unknown_marker_does_not_crash(client):
    try:
        r = client.list_accelerators(ListAcceleratorsRequest(limit=5, marker=str(uuid.uuid4())))
        assert r.status_code == 200
    except Exception as e:           # undocumented: 400 GA.9001 or 404 GA.9002 are both acceptable
        assert getattr(e, "status_code", None) in (400, 404), e


def test_default_limit_is_500(server):
    from conftest import Account, uniq
    acct = Account(server, server.create_account(uniq("acct-500")))
    ids = [create_accelerator(acct.client, wait=False).id for _ in range(503)]
    r = acct.client.list_accelerators(ListAcceleratorsRequest())
    assert len(r.accelerators) == 500, "default limit must be 500"
    assert r.page_info.current_count == 500
    assert r.page_info.next_marker == r.accelerators[-1].id
    r2 = acct.client.list_accelerators(ListAcceleratorsRequest(marker=r.page_info.next_marker))
    assert len(r2.accelerators) == 3 and not r2.page_info.next_marker
    assert sorted([a.id for a in r.accelerators + r2.accelerators]) == sorted(ids)


def test_child_lists_paginate(fresh_account):
    c = fresh_account.client
    acc = create_accelerator(c)
    listeners = [create_listener(c, acc.id, ports=((100 + i, 100 + i),)) for i in range(3)]
    egs = [create_endpoint_group(c, l.id) for l in listeners]
    eps = [create_endpoint(c, egs[0].id, wait=False) for _ in range(3)]
    hcs = [create_health_check(c, eg.id, wait=False) for eg in egs]
    cases = [
        ("listener", {"accelerator_id": acc.id}, [l.id for l in listeners]),
        ("listener", {}, [l.id for l in listeners]),
        ("endpoint_group", {}, [e.id for e in egs]),
        ("endpoint", {"endpoint_group_id": egs[0].id}, [e.id for e in eps]),
        ("health_check", {}, [h.id for h in hcs]),
    ]
    for kind, filters, expected in cases:
        for limit in (None, 1, 2):
            seen = terraform_pager(c, kind, limit=limit, **filters)
            assert sorted(seen) == sorted(expected), (kind, limit, seen)
        seen = next_marker_pager(c, kind, limit=1, **filters)
        assert sorted(seen) == sorted(expected), (kind, seen)
        items, pi, _ = list_page(c, kind, limit=1, **filters)
        assert len(items) == 1 and pi.current_count == 1 and pi.next_marker == items[0].id
        fwd = [i.id for i in list_page(c, kind, limit=10, **filters)[0]]
        items, pi, _ = list_page(c, kind, limit=5, marker=fwd[2], page_reverse=True, **filters)
        assert {i.id for i in items} == set(fwd[:2]), (kind, "page_reverse")
