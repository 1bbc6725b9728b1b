"""Output: YAML and JSON the way Go clients print them, kubectl-style tables, ``-o name``.

Plain text only: rich is not needed to print a table or a document."""

from __future__ import annotations

import json
from datetime import datetime

TYPE_CHECKING = False
if TYPE_CHECKING:                  # typing costs ≈ 3 ms per process; annotations only
    from typing import Any, Iterable

from virtctl.model import core_printers, printers
from virtctl.model.kinds import Kind


def to_yaml(obj: Any) -> str:
    """sigs.k8s.io/yaml style: keys sorted, block style, multi-line strings as literal blocks. Written
    without PyYAML when :mod:`virtctl.cli.yaml_emit` is sure of the text, which is the usual case."""
    from virtctl.cli import yaml_emit

    text = yaml_emit.dump(obj)
    return text if text is not None else pyyaml_dump(obj)


def pyyaml_dump(obj: Any) -> str:
    """:func:`to_yaml` through PyYAML's SafeDumper."""
    import yaml

    base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class Dumper(base):  # type: ignore[misc, valid-type]
        pass

    def str_rep(dumper: Any, data: str) -> Any:
        if "\n" in data:
            return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
        return dumper.represent_scalar("tag:yaml.org,2002:str", data)

    Dumper.add_representer(str, str_rep)
    return yaml.dump(obj, Dumper=Dumper, default_flow_style=False, sort_keys=True, allow_unicode=True,
                     width=1 << 30)


def to_json(obj: Any) -> str:
    """kubectl ``-o json``: 4-space indent."""
    return json.dumps(obj, indent=4, ensure_ascii=False) + "\n"



def name_line(kind: Kind, obj: dict) -> str:
    """``-o name``: ``virtualmachine.kubevirt.io/vm1``."""
    return f"{kind.singular}.{kind.group}/{obj.get('metadata', {}).get('name', '')}"


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "<none>" if value is None else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _core_shown(kind: Kind, wide: bool) -> list[int]:
    """Which of a core kind's apiserver columns kubectl shows (priority 1 only with -o wide)."""
    return [i for i, c in enumerate(core_printers.column_definitions(kind)) if wide or c["priority"] == 0]


def table_rows(kind: Kind, objs: Iterable[dict], wide: bool = False, all_namespaces: bool = False,
               now: datetime | None = None) -> list[list[str]]:
    rows = []
    for obj in objs:
        if core_printers.handles(kind):       # ns, secret (type and key count, never values), cm, svc, events
            full = core_printers.cells(kind, obj, now or datetime.now().astimezone())
            cells = [_cell(full[i]) for i in _core_shown(kind, wide)]
        else:
            cells = [_cell(c) for c in printers.row(obj, kind, wide=wide, now=now)]
        if all_namespaces:
            cells.insert(0, obj.get("metadata", {}).get("namespace", ""))
        rows.append(cells)
    return rows


def table_header(kind: Kind, wide: bool = False, all_namespaces: bool = False) -> list[str]:
    if core_printers.handles(kind):
        defs = core_printers.column_definitions(kind)
        head = [str(defs[i]["name"]).upper() for i in _core_shown(kind, wide)]
    else:
        head = ["NAME"] + [c.name.upper() for c in printers.columns(kind, wide)]
    return (["NAMESPACE"] + head) if all_namespaces else head


def format_table(header: list[str] | None, rows: list[list[str]], widths: list[int] | None = None) -> str:
    """kubectl's tabwriter layout: columns padded to the widest cell plus three spaces."""
    all_rows = ([header] if header else []) + rows
    if not all_rows:
        return ""
    n = max(len(r) for r in all_rows)
    w = widths or [max(len(r[i]) for r in all_rows if i < len(r)) for i in range(n)]
    lines = []
    for r in all_rows:
        cells = [r[i].ljust(w[i]) if i < len(r) - 1 else r[i] for i in range(len(r))]
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines) + "\n"
