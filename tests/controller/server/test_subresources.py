"""KubeVirt subresource actions and websocket streams dispatched through a ``SubresourceTable``
(here a table of test handlers; the product's is ``server/subresource_routes.py``)."""

from __future__ import annotations

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.conftest import _start_server, _stop_server
from virtctl.controller.subresource import ActionContext, ActionResult, SubresourceTable
from virtctl.errors import BadRequest, Conflict

BASE = "/apis/subresources.kubevirt.io/v1/namespaces/default"


def _table(calls: list[ActionContext]) -> SubresourceTable:
    def start(ctx: ActionContext) -> ActionResult:
        calls.append(ctx)
        if ctx.name == "running":
            raise Conflict('Operation cannot be fulfilled on virtualmachine.kubevirt.io "running": VM is already '
                           "running")
        return ActionResult(202)

    def screenshot(ctx: ActionContext) -> ActionResult:
        calls.append(ctx)
        return ActionResult(200, b"\x89PNG fake", "image/png")

    def crash(ctx: ActionContext) -> ActionResult:
        raise RuntimeError("bug")

    class Echo:
        def check(self, ctx: ActionContext) -> None:
            calls.append(ctx)
            if ctx.name == "stopped":
                raise BadRequest("VMI is not running")

        def serve(self, ctx: ActionContext, ws) -> None:
            for msg in ws:
                ws.send(msg)

    return SubresourceTable(
        actions={("virtualmachines", "start"): start,
                 ("virtualmachineinstances", "vnc/screenshot"): screenshot,
                 ("virtualmachineinstances", "reset"): crash,
                 ("virtualmachineinstances", "portforward"): start},
        streams={("virtualmachineinstances", "console"): Echo()})


@pytest.fixture
def registered() -> list[ActionContext]:
    """The contexts the test handlers were called with."""
    return []


@pytest.fixture
def api_server(tmp_path, registered):
    """Overrides tests/conftest.py's: this server serves the test handlers."""
    fx, handles = _start_server(tmp_path / "state", subresources=_table(registered))
    try:
        yield fx
    finally:
        _stop_server(handles)


def test_put_action_gets_context(api_server, registered):
    r = api_server.request("PUT", f"{BASE}/virtualmachines/vm1/start?dryRun=All", {"paused": True})
    assert r.status == 202 and r.body == b""
    ctx = registered[-1]
    assert (ctx.namespace, ctx.name, ctx.subresource, ctx.method) == ("default", "vm1", "start", "PUT")
    assert ctx.body == {"paused": True} and ctx.query == {"dryRun": "All"}
    assert ctx.runtime is api_server.runtime and ctx.store is api_server.store
    r = api_server.request("PUT", f"{BASE}/virtualmachines/vm1/start", b"")
    assert r.status == 202 and registered[-1].body == {}
    v1alpha3 = api_server.request("PUT", BASE.replace("/v1/", "/v1alpha3/") + "/virtualmachines/vm1/start", {})
    assert v1alpha3.status == 202


def test_action_errors_are_status(api_server, registered):
    r = api_server.request("PUT", f"{BASE}/virtualmachines/running/start", {})
    assert r.status == 409 and r.json()["message"].endswith("VM is already running")
    r = api_server.request("PUT", f"{BASE}/virtualmachineinstances/x/reset", {})
    assert r.status == 500 and r.json()["kind"] == "Status"
    assert api_server.request("PUT", f"{BASE}/virtualmachines/vm1/fly", {}).status == 404
    assert api_server.request("PUT", f"{BASE}/virtualmachines/vm1/start", b"{oops").status == 400
    assert api_server.request("DELETE", f"{BASE}/virtualmachines/vm1/start").status == 405


def test_get_action_and_parameterised_path(api_server, registered):
    r = api_server.request("GET", f"{BASE}/virtualmachineinstances/v/vnc/screenshot?moveCursor=true")
    assert r.status == 200 and r.headers["Content-Type"] == "image/png" and r.body.startswith(b"\x89PNG")
    r = api_server.request("PUT", f"{BASE}/virtualmachineinstances/v/portforward/22/tcp", {})
    assert r.status == 202 and registered[-1].subresource == "portforward/22/tcp"


def _ws_url(api_server, name="v"):
    return f"wss://127.0.0.1:{api_server.port}{BASE}/virtualmachineinstances/{name}/console"


def test_websocket_stream_echoes(api_server, registered):
    with connect(_ws_url(api_server), ssl=api_server.ssl_context(), subprotocols=["plain.kubevirt.io"],
                 additional_headers={"Authorization": f"Bearer {api_server.token}"}, max_size=None) as ws:
        assert ws.subprotocol == "plain.kubevirt.io"
        payload = bytes(range(256)) * 1024
        ws.send(payload)
        assert ws.recv() == payload
        ws.send(b"\r\n")
        assert ws.recv() == b"\r\n"
    assert registered[-1].subresource == "console"


@pytest.mark.parametrize("token,name,status", [(None, "v", 401), ("wrong", "v", 401), ("ok", "stopped", 400),
                                               ("ok", "v/../x", 404)])
def test_websocket_refusals(api_server, registered, token, name, status):
    headers = {} if token is None else {"Authorization": f"Bearer {api_server.token if token == 'ok' else token}"}
    url = _ws_url(api_server, name) if "/" not in name else \
        f"wss://127.0.0.1:{api_server.port}{BASE}/virtualmachineinstances/v/nothing"
    with pytest.raises(InvalidStatus) as e:
        connect(url, ssl=api_server.ssl_context(), subprotocols=["plain.kubevirt.io"], additional_headers=headers)
    assert e.value.response.status_code == status
    if status == 400:
        assert b"VMI is not running" in e.value.response.body
    if token is None or token == "wrong":
        assert not any(c.name == name and c.subresource == "console" for c in registered)


def test_websocket_wrong_subprotocol_is_refused(api_server, registered):
    with pytest.raises(InvalidStatus) as e:
        connect(_ws_url(api_server), ssl=api_server.ssl_context(), subprotocols=["v4.channel.k8s.io"],
                additional_headers={"Authorization": f"Bearer {api_server.token}"})
    assert e.value.response.status_code == 400
