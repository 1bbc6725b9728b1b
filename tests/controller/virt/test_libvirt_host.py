"""LibvirtHost on libvirt's test driver (in-process, no daemon): lifecycle, status, events.

test:///default keeps its state per process and is shared by all connections, so every domain
here has a unique ``test-`` name and is destroyed afterwards.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid

import pytest

from virtctl.controller.virt.converter import vmi_to_domain
from virtctl.controller.virt.hypervisor import (
    DomainEvent,
    DomainState,
    libvirt_domain_name,
)
from virtctl.controller.virt.libvirt_host import LibvirtHost, ppm_to_png
from virtctl.errors import InternalError, NotFound


@pytest.fixture(scope="module")
def host():
    h = LibvirtHost("test:///default", "node01")
    yield h
    h.close()


@pytest.fixture
def events(host):
    got: list[DomainEvent] = []
    cond = threading.Condition()

    def record(e: DomainEvent):
        with cond:
            got.append(e)
            cond.notify_all()

    host.on_event(record)

    def wait(domain: str, event: str, detail: str | None = None, timeout: float = 5.0) -> DomainEvent:
        def match():
            return next((e for e in got if e.domain == domain and e.event == event
                         and (detail is None or e.detail == detail)), None)
        with cond:
            assert cond.wait_for(match, timeout), f"no {event}/{detail} for {domain}; got {got}"
            return match()
    return wait


def make_domain(host: LibvirtHost, name: str):
    vmi = {"metadata": {"name": name, "namespace": "test-ns", "uid": str(uuid.uuid4())},
           "spec": {"domain": {"memory": {"guest": "128Mi"}, "devices": {"autoattachPodInterface": False,
                                                                          "autoattachSerialConsole": False}}}}
    dom = vmi_to_domain(vmi, host=host.host_info(), disks={}, kernel_boot=None)
    return vmi, dom


def unique(prefix: str) -> str:
    return f"test-{prefix}-{uuid.uuid4().hex[:8]}"


def test_host_info_is_the_test_driver(host):
    caps = host.capabilities()
    assert caps["domain_type"] == "test"


def test_lifecycle_status_and_events(host, events):
    vmi, dom = make_domain(host, unique("life"))
    try:
        host.start(dom.to_xml())
        events(dom.name, "started", "booted")
        st = host.status(dom.name)
        assert (st.state, st.vmi_uid) == (DomainState.RUNNING, vmi["metadata"]["uid"])
        assert dom.name in host.list_domains()
        host.suspend(dom.name)
        events(dom.name, "suspended", "paused")
        assert host.status(dom.name).state == DomainState.PAUSED
        assert host.status(dom.name).reason == "user"
        host.resume(dom.name)
        events(dom.name, "resumed", "unpaused")
        assert host.status(dom.name).state == DomainState.RUNNING
        assert "<name>" + dom.name in host.domain_xml(dom.name)
        host.destroy(dom.name)
        events(dom.name, "stopped", "destroyed")
        st = host.status(dom.name)
        assert (st.state, st.reason, st.vmi_uid) == (DomainState.SHUTOFF, "destroyed", vmi["metadata"]["uid"])
        assert dom.name not in host.list_domains()
    finally:
        host.destroy(dom.name)


def test_start_paused_and_shutdown(host, events):
    _, dom = make_domain(host, unique("paused"))
    try:
        host.start(dom.to_xml(), paused=True)
        assert host.status(dom.name).state == DomainState.PAUSED
        host.resume(dom.name)
        host.shutdown(dom.name)
        events(dom.name, "stopped", "shutdown")
        assert host.status(dom.name).reason == "shutdown"
    finally:
        host.destroy(dom.name)


def test_missing_domains(host):
    name = unique("missing")
    assert host.status(name).state == DomainState.MISSING
    host.destroy(name)                                     # already gone: no error
    with pytest.raises(NotFound):
        host.suspend(name)


def test_abort_migration_without_a_migration_is_false(host):
    # the test driver has no jobs (and cannot migrate): nothing to abort, the domain keeps running
    _, dom = make_domain(host, unique("abort"))
    try:
        host.start(dom.to_xml())
        assert host.abort_migration(dom.name) is False
        assert host.status(dom.name).state == DomainState.RUNNING
    finally:
        host.destroy(dom.name)
    assert host.abort_migration(dom.name) is False         # gone (e.g. migrated away): nothing either


def test_foreign_domains_are_not_listed(host):
    # test:///default ships a domain called "test" without our metadata
    assert "test" not in host.list_domains()


def test_screenshot_is_png(host):
    _, dom = make_domain(host, unique("shot"))
    try:
        host.start(dom.to_xml())
        png = host.screenshot(dom.name)
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
    finally:
        host.destroy(dom.name)


def test_ppm_to_png_encodes_pixels():
    ppm = b"P6\n# comment\n2 1\n255\n" + bytes([255, 0, 0, 0, 255, 0])
    png = ppm_to_png(ppm)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    import struct
    import zlib
    width, height = struct.unpack(">II", png[16:24])
    idat_len = struct.unpack(">I", png[33:37])[0]
    assert (width, height) == (2, 1)
    assert zlib.decompress(png[41:41 + idat_len]) == b"\x00" + bytes([255, 0, 0, 0, 255, 0])
    with pytest.raises(ValueError):
        ppm_to_png(b"P3\n1 1\n255\n0 0 0")


def test_event_loop_thread_is_single(host):
    LibvirtHost("test:///default", "node02").close()
    loops = [t for t in threading.enumerate() if t.name == "libvirt-event-loop"]
    assert len(loops) == 1
    time.sleep(0)


def test_controllers_sharing_a_host_see_only_their_own_domains():
    """Two controllers on one libvirtd (a user's and a test run's) must not adopt or reap each
    other's domains: each host object only lists what it started under its owner id."""
    mine = LibvirtHost("test:///default", "node01", owner_id=unique("controller-a"))
    theirs = LibvirtHost("test:///default", "node01", owner_id=unique("controller-b"))
    try:
        vmi, dom = make_domain(mine, unique("owned"))
        mine.start(dom.to_xml())
        try:
            assert dom.name in mine.list_domains()
            assert mine.list_domains()[dom.name].vmi_uid == vmi["metadata"]["uid"]
            assert dom.name not in theirs.list_domains()
            assert theirs.status(dom.name).state == DomainState.MISSING     # running, but not theirs
        finally:
            mine.destroy(dom.name)
    finally:
        mine.close()
        theirs.close()


def test_two_controllers_run_the_same_namespace_and_name():
    """The libvirt name carries a tag of the controller id: both VMIs `test-ns/<name>` run at once,
    each controller sees its own (uid) and only its own events."""
    # ids of this test alone: the test driver is shared by the process, and a late event of another
    # test's domain with the same controller id would be (rightly) seen as ours
    id_a, id_b = unique("controller-a"), unique("controller-b")
    a = LibvirtHost("test:///default", "node01", owner_id=id_a)
    b = LibvirtHost("test:///default", "node01", owner_id=id_b)
    seen: dict[str, list[DomainEvent]] = {"a": [], "b": []}
    a.on_event(seen["a"].append)
    b.on_event(seen["b"].append)
    name = unique("same")
    vmi_a, dom_a = make_domain(a, name)
    vmi_b, dom_b = make_domain(b, name)
    assert dom_a.name == dom_b.name == f"test-ns_{name}"
    try:
        a.start(dom_a.to_xml())
        b.start(dom_b.to_xml())
        assert a.status(dom_a.name).vmi_uid == vmi_a["metadata"]["uid"]
        assert b.status(dom_b.name).vmi_uid == vmi_b["metadata"]["uid"]
        assert a.libvirt_name(dom_a.name) != b.libvirt_name(dom_b.name)
        assert a.libvirt_name(dom_a.name) == libvirt_domain_name(dom_a.name, id_a)
        uuid_a = a.conn().lookupByName(a.libvirt_name(dom_a.name)).UUIDString()
        uuid_b = b.conn().lookupByName(b.libvirt_name(dom_b.name)).UUIDString()
        assert uuid_a == dom_a.uuid and uuid_b != uuid_a          # libvirt needs unique UUIDs: b derives its own
        a.destroy(dom_a.name)
        deadline = time.monotonic() + 5
        while not any(e.event == "stopped" for e in seen["a"]) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert a.status(dom_a.name).state == DomainState.SHUTOFF         # (known from the event)
        assert b.status(dom_b.name).state == DomainState.RUNNING         # a's destroy left b's alone
        assert [e.event for e in seen["a"] if e.domain == dom_a.name][-1:] == ["stopped"]
        assert {e.domain for e in seen["a"]} <= {dom_a.name} and {e.domain for e in seen["b"]} <= {dom_b.name}
        assert not any(e.event == "stopped" for e in seen["b"])             # b never heard of a's domain
    finally:
        a.destroy(dom_a.name)
        b.destroy(dom_b.name)
        a.close()
        b.close()


def test_domains_with_the_old_untagged_name_are_adopted():
    """After an upgrade, a domain started as plain `<namespace>_<name>` whose metadata names this
    controller is still ours (listed, controlled, its events seen); another controller's is not."""
    import libvirt

    from virtctl.controller.virt.domain import Owner

    conn = libvirt.open("test:///default")
    id_a = unique("controller-a")       # ids of this test alone (the test driver is shared by the process)
    mine = LibvirtHost("test:///default", "node01", owner_id=id_a)
    theirs = LibvirtHost("test:///default", "node01", owner_id=unique("controller-b"))
    got: list[DomainEvent] = []
    mine.on_event(got.append)
    vmi, dom = make_domain(mine, unique("legacy"))
    dom.owner = Owner(dom.owner.namespace, dom.owner.name, dom.owner.uid, id_a)
    conn.createXML(dom.to_xml(), 0)                     # as an older controller started it
    try:
        assert mine.list_domains()[dom.name].vmi_uid == vmi["metadata"]["uid"]
        assert dom.name not in theirs.list_domains()
        assert mine.libvirt_name(dom.name) == dom.name
        mine.suspend(dom.name)
        assert mine.status(dom.name).state == DomainState.PAUSED
        mine.destroy(dom.name)
        deadline = time.monotonic() + 5
        while not any(e.event == "stopped" for e in got) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert mine.status(dom.name).state == DomainState.SHUTOFF
        assert {e.domain for e in got} == {dom.name}
        assert [e.event for e in got if e.event in ("suspended", "stopped")] == ["suspended", "stopped"]
        mine.start(dom.to_xml())                         # started again: under the tagged name
        assert mine.libvirt_name(dom.name) == libvirt_domain_name(dom.name, id_a)
        assert mine.status(dom.name).state == DomainState.RUNNING
    finally:
        mine.destroy(dom.name)
        with contextlib.suppress(libvirt.libvirtError):
            conn.lookupByName(dom.name).destroy()
        conn.close()
        mine.close()
        theirs.close()


def test_unreachable_libvirtd_is_retried_on_use(tmp_path):
    """A controller starting before libvirtd still comes up; each use tries the connection again."""
    h = LibvirtHost(f"qemu+unix:///system?socket={tmp_path}/libvirt-sock", "node01")
    try:
        with pytest.raises(InternalError, match="cannot connect to libvirt at qemu\\+unix:///system"):
            h.conn()
        with pytest.raises(InternalError, match="cannot connect to libvirt"):
            h.host_info()
    finally:
        h.close()


def test_a_uuid_taken_between_the_check_and_the_start_is_replaced():
    """Two controllers starting the same namespace/name at once: the one whose createXML loses the
    race for the UUID takes its own and starts anyway."""
    a = LibvirtHost("test:///default", "node01", owner_id=unique("controller-a"))
    raced: list[bool] = []

    class Racing(LibvirtHost):
        def _unique_uuid(self, root):
            changed = super()._unique_uuid(root)
            if not raced:                                   # the other controller starts right now
                raced.append(True)
                a.start(dom_a.to_xml())
            return changed

    b = Racing("test:///default", "node01", owner_id=unique("controller-b"))
    name = unique("race")
    vmi_a, dom_a = make_domain(a, name)
    vmi_b, dom_b = make_domain(b, name)
    try:
        b.start(dom_b.to_xml())
        assert raced
        assert a.status(dom_a.name).vmi_uid == vmi_a["metadata"]["uid"]
        assert b.status(dom_b.name).vmi_uid == vmi_b["metadata"]["uid"]
    finally:
        a.destroy(dom_a.name)
        b.destroy(dom_b.name)
        a.close()
        b.close()
