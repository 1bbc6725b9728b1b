"""Helpers for talking to the test server: JSON bodies, watch streams, common paths."""

from __future__ import annotations

import http.client
import json
from typing import Any, Iterator

VMS = "/apis/kubevirt.io/v1/namespaces/default/virtualmachines"
VMIS = "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances"
TABLE_ACCEPT = ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
                "application/json")


class WatchStream:
    """An open watch: ``next_event()`` returns one decoded event line (or None at the end)."""

    def __init__(self, api_server: Any, path: str, headers: dict[str, str] | None = None, timeout: float = 10):
        self.conn = http.client.HTTPSConnection("127.0.0.1", api_server.port, context=api_server.ssl_context(),
                                                timeout=timeout)
        hdrs = {"Authorization": f"Bearer {api_server.token}", **(headers or {})}
        self.conn.request("GET", path, headers=hdrs)
        self.resp = self.conn.getresponse()

    def next_event(self) -> dict[str, Any] | None:
        line = self.resp.readline()
        return json.loads(line) if line.strip() else None

    def events(self) -> Iterator[dict[str, Any]]:
        while (ev := self.next_event()) is not None:
            yield ev

    def close(self) -> None:
        self.conn.close()
