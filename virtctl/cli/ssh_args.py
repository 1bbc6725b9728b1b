"""Pure decisions of ``ssh``/``scp``: target parsing and the OpenSSH command lines, with Go virtctl's
messages (docs/compatibility.md#ssh-and-scp). No process is started here."""

from __future__ import annotations

import os
import shlex
from typing import NamedTuple

from virtctl.errors import VirtctlError
from virtctl.streams.portforward import Target, parse_target


def default_user() -> str:
    for var in ("USER", "USERNAME", "LOGNAME"):
        if os.environ.get(var):
            return os.environ[var]
    return ""


def parse_ssh_target(arg: str, username: str = "") -> tuple[str, Target]:
    """``[user@]kind/name[/namespace]`` → (user, target); ``user@`` beats ``--username``."""
    user = username or default_user()
    if "@" in arg:
        user, _, rest = arg.partition("@")
        if not user:
            raise VirtctlError("expected username before '@'")
        if not rest:
            raise VirtctlError("expected target after '@'")
        arg = rest
    return user, parse_target(arg)


def ssh_host(kind: str, name: str, namespace: str) -> str:
    return f"{kind}.{name}.{namespace}"


def proxy_command(program: list[str], kind: str, name: str, namespace: str, port: int) -> str:
    words = [*program, "port-forward", "--stdio=true", f"{kind}/{name}/{namespace}", str(port)]
    return "ProxyCommand=" + " ".join(shlex.quote(w) for w in words)


def build_ssh_argv(program: list[str], kind: str, name: str, namespace: str, user: str, port: int,
                   local_opts: list[str], identity: str, command: str) -> list[str]:
    argv = ["ssh", "-o", proxy_command(program, kind, name, namespace, port), *local_opts]
    if identity:
        argv += ["-i", identity]
    host = ssh_host(kind, name, namespace)
    argv.append(f"{user}@{host}" if user else host)
    if command:
        argv.append(command)
    return argv


class Remote(NamedTuple):
    user: str
    target: Target
    path: str


def _remote(arg: str, username: str) -> Remote | None:
    head, sep, path = arg.partition(":")
    if not sep or "/" not in head:
        return None
    try:
        user, target = parse_ssh_target(head, username)
    except VirtctlError:
        return None
    return Remote(user, target, path)


def parse_scp_locations(src: str, dst: str, username: str = "") -> tuple[Remote, str, bool]:
    """(remote, local path, copying to the remote?) with Go virtctl's errors."""
    r_src, r_dst = _remote(src, username), _remote(dst, username)
    if r_src is not None and r_dst is not None:
        raise VirtctlError(f'copying from a remote location to another remote location is not supported: '
                           f'"{src}" to "{dst}"')
    if r_src is None and r_dst is None:
        raise VirtctlError(f'none of the two provided locations seems to be a remote location: "{src}" to "{dst}"')
    if r_dst is not None:
        return r_dst, src, True
    assert r_src is not None
    return r_src, dst, False


def build_scp_argv(program: list[str], remote: Remote, namespace: str, local: str, to_remote: bool, port: int,
                   local_opts: list[str], identity: str, recursive: bool, preserve: bool) -> list[str]:
    ns = remote.target.namespace or namespace
    argv = ["scp", "-o", proxy_command(program, remote.target.kind, remote.target.name, ns, port), *local_opts]
    if identity:
        argv += ["-i", identity]
    if recursive:
        argv.append("-r")
    if preserve:
        argv.append("-p")
    host = ssh_host(remote.target.kind, remote.target.name, ns)
    where = f"{remote.user}@{host}:{remote.path}" if remote.user else f"{host}:{remote.path}"
    argv += [local, where] if to_remote else [where, local]
    return argv
