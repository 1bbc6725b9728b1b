"""``meta.k8s.io/v1`` Table responses built from a kind's printer columns, as the apiserver renders a
CRD's additionalPrinterColumns (Name first; dates humanised; ``priority: 1`` for ``-o wide``)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from virtctl.model import core_printers, printers
from virtctl.model.kinds import Kind

NAME_DESCRIPTION = ("Name must be unique within a namespace. Is required when creating resources, although some "
                    "resources may allow a client to request the generation of an appropriate name automatically. "
                    "Name is primarily intended for creation idempotence and configuration definition. Cannot be "
                    "updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/"
                    "names#names")


def wants_table(accept: str | None) -> bool:
    """True when the client asked for a Table (and it is a meta.k8s.io Table it asked for)."""
    if not accept:
        return False
    for part in accept.split(","):
        params = {p.split("=", 1)[0].strip(): p.split("=", 1)[1].strip() for p in part.split(";")[1:] if "=" in p}
        if params.get("as") == "Table" and params.get("g", "meta.k8s.io") == "meta.k8s.io":
            return True
    return False


def column_definitions(kind: Kind) -> list[dict[str, Any]]:
    if core_printers.handles(kind):
        return core_printers.column_definitions(kind)
    cols = [{"name": "Name", "type": "string", "format": "name", "description": NAME_DESCRIPTION, "priority": 0}]
    for c in kind.columns:
        cols.append({"name": c.name, "type": c.type, "format": "",
                     "description": c.description or c.json_path, "priority": c.priority})
    return cols


def _row(kind: Kind, obj: dict[str, Any], include_object: str, now: datetime) -> dict[str, Any]:
    if core_printers.handles(kind):
        cells = core_printers.cells(kind, obj, now)
    else:
        cells = [obj.get("metadata", {}).get("name", "")] + [printers.cell(obj, c, now) for c in kind.columns]
    row: dict[str, Any] = {"cells": cells}
    if include_object == "Object":
        row["object"] = obj
    elif include_object != "None":
        row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                         "metadata": obj.get("metadata", {})}
    return row


def table(kind: Kind, objects: list[dict[str, Any]], resource_version: str | None, *,
          include_columns: bool = True, include_object: str | None = None) -> dict[str, Any]:
    now = datetime.now(timezone.utc)
    out: dict[str, Any] = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}}
    if resource_version:
        out["metadata"]["resourceVersion"] = resource_version
    if include_columns:
        out["columnDefinitions"] = column_definitions(kind)
    out["rows"] = [_row(kind, o, include_object or "Metadata", now) for o in objects]
    return out
