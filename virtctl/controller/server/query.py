"""Query parameters as the apiserver reads them: apimachinery's query-parameter conversion (booleans,
``strconv.ParseInt``), the list options its storage checks (resourceVersion, continue), and the
validation of the options of a write (``dryRun``, ``fieldValidation``), with kube-apiserver's codes
and messages (docs/compatibility.md#rest-semantics)."""

from __future__ import annotations

import base64
import binascii
import builtins
import json
import posixpath
import re
from dataclasses import dataclass, replace
from urllib.parse import parse_qs

from virtctl.errors import BadRequest, Invalid, status_cause

INT64_MAX = (1 << 63) - 1
UINT64_MAX = (1 << 64) - 1
FIELD_VALIDATION = ("", "Ignore", "Strict", "Warn")      # sorted, as apimachinery lists them
# the options kind a write's query parameters decode into
OPTIONS_KIND = {"POST": "CreateOptions", "PUT": "UpdateOptions", "PATCH": "PatchOptions",
                "DELETE": "DeleteOptions"}
_INT = re.compile(r"[+-]?[0-9]+")


def parse_int64(text: str) -> int:
    """Go ``strconv.ParseInt(text, 10, 64)`` with its error texts."""
    if not _INT.fullmatch(text):
        raise BadRequest(f'strconv.ParseInt: parsing "{_shown(text)}": invalid syntax')
    value = int(text) if len(text) <= 21 else INT64_MAX + 1
    if not -INT64_MAX - 1 <= value <= INT64_MAX:
        raise BadRequest(f'strconv.ParseInt: parsing "{_shown(text)}": value out of range')
    return value


def parse_resource_version(text: str) -> int | None:
    """A resourceVersion parameter: None for "" or "0" (any version), else a uint64."""
    if text in ("", "0"):
        return None
    if text.isascii() and text.isdigit() and len(text) <= 20 and int(text) <= UINT64_MAX:
        return int(text)
    why = "value out of range" if text.isascii() and text.isdigit() else "invalid syntax"
    raise BadRequest(f'invalid resource version: resourceVersion: Invalid value: "{_shown(text)}": '
                     f'strconv.ParseUint: parsing "{_shown(text)}": {why}')


def _shown(text: str) -> str:
    return text if len(text) <= 64 else text[:64] + "..."


def _json_error(data: bytes) -> str:
    """Go's encoding/json message for a text that does not start a JSON value, else Python's."""
    stripped = data.lstrip(b" \t\r\n")
    if not stripped:
        return "unexpected end of JSON input"
    first = stripped[:1]
    if first not in b'{["-0123456789tfn':
        return f"invalid character '{chr(first[0])}' looking for beginning of value"
    try:
        json.loads(data)
    except ValueError as e:
        return str(e)
    return "json: cannot unmarshal into Go value of type storage.continueToken"


# the Go types of the continue token's fields (apiserver storage's continueToken)
_TOKEN_FIELDS = {"v": "string", "rv": "int64", "start": "string"}


@dataclass(frozen=True)
class ContinueToken:
    """A decoded ``continue``: list the keys from ``start`` on, as of ``rv`` (-1: the latest state)."""

    start: str
    rv: int


def _go_type_error(value: object, field: str, go_type: str) -> str:
    if isinstance(value, bool):
        shown = "bool"
    elif isinstance(value, (int, float)):
        shown = f"number {json.dumps(value)}"
    elif isinstance(value, str):
        shown = "string"
    else:
        shown = "array" if isinstance(value, list) else "object"
    return f"json: cannot unmarshal {shown} into Go struct field continueToken.{field} of type {go_type}"


def decode_continue(token: str) -> ContinueToken:
    """apiserver storage's DecodeContinue: base64url (no padding) of a ``meta.k8s.io/v1`` JSON token
    whose start key is a clean relative path (docs/standalone.md#api-server-lists)."""
    try:
        data = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
        if "=" in token:
            raise binascii.Error
    except (binascii.Error, ValueError):
        bad = next((i for i, c in enumerate(token) if not (c.isascii() and (c.isalnum() or c in "-_"))), len(token))
        raise BadRequest(f"invalid continue token: invalid continue key: illegal base64 data at input byte {bad}") \
            from None
    try:
        parsed = json.loads(data)
    except ValueError:
        raise BadRequest(f"invalid continue token: invalid continue key: {_json_error(data)}") from None
    if not isinstance(parsed, dict):
        raise BadRequest("invalid continue token: invalid continue key: "
                         "json: cannot unmarshal into Go value of type storage.continueToken")
    for field, go_type in _TOKEN_FIELDS.items():
        value = parsed.get(field)
        fits = value is None or (isinstance(value, str) if go_type == "string" else
                                 type(value) is int and -INT64_MAX - 1 <= value <= INT64_MAX)
        if not fits:
            raise BadRequest(f"invalid continue token: invalid continue key: {_go_type_error(value, field, go_type)}")
    if parsed.get("v") != "meta.k8s.io/v1":
        raise BadRequest(f"invalid continue token: server does not recognize this encoded version "
                         f"{parsed.get('v') or ''}")
    if not parsed.get("rv"):
        raise BadRequest("invalid continue token: invalid start resource version")
    start = parsed.get("start") or ""
    if not start:
        raise BadRequest("invalid continue token: continue key is empty")
    key = start if start.startswith("/") else "/" + start
    if "//" in key or posixpath.normpath(key) != key:
        # Go's path.Clean would change it ("..", ".", "//", a trailing "/"): a start key stays in its list
        raise BadRequest(f"invalid continue token: invalid continue key: {_shown(start)}")
    return ContinueToken(start=key[1:], rv=parsed["rv"])


def encode_continue(start: str, rv: int) -> str:
    """apiserver storage's EncodeContinue: the token a client sends back to list on from ``start``."""
    data = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(data.encode()).rstrip(b"=").decode()


@dataclass(frozen=True)
class ListOptions:
    watch: bool
    allow_bookmarks: bool
    resource_version: str
    timeout_seconds: int | None
    limit: int | None
    continue_token: str
    continued: ContinueToken | None = None       # the decoded ``continue`` of a list


class Query:
    """The request's query string; ``get`` returns the first value of a repeated parameter, as Go's
    ``url.Values.Get`` and the parameter conversion do."""

    def __init__(self, raw: str):
        try:
            self._values = parse_qs(raw, keep_blank_values=True, strict_parsing=False, max_num_fields=1000)
        except ValueError:
            raise BadRequest(f"invalid query string: {raw[:100]!r}") from None

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self._values.get(name)
        return values[0] if values else default

    def all(self, name: str) -> list[str]:
        return list(self._values.get(name, []))

    def as_dict(self) -> dict[str, str]:
        return {k: v[0] for k, v in self._values.items() if v}

    def bool(self, name: str, default: bool = False) -> bool:
        """apimachinery's Convert_Slice_string_To_bool: absent → default; "false"/"0" → false;
        anything else, the empty string included, → true."""
        value = self.get(name)
        if value is None:
            return default
        return not (value == "0" or value.lower() == "false")

    def int(self, name: str) -> int | None:
        value = self.get(name)
        if value is None:
            return None
        return parse_int64(value)

    def list_options(self) -> ListOptions:
        """The options of a list or watch, refused as the apiserver refuses them (400)."""
        rv = self.get("resourceVersion") or ""
        token = self.get("continue") or ""
        watch = self.bool("watch")
        options = ListOptions(watch=watch, allow_bookmarks=self.bool("allowWatchBookmarks"),
                              resource_version=rv, timeout_seconds=self.int("timeoutSeconds"),
                              limit=self.int("limit"), continue_token=token)
        match = self.get("resourceVersionMatch") or ""
        if match:
            self._check_match(match, options)
        continued = None
        if token and not watch:
            continued = decode_continue(token)
            if rv not in ("", "0"):
                raise BadRequest("specifying resource version is not allowed when using continue")
        parse_resource_version(rv)
        return replace(options, continued=continued)

    @staticmethod
    def _check_match(match: str, options: ListOptions) -> None:
        causes = []
        if options.watch:
            causes.append(("FieldValueForbidden", "Forbidden: resourceVersionMatch is forbidden for watch"))
        else:
            if not options.resource_version:
                causes.append(("FieldValueForbidden",
                               "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"))
            if options.continue_token:
                causes.append(("FieldValueForbidden",
                               "Forbidden: resourceVersionMatch is forbidden when continue is provided"))
            if match not in ("Exact", "NotOlderThan"):
                causes.append(("FieldValueNotSupported",
                               f'Unsupported value: "{_shown(match)}": supported values: "Exact", "NotOlderThan", ""'))
        if causes:
            raise _invalid_options("ListOptions", [(r, "resourceVersionMatch", m) for r, m in causes])

    def check_write_options(self, method: str) -> None:
        """``dryRun`` and ``fieldValidation`` of a write, validated as the apiserver validates
        Create/Update/Patch/DeleteOptions (422 naming the options kind)."""
        kind = OPTIONS_KIND.get(method)
        if kind is None:
            return
        causes = []
        dry_run = self.all("dryRun")
        if any(v != "All" for v in dry_run):
            shown = "[]string{" + ", ".join(json.dumps(_shown(v)) for v in dry_run) + "}"
            causes.append(("FieldValueNotSupported", "dryRun", f'Unsupported value: {shown}: supported values: "All"'))
        validation = self.get("fieldValidation")
        if kind != "DeleteOptions" and validation is not None and validation not in FIELD_VALIDATION:
            allowed = ", ".join(f'"{v}"' for v in FIELD_VALIDATION)
            causes.append(("FieldValueNotSupported", "fieldValidation",
                           f'Unsupported value: "{_shown(validation)}": supported values: {allowed}'))
        if causes:
            raise _invalid_options(kind, causes)

    def dry_run(self) -> builtins.bool:
        values = self.all("dryRun")
        for v in values:
            if v != "All":
                raise BadRequest(f'dryRun: Unsupported value: "{v}": supported values: "All"')
        return bool(values)


def _invalid_options(kind: str, causes: list[tuple[str, str, str]]) -> Invalid:
    texts = [f"{field}: {message}" for _, field, message in causes]
    summary = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    return Invalid(f'{kind}.meta.k8s.io "" is invalid: {summary}',
                   details={"group": "meta.k8s.io", "kind": kind,
                            "causes": [status_cause(r, m, f) for r, f, m in causes]})
