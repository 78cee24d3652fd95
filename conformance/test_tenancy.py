"""Tenant isolation: account B never sees, changes or deletes account A's resources (404 GA.9002)."""
import uuid

import pytest

from conftest import (OUTOFCM_REGION_2, CreateEndpointGroupOption, CreateEndpointGroupRequest,
                      CreateEndpointGroupRequestBody, CreateEndpointOption, CreateEndpointRequest,
                      CreateEndpointRequestBody, CreateHealthCheckOption, CreateHealthCheckRequest,
                      CreateHealthCheckRequestBody, CreateListenerOption, CreateListenerRequest,
                      CreateListenerRequestBody, Id, ListEndpointGroupsRequest, ListEndpointsRequest,
                      ListHealthChecksRequest, ListListenersRequest, PortRange, UpdateAcceleratorOption,
                      UpdateAcceleratorRequest, UpdateAcceleratorRequestBody, UpdateEndpointGroupOption,
                      UpdateEndpointGroupRequest, UpdateEndpointGroupRequestBody, UpdateEndpointOption,
                      UpdateEndpointRequest, UpdateEndpointRequestBody, UpdateHealthCheckOption,
                      UpdateHealthCheckRequest, UpdateHealthCheckRequestBody, UpdateListenerOption,
                      UpdateListenerRequest, UpdateListenerRequestBody, create_endpoint, create_health_check,
                      delete, expect_error, list_all_ids, make_stack, show, uniq)

NF = (404, "GA.9002")


@pytest.fixture(scope="module")
def a_chain(client):
    acc, lis, eg = make_stack(client)
    ep = create_endpoint(client, eg.id)
    hc = create_health_check(client, eg.id, enabled=False)
    return acc, lis, eg, ep, hc


def test_b_lists_none_of_as_resources(client_b, a_chain):
    acc, lis, eg, ep, hc = a_chain
    assert acc.id not in list_all_ids(client_b, "accelerator")
    assert lis.id not in list_all_ids(client_b, "listener")
    assert eg.id not in list_all_ids(client_b, "endpoint_group")
    assert hc.id not in list_all_ids(client_b, "health_check")


def test_b_filtered_lists_hide_as_resources(client_b, a_chain):
    acc, lis, eg, ep, hc = a_chain
    from conftest import ListAcceleratorsRequest
    assert client_b.list_accelerators(ListAcceleratorsRequest(id=acc.id)).accelerators == []
    for call, key in [
        (lambda: client_b.list_listeners(ListListenersRequest(accelerator_id=acc.id)), "listeners"),
        (lambda: client_b.list_endpoint_groups(ListEndpointGroupsRequest(listener_id=lis.id)), "endpoint_groups"),
        (lambda: client_b.list_health_checks(ListHealthChecksRequest(endpoint_group_id=eg.id)), "health_checks"),
    ]:
        try:
            r = call()
        except Exception as e:       # a 404 for a foreign parent id is fine too
            assert getattr(e, "status_code", None) == 404 and e.error_code == "GA.9002", e
            continue
        assert getattr(r, key) == [], "account B sees A's %s" % key
    expect_error(lambda: client_b.list_endpoints(ListEndpointsRequest(endpoint_group_id=eg.id)), *NF)


def test_b_cannot_show_as_resources(client_b, a_chain):
    acc, lis, eg, ep, hc = a_chain
    expect_error(lambda: show(client_b, "accelerator", acc.id), *NF)
    expect_error(lambda: show(client_b, "listener", lis.id), *NF)
    expect_error(lambda: show(client_b, "endpoint_group", eg.id), *NF)
    expect_error(lambda: show(client_b, "endpoint", (eg.id, ep.id)), *NF)
    expect_error(lambda: show(client_b, "health_check", hc.id), *NF)


def test_b_cannot_update_as_resources(client, client_b, a_chain):
    acc, lis, eg, ep, hc = a_chain
    expect_error(lambda: client_b.update_accelerator(UpdateAcceleratorRequest(
        accelerator_id=acc.id, body=UpdateAcceleratorRequestBody(accelerator=UpdateAcceleratorOption(name="hijack")))),
        *NF)
    expect_error(lambda: client_b.update_listener(UpdateListenerRequest(
        listener_id=lis.id, body=UpdateListenerRequestBody(listener=UpdateListenerOption(name="hijack")))), *NF)
    expect_error(lambda: client_b.update_endpoint_group(UpdateEndpointGroupRequest(
        endpoint_group_id=eg.id,
        body=UpdateEndpointGroupRequestBody(endpoint_group=UpdateEndpointGroupOption(traffic_dial_percentage=1)))), *NF)
    expect_error(lambda: client_b.update_endpoint(UpdateEndpointRequest(
        endpoint_group_id=eg.id, endpoint_id=ep.id,
        body=UpdateEndpointRequestBody(endpoint=UpdateEndpointOption(weight=99)))), *NF)
    expect_error(lambda: client_b.update_health_check(UpdateHealthCheckRequest(
        health_check_id=hc.id, body=UpdateHealthCheckRequestBody(health_check=UpdateHealthCheckOption(port=1)))), *NF)
    assert show(client, "accelerator", acc.id).name == acc.name
    assert show(client, "listener", lis.id).name == lis.name
    assert show(client, "endpoint_group", eg.id).traffic_dial_percentage == 100
    assert show(client, "endpoint", (eg.id, ep.id)).weight == 1
    assert show(client, "health_check", hc.id).port == hc.port


def test_b_cannot_delete_as_resources(client, client_b, a_chain):
    acc, lis, eg, ep, hc = a_chain
    for kind, ids in [("endpoint", (eg.id, ep.id)), ("health_check", hc.id), ("endpoint_group", eg.id),
                      ("listener", lis.id), ("accelerator", acc.id)]:
        expect_error(lambda: delete(client_b, kind, ids), *NF)
        assert show(client, kind, ids).status == "ACTIVE", "%s was affected by B's delete" % kind


def test_b_cannot_attach_children_to_as_resources(client, client_b, a_chain):
    acc, lis, eg, ep, hc = a_chain
    expect_error(lambda: client_b.create_listener(CreateListenerRequest(body=CreateListenerRequestBody(
        listener=CreateListenerOption(name=uniq("lis"), protocol="TCP",
                                      port_ranges=[PortRange(from_port=9999, to_port=9999)],
                                      accelerator_id=acc.id)))), *NF)
    expect_error(lambda: client_b.create_endpoint_group(CreateEndpointGroupRequest(
        body=CreateEndpointGroupRequestBody(endpoint_group=CreateEndpointGroupOption(
            name=uniq("eg"), region_id=OUTOFCM_REGION_2, listeners=[Id(id=lis.id)])))), *NF)
    expect_error(lambda: client_b.create_endpoint(CreateEndpointRequest(
        endpoint_group_id=eg.id, body=CreateEndpointRequestBody(endpoint=CreateEndpointOption(
            resource_id=str(uuid.uuid4()), resource_type="EIP", ip_address="127.77.250.250")))), *NF)
    expect_error(lambda: client_b.create_health_check(CreateHealthCheckRequest(
        body=CreateHealthCheckRequestBody(health_check=CreateHealthCheckOption(
            endpoint_group_id=eg.id, protocol="TCP", port=80, interval=5, timeout=3, max_retries=3,
            enabled=True)))), *NF)
    assert client.list_listeners(ListListenersRequest(accelerator_id=acc.id)).listeners[0].id == lis.id
    assert len(client.list_listeners(ListListenersRequest(accelerator_id=acc.id)).listeners) == 1
    assert len(client.list_endpoints(ListEndpointsRequest(endpoint_group_id=eg.id)).endpoints) == 1


def test_b_resources_are_independent(client, client_b, a_chain, acct_b):
    """B can use the same ports / regions / endpoint addresses as A in its own resources."""
    acc, lis, eg, ep, hc = a_chain
    b_acc, b_lis, b_eg = make_stack(client_b)
    assert b_acc.domain_id == acct_b.domain_id
    b_ep = create_endpoint(client_b, b_eg.id, resource_id=ep.resource_id, ip_address=ep.ip_address)
    assert b_ep.domain_id == acct_b.domain_id
    expect_error(lambda: show(client, "accelerator", b_acc.id), *NF)
    expect_error(lambda: show(client, "endpoint", (b_eg.id, b_ep.id)), *NF)
    assert b_acc.id not in list_all_ids(client, "accelerator")
