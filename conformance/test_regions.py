"""list_regions against the default region configuration."""
from conftest import DEFAULT_REGIONS, ListRegionsRequest, create_endpoint_group, create_listener, \
    create_accelerator

ENDPOINT_TYPES = {"EIP", "ECS", "ELB", "CUSTOM_IP", "CUSTOM_DOMAIN_NAME", "CUSTOM_EIP"}


def test_list_regions_defaults(client):
    resp = client.list_regions(ListRegionsRequest())
    assert resp.status_code == 200
    assert resp.request_id
    got = {r.region_id: r.area for r in resp.regions}
    assert got == DEFAULT_REGIONS
    assert len(resp.regions) == len(DEFAULT_REGIONS), "duplicate regions listed"
    for r in resp.regions:
        assert r.supported_endpoint_types, "region %s lists no supported_endpoint_types" % r.region_id
        assert set(r.supported_endpoint_types) <= ENDPOINT_TYPES, r.supported_endpoint_types
        assert "EIP" in r.supported_endpoint_types


def test_every_listed_region_accepts_endpoint_groups(client):
    regions = client.list_regions(ListRegionsRequest()).regions
    for r in regions:
        area = r.area
        acc = create_accelerator(client, area=area)
        lis = create_listener(client, acc.id)
        eg = create_endpoint_group(client, lis.id, region_id=r.region_id, wait=False)
        assert eg.region_id == r.region_id


def test_list_regions_same_for_every_account(client, client_b):
    a = sorted((r.region_id, r.area) for r in client.list_regions(ListRegionsRequest()).regions)
    b = sorted((r.region_id, r.area) for r in client_b.list_regions(ListRegionsRequest()).regions)
    assert a == b
