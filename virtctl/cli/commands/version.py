"""``version``: client and server version in Go's ``%#v`` layout (docs/compatibility.md#commands)."""

from __future__ import annotations

import typer

from virtctl.cli import version_info
from virtctl.cli.args import call_params
from virtctl.cli.lazy import CobraCommand, new_app

app = new_app()


@app.command("version", cls=CobraCommand, short_help="Print the client and server version information.",
             help="Print the client and server version information.",
             epilog="  # Print the client and server versions for the current context\n  {{ProgramName}} version")
def version(ctx: typer.Context,
            client: bool = typer.Option(False, "--client", "-c", help="Client version only (no server required).")
            ) -> None:
    version_info.version(args=[], **call_params(ctx))
