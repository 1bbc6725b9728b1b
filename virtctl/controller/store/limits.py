"""How big a stored object may be: etcd refuses a request over ``--max-request-bytes`` (1.5 MiB by
default) and the apiserver passes its words on. The check runs before an object is validated, so an
oversized body costs no schema walk (see docs/standalone.md, "Limits")."""

from __future__ import annotations

import json
from typing import Any

from virtctl.errors import RequestEntityTooLarge

MAX_OBJECT_BYTES = 3 * 512 * 1024          # etcd's default --max-request-bytes
TOO_LARGE = "etcdserver: request is too large"


def encoded_size(obj: Any) -> int:
    return len(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass"))


def check_size(obj: Any, limit: int = MAX_OBJECT_BYTES) -> None:
    """Raise 413 when ``obj`` encoded as stored would exceed ``limit`` bytes."""
    if encoded_size(obj) > limit:
        raise RequestEntityTooLarge(TOO_LARGE)
