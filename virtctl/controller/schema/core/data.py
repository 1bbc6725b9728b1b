"""Secret and ConfigMap: decoding ``data`` as Go decodes ``[]byte`` (standard base64, padding
required, CR/LF ignored), merging ``stringData``, and apiserver's ValidateSecret/ValidateConfigMap
(keys, the 1 MiB limit, per-type keys, ``immutable``)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from virtctl.controller.schema.core import common as c
from virtctl.controller.schema.validation import Problem
from virtctl.model import gojson, kinds
from virtctl.model.kinds import Kind

MAX_SIZE = 1024 * 1024               # core.MaxSecretSize: Secrets and ConfigMaps alike
IMMUTABLE = "field is immutable when `immutable` is set"
_ALPHABET = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

SECRET_TREE: dict[str, c.Tree] = {**c.TOP, "data": True, "stringData": True, "type": True, "immutable": True}
CONFIGMAP_TREE: dict[str, c.Tree] = {**c.TOP, "data": True, "binaryData": True, "immutable": True}

# secret type -> keys that must be present (apiserver's ValidateSecret switch)
BASIC_AUTH, SSH_AUTH, TLS = "kubernetes.io/basic-auth", "kubernetes.io/ssh-auth", "kubernetes.io/tls"
DOCKERCFG, DOCKERCONFIGJSON = "kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"
SA_TOKEN = "kubernetes.io/service-account-token"


def go_base64_error(text: str) -> int | None:
    """The byte offset Go's base64.StdEncoding.Decode reports for ``text``, or None when it decodes."""
    src = text.encode("utf-8", "surrogatepass")
    n, si = len(src), 0
    while True:
        j = 0
        while j < 4:
            if si == n:
                if j == 0:
                    return None
                return si - j
            ch = src[si]
            si += 1
            if ch in (0x0A, 0x0D):
                continue
            if ch == 0x3D:                                       # '='
                if j in (0, 1):
                    return si - 1
                if j == 2:
                    while si < n and src[si] in (0x0A, 0x0D):
                        si += 1
                    if si == n:
                        return n
                    if src[si] != 0x3D:
                        return si - 1
                    si += 1
                while si < n and src[si] in (0x0A, 0x0D):
                    si += 1
                return si if si < n else None
            if ch not in _ALPHABET:
                return si - 1
            j += 1


def decode(kind: Kind, field: str, values: dict[str, Any]) -> dict[str, bytes]:
    """``data``/``binaryData`` values decoded, or the 400 Go's decoder gives."""
    out: dict[str, bytes] = {}
    for key, value in values.items():
        bad = go_base64_error(value)
        if bad is not None:
            raise c.decode_error(kind, f"illegal base64 data at input byte {bad}")
        try:
            out[key] = base64.b64decode(value.replace("\n", "").replace("\r", ""))
        except (binascii.Error, ValueError):
            raise c.decode_error(kind, "illegal base64 data at input byte 0") from None
    return out


def _keys(field: str, values: dict[str, Any]) -> list[Problem]:
    return [c.invalid(f"{field}[{key}]", key, e) for key in values for e in c.config_key_errors(key)]


def admit_secret(kind: Kind, obj: dict[str, Any]) -> list[Problem]:
    """Decode, default and validate a Secret in place (stringData merged into data, type Opaque)."""
    data = c.string_map(kind, obj, "data", "Secret.data", "[]uint8")
    string_data = c.string_map(kind, obj, "stringData", "Secret.stringData")
    c.expect(kind, obj.get("type"), str, "Secret.type", "v1.SecretType")
    c.expect(kind, obj.get("immutable"), bool, "Secret.immutable", "bool")
    decoded = decode(kind, "data", data)
    if string_data:
        merged = dict(data)
        for key, value in string_data.items():
            merged[key] = base64.b64encode(value.encode("utf-8", "surrogatepass")).decode()
            decoded[key] = value.encode("utf-8", "surrogatepass")
        obj["data"] = merged
        data = merged
    obj.pop("stringData", None)
    if not obj.get("type"):
        obj["type"] = "Opaque"
    problems = _keys("data", data)
    if sum(len(v) for v in decoded.values()) > MAX_SIZE:
        problems.append(c.too_long("data", MAX_SIZE))
    problems.extend(_type_problems(obj, decoded))
    return problems


def _type_problems(obj: dict[str, Any], decoded: dict[str, bytes]) -> list[Problem]:
    kind_of = obj.get("type")
    problems: list[Problem] = []
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if kind_of == SA_TOKEN:
        if not annotations.get("kubernetes.io/service-account.name"):
            problems.append(c.required("metadata.annotations[kubernetes.io/service-account.name]"))
    elif kind_of in (DOCKERCFG, DOCKERCONFIGJSON):
        key = ".dockercfg" if kind_of == DOCKERCFG else ".dockerconfigjson"
        if key not in decoded:
            problems.append(c.required(f"data[{key}]"))
        else:
            try:
                gojson.loads(decoded[key] or b"null")      # depth-limited: never a RecursionError
            except ValueError as e:
                problems.append(c.invalid(f"data[{key}]", "<secret contents redacted>", str(e)))
    elif kind_of == BASIC_AUTH:
        if "username" not in decoded and "password" not in decoded:
            problems += [c.required("data[username]"), c.required("data[password]")]
    elif kind_of == SSH_AUTH:
        if not decoded.get("ssh-privatekey"):
            problems.append(c.required("data[ssh-privatekey]"))
    elif kind_of == TLS:
        for key in ("tls.crt", "tls.key"):
            if key not in decoded:
                problems.append(c.required(f"data[{key}]"))
    elif kind_of != "Opaque":
        problems += [c.invalid("type", kind_of, e) for e in c.qualified_name_errors(str(kind_of))]
    return problems


def admit_configmap(kind: Kind, obj: dict[str, Any]) -> list[Problem]:
    data = c.string_map(kind, obj, "data", "ConfigMap.data")
    binary = c.string_map(kind, obj, "binaryData", "ConfigMap.binaryData", "[]uint8")
    c.expect(kind, obj.get("immutable"), bool, "ConfigMap.immutable", "bool")
    decoded = decode(kind, "binaryData", binary)
    problems = _keys("data", data) + _keys("binaryData", binary)
    for key in data:
        if key in binary:
            problems.append(c.invalid(f"data[{key}]", key, "duplicate of key present in binaryData"))
    size = sum(len(v.encode("utf-8", "surrogatepass")) for v in data.values()) + sum(len(v) for v in decoded.values())
    if size > MAX_SIZE:
        problems.append(c.too_long("", MAX_SIZE))
    return problems


def check_update(kind: Kind, old: dict[str, Any], new: dict[str, Any]) -> list[Problem]:
    """What may not change: a Secret's type; everything under ``immutable: true``."""
    problems: list[Problem] = []
    if kind is kinds.SECRET and new.get("type") != old.get("type"):
        problems.append(c.invalid("type", new.get("type"), "field is immutable"))
    if old.get("immutable") is True:
        if new.get("immutable") is not True:
            problems.append(c.forbidden("immutable", IMMUTABLE))
        if (new.get("data") or {}) != (old.get("data") or {}):
            problems.append(c.forbidden("data", IMMUTABLE))
        if kind is kinds.CONFIGMAP and (new.get("binaryData") or {}) != (old.get("binaryData") or {}):
            problems.append(c.forbidden("binaryData", IMMUTABLE))
    return problems


def size_problem(kind: Kind, obj: Any) -> bool:
    """True when a Secret/ConfigMap body is over the 1 MiB data limit (checked before the request-size
    limit, so a 2 MiB ConfigMap gets validation's 422 as from the apiserver)."""
    if not isinstance(obj, dict):
        return False
    total = 0
    for field in ("data", "stringData", "binaryData"):
        values = obj.get(field)
        if isinstance(values, dict):
            for v in values.values():
                if isinstance(v, str):
                    total += len(v) * 3 // 4 if field != "stringData" and not (kind is kinds.CONFIGMAP
                                                                                and field == "data") else len(v)
    return total > MAX_SIZE
