"""The KubeVirt OpenAPI v2 document (v1.9.0), loaded once and adjusted for validation.

Adjustments, each mirroring what the Kubernetes apiserver does with a CRD's schema:

* ``IntOrString`` is declared ``type: string, format: int-or-string``; the apiserver accepts both
  an integer and a string there (``x-kubernetes-int-or-string``), so we declare both types.
* KubeVirt's CRDs cap the device and volume lists at 256 items (``maxItems``, moved from virt-api's
  webhook into the CRD in KubeVirt 1.2); the swagger document does not say so, so we add it, first
  in the schema so the validator meets it before walking the items.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

SPEC_PATH = Path(__file__).with_name("kubevirt-swagger.json")
INT_OR_STRING = "k8s.io.apimachinery.pkg.util.intstr.IntOrString"
OBJECT_META = "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta"
ARRAY_LEN_MAX = 256
CAPPED_LISTS = {"v1.VirtualMachineInstanceSpec": ("volumes", "networks", "accessCredentials"),
                "v1.Devices": ("disks", "interfaces")}


@lru_cache(maxsize=1)
def definitions() -> dict[str, Any]:
    spec = json.loads(SPEC_PATH.read_text())
    defs: dict[str, Any] = spec["definitions"]
    defs[INT_OR_STRING] = {"type": ["string", "integer"], "format": "int-or-string"}
    for name, fields in CAPPED_LISTS.items():
        props = defs[name]["properties"]
        for field in fields:
            props[field] = {"maxItems": ARRAY_LEN_MAX, **props[field]}
    return defs


def has_definition(name: str) -> bool:
    return name in definitions()


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    """Follow ``$ref`` chains to the schema they name."""
    seen = 0
    while "$ref" in schema and seen < 32:
        schema = definitions()[schema["$ref"].rsplit("/", 1)[-1]]
        seen += 1
    return schema
