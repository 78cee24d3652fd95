"""Bounds that keep one client from taking the server: API connection timeouts and cap, the listener-port quota,
and the PoP's listening-socket budget. Each server here is a real `slipstream serve` with small settings."""
import os
import resource
import select
import socket
import time

import pytest
import requests

from conftest import (Account, EchoBackend, Server, create_accelerator, create_endpoint, create_endpoint_group,
                      create_listener, expect_error, free_port, uniq, wait_for)
from huaweicloudsdkga.v1 import (CreateListenerOption, CreateListenerRequest, CreateListenerRequestBody,
                                 ListTenantQuotasRequest, PortRange, ShowListenerRequest)

IDLE_S = 2
REQUEST_S = 3
MAX_CONNECTIONS = 12
MARGIN_S = 3.0
LIMITED_API = {
    "SLIPSTREAM_HTTP_IDLE_TIMEOUT_SECONDS": str(IDLE_S),
    "SLIPSTREAM_HTTP_REQUEST_TIMEOUT_SECONDS": str(REQUEST_S),
    "SLIPSTREAM_HTTP_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
    "SLIPSTREAM_MAX_BODY_BYTES": "1024",
    "SLIPSTREAM_DATA_PLANE": "off",
}


@pytest.fixture(scope="module")
def api_server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("limits-api"), env=LIMITED_API).start()
    yield srv
    srv.stop()


def cpu_seconds(pid):
    """User + system CPU time of a process, from /proc (clock ticks)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def connect(server):
    s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def wait_closed(sock, limit, feed=None):
    """Seconds until the server closes `sock` (EOF or reset), reading and discarding what it sends; calls feed()
    every 0.5 s while waiting (a client that trickles bytes). Fails if the socket is still open after `limit`."""
    start = time.monotonic()
    sock.settimeout(0.5)
    while time.monotonic() - start < limit:
        try:
            data = sock.recv(65536)
            if not data:
                return time.monotonic() - start
        except socket.timeout:
            if feed is not None:
                try:
                    feed()
                except OSError:
                    return time.monotonic() - start
        except OSError:
            return time.monotonic() - start
    raise AssertionError("the server kept the connection open for %.1f s" % limit)


def test_a_silent_connection_is_closed_after_the_idle_timeout(api_server):
    with connect(api_server) as s:
        took = wait_closed(s, IDLE_S + MARGIN_S)
    assert took >= IDLE_S - 0.5, "closed after %.2f s, before the idle timeout" % took


def test_a_keep_alive_connection_is_closed_when_idle(api_server):
    with connect(api_server) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(5)
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
        wait_closed(s, IDLE_S + MARGIN_S)


def test_a_trickled_request_head_is_closed(api_server):
    with connect(api_server) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        wait_closed(s, IDLE_S + MARGIN_S, feed=lambda: s.sendall(b"X"))


def test_a_trickled_chunked_body_is_closed_after_the_request_timeout(api_server):
    with connect(api_server) as s:
        s.sendall(b"POST /v3/auth/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        took = wait_closed(s, REQUEST_S + MARGIN_S, feed=lambda: s.sendall(b"1\r\n \r\n"))
    assert took >= REQUEST_S - 0.5, "closed after %.2f s, before the request timeout" % took


def test_a_chunked_body_past_the_limit_gets_413_and_the_connection_closes(api_server):
    with connect(api_server) as s:
        s.sendall(b"POST /v3/auth/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"400\r\n" + b" " * 1024 + b"\r\n"
        s.sendall(chunk * 2)
        s.settimeout(5)
        head = s.recv(4096)
        assert head.startswith(b"HTTP/1.1 413"), head[:200]
        # The client goes on sending; the server does not read the rest of the body.
        took = wait_closed(s, MARGIN_S, feed=lambda: s.sendall(chunk))
    assert took < MARGIN_S


def test_a_client_that_reads_no_responses_is_closed(api_server):
    """Pipelined requests whose responses back up (the client never reads) hold the connection only for the
    request timeout: the server's writes stall and it gives up."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", api_server.port))
    with s:
        s.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n" * 60)
        # Watch for the server's FIN or reset without reading (reading would let the responses flow).
        poller = select.poll()
        poller.register(s, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
        started = time.monotonic()
        wait_for(lambda: poller.poll(0), bool, timeout=REQUEST_S + MARGIN_S, interval=0.1,
                 desc="the server to close a connection whose client reads nothing")
    assert time.monotonic() - started >= REQUEST_S - 1.0


def test_at_the_connection_cap_a_client_is_served_once_idle_connections_time_out(api_server):
    pid = api_server.proc.pid
    idle = [connect(api_server) for _ in range(MAX_CONNECTIONS)]
    try:
        # Every idle connection is accepted before the extra client comes.
        for s in idle:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(5)
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
        cpu_before = cpu_seconds(pid)
        started = time.monotonic()
        r = requests.get(api_server.endpoint + "/healthz", timeout=IDLE_S + MARGIN_S + 5)
        waited = time.monotonic() - started
        cpu_used = cpu_seconds(pid) - cpu_before
        assert r.status_code == 200
        assert waited >= IDLE_S - 1, "served after %.2f s although the cap was reached" % waited
        assert waited <= IDLE_S + MARGIN_S, "served only after %.2f s" % waited
        # Waiting at the cap costs no CPU: the server does not accept, so it does not spin.
        assert cpu_used < 0.5 * waited, "the server used %.2f CPU-s while waiting %.2f s" % (cpu_used, waited)
    finally:
        for s in idle:
            s.close()


def test_the_idle_ones_left_and_the_api_answers(api_server):
    assert requests.get(api_server.endpoint + "/healthz", timeout=10).status_code == 200


# ----------------------------------------------------------------------------------------------------------------
# Listener ports: the account quota at the API, the socket budget in the PoP
# ----------------------------------------------------------------------------------------------------------------

def _listener(client, acc_id, low, high, proto="UDP"):
    return client.create_listener(CreateListenerRequest(body=CreateListenerRequestBody(listener=CreateListenerOption(
        name=uniq("lis"), protocol=proto, accelerator_id=acc_id,
        port_ranges=[PortRange(from_port=low, to_port=high)])))).listener


def test_listener_ports_have_a_quota_per_account(quota_server):
    acct = Account(quota_server, quota_server.credentials())
    c = acct.client
    acc = create_accelerator(c)
    e = expect_error(lambda: _listener(c, acc.id, 30000, 59999), 400, "GA.9103", "listener_port_per_tenant")
    assert "30000" in e.error_msg and "2000" in e.error_msg, e.error_msg
    _listener(c, acc.id, 40000, 40099)
    quotas = {q.type: q for q in c.list_tenant_quotas(ListTenantQuotasRequest()).quotas.resources}
    assert quotas["listener_port_per_tenant"].quota == 2000
    raw = acct.raw("GET", "/v1/%s/ga/quotas" % acct.domain_id).json()
    used = {q["type"]: q["used"] for q in raw["quotas"]["resources"]}
    assert used["listener_port_per_tenant"] == 100


@pytest.fixture(scope="module")
def low_fd_server(tmp_path_factory):
    """A server started with an open-file limit of 256 (soft and hard): a listening-socket budget of 128."""
    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    # Each data-plane server here gets its own address pool, so their listeners never share an address.
    srv = Server(tmp_path_factory.mktemp("limits-fd"), env={"SLIPSTREAM_QUOTA_PORTS_PER_ACCOUNT": "100000",
                                                            "SLIPSTREAM_POOL_OUTOFCM_IPV4": "127.12.1.0/24"},
                 preexec_fn=limit).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def quota_server(tmp_path_factory):
    """Default quotas; no data plane (the quota is the control plane's)."""
    srv = Server(tmp_path_factory.mktemp("limits-quota"), env={"SLIPSTREAM_DATA_PLANE": "off"}).start()
    yield srv
    srv.stop()


def test_a_listener_over_the_pop_socket_budget_is_error_without_a_retry_storm(low_fd_server):
    acct = Account(low_fd_server, low_fd_server.credentials())
    c = acct.client
    acc = create_accelerator(c)
    small = _listener(c, acc.id, 41000, 41009)
    big = _listener(c, acc.id, 42000, 42199)
    wait_for(lambda: c.show_listener(ShowListenerRequest(listener_id=big.id)).listener.status,
             lambda s: s == "ERROR", timeout=15, desc="the 200-port listener in ERROR")
    wait_for(lambda: c.show_listener(ShowListenerRequest(listener_id=small.id)).listener.status,
             lambda s: s == "ACTIVE", timeout=15, desc="the 10-port listener ACTIVE")
    metrics = requests.get(low_fd_server.endpoint + "/metrics", timeout=10).text
    reason = [line for line in metrics.splitlines() if line.startswith("slipstream_apply_errors") and big.id in line]
    assert reason and "socket budget is 128" in reason[0], reason
    log = low_fd_server.log_text()
    assert "apply failed" in log and big.id in log and "socket budget is 128" in log, low_fd_server.log_tail()
    # Refused before any socket is opened, and retried with back-off: the process stays idle.
    pid = low_fd_server.proc.pid
    before, started = cpu_seconds(pid), time.monotonic()
    time.sleep(4)   # a window to measure CPU use over, not a wait for a condition
    used = cpu_seconds(pid) - before
    assert used < 0.25 * (time.monotonic() - started), "%.2f CPU-s in 4 s" % used
    assert c.show_listener(ShowListenerRequest(listener_id=small.id)).listener.status == "ACTIVE"


# ----------------------------------------------------------------------------------------------------------------
# Open-file limits: a service started with the common soft limit of 1024
# ----------------------------------------------------------------------------------------------------------------

UDP_PORTS = 1500
TCP_FLOWS = 600


@pytest.fixture(scope="module")
def soft_1024_server(tmp_path_factory):
    """`ulimit -S -n 1024` with the hard limit left as it is, as service managers often start daemons."""
    def limit():
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))

    srv = Server(tmp_path_factory.mktemp("limits-1024"), env={"SLIPSTREAM_QUOTA_PORTS_PER_ACCOUNT": "100000",
                                                              "SLIPSTREAM_POOL_OUTOFCM_IPV4": "127.12.2.0/24"},
                 preexec_fn=limit).start()
    yield srv
    srv.stop()


def open_file_limits(pid):
    with open("/proc/%d/limits" % pid) as f:
        line = next(l for l in f if l.startswith("Max open files"))
    soft, hard = line.split()[3:5]
    return int(soft), int(hard)


def test_a_soft_limit_of_1024_is_raised_and_serves_1500_udp_ports_and_600_tcp_flows(soft_1024_server):
    srv = soft_1024_server
    soft, hard = open_file_limits(srv.proc.pid)
    assert soft == hard, "the soft limit was not raised to the hard limit: %s/%s" % (soft, hard)
    assert "soft_at_start=1024" in srv.log_text(), srv.log_tail()
    acct = Account(srv, srv.credentials())
    c = acct.client
    acc = create_accelerator(c)
    udp = _listener(c, acc.id, 40000, 40000 + UDP_PORTS - 1)
    wait_for(lambda: c.show_listener(ShowListenerRequest(listener_id=udp.id)).listener.status,
             lambda s: s == "ACTIVE", timeout=60, desc="the %d-port UDP listener ACTIVE" % UDP_PORTS)

    # The TCP listener shares the accelerator, so its port must lie outside the UDP listener's range (GA.9101).
    port = free_port(avoid=range(40000, 40000 + UDP_PORTS))
    backend = EchoBackend("127.0.0.2", port, backlog=1024)
    try:
        tcp = create_listener(c, acc.id, ports=((port, port),))
        group = create_endpoint_group(c, tcp.id)
        create_endpoint(c, group.id, ip_address="127.0.0.2", resource_type="CUSTOM_IP")
        address = acc.ip_sets[0].ip_address
        wait_for(lambda: _round_trip(address, port), lambda reply: reply == b"127.0.0.2:x", timeout=15,
                 desc="a TCP round trip through the listener")
        flows = []
        try:
            for _ in range(TCP_FLOWS):
                flows.append(socket.create_connection((address, port), timeout=10))
            for s in flows:
                s.sendall(b"y")
            replies = [s.recv(64) for s in flows]
            assert replies.count(b"127.0.0.2:y") == TCP_FLOWS, replies[:5]
        finally:
            for s in flows:
                s.close()
        assert requests.get(srv.endpoint + "/healthz", timeout=10).status_code == 200
    finally:
        backend.close()


def _round_trip(address, port):
    try:
        with socket.create_connection((address, port), timeout=5) as s:
            s.sendall(b"x")
            return s.recv(64)
    except OSError:
        return None
