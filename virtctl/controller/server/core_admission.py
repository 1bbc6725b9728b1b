"""The checks kube-apiserver's NamespaceLifecycle admission makes on every write into a namespace,
for every kind (docs/compatibility.md#core-api)."""

from __future__ import annotations

from typing import Any

from virtctl.controller.server.messages import Request
from virtctl.controller.store.protocol import Store
from virtctl.errors import Forbidden, NotFound
from virtctl.model import gojson, kinds

WRITES = ("POST", "PUT", "PATCH")


def _body_name(req: Request) -> str:
    try:
        body = gojson.loads(req.body or b"{}")        # Go's decoder: depth-limited, never a RecursionError
    except (ValueError, UnicodeDecodeError):
        return ""
    meta = body.get("metadata") if isinstance(body, dict) else None
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) else ""


def check_namespace(store: Store, req: Request, kind: kinds.Kind, namespace: str | None,
                    name: str | None) -> None:
    """NamespaceLifecycle: a write into a namespace that does not exist is 404; creating in a
    namespace being deleted is 403."""
    if req.method not in WRITES or not kind.namespaced or not namespace:
        return
    try:
        ns: dict[str, Any] = store.get(kinds.NAMESPACE, None, namespace)
    except NotFound:
        raise NotFound(f'namespaces "{namespace}" not found',
                       details={"name": namespace, "kind": "namespaces"}) from None
    if req.method == "POST" and (ns.get("status") or {}).get("phase") == "Terminating":
        target = name or _body_name(req)
        raise Forbidden(f'{kind.resource} "{target}" is forbidden: unable to create new content in namespace '
                        f"{namespace} because it is being terminated",
                        details={"name": target, "group": kind.group, "kind": kind.plural})
