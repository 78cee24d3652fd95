"""Shared machinery for the Slipstream GA conformance suite.

The suite drives a real `slipstream serve` process (path in $SLIPSTREAM_BIN) with the official Huawei Cloud
Python SDK (huaweicloudsdkga + huaweicloudsdkcore) and, for the IAM token flow and raw wire checks, plain
`requests`. Every server listens on 127.0.0.1 only; every wait loop is bounded in count and time.

Test modules import the helpers below with `from conftest import ...`.
"""
import base64
import ipaddress
import itertools
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid

import pytest
import requests

from huaweicloudsdkcore.auth.credentials import BasicCredentials, GlobalCredentials
from huaweicloudsdkcore.client import ClientBuilder
from huaweicloudsdkcore.exceptions.exceptions import (ClientRequestException, ServerResponseException,
                                                      ServiceResponseException)
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkga.v1 import (  # noqa: F401 -- many are re-exported to the test modules
    GaClient,
    CreateAcceleratorOption, CreateAcceleratorOptionIpSets, CreateAcceleratorRequest,
    CreateAcceleratorRequestBody, DeleteAcceleratorRequest, ListAcceleratorsRequest, ShowAcceleratorRequest,
    ShowIpGroupRequest,
    UpdateAcceleratorOption, UpdateAcceleratorRequest, UpdateAcceleratorRequestBody,
    CreateListenerOption, CreateListenerRequest, CreateListenerRequestBody, DeleteListenerRequest,
    ListListenersRequest, ShowListenerRequest, UpdateListenerOption, UpdateListenerRequest,
    UpdateListenerRequestBody, PortRange,
    CreateEndpointGroupOption, CreateEndpointGroupRequest, CreateEndpointGroupRequestBody,
    DeleteEndpointGroupRequest, ListEndpointGroupsRequest, ShowEndpointGroupRequest,
    UpdateEndpointGroupOption, UpdateEndpointGroupRequest, UpdateEndpointGroupRequestBody, Id,
    CreateEndpointOption, CreateEndpointRequest, CreateEndpointRequestBody, DeleteEndpointRequest,
    ListEndpointsRequest, ShowEndpointRequest, UpdateEndpointOption, UpdateEndpointRequest,
    UpdateEndpointRequestBody,
    CreateHealthCheckOption, CreateHealthCheckRequest, CreateHealthCheckRequestBody, DeleteHealthCheckRequest,
    ListHealthChecksRequest, ShowHealthCheckRequest, UpdateHealthCheckOption, UpdateHealthCheckRequest,
    UpdateHealthCheckRequestBody,
    ListRegionsRequest, ResourceTag,
)

# --------------------------------------------------------------------------------------------------------------
# Constants from the server contract
# --------------------------------------------------------------------------------------------------------------

DEFAULT_REGIONS = {
    "ap-southeast-1": "OUTOFCM",
    "ap-southeast-3": "OUTOFCM",
    "cn-east-3": "CM",
    "cn-north-4": "CM",
}
OUTOFCM_REGION = "ap-southeast-1"
OUTOFCM_REGION_2 = "ap-southeast-3"
DEFAULT_OUTOFCM_POOL = ipaddress.ip_network("127.10.0.0/16")
DEFAULT_CM_POOL = ipaddress.ip_network("127.20.0.0/16")
CRED_KEYS = ("domain_id", "domain_name", "user_name", "password", "access_key", "secret_key")
STATUSES = {"ACTIVE", "PENDING", "ERROR", "DELETING"}
READY_TIMEOUT = 60.0      # server start: /healthz must answer 200 within this
ACTIVE_TIMEOUT = 10.0     # PENDING -> ACTIVE
GONE_TIMEOUT = 15.0       # DELETING -> 404


def _server_bin():
    return os.environ.get("SLIPSTREAM_BIN", "")


# --------------------------------------------------------------------------------------------------------------
# Small utilities
# --------------------------------------------------------------------------------------------------------------

def uniq(prefix="t"):
    """A fresh name that satisfies the GA name rule (letters, digits, '-')."""
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


_ip_counter = itertools.count(1)
_ip_lock = threading.Lock()


def fresh_endpoint_ip():
    """A unique loopback address for endpoint ip_address (the server might probe it: keep it on 127/8)."""
    with _ip_lock:
        n = next(_ip_counter)
    return "127.77.%d.%d" % ((n // 250) % 250, n % 250 + 1)


def free_port(avoid=range(0)):
    """A port the kernel picks as free on 127.0.0.1, outside `avoid` (ports a test's listener already holds)."""
    for _ in range(100):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        if port not in avoid:
            return port
    raise RuntimeError("no free port outside %s" % (avoid,))


def wait_for(fetch, pred, timeout=ACTIVE_TIMEOUT, interval=0.1, desc="condition"):
    """Call fetch() until pred(result) is true; bounded by timeout (and so by count)."""
    deadline = time.monotonic() + timeout
    last = None
    for _ in range(int(timeout / interval) + 50):
        last = fetch()
        if pred(last):
            return last
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s; last value: %r" % (timeout, desc, last))


def expect_error(fn, status, codes, msg_contains=None):
    """Run fn(), which must raise an SDK service exception with this HTTP status and error_code."""
    if isinstance(codes, str):
        codes = (codes,)
    try:
        result = fn()
    except ServiceResponseException as e:
        detail = "status=%s code=%s msg=%r request_id=%s" % (e.status_code, e.error_code, e.error_msg,
                                                               e.request_id)
        assert e.status_code == status, "expected HTTP %s %s, got %s" % (status, codes, detail)
        assert e.error_code in codes, "expected error_code in %s, got %s" % (codes, detail)
        if status >= 500:
            assert isinstance(e, ServerResponseException), detail
        else:
            assert isinstance(e, ClientRequestException), detail
        assert e.request_id, "error response without X-Request-Id header: %s" % detail
        if msg_contains is not None:
            assert msg_contains.lower() in (e.error_msg or "").lower(), \
                "error_msg should name %r: %s" % (msg_contains, detail)
        return e
    raise AssertionError("expected HTTP %s %s, but the call succeeded: %r" % (status, codes, result))


def in_network(ip, net):
    return ipaddress.ip_address(ip) in ipaddress.ip_network(net)


# --------------------------------------------------------------------------------------------------------------
# Server process
# --------------------------------------------------------------------------------------------------------------

_STARTED_LOGS = []

# With SLIPSTREAM_TEST_DATABASE_URL (a PostgreSQL server the suite may create and drop databases on), every server
# runs on PostgreSQL: each data directory gets its own database and master key, kept across restarts of that
# directory and dropped when the session ends. scripts/test.sh runs the suite once without it (SQLite) and, when it
# is set, once more with it.
POSTGRES_ADMIN_URL = os.environ.get("SLIPSTREAM_TEST_DATABASE_URL") or None
_POSTGRES_DATABASES = {}   # data dir -> (database URL, master key)


_POSTGRES_DATABASES_LOCK = threading.Lock()


def _postgres_for(data_dir):
    """The database URL and master key of a data directory on PostgreSQL, creating the database on first use (once,
    also when servers of one data directory start from several threads)."""
    with _POSTGRES_DATABASES_LOCK:
        return _postgres_for_locked(data_dir)


def _postgres_for_locked(data_dir):
    if data_dir not in _POSTGRES_DATABASES:
        name = "slipstream_conformance_" + uuid.uuid4().hex
        subprocess.run(["psql", POSTGRES_ADMIN_URL, "-qc", "CREATE DATABASE %s" % name], check=True,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        parts = urllib.parse.urlsplit(POSTGRES_ADMIN_URL)
        url = urllib.parse.urlunsplit(parts._replace(path="/" + name))
        key = base64.b64encode(os.urandom(32)).decode("ascii")
        _POSTGRES_DATABASES[data_dir] = (url, key)
    return _POSTGRES_DATABASES[data_dir]


def pytest_sessionfinish(session, exitstatus):
    for url, _ in _POSTGRES_DATABASES.values():
        name = urllib.parse.urlsplit(url).path.lstrip("/")
        subprocess.run(["psql", POSTGRES_ADMIN_URL, "-qc", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % name],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)


class Server:
    """One `slipstream serve` process on 127.0.0.1 with its own data dir."""

    def __init__(self, data_dir, env=None, use_env_config=False, preexec_fn=None, args=(), netns=None,
                 host="127.0.0.1", sqlite=False):
        self.data_dir = str(data_dir)
        self.netns = netns                    # run inside this network namespace (`ip netns exec`)
        self.host = host
        self.sqlite = sqlite                  # SQLite even when the suite runs on PostgreSQL
        self.args = list(args)                # extra `serve` arguments
        self.preexec_fn = preexec_fn          # run in the child before exec, e.g. to set resource limits
        self.extra_env = dict(env or {})
        self.use_env_config = use_env_config
        self.proc = None
        self.port = None
        self.log_path = None
        self._log_file = None
        self._starts = 0

    # -- lifecycle ----------------------------------------------------------------------------------------
    @property
    def endpoint(self):
        return "http://%s:%d" % (self.host, self.port)

    def _env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPSTREAM_")}
        if POSTGRES_ADMIN_URL and not self.sqlite:
            url, key = _postgres_for(self.data_dir)
            env.update({"SLIPSTREAM_DATABASE_URL": url, "SLIPSTREAM_MASTER_KEY": key})
        env.update(self.extra_env)
        return env

    def start(self, port=None):
        binary = _server_bin()
        if not binary:
            pytest.fail("SLIPSTREAM_BIN is not set (scripts/conformance.sh sets it)", pytrace=False)
        if not os.access(binary, os.X_OK):
            pytest.fail("SLIPSTREAM_BIN=%s is not an executable file" % binary, pytrace=False)
        attempts = 1 if port else 2           # a fresh random port may race with another process: retry once
        for attempt in range(attempts):
            self.port = port or free_port()
            self._starts += 1
            self.log_path = "%s.server-%d.log" % (self.data_dir.rstrip("/"), self._starts)
            self._log_file = open(self.log_path, "ab")
            _STARTED_LOGS.append(self.log_path)
            env = self._env()
            cmd = ([] if self.netns is None else ["ip", "netns", "exec", self.netns]) + [binary, "serve"]
            if self.use_env_config:
                env.update({"SLIPSTREAM_HOST": self.host, "SLIPSTREAM_PORT": str(self.port),
                            "SLIPSTREAM_DATA_DIR": self.data_dir})
            else:
                cmd += ["--host", self.host, "--port", str(self.port), "--data-dir", self.data_dir]
            cmd += self.args
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log_file, preexec_fn=self.preexec_fn,
                                         stderr=subprocess.STDOUT, env=env, start_new_session=True)
            if self._wait_ready():
                return self
            died = self.proc.poll() is not None
            self._terminate()
            if not died or attempt == attempts - 1:
                pytest.fail("slipstream serve did not become ready on port %d within %ss (exit code %s).\n"
                            "---- server log ----\n%s" % (self.port, READY_TIMEOUT, self.proc.returncode,
                                                          self.log_tail()), pytrace=False)
        return self

    def _wait_ready(self):
        """Whether /healthz answers 200 within READY_TIMEOUT; False at once if the process exits."""
        def probe():
            if self.proc.poll() is not None:
                return "exited"
            try:
                return "ready" if requests.get(self.endpoint + "/healthz", timeout=2).status_code == 200 else None
            except requests.RequestException:
                return None

        try:
            return wait_for(probe, lambda state: state is not None, timeout=READY_TIMEOUT, interval=0.2,
                            desc="/healthz") == "ready"
        except AssertionError:
            return False

    def _terminate(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log_file:
            self._log_file.close()
            self._log_file = None

    def stop(self):
        self._terminate()

    def kill9(self):
        """SIGKILL the server process (no chance to flush or shut down)."""
        assert self.proc is not None and self.proc.poll() is None, "server is not running"
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        if self._log_file:
            self._log_file.close()
            self._log_file = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=6000):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
            return data[-n:].decode("utf-8", "replace")
        except OSError:
            return "(no log)"

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # -- accounts -------------------------------------------------------------------------------------
    def credentials(self):
        path = os.path.join(self.data_dir, "credentials.json")

        def load():
            try:
                with open(path) as f:
                    return json.load(f)
            except (OSError, ValueError):   # not written yet, or being written right now
                return None

        return wait_for(load, lambda creds: creds is not None, timeout=10, desc=path)

    def create_account_raw(self, name):
        binary = _server_bin()
        return subprocess.run([binary, "admin", "create-account", "--data-dir", self.data_dir, "--name", name],
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=60, env=self._env())

    def create_account(self, name=None):
        name = name or uniq("acct")
        res = self.create_account_raw(name)
        assert res.returncode == 0, "admin create-account failed (%s): stdout=%r stderr=%r" % (
            res.returncode, res.stdout[-2000:], res.stderr[-2000:])
        out = res.stdout.decode("utf-8").strip()
        try:
            creds = json.loads(out)
        except ValueError:
            raise AssertionError("admin create-account must print exactly one JSON object, got: %r" % out)
        assert isinstance(creds, dict), out
        missing = [k for k in CRED_KEYS if not creds.get(k)]
        assert not missing, "admin create-account output lacks %s: %r" % (missing, creds)
        return creds


def create_pop_raw(server, pop_id, region):
    """`slipstream admin create-pop` on `server`'s data directory (or database)."""
    return subprocess.run([_server_bin(), "admin", "create-pop", "--data-dir", server.data_dir, "--pop-id", pop_id,
                           "--region", region], stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
                          env=server._env())


def create_pop(server, pop_id, region=OUTOFCM_REGION):
    """A remote PoP's credential, as the one JSON object `admin create-pop` prints."""
    res = create_pop_raw(server, pop_id, region)
    assert res.returncode == 0, "admin create-pop failed: %r %r" % (res.stdout[-2000:], res.stderr[-2000:])
    credential = json.loads(res.stdout.decode("utf-8").strip())
    assert set(credential) == {"pop_id", "region_id", "token"}, credential
    return credential


class PoPProcess:
    """One `slipstream pop` process: a remote PoP with its own state directory, optionally inside a network
    namespace (`ip netns exec`)."""

    def __init__(self, state_dir, credential, control_planes, netns=None, heartbeat=1, env=None):
        self.state_dir = str(state_dir)
        os.makedirs(self.state_dir, exist_ok=True)
        self.credential_path = os.path.join(self.state_dir, "credential.json")
        with open(self.credential_path, "w") as f:
            json.dump(credential, f)
        self.pop_id = credential["pop_id"]
        self.control_planes = list(control_planes)
        self.netns = netns
        self.heartbeat = heartbeat
        self.extra_env = dict(env or {})
        self.proc = None
        self.log_path = None
        self._starts = 0

    def start(self):
        self._starts += 1
        self.log_path = "%s.pop-%d.log" % (self.state_dir.rstrip("/"), self._starts)
        _STARTED_LOGS.append(self.log_path)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPSTREAM_")}
        env.update(self.extra_env)
        cmd = ([] if self.netns is None else ["ip", "netns", "exec", self.netns]) + [
            _server_bin(), "pop", "--control-plane", ",".join(self.control_planes),
            "--credential-file", self.credential_path, "--state-dir", self.state_dir,
            "--heartbeat-seconds", str(self.heartbeat)]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=4000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return "(no log)"


def pop_entry(acct, pop_id):
    """The entry of `pop_id` in `GET /v1/pops` as `acct` sees it, or None."""
    r = acct.raw("GET", "/v1/pops")
    assert r.status_code == 200, r.text
    return next((p for p in r.json()["pops"] if p["id"] == pop_id), None)


def make_client(endpoint, creds=None, ak=None, sk=None, domain_id="__from_creds__", basic=False):
    """An SDK GaClient pointed at a local endpoint (plain http), GlobalCredentials unless basic=True."""
    ak = ak if ak is not None else creds["access_key"]
    sk = sk if sk is not None else creds["secret_key"]
    if domain_id == "__from_creds__":
        domain_id = creds["domain_id"] if creds else None
    config = HttpConfig.get_default_config()
    config.timeout = (5, 30)
    config.retry_times = 0
    if basic:
        builder = GaClient.new_builder().with_credentials(BasicCredentials(ak, sk))
    else:
        builder = ClientBuilder(GaClient, "GlobalCredentials").with_credentials(GlobalCredentials(ak, sk, domain_id))
    return builder.with_http_config(config).with_endpoints([endpoint]).build()


class Account:
    def __init__(self, server, creds):
        self.server = server
        self.creds = creds
        self.client = make_client(server.endpoint, creds)
        self._token = None

    @property
    def domain_id(self):
        return self.creds["domain_id"]

    def token(self):
        if self._token is None:
            self._token = get_token(self.server.endpoint, self.creds)
        return self._token

    def raw(self, method, path, **kw):
        """Plain HTTP request authenticated with this account's IAM token."""
        headers = dict(kw.pop("headers", {}) or {})
        headers.setdefault("X-Auth-Token", self.token())
        headers.setdefault("Content-Type", "application/json")
        kw.setdefault("timeout", 30)
        return requests.request(method, self.server.endpoint + path, headers=headers, **kw)


# --------------------------------------------------------------------------------------------------------------
# IAM token
# --------------------------------------------------------------------------------------------------------------

def token_body(user, password, domain_name):
    return {"auth": {"identity": {"methods": ["password"],
                                  "password": {"user": {"name": user, "password": password,
                                                        "domain": {"name": domain_name}}}},
                     "scope": {"domain": {"name": domain_name}}}}


def request_token(endpoint, creds, password=None):
    body = token_body(creds["user_name"], creds["password"] if password is None else password, creds["domain_name"])
    return requests.post(endpoint + "/v3/auth/tokens", json=body,
                         headers={"Content-Type": "application/json;charset=utf8"}, timeout=30)


def get_token(endpoint, creds):
    r = request_token(endpoint, creds)
    assert r.status_code == 201, "POST /v3/auth/tokens: %s %s" % (r.status_code, r.text[:500])
    tok = r.headers.get("X-Subject-Token")
    assert tok, "no X-Subject-Token header in token response"
    return tok


# --------------------------------------------------------------------------------------------------------------
# SDK resource helpers (show / wait / create)
# --------------------------------------------------------------------------------------------------------------

def show(client, kind, ids):
    """GET one resource; ids is a str or (endpoint_group_id, endpoint_id) for endpoints."""
    if kind == "accelerator":
        return client.show_accelerator(ShowAcceleratorRequest(accelerator_id=ids)).accelerator
    if kind == "listener":
        return client.show_listener(ShowListenerRequest(listener_id=ids)).listener
    if kind == "endpoint_group":
        return client.show_endpoint_group(ShowEndpointGroupRequest(endpoint_group_id=ids)).endpoint_group
    if kind == "endpoint":
        return client.show_endpoint(ShowEndpointRequest(endpoint_group_id=ids[0], endpoint_id=ids[1])).endpoint
    if kind == "health_check":
        return client.show_health_check(ShowHealthCheckRequest(health_check_id=ids)).health_check
    if kind == "ip_group":
        return client.show_ip_group(ShowIpGroupRequest(ip_group_id=ids)).ip_group
    raise ValueError(kind)


def delete(client, kind, ids):
    if kind == "accelerator":
        return client.delete_accelerator(DeleteAcceleratorRequest(accelerator_id=ids))
    if kind == "listener":
        return client.delete_listener(DeleteListenerRequest(listener_id=ids))
    if kind == "endpoint_group":
        return client.delete_endpoint_group(DeleteEndpointGroupRequest(endpoint_group_id=ids))
    if kind == "endpoint":
        return client.delete_endpoint(DeleteEndpointRequest(endpoint_group_id=ids[0], endpoint_id=ids[1]))
    if kind == "health_check":
        return client.delete_health_check(DeleteHealthCheckRequest(health_check_id=ids))
    raise ValueError(kind)


def wait_active(client, kind, ids, timeout=ACTIVE_TIMEOUT):
    seen = []

    def fetch():
        obj = show(client, kind, ids)
        seen.append(obj.status)
        return obj

    obj = wait_for(fetch, lambda o: o.status == "ACTIVE", timeout=timeout, desc="%s %s to become ACTIVE" % (kind, ids))
    bad = [s for s in seen if s not in ("PENDING", "ACTIVE")]
    assert not bad, "%s %s went through unexpected states %s on the way to ACTIVE" % (kind, ids, seen)
    return obj


def wait_gone(client, kind, ids, timeout=GONE_TIMEOUT):
    """After a delete: GET must show DELETING (never ACTIVE or anything else) until it answers 404 GA.9002.
    Returns the states seen before the 404."""
    seen = []

    def fetch():
        try:
            obj = show(client, kind, ids)
        except ClientRequestException as e:
            assert e.status_code == 404 and e.error_code == "GA.9002", \
                "deleted %s %s: expected 404 GA.9002, got %s %s" % (kind, ids, e.status_code, e.error_code)
            return None
        seen.append(obj.status)
        assert obj.status == "DELETING", "deleted %s %s shows status %r (expected DELETING or 404)" % (
            kind, ids, obj.status)
        return obj

    wait_for(fetch, lambda obj: obj is None, timeout=timeout, desc="deleted %s %s to answer 404" % (kind, ids))
    return seen


def delete_and_wait(client, kind, ids):
    resp = delete(client, kind, ids)
    assert resp.status_code == 204, "delete %s: status %s" % (kind, resp.status_code)
    wait_gone(client, kind, ids)
    return resp


def create_accelerator(client, name=None, area="OUTOFCM", ip_type="IPV4", description=None, tags=None,
                       enterprise_project_id="0", wait=True, raw_response=False):
    opt = CreateAcceleratorOption(name=name or uniq("acc"), description=description,
                                  ip_sets=[CreateAcceleratorOptionIpSets(ip_type=ip_type, area=area)],
                                  enterprise_project_id=enterprise_project_id, tags=tags)
    resp = client.create_accelerator(CreateAcceleratorRequest(body=CreateAcceleratorRequestBody(accelerator=opt)))
    assert resp.status_code == 201, resp.status_code
    acc = resp.accelerator
    assert acc is not None and acc.id, "create_accelerator response lacks accelerator.id"
    if wait:
        wait_active(client, "accelerator", acc.id)
    return resp if raw_response else acc


def create_listener(client, accelerator_id, ports=((80, 80),), protocol="TCP", name=None, description=None,
                    client_affinity=None, tags=None, wait=True, raw_response=False):
    opt = CreateListenerOption(name=name or uniq("lis"), description=description, protocol=protocol,
                               port_ranges=[PortRange(from_port=a, to_port=b) for a, b in ports],
                               client_affinity=client_affinity, accelerator_id=accelerator_id, tags=tags)
    resp = client.create_listener(CreateListenerRequest(body=CreateListenerRequestBody(listener=opt)))
    assert resp.status_code == 201, resp.status_code
    lis = resp.listener
    assert lis is not None and lis.id
    if wait:
        wait_active(client, "listener", lis.id)
    return resp if raw_response else lis


def create_endpoint_group(client, listener_id, region_id=OUTOFCM_REGION, name=None, description=None,
                          traffic_dial_percentage=None, listeners=None, wait=True, raw_response=False):
    if listeners is None:
        listeners = [Id(id=listener_id)]
    opt = CreateEndpointGroupOption(name=name or uniq("eg"), description=description,
                                    traffic_dial_percentage=traffic_dial_percentage, region_id=region_id,
                                    listeners=listeners)
    resp = client.create_endpoint_group(
        CreateEndpointGroupRequest(body=CreateEndpointGroupRequestBody(endpoint_group=opt)))
    assert resp.status_code == 201, resp.status_code
    eg = resp.endpoint_group
    assert eg is not None and eg.id
    if wait:
        wait_active(client, "endpoint_group", eg.id)
    return resp if raw_response else eg


def create_endpoint(client, endpoint_group_id, ip_address=None, resource_id=None, resource_type="EIP",
                    weight=None, wait=True, raw_response=False):
    opt = CreateEndpointOption(resource_id=resource_id or str(uuid.uuid4()), resource_type=resource_type,
                               weight=weight, ip_address=ip_address or fresh_endpoint_ip())
    resp = client.create_endpoint(CreateEndpointRequest(endpoint_group_id=endpoint_group_id,
                                                        body=CreateEndpointRequestBody(endpoint=opt)))
    assert resp.status_code == 201, resp.status_code
    ep = resp.endpoint
    assert ep is not None and ep.id
    if wait:
        wait_active(client, "endpoint", (endpoint_group_id, ep.id))
    return resp if raw_response else ep


def create_health_check(client, endpoint_group_id, protocol="TCP", port=None, interval=5, timeout=3,
                        max_retries=3, enabled=True, wait=True, raw_response=False):
    if port is None:
        port = free_port()      # a closed loopback port: probing it (if the server probes) stays local
    opt = CreateHealthCheckOption(endpoint_group_id=endpoint_group_id, protocol=protocol, port=port,
                                  interval=interval, timeout=timeout, max_retries=max_retries, enabled=enabled)
    resp = client.create_health_check(
        CreateHealthCheckRequest(body=CreateHealthCheckRequestBody(health_check=opt)))
    assert resp.status_code == 201, resp.status_code
    hc = resp.health_check
    assert hc is not None and hc.id
    if wait:
        wait_active(client, "health_check", hc.id)
    return resp if raw_response else hc


def make_stack(client, ports=((80, 80),), region_id=OUTOFCM_REGION, area="OUTOFCM"):
    """accelerator -> listener -> endpoint group, all ACTIVE."""
    acc = create_accelerator(client, area=area)
    lis = create_listener(client, acc.id, ports=ports)
    eg = create_endpoint_group(client, lis.id, region_id=region_id)
    return acc, lis, eg


# --------------------------------------------------------------------------------------------------------------
# Pagination helpers
# --------------------------------------------------------------------------------------------------------------

def list_page(client, kind, **kw):
    """One page: returns (items, page_info, response)."""
    if kind == "accelerator":
        r = client.list_accelerators(ListAcceleratorsRequest(**kw))
        return r.accelerators, r.page_info, r
    if kind == "listener":
        r = client.list_listeners(ListListenersRequest(**kw))
        return r.listeners, r.page_info, r
    if kind == "endpoint_group":
        r = client.list_endpoint_groups(ListEndpointGroupsRequest(**kw))
        return r.endpoint_groups, r.page_info, r
    if kind == "endpoint":
        r = client.list_endpoints(ListEndpointsRequest(**kw))
        return r.endpoints, r.page_info, r
    if kind == "health_check":
        r = client.list_health_checks(ListHealthChecksRequest(**kw))
        return r.health_checks, r.page_info, r
    raise ValueError(kind)


def terraform_pager(client, kind, limit=None, max_pages=200, **filters):
    """Terraform-style walk: marker = id of the last item of the previous page; stop at an empty page."""
    ids, marker = [], None
    for _ in range(max_pages):
        kw = dict(filters)
        if limit is not None:
            kw["limit"] = limit
        if marker is not None:
            kw["marker"] = marker
        items, page_info, _ = list_page(client, kind, **kw)
        items = items or []
        if limit is not None:
            assert len(items) <= limit, "page has %d items, limit %d" % (len(items), limit)
        if page_info is not None and page_info.current_count is not None:
            assert page_info.current_count == len(items), \
                "page_info.current_count %s != %d items" % (page_info.current_count, len(items))
        if not items:
            return ids
        ids.extend(i.id for i in items)
        marker = items[-1].id
    raise AssertionError("pager did not terminate within %d pages" % max_pages)


def next_marker_pager(client, kind, limit, max_pages=200, **filters):
    """Follow page_info.next_marker until it is absent/empty."""
    ids, marker = [], None
    for _ in range(max_pages):
        kw = dict(filters, limit=limit)
        if marker:
            kw["marker"] = marker
        items, page_info, _ = list_page(client, kind, **kw)
        items = items or []
        assert page_info is not None, "list response lacks page_info"
        assert page_info.current_count == len(items)
        ids.extend(i.id for i in items)
        if not page_info.next_marker:
            return ids
        assert items, "empty page carries next_marker %r" % page_info.next_marker
        assert page_info.next_marker == items[-1].id, \
            "next_marker %r is not the last item id %r" % (page_info.next_marker, items[-1].id)
        marker = page_info.next_marker
    raise AssertionError("next_marker chain did not terminate within %d pages" % max_pages)


def list_all_ids(client, kind, **filters):
    return terraform_pager(client, kind, limit=2000, **filters)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _STARTED_LOGS and exitstatus != 0:
        terminalreporter.write_sep("-", "slipstream server logs")
        for p in _STARTED_LOGS:
            terminalreporter.write_line(p)


# --------------------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------------------

def start_server(tmp_path_factory, name, env=None, use_env_config=False):
    data_dir = tmp_path_factory.mktemp(name)
    return Server(data_dir, env=env, use_env_config=use_env_config).start()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The shared server: contract defaults, except a larger accelerator quota so the suite can create freely."""
    srv = start_server(tmp_path_factory, "main", env={"SLIPSTREAM_QUOTA_ACCELERATORS": "2000"})
    yield srv
    crashed = not srv.alive()
    srv.stop()
    if crashed:
        pytest.fail("the shared server died during the session (exit %s).\n%s" % (srv.proc.returncode,
                                                                                  srv.log_tail()), pytrace=False)


@pytest.fixture(scope="session")
def acct_a(server):
    return Account(server, server.credentials())


@pytest.fixture(scope="session")
def acct_b(server):
    return Account(server, server.create_account(uniq("acct-b")))


@pytest.fixture(scope="session")
def client(acct_a):
    return acct_a.client


@pytest.fixture(scope="session")
def client_b(acct_b):
    return acct_b.client


@pytest.fixture
def fresh_account(server):
    """A brand-new empty account on the shared server (for exact counts)."""
    return Account(server, server.create_account(uniq("acct")))


@pytest.fixture(scope="session")
def stack(client):
    """A shared accelerator/listener/endpoint-group chain for read-mostly tests."""
    return make_stack(client)


class EchoBackend:
    """A TCP echo server that prefixes replies with its address."""

    def __init__(self, host, port, backlog=16):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(backlog)
        self.sock.settimeout(0.2)
        self.host = host
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn):
        conn.settimeout(10)
        with conn:
            for _ in range(1000):
                try:
                    data = conn.recv(4096)
                except OSError:
                    return
                if not data:
                    return
                conn.sendall(self.host.encode() + b":" + data)

    def close(self):
        self.stopped.set()
        self.thread.join(timeout=2)
        self.sock.close()
