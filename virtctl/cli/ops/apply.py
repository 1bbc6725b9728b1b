"""``apply -f FILE|-``: create or update objects from multi-document YAML/JSON (beyond Go virtctl).

All documents are checked first — parse, kind, name, namespace, then a server-side dry run of each
write — so a bad document means nothing is written at all. Like kubectl, the applied document is
kept in the ``last-applied-configuration`` annotation, which is how ``unchanged`` is recognised.
Files are read and decoded as kubectl reads them by :mod:`virtctl.cli.manifests`.
"""

from __future__ import annotations

import json
import sys

from virtctl.cli.getting import server_error
from virtctl.cli.state import current
from virtctl.errors import APIError, NotFound, UsageError
from virtctl.model import kinds
from virtctl.model.names import subdomain_errors
from virtctl.model.record import Record

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


class Document(Record):
    source: str
    kind: kinds.Kind
    obj: dict
    namespace: str | None
    existing: dict | None = None
    action: str = ""


def read_documents(path: str) -> tuple[str, list[dict]]:
    """The YAML/JSON documents of one ``-f`` argument (``-`` = stdin), empty ones skipped, a
    ``List`` unpacked; read and decoded as kubectl does (:mod:`virtctl.cli.manifests`)."""
    from virtctl.cli.manifests import load_file

    source, docs = load_file(path)
    out: list[dict] = []
    for d in docs:
        if isinstance(d, dict) and d.get("kind") == "List" and isinstance(d.get("items"), list):
            out.extend(d["items"])
        else:
            out.append(d)
    return source, out


def check(source: str, doc: object, flag_ns: str, default_ns: str) -> Document:
    if not isinstance(doc, dict):
        go_type = ("array" if isinstance(doc, list) else "string" if isinstance(doc, str) else
                   "bool" if isinstance(doc, bool) else "number")
        raise UsageError(f'error: unable to decode "{source}": json: cannot unmarshal {go_type} into Go value of '
                         "type unstructured.detector")
    api_version, kind_name = doc.get("apiVersion"), doc.get("kind")
    if not api_version or not kind_name:
        missing = "apiVersion" if not api_version else "kind"
        raise UsageError(f"error: error validating data: {missing} not set")
    kind = kinds.by_kind(str(api_version), str(kind_name))
    if kind is None:
        meta = doc.get("metadata") or {}
        raise UsageError(f'error: resource mapping not found for name: "{meta.get("name", "")}" namespace: '
                         f'"{meta.get("namespace", "")}" from "{source}": no matches for kind "{kind_name}" in '
                         f'version "{api_version}"')
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not meta.get("name"):
        raise UsageError(f"error: error when retrieving current configuration of {kind.kind}: "
                         "resource name may not be empty")
    name = str(meta["name"])
    errs = subdomain_errors(name)
    if errs:
        raise UsageError(f'The {kind.kind} "{name}" is invalid: metadata.name: Invalid value: "{name}": '
                         + "; ".join(errs))
    ns = None
    if kind.namespaced:
        ns = meta.get("namespace") or flag_ns or default_ns
        if flag_ns and meta.get("namespace") and meta["namespace"] != flag_ns:
            raise UsageError(f'error: the namespace from the provided object "{meta["namespace"]}" does not match '
                             f'the namespace "{flag_ns}". You must pass \'--namespace={meta["namespace"]}\' to '
                             "perform this operation.")
    return Document(source, kind, doc, ns)


def _desired(doc: Document) -> dict:
    obj = json.loads(json.dumps(doc.obj))
    meta = obj.setdefault("metadata", {})
    if doc.namespace:
        meta["namespace"] = doc.namespace
    last = json.dumps(doc.obj, separators=(",", ":"), sort_keys=True)
    meta.setdefault("annotations", {})[LAST_APPLIED] = last + "\n"
    return obj


def apply(args: list[str], filename: list[str], dry_run: bool, changed: frozenset[str]) -> None:
    if not filename:
        raise UsageError("error: must specify one of -f and -k")
    inv = current()
    flag_ns = inv.namespace_flag
    docs: list[Document] = []
    for path in filename:
        source, raw = read_documents(path)
        docs.extend(check(source, d, flag_ns, "") for d in raw)
    if not docs:
        raise UsageError("error: no objects passed to apply")
    kv = inv.client()
    default_ns = inv.namespace
    seen: set[tuple[str, str | None, str]] = set()
    for d in docs:
        if d.kind.namespaced and not d.namespace:
            d.namespace = default_ns
        key = (d.kind.plural, d.namespace, d.obj["metadata"]["name"])
        if key in seen:
            raise UsageError(f'error: {d.kind.singular}.{d.kind.group} "{key[2]}" appears twice in the input')
        seen.add(key)
    # pass 1: decide and dry-run every write; nothing is stored if any of them fails. One document
    # needs no rehearsal (its own write fails whole), unless a dry run is all that was asked for.
    rehearse = dry_run or len(docs) > 1
    for d in docs:
        name = d.obj["metadata"]["name"]
        try:
            try:
                d.existing = kv.get(d.kind, name, d.namespace)
            except NotFound:
                d.existing = None
            desired = _desired(d)
            if d.existing is None:
                d.action = "created"
                if rehearse:
                    kv.create(d.kind, desired, d.namespace, dry_run=True)
            else:
                current_last = ((d.existing.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
                if current_last == desired["metadata"]["annotations"][LAST_APPLIED]:
                    d.action = "unchanged"
                    continue
                d.action = "configured"
                # a resourceVersion in the document is kept, so a stale one conflicts as with kubectl
                desired["metadata"].setdefault("resourceVersion", d.existing["metadata"].get("resourceVersion"))
                if d.kind.has_status and "status" in d.existing:
                    desired["status"] = d.existing["status"]
                if rehearse:
                    kv.replace(d.kind, desired, d.namespace, dry_run=True)
        except APIError as e:
            raise server_error(e) from None
    # pass 2: the writes
    suffix = " (dry run)" if dry_run else ""
    for d in docs:
        name = d.obj["metadata"]["name"]
        if not dry_run and d.action != "unchanged":
            desired = _desired(d)
            try:
                if d.action == "created":
                    kv.create(d.kind, desired, d.namespace)
                else:
                    assert d.existing is not None
                    desired["metadata"].setdefault("resourceVersion", d.existing["metadata"].get("resourceVersion"))
                    if d.kind.has_status and "status" in d.existing:
                        desired["status"] = d.existing["status"]
                    kv.replace(d.kind, desired, d.namespace)
            except APIError as e:
                raise server_error(e) from None
        sys.stdout.write(f"{d.kind.singular}.{d.kind.group}/{name} {d.action}{suffix}\n")
        sys.stdout.flush()
