#!/usr/bin/env bash
# Data-plane benchmark: Slipstream's embedded PoP side by side with a direct connection, HAProxy (mode tcp) and
# nginx (stream module), on one machine, loopback addresses only. Not a test: it measures and prints a Markdown
# report (results, proxy CPU and memory, Slipstream relative to HAProxy and nginx) on standard output.
#
#   scripts/benchmark.sh [options]
#
# Options (all optional):
#   --duration S        seconds per load run (default 10)
#   --repeat N          runs per row and engine, engines rotated between repeats; the median is shown (default 1)
#   --rows LIST         comma list of tcp1,tcp4,http_ka,http_close,udp,udp8 (default: all)
#   --engines LIST      comma list of direct,haproxy,nginx,slipstream (default: all)
#   --threads N         wrk threads (default 2)        --connections N   wrk connections (default 50)
#   --udp-count N       UDP round trips per run (default 20000; each run also stops after --duration)
#   --port-base P       ports P+1 (iperf3), P+80 (HTTP), P+53 (UDP) (default 25200)
#   --out DIR           keep configs, logs, raw results (results.jsonl) and report.md here (default: a temp dir)
#   --wait-quiet        first wait (polling every 30 s, up to 20 min) until the 1-minute load average is <= 1.0
#   --perf              also `perf record` each proxy during each of its runs (files in DIR/perf)
#   --syscalls          count each proxy's system calls per request or round trip with `perf trace -s` (files in
#                       DIR/syscalls; tracing slows the proxies, so such a run's rates and CPU are not comparable)
#   --no-install        don't apt-get install the tools (haproxy, nginx, libnginx-mod-stream, iperf3, wrk)
#   --from-head         build a clean export of the committed HEAD (in .build-bench-src) instead of the working
#                       tree, e.g. while uncommitted edits are in progress; the report names the commit either way
#   --no-build          don't build; use SLIPSTREAM_BIN or the existing release build in .build-bench
#   -h, --help          this text
#
# What it does: installs the Debian packages if a tool is missing (apt-get update; apt-get install -y), builds
# slipstream in release mode with its own scratch path (swift build -c release --scratch-path .build-bench
# --product slipstream; a cold build takes 12+ minutes on 2 cores), prepares a Python with the official SDK
# (the repo's .venv if it has huaweicloudsdkga, else .build-bench-venv), then runs scripts/bench/bench.py:
# backends (iperf3 -s, a tiny nginx HTTP server, a UDP echo server) on 127.0.0.2, HAProxy on 127.0.0.3, nginx
# on 127.0.0.4, Slipstream on an accelerator address from 127.30.0.0/24 configured through its GA API
# (SLIPSTREAM_LOG_LEVEL=warning). Every load run is bounded in time; everything it starts is stopped at exit.
#
# Env: SLIPSTREAM_BIN (a slipstream binary to use instead of building), PYTHON (interpreter for the venv).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
SCRATCH="$REPO_ROOT/.build-bench"
PYTHON="${PYTHON:-python3}"
SDK_VERSION="3.1.219"

BENCH_COMMAND="scripts/benchmark.sh"
for arg in "$@"; do BENCH_COMMAND+=" $(printf '%q' "$arg")"; done
export BENCH_COMMAND
install=1
build=1
from_head=0
pass=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --no-install) install=0 ;;
        --no-build) build=0 ;;
        --from-head) from_head=1 ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        --wait-quiet|--perf|--syscalls) pass+=("$1") ;;
        --duration|--repeat|--rows|--engines|--threads|--connections|--udp-count|--port-base|--out)
            [[ $# -ge 2 ]] || { echo "benchmark: $1 needs a value" >&2; exit 2; }
            pass+=("$1" "$2"); shift ;;
        *) echo "benchmark: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
say() { echo "benchmark: $*" >&2; }

# --- tools from Debian packages -------------------------------------------------------------------------------
have_tools() {
    command -v haproxy >/dev/null && command -v nginx >/dev/null && command -v iperf3 >/dev/null &&
        command -v wrk >/dev/null &&
        { [[ -e /usr/lib/nginx/modules/ngx_stream_module.so ]] || nginx -V 2>&1 | grep -q -- '--with-stream[^=]'; }
}
if ! have_tools; then
    if [[ $install -eq 0 ]]; then
        say "haproxy, nginx (+stream module), iperf3 and wrk are needed; run without --no-install"; exit 2
    fi
    say "installing haproxy nginx libnginx-mod-stream iperf3 wrk (Debian packages)"
    # The packages' scripts would start system services (nginx on port 80, haproxy); keep them from starting.
    policy_added=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy_added=1
    fi
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        haproxy nginx libnginx-mod-stream iperf3 wrk >&2
    [[ $policy_added -eq 0 ]] || rm -f /usr/sbin/policy-rc.d
    have_tools || { say "the tools are still missing after apt-get install"; exit 2; }
fi

# --- slipstream release build -----------------------------------------------------------------------------------
STAMP="$SCRATCH/bench-source.txt"   # what the last build of this script was built from, for the report
describe_tree() {
    local head dirty
    head="$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    dirty="$( { git -C "$REPO_ROOT" diff --name-only HEAD -- Sources Package.swift
                git -C "$REPO_ROOT" ls-files --others --exclude-standard -- Sources; } 2>/dev/null | paste -sd, -)"
    echo "working tree at commit $head${dirty:+ + uncommitted changes in ${dirty//,/, }}"
}
if [[ -n "${SLIPSTREAM_BIN:-}" ]]; then
    case "$SLIPSTREAM_BIN" in /*) BIN="$SLIPSTREAM_BIN" ;; *) BIN="$PWD/$SLIPSTREAM_BIN" ;; esac
    export BENCH_SOURCE="binary given in SLIPSTREAM_BIN"
elif [[ $build -eq 1 ]]; then
    PKG="$REPO_ROOT"
    source_text="$(describe_tree)"
    if [[ $from_head -eq 1 ]]; then
        PKG="$REPO_ROOT/.build-bench-src"
        head="$(git -C "$REPO_ROOT" rev-parse HEAD)"
        if [[ "$(cat "$PKG/.bench-commit" 2>/dev/null)" != "$head" ]]; then
            say "exporting HEAD ${head:0:7} to .build-bench-src"
            rm -rf "$PKG" && mkdir -p "$PKG"
            git -C "$REPO_ROOT" archive HEAD | tar -x -C "$PKG"
            # Package.resolved is not committed: reuse the working tree's pins (no network needed).
            [[ ! -f "$REPO_ROOT/Package.resolved" ]] || cp "$REPO_ROOT/Package.resolved" "$PKG/"
            echo "$head" > "$PKG/.bench-commit"
        fi
        source_text="commit ${head:0:7} (clean export of HEAD)"
    fi
    say "building slipstream (release, scratch path .build-bench) from the $source_text"
    swift build -c release --package-path "$PKG" --scratch-path "$SCRATCH" --product slipstream >&2 ||
        { say "the release build failed (--from-head builds the last commit instead)"; exit 1; }
    BIN="$(swift build -c release --package-path "$PKG" --scratch-path "$SCRATCH" --show-bin-path)/slipstream"
    echo "$source_text" > "$STAMP"
    export BENCH_SOURCE="$source_text"
else
    BIN="$SCRATCH/release/slipstream"
    export BENCH_SOURCE="$(cat "$STAMP" 2>/dev/null || echo "existing build in .build-bench (source not recorded)")"
fi
[[ -x "$BIN" ]] || { say "no slipstream binary at $BIN"; exit 2; }

# --- Python with the official SDK -------------------------------------------------------------------------------
TMP_HOME="$(mktemp -d "${TMPDIR:-/tmp}/slipstream-bench-home.XXXXXX")"
trap 'rm -rf "$TMP_HOME"' EXIT
ORIG_HOME="${HOME:-}"
if [[ -z "${PIP_CACHE_DIR:-}" && -n "$ORIG_HOME" ]]; then export PIP_CACHE_DIR="$ORIG_HOME/.cache/pip"; fi
export HOME="$TMP_HOME"   # importing the SDK writes $HOME/.huaweicloud
PY=""
if [[ -x "$REPO_ROOT/.venv/bin/python" ]] && "$REPO_ROOT/.venv/bin/python" -c 'import huaweicloudsdkga' 2>/dev/null; then
    PY="$REPO_ROOT/.venv/bin/python"
else
    VENV="$REPO_ROOT/.build-bench-venv"
    if ! { [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import huaweicloudsdkga' 2>/dev/null; }; then
        say "creating $VENV with huaweicloudsdkga==$SDK_VERSION"
        "$PYTHON" -m venv "$VENV"
        "$VENV/bin/python" -m pip install --disable-pip-version-check -q \
            "huaweicloudsdkcore==$SDK_VERSION" "huaweicloudsdkga==$SDK_VERSION" >&2
    fi
    PY="$VENV/bin/python"
fi

export PYTHONDONTWRITEBYTECODE=1
status=0
"$PY" "$SCRIPT_DIR/bench/bench.py" run --slipstream-bin "$BIN" "${pass[@]}" || status=$?
exit $status
