"""Two `slipstream serve` replicas on one PostgreSQL database, driven with the official SDK: writes alternate
between them, concurrent creates split across both never share an address, lists and markers agree on both, and
killing one loses no acknowledged write."""

import concurrent.futures
import threading

import pytest
from huaweicloudsdkga.v1 import ListAcceleratorsRequest

from conftest import (POSTGRES_ADMIN_URL, Account, Server, ShowAcceleratorRequest, create_accelerator,
                      create_listener, next_marker_pager, list_all_ids, make_client, uniq, wait_for)

pytestmark = pytest.mark.skipif(not POSTGRES_ADMIN_URL, reason="two API replicas need a shared PostgreSQL database "
                                                               "(SLIPSTREAM_TEST_DATABASE_URL)")

ENV = {"SLIPSTREAM_QUOTA_ACCELERATORS": "400"}


@pytest.fixture
def replicas(tmp_path):
    data_dir = tmp_path / "shared"   # one data directory name: one database and one master key for both
    first = Server(data_dir, args=["--no-data-plane"], env=ENV).start()
    second = Server(data_dir, args=["--no-data-plane"], env=ENV).start()
    yield first, second
    first.stop()
    second.stop()


def test_writes_alternate_and_both_replicas_read_them(replicas):
    first, second = replicas
    creds = first.credentials()
    on_first, on_second = Account(first, creds).client, Account(second, creds).client
    accelerator = create_accelerator(on_first)
    listener = create_listener(on_second, accelerator.id, ports=((8000, 8000),))
    for client in (on_first, on_second):
        shown = client.show_accelerator(ShowAcceleratorRequest(accelerator_id=accelerator.id)).accelerator
        assert shown.status == "ACTIVE" and shown.ip_sets[0].ip_address == accelerator.ip_sets[0].ip_address
        assert list_all_ids(client, "listener") == [listener.id]


def test_concurrent_creates_on_both_replicas_share_no_address_and_list_alike(replicas):
    first, second = replicas
    creds = first.credentials()
    clients = [make_client(server.endpoint, creds) for server in (first, second) for _ in range(4)]
    count = 100

    def create(index):
        return create_accelerator(clients[index % len(clients)], name=uniq("rep"), wait=False)

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(clients)) as pool:
        created = list(pool.map(create, range(count), timeout=300))
    addresses = [a.ip_sets[0].ip_address for a in created]
    assert len(set(addresses)) == count, "an address was handed out twice"
    ids = sorted(a.id for a in created)
    # Markers are ids: a page walk that alternates replicas sees the same list as one on either replica.
    on_first, on_second = Account(first, creds).client, Account(second, creds).client
    assert sorted(next_marker_pager(on_first, "accelerator", limit=7)) == ids
    assert next_marker_pager(on_first, "accelerator", limit=7) == next_marker_pager(on_second, "accelerator", limit=7)
    walked, marker = [], None
    for page in range(40):
        client = (on_first, on_second)[page % 2]
        kwargs = {"limit": 9, **({"marker": marker} if marker else {})}
        response = client.list_accelerators(ListAcceleratorsRequest(**kwargs))
        walked.extend(a.id for a in response.accelerators)
        marker = response.page_info.next_marker
        if not marker:
            break
    assert sorted(walked) == ids and len(walked) == count


def test_killing_a_replica_loses_no_acknowledged_write(replicas):
    first, second = replicas
    creds = first.credentials()
    acknowledged, lock, stop = [], threading.Lock(), threading.Event()

    def writer(server):
        client = make_client(server.endpoint, creds)
        for _ in range(200):
            if stop.is_set():
                return
            try:
                accelerator = create_accelerator(client, name=uniq("ack"), wait=False)
            except Exception:   # noqa: the replica died under this request: not acknowledged
                continue
            with lock:
                acknowledged.append(accelerator.id)

    threads = [threading.Thread(target=writer, args=(server,)) for server in (first, second) for _ in range(2)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(acknowledged), lambda n: n >= 20, timeout=60, desc="writes under way")
    first.kill9()
    wait_for(lambda: len(acknowledged), lambda n: n >= 40, timeout=60, desc="writes after the kill")
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    survivor = Account(second, creds).client
    listed = set(list_all_ids(survivor, "accelerator"))
    missing = [i for i in acknowledged if i not in listed]
    assert not missing, "acknowledged writes lost: %s" % missing[:5]


@pytest.mark.parametrize("attempt", range(3))
def test_replicas_starting_together_on_a_fresh_database_make_one_first_account(tmp_path, attempt):
    # Both race to create the first account; the unique constraint refuses one, which starts without it.
    data_dir = tmp_path / ("fresh-%d" % attempt)
    servers = [Server(data_dir, args=["--no-data-plane"], env=ENV) for _ in range(2)]
    try:
        barrier = threading.Barrier(2)

        def start(server):
            barrier.wait(timeout=30)
            return server.start()

        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(start, servers, timeout=120))
        assert all(server.alive() for server in servers), [server.log_tail() for server in servers]
        # Both write to one log (one data directory name): the first account is announced once.
        assert servers[0].log_path == servers[1].log_path
        assert servers[0].log_text().count("Created the first account") == 1, servers[0].log_tail()
        creds = servers[0].credentials()
        for server in servers:
            assert list_all_ids(Account(server, creds).client, "accelerator") == []
    finally:
        for server in servers:
            server.stop()
