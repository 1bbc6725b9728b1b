"""``port-forward``, ``ssh``, ``scp``: the work of the commands, callable from the start-up fast path
(:mod:`virtctl.cli.fast`: an ssh ProxyCommand starts ``port-forward --stdio`` once per connection,
so it must start quickly) and from the typer commands (docs/compatibility.md, port-forward, ssh and scp)."""

from __future__ import annotations

import json
import os
import sys
import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

from virtctl.cli.state import current
from virtctl.errors import APIError, UsageError, VirtctlError


def log_line(level: str, msg: str) -> None:
    """klog-style JSON on stderr, as Go virtctl's port-forward logs."""
    line = {"component": "portforward", "level": level, "msg": msg,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())}
    sys.stderr.write(json.dumps(line) + "\n")
    sys.stderr.flush()


def dialer(kind_word: str, name: str, namespace: str) -> Callable[[int, str], Any]:
    """``dial(port, protocol)`` → an open port-forward websocket to the VM or VMI."""
    from virtctl.model.kinds import VM, VMI
    from virtctl.streams.dial import dial_once
    from virtctl.streams.portforward import subresource

    kv = current().client()
    kind = VM if kind_word == "vm" else VMI

    def dial(port: int, protocol: str) -> Any:
        params = kv.transport.websocket_params(kv.subresource_path(kind, namespace, name,
                                                                   subresource(port, protocol)))
        try:
            return dial_once(params)
        except APIError as e:
            raise VirtctlError(f"can't access {kind_word.upper()} {name}: {e.message}") from None

    return dial


def _help() -> str:
    from virtctl.cli.commands.port_forward import help_text

    return help_text()


def port_forward(args: list[str], stdio: bool = False, address: str = "127.0.0.1",
                 changed: frozenset[str] = frozenset()) -> None:
    from virtctl.streams import portforward as pf

    if len(args) < 2:
        log_line("error", f"fatal: Number of input parameters is incorrect, portforward requires at least 2 "
                          f"arg(s), received {len(args)}")
        sys.stderr.write(_help() + "\n")
        raise UsageError("argument validation failed")
    target = pf.parse_target(args[0])
    ports = [pf.parse_port(a) for a in args[1:]]
    if stdio and len(ports) != 1:
        raise VirtctlError("only one port supported when forwarding to stdout")
    dial = dialer(target.kind, target.name, target.namespace or current().namespace)
    if stdio:
        pf.bridge_stdio(dial(ports[0].remote, ports[0].protocol))
        return

    servers: list[tuple[Any, Any, Callable[..., None]]] = []
    for spec in ports:
        run: Callable[..., None]
        if spec.protocol == "udp":
            sock, run = pf.listen_udp(address, spec), pf.serve_udp
        else:
            sock, run = pf.listen_tcp(address, spec), pf.serve_tcp
        log_line("info", f"forwarding {spec.protocol} {address}:{spec.local} to {spec.remote}")
        servers.append((sock, spec, run))
    for sock, spec, run in servers:
        def failed(message: str, local: int = spec.local) -> None:
            log_line("error", f"error handling connection for {local}: {message}")

        threading.Thread(target=run, args=(sock, spec, dial, failed), name=f"portforward-{spec.local}",
                         daemon=True).start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        for sock, _, _ in servers:
            sock.close()


def program() -> list[str]:
    """How to run this program again (the ProxyCommand's first words)."""
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else "virtctl"
    if argv0.endswith("__main__.py") or argv0 == "-m":
        return [sys.executable, "-m", "virtctl"]
    return [os.path.abspath(argv0) if os.sep in argv0 else argv0]


def _run(argv: list[str]) -> None:
    import subprocess

    if current().options.verbosity >= 3:
        sys.stderr.write(" ".join(argv) + "\n")
    try:
        rc = subprocess.call(argv)
    except FileNotFoundError:
        raise VirtctlError(f'exec: "{argv[0]}": executable file not found in $PATH') from None
    if rc != 0:
        raise VirtctlError(f"exit status {rc}", exit_code=rc if 0 < rc < 256 else 1)


def ssh(args: list[str], username: str = "", identity_file: str = "", known_hosts: str = "", port: int = 22,
        local_ssh_opts: list[str] | None = None, command: str = "", local_ssh: bool = True,
        changed: frozenset[str] = frozenset()) -> None:
    from virtctl.cli.args import exact_args
    from virtctl.cli.ssh_args import build_ssh_argv, parse_ssh_target

    target = exact_args(args, 1)[0]
    user, t = parse_ssh_target(target, username)
    _run(build_ssh_argv(program(), t.kind, t.name, t.namespace or current().namespace, user, port,
                        list(local_ssh_opts or []), identity_file if "identity_file" in changed else "", command))


def scp(args: list[str], username: str = "", identity_file: str = "", known_hosts: str = "", port: int = 22,
        local_ssh_opts: list[str] | None = None, recursive: bool = False, preserve: bool = False,
        local_ssh: bool = True, changed: frozenset[str] = frozenset()) -> None:
    from virtctl.cli.args import exact_args
    from virtctl.cli.ssh_args import build_scp_argv, parse_scp_locations

    src, dst = exact_args(args, 2)
    remote, local, to_remote = parse_scp_locations(src, dst, username)
    _run(build_scp_argv(program(), remote, current().namespace, local, to_remote, port, list(local_ssh_opts or []),
                        identity_file if "identity_file" in changed else "", recursive, preserve))
