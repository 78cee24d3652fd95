"""Uniqueness rules must hold under concurrent requests (exactly one winner, the rest get the rule's error)."""
import threading
import uuid

from conftest import (CreateAcceleratorOption, CreateAcceleratorOptionIpSets, CreateAcceleratorRequest,
                      CreateAcceleratorRequestBody, CreateEndpointGroupOption, CreateEndpointGroupRequest,
                      CreateEndpointGroupRequestBody, CreateEndpointOption, CreateEndpointRequest,
                      CreateEndpointRequestBody, CreateHealthCheckOption, CreateHealthCheckRequest,
                      CreateHealthCheckRequestBody, CreateListenerOption, CreateListenerRequest,
                      CreateListenerRequestBody, Id, ListEndpointGroupsRequest, ListEndpointsRequest,
                      ListHealthChecksRequest, ListListenersRequest, OUTOFCM_REGION_2, PortRange, create_accelerator,
                      create_listener, make_client, make_stack, uniq, list_all_ids)

THREADS = 6


def _race(server, creds, call):
    """Run call(client) in THREADS threads at once; returns (successes, [(status, code), ...])."""
    clients = [make_client(server.endpoint, creds) for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS, timeout=30)
    ok, errs, lock = [], [], threading.Lock()

    def run(c):
        try:
            barrier.wait()
            r = call(c)
            with lock:
                ok.append(r)
        except Exception as e:  # noqa
            with lock:
                errs.append((getattr(e, "status_code", None), getattr(e, "error_code", repr(e))))

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "requests hung"
    return ok, errs


def test_concurrent_overlapping_listeners(server, acct_a):
    acc = create_accelerator(acct_a.client)
    ok, errs = _race(server, acct_a.creds, lambda c: c.create_listener(CreateListenerRequest(
        body=CreateListenerRequestBody(listener=CreateListenerOption(
            name=uniq("race"), protocol="TCP", accelerator_id=acc.id,
            port_ranges=[PortRange(from_port=5555, to_port=5555)])))))
    assert len(ok) == 1, "expected exactly one listener to win, got %d (errors %s)" % (len(ok), errs)
    assert errs == [(400, "GA.9101")] * (THREADS - 1), errs
    assert len(acct_a.client.list_listeners(ListListenersRequest(accelerator_id=acc.id)).listeners) == 1


def test_concurrent_duplicate_endpoints(server, acct_a):
    _, _, eg = make_stack(acct_a.client)
    rid = str(uuid.uuid4())
    ok, errs = _race(server, acct_a.creds, lambda c: c.create_endpoint(CreateEndpointRequest(
        endpoint_group_id=eg.id, body=CreateEndpointRequestBody(endpoint=CreateEndpointOption(
            resource_id=rid, resource_type="EIP", ip_address="127.77.251.1")))))
    assert len(ok) == 1, "expected exactly one endpoint to win, got %d (errors %s)" % (len(ok), errs)
    assert errs == [(400, "GA.9104")] * (THREADS - 1), errs
    assert len(acct_a.client.list_endpoints(ListEndpointsRequest(endpoint_group_id=eg.id)).endpoints) == 1


def test_concurrent_health_checks(server, acct_a):
    _, _, eg = make_stack(acct_a.client)
    ok, errs = _race(server, acct_a.creds, lambda c: c.create_health_check(CreateHealthCheckRequest(
        body=CreateHealthCheckRequestBody(health_check=CreateHealthCheckOption(
            endpoint_group_id=eg.id, protocol="TCP", port=80, interval=5, timeout=3, max_retries=3, enabled=False)))))
    assert len(ok) == 1, "expected exactly one health check to win, got %d (errors %s)" % (len(ok), errs)
    assert errs == [(400, "GA.9104")] * (THREADS - 1), errs
    assert len(acct_a.client.list_health_checks(ListHealthChecksRequest(endpoint_group_id=eg.id)).health_checks) == 1


def test_concurrent_endpoint_groups_same_region(server, acct_a):
    _, lis, _ = make_stack(acct_a.client)       # already has a group in the first region
    ok, errs = _race(server, acct_a.creds, lambda c: c.create_endpoint_group(CreateEndpointGroupRequest(
        body=CreateEndpointGroupRequestBody(endpoint_group=CreateEndpointGroupOption(
            name=uniq("race"), region_id=OUTOFCM_REGION_2, listeners=[Id(id=lis.id)])))))
    assert len(ok) == 1, "expected exactly one endpoint group to win, got %d (errors %s)" % (len(ok), errs)
    assert errs == [(400, "GA.9104")] * (THREADS - 1), errs
    assert len(acct_a.client.list_endpoint_groups(ListEndpointGroupsRequest(listener_id=lis.id)).endpoint_groups) == 2


def test_concurrent_listener_quota(server, acct_a):
    acc = create_accelerator(acct_a.client)
    for i in range(7):
        create_listener(acct_a.client, acc.id, ports=((30000 + i, 30000 + i),), wait=False)
    counter = iter(range(100))
    lock = threading.Lock()

    def call(c):
        with lock:
            n = next(counter)
        return c.create_listener(CreateListenerRequest(body=CreateListenerRequestBody(listener=CreateListenerOption(
            name=uniq("q"), protocol="TCP", accelerator_id=acc.id,
            port_ranges=[PortRange(from_port=31000 + n, to_port=31000 + n)]))))

    ok, errs = _race(server, acct_a.creds, call)
    assert len(ok) == 3, "quota 10 with 7 existing: expected 3 winners, got %d (errors %s)" % (len(ok), errs)
    assert errs == [(400, "GA.9103")] * (THREADS - 3), errs
    assert len(acct_a.client.list_listeners(ListListenersRequest(accelerator_id=acc.id)).listeners) == 10


def test_concurrent_accelerator_quota(tmp_path_factory):
    from conftest import start_server
    srv = start_server(tmp_path_factory, "racequota", env={"SLIPSTREAM_QUOTA_ACCELERATORS": "2"})
    try:
        creds = srv.credentials()
        ok, errs = _race(srv, creds, lambda c: c.create_accelerator(CreateAcceleratorRequest(
            body=CreateAcceleratorRequestBody(accelerator=CreateAcceleratorOption(
                name=uniq("race"), enterprise_project_id="0",
                ip_sets=[CreateAcceleratorOptionIpSets(ip_type="IPV4", area="OUTOFCM")])))))
        assert len(ok) == 2, "quota 2: expected 2 winners, got %d (errors %s)" % (len(ok), errs)
        assert errs == [(400, "GA.9103")] * (THREADS - 2), errs
        assert len(list_all_ids(make_client(srv.endpoint, creds), "accelerator")) == 2
    finally:
        srv.stop()
