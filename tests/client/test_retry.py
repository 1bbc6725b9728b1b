"""A request is sent again on a new connection only when that cannot duplicate it (Go's
``shouldRetryRequest``): through a real proxy that forwards a POST and then resets the connection,
one object is created, never two; GETs are replayed; an idle connection the server closed is
replaced before a request goes out on it."""

from __future__ import annotations

import json
import ssl

import pytest

from tests.cli.conftest import run_cli
from tests.client.proxies import DroppingProxy
from virtctl.client import KubeVirtClient, Overrides, resolve
from virtctl.client.transport import may_retry
from virtctl.errors import ConnectionFailed
from virtctl.model import kinds

VMS = "/apis/kubevirt.io/v1/namespaces/default/virtualmachines"
SNAPSHOTS = "/apis/snapshot.kubevirt.io/v1beta1/namespaces/default/virtualmachinesnapshots"


def vm(name: str) -> dict:
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": name},
            "spec": {"runStrategy": "Halted", "template": {"spec": {"domain": {"devices": {}}}}}}


def drop_first(method: str, part: str):
    """A policy: reset the connection after forwarding the first ``method`` (not a dry run) to ``part``."""
    dropped: list[bool] = []

    def policy(m: str, target: str) -> str:
        if m == method and part in target and "dryRun" not in target and not dropped:
            dropped.append(True)
            return "drop"
        return "relay"
    return policy


@pytest.fixture
def proxy_for(api_server, tmp_path, monkeypatch):
    made: list[DroppingProxy] = []

    def make(policy) -> DroppingProxy:
        p = DroppingProxy(api_server.port, api_server.ca_path, policy)
        made.append(p)
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        monkeypatch.setenv("KUBECONFIG", str(p.kubeconfig(tmp_path / f"proxy{len(made)}.kubeconfig",
                                                          api_server.token)))
        return p
    yield make
    for p in made:
        p.stop()


def names(api_server, path: str) -> list[str]:
    res = api_server.request("GET", path)
    assert res.status == 200, res.body
    return [o["metadata"]["name"] for o in res.json()["items"]]


# ---- the rule, without sockets

@pytest.mark.parametrize("method,headers,error,reused,sent,answered,expected", [
    ("POST", {}, ConnectionResetError(), True, 0, False, True),       # nothing written: safe
    ("POST", {}, ConnectionResetError(), True, 120, False, False),    # written: the server may have it
    ("PUT", {}, ConnectionResetError(), True, 120, False, False),     # PUT is not replayable in Go
    ("PATCH", {}, BrokenPipeError(), True, 10, False, False),
    ("DELETE", {}, ConnectionResetError(), True, 10, False, False),
    ("POST", {"Idempotency-Key": "k"}, ConnectionResetError(), True, 10, False, True),
    ("GET", {}, ConnectionResetError(), True, 80, False, True),
    ("HEAD", {}, ConnectionAbortedError(), True, 80, False, True),
    ("GET", {}, ssl.SSLEOFError(), True, 80, False, True),
    ("GET", {}, ConnectionResetError(), True, 80, True, False),       # part of the answer arrived
    ("GET", {}, TimeoutError(), True, 80, False, False),              # a time-out is not a closed idle conn
    ("GET", {}, ConnectionResetError(), False, 80, False, False),     # a fresh connection is not retried
    ("POST", {}, ConnectionResetError(), False, 0, False, False),
])
def test_retry_rule_follows_go(method, headers, error, reused, sent, answered, expected):
    assert may_retry(method, headers, error, reused=reused, sent=sent, answered=answered) is expected


# ---- through a dropping proxy

def test_snapshot_create_through_a_dropping_proxy_creates_one_snapshot(api_server, proxy_for):
    assert api_server.request("POST", VMS, vm("snapme")).status == 201
    proxy = proxy_for(drop_first("POST", "virtualmachinesnapshots"))
    res = run_cli(["snapshot", "create", "snapme"])
    assert res.code == 1, res
    assert "connection to 127.0.0.1:" in res.err and "was closed by the server" in res.err, res.err
    assert "Traceback" not in res.err
    assert proxy.count("POST", "virtualmachinesnapshots") == 1
    assert len(names(api_server, SNAPSHOTS)) == 1                # generateName: a resend would make two


def test_apply_of_a_new_vm_through_a_dropping_proxy_writes_it_once(api_server, proxy_for, tmp_path):
    manifest = tmp_path / "vm.yaml"
    manifest.write_text(json.dumps(vm("applied-once")))
    proxy = proxy_for(drop_first("POST", "virtualmachines"))
    res = run_cli(["apply", "-f", str(manifest)])
    assert res.code == 1 and "AlreadyExists" not in res.err and "already exists" not in res.err, res
    writes = [t for m, t in proxy.forwarded if m == "POST" and t.startswith(VMS) and "dryRun" not in t]
    assert len(writes) == 1                                       # the one write, never resent
    assert names(api_server, VMS) == ["applied-once"]
    again = run_cli(["apply", "-f", str(manifest)])               # what was written is what was asked
    assert again.code == 0 and again.out == "virtualmachine.kubevirt.io/applied-once unchanged\n", again


def test_a_get_whose_answer_was_lost_is_sent_again(api_server, proxy_for):
    gets: list[str] = []

    def policy(method: str, target: str) -> str:
        gets.append(method)
        return "drop" if len(gets) == 2 else "relay"
    proxy = proxy_for(policy)
    api_server.request("POST", VMS, vm("read-twice"))
    kv = KubeVirtClient.from_config(resolve(Overrides()))
    try:
        assert kv.get(kinds.VM, "read-twice")["metadata"]["name"] == "read-twice"
        assert kv.get(kinds.VM, "read-twice")["metadata"]["name"] == "read-twice"   # dropped, replayed
    finally:
        kv.close()
    assert proxy.count("GET", "/read-twice") == 3


def test_a_post_on_a_connection_the_server_closed_while_idle_goes_out_once_on_a_new_one(api_server, proxy_for):
    proxy = proxy_for(lambda method, target: "close" if method == "GET" else "relay")
    kv = KubeVirtClient.from_config(resolve(Overrides()))
    try:
        kv.list(kinds.VM)
        assert proxy.closed.wait(10)              # the keep-alive connection is gone now
        kv.create(kinds.VM, vm("after-idle-close"))
    finally:
        kv.close()
    assert proxy.count("POST", VMS) == 1
    assert names(api_server, VMS) == ["after-idle-close"]


def test_a_post_whose_answer_was_lost_fails_instead_of_repeating(api_server, proxy_for):
    proxy = proxy_for(drop_first("POST", "virtualmachines"))
    kv = KubeVirtClient.from_config(resolve(Overrides()))
    try:
        kv.list(kinds.VM)                          # so that the POST reuses a keep-alive connection
        with pytest.raises(ConnectionFailed):
            kv.create(kinds.VM, vm("posted-once"))
    finally:
        kv.close()
    assert proxy.count("POST", VMS) == 1
    assert names(api_server, VMS) == ["posted-once"]
