"""The root command group (lazy: imports only the invoked command's module) and cobra-style help
for every command (docs/compatibility.md#help-and-program-name)."""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Callable, Optional, TypeVar

import typer
import typer.main
from typer import _click as click
from typer._click.globals import get_current_context
from typer._click.types import IntParamType
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from virtctl.cli import registry
from virtctl.cli.args import call_params
from virtctl.cli.globals import options_text
from virtctl.cli.state import current

MIN_NAME_PADDING = 11                   # cobra pads command names in "Available Commands" to at least this
OPTIONS_HINT = 'Use "{prog} options" for a list of global command-line options (applies to all commands).'


def _prog() -> str:
    return current().prog


def _path(ctx: click.Context) -> str:
    names = []
    c: click.Context | None = ctx
    while c is not None and c.parent is not None:
        names.append(c.info_name or "")
        c = c.parent
    return " ".join([_prog(), *reversed(names)])


def flag_usages(ctx: click.Context) -> str:
    """cobra's FlagUsages layout: ``  -c, --client   help`` with type words and defaults."""
    rows: list[tuple[str, str, str]] = []
    for p in ctx.command.get_params(ctx):
        if not isinstance(p, TyperOption) or p.hidden:
            continue
        longs = [o for o in p.opts if o.startswith("--")]
        shorts = [o for o in p.opts if not o.startswith("--")]
        if not longs:
            continue
        left = f"  {shorts[0]}, {longs[0]}" if shorts else f"      {longs[0]}"
        kind = ""
        if p.is_flag:
            kind = ""
        elif p.metavar:                 # pflag's type word where it is not the obvious one (uint32, strings …)
            kind = p.metavar
        elif p.multiple:
            kind = "stringArray"
        elif isinstance(p.type, IntParamType):
            kind = "int"
        else:
            kind = "string"
        if kind:
            left += " " + kind
        text = p.help or ""
        if longs[0] == "--help":
            text = f"help for {ctx.info_name}"
        elif not p.is_flag and not p.multiple and p.default not in (None, "", 0, ()) and "(default" not in text:
            text += f' (default "{p.default}")' if isinstance(p.default, str) else f" (default {p.default})"
        elif p.is_flag and p.default is True:
            text += " (default true)"
        rows.append((longs[0][2:], left, text))
    if not rows:
        return ""
    rows.sort()                         # pflag lists a command's flags sorted by name, --help among them
    width = max(len(left) for _, left, _ in rows)
    out = []
    for _, left, text in rows:
        lines = text.split("\n")
        out.append(f"{left.ljust(width)}   {lines[0]}")
        out.extend(f"{' ' * (width + 3)}{more}" for more in lines[1:])
    return "\n".join(out)


class _CobraHelp:
    """Mixin: cobra's help layout instead of click's."""

    examples: str = ""

    def get_help(self, ctx: click.Context) -> str:
        return self.cobra_help(ctx).rstrip("\n")     # click's echo adds the final newline

    def cobra_help(self, ctx: click.Context) -> str:
        cmd: Any = self
        prog = _prog()
        parts: list[str] = []
        text = (cmd.help or cmd.short_help or "").rstrip()
        if text:
            parts.append(text + "\n")
        usage = _path(ctx)
        if isinstance(self, TyperGroup):
            usage_line = f"  {usage} [command]"
        else:
            args = " ".join(p.metavar or p.human_readable_name for p in cmd.params
                            if isinstance(p, TyperArgument) and not p.hidden)
            usage_line = f"  {usage}{' ' + args if args else ''} [flags]"
        parts.append("Usage:\n" + usage_line + "\n")
        examples = (cmd.epilog or "").replace("{{ProgramName}}", prog).rstrip()
        if examples:
            parts.append("Examples:\n" + examples + "\n")
        if isinstance(self, TyperGroup):
            rows = [(n, (self.get_command(ctx, n).get_short_help_str(200)))  # type: ignore[union-attr]
                    for n in self.list_commands(ctx)]
            width = max([len(n) for n, _ in rows] + [MIN_NAME_PADDING])
            parts.append("Available Commands:\n" + "\n".join(f"  {n.ljust(width)} {h}" for n, h in rows) + "\n")
        flags = flag_usages(ctx)
        if flags:
            parts.append("Flags:\n" + flags + "\n")
        if isinstance(self, TyperGroup):
            parts.append(f'Use "{usage} [command] --help" for more information about a command.')
        parts.append(OPTIONS_HINT.format(prog=prog) + "\n")
        return "\n".join(parts)


class CobraCommand(_CobraHelp, TyperCommand):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """pflag accepts ``--flag=false`` for bool flags; click does not: record and strip it."""
        bools = {o: p.name or "" for p in self.params if isinstance(p, TyperOption) and p.is_flag
                 for o in p.opts if o.startswith("--")}
        takes_value = {o for p in self.params if isinstance(p, TyperOption) and not p.is_flag for o in p.opts}
        explicit: dict[str, bool] = {}
        kept: list[str] = []
        value_next = False
        for i, tok in enumerate(args):
            if value_next:                   # the value of the flag before it, whatever it looks like
                kept.append(tok)
                value_next = False
                continue
            if tok == "--":
                kept.extend(args[i:])
                break
            if tok in takes_value:
                value_next = True
                kept.append(tok)
                continue
            key, eq, value = tok.partition("=")
            if eq and key in bools:
                low = value.lower()
                if low not in ("1", "t", "true", "0", "f", "false"):
                    from virtctl.errors import UsageError

                    raise UsageError(f'invalid argument "{value}" for "{key}" flag: strconv.ParseBool: '
                                     f'parsing "{value}": invalid syntax')
                explicit[bools[key]] = low in ("1", "t", "true")
                if explicit[bools[key]]:
                    kept.append(key)
                continue
            kept.append(tok)
        ctx.meta["virtctl.explicit_bools"] = explicit
        return super().parse_args(ctx, kept)


class CobraGroup(_CobraHelp, TyperGroup):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.commands)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args:                   # cobra: a group without a sub-command prints its help, exit 0
            click.echo(self.cobra_help(ctx), nl=False)
            ctx.exit(0)
        return super().parse_args(ctx, args)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = args[0]
        if self.get_command(ctx, name) is None and not name.startswith("-"):
            from virtctl.errors import UsageError

            raise UsageError(registry.unknown_command(name, _path(ctx), suggest=ctx.parent is None))
        return super().resolve_command(ctx, args)


def new_app(**kw: Any) -> typer.Typer:
    """A Typer for one command module, with the cobra help classes and no click/rich extras."""
    kw.setdefault("cls", CobraGroup)
    return typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False,
                       context_settings={"help_option_names": ["-h", "--help"]}, **kw)


def new_group(name: str, help: str, short_help: str) -> tuple[typer.Typer, typer.Typer]:
    """A command module holding one command group (``create``, ``local`` …): (the module's app, the group)."""
    app = new_app()
    group = new_app(help=help, short_help=short_help)
    app.add_typer(group, name=name)
    return app, group


Params = dict[str, tuple[Any, Any]]     # parameter name -> (annotation, typer.Option/typer.Argument)
F = TypeVar("F", bound=Callable[..., Any])


def with_params(*groups: Params) -> Callable[[F], F]:
    """Declares parameters shared by several commands once: appends ``groups`` to the decorated command
    function's own parameters (it receives them in ``**params``), as if written in its signature."""
    def apply(func: F) -> F:
        sig = inspect.signature(func, eval_str=True)
        own = [p for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD]
        shared = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind, default=info)
                  for group in groups for name, (kind, info) in group.items()]
        func.__signature__ = sig.replace(parameters=own + shared)  # type: ignore[attr-defined]
        return func
    return apply


def add_command(app: typer.Typer, name: str, run: Callable[..., None], *groups: Params, metavar: str | None = None,
                short_help: str, help: str = "", epilog: str = "", hidden_args: bool = False) -> None:
    """Declares command ``name``: positional ``args`` (shown as ``metavar``, or not at all with
    ``hidden_args``) and the flags of ``groups``; it calls ``run`` (its :mod:`virtctl.cli.ops` function)
    with :func:`virtctl.cli.args.call_params`."""
    @app.command(name, cls=CobraCommand, short_help=short_help, help=help or short_help, epilog=epilog)
    @with_params(*groups)
    def command(ctx: typer.Context,
                args: Optional[list[str]] = typer.Argument(None, metavar=metavar, hidden=hidden_args),
                **params: Any) -> None:
        run(**call_params(ctx))


def load(name: str) -> click.Command | None:
    """The click command for a top-level command name (imports its module only)."""
    entry = registry.COMMANDS.get(name)
    if entry is None:
        return None
    module = importlib.import_module(f"virtctl.cli.commands.{entry.module}")
    built = typer.main.get_command(module.app)
    if isinstance(built, TyperGroup) and name in built.commands:
        return built.commands[name]
    return built


class RootGroup(CobraGroup):
    """Knows command names and short help statically (registry); imports a module on use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n, e in registry.COMMANDS.items() if not e.hidden)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name == "options":
            return _options_command()
        if name == "help":
            return _help_command()
        return load(name)

    def cobra_help(self, ctx: click.Context) -> str:
        return registry.root_help(_prog())

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args:
            click.echo(registry.root_help(_prog()), nl=False)
            ctx.exit(0)
        return TyperGroup.parse_args(self, ctx, args)


def _options_command() -> TyperCommand:
    def show() -> None:
        click.echo(options_text(), nl=False)

    return TyperCommand("options", callback=show, help="Print the list of flags inherited by all commands",
                         hidden=True)


def _help_command() -> TyperCommand:
    def show(words: tuple[str, ...]) -> None:
        ctx = get_current_context()
        root = ctx.find_root()
        cmd: Any = root.command
        sub_ctx = root
        for w in words:
            nxt = cmd.get_command(sub_ctx, w) if isinstance(cmd, TyperGroup) else None
            if nxt is None:
                from virtctl.errors import UsageError

                raise UsageError(f'unknown help topic "{" ".join(words)}"')   # cobra: prints this, exit 0 in Go
            sub_ctx = click.Context(nxt, info_name=w, parent=sub_ctx)
            cmd = nxt
        click.echo(cmd.cobra_help(sub_ctx) if hasattr(cmd, "cobra_help") else cmd.get_help(sub_ctx), nl=False)

    return TyperCommand("help", callback=show, help="Help about any command",
                         params=[TyperArgument(param_decls=["words"], nargs=-1, required=False)])


def build_root() -> RootGroup:
    return RootGroup(name=_prog(), context_settings={"help_option_names": ["-h", "--help"]},
                     rich_markup_mode=None)
