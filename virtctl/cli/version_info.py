"""What ``version`` prints, without the command-line parser (shared by the typer command and the
start-up fast path). Go's ``%#v`` layout of ``version.Info``
(docs/compatibility.md#commands)."""

from __future__ import annotations

import os
import sys

import virtctl
from virtctl.cli.state import current

_FIELDS = (("GitVersion", "gitVersion"), ("GitCommit", "gitCommit"), ("GitTreeState", "gitTreeState"),
           ("BuildDate", "buildDate"), ("GoVersion", "goVersion"), ("Compiler", "compiler"),
           ("Platform", "platform"))
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}


def client_info() -> dict[str, str]:
    return {
        "gitVersion": f"v{virtctl.__version__}", "gitCommit": virtctl.GIT_COMMIT, "gitTreeState": "clean",
        "buildDate": virtctl.BUILD_DATE,
        # where Go reports its toolchain, we report the Python interpreter running us
        "goVersion": "python" + ".".join(str(x) for x in sys.version_info[:3]),
        "compiler": sys.implementation.name,
        "platform": f"{sys.platform}/{_ARCH.get(os.uname().machine, os.uname().machine)}",
    }


def go_info(info: dict) -> str:
    """``version.Info{GitVersion:"v1.9.0", …}`` (Go's %#v of the struct)."""
    return "version.Info{" + ", ".join(f'{go}:"{info.get(js, "")}"' for go, js in _FIELDS) + "}"


def version(args: list[str], client: bool, changed: frozenset[str]) -> None:
    """The ``version`` command's entry (keyword arguments as :func:`virtctl.cli.args.call_params` makes them)."""
    run(client)


def run(client: bool) -> None:
    sys.stdout.write(f"Client Version: {go_info(client_info())}\n")
    if client:
        return
    sys.stdout.flush()
    kv = current().client()
    kv.call("GET", "/apis/subresources.kubevirt.io")
    sys.stdout.write(f"Server Version: {go_info(kv.server_version() or {})}\n")
