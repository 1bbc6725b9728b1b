"""The core group's discovery extras: the subresources kube-apiserver lists in ``/api/v1`` besides
``status`` (docs/compatibility.md#core-api)."""

from __future__ import annotations

from typing import Any

# (resource/subresource, kind, namespaced, verbs) as kube-apiserver v1.30 publishes them
_EXTRA: tuple[tuple[str, str, bool, list[str]], ...] = (
    ("namespaces/finalize", "Namespace", False, ["update"]),
    ("services/proxy", "ServiceProxyOptions", True, ["create", "delete", "get", "patch", "update"]),
)


def with_core_subresources(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``resources`` plus the core subresources, sorted by name as the apiserver sorts them."""
    out = list(resources)
    for name, kind, namespaced, verbs in _EXTRA:
        if any(r["name"] == name.split("/")[0] for r in resources):
            out.append({"name": name, "singularName": "", "namespaced": namespaced, "kind": kind,
                        "verbs": verbs})
    return sorted(out, key=lambda r: r["name"])
