"""A domain's serial console read straight through libvirt-python, as a user's ``virsh console``
reads it: a NONBLOCK stream served by the event loop (docs/standalone.md#measured-libvirt-and-qemu-facts).
Used where a test or a benchmark plays a party other than the controller."""

from __future__ import annotations

import contextlib
import threading
from typing import Any


def read_console(conn: Any, dom: Any, marker: bytes, timeout: float) -> tuple[bytes, list[str]]:
    """Read the domain's console until ``marker``: what came, and how the stream ended if it did
    (the domain went away, or something opening it with FORCE took it). A failing stream ends the
    wait with its reason instead of raising in the event loop; the teardown never raises."""
    import libvirt

    buf, ended, cond = bytearray(), [], threading.Condition()

    def on_event(stream: Any, events: int, _opaque: Any) -> None:
        with cond:
            try:
                while (d := stream.recv(65536)) not in (-2, b""):
                    buf.extend(d)
                if d == b"":
                    ended.append("end of stream")
            except libvirt.libvirtError as e:
                ended.append(str(e))
            if events & (libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP):
                ended.append(f"stream events {events}")
            cond.notify_all()

    st = conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
    try:
        dom.openConsole(None, st, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
        st.eventAddCallback(libvirt.VIR_STREAM_EVENT_READABLE | libvirt.VIR_STREAM_EVENT_ERROR
                            | libvirt.VIR_STREAM_EVENT_HANGUP, on_event, None)
        with cond:
            cond.wait_for(lambda: marker in buf or bool(ended), timeout)
            return bytes(buf), list(ended)
    finally:
        for step in (st.eventRemoveCallback, st.abort):
            with contextlib.suppress(libvirt.libvirtError):
                step()
