"""Durability: every 2xx write survives `kill -9` and a restart on the same data dir."""

from conftest import (Account, Server, create_accelerator, create_endpoint, create_endpoint_group,
                      create_health_check, create_listener, delete, expect_error, make_client, show, wait_active,
                      wait_gone)
from conftest import ListAcceleratorsRequest, UpdateAcceleratorOption, UpdateAcceleratorRequest, \
    UpdateAcceleratorRequestBody


def test_kill9_and_restart_keeps_everything(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("durable")
    srv = Server(data_dir).start()
    try:
        creds = srv.credentials()
        a = Account(srv, creds)
        c = a.client
        acc = create_accelerator(c)
        lis = create_listener(c, acc.id)
        eg = create_endpoint_group(c, lis.id)
        ep = create_endpoint(c, eg.id, weight=42)
        hc = create_health_check(c, eg.id, enabled=False)
        doomed = create_accelerator(c)
        renamed = create_accelerator(c)
        b_creds = srv.create_account()
        b = Account(srv, b_creds)
        b_acc = create_accelerator(b.client, wait=False)
        # the last writes happen right before the kill: no wait for ACTIVE, no grace period
        r = c.update_accelerator(UpdateAcceleratorRequest(
            accelerator_id=renamed.id,
            body=UpdateAcceleratorRequestBody(accelerator=UpdateAcceleratorOption(name="renamed-before-kill"))))
        assert r.status_code == 200
        assert delete(c, "accelerator", doomed.id).status_code == 204
        pending = create_accelerator(c, wait=False)
        srv.kill9()

        srv.start()           # same data dir, new port
        creds2 = srv.credentials()
        assert creds2 == creds, "credentials.json changed across a restart"
        c = make_client(srv.endpoint, creds)
        assert show(c, "accelerator", acc.id).ip_sets[0].ip_address == acc.ip_sets[0].ip_address
        assert show(c, "listener", lis.id).accelerator_id == acc.id
        assert show(c, "endpoint_group", eg.id).region_id == eg.region_id
        assert show(c, "endpoint", (eg.id, ep.id)).weight == 42
        assert show(c, "health_check", hc.id).enabled is False
        assert show(c, "accelerator", renamed.id).name == "renamed-before-kill"
        got = wait_active(c, "accelerator", pending.id)       # the reconciler picks PENDING work up again
        assert got.ip_sets[0].ip_address == pending.ip_sets[0].ip_address
        wait_gone(c, "accelerator", doomed.id)                  # never resurrected as ACTIVE
        # the second account and its resource survived as well
        cb = make_client(srv.endpoint, b_creds)
        assert show(cb, "accelerator", b_acc.id).domain_id == b_creds["domain_id"]
        expect_error(lambda: show(c, "accelerator", b_acc.id), 404, "GA.9002")
        # addresses handed out before the crash are not handed out again
        fresh = create_accelerator(c, wait=False)
        old_ips = {x.ip_sets[0].ip_address for x in (acc, renamed, pending)}
        assert fresh.ip_sets[0].ip_address not in old_ips
        # the IAM password still works after the restart
        assert Account(srv, creds).token()
    finally:
        srv.stop()


def test_kill9_right_after_create(tmp_path_factory):
    """Several rapid creates, then SIGKILL immediately after the last 201."""
    data_dir = tmp_path_factory.mktemp("durable2")
    srv = Server(data_dir).start()
    try:
        creds = srv.credentials()
        c = make_client(srv.endpoint, creds)
        ids = [create_accelerator(c, wait=False).id for _ in range(5)]
        srv.kill9()
        srv.start()
        c = make_client(srv.endpoint, creds)
        for i in ids:
            assert show(c, "accelerator", i).id == i
        listed = c.list_accelerators(ListAcceleratorsRequest()).accelerators
        assert sorted(x.id for x in listed) == sorted(ids)
        for i in ids:
            wait_active(c, "accelerator", i)
    finally:
        srv.stop()
