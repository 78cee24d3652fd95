"""The data plane as the real process runs it: bytes through a listener, and SIGTERM draining open flows."""

import signal
import socket
import time

from conftest import (Account, EchoBackend, Server, create_accelerator, create_endpoint, create_endpoint_group,
                      create_listener, wait_for)

BACKEND_IP = "127.0.0.5"
PORT = 23_456


def test_bytes_cross_and_sigterm_drains(tmp_path_factory):
    backend = EchoBackend(BACKEND_IP, PORT)
    srv = Server(tmp_path_factory.mktemp("dataplane"), env={"SLIPSTREAM_DRAIN_TIMEOUT_SECONDS": "20"}).start()
    try:
        c = Account(srv, srv.credentials()).client
        acc = create_accelerator(c)
        lis = create_listener(c, acc.id, ports=((PORT, PORT),))
        eg = create_endpoint_group(c, lis.id)
        create_endpoint(c, eg.id, ip_address=BACKEND_IP, resource_type="CUSTOM_IP")  # waits for ACTIVE
        address = acc.ip_sets[0].ip_address

        with socket.create_connection((address, PORT), timeout=5) as s:
            s.sendall(b"hello")
            assert s.recv(100) == BACKEND_IP.encode() + b":hello"

        held = socket.create_connection((address, PORT), timeout=5)
        held.sendall(b"one")
        assert held.recv(100) == BACKEND_IP.encode() + b":one"

        srv.proc.send_signal(signal.SIGTERM)
        # New connections are refused once the listening sockets close ...
        def refused():
            try:
                socket.create_connection((address, PORT), timeout=1).close()
                return False
            except OSError:
                return True
        wait_for(refused, bool, timeout=10, desc="listener closed after SIGTERM")
        # ... while the open flow keeps working and the process waits for it.
        held.sendall(b"two")
        assert held.recv(100) == BACKEND_IP.encode() + b":two"
        assert srv.alive(), "the server exited before its open flow finished"
        started = time.monotonic()
        held.close()
        srv.proc.wait(timeout=15)
        assert srv.proc.returncode == 0, srv.log_tail()
        assert time.monotonic() - started < 10, "shutdown did not follow the last flow's end"
    finally:
        srv.stop()
        backend.close()
