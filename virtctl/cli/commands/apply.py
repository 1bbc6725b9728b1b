"""``apply -f FILE|-`` (beyond Go virtctl): flags and help; what it does is in
:mod:`virtctl.cli.ops.apply`, reading files through :mod:`virtctl.cli.manifests`."""

from __future__ import annotations

import typer

from virtctl.cli.args import call_params
from virtctl.cli.lazy import CobraCommand, new_app
from virtctl.cli.ops import apply as ops

app = new_app()


@app.command("apply", cls=CobraCommand, short_help="Create or update KubeVirt objects from YAML or JSON files.",
             help="Create or update KubeVirt objects from YAML or JSON files (several documents per file).\n"
                  "Every document is checked before anything is written.",
             epilog="  # Create or update the objects in vm.yaml\n  {{ProgramName}} apply -f vm.yaml\n\n"
                    "  # From standard input\n  {{ProgramName}} create vm --name my-vm | {{ProgramName}} apply -f -")
def apply(
    ctx: typer.Context,
    filename: list[str] = typer.Option([], "--filename", "-f", help="The files that contain the objects to apply "
                                       "(- for standard input)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only check what would be done; change nothing."),
) -> None:
    ops.apply(args=[], **call_params(ctx))
