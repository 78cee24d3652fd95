"""Anycast address pools: exhaustion (500 GA.9201), separate CM / OUTOFCM pools, release on delete, concurrency."""
import ipaddress
import threading

import pytest

from conftest import (Account, CreateAcceleratorOption, CreateAcceleratorOptionIpSets, CreateAcceleratorRequest,
                      CreateAcceleratorRequestBody, DEFAULT_OUTOFCM_POOL, ServerResponseException, create_accelerator,
                      delete_and_wait, expect_error, in_network, make_client, show, start_server, uniq)

OUT_CIDRS = ["127.10.0.0/30", "127.10.1.0/30"]      # 4..8 addresses depending on network/broadcast skipping
CM_CIDR = "127.20.0.0/30"


@pytest.fixture(scope="module")
def pool_server(tmp_path_factory):
    srv = start_server(tmp_path_factory, "pool", env={
        "SLIPSTREAM_POOL_OUTOFCM_IPV4": ",".join(OUT_CIDRS),
        "SLIPSTREAM_POOL_CM_IPV4": CM_CIDR,
    })
    yield srv
    srv.stop()


def _create(client, area):
    return client.create_accelerator(CreateAcceleratorRequest(body=CreateAcceleratorRequestBody(
        accelerator=CreateAcceleratorOption(name=uniq("acc"), enterprise_project_id="0",
                                            ip_sets=[CreateAcceleratorOptionIpSets(ip_type="IPV4", area=area)]))))


def test_pool_exhaustion_and_release(pool_server):
    acct = Account(pool_server, pool_server.credentials())
    c = acct.client
    created, failure = [], None
    for _ in range(12):                   # at most 8 addresses exist; stop at the first failure
        try:
            created.append(_create(c, "OUTOFCM").accelerator)
        except ServerResponseException as e:
            failure = e
            break
    assert failure is not None, "created %d accelerators from an 8-address pool without failing" % len(created)
    assert failure.status_code == 500 and failure.error_code == "GA.9201", \
        "pool exhaustion: expected 500 GA.9201, got %s %s %s" % (failure.status_code, failure.error_code,
                                                               failure.error_msg)
    assert failure.request_id
    assert 4 <= len(created) <= 8, "pool of two /30s yielded %d addresses" % len(created)
    ips = [a.ip_sets[0].ip_address for a in created]
    assert len(set(ips)) == len(ips), "duplicate anycast addresses handed out: %s" % ips
    for ip in ips:
        assert any(in_network(ip, n) for n in OUT_CIDRS), "%s is outside the configured pool" % ip
    used = {n for n in OUT_CIDRS for ip in ips if in_network(ip, n)}
    assert used == set(OUT_CIDRS), "both comma-separated CIDRs must be used: %s" % ips
    # still exhausted on a second try, and no half-created accelerator is left behind
    expect_error(lambda: _create(c, "OUTOFCM"), 500, "GA.9201")
    from conftest import list_all_ids
    assert len(list_all_ids(c, "accelerator")) == len(created)

    # the CM pool is separate
    cm = create_accelerator(c, area="CM")
    assert in_network(show(c, "accelerator", cm.id).ip_sets[0].ip_address, CM_CIDR)

    # deleting an accelerator returns its address to the pool
    victim = created[0]
    from conftest import wait_active
    wait_active(c, "accelerator", victim.id)
    delete_and_wait(c, "accelerator", victim.id)
    again = _create(c, "OUTOFCM").accelerator
    assert again.ip_sets[0].ip_address == victim.ip_sets[0].ip_address, \
        "the only free address is the released one (%s), got %s" % (victim.ip_sets[0].ip_address,
                                                                    again.ip_sets[0].ip_address)


def test_pool_is_shared_across_accounts(pool_server):
    """Addresses come from one server-wide pool: another account gets only what is left, never a duplicate."""
    a = Account(pool_server, pool_server.credentials())
    a_ips = set()
    from conftest import ListAcceleratorsRequest
    for acc in a.client.list_accelerators(ListAcceleratorsRequest(limit=2000)).accelerators:
        ip = acc.ip_sets[0].ip_address
        if any(in_network(ip, n) for n in OUT_CIDRS):
            a_ips.add(ip)
    b = Account(pool_server, pool_server.create_account(uniq("acct-pool")))
    got = []
    for _ in range(12):
        try:
            got.append(_create(b.client, "OUTOFCM").accelerator.ip_sets[0].ip_address)
        except ServerResponseException as e:
            assert e.status_code == 500 and e.error_code == "GA.9201"
            break
    else:
        pytest.fail("pool never ran out for the second account")
    assert not (set(got) & a_ips), "address handed to two accounts: %s" % (set(got) & a_ips)
    assert len(a_ips) + len(got) <= 8, "two /30 pools handed out %d addresses" % (len(a_ips) + len(got))


def test_concurrent_creates_get_distinct_addresses(server, acct_a):
    results, errors = [], []
    lock = threading.Lock()

    def worker():
        c = make_client(server.endpoint, acct_a.creds)
        for _ in range(3):
            try:
                acc = _create(c, "OUTOFCM").accelerator
                with lock:
                    results.append(acc.ip_sets[0].ip_address)
            except Exception as e:  # noqa
                with lock:
                    errors.append(repr(e))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "concurrent creates hung"
    assert not errors, errors[:3]
    assert len(results) == 24
    assert len(set(results)) == 24, "duplicate anycast addresses under concurrency"
    assert all(ipaddress.ip_address(ip) in DEFAULT_OUTOFCM_POOL for ip in results)
