"""Remote PoPs (`slipstream pop`) driven by API replicas run with `--no-data-plane`, as real processes: the PoP
protocol's credentials and long poll, status settled over live PoPs, static stability when the control plane is
away, failover between control-plane URLs, and a snapshot format a PoP does not read."""

import gzip
import http.server
import itertools
import json
import os
import shutil
import socket
import subprocess
import threading
import time

import pytest
import requests

from conftest import (OUTOFCM_REGION, POSTGRES_ADMIN_URL, Account, EchoBackend, PoPProcess, Server, ShowListenerRequest,
                      create_accelerator, create_endpoint, create_endpoint_group, create_listener, create_pop,
                      create_pop_raw, fresh_endpoint_ip, free_port, pop_entry, wait_active, wait_for)

STALE = 3   # SLIPSTREAM_POP_STALE_SECONDS of the servers here; the PoPs report every second


def api_only(tmp_path, name="api"):
    return Server(tmp_path / name, args=["--no-data-plane"], env={"SLIPSTREAM_POP_STALE_SECONDS": str(STALE)})


def echo(address, port, payload=b"ping", timeout=3):
    with socket.create_connection((address, port), timeout=timeout) as s:
        s.sendall(payload)
        return s.recv(200)


def eventually_echo(address, port, backend_ip, timeout=15, desc="traffic through the PoP"):
    def attempt():
        try:
            return echo(address, port)
        except OSError:
            return None
    wait_for(attempt, lambda reply: reply == backend_ip.encode() + b":ping", timeout=timeout, interval=0.2, desc=desc)


def forward(client, accelerator, port, backend_ip, region=OUTOFCM_REGION):
    """A TCP listener on `port` of `accelerator` with one endpoint at `backend_ip`; waits until all are ACTIVE."""
    listener = create_listener(client, accelerator.id, ports=((port, port),))
    group = create_endpoint_group(client, listener.id, region_id=region)
    create_endpoint(client, group.id, ip_address=backend_ip, resource_type="CUSTOM_IP")
    return listener


def pop_headers(credential):
    return {"Authorization": "Bearer " + credential["token"]}


def test_create_pop_prints_a_credential_and_refuses_bad_input(tmp_path):
    srv = api_only(tmp_path).start()
    try:
        credential = create_pop(srv, "sin-1")
        assert credential["pop_id"] == "sin-1" and credential["region_id"] == OUTOFCM_REGION
        assert credential["token"].startswith("slp-pop.sin-1.")
        for args, text in [(("sin-1", OUTOFCM_REGION), "already exists"), (("sin_2", OUTOFCM_REGION), "pop_id"),
                           (("sin-3", "mars-1"), "mars-1")]:
            res = create_pop_raw(srv, *args)
            assert res.returncode != 0 and text in res.stderr.decode(), (args, res.stderr)
        acct = Account(srv, srv.credentials())
        entry = pop_entry(acct, "sin-1")
        # Registered but never heard from: listed, stale.
        assert entry["status"] == "ERROR" and entry["region_id"] == OUTOFCM_REGION and entry.get("applied_revision") is None
    finally:
        srv.stop()


def admin_pop(server, command, pop_id):
    return subprocess.run([os.environ["SLIPSTREAM_BIN"], "admin", command, "--data-dir", server.data_dir, "--pop-id", pop_id],
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=60, env=server._env())


def test_a_pop_token_can_be_rotated_and_a_pop_deleted(tmp_path):
    srv = api_only(tmp_path).start()
    pop = None
    try:
        acct = Account(srv, srv.credentials())
        credential = create_pop(srv, "sin-1")
        pop = PoPProcess(tmp_path / "pop", credential, [srv.endpoint]).start()
        wait_for(lambda: pop_entry(acct, "sin-1")["status"], lambda s: s == "ACTIVE", timeout=20, desc="PoP live")
        url = srv.endpoint + "/pop/v1/snapshot"
        assert requests.get(url, headers=pop_headers(credential), timeout=10).status_code == 200

        # A new token: the old one is refused at once, the new one opens the protocol; the running PoP, still on
        # the old token, goes stale.
        res = admin_pop(srv, "rotate-pop-token", "sin-1")
        assert res.returncode == 0, res.stderr
        rotated = json.loads(res.stdout)
        assert rotated["pop_id"] == "sin-1" and rotated["region_id"] == credential["region_id"]
        assert rotated["token"] != credential["token"]
        r = requests.get(url, headers=pop_headers(credential), timeout=10)
        assert r.status_code == 401 and r.json()["error_code"] == "APIGW.0301", r.text
        assert requests.get(url, headers=pop_headers(rotated), timeout=10).status_code == 200
        wait_for(lambda: pop_entry(acct, "sin-1")["status"], lambda s: s == "ERROR", timeout=STALE + 10,
                 desc="the PoP on the old token stale")
        time.sleep(3)   # the PoP's heartbeat is 1 s: three more reports refused the same way
        with open(pop.log_path, "rb") as f:
            warnings = [line for line in f.read().splitlines() if b"report reached no control plane" in line]
        # Warned once; the same refusal repeating (each with its own request id) is logged at debug level only.
        assert len(warnings) == 1 and b" warning " in warnings[0], warnings

        # A report on its way while the PoP is deleted does not bring it back: it is refused.
        report = json.dumps({"formatVersion": 1, "popID": "sin-1", "regionID": OUTOFCM_REGION, "appliedRevision": 0,
                             "errors": [], "health": []}).encode()
        with socket.create_connection(("127.0.0.1", srv.port), timeout=20) as raw:
            raw.sendall(b"POST /pop/v1/report HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + rotated["token"].encode()
                        + b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(report) + report[:10])
            time.sleep(0.3)   # the token is checked before the body is read
            res = admin_pop(srv, "delete-pop", "sin-1")
            assert res.returncode == 0, res.stderr
            assert pop_entry(acct, "sin-1") is None
            raw.sendall(report[10:])
            answer = raw.recv(4096)
        assert answer.startswith(b"HTTP/1.1 401") and b"APIGW.0301" in answer, answer
        assert pop_entry(acct, "sin-1") is None

        # Deleted: gone from the list, its token refused; unknown ids are refused with a message.
        assert requests.get(url, headers=pop_headers(rotated), timeout=10).status_code == 401
        for command in ["delete-pop", "rotate-pop-token"]:
            res = admin_pop(srv, command, "sin-1")
            assert res.returncode != 0 and b"no PoP sin-1" in res.stderr, (command, res.stderr)
    finally:
        if pop is not None:
            pop.stop()
        srv.stop()


def test_pop_protocol_authentication_long_poll_and_reports(tmp_path):
    srv = api_only(tmp_path).start()
    try:
        acct = Account(srv, srv.credentials())
        credential = create_pop(srv, "sin-1")
        snapshot_url = srv.endpoint + "/pop/v1/snapshot"
        # No token, a tenant's token, a forged PoP token: 401 in the GA error format.
        forged = credential["token"][:-1] + ("0" if credential["token"][-1] != "0" else "1")
        for headers in [{}, {"X-Auth-Token": acct.token()}, {"Authorization": "Bearer " + forged}]:
            r = requests.get(snapshot_url, headers=headers, timeout=10)
            assert r.status_code == 401 and r.json()["error_code"] == "APIGW.0301", (headers.keys(), r.text)
        # A PoP token opens no tenant route.
        r = requests.get(srv.endpoint + "/v1/accelerators", headers=pop_headers(credential), timeout=10)
        assert r.status_code == 401, r.text

        # The snapshot, gzip-compressed, with its revision.
        r = requests.get(snapshot_url, headers=dict(pop_headers(credential), **{"Accept-Encoding": "gzip"}),
                         stream=True, timeout=10)
        assert r.status_code == 200 and r.headers["Content-Encoding"] == "gzip", r.headers
        snapshot = json.loads(gzip.decompress(r.raw.read()))
        assert snapshot["formatVersion"] == 1
        revision = int(r.headers["Slipstream-Revision"])
        assert snapshot["revision"] == revision

        # Nothing newer: the poll waits and answers 304.
        started = time.monotonic()
        r = requests.get(snapshot_url, params={"revision": revision, "wait": 1}, headers=pop_headers(credential), timeout=10)
        assert r.status_code == 304 and time.monotonic() - started >= 0.9, r.status_code
        for bad in [{"revision": "x"}, {"revision": -1}, {"wait": 31}, {"wait": "soon"}]:
            r = requests.get(snapshot_url, params=bad, headers=pop_headers(credential), timeout=10)
            assert r.status_code == 400 and r.json()["error_code"] == "GA.9001", (bad, r.text)

        # A write during the poll ends it with the new revision.
        result = {}

        def poll():
            result["response"] = requests.get(snapshot_url, params={"revision": revision, "wait": 20},
                                              headers=pop_headers(credential), timeout=30)
            result["at"] = time.monotonic()
        poller = threading.Thread(target=poll)
        poller.start()
        time.sleep(0.5)
        written = time.monotonic()
        accelerator = create_accelerator(acct.client)   # no live PoP: ACTIVE at once
        poller.join(timeout=30)
        r = result["response"]
        assert r.status_code == 200 and result["at"] - written < 5, r.status_code
        body = r.json()
        assert body["revision"] > revision and [a["id"] for a in body["accelerators"]] == [accelerator.id]

        # Reports: another PoP's name is refused, garbage is a 400, a good one makes the PoP live.
        report = {"formatVersion": 1, "popID": "sin-1", "regionID": OUTOFCM_REGION, "appliedRevision": body["revision"],
                  "errors": [], "health": []}
        r = requests.post(srv.endpoint + "/pop/v1/report", json=dict(report, popID="other"), headers=pop_headers(credential), timeout=10)
        assert r.status_code == 403, r.text
        for bad in [b"{", b'{"popID": "sin-1"}', json.dumps(dict(report, formatVersion=9)).encode()]:
            r = requests.post(srv.endpoint + "/pop/v1/report", data=bad, headers=pop_headers(credential), timeout=10)
            assert r.status_code == 400, (bad, r.text)
        assert pop_entry(acct, "sin-1")["status"] == "ERROR"
        r = requests.post(srv.endpoint + "/pop/v1/report", json=report, headers=pop_headers(credential), timeout=10)
        assert r.status_code == 204, r.text
        entry = pop_entry(acct, "sin-1")
        assert entry["status"] == "ACTIVE" and entry["applied_revision"] == body["revision"], entry
        # With no further heartbeat it goes stale.
        wait_for(lambda: pop_entry(acct, "sin-1")["status"], lambda s: s == "ERROR", timeout=STALE + 5, desc="stale PoP")
    finally:
        srv.stop()


def test_pop_protocol_bodies_are_bounded_apart_from_tenant_requests_and_methods_are_checked(tmp_path):
    # A tenant body limit of 4 KiB: a PoP's report grows with the endpoints it serves and is bounded on its own.
    srv = Server(tmp_path / "api", args=["--no-data-plane"], env={"SLIPSTREAM_MAX_BODY_BYTES": "4096"}).start()
    try:
        acct = Account(srv, srv.credentials())
        credential = create_pop(srv, "sin-1")
        health = [{"endpointID": "%032x" % i, "state": "HEALTHY"} for i in range(3000)]
        report = {"formatVersion": 1, "popID": "sin-1", "regionID": OUTOFCM_REGION, "appliedRevision": 0,
                  "errors": [], "health": health}
        body = json.dumps(report).encode()
        assert len(body) > 100_000
        r = requests.post(srv.endpoint + "/pop/v1/report", data=body, headers=pop_headers(credential), timeout=10)
        assert r.status_code == 204, r.text
        assert pop_entry(acct, "sin-1")["status"] == "ACTIVE"
        # A negative revision is malformed. One past the newest committed revision names no configuration of this
        # store (a PoP that served a database since restored from a backup): the PoP stays live but counts as
        # having applied nothing until it catches up.
        r = requests.post(srv.endpoint + "/pop/v1/report", json=dict(report, appliedRevision=-1, health=[]),
                          headers=pop_headers(credential), timeout=10)
        assert r.status_code == 400 and "appliedRevision" in r.json()["error_msg"], r.text
        r = requests.post(srv.endpoint + "/pop/v1/report", json=dict(report, appliedRevision=10 ** 12, health=[]),
                          headers=pop_headers(credential), timeout=10)
        assert r.status_code == 204, r.text
        entry = pop_entry(acct, "sin-1")
        assert entry["status"] == "ACTIVE" and entry["applied_revision"] == 0, entry
        # A declared length past the limit is refused before the body is read.
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as raw:
            raw.sendall(b"POST /pop/v1/report HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + credential["token"].encode()
                        + b"\r\nContent-Length: 100000000\r\n\r\n{")
            answer = raw.recv(4096)
        assert answer.startswith(b"HTTP/1.1 413"), answer
        # Without a valid token the body is never read: 401, not 413.
        r = requests.post(srv.endpoint + "/pop/v1/report", data=body, headers={"Authorization": "Bearer slp-pop.x.y"},
                          timeout=10)
        assert r.status_code == 401 and r.json()["error_code"] == "APIGW.0301", r.text
        # Tenant requests keep their limit.
        r = acct.raw("POST", "/v1/accelerators", data=b'{"accelerator": {"name": "' + b"a" * 5000 + b'"}}')
        assert r.status_code == 413, r.text
        # The wrong method on a PoP route is a 405 naming the right one.
        for method, path, allowed in [("DELETE", "/pop/v1/snapshot", "GET"), ("GET", "/pop/v1/report", "POST"),
                                      ("PUT", "/pop/v1/report", "POST")]:
            r = requests.request(method, srv.endpoint + path, headers=pop_headers(credential), timeout=10)
            assert r.status_code == 405 and r.headers["Allow"] == allowed, (method, path, r.status_code, r.text)
        r = requests.get(srv.endpoint + "/pop/v1/nothing", headers=pop_headers(credential), timeout=10)
        assert r.status_code == 404, r.text
    finally:
        srv.stop()


def test_a_pop_refuses_to_start_on_a_state_directory_it_cannot_write(tmp_path):
    srv = api_only(tmp_path).start()
    try:
        credential_path = tmp_path / "credential.json"
        credential_path.write_text(json.dumps(create_pop(srv, "sin-1")))
        not_a_directory = tmp_path / "file"
        not_a_directory.write_text("x")
        read_only = tmp_path / "read-only"
        read_only.mkdir()
        read_only.chmod(0o500)
        cases = [str(not_a_directory), str(not_a_directory / "state")]
        if os.geteuid() != 0:   # root writes anywhere
            cases.append(str(read_only))
        for state_dir in cases:
            res = subprocess.run([os.environ["SLIPSTREAM_BIN"], "pop", "--control-plane", srv.endpoint,
                                  "--credential-file", str(credential_path), "--state-dir", state_dir],
                                 stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
            assert res.returncode != 0 and b"state directory" in res.stderr, (state_dir, res.returncode, res.stderr[-2000:])
    finally:
        srv.stop()


def test_a_new_pop_moves_past_a_control_plane_url_that_never_answers(tmp_path):
    srv = api_only(tmp_path).start()
    # Accepts connections (the kernel's backlog) and never answers them.
    hung = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    hung.bind(("127.0.0.1", 0))
    hung.listen(16)
    pop = PoPProcess(tmp_path / "pop", create_pop(srv, "sin-1"), ["http://127.0.0.1:%d" % hung.getsockname()[1], srv.endpoint])
    try:
        acct = Account(srv, srv.credentials())
        create_accelerator(acct.client)   # a configuration revision past 0 for the PoP to apply
        started = time.monotonic()
        pop.start()
        # The first call to the hung URL gives up after 10 s (a PoP with nothing to serve does not long-poll); the
        # long poll's 30 s are not added to it. Reports alone could reach the good URL meanwhile: wait for the apply.
        wait_for(lambda: pop_entry(acct, "sin-1").get("applied_revision") or 0, lambda revision: revision > 0,
                 timeout=45, desc="the PoP applied a snapshot")
        assert time.monotonic() - started < 20, pop.log_tail()
    finally:
        pop.stop()
        hung.close()
        srv.stop()


def saved_snapshot(state_dir):
    """The snapshot a PoP saved in `state_dir`, or None while there is none (or it is being replaced)."""
    try:
        with open(os.path.join(str(state_dir), "snapshot.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def apply_delta(snapshot, delta):
    """A `ConfigDelta` applied to the snapshot it starts from, as a PoP does."""
    assert snapshot["revision"] == delta["baseRevision"]
    result = dict(snapshot, revision=delta["revision"])
    for kind in ["accelerators", "listeners", "endpointGroups", "endpoints", "healthChecks"]:
        entries = {entry["id"]: entry for entry in snapshot[kind]}
        for removed in delta[kind]["removed"]:
            del entries[removed]
        entries.update({entry["id"]: entry for entry in delta[kind]["upserted"]})
        result[kind] = [entries[key] for key in sorted(entries)]
    for kind in ["accessControls", "logSinks"]:
        if delta.get(kind) is not None:
            result[kind] = delta[kind]
    return result


def test_snapshot_deltas_carry_only_what_changed_and_a_pop_following_them_saves_the_same_snapshot(tmp_path):
    srv = api_only(tmp_path).start()
    backend_ip, port = fresh_endpoint_ip(), free_port()
    backend = EchoBackend(backend_ip, port)
    credential = create_pop(srv, "sin-1")
    pop = PoPProcess(tmp_path / "pop", credential, [srv.endpoint])
    url = srv.endpoint + "/pop/v1/snapshot"
    headers = pop_headers(credential)
    try:
        acct = Account(srv, srv.credentials())
        spare = [create_accelerator(acct.client) for _ in range(3)]
        r = requests.get(url, headers=headers, timeout=10)
        base, revision = r.json(), int(r.headers["Slipstream-Revision"])
        generation = r.headers["Slipstream-Generation"]
        accelerator = create_accelerator(acct.client)
        r = requests.get(url, params={"revision": revision, "wait": 5, "delta": 1, "generation": generation},
                         headers=headers, timeout=20)
        assert r.status_code == 200 and r.headers["Slipstream-Base-Revision"] == str(revision), (r.status_code, r.headers)
        delta = r.json()
        assert delta["formatVersion"] == 1 and delta["baseRevision"] == revision
        assert delta["revision"] == int(r.headers["Slipstream-Revision"]) > revision
        assert [a["id"] for a in delta["accelerators"]["upserted"]] == [accelerator.id], delta
        assert delta["accelerators"]["removed"] == [] and delta["listeners"] == {"upserted": [], "removed": []}
        full = requests.get(url, headers=headers, timeout=10).json()
        assert full["revision"] == delta["revision"] and apply_delta(base, delta) == full
        # The same delta, compressed.
        r = requests.get(url, params={"revision": revision, "delta": 1, "generation": generation}, stream=True,
                         timeout=10, headers=dict(headers, **{"Accept-Encoding": "gzip"}))
        assert r.headers["Content-Encoding"] == "gzip" and r.headers["Vary"] == "Accept-Encoding"
        assert json.loads(gzip.decompress(r.raw.read())) == delta
        # A revision the server kept no snapshot of, a delta format it does not make, a snapshot from another
        # process (its revision numbers may name other content) or none named: the whole snapshot.
        for params in [{"revision": 1, "delta": 1, "generation": generation},
                       {"revision": revision, "delta": 2, "generation": generation},
                       {"revision": revision, "delta": 1, "generation": "another-process"},
                       {"revision": revision, "delta": 1}]:
            r = requests.get(url, params=params, headers=headers, timeout=10)
            assert r.status_code == 200 and "Slipstream-Base-Revision" not in r.headers, (params, r.headers)
            assert r.json() == full, params
        # A poll naming another process waits on the revision like any other (a PoP behind a balancer that
        # alternates replicas long-polls; it just gets whole snapshots).
        started = time.monotonic()
        r = requests.get(url, params={"revision": full["revision"], "wait": 1, "generation": "another-process"},
                         headers=headers, timeout=20)
        assert r.status_code == 304 and time.monotonic() - started >= 0.9, r.status_code
        r = requests.get(url, params={"revision": revision, "delta": "abc"}, headers=headers, timeout=10)
        assert r.status_code == 400 and r.json()["error_code"] == "GA.9001", r.text

        # A PoP follows by deltas: a new listener forwards, a removed accelerator goes, and the snapshot it saved is
        # the control plane's.
        pop.start()
        wait_for(lambda: pop_entry(acct, "sin-1").get("applied_revision"), lambda got: got == full["revision"],
                 timeout=20, desc="the PoP at the newest revision")
        forward(acct.client, accelerator, port, backend_ip)
        eventually_echo(accelerator.ip_sets[0].ip_address, port, backend_ip)
        r = acct.raw("DELETE", "/v1/accelerators/" + spare[0].id)
        assert r.status_code == 204, r.text
        wait_for(lambda: acct.raw("GET", "/v1/accelerators/" + spare[0].id).status_code, lambda code: code == 404,
                 timeout=20, desc="the delete settled")
        newest = requests.get(url, headers=headers, timeout=10).json()
        assert spare[0].id not in [a["id"] for a in newest["accelerators"]]

        wait_for(lambda: saved_snapshot(tmp_path / "pop"),
                 lambda got: got is not None and got["revision"] >= newest["revision"], timeout=20,
                 desc="the newest snapshot saved")
        assert saved_snapshot(tmp_path / "pop") == requests.get(url, headers=headers, timeout=10).json()
        with open(pop.log_path, "rb") as f:
            assert b"delta=true" in f.read(), pop.log_tail()
    finally:
        pop.stop()
        backend.close()
        srv.stop()


def test_a_pop_gets_a_whole_snapshot_after_the_database_is_restored_from_a_backup(tmp_path):
    # After a restore the control plane numbers new revisions again: the PoP's saved revision names other content,
    # so it must not receive a delta from it.
    data_dir = tmp_path / "api"
    srv = Server(data_dir, args=["--no-data-plane"], env={"SLIPSTREAM_POP_STALE_SECONDS": str(STALE)}, sqlite=True).start()
    credential = create_pop(srv, "sin-1")
    pop = PoPProcess(tmp_path / "pop", credential, [srv.endpoint])
    url = srv.endpoint + "/pop/v1/snapshot"
    headers = pop_headers(credential)
    try:
        acct = Account(srv, srv.credentials())
        create_accelerator(acct.client)
        srv.stop()
        shutil.copytree(data_dir, tmp_path / "backup")
        srv.start(port=srv.port)
        pop.start()
        lost = create_accelerator(acct.client)
        revision = requests.get(url, headers=headers, timeout=10).json()["revision"]
        wait_for(lambda: pop_entry(acct, "sin-1").get("applied_revision"), lambda got: got == revision, timeout=20,
                 desc="the PoP at the revision the backup lacks")
        pop.stop()   # saved: the snapshot of `revision`, with `lost`
        srv.stop()
        shutil.rmtree(data_dir)
        shutil.copytree(tmp_path / "backup", data_dir)
        srv.start(port=srv.port)
        acct = Account(srv, srv.credentials())
        other = create_accelerator(acct.client)   # the same revision number again, other content
        assert requests.get(url, headers=headers, timeout=10).json()["revision"] == revision
        newest = create_accelerator(acct.client)
        pop.start()
        expected = requests.get(url, headers=headers, timeout=10).json()
        assert {a["id"] for a in expected["accelerators"]} >= {other.id, newest.id}
        wait_for(lambda: pop_entry(acct, "sin-1").get("applied_revision"), lambda got: got == expected["revision"],
                 timeout=20, desc="the PoP caught up")
        saved = wait_for(lambda: saved_snapshot(tmp_path / "pop"),
                         lambda got: got is not None and got["revision"] == expected["revision"], timeout=20,
                         desc="the caught-up snapshot saved")
        assert saved == expected and lost.id not in [a["id"] for a in saved["accelerators"]]
    finally:
        pop.stop()
        srv.stop()


class AlternatingProxy(http.server.ThreadingHTTPServer):
    """A balancer in front of control-plane replicas: each request goes to the next backend in turn. With
    `strip_generation` it also drops `Slipstream-Generation`, as a replica from before generations sends none."""

    daemon_threads = True

    def __init__(self, backends, strip_generation=False):
        self.backends = list(backends)
        self.strip_generation = strip_generation
        self.turn = itertools.count()
        self.snapshot_gets = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def relay(self):
                backend = proxy.backends[next(proxy.turn) % len(proxy.backends)]
                if self.path.startswith("/pop/v1/snapshot"):
                    proxy.snapshot_gets += 1
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                try:
                    r = requests.request(self.command, backend + self.path, data=body, headers=headers, stream=True,
                                         timeout=40)
                    payload = r.raw.read()
                except requests.RequestException:
                    self.send_error(502)
                    return
                self.send_response(r.status_code)
                for key, value in r.headers.items():
                    if key.lower() in ("content-length", "transfer-encoding", "connection", "date", "server"):
                        continue
                    if proxy.strip_generation and key.lower() == "slipstream-generation":
                        continue
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = relay
            do_POST = relay

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.server_address[1]


@pytest.mark.parametrize("shape", ["two replicas behind a balancer", "a replica that names no generation"])
def test_a_pop_long_polls_whatever_stands_in_front_of_the_control_plane(tmp_path, shape):
    # Without the generation of the process that answers, the PoP gets whole snapshots when the revision moves,
    # and waits like any PoP while it does not: never a loop of immediate answers.
    data_dir = tmp_path / "shared"
    first = Server(data_dir, args=["--no-data-plane"], sqlite=True).start()
    second = Server(data_dir, args=["--no-data-plane"], sqlite=True).start() if "balancer" in shape else None
    backends = [first.endpoint] + ([second.endpoint] if second else [])
    proxy = AlternatingProxy(backends, strip_generation=second is None)
    pop = PoPProcess(tmp_path / "pop", create_pop(first, "sin-1"), [proxy.endpoint])
    try:
        acct = Account(first, first.credentials())
        create_accelerator(acct.client)
        pop.start()
        wait_for(lambda: pop_entry(acct, "sin-1").get("applied_revision") or 0, lambda got: got > 0, timeout=20,
                 desc="the PoP applied the configuration")
        settled = proxy.snapshot_gets
        time.sleep(3)   # nothing changes: the PoP waits on its long poll
        assert proxy.snapshot_gets - settled <= 2, (proxy.snapshot_gets - settled, pop.log_tail())
        accelerator = create_accelerator(acct.client)
        wait_for(lambda: requests.get(first.endpoint + "/pop/v1/snapshot", timeout=10,
                                      headers=pop_headers(json.load(open(pop.credential_path)))).json()["revision"],
                 lambda revision: pop_entry(acct, "sin-1").get("applied_revision") == revision, timeout=20,
                 desc="the PoP applied the new accelerator")
        with open(pop.log_path, "rb") as f:
            applied = [line for line in f.read().splitlines() if b" applied" in line]
        assert 2 <= len(applied) <= 4, applied
    finally:
        pop.stop()
        proxy.shutdown()
        proxy.server_close()
        for server in (first, second):
            if server:
                server.stop()


def test_a_remote_pop_forwards_and_keeps_serving_without_the_control_plane(tmp_path):
    srv = api_only(tmp_path).start()
    backend_ip = fresh_endpoint_ip()
    port_a, port_b = free_port(), free_port()
    backends = [EchoBackend(backend_ip, port_a), EchoBackend(backend_ip, port_b)]
    dead = "http://127.0.0.1:%d" % free_port()   # a control-plane URL nothing answers: the PoP moves past it
    pop = PoPProcess(tmp_path / "pop-sin-1", create_pop(srv, "sin-1"), [dead, srv.endpoint])
    try:
        acct = Account(srv, srv.credentials())
        pop.start()
        wait_for(lambda: pop_entry(acct, "sin-1")["status"], lambda s: s == "ACTIVE", timeout=20, desc="PoP live")
        accelerator = create_accelerator(acct.client)
        address = accelerator.ip_sets[0].ip_address
        listener = forward(acct.client, accelerator, port_a, backend_ip)   # ACTIVE: the live PoP applied it
        assert echo(address, port_a) == backend_ip.encode() + b":ping"
        entry = pop_entry(acct, "sin-1")
        assert entry["status"] == "ACTIVE" and entry["errors"] == [], entry

        # Every control plane down (promptly, though the PoP's long poll was waiting on it): the PoP keeps
        # forwarding, and serves its saved snapshot after a restart.
        stopping = time.monotonic()
        srv.stop()
        assert time.monotonic() - stopping < 5, "the server's shutdown waited for a PoP's long poll"
        assert echo(address, port_a) == backend_ip.encode() + b":ping"
        pop.stop()
        with pytest.raises(OSError):
            echo(address, port_a, timeout=1)
        pop.start()
        eventually_echo(address, port_a, backend_ip, desc="the restarted PoP serving its saved snapshot")
        assert "serving the saved snapshot" in pop.log_tail(20000)

        # The control plane returns: the PoP catches up (its heartbeats make it live again), a new listener
        # reaches it, and a flow open all along keeps going.
        held = socket.create_connection((address, port_a), timeout=5)
        held.sendall(b"before")
        assert held.recv(100) == backend_ip.encode() + b":before"
        srv.start(port=srv.port)
        wait_for(lambda: pop_entry(acct, "sin-1")["status"], lambda s: s == "ACTIVE", timeout=20, desc="PoP live again")
        forward(acct.client, accelerator, port_b, backend_ip)
        assert echo(address, port_b) == backend_ip.encode() + b":ping"
        assert echo(address, port_a) == backend_ip.encode() + b":ping"
        held.sendall(b"after")
        assert held.recv(100) == backend_ip.encode() + b":after"
        held.close()
        wait_active(acct.client, "listener", listener.id)

        # A PoP that stops reporting goes stale and holds nothing back.
        pop.kill9()
        wait_for(lambda: pop_entry(acct, "sin-1")["status"], lambda s: s == "ERROR", timeout=STALE + 10, desc="stale PoP")
        third = free_port(avoid=(port_a, port_b))
        create_listener(acct.client, accelerator.id, ports=((third, third),))   # waits for ACTIVE
    finally:
        pop.stop()
        srv.stop()
        for backend in backends:
            backend.close()


def test_an_apply_error_on_a_pop_makes_the_listener_error_and_names_the_pop(tmp_path):
    srv = api_only(tmp_path).start()
    pop = PoPProcess(tmp_path / "pop-sin-1", create_pop(srv, "sin-1"), [srv.endpoint])
    holder = None
    try:
        acct = Account(srv, srv.credentials())
        pop.start()
        wait_for(lambda: pop_entry(acct, "sin-1")["status"], lambda s: s == "ACTIVE", timeout=20, desc="PoP live")
        accelerator = create_accelerator(acct.client)
        address = accelerator.ip_sets[0].ip_address
        port = free_port()
        holder = socket.socket()
        holder.bind((address, port))
        holder.listen(1)
        listener = create_listener(acct.client, accelerator.id, ports=((port, port),), wait=False)
        wait_for(lambda: acct.client.show_listener(ShowListenerRequest(listener_id=listener.id)).listener.status,
                 lambda s: s == "ERROR", timeout=15, desc="listener ERROR")
        entry = pop_entry(acct, "sin-1")
        assert [e["id"] for e in entry["errors"]] == [listener.id], entry
        # Another account sees the PoP but not the error about someone else's listener.
        other = Account(srv, srv.create_account())
        assert pop_entry(other, "sin-1")["errors"] == []
        holder.close()
        holder = None
        wait_for(lambda: acct.client.show_listener(ShowListenerRequest(listener_id=listener.id)).listener.status,
                 lambda s: s == "ACTIVE", timeout=40, desc="listener ACTIVE once the port is free")   # retried with back-off
        assert pop_entry(acct, "sin-1")["errors"] == []
    finally:
        if holder:
            holder.close()
        pop.stop()
        srv.stop()


class FakeControlPlane(http.server.ThreadingHTTPServer):
    """Serves one snapshot of a format no PoP reads, and keeps the reports it is sent."""

    def __init__(self):
        self.reports = []
        self.authorizations = set()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                fake.authorizations.add(self.headers.get("Authorization"))
                if "revision=" in self.path:   # it has refused revision 5 already: nothing newer
                    time.sleep(0.5)
                    self.send_response(304)
                    self.end_headers()
                    return
                body = json.dumps({"formatVersion": 99, "revision": 5, "everything": "different"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                fake.reports.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

        super().__init__(("127.0.0.1", 0), Handler)


def test_a_pop_refuses_a_snapshot_format_it_does_not_read_and_says_so(tmp_path):
    fake = FakeControlPlane()
    thread = threading.Thread(target=fake.serve_forever, daemon=True)
    thread.start()
    credential = {"pop_id": "sin-1", "region_id": OUTOFCM_REGION, "token": "slp-pop.sin-1." + "ab" * 32}
    pop = PoPProcess(tmp_path / "pop", credential, ["http://127.0.0.1:%d" % fake.server_address[1]])
    try:
        pop.start()
        report = wait_for(lambda: next((r for r in fake.reports if r.get("refusal")), None), lambda r: r is not None,
                          timeout=15, desc="a report with the refusal")
        assert "format 99" in report["refusal"] and report["appliedRevision"] == 0, report
        assert report["popID"] == "sin-1" and report["formatVersion"] == 1
        assert fake.authorizations == {"Bearer " + credential["token"]}
        assert pop.alive()
    finally:
        pop.stop()
        fake.shutdown()
        fake.server_close()


@pytest.mark.skipif(not POSTGRES_ADMIN_URL, reason="two API replicas need a shared PostgreSQL database "
                                                   "(SLIPSTREAM_TEST_DATABASE_URL)")
def test_a_pop_follows_whichever_replica_answers(tmp_path):
    data_dir = tmp_path / "shared"   # one data directory name: one database and master key for both replicas
    first = Server(data_dir, args=["--no-data-plane"], env={"SLIPSTREAM_POP_STALE_SECONDS": str(STALE)}).start()
    second = Server(data_dir, args=["--no-data-plane"], env={"SLIPSTREAM_POP_STALE_SECONDS": str(STALE)}).start()
    backend_ip = fresh_endpoint_ip()
    port_a, port_b = free_port(), free_port()
    backends = [EchoBackend(backend_ip, port_a), EchoBackend(backend_ip, port_b)]
    pop = PoPProcess(tmp_path / "pop", create_pop(first, "sin-1"), [first.endpoint, second.endpoint])
    try:
        creds = first.credentials()
        on_first, on_second = Account(first, creds), Account(second, creds)
        pop.start()
        wait_for(lambda: pop_entry(on_second, "sin-1")["status"], lambda s: s == "ACTIVE", timeout=20, desc="PoP live")
        accelerator = create_accelerator(on_first.client)
        address = accelerator.ip_sets[0].ip_address
        forward(on_first.client, accelerator, port_a, backend_ip)
        assert echo(address, port_a) == backend_ip.encode() + b":ping"
        first.kill9()
        # Written through the other replica, which the PoP now polls; ACTIVE once the PoP applied it.
        forward(on_second.client, accelerator, port_b, backend_ip)
        assert echo(address, port_b) == backend_ip.encode() + b":ping"
    finally:
        pop.stop()
        first.stop()
        second.stop()
        for backend in backends:
            backend.close()
