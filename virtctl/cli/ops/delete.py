"""``delete KIND NAME…`` (beyond Go virtctl), with kubectl's messages."""

from __future__ import annotations

import sys

from virtctl.cli.getting import server_error
from virtctl.cli.state import current
from virtctl.errors import APIError, UsageError, VirtctlError
from virtctl.model import kinds


def delete(args: list[str], dry_run: bool, changed: frozenset[str]) -> None:
    if not args:
        raise UsageError("You must provide one or more resources by argument or filename.")
    kind = kinds.lookup(args[0])
    if len(args) < 2:
        raise UsageError("resource(s) were provided, but no name was specified")
    kv = current().client()
    failure = None
    for name in args[1:]:
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
