"""``completion bash|zsh|fish``: print a shell completion script."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from virtctl.cli.args import exact_args
from virtctl.cli.completion_scripts import SCRIPTS
from virtctl.cli.lazy import CobraCommand, CobraGroup, new_app
from virtctl.errors import UsageError

app = new_app(cls=CobraGroup)


@app.command("completion", cls=CobraCommand, short_help="Generate the autocompletion script for the specified shell",
             help="Generate the autocompletion script for virtctl for the specified shell (bash, zsh or fish).\n"
                  "Names of VMs and VMIs are completed from the API. For \"kubectl virt <TAB>\" (kubectl >= 1.26),\n"
                  "the kubectl_complete-virt program installed with virtctl answers kubectl.",
             epilog="  # bash, for the current shell\n  source <({{ProgramName}} completion bash)\n\n"
                    "  # zsh\n  {{ProgramName}} completion zsh > \"${fpath[1]}/_virtctl\"\n\n"
                    "  # fish\n  {{ProgramName}} completion fish > ~/.config/fish/completions/virtctl.fish")
def completion(args: Optional[list[str]] = typer.Argument(None, metavar="bash|zsh|fish")) -> None:
    (shell,) = exact_args(args, 1)
    if shell not in SCRIPTS:
        raise UsageError(f'unknown shell "{shell}", supported: bash, zsh, fish')
    sys.stdout.write(SCRIPTS[shell])
