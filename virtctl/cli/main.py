"""Entry points and the ONE error funnel: every failure becomes one line on stderr and an exit code.

Go virtctl prints errors without an ``Error:`` prefix and exits 1
(docs/compatibility.md#output-errors-and-exit-codes)."""

from __future__ import annotations

import sys

from virtctl.errors import ExitStatus, UsageError, VirtctlError

_ROOT_HELP_ARGS: tuple[list[str], ...] = ([], ["-h"], ["--help"], ["help"])
# commands Go virtctl does not have (kubectl's get/apply/delete, our own local and snapshot): no version
# check when they fail, as kubectl has none
_NO_SKEW_CHECK = ("get", "apply", "delete", "local", "snapshot", "__complete", "__completeNoDesc")
_ROOT_WORDS = ("help", "__complete", "__completeNoDesc")


def _cobra_usage_message(e: BaseException) -> str:
    """click's usage errors in cobra/pflag words."""
    from typer._click import exceptions as cx

    if isinstance(e, cx.NoSuchOption):
        name = e.option_name
        if name.startswith("--"):
            return f"unknown flag: {name}"
        return f"unknown shorthand flag: '{name.lstrip('-')[:1]}' in {name}"
    if isinstance(e, cx.BadOptionUsage):
        if "requires an argument" in e.message:
            return f"flag needs an argument: {e.option_name}"
        return e.message
    if isinstance(e, cx.MissingParameter) and e.param is not None and e.param.param_type_name == "option":
        return f'required flag(s) "{(e.param.name or "").replace("_", "-")}" not set'
    if isinstance(e, cx.BadParameter) and e.param is not None:
        opts = [o for o in getattr(e.param, "opts", []) if o.startswith("--")]
        flag = opts[0] if opts else e.param.name
        short = [o for o in getattr(e.param, "opts", []) if not o.startswith("--")]
        flag_desc = f"{short[0]}, {flag}" if short else flag
        return f'invalid argument for "{flag_desc}" flag: {e.message}'
    if isinstance(e, cx.UsageError):
        msg = e.message
        if msg.startswith("Got unexpected extra argument"):
            return msg.replace("Got unexpected extra argument", "unexpected argument").replace("(", "").replace(")", "")
        return msg
    return str(e)


def _version_skew(inv: object, rest: list[str], error: str) -> None:
    """Go virtctl's check after a failed command (virtctl.cli.skew), printed before the error (once:
    not when the check failed with the very error the command reports)."""
    if inv is None or (rest and rest[0] in _NO_SKEW_CHECK):
        return
    from virtctl.cli import skew

    text = skew.check(inv)  # type: ignore[arg-type]
    if text is not None and text != error:
        sys.stdout.flush()
        sys.stderr.write(text + "\n")


def main(argv: list[str] | None = None, argv0: str | None = None) -> int:
    """Run one command; return its exit code. Never raises (except SystemExit from deep inside)."""
    from virtctl.cli.globals import split_globals
    from virtctl.cli.state import begin, program_name

    args = list(sys.argv[1:] if argv is None else argv)
    prog = program_name(sys.argv[0] if argv0 is None else argv0)
    debug = "--debug" in args
    inv = None
    rest: list[str] = []
    try:
        options, rest = split_globals(args)
        debug = options.debug
        inv = begin(prog, options)
        if rest in _ROOT_HELP_ARGS:
            # the root help needs no command module and no typer: keep `--help` cheap
            from virtctl.cli import registry

            sys.stdout.write(registry.root_help(prog))
            return ExitStatus.SUCCESS
        if rest and rest[0] in ("__complete", "__completeNoDesc"):
            from virtctl.cli.complete import complete

            return complete(rest[1:], describe=rest[0] == "__complete")
        from virtctl.cli import fast, registry

        if rest and not rest[0].startswith("-") and rest[0] not in registry.COMMANDS and rest[0] not in _ROOT_WORDS:
            raise UsageError(registry.unknown_command(rest[0], prog))
        code = fast.run(rest)
        if code is not None:
            return code
        from typer import exceptions as tx
        from typer._click import exceptions as cx

        from virtctl.cli.lazy import build_root

        root = build_root()
        try:
            rv = root.main(args=rest, prog_name=prog, standalone_mode=False)
        except tx.Exit as e:
            return e.exit_code
        except tx.Abort:
            sys.stderr.write("\n")
            return ExitStatus.ERROR
        except cx.ClickException as e:
            message = _cobra_usage_message(e)
            _version_skew(inv, rest, message)
            sys.stderr.write(message + "\n")
            return ExitStatus.USAGE
        return rv if isinstance(rv, int) else ExitStatus.SUCCESS
    except VirtctlError as e:
        _version_skew(inv, rest, e.message)
        sys.stdout.flush()
        if e.message:                       # "" = already reported
            sys.stderr.write(e.message + "\n")
        if e.hint:
            sys.stderr.write(e.hint + "\n")
        return e.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return 130
    except BrokenPipeError:
        return ExitStatus.ERROR
    except Exception as e:  # the funnel: one line, no traceback unless asked for
        _version_skew(inv, rest, "")
        if debug:
            import traceback

            traceback.print_exc()
        text = str(e).strip().splitlines()[0] if str(e).strip() else ""
        sys.stderr.write(f"{type(e).__name__}: {text}\n" if text else f"unexpected error: {type(e).__name__}\n")
        return ExitStatus.ERROR
    finally:
        if inv is not None:
            inv.close()


def run() -> None:
    """``virtctl`` / ``kubectl-virt``."""
    code = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    sys.exit(code)


def run_plugin_completion() -> None:
    """``kubectl_complete-virt``: kubectl ≥1.26 runs it with the words after ``kubectl virt``; it
    answers in cobra's ``__complete`` protocol (kubernetes/kubernetes#105867)."""
    code = main(["__complete", *sys.argv[1:]], argv0="kubectl-virt")
    sys.exit(code)
