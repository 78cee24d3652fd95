#!/usr/bin/env python3
"""Driver of the Slipstream data-plane benchmark (entry point: scripts/benchmark.sh).

Starts loopback-only backends (iperf3 server, a tiny nginx HTTP server, a UDP echo server) on BACKEND_ADDR, then
the engines under test, each on its own loopback address and the same ports, all forwarding to those backends:

    direct      the client talks to the backends themselves
    haproxy     HAProxy, mode tcp, nbthread 2 (it has no generic UDP proxy)
    nginx       nginx stream module, worker_processes 2 (TCP and UDP)
    slipstream  `slipstream serve`, configured through its GA API with the official SDK (all cores)

and runs each row (iperf3 1 and 4 streams, wrk keep-alive, wrk with a new connection per request, sequential UDP
round trips) against each engine, reading the engine's CPU time (utime+stime of all its processes from
/proc/PID/stat) around each run and its peak RSS (VmHWM, reset before each run through /proc/PID/clear_refs).
Prints a Markdown report and keeps raw results and logs in --out. Every load run is bounded in time and count;
every process it starts is stopped by its own process group id at exit.

Subcommands `udp-echo` and `udp-client` are the UDP backend and client (also usable on their own).
"""
import argparse
import datetime
import http.client
import json
import os
import platform
import re
import selectors
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CLK_TCK = os.sysconf("SC_CLK_TCK")

ROWS = {
    "tcp1": {"title": "TCP bulk, 1 stream (iperf3)", "unit": "Gbit/s"},
    "tcp4": {"title": "TCP bulk, 4 streams (iperf3)", "unit": "Gbit/s"},
    "http_ka": {"title": "HTTP keep-alive (wrk)", "unit": "req/s"},
    "http_close": {"title": "HTTP, new connection per request (wrk)", "unit": "req/s"},
    "udp": {"title": "UDP sequential round trips", "unit": "rt/s"},
    "udp8": {"title": "UDP round trips, 8 sessions (closed loop)", "unit": "rt/s"},
}
ENGINES = ["direct", "haproxy", "nginx", "slipstream"]
HTTP_BODY = b"slipstream-bench ok\n"


# ----------------------------------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------------------------------

def log(msg):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def run_text(argv, timeout=30):
    try:
        out = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        return (out.stdout + out.stderr).decode("utf-8", "replace").strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        return "(%s)" % e


def port_free(addr, port, udp=False):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    try:
        if not udp:   # as the servers do: connections in TIME_WAIT do not block a new listener
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def wait_tcp(addr, port, timeout=20.0, what=""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((addr, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("%s: nothing accepts on %s:%d after %.0fs" % (what, addr, port, timeout))


def http_get(addr, port):
    conn = http.client.HTTPConnection(addr, port, timeout=3)
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def udp_echo_once(addr, port, timeout=1.0, tries=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.connect((addr, port))
        for i in range(tries):
            msg = b"probe-%d" % i
            s.send(msg)
            try:
                if s.recv(2048) == msg:
                    return True
            except (socket.timeout, ConnectionRefusedError):
                time.sleep(0.2)
        return False
    finally:
        s.close()


# ----------------------------------------------------------------------------------------------------------------
# /proc accounting
# ----------------------------------------------------------------------------------------------------------------

def children_of(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                rest = f.read().rsplit(")", 1)[1].split()
            if int(rest[1]) == pid:
                kids.append(int(entry))
        except (OSError, IndexError, ValueError):
            pass
    return kids


def cpu_ticks(pids):
    user = system = 0
    for pid in pids:
        with open("/proc/%d/stat" % pid) as f:
            rest = f.read().rsplit(")", 1)[1].split()
        user += int(rest[11])
        system += int(rest[12])
    return user, system


def status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def threads_of(pid):
    return status_kib(pid, "Threads")


def reset_hwm(pids):
    for pid in pids:
        try:
            with open("/proc/%d/clear_refs" % pid, "w") as f:
                f.write("5")
        except OSError:
            pass


# ----------------------------------------------------------------------------------------------------------------
# Processes
# ----------------------------------------------------------------------------------------------------------------

class Proc:
    """A child in its own session; stopped by its process group id."""

    live = []

    def __init__(self, name, argv, logdir, env=None):
        self.name = name
        self.log_path = os.path.join(logdir, name + ".log")
        self.log = open(self.log_path, "ab")
        log("start %s: %s" % (name, " ".join(shlex.quote(a) for a in argv)))
        self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                                      env=env, start_new_session=True)
        Proc.live.append(self)

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def check(self):
        if not self.alive():
            raise RuntimeError("%s exited with %s; log %s:\n%s" % (self.name, self.popen.returncode, self.log_path,
                                                                  self.tail()))

    def tail(self, n=3000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.alive():
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait(timeout=10)
        self.log.close()
        if self in Proc.live:
            Proc.live.remove(self)

    @classmethod
    def stop_all(cls):
        for proc in reversed(list(cls.live)):
            try:
                proc.stop()
            except Exception as e:  # keep stopping the others
                log("stopping %s: %s" % (proc.name, e))


# ----------------------------------------------------------------------------------------------------------------
# Configuration files
# ----------------------------------------------------------------------------------------------------------------

def nginx_module_line():
    for path in ("/usr/lib/nginx/modules/ngx_stream_module.so", "/usr/share/nginx/modules/ngx_stream_module.so"):
        if os.path.exists(path):
            return "load_module %s;\n" % path
    return ""  # built in


def write_backend_nginx(work, addr, port):
    conf = os.path.join(work, "nginx-backend.conf")
    with open(conf, "w") as f:
        f.write("""# tiny HTTP backend for the benchmark
worker_processes 1;
daemon off;
pid %(work)s/nginx-backend.pid;
error_log %(work)s/nginx-backend.error.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 8000; }
http {
    access_log off;
    client_body_temp_path %(work)s/tmp-backend;
    proxy_temp_path %(work)s/tmp-backend;
    fastcgi_temp_path %(work)s/tmp-backend;
    uwsgi_temp_path %(work)s/tmp-backend;
    scgi_temp_path %(work)s/tmp-backend;
    keepalive_requests 10000000;
    keepalive_timeout 120s;
    server {
        listen %(addr)s:%(port)d backlog=4096;
        location / { default_type text/plain; return 200 "%(body)s"; }
    }
}
""" % {"work": work, "addr": addr, "port": port, "body": HTTP_BODY.decode().replace("\n", "\\n")})
    return conf


def write_proxy_nginx(work, addr, backend, ports):
    conf = os.path.join(work, "nginx-proxy.conf")
    with open(conf, "w") as f:
        f.write(nginx_module_line())
        f.write("""# nginx stream proxy under test
worker_processes 2;
daemon off;
pid %(work)s/nginx-proxy.pid;
error_log %(work)s/nginx-proxy.error.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 8000; }
stream {
    server { listen %(addr)s:%(iperf)d backlog=4096; proxy_pass %(backend)s:%(iperf)d; proxy_connect_timeout 2s; }
    server { listen %(addr)s:%(http)d backlog=4096; proxy_pass %(backend)s:%(http)d; proxy_connect_timeout 2s; }
    server { listen %(addr)s:%(udp)d udp; proxy_pass %(backend)s:%(udp)d; proxy_timeout 60s; }
}
""" % {"work": work, "addr": addr, "backend": backend, "iperf": ports["iperf"], "http": ports["http"],
       "udp": ports["udp"]})
    return conf


def write_haproxy(work, addr, backend, ports):
    conf = os.path.join(work, "haproxy.cfg")
    with open(conf, "w") as f:
        f.write("""# HAProxy (mode tcp) under test; no UDP: HAProxy's community edition has no generic UDP proxy
global
    nbthread 2
    maxconn 8000
defaults
    mode tcp
    timeout connect 2s
    timeout client 120s
    timeout server 120s
listen iperf
    bind %(addr)s:%(iperf)d
    server backend %(backend)s:%(iperf)d
listen http
    bind %(addr)s:%(http)d
    server backend %(backend)s:%(http)d
""" % {"addr": addr, "backend": backend, "iperf": ports["iperf"], "http": ports["http"]})
    return conf


# ----------------------------------------------------------------------------------------------------------------
# Slipstream through its API
# ----------------------------------------------------------------------------------------------------------------

def setup_slipstream(api, data_dir, backend, ports, region):
    """Accelerator + TCP listener (iperf and HTTP ports) + UDP listener, one endpoint group each with one endpoint
    (the backend address), through the official SDK; waits until every resource is ACTIVE. Returns the
    accelerator's address."""
    from huaweicloudsdkcore.auth.credentials import GlobalCredentials
    from huaweicloudsdkcore.client import ClientBuilder
    from huaweicloudsdkcore.http.http_config import HttpConfig
    from huaweicloudsdkga.v1 import (GaClient, CreateAcceleratorOption, CreateAcceleratorOptionIpSets,
                                     CreateAcceleratorRequest, CreateAcceleratorRequestBody, ShowAcceleratorRequest,
                                     CreateListenerOption, CreateListenerRequest, CreateListenerRequestBody,
                                     ShowListenerRequest, PortRange, CreateEndpointGroupOption,
                                     CreateEndpointGroupRequest, CreateEndpointGroupRequestBody,
                                     ShowEndpointGroupRequest, Id, CreateEndpointOption, CreateEndpointRequest,
                                     CreateEndpointRequestBody, ShowEndpointRequest)

    path = os.path.join(data_dir, "credentials.json")
    deadline = time.monotonic() + 30
    creds = None
    while creds is None:
        try:
            with open(path) as f:
                creds = json.load(f)
        except (OSError, ValueError):
            if time.monotonic() > deadline:
                raise RuntimeError("no credentials in %s" % path)
            time.sleep(0.2)
    config = HttpConfig.get_default_config()
    config.timeout = (5, 30)
    client = (ClientBuilder(GaClient, "GlobalCredentials")
              .with_credentials(GlobalCredentials(creds["access_key"], creds["secret_key"], creds["domain_id"]))
              .with_http_config(config).with_endpoints([api]).build())

    def wait_active(show, what, timeout=30.0):
        deadline = time.monotonic() + timeout
        status = None
        for _ in range(int(timeout / 0.2) + 10):
            status = show().status
            if status == "ACTIVE":
                return
            if status == "ERROR" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        raise RuntimeError("slipstream: %s is %s, not ACTIVE" % (what, status))

    ga = client.create_accelerator(CreateAcceleratorRequest(body=CreateAcceleratorRequestBody(
        accelerator=CreateAcceleratorOption(name="bench", enterprise_project_id="0",
                                            ip_sets=[CreateAcceleratorOptionIpSets(ip_type="IPV4",
                                                                                   area="OUTOFCM")])))).accelerator
    wait_active(lambda: client.show_accelerator(ShowAcceleratorRequest(accelerator_id=ga.id)).accelerator,
                "accelerator")
    ga = client.show_accelerator(ShowAcceleratorRequest(accelerator_id=ga.id)).accelerator
    address = ga.ip_sets[0].ip_address
    listeners = []
    for name, proto, plist in (("bench-tcp", "TCP", [ports["iperf"], ports["http"]]),
                               ("bench-udp", "UDP", [ports["udp"]])):
        lis = client.create_listener(CreateListenerRequest(body=CreateListenerRequestBody(listener=CreateListenerOption(
            name=name, protocol=proto, accelerator_id=ga.id,
            port_ranges=[PortRange(from_port=p, to_port=p) for p in plist])))).listener
        group = client.create_endpoint_group(CreateEndpointGroupRequest(body=CreateEndpointGroupRequestBody(
            endpoint_group=CreateEndpointGroupOption(name=name + "-group", region_id=region,
                                                     listeners=[Id(id=lis.id)])))).endpoint_group
        endpoint = client.create_endpoint(CreateEndpointRequest(endpoint_group_id=group.id,
                                                                body=CreateEndpointRequestBody(
                                                                    endpoint=CreateEndpointOption(
                                                                        resource_id="bench-backend",
                                                                        resource_type="CUSTOM_IP",
                                                                        ip_address=backend)))).endpoint
        listeners.append((lis, group, endpoint))
    for lis, group, endpoint in listeners:
        wait_active(lambda: client.show_listener(ShowListenerRequest(listener_id=lis.id)).listener,
                    "listener " + lis.name)
        wait_active(lambda: client.show_endpoint_group(
            ShowEndpointGroupRequest(endpoint_group_id=group.id)).endpoint_group, "endpoint group " + group.name)
        wait_active(lambda: client.show_endpoint(
            ShowEndpointRequest(endpoint_group_id=group.id, endpoint_id=endpoint.id)).endpoint, "endpoint")
    return address


# ----------------------------------------------------------------------------------------------------------------
# Engines
# ----------------------------------------------------------------------------------------------------------------

class Engine:
    def __init__(self, name, label, addr, proc=None, udp=True):
        self.name = name
        self.label = label
        self.addr = addr
        self.proc = proc
        self.udp = udp

    def pids(self):
        if self.proc is None:
            return []
        pid = self.proc.pid
        if self.name == "nginx":   # master + workers
            return [pid] + children_of(pid)
        return [pid]

    def shape(self):
        pids = self.pids()
        if not pids:
            return ""
        return "%d process%s, %d threads" % (len(pids), "es" if len(pids) > 1 else "",
                                             sum(threads_of(p) for p in pids))


def start_engines(args, work, ports):
    logdir = os.path.join(work, "logs")
    engines = {}
    wanted = args.engines
    if "direct" in wanted:
        engines["direct"] = Engine("direct", "direct", args.backend_addr)
    if "haproxy" in wanted:
        conf = write_haproxy(work, args.haproxy_addr, args.backend_addr, ports)
        proc = Proc("haproxy", ["haproxy", "-db", "-f", conf], logdir)
        engines["haproxy"] = Engine("haproxy", "HAProxy", args.haproxy_addr, proc, udp=False)
    if "nginx" in wanted:
        conf = write_proxy_nginx(work, args.nginx_addr, args.backend_addr, ports)
        proc = Proc("nginx-proxy", ["nginx", "-e", os.path.join(work, "nginx-proxy.error.log"), "-p", work,
                                    "-c", conf], logdir)
        engines["nginx"] = Engine("nginx", "nginx", args.nginx_addr, proc)
    if "slipstream" in wanted:
        data_dir = os.path.join(work, "slipstream-data")
        api_port = args.api_port or free_tcp_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPSTREAM_")}
        env.update({"SLIPSTREAM_LOG_LEVEL": "warning", "SLIPSTREAM_POOL_OUTOFCM_IPV4": args.slipstream_pool})
        proc = Proc("slipstream", [args.slipstream_bin, "serve", "--host", "127.0.0.1", "--port", str(api_port),
                                   "--data-dir", data_dir], logdir, env=env)
        api = "http://127.0.0.1:%d" % api_port
        deadline = time.monotonic() + 60
        while True:
            proc.check()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", api_port, timeout=2)
                try:
                    conn.request("GET", "/healthz")
                    if conn.getresponse().status == 200:
                        break
                finally:
                    conn.close()
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("slipstream did not answer /healthz within 60s:\n" + proc.tail())
            time.sleep(0.2)
        address = setup_slipstream(api, data_dir, args.backend_addr, ports, args.slipstream_region)
        log("slipstream accelerator address %s" % address)
        engines["slipstream"] = Engine("slipstream", "Slipstream", address, proc)
    return engines


def free_tcp_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def verify_engines(engines, ports, rows):
    for engine in engines.values():
        if engine.proc:
            engine.proc.check()
        if any(r.startswith("http") for r in rows):
            wait_tcp(engine.addr, ports["http"], what=engine.name)
            status, body = http_get(engine.addr, ports["http"])
            if status != 200 or body != HTTP_BODY:
                raise RuntimeError("%s: GET / answered %s %r" % (engine.name, status, body[:100]))
        if any(r.startswith("tcp") for r in rows):
            wait_tcp(engine.addr, ports["iperf"], what=engine.name)
        if "udp" in rows and engine.udp and not udp_echo_once(engine.addr, ports["udp"]):
            raise RuntimeError("%s: no UDP echo through %s:%d" % (engine.name, engine.addr, ports["udp"]))
        log("%s on %s forwards correctly" % (engine.name, engine.addr))


# ----------------------------------------------------------------------------------------------------------------
# Load runs
# ----------------------------------------------------------------------------------------------------------------

def run_iperf(args, addr, ports, streams):
    cmd = ["iperf3", "-c", addr, "-p", str(ports["iperf"]), "-t", str(args.duration), "-O", "1",
           "-P", str(streams), "-J", "--connect-timeout", "3000"]
    out = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=args.duration + 60)
    try:
        data = json.loads(out.stdout.decode("utf-8", "replace"))
    except ValueError:
        raise RuntimeError("iperf3 printed no JSON (exit %s): %s" % (out.returncode, out.stderr[-2000:]))
    if "error" in data:
        raise RuntimeError("iperf3: %s" % data["error"])
    received = data["end"]["sum_received"]
    # The CPU window covers the whole run, including the omitted first second: count the bytes of all of it.
    moved = sum(interval["sum"]["bytes"] for interval in data.get("intervals", []))
    return {"value": received["bits_per_second"] / 1e9, "units": (moved or received["bytes"]) / 1e9,
            "retransmits": data["end"].get("sum_sent", {}).get("retransmits"), "errors": 0}


def run_wrk(args, addr, ports, close):
    cmd = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", "%ds" % args.duration,
           "--timeout", "5s", "--latency", "-s", os.path.join(HERE, "wrk_report.lua")]
    if close:
        cmd += ["-H", "Connection: close"]
    cmd.append("http://%s:%d/" % (addr, ports["http"]))
    out = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=args.duration + 60)
    text = out.stdout.decode("utf-8", "replace")
    match = re.search(r"^WRKJSON (\{.*\})$", text, re.M)
    if not match:
        raise RuntimeError("wrk printed no result (exit %s):\n%s\n%s" % (out.returncode, text,
                                                                      out.stderr.decode()[-2000:]))
    data = json.loads(match.group(1))
    seconds = data["duration_us"] / 1e6
    errors = sum(data[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
    return {"value": data["requests"] / seconds, "units": data["requests"], "p50": data["p50_us"] / 1000.0,
            "p99": data["p99_us"] / 1000.0, "errors": errors, "wrk": data}


def run_udp(args, addr, ports, sessions=1):
    cmd = [sys.executable, os.path.abspath(__file__), "udp-client", "--addr", addr, "--port", str(ports["udp"]),
           "--count", str(args.udp_count * (20 if sessions > 1 else 1)), "--seconds", str(args.duration), "--sessions", str(sessions)]
    out = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=args.duration + 60)
    try:
        data = json.loads(out.stdout.decode())
    except ValueError:
        raise RuntimeError("udp-client failed (exit %s): %s" % (out.returncode, out.stderr.decode()[-2000:]))
    return {"value": data["rate"], "units": data["completed"], "p50": data["p50_us"], "p99": data["p99_us"],
            "errors": data["lost"], "udp": data}


def measure(args, engine, row, ports, perf_dir=None):
    pids = engine.pids()
    reset_hwm(pids)
    perf = None
    if perf_dir and engine.proc and shutil.which("perf"):
        perf_out = os.path.join(perf_dir, "perf-%s-%s.data" % (engine.name, row))
        perf = subprocess.Popen(["perf", "record", "-F", "999", "-g", "-o", perf_out,
                                 "-p", ",".join(str(p) for p in pids), "--",
                                 "sleep", str(args.duration + 1)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    trace = None
    if args.syscalls and engine.proc and shutil.which("perf"):
        trace_dir = os.path.join(args.work, "syscalls")
        trace_out = os.path.join(trace_dir, "%s-%s-%d.txt" % (
            engine.name, row, len([f for f in os.listdir(trace_dir) if f.startswith(engine.name + "-" + row + "-")])))
        trace = subprocess.Popen(["perf", "trace", "-s", "-o", trace_out, "-p", ",".join(str(p) for p in pids)],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 start_new_session=True)
        time.sleep(1.0)   # perf trace attaches to every thread before the load starts
    tcp0 = tcp_counters() if args.syscalls else None
    u0, s0 = cpu_ticks(pids)
    t0 = time.monotonic()
    if row == "tcp1":
        result = run_iperf(args, engine.addr, ports, 1)
    elif row == "tcp4":
        result = run_iperf(args, engine.addr, ports, 4)
    elif row == "http_ka":
        result = run_wrk(args, engine.addr, ports, close=False)
    elif row == "http_close":
        result = run_wrk(args, engine.addr, ports, close=True)
    elif row == "udp8":
        result = run_udp(args, engine.addr, ports, sessions=8)
    else:
        result = run_udp(args, engine.addr, ports)
    wall = time.monotonic() - t0
    u1, s1 = cpu_ticks(pids)
    if trace:
        os.killpg(trace.pid, signal.SIGINT)
        try:
            trace.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(trace.pid, signal.SIGKILL)
            trace.wait(timeout=10)
        result["syscalls"] = parse_perf_trace_summary(trace_out)
    if tcp0:
        tcp1 = tcp_counters()
        result["tcp_counters"] = {k: tcp1[k] - tcp0[k] for k in tcp0 if k in tcp1}
    if perf:
        try:
            perf.wait(timeout=args.duration + 30)
        except subprocess.TimeoutExpired:
            os.killpg(perf.pid, signal.SIGINT)
            perf.wait(timeout=10)
    result.update({"cpu_user": (u1 - u0) / CLK_TCK, "cpu_sys": (s1 - s0) / CLK_TCK, "wall": wall,
                   "peak_rss_kib": sum(status_kib(p, "VmHWM") for p in pids) if pids else None})
    if engine.proc:
        engine.proc.check()
    return result


def tcp_counters():
    """The machine's TCP segment counters (/proc/net/snmp, /proc/net/netstat): segments out, resets out,
    delayed and pure ACKs. Machine-wide: they include the load generator's and the backends' segments."""
    values = {}
    for path in ("/proc/net/snmp", "/proc/net/netstat"):
        with open(path) as f:
            lines = f.read().splitlines()
        for names, nums in zip(lines[0::2], lines[1::2]):
            prefix = names.split(":")[0]
            for k, v in zip(names.split()[1:], nums.split()[1:]):
                values[prefix + ":" + k] = int(v)
    keep = ("Tcp:OutSegs", "Tcp:OutRsts", "TcpExt:DelayedACKs", "TcpExt:TCPPureAcks", "TcpExt:TW")
    return {k: values[k] for k in keep if k in values}


def parse_perf_trace_summary(path):
    """Calls per system call, summed over the threads of a `perf trace -s` summary."""
    calls = {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[1].isdigit() and parts[2].isdigit() and not parts[0].startswith("-"):
                    calls[parts[0]] = calls.get(parts[0], 0) + int(parts[1])
    except OSError:
        pass
    return calls


# ----------------------------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------------------------

def fmt_value(row, v):
    if v is None:
        return "—"
    if row.startswith("tcp"):
        return "%.2f" % v
    return "{:,.0f}".format(v)


def fmt_lat(row, v):
    if v is None:
        return "—"
    return ("%.0f µs" % v) if row.startswith("udp") else ("%.2f ms" % v)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "n/a"
    return "%.2f×" % (a / b)


def cpu_per_unit(row, r):
    cpu = r["cpu_user"] + r["cpu_sys"]
    if not r.get("units"):
        return None, ""
    if row.startswith("tcp"):
        return cpu * 1000.0 / r["units"], "ms/GB"
    return cpu * 1e6 / r["units"], "µs/req" if row.startswith("http") else "µs/rt"


def pick_median(runs):
    ordered = sorted(runs, key=lambda r: r["value"])
    return ordered[(len(ordered) - 1) // 2]


def machine_info():
    info = {}
    try:
        fields = {}
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
        info["cpu"] = "%s (family %s, model %s%s)" % (fields.get("model name"), fields.get("cpu family"),
                                                      fields.get("model"), ", virtual machine"
                                                      if "hypervisor" in fields.get("flags", "").split() else "")
    except OSError:
        pass
    info["cores"] = os.cpu_count()
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
        info["memory"] = "%.1f GiB" % (kib / 1024 / 1024)
    except (OSError, ValueError):
        pass
    info["kernel"] = platform.release()
    os_name = ""
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    info["os"] = os_name
    info["swift"] = run_text(["swift", "--version"]).splitlines()[0] if shutil.which("swift") else "(no swift)"
    info["haproxy"] = run_text(["haproxy", "-v"]).splitlines()[0].split(" - ")[0]
    info["nginx"] = run_text(["nginx", "-v"]).splitlines()[0]
    info["iperf3"] = run_text(["iperf3", "--version"]).splitlines()[0]
    info["wrk"] = run_text(["wrk", "-v"]).splitlines()[0].split(" [")[0]
    info["python"] = platform.python_version()
    head = run_text(["git", "-C", REPO, "rev-parse", "--short", "HEAD"])
    dirty = run_text(["git", "-C", REPO, "diff", "--name-only", "HEAD", "--", "Sources", "Package.swift"]).split()
    dirty += run_text(["git", "-C", REPO, "ls-files", "--others", "--exclude-standard", "--", "Sources"]).split()
    info["source"] = os.environ.get("BENCH_SOURCE") or "working tree at commit %s%s" % (
        head, (" + uncommitted changes in " + ", ".join(dirty)) if dirty else "")
    return info


def report(args, engines, results, meta):
    out = []
    w = out.append
    order = [e for e in ENGINES if e in engines]
    w("## Slipstream data-plane benchmark\n")
    w("- date: %s (UTC)" % meta["date"])
    m = meta["machine"]
    w("- machine: %s, %s cores, %s memory, kernel %s, %s" % (m.get("cpu"), m.get("cores"), m.get("memory"),
                                                            m.get("kernel"), m.get("os")))
    w("- %s; slipstream release build `%s`, built from the %s" % (
        m.get("swift"), os.path.relpath(args.slipstream_bin, REPO) if args.slipstream_bin.startswith(REPO)
        else args.slipstream_bin, m.get("source")))
    w("- %s; %s; %s; %s" % (m.get("haproxy"), m.get("nginx"), m.get("iperf3"), m.get("wrk")))
    w("- load average (1/5/15 min): %s before, %s after" % (meta["load_before"], meta["load_after"]))
    w("- command: `%s`" % meta["command"])
    w("- settings: %ds per run, %d run(s) per cell (median shown), wrk %d threads × %d connections, UDP up to "
      "%d round trips of 64 bytes per run; HAProxy nbthread 2, nginx worker_processes 2, Slipstream one flow "
      "loop per core (%d)" % (args.duration, args.repeat, args.threads, args.connections, args.udp_count,
                                    os.cpu_count()))
    w("- addresses: backends on %s, HAProxy %s, nginx %s, Slipstream %s (allocated from %s)\n" % (
        args.backend_addr, args.haproxy_addr, args.nginx_addr,
        engines["slipstream"].addr if "slipstream" in engines else "—", args.slipstream_pool))

    med = {}
    for (row, eng), runs in results.items():
        med[(row, eng)] = pick_median(runs)

    def get(row, eng, key):
        r = med.get((row, eng))
        return None if r is None else r.get(key)

    # Results
    w("### Results\n")
    w("Higher is better for rates; lower is better for latencies. Ratios: value ÷ the same row's direct or HAProxy "
      "value.\n")
    w("| Row | Engine | Rate | ÷ direct | ÷ HAProxy | p50 | p99 | p99 ÷ HAProxy | errors |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in args.rows:
        for eng in order:
            r = med.get((row, eng))
            if r is None:
                if eng == "haproxy" and row.startswith("udp"):
                    w("| %s | %s | n/a (no generic UDP proxy) | | | | | | |" % (ROWS[row]["title"], engines[eng].label))
                continue
            spread = ""
            runs = results[(row, eng)]
            if len(runs) > 1:
                spread = " (%s–%s)" % (fmt_value(row, min(x["value"] for x in runs)),
                                       fmt_value(row, max(x["value"] for x in runs)))
            w("| %s | %s | %s %s%s | %s | %s | %s | %s | %s | %s |" % (
                ROWS[row]["title"], engines[eng].label, fmt_value(row, r["value"]), ROWS[row]["unit"], spread,
                ratio(r["value"], get(row, "direct", "value")), ratio(r["value"], get(row, "haproxy", "value")),
                fmt_lat(row, r.get("p50")), fmt_lat(row, r.get("p99")),
                ratio(r.get("p99"), get(row, "haproxy", "p99")), r.get("errors", 0)))
    w("")

    # Cost
    w("### Proxy cost\n")
    w("CPU = user+sys seconds of all the engine's processes during the run (/proc/PID/stat); per unit = per GB "
      "received (iperf3), per request (wrk) or per round trip (UDP). Peak RSS = VmHWM during the run (reset "
      "before it; summed over processes for nginx).\n")
    w("| Row | Engine | CPU s (user + sys) | CPU per unit | ÷ HAProxy | peak RSS MiB |")
    w("|---|---|---:|---:|---:|---:|")
    for row in args.rows:
        for eng in order:
            r = med.get((row, eng))
            if r is None or eng == "direct":
                continue
            unit_cost, unit = cpu_per_unit(row, r)
            h = med.get((row, "haproxy"))
            h_cost = cpu_per_unit(row, h)[0] if h else None
            w("| %s | %s | %.2f (%.2f + %.2f) | %s %s | %s | %.1f |" % (
                ROWS[row]["title"], engines[eng].label, r["cpu_user"] + r["cpu_sys"], r["cpu_user"], r["cpu_sys"],
                "%.1f" % unit_cost if unit_cost is not None else "—", unit, ratio(unit_cost, h_cost),
                (r["peak_rss_kib"] or 0) / 1024.0))
    w("")

    # Engines
    w("### Engines at rest\n")
    w("RSS after setup is split as the kernel counts it (/proc/PID/status): anonymous memory (heap, stacks; what "
      "the process itself allocated) and file-backed pages (the mapped code and read-only data of the executable "
      "and its shared libraries, shared with every process that maps the same files).\n")
    w("| Engine | shape | RSS after setup MiB | of it anonymous MiB | of it file-backed MiB | highest peak RSS in a run MiB | idle CPU ms/s |")
    w("|---|---|---:|---:|---:|---:|---:|")
    for eng in order:
        if eng == "direct":
            continue
        peaks = [r["peak_rss_kib"] for (row, e), runs in results.items() if e == eng for r in runs
                 if r.get("peak_rss_kib")]
        idle = meta["idle"].get(eng, {})
        w("| %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f |" % (
            engines[eng].label, idle.get("shape", ""), idle.get("rss_kib", 0) / 1024.0,
            idle.get("rss_anon_kib", 0) / 1024.0, idle.get("rss_file_kib", 0) / 1024.0,
            max(peaks or [0]) / 1024.0, idle.get("cpu_ms_per_s", 0)))
    w("")

    # Summary
    if "slipstream" in engines and ("haproxy" in engines or "nginx" in engines):
        w("### Slipstream relative to HAProxy (and nginx)\n")
        w("| Row | rate ÷ HAProxy | p99 ÷ HAProxy | CPU/unit ÷ HAProxy | rate ÷ nginx | CPU/unit ÷ nginx |")
        w("|---|---:|---:|---:|---:|---:|")
        for row in args.rows:
            s = med.get((row, "slipstream"))
            if not s:
                continue
            h = med.get((row, "haproxy"))
            n = med.get((row, "nginx"))
            s_cost = cpu_per_unit(row, s)[0]
            w("| %s | %s | %s | %s | %s | %s |" % (
                ROWS[row]["title"], ratio(s["value"], h and h["value"]), ratio(s.get("p99"), h and h.get("p99")),
                ratio(s_cost, h and cpu_per_unit(row, h)[0]), ratio(s["value"], n and n["value"]),
                ratio(s_cost, n and cpu_per_unit(row, n)[0])))
        w("")
    if any(r.get("syscalls") for runs in results.values() for r in runs):
        w("### System calls per unit\n")
        w("Counted with `perf trace -s` over the whole run (median run), divided by the row's units (requests, "
          "round trips; per GB for bulk rows). Tracing slows the proxies, so this run's rates and CPU are not "
          "comparable with an untraced run.\n")
        w("| Row | Engine | total per unit | largest (calls per unit) | TCP counters per unit (machine-wide: they "
          "include the client's and the backend's segments) |")
        w("|---|---|---:|---|---|")
        for row in args.rows:
            for eng in order:
                r = med.get((row, eng))
                if not r or not r.get("syscalls") or not r.get("units"):
                    continue
                units = r["units"]
                calls = sorted(r["syscalls"].items(), key=lambda kv: -kv[1])
                tcp = r.get("tcp_counters") or {}
                w("| %s | %s | %.2f | %s | %s |" % (
                    ROWS[row]["title"], engines[eng].label, sum(v for _, v in calls) / units,
                    ", ".join("%s %.2f" % (k, v / units) for k, v in calls[:8]),
                    ", ".join("%s %.2f" % (k, v / units) for k, v in tcp.items()) if not row.startswith("udp") else "—"))
        w("")
    return "\n".join(out)


# ----------------------------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------------------------

def wait_quiet(args):
    limit = time.monotonic() + args.quiet_max_wait
    while True:
        one = float(loadavg().split()[0])
        if one <= args.quiet_load:
            log("load average %s: quiet enough" % loadavg())
            return
        if time.monotonic() >= limit:
            log("load average %s still above %.2f after waiting; running anyway" % (loadavg(), args.quiet_load))
            return
        log("load average %s above %.2f; waiting 30 s" % (loadavg(), args.quiet_load))
        time.sleep(30)


def cmd_run(args):
    args.rows = [r for r in args.rows.split(",") if r]
    args.engines = [e for e in args.engines.split(",") if e]
    for r in args.rows:
        if r not in ROWS:
            sys.exit("unknown row %r (rows: %s)" % (r, ",".join(ROWS)))
    for e in args.engines:
        if e not in ENGINES:
            sys.exit("unknown engine %r (engines: %s)" % (e, ",".join(ENGINES)))
    if "slipstream" in args.engines and not (args.slipstream_bin and os.access(args.slipstream_bin, os.X_OK)):
        sys.exit("--slipstream-bin must name the slipstream executable")
    for tool in ("iperf3", "wrk", "nginx") + (("haproxy",) if "haproxy" in args.engines else ()):
        if not shutil.which(tool):
            sys.exit("%s is not installed (scripts/benchmark.sh installs it)" % tool)
    ports = {"iperf": args.port_base + 1, "http": args.port_base + 80, "udp": args.port_base + 53}
    work = os.path.abspath(args.out) if args.out else tempfile.mkdtemp(prefix="slipstream-bench.")
    os.makedirs(os.path.join(work, "logs"), exist_ok=True)
    os.makedirs(os.path.join(work, "tmp-backend"), exist_ok=True)
    perf_dir = os.path.join(work, "perf") if args.perf else None
    args.work = work
    if args.syscalls:
        os.makedirs(os.path.join(work, "syscalls"), exist_ok=True)
    if perf_dir:
        os.makedirs(perf_dir, exist_ok=True)
    log("work directory %s" % work)

    addrs = [args.backend_addr] + [a for e, a in (("haproxy", args.haproxy_addr), ("nginx", args.nginx_addr))
                                   if e in args.engines]
    for addr in addrs:
        if not addr.startswith("127."):
            sys.exit("addresses must be on loopback (127.0.0.0/8): %s" % addr)
        for name, port in ports.items():
            if not port_free(addr, port, udp=(name == "udp")):
                sys.exit("%s:%d is taken; choose another --port-base" % (addr, port))

    if args.wait_quiet:
        wait_quiet(args)
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
            "load_before": loadavg(), "machine": machine_info(), "idle": {},
            "command": os.environ.get("BENCH_COMMAND") or " ".join(shlex.quote(a) for a in sys.argv)}
    results = {}
    raw_path = os.path.join(work, "results.jsonl")

    def on_signal(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_signal)
    try:
        logdir = os.path.join(work, "logs")
        Proc("iperf3-server", ["iperf3", "-s", "-B", args.backend_addr, "-p", str(ports["iperf"])], logdir)
        conf = write_backend_nginx(work, args.backend_addr, ports["http"])
        Proc("nginx-backend", ["nginx", "-e", os.path.join(work, "nginx-backend.error.log"), "-p", work, "-c", conf],
             logdir)
        Proc("udp-echo", [sys.executable, os.path.abspath(__file__), "udp-echo", "--addr", args.backend_addr,
                          "--port", str(ports["udp"]), "--max-seconds", str(args.max_seconds)], logdir)
        wait_tcp(args.backend_addr, ports["iperf"], what="iperf3 server")
        wait_tcp(args.backend_addr, ports["http"], what="nginx backend")
        engines = start_engines(args, work, ports)
        verify_engines(engines, ports, args.rows)

        # Idle cost and resident size after setup.
        idle0 = {n: cpu_ticks(e.pids()) for n, e in engines.items() if e.proc}
        time.sleep(5)
        for n, e in engines.items():
            if e.proc:
                u, s = cpu_ticks(e.pids())
                meta["idle"][n] = {"cpu_ms_per_s": ((u + s) - sum(idle0[n])) * 1000.0 / CLK_TCK / 5,
                                   "rss_kib": sum(status_kib(p, "VmRSS") for p in e.pids()),
                                   "rss_anon_kib": sum(status_kib(p, "RssAnon") for p in e.pids()),
                                   "rss_file_kib": sum(status_kib(p, "RssFile") for p in e.pids()),
                                   "shape": e.shape()}

        names = [e for e in ENGINES if e in engines]
        with open(raw_path, "w") as raw:
            for rep in range(args.repeat):
                rotated = names[rep % len(names):] + names[:rep % len(names)]
                for row in args.rows:
                    for eng in rotated:
                        engine = engines[eng]
                        if row.startswith("udp") and not engine.udp:
                            continue
                        log("run %d/%d %s via %s" % (rep + 1, args.repeat, row, eng))
                        result = measure(args, engine, row, ports, perf_dir)
                        result.update({"row": row, "engine": eng, "rep": rep})
                        raw.write(json.dumps(result) + "\n")
                        raw.flush()
                        results.setdefault((row, eng), []).append(result)
                        log("  %s %s, p50 %s, p99 %s, cpu %.2fs, errors %s" % (
                            fmt_value(row, result["value"]), ROWS[row]["unit"], result.get("p50"),
                            result.get("p99"), result["cpu_user"] + result["cpu_sys"], result.get("errors")))
                        time.sleep(args.pause)
        meta["load_after"] = loadavg()
        text = report(args, engines, results, meta)
    finally:
        Proc.stop_all()
    with open(os.path.join(work, "report.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(work, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(text)
    log("raw results %s, report %s" % (raw_path, os.path.join(work, "report.md")))


def cmd_udp_echo(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind((args.addr, args.port))
    s.settimeout(1.0)
    deadline = time.monotonic() + args.max_seconds
    recv, send = s.recvfrom, s.sendto
    while time.monotonic() < deadline:
        try:
            while True:
                data, peer = recv(65535)
                send(data, peer)
        except socket.timeout:
            pass


def udp_sequential(args, s, pad, clock):
    """One socket, blocking: send, wait for the echo, repeat (the sequential row)."""
    s.setblocking(True)
    s.settimeout(args.timeout)
    samples = []
    lost = 0
    start = time.monotonic()
    deadline = start + args.seconds
    for i in range(args.count):
        if time.monotonic() >= deadline:
            break
        msg = i.to_bytes(8, "big") + pad
        t0 = clock()
        try:
            s.send(msg)
            while s.recv(65535)[:8] != msg[:8]:
                pass
            samples.append(clock() - t0)
        except (socket.timeout, ConnectionRefusedError):
            lost += 1
    report_udp(samples, lost, time.monotonic() - start, 1)


def report_udp(samples, lost, elapsed, sessions):
    samples.sort()

    def pct(p):
        if not samples:
            return None
        return samples[min(len(samples) - 1, int(round(p / 100.0 * (len(samples) - 1))))] / 1000.0
    print(json.dumps({"completed": len(samples), "lost": lost, "seconds": elapsed, "sessions": sessions,
                      "rate": len(samples) / elapsed if elapsed > 0 else 0.0, "p50_us": pct(50), "p90_us": pct(90),
                      "p99_us": pct(99), "max_us": pct(100),
                      "mean_us": statistics.mean(samples) / 1000.0 if samples else None}))


def cmd_udp_client(args):
    """Closed-loop UDP round trips over `--sessions` sockets (each a session at the proxy): every socket sends its
    next datagram as soon as its previous one came back. One socket is the sequential case."""
    socks = []
    for _ in range(args.sessions):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect((args.addr, args.port))
        socks.append(s)
    pad = b"x" * max(0, args.size - 8)
    clock = time.perf_counter_ns

    def warm(s):
        s.settimeout(args.timeout)
        for i in range(max(1, args.warmup // args.sessions)):   # opens the proxy's session; not counted
            msg = (1 << 62 | i).to_bytes(8, "big") + pad
            try:
                s.send(msg)
                while s.recv(65535)[:8] != msg[:8]:
                    pass
            except (socket.timeout, ConnectionRefusedError):
                pass
        s.setblocking(False)

    for s in socks:
        warm(s)
    if args.sessions == 1:
        return udp_sequential(args, socks[0], pad, clock)
    selector = selectors.DefaultSelector()
    pending = {}          # socket -> (sequence, sent at)
    seq = 0
    samples = []
    lost = 0
    start = time.monotonic()
    deadline = start + args.seconds

    def send(s):
        nonlocal seq
        msg = seq.to_bytes(8, "big") + pad
        pending[s] = (seq, clock())
        seq += 1
        s.send(msg)

    for s in socks:
        selector.register(s, selectors.EVENT_READ)
        send(s)
    timeout_ns = int(args.timeout * 1e9)
    while pending and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=args.timeout / 4):
            s = key.fileobj
            try:
                data = s.recv(65535)
            except (BlockingIOError, ConnectionRefusedError):
                continue
            want = pending.get(s)
            if want is None or int.from_bytes(data[:8], "big") != want[0]:
                continue
            samples.append(clock() - want[1])
            del pending[s]
            if seq < args.count:
                send(s)
        now = clock()
        for s, (_, sent) in list(pending.items()):
            if now - sent > timeout_ns:
                lost += 1
                del pending[s]
                if seq < args.count:
                    send(s)
    report_udp(samples, lost, time.monotonic() - start, args.sessions)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run the benchmark and print a Markdown report")
    run.add_argument("--duration", type=int, default=10, help="seconds per load run (default 10)")
    run.add_argument("--repeat", type=int, default=1, help="runs per row and engine; the median is shown")
    run.add_argument("--rows", default=",".join(ROWS), help="comma list of: " + ",".join(ROWS))
    run.add_argument("--engines", default=",".join(ENGINES), help="comma list of: " + ",".join(ENGINES))
    run.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    run.add_argument("--connections", type=int, default=50, help="wrk connections (default 50)")
    run.add_argument("--udp-count", type=int, default=20000, help="UDP round trips per run (default 20000)")
    run.add_argument("--pause", type=float, default=2.0, help="seconds between runs (default 2)")
    run.add_argument("--port-base", type=int, default=25200,
                     help="ports: base+1 iperf3, base+80 HTTP, base+53 UDP (default 25200)")
    run.add_argument("--backend-addr", default="127.0.0.2")
    run.add_argument("--haproxy-addr", default="127.0.0.3")
    run.add_argument("--nginx-addr", default="127.0.0.4")
    run.add_argument("--slipstream-pool", default="127.30.0.0/24",
                     help="SLIPSTREAM_POOL_OUTOFCM_IPV4 for the benchmark's server (default 127.30.0.0/24)")
    run.add_argument("--slipstream-region", default="ap-southeast-1")
    run.add_argument("--slipstream-bin", default=os.environ.get("SLIPSTREAM_BIN", ""))
    run.add_argument("--api-port", type=int, default=0, help="Slipstream API port (default: a free one)")
    run.add_argument("--out", default="", help="directory for raw results, configs and logs (default: a temp dir)")
    run.add_argument("--perf", action="store_true", help="perf-record each proxy during each of its runs")
    run.add_argument("--syscalls", action="store_true",
                     help="count each proxy's system calls per unit with `perf trace -s` (tracing slows the "
                          "proxies: rates and CPU of such a run are not comparable with an untraced one)")
    run.add_argument("--wait-quiet", action="store_true",
                     help="wait (poll every 30 s) for the 1-minute load average to drop to --quiet-load first")
    run.add_argument("--quiet-load", type=float, default=1.0)
    run.add_argument("--quiet-max-wait", type=float, default=1200.0, help="seconds (default 1200)")
    run.add_argument("--max-seconds", type=int, default=4 * 3600, help="life limit of the UDP echo backend")
    run.set_defaults(func=cmd_run)
    echo = sub.add_parser("udp-echo", help="UDP echo server")
    echo.add_argument("--addr", required=True)
    echo.add_argument("--port", type=int, required=True)
    echo.add_argument("--max-seconds", type=int, default=3600)
    echo.set_defaults(func=cmd_udp_echo)
    client = sub.add_parser("udp-client", help="sequential UDP round trips; prints one JSON object")
    client.add_argument("--addr", required=True)
    client.add_argument("--port", type=int, required=True)
    client.add_argument("--count", type=int, default=20000)
    client.add_argument("--seconds", type=float, default=10.0)
    client.add_argument("--size", type=int, default=64)
    client.add_argument("--timeout", type=float, default=1.0)
    client.add_argument("--warmup", type=int, default=100)
    client.add_argument("--sessions", type=int, default=1, help="sockets in the closed loop (default 1)")
    client.set_defaults(func=cmd_udp_client)
    args = parser.parse_args()
    try:
        args.func(args)
    except KeyboardInterrupt:
        Proc.stop_all()
        sys.exit(130)


if __name__ == "__main__":
    main()
