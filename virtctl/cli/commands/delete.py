"""``delete KIND NAME…`` (beyond Go virtctl), with kubectl's messages."""

from __future__ import annotations

from typing import Optional

import typer

from virtctl.cli.args import call_params
from virtctl.cli.lazy import CobraCommand, new_app
from virtctl.cli.ops import delete as ops

app = new_app()


@app.command("delete", cls=CobraCommand, short_help="Delete KubeVirt objects by kind and name.",
             help="Delete KubeVirt objects by kind and name.",
             epilog="  # Delete a virtual machine\n  {{ProgramName}} delete vm my-vm")
def delete(
    ctx: typer.Context,
    args: Optional[list[str]] = typer.Argument(None, metavar="KIND NAME..."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only check that the objects can be deleted."),
) -> None:
    ops.delete(**call_params(ctx))
