"""Control-plane scale benchmark: does the cost of a write grow with the size of the configuration?

Creates N accelerators with one one-port TCP listener each through the GA API (plain HTTP with an IAM token, one
keep-alive connection), and around the sizes given (default 200, 1000, 3000) measures, for SAMPLES consecutive
accelerators each:
  - create latency: the time of the two creates (accelerator, then listener), as the client sees it;
  - time to ACTIVE: from the listener create's answer until GET shows the listener ACTIVE (polled every 2 ms),
    i.e. until every live PoP has applied it.
Between the sample points it creates without waiting. Modes (one fresh data directory or database each):
  sqlite-embedded   `serve` on SQLite with its embedded PoP
  sqlite-pop1/2     `serve --no-data-plane` on SQLite and one or two `slipstream pop` processes
  postgres-pop1/2   the same on PostgreSQL (needs --database-url of a server it may create databases on)
Two PoPs on one host bind the same addresses with SO_REUSEPORT; no traffic is sent, so that is fine here.

Not a test: prints a Markdown table on standard output. Every process it starts is stopped at exit.
"""

import argparse
import base64
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

import requests


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    def __init__(self):
        self.procs = []

    def start(self, cmd, env, log):
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs.append(proc)
        return proc

    def stop_all(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs = []


def wait_until(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise SystemExit("timed out waiting for " + what)


def run_mode(args, mode, workdir):
    database, pops = mode.split("-")
    remote_pops = 0 if pops == "embedded" else int(pops[-1])
    procs = Processes()
    data_dir = os.path.join(workdir, mode)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPSTREAM_")}
    env.update({"SLIPSTREAM_LOG_LEVEL": "warning", "SLIPSTREAM_QUOTA_ACCELERATORS": str(args.count + 10),
                "SLIPSTREAM_QUOTA_PORTS_PER_ACCOUNT": str(args.count + 10)})
    db_name = None
    if database == "postgres":
        if not args.database_url:
            raise SystemExit("%s needs --database-url" % mode)
        db_name = "slipstream_scale_" + uuid.uuid4().hex[:12]
        subprocess.run(["psql", args.database_url, "-qc", "CREATE DATABASE " + db_name], check=True, capture_output=True)
        url = urllib.parse.urlunsplit(urllib.parse.urlsplit(args.database_url)._replace(path="/" + db_name))
        env.update({"SLIPSTREAM_DATABASE_URL": url, "SLIPSTREAM_MASTER_KEY": base64.b64encode(os.urandom(32)).decode()})
    port = free_port()
    endpoint = "http://127.0.0.1:%d" % port
    try:
        cmd = [args.binary, "serve", "--port", str(port), "--data-dir", data_dir]
        if remote_pops:
            cmd.append("--no-data-plane")
        procs.start(cmd, env, data_dir + ".serve.log")
        wait_until(lambda: requests.get(endpoint + "/healthz", timeout=2).status_code == 200, 60, "serve")
        creds_path = os.path.join(data_dir, "credentials.json")
        wait_until(lambda: os.path.exists(creds_path) and os.path.getsize(creds_path) > 0, 30, "credentials")
        creds = json.load(open(creds_path))
        for index in range(remote_pops):
            out = subprocess.run([args.binary, "admin", "create-pop", "--data-dir", data_dir, "--pop-id", "pop-%d" % index,
                                  "--region", "ap-southeast-1"], env=env, check=True, capture_output=True)
            credential = os.path.join(workdir, "%s-pop-%d.json" % (mode, index))
            open(credential, "wb").write(out.stdout)
            procs.start([args.binary, "pop", "--control-plane", endpoint, "--credential-file", credential,
                         "--state-dir", os.path.join(workdir, "%s-pop-%d" % (mode, index))], env,
                        os.path.join(workdir, "%s-pop-%d.log" % (mode, index)))
        session = requests.Session()
        token_body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": creds["user_name"], "password": creds["password"], "domain": {"name": creds["domain_name"]}}}},
            "scope": {"domain": {"name": creds["domain_name"]}}}}
        token = session.post(endpoint + "/v3/auth/tokens", json=token_body, timeout=10).headers["X-Subject-Token"]
        session.headers.update({"X-Auth-Token": token, "Content-Type": "application/json"})
        if remote_pops:
            def live():
                pops = session.get(endpoint + "/v1/pops", timeout=10).json()["pops"]
                return sum(p["status"] == "ACTIVE" for p in pops) == remote_pops
            wait_until(live, 60, "PoPs live")
        points = sorted(args.points)
        samples = {point: {"create": [], "active": []} for point in points}
        started = time.monotonic()
        for index in range(1, args.count + 1):
            t0 = time.monotonic()
            r = session.post(endpoint + "/v1/accelerators", timeout=60, json={"accelerator": {
                "name": "scale-%d" % index, "enterprise_project_id": "0",
                "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}]}})
            assert r.status_code == 201, r.text
            accelerator = r.json()["accelerator"]["id"]
            r = session.post(endpoint + "/v1/listeners", timeout=60, json={"listener": {
                "name": "scale-%d" % index, "protocol": "TCP", "accelerator_id": accelerator,
                "port_ranges": [{"from_port": args.port, "to_port": args.port}]}})
            assert r.status_code == 201, r.text
            t1 = time.monotonic()
            listener = r.json()["listener"]["id"]
            point = next((p for p in points if p - args.samples < index <= p), None)
            if point is None:
                continue
            for _ in range(100_000):
                status = session.get(endpoint + "/v1/listeners/" + listener, timeout=60).json()["listener"]["status"]
                if status == "ACTIVE":
                    break
                if status == "ERROR":
                    raise SystemExit("listener %s went ERROR in %s" % (listener, mode))
                time.sleep(0.002)
            t2 = time.monotonic()
            samples[point]["create"].append((t1 - t0) * 1000)
            samples[point]["active"].append((t2 - t1) * 1000)
        elapsed = time.monotonic() - started
        return samples, elapsed
    finally:
        procs.stop_all()
        if db_name:
            subprocess.run(["psql", args.database_url, "-qc", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % db_name],
                           capture_output=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--modes", default="sqlite-embedded,sqlite-pop1,sqlite-pop2,postgres-pop1,postgres-pop2")
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--points", type=lambda s: [int(x) for x in s.split(",")], default=[200, 1000, 3000])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--port", type=int, default=20080)
    parser.add_argument("--database-url", default=os.environ.get("SLIPSTREAM_TEST_DATABASE_URL"))
    parser.add_argument("--workdir")
    args = parser.parse_args()
    workdir = args.workdir or tempfile.mkdtemp(prefix="slipstream-scale-")
    print("| mode | accelerators | create p50 (ms) | create p90 | time to ACTIVE p50 (ms) | p90 | p50 ÷ p50 at %d |"
          % min(args.points))
    print("|---|---:|---:|---:|---:|---:|---:|")
    for mode in args.modes.split(","):
        samples, elapsed = run_mode(args, mode, workdir)
        base = statistics.median(samples[min(args.points)]["create"])
        for point in sorted(samples):
            create, active = samples[point]["create"], samples[point]["active"]
            q = lambda xs, f: sorted(xs)[min(len(xs) - 1, int(f * len(xs)))]
            print("| %s | %d | %.1f | %.1f | %.1f | %.1f | %.2f× |" % (
                mode, point, statistics.median(create), q(create, 0.9), statistics.median(active), q(active, 0.9),
                statistics.median(create) / base))
        sys.stdout.flush()
        print("<!-- %s: %d accelerators in %.0f s -->" % (mode, args.count, elapsed), flush=True)
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
