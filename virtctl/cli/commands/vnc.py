"""``vnc (VMI)`` and ``vnc screenshot (VMI)`` (docs/compatibility.md#vnc).

Beyond Go virtctl: ``vnc`` waits for the VMI to run (``--timeout``, as ``console`` does;
kubevirt#1837), and a bad ``--vnc-type``/``--vnc-path`` fails before anything is dialled.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
from typing import Any

import typer
from typer._click import core as click_core

from virtctl.cli.args import bool_value, exact_args
from virtctl.cli.lazy import CobraCommand, CobraGroup, _path, new_app
from virtctl.cli.state import current
from virtctl.errors import APIError, Timeout, VirtctlError


class _VNCGroup(CobraGroup):
    """Cobra's ``vnc`` runs itself with a VMI argument and also has the ``screenshot`` sub-command."""

    allow_interspersed_args = True

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] in self.commands:
            click_core.Command.parse_args(self, ctx, [])        # defaults for our own flags
            ctx._protected_args, ctx.args = args[:1], args[1:]
            return ctx.args
        click_core.Command.parse_args(self, ctx, args)
        ctx._protected_args = []
        return []

    def cobra_help(self, ctx: Any) -> str:
        text = super().cobra_help(ctx)
        path = _path(ctx)
        return text.replace(f"  {path} [command]\n", f"  {path} (VMI) [flags]\n  {path} [command]\n", 1)


app = new_app(cls=_VNCGroup)

SHORT = "Open a vnc connection to a virtual machine instance."
EXAMPLES = """  # Connect to 'testvmi' via remote-viewer:
   {{ProgramName}} vnc testvmi
  # Only start the proxy and print its port (for your own VNC client):
   {{ProgramName}} vnc testvmi --proxy-only
  # Save a screenshot:
   {{ProgramName}} vnc screenshot testvmi -f screen.png"""


def _host() -> Any:
    from virtctl.streams.protocol import Host

    return Host(os=sys.platform, which=shutil.which, exists=os.path.exists, glob=glob.glob)


@app.callback(invoke_without_command=True, short_help=SHORT, help=SHORT, epilog=EXAMPLES)
def vnc(
    ctx: typer.Context,
    args: list[str] = typer.Argument(None, metavar="(VMI)", show_default=False),
    address: str = typer.Option("127.0.0.1", "--address",
                                help="--address=127.0.0.1: Setting this will change the listening address of the "
                                     "VNC server. Example: --address=0.0.0.0 will make the server listen on all "
                                     "interfaces."),
    proxy_only: bool = typer.Option(False, "--proxy-only",
                                    help="--proxy-only=false: Setting this true will run only the virtctl vnc proxy "
                                         "and show the port where VNC viewers can connect"),
    preserve_session: bool = typer.Option(False, "--preserve-session",
                                          help="--preserve-session=false: Setting this to true will not disconnect "
                                               "an existing VNC session and will fail instead"),
    port: int = typer.Option(0, "--port",
                             help="--port=0: Assigning a port value to this will try to run the proxy on the given "
                                  "port if the port is accessible; If unassigned, the proxy will run on a random port"),
    vnc_type: str = typer.Option("", "--vnc-type",
                                 help="--vnc-type=tiger: Specify the type of VNC viewer to use (tiger, chicken, "
                                      "real, remote-viewer)"),
    vnc_path: str = typer.Option("", "--vnc-path",
                                 help="--vnc-path=/path/to/vnc: Specify the path to the VNC viewer executable"),
    timeout: int = typer.Option(5, "--timeout",
                                help="The number of minutes to wait for the virtual machine instance to be ready."),
) -> None:
    if ctx.invoked_subcommand:
        return
    vmi = exact_args(args, 1)[0]
    inv = current()

    from virtctl.model.kinds import VMI
    from virtctl.streams import protocol
    from virtctl.streams.dial import dial
    from virtctl.streams.vnc import ProxyOptions, launch_viewer, run_proxy

    proxy_only = bool_value(ctx, "proxy_only", proxy_only)
    preserve = bool_value(ctx, "preserve_session", preserve_session)
    host = _host()
    verbosity = inv.options.verbosity
    if not proxy_only:                       # a bad viewer choice fails before anything is dialled
        protocol.select_viewer(host, 0, vnc_type=vnc_type, vnc_path=vnc_path, verbosity=verbosity)

    kv = inv.client()
    namespace = inv.namespace
    from virtctl.cli.commands.console import vm_exists

    params = kv.transport.websocket_params(kv.subresource_path(VMI, namespace, vmi, "vnc"),
                                           {"preserveSession": "true" if preserve else "false"})
    try:
        ws = dial(params, timeout=protocol.timeout_minutes_to_seconds(timeout),
                  vm_exists=lambda: vm_exists(kv, namespace, vmi))
    except (APIError, Timeout) as e:
        raise VirtctlError(protocol.vnc_access_error(vmi, e.message)) from None
    except KeyboardInterrupt:
        return

    def launch(local_port: int) -> Any:
        viewer = protocol.select_viewer(host, local_port, vnc_type=vnc_type, vnc_path=vnc_path,
                                        verbosity=verbosity)
        return launch_viewer(viewer.argv)

    def warn_if_paused() -> None:
        try:
            obj = kv.get(VMI, vmi, namespace)
        except VirtctlError:
            return
        if protocol.vmi_is_paused(obj):
            sys.stderr.write(protocol.paused_warning(vmi))
            sys.stderr.flush()

    run_proxy(ws, ProxyOptions(vmi, address, port, proxy_only), stdout=sys.stdout,
              launch=None if proxy_only else launch, on_connect=warn_if_paused)


@app.command("screenshot", cls=CobraCommand, short_help="Create a screenshot of the VNC display",
             help="Create a screenshot of the VNC display",
             epilog="  # Create a screenshot of 'testvmi':\n  {{ProgramName}} vnc screenshot testvmi -f screen.png")
def screenshot(
    ctx: typer.Context,
    args: list[str] = typer.Argument(None, metavar="(VMI)", show_default=False),
    file: str = typer.Option(..., "--file", "-f", show_default=False,
                             help="File where the screenshot should be saved. Use '-' for stdout."),
    move_cursor: bool = typer.Option(False, "--move-cursor", "-m",
                                     help="Moves the cursor before taking the screenshot to wake up the display."),
) -> None:
    vmi = exact_args(args, 1)[0]
    inv = current()
    kv = inv.client()

    from virtctl.model.kinds import VMI
    from virtctl.streams import protocol

    move = bool_value(ctx, "move_cursor", move_cursor)
    try:
        resp = kv.get_subresource(VMI, inv.namespace, vmi, "vnc/screenshot",
                                  query={"moveCursor": "true" if move else "false"})
    except APIError as e:
        raise VirtctlError(protocol.screenshot_access_error(vmi, e.message)) from None
    if file == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(resp.body)
        sys.stdout.buffer.flush()
        return
    try:
        with open(file, "wb") as out:
            out.write(resp.body)
    except OSError as e:
        reason = (e.strerror or str(e)).lower()
        raise VirtctlError(protocol.screenshot_write_error(f"open {file}: {reason}")) from None
