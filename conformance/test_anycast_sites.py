"""Anycast sites in network namespaces: two remote PoPs in two sites (regions ap-southeast-1 and ap-southeast-3)
serve the same accelerator address, each to the clients of its own site, and keep serving when the other PoP or
every control plane is away.

Topology, made and removed by the test (`ip netns`, veth pairs, a bridge), all addresses in 198.18.77.0/24
(RFC 2544's benchmarking range):

    root namespace (the SDK) --veth-- core: bridge, `slipstream serve --no-data-plane` on .1
                                        |-- veth -- site A: PoP A, endpoint A on .2, clients
                                        `-- veth -- site B: PoP B, endpoint B on .3, clients

Every site has its own loopback, where its PoP binds the accelerator address: the same address in both sites.
"""

import json
import os
import subprocess
import sys
import uuid

import pytest

from huaweicloudsdkga.v1 import (ShowEndpointRequest, UpdateEndpointGroupOption, UpdateEndpointGroupRequest,
                                 UpdateEndpointGroupRequestBody)

from conftest import (Account, PoPProcess, Server, create_accelerator, create_endpoint, create_endpoint_group,
                      create_health_check, create_listener, create_pop, pop_entry, wait_for)

SUBNET = "198.18.77"
CORE_IP, SITE_A_IP, SITE_B_IP, ROOT_IP = SUBNET + ".1", SUBNET + ".2", SUBNET + ".3", SUBNET + ".254"
REGION_A, REGION_B = "ap-southeast-1", "ap-southeast-3"
PORT, SECOND_PORT = 7080, 7081
STALE = 3

BACKEND = r"""
import socket, sys, threading
ip, port = sys.argv[1], int(sys.argv[2])
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((ip, port))
server.listen(64)
def serve(conn):
    with conn:
        conn.settimeout(10)
        data = conn.recv(1024)
        if data:
            conn.sendall(ip.encode() + b":" + data)
while True:
    conn, _ = server.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""

CLIENT = r"""
import json, socket, sys
address, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
replies = []
for _ in range(count):
    try:
        with socket.create_connection((address, port), timeout=3) as s:
            s.sendall(b"ping")
            replies.append(s.recv(100).decode().split(":")[0] or "closed")
    except OSError as error:
        replies.append("error:" + type(error).__name__)
print(json.dumps(replies))
"""


def run(*args, check=True):
    return subprocess.run(args, check=check, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)


def netns_permitted():
    name = "slp-probe-" + uuid.uuid4().hex[:6]
    try:
        if run("ip", "netns", "add", name, check=False).returncode != 0:
            return False
        run("ip", "netns", "delete", name, check=False)
        return True
    except (OSError, subprocess.SubprocessError):
        return False


class Sites:
    """The namespaces, links and addresses above; `close` removes them (and the processes in them)."""

    def __init__(self):
        tag = uuid.uuid4().hex[:4]
        self.core, self.site_a, self.site_b = "slp-%s-core" % tag, "slp-%s-a" % tag, "slp-%s-b" % tag
        self.root_link = "slp%sr" % tag
        self.processes = []
        try:
            for ns in (self.core, self.site_a, self.site_b):
                run("ip", "netns", "add", ns)
                run("ip", "-n", ns, "link", "set", "lo", "up")
            run("ip", "-n", self.core, "link", "add", "br0", "type", "bridge")
            run("ip", "-n", self.core, "addr", "add", CORE_IP + "/24", "dev", "br0")
            run("ip", "-n", self.core, "link", "set", "br0", "up")
            for ns, ip, name in ((self.site_a, SITE_A_IP, "a"), (self.site_b, SITE_B_IP, "b")):
                run("ip", "-n", self.core, "link", "add", "p" + name, "type", "veth", "peer", "name", "eth0", "netns", ns)
                run("ip", "-n", self.core, "link", "set", "p" + name, "master", "br0", "up")
                run("ip", "-n", ns, "addr", "add", ip + "/24", "dev", "eth0")
                run("ip", "-n", ns, "link", "set", "eth0", "up")
            # The test's own link into the core, for the SDK.
            run("ip", "link", "add", self.root_link, "type", "veth", "peer", "name", "root", "netns", self.core)
            run("ip", "-n", self.core, "link", "set", "root", "master", "br0", "up")
            run("ip", "addr", "add", ROOT_IP + "/32", "dev", self.root_link)
            run("ip", "link", "set", self.root_link, "up")
            run("ip", "route", "add", CORE_IP + "/32", "dev", self.root_link)
        except Exception:
            self.close()
            raise

    def spawn(self, ns, script, *args):
        proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", script, *map(str, args)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        self.processes.append(proc)
        return proc

    def backend(self, ns, ip, port):
        proc = self.spawn(ns, BACKEND, ip, port)
        wait_for(lambda: self.connect(ns, ip, port, 1) == [ip], bool, timeout=10, desc="backend %s:%d" % (ip, port))
        return proc

    def connect(self, ns, address, port, count):
        """What `count` sequential connections from inside `ns` to `address:port` got back: the answering
        endpoint's address, or an error."""
        out = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", CLIENT, address, str(port), str(count)],
                             check=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=60 + 4 * count)
        return json.loads(out.stdout)

    def close(self):
        for proc in self.processes:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        run("ip", "link", "delete", self.root_link, check=False)
        for ns in (self.core, self.site_a, self.site_b):
            # Deleting a namespace ends its links; processes still inside would keep it alive, so none are left.
            run("ip", "netns", "delete", ns, check=False)


def stop(proc):
    proc.kill()
    proc.wait(timeout=10)


@pytest.fixture
def sites():
    if os.geteuid() != 0 or not netns_permitted():
        pytest.skip("`ip netns add` is not permitted here (needs root and CAP_SYS_ADMIN)")
    made = Sites()
    yield made
    made.close()


def test_two_sites_serve_one_anycast_address(sites, tmp_path):
    env = {"SLIPSTREAM_POP_STALE_SECONDS": str(STALE)}
    api = Server(tmp_path / "api", args=["--no-data-plane"], env=env, netns=sites.core, host=CORE_IP, sqlite=True)
    api.start()
    pops = {}
    try:
        acct = Account(api, api.credentials())
        c = acct.client
        for name, ns, region in (("pop-a", sites.site_a, REGION_A), ("pop-b", sites.site_b, REGION_B)):
            pops[name] = PoPProcess(tmp_path / name, create_pop(api, name, region), [api.endpoint], netns=ns).start()
        for name in pops:
            wait_for(lambda: pop_entry(acct, name)["status"], lambda s: s == "ACTIVE", timeout=30, desc=name + " live")

        backend_a = sites.backend(sites.site_a, SITE_A_IP, PORT)
        sites.backend(sites.site_b, SITE_B_IP, PORT)
        accelerator = create_accelerator(c)
        address = accelerator.ip_sets[0].ip_address
        listener = create_listener(c, accelerator.id, ports=((PORT, PORT),))
        group_a = create_endpoint_group(c, listener.id, region_id=REGION_A, traffic_dial_percentage=50)
        group_b = create_endpoint_group(c, listener.id, region_id=REGION_B)
        endpoint_a = create_endpoint(c, group_a.id, ip_address=SITE_A_IP, resource_type="CUSTOM_IP")
        create_endpoint(c, group_b.id, ip_address=SITE_B_IP, resource_type="CUSTOM_IP")
        for group in (group_a, group_b):
            create_health_check(c, group.id, port=PORT, interval=2, timeout=1, max_retries=1)

        def health(endpoint, group):
            return c.show_endpoint(ShowEndpointRequest(endpoint_group_id=group.id, endpoint_id=endpoint.id)).endpoint.health_state
        wait_for(lambda: health(endpoint_a, group_a), lambda h: h == "HEALTHY", timeout=20, desc="endpoint A healthy")

        # Each site's clients reach their own site's PoP on the one address; site A's dial of 50 sends about half
        # its flows to region B, site B's local group takes all of its own.
        replies_a = sites.connect(sites.site_a, address, PORT, 40)
        assert set(replies_a) == {SITE_A_IP, SITE_B_IP}, replies_a
        assert 8 <= replies_a.count(SITE_A_IP) <= 32, replies_a
        assert sites.connect(sites.site_b, address, PORT, 10) == [SITE_B_IP] * 10

        # Dial 100: site A keeps its flows local.
        c.update_endpoint_group(UpdateEndpointGroupRequest(
            endpoint_group_id=group_a.id,
            body=UpdateEndpointGroupRequestBody(endpoint_group=UpdateEndpointGroupOption(traffic_dial_percentage=100))))
        wait_for(lambda: sites.connect(sites.site_a, address, PORT, 10), lambda r: r == [SITE_A_IP] * 10,
                 timeout=15, desc="site A local at dial 100")

        # Region A's endpoint fails its health checks: site A fails over to region B.
        stop(backend_a)
        wait_for(lambda: health(endpoint_a, group_a), lambda h: h == "UNHEALTHY", timeout=20, desc="endpoint A unhealthy")
        wait_for(lambda: sites.connect(sites.site_a, address, PORT, 10), lambda r: r == [SITE_B_IP] * 10,
                 timeout=15, desc="site A failing over to region B")

        # PoP B dies: site A is unaffected, and B goes stale in the PoP list.
        pops["pop-b"].kill9()
        assert sites.connect(sites.site_a, address, PORT, 5) == [SITE_B_IP] * 5
        assert all(r.startswith("error") for r in sites.connect(sites.site_b, address, PORT, 2))
        wait_for(lambda: pop_entry(acct, "pop-b")["status"], lambda s: s == "ERROR", timeout=STALE + 10, desc="pop-b stale")
        assert pop_entry(acct, "pop-a")["status"] == "ACTIVE"

        # Every control plane down: site A keeps forwarding; PoP B restarted now serves its saved snapshot.
        api.stop()
        pops["pop-b"].start()
        wait_for(lambda: sites.connect(sites.site_b, address, PORT, 3), lambda r: r == [SITE_B_IP] * 3,
                 timeout=20, desc="site B served from PoP B's saved snapshot")
        assert sites.connect(sites.site_a, address, PORT, 3) == [SITE_B_IP] * 3

        # The control plane returns: a new listener reaches both sites.
        api.start(port=api.port)
        for name in pops:
            wait_for(lambda: pop_entry(acct, name)["status"], lambda s: s == "ACTIVE", timeout=30, desc=name + " live again")
        sites.backend(sites.site_b, SITE_B_IP, SECOND_PORT)
        second = create_listener(c, accelerator.id, ports=((SECOND_PORT, SECOND_PORT),))
        group = create_endpoint_group(c, second.id, region_id=REGION_B)
        create_endpoint(c, group.id, ip_address=SITE_B_IP, resource_type="CUSTOM_IP")   # ACTIVE: both PoPs applied it
        assert sites.connect(sites.site_a, address, SECOND_PORT, 3) == [SITE_B_IP] * 3
        assert sites.connect(sites.site_b, address, SECOND_PORT, 3) == [SITE_B_IP] * 3
    finally:
        for pop in pops.values():
            pop.stop()
        api.stop()
