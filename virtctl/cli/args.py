"""Argument and flag helpers with cobra/pflag semantics and messages."""

from __future__ import annotations

from typing import Any

from typer._click import core as click_core

from virtctl.errors import UsageError


def exact_args(args: list[str] | tuple[str, ...] | None, n: int) -> list[str]:
    args = list(args or [])
    if len(args) != n:
        raise UsageError(f"accepts {n} arg(s), received {len(args)}")
    return args


def no_args(args: list[str] | tuple[str, ...] | None, path: str) -> None:
    if args:
        raise UsageError(f'unknown command "{args[0]}" for "{path}"')


def changed(ctx: Any, name: str) -> bool:
    """Was the flag given on the command line (cobra's ``Flags().Changed``)?"""
    if name in ctx.meta.get("virtctl.explicit_bools", {}):
        return True
    return ctx.get_parameter_source(name) == click_core.ParameterSource.COMMANDLINE


def bool_value(ctx: Any, name: str, value: bool) -> bool:
    """A bool flag's value, honouring pflag's ``--flag=false``."""
    explicit = ctx.meta.get("virtctl.explicit_bools", {})
    return explicit.get(name, value)


def string_to_string(values: list[str] | tuple[str, ...], flag: str) -> dict[str, str]:
    """pflag StringToString: ``k=v,k2=v2`` (repeatable, merged)."""
    out: dict[str, str] = {}
    for value in values:
        for pair in value.split(","):
            if not pair:
                continue
            if "=" not in pair:
                raise UsageError(f'invalid argument "{value}" for "--{flag}" flag: {pair} must be formatted as key=value')
            k, v = pair.split("=", 1)
            out[k] = v
    return out


def string_slice(values: list[str] | tuple[str, ...]) -> list[str]:
    """pflag StringSlice: repeatable, each value comma-separated."""
    out: list[str] = []
    for v in values:
        out.extend(p for p in v.split(","))
    return out
