"""``port-forward type/name[/namespace] [protocol/]localPort[:targetPort]...``
(docs/compatibility.md#port-forward): TCP/UDP tunnels to a VM's guest through the ``portforward``
websocket subresource."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import typer

from virtctl.cli.args import bool_value
from virtctl.cli.lazy import CobraCommand, new_app
from virtctl.cli.state import current
from virtctl.errors import APIError, UsageError, VirtctlError

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


def _log(level: str, msg: str) -> None:
    line = {"component": "portforward", "level": level, "msg": msg,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())}
    sys.stderr.write(json.dumps(line) + "\n")
    sys.stderr.flush()


def dialer(inv: Any, kind_word: str, name: str, namespace: str) -> Any:
    """``dial(port, protocol)`` → an open port-forward websocket to the VM or VMI."""
    from virtctl.model.kinds import VM, VMI
    from virtctl.streams.dial import dial_once
    from virtctl.streams.portforward import subresource

    kv = inv.client()
    kind = VM if kind_word == "vm" else VMI

    def dial(port: int, protocol: str) -> Any:
        params = kv.transport.websocket_params(kv.subresource_path(kind, namespace, name,
                                                                   subresource(port, protocol)))
        try:
            return dial_once(params)
        except APIError as e:
            raise VirtctlError(f"can't access {kind_word.upper()} {name}: {e.message}") from None

    return dial


@app.command("port-forward", cls=CobraCommand, short_help=SHORT, help=SHORT, epilog=EXAMPLES)
def port_forward(
    ctx: typer.Context,
    args: list[str] = typer.Argument(None, metavar="TYPE/NAME[/NAMESPACE] [protocol/]localPort[:targetPort]...",
                                     show_default=False),
    stdio: bool = typer.Option(False, "--stdio",
                               help="--stdio=false: Set this to true to forward the tunnel to stdout/stdin; "
                                    "Only works with a single port"),
    address: str = typer.Option("127.0.0.1", "--address",
                                help="--address=127.0.0.1: Set this to the address the local ports should be "
                                     "opened on"),
) -> None:
    from virtctl.streams import portforward as pf

    argv = list(args or [])
    if len(argv) < 2:
        _log("fatal", f"Number of input parameters is incorrect, portforward requires at least 2 arg(s), "
                      f"received {len(argv)}")
        sys.stderr.write(ctx.get_help() + "\n")
        raise UsageError("argument validation failed")
    target = pf.parse_target(argv[0])
    ports = [pf.parse_port(a) for a in argv[1:]]
    stdio = bool_value(ctx, "stdio", stdio)
    if stdio and len(ports) != 1:
        raise VirtctlError("only one port supported when forwarding to stdout")
    inv = current()
    namespace = target.namespace or inv.namespace
    dial = dialer(inv, target.kind, target.name, namespace)

    if stdio:
        ws = dial(ports[0].remote, ports[0].protocol)
        pf.bridge_stdio(ws)
        return

    servers: list[tuple[Any, Any, Callable[..., None]]] = []
    for spec in ports:
        run: Callable[..., None]
        if spec.protocol == "udp":
            sock, run = pf.listen_udp(address, spec), pf.serve_udp
        else:
            sock, run = pf.listen_tcp(address, spec), pf.serve_tcp
        _log("info", f"forwarding {spec.protocol} {address}:{sock.getsockname()[1]} to {spec.remote}")
        servers.append((sock, spec, run))
    for sock, spec, run in servers:
        threading.Thread(target=run, args=(sock, spec, dial, lambda m: _log("error", m)),
                         name=f"portforward-{spec.local}", daemon=True).start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        for sock, _, _ in servers:
            sock.close()
