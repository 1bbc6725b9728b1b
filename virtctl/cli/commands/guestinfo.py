"""``guestosinfo``, ``userlist``, ``fslist`` (VMI): the guest agent's data as indented JSON
(docs/compatibility.md#guest-agent)."""

from __future__ import annotations

import json
import sys

import typer

from virtctl.cli.args import exact_args
from virtctl.cli.lazy import CobraCommand, new_app
from virtctl.cli.state import current
from virtctl.errors import APIError, VirtctlError

app = new_app()

_ERRORS = {"guestosinfo": "Error getting guestosinfo of VirtualMachineInstance {name}, {err}",
           "userlist": "Error listing users of VirtualMachineInstance {name}, {err}",
           "filesystemlist": "Error listing filesystems of VirtualMachineInstance {name}, {err}"}


def _show(sub: str, args: list[str] | None) -> None:
    name = exact_args(args, 1)[0]
    inv = current()
    kv = inv.client()
    from virtctl.model.kinds import VMI

    try:
        resp = kv.get_subresource(VMI, inv.namespace, name, sub)
    except APIError as e:
        raise VirtctlError(_ERRORS[sub].format(name=name, err=e.message)) from None
    sys.stdout.write(go_indent(json.loads(resp.body)) + "\n")


def go_indent(obj: object) -> str:
    """Go's ``json.MarshalIndent(v, "", "  ")``: UTF-8 as is, ``<``, ``>``, ``&``, U+2028 and U+2029
    escaped (they only occur inside strings, so replacing them in the text is exact)."""
    text = json.dumps(obj, indent=2, ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                    ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


@app.command("guestosinfo", cls=CobraCommand, short_help="Return guest agent info about operating system.",
             help="Returns information about the operating system of a virtual machine instance with guest agent.",
             epilog="  # Get the guest OS info of 'testvmi':\n  {{ProgramName}} guestosinfo testvmi")
def guestosinfo(args: list[str] = typer.Argument(None, metavar="(VMI)", show_default=False)) -> None:
    _show("guestosinfo", args)


@app.command("userlist", cls=CobraCommand, short_help="Return full list of logged in users on the guest machine.",
             help="Returns the list of active users of a virtual machine instance with guest agent.",
             epilog="  # Get the users logged in to 'testvmi':\n  {{ProgramName}} userlist testvmi")
def userlist(args: list[str] = typer.Argument(None, metavar="(VMI)", show_default=False)) -> None:
    _show("userlist", args)


@app.command("fslist", cls=CobraCommand, short_help="Return full list of filesystems available on the guest machine.",
             help="Returns the list of filesystems of a virtual machine instance with guest agent.",
             epilog="  # Get the filesystems of 'testvmi':\n  {{ProgramName}} fslist testvmi")
def fslist(args: list[str] = typer.Argument(None, metavar="(VMI)", show_default=False)) -> None:
    _show("filesystemlist", args)
