"""``port-forward type/name[/namespace] [protocol/]localPort[:targetPort]...``
(docs/compatibility.md#port-forward): TCP/UDP tunnels to a VM's guest through the ``portforward``
websocket subresource."""

from __future__ import annotations

import typer

from virtctl.cli.args import call_params
from virtctl.cli.lazy import CobraCommand, new_app

app = new_app()

SHORT = "Forward local ports to a virtualmachine or virtualmachineinstance."
EXAMPLES = """  # Forward the local port 8080 to the vmi port:
  {{ProgramName}} port-forward vmi/testvmi 8080

  # Forward the local port 8080 to the vmi port 9090:
  {{ProgramName}} port-forward vmi/testvmi 8080:9090

  # Forward the local port 8080 to the vmi port 9090 as a udp connection:
  {{ProgramName}} port-forward vmi/testvmi udp/8080:9090

  # Forward the local port 8080 to the vm port
  {{ProgramName}} port-forward vm/testvm 8080

  # Use as SSH proxy
  ssh -o 'ProxyCommand={{ProgramName}} port-forward --stdio=true vm/testvm/mynamespace 22' root@vm.testvm.mynamespace"""


def help_text() -> str:
    """The command's help, for the argument-count error of the fast path (which has no click context)."""
    from typer._click import core as click_core
    from typer.main import get_command

    cmd = get_command(app)
    commands = getattr(cmd, "commands", {})
    cmd = commands.get("port-forward", cmd)
    root = click_core.Context(cmd, info_name="virtctl")       # only its presence matters: the path
    return cmd.get_help(click_core.Context(cmd, info_name="port-forward", parent=root))


LONG = """Forward local ports to a virtualmachine or virtualmachineinstance.

The target is type/name[/namespace]: type is one of vmi, vmis, vm, vms, virtualmachineinstance(s),
virtualmachine(s); without /namespace the current namespace is used.

A port is [protocol/]localPort[:targetPort]: protocol tcp (the default) or udp, the target port
defaults to the local one.

Every forwarded connection is a websocket stream through the API server (the portforward
subresource of the VM or VMI)."""


@app.command("port-forward", cls=CobraCommand, short_help=SHORT, help=LONG, epilog=EXAMPLES)
def port_forward(
    ctx: typer.Context,
    args: list[str] = typer.Argument(None, metavar="TYPE/NAME[/NAMESPACE] [protocol/]localPort[:targetPort]...",
                                     show_default=False),
    stdio: bool = typer.Option(False, "--stdio",
                               help="--stdio=true: Set this to true to forward the tunnel to stdout/stdin; "
                                    "Only works with a single port"),
    address: str = typer.Option("127.0.0.1", "--address",
                                help="--address=: Set this to the address the local ports should be opened on"),
) -> None:
    from virtctl.cli.ops import guest

    guest.port_forward(**call_params(ctx))
