"""The start-up fast path for what scripts run in loops: ``get …`` and ``version --client``.

When the words after the global flags use only flags this parser knows exactly, the command's core
(:mod:`virtctl.cli.getting`, :mod:`virtctl.cli.version_info`) runs without importing typer, which
is ≈ 30 ms of a ≈ 45 ms ``virtctl get vm NAME``. Anything else (help, unknown or bundled flags,
``--``, a flag without its value) returns ``None`` and the full parser takes over, so usage errors
and help still come from one place. tests/cli/test_fast.py checks this parser against click's on
generated command lines.
"""

from __future__ import annotations

GET_VALUE_FLAGS = {"-o": "output", "--output": "output", "-l": "selector", "--selector": "selector"}
GET_BOOL_FLAGS = {"-w": "watch", "--watch": "watch", "-A": "all_namespaces", "--all-namespaces": "all_namespaces"}


def parse_get(args: list[str]) -> dict | None:
    """``get``'s own arguments as the typer command would receive them, or None to fall back."""
    params: dict = {"words": [], "output": "", "watch": False, "selector": "", "all_namespaces": False}
    i = 0
    while i < len(args):
        tok = args[i]
        if not tok.startswith("-") or tok == "-":
            params["words"].append(tok)
        elif tok in GET_BOOL_FLAGS:
            params[GET_BOOL_FLAGS[tok]] = True
        elif tok in GET_VALUE_FLAGS:
            if i + 1 >= len(args):
                return None
            i += 1
            params[GET_VALUE_FLAGS[tok]] = args[i]
        elif tok.startswith("--") and tok.partition("=")[0] in GET_VALUE_FLAGS:
            params[GET_VALUE_FLAGS[tok.partition("=")[0]]] = tok.partition("=")[2]
        elif not tok.startswith("--") and tok[:2] in GET_VALUE_FLAGS:
            params[GET_VALUE_FLAGS[tok[:2]]] = tok[2:]          # -oyaml
        else:
            return None
        i += 1
    return params


def run(rest: list[str]) -> int | None:
    """Run ``rest`` on the fast path and return its exit code, or None when it does not apply."""
    if not rest:
        return None
    if rest[0] == "get":
        params = parse_get(rest[1:])
        if params is None:
            return None
        from virtctl.cli import getting

        getting.run(**params)
        return 0
    if rest[0] == "version" and len(rest) == 2 and rest[1] in ("--client", "-c"):
        from virtctl.cli import version_info

        version_info.run(client=True)
        return 0
    return None
