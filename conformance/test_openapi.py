"""The served OpenAPI document: valid OpenAPI 3 (openapi-spec-validator), and true to the server, checked by a
bounded schemathesis pass: a few generated requests per operation, each answered without a 5xx, with a documented
status, content type and a body that matches the document's schema."""
import os
import subprocess
import sys

import pytest
import requests
from openapi_spec_validator import validate

from conftest import Server, get_token

EXAMPLES_PER_OPERATION = 3
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "response_headers_conformance")


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    """Its own server: generated requests create and delete freely. The data plane is off, so generated listeners
    bind nothing."""
    srv = Server(tmp_path_factory.mktemp("openapi"), env={"SLIPSTREAM_DATA_PLANE": "off",
                                                          "SLIPSTREAM_QUOTA_ACCELERATORS": "2000"}).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def fuzz_token(fuzz_server):
    return get_token(fuzz_server.endpoint, fuzz_server.credentials())


def test_the_served_document_is_valid_openapi(fuzz_server):
    r = requests.get(fuzz_server.endpoint + "/openapi.json", timeout=30)
    assert r.status_code == 200
    validate(r.json())


def test_responses_match_the_document(fuzz_server, fuzz_token, tmp_path):
    """schemathesis's command line, bounded: EXAMPLES_PER_OPERATION generated requests per operation (valid ones:
    `--mode positive`), a fixed seed, one worker."""
    cli = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    cmd = [cli, "run", fuzz_server.endpoint + "/openapi.json",
           "--url", fuzz_server.endpoint,
           "--header", "X-Auth-Token: " + fuzz_token,
           "--checks", ",".join(CHECKS),
           "--mode", "positive",
           "--phases", "examples,fuzzing",
           "--max-examples", str(EXAMPLES_PER_OPERATION),
           "--seed", "20261130",
           "--workers", "1",
           "--request-timeout", "30",
           "--report", "junit", "--report-dir", str(tmp_path)]
    env = dict(os.environ, NO_COLOR="1", SCHEMATHESIS_HOOKS="")
    # Run in tmp_path: schemathesis keeps its example database in the working directory.
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=str(tmp_path))
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-8000:]
    assert "No issues found" in out or " passed" in out, out[-4000:]
