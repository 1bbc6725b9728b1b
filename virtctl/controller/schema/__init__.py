"""Validation of stored objects and request bodies against KubeVirt's OpenAPI (v1.9.0).

* ``validate(definition, obj) -> list[Problem]``: types, required fields and enums (jsonschema Draft 4).
* ``unknown_fields(definition, obj) -> list[str]``: what ``fieldValidation=Strict`` rejects;
  ``prune(definition, obj)`` removes them in place (the apiserver's pruning of structural schemas).
* ``admit(kind, obj, field_validation) -> warnings``: everything a write goes through, in the
  apiserver's order (decode → prune → schema → admission webhooks); raises ``errors.BadRequest`` /
  ``errors.Invalid`` shaped as the apiserver shapes them, so kubectl prints the same lines.
* ``invalid_error(kind, name, problems)``: the 422 for a list of problems.
"""

from __future__ import annotations

from typing import Any

from virtctl.controller.schema.admission import run_webhook
from virtctl.controller.schema.strict import prune, unknown_fields
from virtctl.controller.schema.validation import Problem, validate
from virtctl.errors import BadRequest, Invalid
from virtctl.model import kinds
from virtctl.model.kinds import Kind, has_own_rules

FIELD_VALIDATION = ("Strict", "Warn", "Ignore")

__all__ = ["Problem", "validate", "unknown_fields", "prune", "admit", "invalid_error", "definition_for",
           "check_field_validation", "FIELD_VALIDATION"]


def definition_for(kind: Kind) -> str:
    """The swagger definition of a kind: ``v1.VirtualMachine``, ``v1beta1.VirtualMachineSnapshot``."""
    return f"{kind.version}.{kind.kind}"


def invalid_error(kind: Kind, name: str, problems: list[Problem]) -> Invalid:
    """``VirtualMachine.kubevirt.io "x" is invalid: <field>: <message>`` with one cause per problem."""
    texts = [str(p) for p in problems]
    summary = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    qualified = f"{kind.kind}.{kind.group}" if kind.group else kind.kind
    return Invalid(f"{qualified} \"{name}\" is invalid: {summary}",
                   details={"name": name, "group": kind.group, "kind": kind.kind,
                            "causes": [p.to_cause() for p in problems]})


def check_field_validation(value: str | None) -> str:
    if value in (None, ""):
        return "Warn"           # the apiserver's default since 1.27
    if value not in FIELD_VALIDATION:
        raise BadRequest(f'fieldValidation parameter unsupported: "{value}"; supported values: '
                         f'"Strict", "Warn", "Ignore"')
    return value


def admit(kind: Kind, obj: dict[str, Any], field_validation: str | None = "Strict") -> list[str]:
    """Check a whole object about to be stored; returns warnings, raises on rejection. Unknown fields
    are pruned from ``obj`` in place (Warn: with a warning each; Ignore: silently; Strict: refused)."""
    field_validation = check_field_validation(field_validation)
    if has_own_rules(kind):
        from virtctl.controller.schema import core
        return core.admit(kinds.EVENT if kind is kinds.EVENT_V1 else kind, obj, field_validation)
    definition = definition_for(kind)
    warnings: list[str] = []
    if field_validation == "Strict":
        unknown = unknown_fields(definition, obj)
        if unknown:
            listed = ", ".join(f'unknown field "{u}"' for u in unknown)
            raise BadRequest(f'{kind.kind} in version "{kind.version}" cannot be handled as a {kind.kind}: '
                             f"strict decoding error: {listed}")
    else:
        unknown = prune(definition, obj)
        if field_validation == "Warn":
            warnings.extend(f'unknown field "{u}"' for u in unknown)
    name = str((obj.get("metadata") or {}).get("name") or "")
    problems = validate(definition, obj)
    if problems:
        raise invalid_error(kind, name, problems)
    hook, causes, hook_warnings = run_webhook(kind.kind, obj)
    if causes:
        message = ", ".join(c.message for c in causes)
        raise Invalid(f'admission webhook "{hook}" denied the request: {message}',
                      details={"causes": [c.to_cause() for c in causes]})
    warnings.extend(hook_warnings)
    return warnings
