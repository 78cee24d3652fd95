#!/usr/bin/env bash
# Run the GA conformance suite (conformance) against a slipstream binary.
#
#   scripts/conformance.sh [pytest args...]      e.g.  -k pagination   or   conformance/test_auth.py
#
# Env:
#   SLIPSTREAM_BIN  server binary (default: .build/debug/slipstream under the repo root;
#                   a relative value is taken relative to the current directory)
#   PYTHON          interpreter used to create the venv (default: python3)
#
# Creates/updates a virtualenv at <repo>/.venv from conformance/requirements.txt, runs pytest with HOME
# pointed at a throw-away directory (importing the Huawei SDK writes $HOME/.huaweicloud), exits with pytest's
# status (non-zero on any failure, including "no tests collected").
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
SUITE_DIR="$REPO_ROOT/conformance"
REQS="$SUITE_DIR/requirements.txt"
VENV="$REPO_ROOT/.venv"
PYTHON="${PYTHON:-python3}"

if [[ -n "${SLIPSTREAM_BIN:-}" ]]; then
    case "$SLIPSTREAM_BIN" in
        /*) BIN="$SLIPSTREAM_BIN" ;;
        *)  BIN="$PWD/$SLIPSTREAM_BIN" ;;
    esac
else
    BIN="$REPO_ROOT/.build/debug/slipstream"
fi
if [[ ! -x "$BIN" ]]; then
    echo "conformance: server binary not found or not executable: $BIN" >&2
    echo "conformance: build it first (swift build) or set SLIPSTREAM_BIN" >&2
    exit 2
fi

ORIG_HOME="${HOME:-}"
TMP_HOME="$(mktemp -d "${TMPDIR:-/tmp}/slipstream-conformance-home.XXXXXX")"
cleanup() { rm -rf "$TMP_HOME"; }
trap cleanup EXIT
# keep pip's download cache where it was (HOME is about to change)
if [[ -z "${PIP_CACHE_DIR:-}" && -n "$ORIG_HOME" ]]; then
    export PIP_CACHE_DIR="$ORIG_HOME/.cache/pip"
fi
export HOME="$TMP_HOME"

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "conformance: creating virtualenv $VENV"
    "$PYTHON" -m venv "$VENV"
fi

STAMP="$VENV/.conformance-requirements.sha256"
WANT="$(sha256sum "$REQS" | cut -d' ' -f1)"
if [[ ! -f "$STAMP" || "$(cat "$STAMP")" != "$WANT" ]]; then
    echo "conformance: installing $REQS"
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQS"
    echo "$WANT" > "$STAMP"
fi

export SLIPSTREAM_BIN="$BIN"
export PYTHONDONTWRITEBYTECODE=1
# Extra arguments go to pytest. If none of them names a test path, the whole suite runs.
TARGETS=("$SUITE_DIR")
for arg in "$@"; do
    if [[ "$arg" != -* && -e "${arg%%::*}" ]]; then
        TARGETS=()
        break
    fi
done
set +e
"$VENV/bin/python" -m pytest "${TARGETS[@]}" -p no:cacheprovider --timeout=300 -ra "$@"
status=$?
set -e
if [[ $status -eq 5 ]]; then
    echo "conformance: no tests were collected" >&2
fi
exit $status
