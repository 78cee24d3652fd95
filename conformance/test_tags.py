"""Tags on accelerators and listeners: the 6 tag operations, filter semantics, offset paging, tenancy."""
import uuid

import pytest

from conftest import (Account, ResourceTag, create_accelerator, create_listener, delete_and_wait, expect_error,
                      list_all_ids, uniq)
from huaweicloudsdkga.v1 import (
    CountResourcesByTagRequest, CreateTagsRequest, CreateTagsRequestBody, DeleteTagsRequest, DeleteTagsRequestBody,
    DeletingResourceTag, ListResourcesByTagRequest, ListResourcesByTagRequestBody, ListTagsRequest, Match,
    ShowResourceTagsRequest, Tag,
)

ACC = "ga-accelerators"
LIS = "ga-listeners"
NF = (404, "GA.9002")


# --------------------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------------------

def create_tags(client, rid, tags, rtype=ACC):
    return client.create_tags(CreateTagsRequest(resource_type=rtype, resource_id=rid, body=CreateTagsRequestBody(
        tags=[ResourceTag(key=k, value=v) for k, v in tags])))


def delete_tags(client, rid, keys, rtype=ACC):
    return client.delete_tags(DeleteTagsRequest(resource_type=rtype, resource_id=rid, body=DeleteTagsRequestBody(
        tags=[DeletingResourceTag(key=k) for k in keys])))


def tags_of(client, rid, rtype=ACC):
    resp = client.show_resource_tags(ShowResourceTagsRequest(resource_type=rtype, resource_id=rid))
    assert resp.status_code == 200
    pairs = [(t.key, t.value) for t in (resp.tags or [])]
    assert len({k for k, _ in pairs}) == len(pairs), "a key appears twice: %r" % pairs
    return dict(pairs)


def _body(tags=None, name=None):
    return ListResourcesByTagRequestBody(
        tags=[Tag(key=k, values=list(v)) for k, v in tags] if tags is not None else None,
        matches=[Match(key="resource_name", value=name)] if name is not None else None)


def filter_resources(client, tags=None, name=None, rtype=ACC, limit=None, offset=None):
    resp = client.list_resources_by_tag(ListResourcesByTagRequest(resource_type=rtype, limit=limit, offset=offset,
                                                                  body=_body(tags, name)))
    assert resp.status_code == 200
    return resp.resources or [], resp.total_count


def count_resources(client, tags=None, name=None, rtype=ACC):
    resp = client.count_resources_by_tag(CountResourcesByTagRequest(resource_type=rtype, body=_body(tags, name)))
    assert resp.status_code == 200
    return resp.total_count


def matching_ids(client, tags=None, name=None, rtype=ACC):
    """ids matched by the filter; checks that count agrees and total_count is the full size."""
    items, total = filter_resources(client, tags, name, rtype)
    ids = sorted(r.resource_id for r in items)
    assert len(set(ids)) == len(ids), "a resource is listed twice"
    assert total == len(ids), "total_count %s but %d resources" % (total, len(ids))
    assert count_resources(client, tags, name, rtype) == total, "count disagrees with filter"
    return ids


def list_tags(client, rtype=ACC, limit=None, offset=None):
    resp = client.list_tags(ListTagsRequest(resource_type=rtype, limit=limit, offset=offset))
    assert resp.status_code == 200
    return resp.tags or [], resp.total_count


# --------------------------------------------------------------------------------------------------------------
# A fixed data set for filters: 4 accelerators + 1 listener in a fresh account
# --------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ds(server):
    acct = Account(server, server.create_account(uniq("acct-tags")))
    c = acct.client
    k = uuid.uuid4().hex[:8]
    env, team, misc = "env-" + k, "team-" + k, "misc-" + k
    names = {n: "%s-%s" % (n, k) for n in ("alpha-one", "alpha-two", "beta", "gamma")}
    accs = {}
    # tags given on create
    accs["alpha-one"] = create_accelerator(c, name=names["alpha-one"], wait=False,
                                           tags=[ResourceTag(key=env, value="dev"), ResourceTag(key=team, value="net")])
    accs["alpha-two"] = create_accelerator(c, name=names["alpha-two"], wait=False)
    accs["beta"] = create_accelerator(c, name=names["beta"], wait=False)
    accs["gamma"] = create_accelerator(c, name=names["gamma"])
    # tags added later
    assert create_tags(c, accs["alpha-two"].id, [(env, "prod"), (team, "net")]).status_code == 204
    assert create_tags(c, accs["beta"].id, [(env, "dev")]).status_code == 204
    assert create_tags(c, accs["gamma"].id, [(misc, "x")]).status_code == 204
    lis = create_listener(c, accs["gamma"].id, name="lis-" + k, wait=False,
                          tags=[ResourceTag(key=env, value="listener")])
    ids = {n: a.id for n, a in accs.items()}
    return dict(acct=acct, c=c, env=env, team=team, misc=misc, names=names, ids=ids, lis=lis, k=k)


def _ids(ds, *names):
    return sorted(ds["ids"][n] for n in names)


def test_tags_given_on_create_show_up(ds):
    c = ds["c"]
    assert tags_of(c, ds["ids"]["alpha-one"]) == {ds["env"]: "dev", ds["team"]: "net"}
    assert tags_of(c, ds["ids"]["alpha-two"]) == {ds["env"]: "prod", ds["team"]: "net"}
    assert tags_of(c, ds["lis"].id, LIS) == {ds["env"]: "listener"}


def test_filter_one_value(ds):
    assert matching_ids(ds["c"], [(ds["env"], ["dev"])]) == _ids(ds, "alpha-one", "beta")
    assert matching_ids(ds["c"], [(ds["env"], ["nope"])]) == []


def test_filter_values_of_one_key_are_ored(ds):
    assert matching_ids(ds["c"], [(ds["env"], ["dev", "prod"])]) == _ids(ds, "alpha-one", "alpha-two", "beta")


def test_filter_different_keys_are_anded(ds):
    assert matching_ids(ds["c"], [(ds["env"], ["dev"]), (ds["team"], ["net"])]) == _ids(ds, "alpha-one")
    assert matching_ids(ds["c"], [(ds["env"], ["dev", "prod"]), (ds["team"], ["net"])]) == \
        _ids(ds, "alpha-one", "alpha-two")
    assert matching_ids(ds["c"], [(ds["env"], ["dev"]), (ds["misc"], ["x"])]) == []


def test_filter_empty_values_means_has_key(ds):
    assert matching_ids(ds["c"], [(ds["team"], [])]) == _ids(ds, "alpha-one", "alpha-two")
    assert matching_ids(ds["c"], [(ds["misc"], [])]) == _ids(ds, "gamma")
    assert matching_ids(ds["c"], [(ds["env"], []), (ds["team"], [])]) == _ids(ds, "alpha-one", "alpha-two")


def test_filter_by_name_substring(ds):
    k = ds["k"]
    assert matching_ids(ds["c"], name="pha-on") == _ids(ds, "alpha-one")
    assert matching_ids(ds["c"], name="alpha-") == _ids(ds, "alpha-one", "alpha-two")
    assert matching_ids(ds["c"], name=k) == _ids(ds, "alpha-one", "alpha-two", "beta", "gamma")
    assert matching_ids(ds["c"], [(ds["env"], ["dev"])], name="alpha") == _ids(ds, "alpha-one")
    assert matching_ids(ds["c"], name="no-such-name-" + k) == []


def test_filter_without_conditions_returns_all_of_the_type(ds):
    c = ds["c"]
    assert matching_ids(c) == sorted(list_all_ids(c, "accelerator"))
    assert matching_ids(c, rtype=LIS) == [ds["lis"].id]


def test_filter_result_carries_name_and_tags(ds):
    items, total = filter_resources(ds["c"], [(ds["team"], ["net"])])
    assert total == 2
    by_id = {r.resource_id: r for r in items}
    one = by_id[ds["ids"]["alpha-one"]]
    assert one.resource_name == ds["names"]["alpha-one"]
    assert {(t.key, t.value) for t in one.tags} == {(ds["env"], "dev"), (ds["team"], "net")}


def test_listener_filters(ds):
    c = ds["c"]
    items, total = filter_resources(c, [(ds["env"], ["listener"])], rtype=LIS)
    assert total == 1 and [(r.resource_id, r.resource_name) for r in items] == [(ds["lis"].id, "lis-" + ds["k"])]
    # accelerator and listener tags live in separate spaces
    assert matching_ids(c, [(ds["env"], ["listener"])]) == []
    assert matching_ids(c, [(ds["team"], [])], rtype=LIS) == []


def test_offset_paging_and_total_count(ds):
    c = ds["c"]
    flt = [(ds["env"], ["dev", "prod"])]
    want = _ids(ds, "alpha-one", "alpha-two", "beta")
    seen = []
    for offset in range(4):
        items, total = filter_resources(c, flt, limit=1, offset=offset)
        assert total == 3, "total_count must not depend on limit/offset (offset %d: %s)" % (offset, total)
        assert len(items) == (1 if offset < 3 else 0)
        seen += [r.resource_id for r in items]
    assert sorted(seen) == want and len(set(seen)) == 3
    items, total = filter_resources(c, flt, limit=2, offset=1)
    assert (len(items), total) == (2, 3)
    items, total = filter_resources(c, flt, limit=1000, offset=10)
    assert (items, total) == ([], 3)


def test_duplicate_filter_value(ds):
    c = ds["c"]
    expect_error(lambda: filter_resources(c, [(ds["env"], ["dev", "dev"])]), 400, "GA.9108")
    expect_error(lambda: count_resources(c, [(ds["env"], ["dev", "dev"])]), 400, "GA.9108")


# --------------------------------------------------------------------------------------------------------------
# Writes and validation
# --------------------------------------------------------------------------------------------------------------

def test_create_merges_by_key_and_delete_removes(fresh_account):
    c = fresh_account.client
    acc = create_accelerator(c, tags=[ResourceTag(key="env", value="dev"), ResourceTag(key="team", value="net")])
    resp = create_tags(c, acc.id, [("env", "prod"), ("owner", "alice")])
    assert resp.status_code == 204
    assert tags_of(c, acc.id) == {"env": "prod", "team": "net", "owner": "alice"}
    # re-sending the same pair changes nothing
    assert create_tags(c, acc.id, [("env", "prod")]).status_code == 204
    assert tags_of(c, acc.id) == {"env": "prod", "team": "net", "owner": "alice"}
    resp = delete_tags(c, acc.id, ["env", "owner"])
    assert resp.status_code == 204
    assert tags_of(c, acc.id) == {"team": "net"}
    assert matching_ids(c, [("env", [])]) == []
    assert matching_ids(c, [("team", ["net"])]) == [acc.id]


def test_listener_tags_roundtrip(fresh_account):
    c = fresh_account.client
    acc = create_accelerator(c, wait=False)
    lis = create_listener(c, acc.id, wait=False)
    assert tags_of(c, lis.id, LIS) == {}
    assert create_tags(c, lis.id, [("tier", "edge"), ("empty", "")], LIS).status_code == 204
    assert tags_of(c, lis.id, LIS) == {"tier": "edge", "empty": ""}
    assert delete_tags(c, lis.id, ["tier"], LIS).status_code == 204
    assert tags_of(c, lis.id, LIS) == {"empty": ""}
    # a listener id is not an accelerator and vice versa
    expect_error(lambda: tags_of(c, lis.id, ACC), *NF)
    expect_error(lambda: tags_of(c, acc.id, LIS), *NF)


def test_list_tags_keys_with_sorted_distinct_values(fresh_account):
    c = fresh_account.client
    a1 = create_accelerator(c, wait=False)
    a2 = create_accelerator(c, wait=False)
    a3 = create_accelerator(c, wait=False)
    create_tags(c, a1.id, [("env", "prod"), ("tier", "web")])
    create_tags(c, a2.id, [("env", "dev"), ("tier", "web")])
    create_tags(c, a3.id, [("env", "prod"), ("blank", "")])
    lis = create_listener(c, a1.id, wait=False)
    create_tags(c, lis.id, [("only-on-listener", "x")], LIS)

    tags, total = list_tags(c)
    got = {t.key: t.values for t in tags}
    assert len(got) == len(tags), "a key is listed twice"
    assert got == {"env": ["dev", "prod"], "tier": ["web"], "blank": [""]}
    assert total == 3
    tags, total = list_tags(c, LIS)
    assert {t.key: t.values for t in tags} == {"only-on-listener": ["x"]} and total == 1

    keys = []
    for offset in range(4):
        page, total = list_tags(c, limit=1, offset=offset)
        assert total == 3, "total_count must not depend on limit/offset"
        assert len(page) == (1 if offset < 3 else 0)
        keys += [t.key for t in page]
    assert sorted(keys) == ["blank", "env", "tier"]

    # a deleted accelerator's tags stop counting
    delete_and_wait(c, "listener", lis.id)
    delete_and_wait(c, "accelerator", a1.id)
    tags, total = list_tags(c)
    assert {t.key: t.values for t in tags} == {"env": ["dev", "prod"], "tier": ["web"], "blank": [""]}
    delete_and_wait(c, "accelerator", a2.id)
    tags, total = list_tags(c)
    assert {t.key: t.values for t in tags} == {"env": ["prod"], "blank": [""]} and total == 2
    assert matching_ids(c, [("tier", [])]) == []


def test_create_rejects_duplicate_and_empty_keys(fresh_account):
    c = fresh_account.client
    acc = create_accelerator(c, wait=False)
    expect_error(lambda: create_tags(c, acc.id, [("env", "a"), ("env", "b")]), 400, "GA.9107")
    expect_error(lambda: create_tags(c, acc.id, [("", "a")]), 400, "GA.9109")
    assert tags_of(c, acc.id) == {}, "a rejected create left tags behind"


@pytest.mark.parametrize("tags, what", [
    ([], "no tags"),
    ([("k%d" % i, "v") for i in range(21)], "21 tags"),
    ([("_sys_x", "v")], "reserved key"),
    ([("k" * 129, "v")], "key of 129 chars"),
    ([("k", "v" * 256)], "value of 256 chars"),
    ([("k<", "v")], "bad key character"),
])
def test_create_validates_tags(client, tags, what):
    acc = create_accelerator(client, wait=False)
    expect_error(lambda: create_tags(client, acc.id, tags), 400, "GA.9001")
    assert tags_of(client, acc.id) == {}, "a rejected create (%s) left tags behind" % what


def test_create_accepts_20_tags_and_empty_value(client):
    acc = create_accelerator(client, wait=False)
    assert create_tags(client, acc.id, [("k%d" % i, "") for i in range(20)]).status_code == 204
    assert tags_of(client, acc.id) == {"k%d" % i: "" for i in range(20)}


def test_delete_rejects_empty_key_list(client):
    acc = create_accelerator(client, wait=False)
    expect_error(lambda: client.delete_tags(DeleteTagsRequest(resource_type=ACC, resource_id=acc.id,
                                                              body=DeleteTagsRequestBody(tags=[]))), 400, "GA.9001")


def test_delete_rejects_empty_key(client):
    """REFERENCE: DeleteTagsRequestBody tags[].key has min_length 1, as on create (where "" is GA.9109)."""
    acc = create_accelerator(client, wait=False)
    create_tags(client, acc.id, [("keep", "1")])
    expect_error(lambda: delete_tags(client, acc.id, [""]), 400, ("GA.9109", "GA.9001"))
    assert tags_of(client, acc.id) == {"keep": "1"}


@pytest.mark.parametrize("body, code", [
    (dict(tags=[Tag(key="", values=["v"])]), "GA.9109"),
    (dict(tags=[Tag(key="a", values=["v"]), Tag(key="a", values=["w"])]), "GA.9107"),
    (dict(tags=[Tag(key="a", values=["v", "v"])]), "GA.9108"),
    (dict(tags=[Tag(key="a", values=["v%d" % i for i in range(11)])]), "GA.9001"),
    (dict(tags=[Tag(key="a%d" % i, values=["v"]) for i in range(21)]), "GA.9001"),
    (dict(matches=[Match(key="resource_id", value="x")]), "GA.9001"),
    (dict(matches=[Match(key="resource_name", value="x"), Match(key="resource_name", value="y")]), "GA.9001"),
])
def test_filter_and_count_validate_body(client, body, code):
    for rtype in (ACC, LIS):
        expect_error(lambda: client.list_resources_by_tag(ListResourcesByTagRequest(
            resource_type=rtype, body=ListResourcesByTagRequestBody(**body))), 400, code)
        expect_error(lambda: client.count_resources_by_tag(CountResourcesByTagRequest(
            resource_type=rtype, body=ListResourcesByTagRequestBody(**body))), 400, code)


@pytest.mark.parametrize("kw", [dict(limit=0), dict(limit=1001), dict(offset=-1)])
def test_offset_paging_bounds(client, kw):
    expect_error(lambda: filter_resources(client, **kw), 400, "GA.9001")
    expect_error(lambda: list_tags(client, **kw), 400, "GA.9001")


def test_unknown_resource_type(client):
    acc = create_accelerator(client, wait=False)
    bad = "ga-widgets"
    expect_error(lambda: create_tags(client, acc.id, [("k", "v")], bad), 400, "GA.9001")
    expect_error(lambda: delete_tags(client, acc.id, ["k"], bad), 400, "GA.9001")
    expect_error(lambda: tags_of(client, acc.id, bad), 400, "GA.9001")
    expect_error(lambda: list_tags(client, bad), 400, "GA.9001")
    expect_error(lambda: filter_resources(client, [("k", ["v"])], rtype=bad), 400, "GA.9001")
    expect_error(lambda: count_resources(client, [("k", ["v"])], rtype=bad), 400, "GA.9001")


def test_unknown_resource_id(client):
    rid = str(uuid.uuid4())
    expect_error(lambda: create_tags(client, rid, [("k", "v")]), *NF)
    expect_error(lambda: delete_tags(client, rid, ["k"]), *NF)
    expect_error(lambda: tags_of(client, rid), *NF)
    expect_error(lambda: tags_of(client, rid, LIS), *NF)


def test_other_account_sees_nothing(ds, fresh_account):
    b = fresh_account.client
    a_acc = ds["ids"]["alpha-one"]
    expect_error(lambda: tags_of(b, a_acc), *NF)
    expect_error(lambda: tags_of(b, ds["lis"].id, LIS), *NF)
    expect_error(lambda: create_tags(b, a_acc, [("evil", "1")]), *NF)
    expect_error(lambda: delete_tags(b, a_acc, [ds["env"]]), *NF)
    assert filter_resources(b, [(ds["env"], [])]) == ([], 0)
    assert count_resources(b, [(ds["env"], [])]) == 0
    assert filter_resources(b, name=ds["k"]) == ([], 0)
    assert filter_resources(b) == ([], 0)
    assert count_resources(b, rtype=LIS) == 0
    assert list_tags(b) == ([], 0)
    assert list_tags(b, LIS) == ([], 0)
    # A's data unchanged
    assert tags_of(ds["c"], a_acc) == {ds["env"]: "dev", ds["team"]: "net"}
