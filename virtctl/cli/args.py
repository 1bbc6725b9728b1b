"""Argument and flag helpers with cobra/pflag semantics and messages."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

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
    from typer._click import core as click_core

    if name in ctx.meta.get("virtctl.explicit_bools", {}):
        return True
    return ctx.get_parameter_source(name) == click_core.ParameterSource.COMMANDLINE


def bool_value(ctx: Any, name: str, value: bool) -> bool:
    """A bool flag's value, honouring pflag's ``--flag=false``."""
    explicit = ctx.meta.get("virtctl.explicit_bools", {})
    return explicit.get(name, value)


def call_params(ctx: Any) -> dict[str, Any]:
    """A parsed click command line as the keyword arguments of its :mod:`virtctl.cli.ops` function:
    positionals as the list ``args``, bool flags with pflag's ``--flag=false`` applied, repeatable
    flags as lists, and ``changed``, the flags given on the command line. The fast path
    (:mod:`virtctl.cli.fast`) builds the same dict without click."""
    out: dict[str, Any] = {}
    flags: list[str] = []
    for p in ctx.command.params:
        if p.name == "help" or p.name not in ctx.params:
            continue
        value = ctx.params[p.name]
        if p.param_type_name == "argument":
            out[p.name] = list(value or [])
            continue
        flags.append(p.name)
        if getattr(p, "is_flag", False):
            out[p.name] = bool_value(ctx, p.name, value)
        elif getattr(p, "multiple", False):
            out[p.name] = list(value or [])
        else:
            out[p.name] = value
    out["changed"] = frozenset(f for f in flags if changed(ctx, f))
    return out


def string_to_string(values: list[str] | tuple[str, ...], flag: str) -> dict[str, str]:
    """pflag StringToString: ``k=v,k2=v2`` (repeatable, merged)."""
    out: dict[str, str] = {}
    for value in values:
        for pair in value.split(","):
            if not pair:
                continue
            if "=" not in pair:
                raise UsageError(f'invalid argument "{value}" for "--{flag}" flag: {pair} must be formatted as '
                                 "key=value")
            k, v = pair.split("=", 1)
            out[k] = v
    return out


def string_slice(values: list[str] | tuple[str, ...]) -> list[str]:
    """pflag StringSlice: repeatable, each value comma-separated."""
    out: list[str] = []
    for v in values:
        out.extend(p for p in v.split(","))
    return out
