"""Namespace: defaults (``spec.finalizers: [kubernetes]``, phase Active, the
``kubernetes.io/metadata.name`` label) and apiserver's ValidateNamespace."""

from __future__ import annotations

from typing import Any

from virtctl.controller.schema.core import common as c
from virtctl.controller.schema.validation import Problem
from virtctl.model.kinds import Kind

FINALIZER = "kubernetes"
NAME_LABEL = "kubernetes.io/metadata.name"
TREE: dict[str, c.Tree] = {**c.TOP, "spec": {"finalizers": True}, "status": {"phase": True, "conditions": True}}


def admit(kind: Kind, obj: dict[str, Any]) -> list[Problem]:
    spec = c.spec(kind, obj, "v1.NamespaceSpec")
    finalizers = spec.get("finalizers")
    c.string_list(kind, finalizers, "Namespace.spec.finalizers", "v1.FinalizerName")
    status = obj.get("status")
    c.expect(kind, status, dict, "Namespace.status", "v1.NamespaceStatus")
    meta = obj["metadata"]
    labels = meta.get("labels")
    if isinstance(labels, dict) and meta.get("name"):
        labels[NAME_LABEL] = meta["name"]
    elif labels is None and meta.get("name"):
        meta["labels"] = {NAME_LABEL: meta["name"]}
    problems: list[Problem] = []
    for i, f in enumerate(finalizers or []):
        if "/" not in f and f != FINALIZER:
            problems.append(c.invalid(f"spec.finalizers[{i}]", f, "name is neither a standard finalizer name nor "
                                                                  "is it fully qualified"))
        else:
            problems += [c.invalid(f"spec.finalizers[{i}]", f, e) for e in c.qualified_name_errors(f)]
    return problems


def prepare_create(obj: dict[str, Any]) -> None:
    """What the namespace REST storage sets on create."""
    spec = obj.setdefault("spec", {})
    if FINALIZER not in (spec.get("finalizers") or []):
        spec["finalizers"] = [*(spec.get("finalizers") or []), FINALIZER]
    obj["status"] = {"phase": "Active"}
