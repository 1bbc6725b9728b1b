"""KubeVirt's validating webhooks, the rules a user meets first (docs/compatibility.md#admission-rules).

Each rule returns causes (deny) and warnings (admit with a ``Warning`` header), as virt-api's
admitters do; the apiserver wraps a denial as ``admission webhook "<name>" denied the request: …``.
"""

from __future__ import annotations

from typing import Any, Callable

from virtctl.controller.schema.validation import Problem

RUNNING_DEPRECATED = "spec.running is deprecated, please use spec.runStrategy instead."
MUTUALLY_EXCLUSIVE = ("Running and RunStrategy are mutually exclusive. "
                      "Note that Running is deprecated, please use RunStrategy instead")
RUN_STRATEGY_REQUIRED = "RunStrategy must be specified"

Rule = Callable[[dict[str, Any]], tuple[list[Problem], list[str]]]


def _vm_rules(obj: dict[str, Any]) -> tuple[list[Problem], list[str]]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [], []
    causes: list[Problem] = []
    warnings: list[str] = []
    running, strategy = spec.get("running"), spec.get("runStrategy")
    if running is not None:
        warnings.append(RUNNING_DEPRECATED)
    if running is not None and strategy is not None:
        causes.append(Problem("spec.running", "FieldValueInvalid", MUTUALLY_EXCLUSIVE))
    elif running is None and strategy is None:
        causes.append(Problem("spec.running", "FieldValueInvalid", RUN_STRATEGY_REQUIRED))
    return causes, warnings


# Kind → (webhook name, rule)
WEBHOOKS: dict[str, tuple[str, Rule]] = {
    "VirtualMachine": ("virtualmachine-validator.kubevirt.io", _vm_rules),
}


def run_webhook(kind: str, obj: dict[str, Any]) -> tuple[str, list[Problem], list[str]]:
    """(webhook name, denial causes, warnings) for ``obj``; no causes means admitted."""
    hook = WEBHOOKS.get(kind)
    if hook is None:
        return "", [], []
    name, rule = hook
    causes, warnings = rule(obj)
    return name, causes, warnings
