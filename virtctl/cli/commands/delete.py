"""``delete KIND NAME…`` (beyond Go virtctl), with kubectl's messages."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from virtctl.cli.getting import server_error
from virtctl.cli.lazy import CobraCommand, new_app
from virtctl.cli.state import current
from virtctl.errors import APIError, UsageError, VirtctlError
from virtctl.model import kinds

app = new_app()


@app.command("delete", cls=CobraCommand, short_help="Delete KubeVirt objects by kind and name.",
             help="Delete KubeVirt objects by kind and name.",
             epilog="  # Delete a virtual machine\n  {{ProgramName}} delete vm my-vm")
def delete(
    args: Optional[list[str]] = typer.Argument(None, metavar="KIND NAME..."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only check that the objects can be deleted."),
) -> None:
    words = list(args or [])
    if not words:
        raise UsageError("You must provide one or more resources by argument or filename.")
    kind = kinds.lookup(words[0])
    if len(words) < 2:
        raise UsageError("resource(s) were provided, but no name was specified")
    kv = current().client()
    failure = None
    for name in words[1:]:
        try:
            kv.delete(kind, name, dry_run=dry_run, propagation_policy="Background")
        except APIError as e:
            failure = server_error(e)
            sys.stderr.write(failure.message + "\n")
            continue
        sys.stdout.write(f'{kind.singular}.{kind.group} "{name}" deleted{" (dry run)" if dry_run else ""}\n')
        sys.stdout.flush()
    if failure is not None:
        raise VirtctlError("")       # each failure was printed already
