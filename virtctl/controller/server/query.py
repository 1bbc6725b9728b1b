"""Query parameters as the apiserver reads them (Go ``strconv.ParseBool``, ``dryRun``, timeouts)."""

from __future__ import annotations

from urllib.parse import parse_qs

from virtctl.errors import BadRequest

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


class Query:
    """The request's query string; ``get`` returns the last value of a repeated parameter."""

    def __init__(self, raw: str):
        try:
            self._values = parse_qs(raw, keep_blank_values=True, strict_parsing=False)
        except ValueError:
            raise BadRequest(f"invalid query string: {raw[:100]!r}") from None

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self._values.get(name)
        return values[-1] if values else default

    def all(self, name: str) -> list[str]:
        return list(self._values.get(name, []))

    def as_dict(self) -> dict[str, str]:
        return {k: v[-1] for k, v in self._values.items() if v}

    def bool(self, name: str, default: bool = False) -> bool:
        value = self.get(name)
        if value is None or value == "":
            return default
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise BadRequest(f'invalid value for {name}: strconv.ParseBool: parsing "{value}": invalid syntax')

    def int(self, name: str) -> int | None:
        value = self.get(name)
        if value in (None, ""):
            return None
        try:
            return int(value)
        except ValueError:
            raise BadRequest(f'invalid value for {name}: strconv.ParseInt: parsing "{value}": invalid syntax') \
                from None

    def dry_run(self) -> bool:
        values = [v for v in self.all("dryRun") if v != ""]
        for v in values:
            if v != "All":
                raise BadRequest(f'dryRun: Unsupported value: "{v}": supported values: "All"')
        return bool(values)
