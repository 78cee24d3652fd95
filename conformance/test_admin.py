"""First-start account bootstrap and `slipstream admin create-account`."""
import json
import os
import subprocess

from conftest import CRED_KEYS, ListAcceleratorsRequest, get_token, make_client, uniq


def test_credentials_file_written_on_first_start(server, acct_a):
    path = os.path.join(server.data_dir, "credentials.json")
    with open(path) as f:
        creds = json.load(f)
    for k in CRED_KEYS:
        assert isinstance(creds.get(k), str) and creds[k], "credentials.json lacks %s" % k
    assert creds == acct_a.creds


def test_credentials_printed_at_startup(server, acct_a):
    log = server.log_text()
    assert acct_a.creds["access_key"] in log, "the bootstrap credentials should be printed on first start"


def test_create_account_prints_one_json_object(server):
    name = uniq("acct-admin")
    res = server.create_account_raw(name)
    assert res.returncode == 0, res.stderr[-2000:]
    out = res.stdout.decode("utf-8").strip()
    obj = json.loads(out)           # must be exactly one JSON document
    assert isinstance(obj, dict)
    for k in CRED_KEYS:
        assert isinstance(obj.get(k), str) and obj[k], "create-account output lacks %s: %r" % (k, obj)
    assert obj["domain_name"] == name or name in json.dumps(obj), "the account name should be used: %r" % obj


def test_new_accounts_are_distinct_and_usable(server, acct_a):
    c1 = server.create_account()
    c2 = server.create_account()
    assert len({acct_a.creds["domain_id"], c1["domain_id"], c2["domain_id"]}) == 3
    assert len({acct_a.creds["access_key"], c1["access_key"], c2["access_key"]}) == 3
    client = make_client(server.endpoint, c1)
    r = client.list_accelerators(ListAcceleratorsRequest())
    assert r.status_code == 200
    assert r.accelerators == [] and r.page_info.current_count == 0
    assert get_token(server.endpoint, c2)


def test_create_account_duplicate_name_is_safe(server):
    name = uniq("acct-dup")
    first = server.create_account_raw(name)
    assert first.returncode == 0
    second = server.create_account_raw(name)
    # Refused with a reason; the first account is untouched and still signs in.
    assert second.returncode != 0 and second.stdout == b"", second.stdout
    assert b"already exists" in second.stderr, second.stderr
    assert get_token(server.endpoint, json.loads(first.stdout.decode()))


def test_admin_commands_refuse_a_data_directory_that_does_not_exist(tmp_path):
    # A mistyped --data-dir names no store: refused with the reason, and nothing is created there.
    missing = tmp_path / "no-such-dir"
    for args in (["create-account", "--name", uniq("acct")], ["create-pop", "--pop-id", "sin-9", "--region", "cn-north-4"],
                 ["delete-pop", "--pop-id", "sin-9"], ["rotate-pop-token", "--pop-id", "sin-9"]):
        res = subprocess.run([os.environ["SLIPSTREAM_BIN"], "admin", args[0], "--data-dir", str(missing)] + args[1:],
                             stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
                             env={k: v for k, v in os.environ.items() if not k.startswith("SLIPSTREAM_")})
        assert res.returncode != 0 and b"no Slipstream data directory" in res.stderr, (args, res.stderr)
        assert not missing.exists(), args
