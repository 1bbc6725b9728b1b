"""TAB completion in cobra's ``__complete`` protocol: one candidate per line (``name\\tdescription``),
then ``:<directive>``. The bash/zsh/fish scripts and kubectl's plugin completion
(``kubectl_complete-virt``) all ask this.

Command names come from the static registry; VM/VMI names from the API with a short timeout,
quietly nothing on any error. No typer unless flags of a command are completed."""

from __future__ import annotations

import sys

from virtctl.cli import registry
from virtctl.cli.globals import GLOBAL_FLAGS, split_globals
from virtctl.cli.state import current

NO_FILE_COMP = 4
DEFAULT = 0
NAME_TIMEOUT = 2.0
OUTPUT_FORMATS = ("json", "yaml", "name", "wide")


def _names(kind_word: str, prefix: str) -> list[str]:
    """Object names of a kind in the current namespace; [] on any problem."""
    try:
        from virtctl.client import KubeVirtClient, NoKubeconfig, resolve
        from virtctl.model import kinds

        kind = kinds.lookup(kind_word)
        try:
            cfg = resolve(current().options.overrides)
        except NoKubeconfig:
            cfg = _local_config()
            if cfg is None:
                return []
        cfg.timeout = NAME_TIMEOUT
        kv = KubeVirtClient.from_config(cfg)
        try:
            items = kv.list(kind).get("items", [])
        finally:
            kv.close()
        return sorted(n for n in (i.get("metadata", {}).get("name", "") for i in items) if n.startswith(prefix))
    except Exception:   # completion must never print an error into the user's shell
        return []


def _local_config():  # -> ClientConfig | None
    """The local controller, only if it already runs (completion never starts it)."""

    from virtctl.client import resolve
    from virtctl.controller import local
    from virtctl.controller.settings import Settings

    info = local.status(Settings.load())
    if info is None or info.kubeconfig_path is None:
        return None
    return resolve(current().options.overrides.replace(kubeconfig=str(info.kubeconfig_path),
                                                              context=info.context))


def _flags(path: list[str]) -> list[tuple[str, str]]:
    """(flag, help) of a command and the global flags."""
    out = [(f"--{f.name}", f.help) for f in GLOBAL_FLAGS]
    try:
        from typer.core import TyperGroup, TyperOption

        from virtctl.cli.lazy import load

        cmd = load(path[0]) if path else None
        for word in path[1:]:
            if isinstance(cmd, TyperGroup):
                cmd = cmd.commands.get(word)
        if cmd is not None:
            for p in cmd.params:
                if isinstance(p, TyperOption) and not p.hidden:
                    out.extend((o, (p.help or "").split("\n")[0]) for o in p.opts if o.startswith("--"))
    except Exception:
        pass
    return out + [("--help", "help for this command")]


def candidates(words: list[str], to_complete: str) -> tuple[list[tuple[str, str]], int]:
    _, rest = split_globals(words)
    if words and words[-1] in ("-o", "--output") and rest and rest[0] == "get":
        return [(f, "") for f in OUTPUT_FORMATS if f.startswith(to_complete)], NO_FILE_COMP
    if to_complete.startswith("-"):
        positional = [w for w in rest if not w.startswith("-")]
        path = positional[:2] if positional[:1] and positional[0] in registry.SUBCOMMANDS else positional[:1]
        return [(f, h) for f, h in _flags(path) if f.startswith(to_complete)], NO_FILE_COMP
    positional = [w for w in rest if not w.startswith("-")]
    if not positional:
        rows = [(n, e.short) for n, e in registry.COMMANDS.items() if not e.hidden]
        rows.append(("help", "Help about any command"))
        return sorted((n, h) for n, h in rows if n.startswith(to_complete)), NO_FILE_COMP
    command = positional[0]
    args = positional[1:]
    entry = registry.COMMANDS.get(command)
    if command in registry.SUBCOMMANDS:
        subs = registry.SUBCOMMANDS[command]
        if not args:
            rows = [(n, h) for n, h in subs.items() if n.startswith(to_complete)]
            if entry is not None and entry.completes in ("vm", "vmi"):   # `vnc NAME` or `vnc screenshot NAME`
                rows += [(n, "") for n in _names(entry.completes, to_complete)]
            return rows, NO_FILE_COMP
        if len(args) == 1 and args[0] in subs and entry is not None and entry.completes in ("vm", "vmi"):
            return [(n, "") for n in _names(entry.completes, to_complete)], NO_FILE_COMP
        return [], NO_FILE_COMP if command != "apply" else DEFAULT
    if command == "apply":
        return [], DEFAULT                                   # -f takes files
    if entry is None or not entry.completes:
        return [], NO_FILE_COMP
    if entry.completes in ("vm", "vmi"):
        if args:
            return [], NO_FILE_COMP
        return [(n, "") for n in _names(entry.completes, to_complete)], NO_FILE_COMP
    if entry.completes == "pause":
        if not args:
            return [(w, "") for w in ("vm", "vmi") if w.startswith(to_complete)], NO_FILE_COMP
        if len(args) == 1 and args[0].lower() in ("vm", "vmi", "virtualmachine", "virtualmachineinstance"):
            word = "vmi" if args[0].lower().startswith(("vmi", "virtualmachineinstance")) else "vm"
            return [(n, "") for n in _names(word, to_complete)], NO_FILE_COMP
        return [], NO_FILE_COMP
    # "kind": a kind word, then names of that kind
    if not args:
        from virtctl.model import kinds

        words_ = sorted({w for k in kinds.ALL_KINDS for w in (k.plural, *k.short_names)})
        return [(w, "") for w in words_ if w.startswith(to_complete)], NO_FILE_COMP
    already = set(args[1:])
    return [(n, "") for n in _names(args[0], to_complete) if n not in already], NO_FILE_COMP


def complete(args: list[str], describe: bool = True) -> int:
    words, to_complete = (args[:-1], args[-1]) if args else ([], "")
    try:
        found, directive = candidates(words, to_complete)
    except Exception:
        found, directive = [], NO_FILE_COMP
    out = sys.stdout
    for name, desc in found:
        out.write(f"{name}\t{desc}\n" if describe and desc else f"{name}\n")
    out.write(f":{directive}\n")
    name = "ShellCompDirectiveNoFileComp" if directive == NO_FILE_COMP else "ShellCompDirectiveDefault"
    sys.stderr.write(f"Completion ended with directive: {name}\n")
    return 0
