#!/usr/bin/env bash
# The whole test suite: formatting, the Swift Testing suites, then the conformance suite that drives a real
# `slipstream serve` with the official Huawei Cloud Python SDK (installed into .venv by scripts/conformance.sh), on
# SQLite and, when SLIPSTREAM_TEST_DATABASE_URL names a PostgreSQL server, again on PostgreSQL.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "== swift format lint"
swift format lint --strict --recursive Sources Tests

echo "== swift build"
swift build --build-tests

echo "== swift test"
swift test --skip-build

echo "== conformance (official SDK against slipstream serve on SQLite)"
SLIPSTREAM_TEST_DATABASE_URL= SLIPSTREAM_BIN="$PWD/.build/debug/slipstream" bash scripts/conformance.sh

# With a PostgreSQL server for the tests, the suite runs again with every server on PostgreSQL.
if [ -n "${SLIPSTREAM_TEST_DATABASE_URL:-}" ]; then
    echo "== conformance (official SDK against slipstream serve on PostgreSQL)"
    SLIPSTREAM_BIN="$PWD/.build/debug/slipstream" bash scripts/conformance.sh
fi
