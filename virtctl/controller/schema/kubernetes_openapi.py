"""OpenAPI 3 schemas of the Kubernetes kinds served beside KubeVirt's (core v1, events.k8s.io/v1), as
generated into ``kubernetes-openapi.json`` by ``scripts/gen_kubernetes_openapi.py`` (see NOTICE.md)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from virtctl.controller.schema.openapi3 import refs

SPEC_PATH = Path(__file__).with_name("kubernetes-openapi.json")


@lru_cache(maxsize=1)
def schemas() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SPEC_PATH.read_text())["schemas"]
    return loaded


def components(roots: Iterable[str]) -> dict[str, Any]:
    """``roots`` and every schema they reach, sorted by name."""
    out: dict[str, Any] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name not in out:
            out[name] = schemas()[name]
            todo.extend(refs(out[name]))
    return dict(sorted(out.items()))
