"""``console (VMI)``: the serial console (docs/compatibility.md#console).

Beyond Go virtctl: a non-TTY stdin works as a script (``printf 'cmd\\n' | virtctl console vm``),
``--show-log`` prints the serial output kept since boot and exits (our server's extension), the wait
also covers a VM whose VMI does not exist yet, and keep-alive pings hold idle sessions open.
"""

from __future__ import annotations

import sys
import time

import typer

from virtctl.cli.args import exact_args
from virtctl.cli.lazy import CobraCommand, new_app
from virtctl.cli.state import current
from virtctl.errors import NotFound, VirtctlError

app = new_app()

SHORT = "Connect to a console of a virtual machine instance."
EXAMPLES = """  # Connect to the console on VirtualMachineInstance 'myvmi':
  {{ProgramName}} console myvmi
  # Configure one minute timeout (default 5 minutes)
  {{ProgramName}} console --timeout=1 myvmi
  # Print the serial output since boot and exit
  {{ProgramName}} console --show-log myvmi
  # Run a command in a script (stdin is not a terminal): prints its output, then exits
  printf 'uname -a\\n' | {{ProgramName}} console --timeout=1 myvmi"""


def vm_exists(kv, namespace: str, name: str) -> bool:
    from virtctl.model.kinds import VM

    try:
        kv.get(VM, name, namespace)
        return True
    except NotFound:
        return False


@app.command("console", cls=CobraCommand, short_help=SHORT, help=SHORT, epilog=EXAMPLES)
def console(
    args: list[str] = typer.Argument(None, metavar="(VMI)", show_default=False),
    timeout: int = typer.Option(5, "--timeout",
                                help="The number of minutes to wait for the virtual machine instance to be ready."),
    show_log: bool = typer.Option(False, "--show-log",
                                  help="Print the serial console output kept since boot and exit "
                                       "(needs a server that keeps console logs, such as the local controller)."),
) -> None:
    vmi = exact_args(args, 1)[0]
    started = time.monotonic()
    inv = current()
    kv = inv.client()
    namespace = inv.namespace

    from virtctl.model.kinds import VMI
    from virtctl.streams import protocol
    from virtctl.streams.console import ConsoleIO, run_session
    from virtctl.streams.dial import dial

    if show_log:
        log = kv.get_subresource(VMI, namespace, vmi, protocol.CONSOLE_LOG_SUBRESOURCE)
        sys.stdout.buffer.write(log.body)
        sys.stdout.flush()
        return
    params = kv.transport.websocket_params(kv.subresource_path(VMI, namespace, vmi, "console"))
    budget = protocol.timeout_minutes_to_seconds(timeout)
    try:
        ws = dial(params, timeout=budget, vm_exists=lambda: vm_exists(kv, namespace, vmi))
    except KeyboardInterrupt:                 # Ctrl+C while waiting: a newline, exit 0 (as Go virtctl)
        sys.stdout.write("\n")
        return
    sys.stdout.flush()
    outcome = run_session(ws, vmi, ConsoleIO(sys.stdin.fileno(), sys.stdout.fileno(), sys.stderr),
                          deadline=started + budget)
    if outcome.stderr:
        sys.stderr.write(outcome.stderr)
    if outcome.error:
        raise VirtctlError(outcome.error)
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)
