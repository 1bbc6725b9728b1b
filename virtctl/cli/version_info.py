"""What ``version`` prints, without the command-line parser (shared by the typer command and the
start-up fast path). Go's ``%#v`` layout of ``version.Info``
(docs/compatibility.md#commands)."""

from __future__ import annotations

import os
import sys

import virtctl
from virtctl.cli.go_errors import server_version_error
from virtctl.cli.state import current
from virtctl.errors import VirtctlError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

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
    try:
        info = server_info(current().client())
    except VirtctlError as e:
        raise VirtctlError(server_version_error(e), exit_code=e.exit_code) from None
    sys.stdout.write(f"Server Version: {go_info(info)}\n")


def server_info(kv: Any) -> dict:
    """kubecli's ServerVersion().Get(): the subresource group first, then its version."""
    kv.call("GET", "/apis/subresources.kubevirt.io")
    return kv.server_version() or {}
