"""``completion bash|zsh|fish|powershell [--no-descriptions]``: print a shell completion script, as
cobra's default completion command does (its sub-commands and flag)."""

from __future__ import annotations

import sys

import typer

from virtctl.cli.args import bool_value
from virtctl.cli.completion_scripts import script
from virtctl.cli.lazy import CobraCommand, new_group

app, completion_app = new_group("completion",
                                help="Generate the autocompletion script for virtctl for the specified shell.\n"
                                     "See each sub-command's help for details on how to use the generated script.\n"
                                     "Names of VMs and VMIs are completed from the API. For \"kubectl virt <TAB>\" "
                                     "(kubectl >= 1.26),\nthe kubectl_complete-virt program installed with virtctl "
                                     "answers kubectl.",
                                short_help="Generate the autocompletion script for the specified shell")

NO_DESC_HELP = "disable completion descriptions"
USAGE = {
    "bash": "  # for the current shell\n  source <({{ProgramName}} completion bash)\n\n"
            "  # for every new session (Linux)\n  {{ProgramName}} completion bash > /etc/bash_completion.d/virtctl",
    "zsh": "  # for the current shell\n  source <({{ProgramName}} completion zsh)\n\n"
           "  # for every new session\n  {{ProgramName}} completion zsh > \"${fpath[1]}/_virtctl\"",
    "fish": "  # for the current shell\n  {{ProgramName}} completion fish | source\n\n"
            "  # for every new session\n  {{ProgramName}} completion fish > ~/.config/fish/completions/virtctl.fish",
    "powershell": "  # for the current shell\n  {{ProgramName}} completion powershell | Out-String | Invoke-Expression\n\n"
                  "  # for every new session: add the output of the above command to your PowerShell profile",
}


def _command(shell: str) -> None:
    @completion_app.command(shell, cls=CobraCommand, short_help=f"Generate the autocompletion script for {shell}",
                            help=f"Generate the autocompletion script for the {shell} shell.", epilog=USAGE[shell])
    def generate(ctx: typer.Context,
                 no_descriptions: bool = typer.Option(False, "--no-descriptions", help=NO_DESC_HELP)) -> None:
        sys.stdout.write(script(shell, descriptions=not bool_value(ctx, "no_descriptions", no_descriptions)))


for _shell in ("bash", "zsh", "fish", "powershell"):
    _command(_shell)
