"""``get KIND [NAME…]`` without the command-line parser: what the ``get`` command does once its
flags are known. The typer command (:mod:`virtctl.cli.commands.get`) and the start-up fast path
(:mod:`virtctl.cli.fast`) both call :func:`run`, so they cannot differ in what they print."""

from __future__ import annotations

import sys

from virtctl.cli.render import format_table, name_line, table_header, table_rows, to_json, to_yaml
from virtctl.cli.state import current
from virtctl.errors import APIError, UsageError, VirtctlError
from virtctl.model import kinds

OUTPUTS = ("json", "yaml", "name", "wide")


def server_error(e: APIError) -> VirtctlError:
    """kubectl's wording for an error answered by the server."""
    return VirtctlError(f"Error from server ({e.reason}): {e.message}", exit_code=e.exit_code)


def _with_type(kind: kinds.Kind, obj: dict) -> dict:
    obj.setdefault("apiVersion", kind.api_version)
    obj.setdefault("kind", kind.kind)
    return obj


def get(args: list[str], output: str, watch: bool, selector: str, all_namespaces: bool,
        changed: frozenset[str]) -> None:
    """The ``get`` command's entry (keyword arguments as :func:`virtctl.cli.args.call_params` makes them)."""
    run(args, output, watch, selector, all_namespaces)


def run(words: list[str], output: str = "", watch: bool = False, selector: str = "",
        all_namespaces: bool = False) -> None:
    if not words:
        raise UsageError("You must specify the type of resource to get.")
    if output and output not in OUTPUTS:
        raise UsageError(f'unable to match a printer suitable for the output format "{output}", allowed formats '
                         f"are: {','.join(OUTPUTS)}")
    kind = kinds.lookup(words[0])
    names = words[1:]
    inv = current()
    kv = inv.client()
    all_ns = all_namespaces and kind.namespaced and not names
    wide = output == "wide"
    out = sys.stdout
    try:
        if names:
            objs, failures = [], []
            for name in names:
                try:
                    objs.append(_with_type(kind, kv.get(kind, name)))
                except APIError as e:
                    failures.append(server_error(e))
            resource_version = None
        else:
            listing = kv.list(kind, all_namespaces=all_ns, label_selector=selector or None)
            objs = [_with_type(kind, o) for o in listing.get("items", [])]
            failures = []
            resource_version = (listing.get("metadata") or {}).get("resourceVersion")
    except APIError as e:
        raise server_error(e) from None
    widths: list[int] | None = None
    if output in ("json", "yaml"):
        doc = objs[0] if names and len(objs) == 1 and not failures else \
            {"apiVersion": "v1", "items": objs, "kind": "List", "metadata": {"resourceVersion": ""}}
        if objs or not names:
            out.write(to_json(doc) if output == "json" else to_yaml(doc))
    elif output == "name":
        out.writelines(name_line(kind, o) + "\n" for o in objs)
    elif objs:
        header = table_header(kind, wide, all_ns)
        rows = table_rows(kind, objs, wide, all_ns)
        widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
        out.write(format_table(header, rows, widths))
        if kind is kinds.VM and len(names) == 1 and not watch:
            from virtctl.cli.vm_warning import print_last_warning  # why a failing VM fails
            print_last_warning(kv, objs[0], out)
    out.flush()
    if not objs and not names and output not in ("json", "yaml"):
        if all_ns or not kind.namespaced:
            sys.stderr.write("No resources found\n")
        else:
            sys.stderr.write(f"No resources found in {inv.namespace} namespace.\n")
    if failures:
        for f in failures[:-1]:
            sys.stderr.write(f.message + "\n")
        raise failures[-1]
    if watch:
        _watch(kind, kv, names, all_ns, selector, output, resource_version, widths)


def _watch(kind: kinds.Kind, kv: object, names: list[str], all_ns: bool, selector: str, output: str,
           resource_version: str | None, widths: list[int] | None) -> None:
    """Print a row (or document) per change until the server ends the stream or Ctrl+C."""
    wide = output == "wide"
    header = table_header(kind, wide, all_ns)
    name = names[0] if len(names) == 1 else None
    try:
        for event, obj in kv.watch(kind, all_namespaces=all_ns, name=name,  # type: ignore[attr-defined]
                                   resource_version=resource_version, label_selector=selector or None):
            if event == "BOOKMARK":
                continue
            obj = _with_type(kind, obj)
            if names and obj.get("metadata", {}).get("name") not in names:
                continue
            if output == "json":
                sys.stdout.write(to_json(obj))
            elif output == "yaml":
                sys.stdout.write("---\n" + to_yaml(obj))
            elif output == "name":
                sys.stdout.write(name_line(kind, obj) + "\n")
            else:
                row = table_rows(kind, [obj], wide, all_ns)[0]
                if widths is None:
                    widths = [max(len(header[i]), len(row[i])) for i in range(len(header))]
                    sys.stdout.write(format_table(header, [], widths))
                w = [max(widths[i], len(row[i])) for i in range(len(row))]
                sys.stdout.write(format_table(None, [row], w))
            sys.stdout.flush()
    except APIError as e:
        raise server_error(e) from None
    except KeyboardInterrupt:
        return
