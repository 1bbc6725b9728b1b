"""Validation of the Kubernetes core kinds the controller serves (Namespace, Secret, ConfigMap,
Service, Event): KubeVirt's OpenAPI does not describe them, so each kind has a small module here
with apiserver's decoding, defaults and validation rules and messages
(docs/compatibility.md#core-api).

* ``admit(kind, obj, field_validation) -> warnings``: what ``schema.admit`` does for a KubeVirt
  kind: unknown fields (Strict: 400; Warn: pruned with a warning; Ignore: pruned), decoding (400),
  defaults, validation (422). ``obj`` is changed in place (Secret ``stringData`` merged into
  ``data``, Service defaults, Namespace finalizer and label).
* ``check_update(kind, old, new)``: the problems of an update against the stored object
  (immutable Secrets and ConfigMaps, a Secret's type, a Service's cluster IP).
* ``precheck(kind, body)``: the 1 MiB data limit of Secrets and ConfigMaps, before the store's
  request-size limit.
"""

from __future__ import annotations

from typing import Any, Callable

from virtctl.controller.schema.core import cdi, common, data, event, namespace, pvc, service
from virtctl.controller.schema.validation import Problem
from virtctl.errors import BadRequest, Invalid
from virtctl.model import kinds
from virtctl.model.kinds import Kind

__all__ = ["admit", "check_update", "precheck", "event", "namespace", "service", "data", "pvc", "cdi"]

_RULES: dict[Kind, tuple[common.Tree, Callable[[Kind, dict[str, Any]], list[Problem]]]] = {
    kinds.NAMESPACE: (namespace.TREE, namespace.admit),
    kinds.SECRET: (data.SECRET_TREE, data.admit_secret),
    kinds.CONFIGMAP: (data.CONFIGMAP_TREE, data.admit_configmap),
    kinds.SERVICE: (service.TREE, service.admit),
    kinds.EVENT: (event.TREE, event.admit),
    kinds.PVC: (pvc.TREE, pvc.admit),
    kinds.DATAVOLUME: (cdi.DV_TREE, cdi.admit_datavolume),
    kinds.CDICONFIG: (cdi.CONFIG_TREE, cdi.admit_config),
    kinds.UPLOADTOKENREQUEST: (cdi.TOKEN_TREE, cdi.admit_token_request),
}


def _invalid(kind: Kind, obj: dict[str, Any], problems: list[Problem]) -> Invalid:
    from virtctl.controller.schema import invalid_error
    return invalid_error(kind, str((obj.get("metadata") or {}).get("name") or ""), problems)


def admit(kind: Kind, obj: dict[str, Any], field_validation: str) -> list[str]:
    tree, rule = _RULES[kind]
    warnings: list[str] = []
    if field_validation == "Strict":
        found = common.unknown(tree, obj)
        if found:
            listed = ", ".join(f'unknown field "{u}"' for u in found)
            raise BadRequest(f'{kind.kind} in version "{kind.version}" cannot be handled as a {kind.kind}: '
                             f"strict decoding error: {listed}")
    else:
        found = common.unknown(tree, obj)
        common.prune(tree, obj)
        if field_validation == "Warn":
            warnings.extend(f'unknown field "{u}"' for u in found)
    meta = obj.get("metadata") or {}
    for key in ("labels", "annotations"):
        common.string_map(kind, meta, key, f"ObjectMeta.metadata.{key}")
    problems = [common.invalid("metadata.labels", k, e) for k in meta.get("labels") or {}
                for e in common.qualified_name_errors(k)]
    problems += [common.invalid("metadata.annotations", k, e.lower()) for k in meta.get("annotations") or {}
                 for e in common.qualified_name_errors(k)]
    problems += rule(kind, obj)
    if problems:
        raise _invalid(kind, obj, problems)
    return warnings


def check_update(kind: Kind, old: dict[str, Any], new: dict[str, Any]) -> None:
    problems: list[Problem] = []
    if kind in (kinds.SECRET, kinds.CONFIGMAP):
        problems = data.check_update(kind, old, new)
    elif kind is kinds.PVC:
        problems = pvc.check_update(old, new)
    elif kind is kinds.DATAVOLUME:
        cdi.check_update_datavolume(old, new)
    elif kind is kinds.SERVICE:
        old_ip = (old.get("spec") or {}).get("clusterIP")
        new_ip = (new.get("spec") or {}).get("clusterIP")
        if old_ip and new_ip not in (None, "", old_ip) and (new.get("spec") or {}).get("type") != "ExternalName":
            problems.append(common.invalid("spec.clusterIPs[0]", new_ip, "may not change once set"))
    if problems:
        raise _invalid(kind, new, problems)


def precheck(kind: Kind, body: Any) -> None:
    if kind in (kinds.SECRET, kinds.CONFIGMAP) and data.size_problem(kind, body):
        meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        name = str(meta.get("name") or "")
        from virtctl.controller.schema import invalid_error
        raise invalid_error(kind, name, [common.too_long("data" if kind is kinds.SECRET else "", data.MAX_SIZE)])
