"""IP-group access control enforced by the data plane on real loopback sockets (WHITE / BLACK / none)."""
import re
import socket

import pytest
import requests

from conftest import EchoBackend, create_accelerator, create_endpoint, create_endpoint_group, create_listener
from test_ip_groups import add_ips, associate, create_ip_group, disassociate, remove_ips, wait_group_active

BACKEND_IP = "127.0.0.6"
PORT = 23_500
INSIDE = "127.0.7.5"      # in 127.0.7.0/24
OUTSIDE = "127.0.8.5"     # not in it


def attempt(source, address, payload=b"ping"):
    """Connect from `source` and send one message: the echo reply, or None when the flow is closed unanswered."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.bind((source, 0))
        s.connect((address, PORT))
        try:
            s.sendall(payload)
            data = s.recv(100)
        except (ConnectionResetError, BrokenPipeError):
            return None
        return data or None
    finally:
        s.close()


def expect_through(source, address):
    got = attempt(source, address, b"hi-" + source.encode())
    assert got == BACKEND_IP.encode() + b":hi-" + source.encode(), \
        "a flow from %s should reach the backend, got %r" % (source, got)


def expect_denied(source, address):
    got = attempt(source, address)
    assert got is None, "a flow from %s should be closed without bytes, got %r" % (source, got)


def denied_total(server, listener_id):
    r = requests.get(server.endpoint + "/metrics", timeout=10)
    assert r.status_code == 200, r.status_code
    m = re.search(r'^slipstream_listener_denied_total\{listener_id="%s"\} (\d+(?:\.\d+)?)\s*$' % re.escape(listener_id),
                  r.text, re.M)
    assert m, "no slipstream_listener_denied_total line for listener %s in /metrics" % listener_id
    return float(m.group(1))


@pytest.fixture(scope="module")
def guarded(client):
    backend = EchoBackend(BACKEND_IP, PORT)
    try:
        acc = create_accelerator(client)
        lis = create_listener(client, acc.id, ports=((PORT, PORT),))
        eg = create_endpoint_group(client, lis.id)
        create_endpoint(client, eg.id, ip_address=BACKEND_IP, resource_type="CUSTOM_IP")  # waits for ACTIVE
        yield acc.ip_sets[0].ip_address, lis
    finally:
        backend.close()


def test_white_black_and_none(server, client, guarded):
    address, lis = guarded
    # no group bound: everyone gets through
    expect_through(INSIDE, address)
    expect_through(OUTSIDE, address)
    before = denied_total(server, lis.id)

    g = create_ip_group(client, ["127.0.7.0/24"])

    # WHITE: only the listed range
    associate(client, g.id, lis.id, "WHITE")
    wait_group_active(client, g.id)
    expect_through(INSIDE, address)
    expect_denied(OUTSIDE, address)
    expect_denied("127.0.0.1", address)

    # adding / removing a CIDR of a bound group takes effect once the group is ACTIVE again
    add_ips(client, g.id, ["127.0.8.0/24"])
    wait_group_active(client, g.id)
    expect_through(OUTSIDE, address)
    remove_ips(client, g.id, ["127.0.8.0/24"])
    wait_group_active(client, g.id)
    expect_denied(OUTSIDE, address)
    expect_through(INSIDE, address)

    # BLACK: the reverse
    disassociate(client, g.id, lis.id)
    wait_group_active(client, g.id)
    associate(client, g.id, lis.id, "BLACK")
    wait_group_active(client, g.id)
    expect_denied(INSIDE, address)
    expect_through(OUTSIDE, address)
    expect_through("127.0.0.1", address)

    # unbound: both pass again
    disassociate(client, g.id, lis.id)
    wait_group_active(client, g.id)
    expect_through(INSIDE, address)
    expect_through(OUTSIDE, address)

    after = denied_total(server, lis.id)
    assert after > 0, "denied flows were not counted"
    assert after >= before + 4, "expected at least 4 more denied flows, metric went %s -> %s" % (before, after)


def test_metrics_need_no_auth(server, guarded):
    _, lis = guarded
    r = requests.get(server.endpoint + "/metrics", timeout=10)
    assert r.status_code == 200
    assert "# TYPE slipstream_listener_denied_total counter" in r.text
    assert 'slipstream_listener_denied_total{listener_id="%s"}' % lis.id in r.text
