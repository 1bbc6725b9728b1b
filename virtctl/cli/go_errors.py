"""Errors worded as Go virtctl words them: inside ``fmt.Errorf("Error starting VirtualMachine %v", err)``
the error of a request that got no answer is Go's ``url.Error`` — ``Put "https://…/start": dial tcp
127.0.0.1:1: connect: connection refused`` — and that of an answered one is the Status message."""

from __future__ import annotations

from virtctl.errors import ConnectionFailed, VirtctlError

_KUBECTL_PREFIX = "Unable to connect to the server: "
_REFUSED = ("The connection to the server ", " was refused - did you specify the right host or port?")


def cause(e: ConnectionFailed) -> str:
    """The ``Err`` inside Go's url.Error: ``dial tcp 127.0.0.1:1: connect: connection refused``, …"""
    text = e.message
    if text.startswith(_REFUSED[0]) and text.endswith(_REFUSED[1]):
        return f"dial tcp {text[len(_REFUSED[0]):-len(_REFUSED[1])]}: connect: connection refused"
    return text.removeprefix(_KUBECTL_PREFIX)


def url_error(e: ConnectionFailed) -> str | None:
    """``<Method> "<url>": <cause>`` for a request that failed before an answer, or None if unknown."""
    method, url = getattr(e, "method", ""), getattr(e, "url", "")
    if not method or not url:
        return None
    return f'{method[:1].upper()}{method[1:].lower()} "{url}": {cause(e)}'


def server_version_error(e: VirtctlError) -> str:
    """kubecli's ServerVersion().Get() unwraps a url.Error: only its cause is said."""
    return cause(e) if isinstance(e, ConnectionFailed) else e.message


def go_error(e: VirtctlError) -> str:
    """The ``%v`` of a client error in Go virtctl's messages."""
    if isinstance(e, ConnectionFailed):
        return url_error(e) or e.message
    return e.message
