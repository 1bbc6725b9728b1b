"""Chunked watch streams over HTTPS (docs/compatibility.md#watch)."""

from __future__ import annotations

import threading
import time

from tests.conftest import load_example
from tests.controller.server.helpers import TABLE_ACCEPT, VMS, WatchStream
from virtctl.model import kinds


def vm_body(name):
    body = load_example("vm-cirros")
    body["metadata"] = {"name": name}
    return body


def test_watch_without_rv_replays_then_streams(api_server):
    api_server.request("POST", VMS, vm_body("a"))
    w = WatchStream(api_server, f"{VMS}?watch=true")
    try:
        assert w.resp.status == 200 and w.resp.headers["Transfer-Encoding"] == "chunked"
        ev = w.next_event()
        assert ev["type"] == "ADDED" and ev["object"]["metadata"]["name"] == "a"
        api_server.request("PATCH", f"{VMS}/a", {"metadata": {"labels": {"x": "1"}}},
                           headers={"Content-Type": "application/merge-patch+json"})
        ev = w.next_event()
        assert ev["type"] == "MODIFIED" and ev["object"]["metadata"]["labels"] == {"x": "1"}
        api_server.request("DELETE", f"{VMS}/a")
        assert w.next_event()["type"] == "DELETED"
    finally:
        w.close()


def test_watch_from_list_rv_sees_only_later_events(api_server):
    api_server.request("POST", VMS, vm_body("a"))
    rv = api_server.request("GET", VMS).json()["metadata"]["resourceVersion"]
    w = WatchStream(api_server, f"{VMS}?watch=1&resourceVersion={rv}&fieldSelector=metadata.name%3Db")
    try:
        api_server.request("POST", VMS, vm_body("c"))
        api_server.request("POST", VMS, vm_body("b"))
        ev = w.next_event()
        assert ev["type"] == "ADDED" and ev["object"]["metadata"]["name"] == "b"
    finally:
        w.close()


def test_timeout_seconds_ends_the_stream(api_server):
    t0 = time.monotonic()
    w = WatchStream(api_server, f"{VMS}?watch=true&resourceVersion=0&timeoutSeconds=1")
    try:
        assert list(w.events()) == []
        assert 0.9 < time.monotonic() - t0 < 5
    finally:
        w.close()


def test_too_old_rv_gives_error_event(api_server):
    from virtctl.controller.runtime import Runtime
    from virtctl.controller.store import ObjectStore
    small = ObjectStore(api_server.settings.state_dir / "small.db", history_limit=3)
    api_server.server.state.runtime = Runtime.create(small, api_server.settings)
    try:
        for i in range(6):
            small.create(kinds.VM, "default", vm_body(f"v{i}"))
        w = WatchStream(api_server, f"{VMS}?watch=true&resourceVersion=1")
        ev = w.next_event()
        assert ev["type"] == "ERROR"
        assert ev["object"]["code"] == 410 and ev["object"]["reason"] == "Expired"
        assert ev["object"]["message"].startswith("too old resource version: 1 (")
        assert w.next_event() is None
        w.close()
    finally:
        api_server.server.state.runtime = api_server.runtime
        small.close()


def test_bookmarks_only_when_allowed(api_server, monkeypatch):
    from virtctl.controller.store import watch as watch_mod
    monkeypatch.setattr(watch_mod, "BOOKMARK_INTERVAL", 0.1)
    rv = api_server.store.resource_version
    w = WatchStream(api_server, f"{VMS}?watch=true&allowWatchBookmarks=true&resourceVersion={rv}&timeoutSeconds=2")
    try:
        ev = w.next_event()
        assert ev["type"] == "BOOKMARK"
        assert ev["object"] == {"kind": "VirtualMachine", "apiVersion": "kubevirt.io/v1",
                                "metadata": {"resourceVersion": rv}}
    finally:
        w.close()
    w = WatchStream(api_server, f"{VMS}?watch=true&resourceVersion={rv}&timeoutSeconds=1")
    try:
        assert list(w.events()) == []
    finally:
        w.close()


def test_table_watch_sends_columns_once(api_server):
    api_server.request("POST", VMS, vm_body("a"))
    api_server.request("POST", VMS, vm_body("b"))
    w = WatchStream(api_server, f"{VMS}?watch=true&resourceVersion=0", headers={"Accept": TABLE_ACCEPT})
    try:
        first, second = w.next_event(), w.next_event()
        assert first["object"]["kind"] == "Table" and len(first["object"]["rows"]) == 1
        assert "columnDefinitions" in first["object"] and "columnDefinitions" not in second["object"]
        assert second["object"]["rows"][0]["cells"][0] == "b"
    finally:
        w.close()


def test_watch_ends_when_client_leaves_and_on_shutdown(api_server):
    w = WatchStream(api_server, f"{VMS}?watch=true")
    w.close()
    time.sleep(1.5)                                 # the server notices within its poll interval
    assert api_server.store._watches == []
    w2 = WatchStream(api_server, f"{VMS}?watch=true")
    done = threading.Event()
    threading.Thread(target=lambda: (list(w2.events()), done.set()), daemon=True).start()
    api_server.server.shutdown()
    assert done.wait(5)
    w2.close()
