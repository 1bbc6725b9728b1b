"""The client/server version-skew check Go virtctl runs after any failed command (``Execute`` in
pkg/virtctl/root.go): it asks virt-api for its version (kubecli's ServerVersion: the group, then
``/apis/subresources.kubevirt.io/v1/version``) and, when the
major or minor version differs from the client's, prints a warning before the error. When the check
itself fails (no answer, a version that is not ``X.Y.Z``), Go prints that failure instead, so a
command against an unreachable server reports the connection twice, as here. Successful commands
never pay for it."""

from __future__ import annotations

from virtctl.errors import VirtctlError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from virtctl.cli.state import Invocation

WARNING = "You are using a client virtctl version that is different from the KubeVirt version running in the cluster"


def semver(text: str) -> tuple[int, int, int]:
    """github.com/coreos/go-semver's NewVersion (major, minor, patch), with its error texts."""
    version = text.removeprefix("v").partition("+")[0].partition("-")[0]
    parts = version.split(".", 2)
    if len(parts) != 3:
        raise ValueError(f"{version} is not in dotted-tri format")
    numbers = []
    for part in parts:
        if not (part.isascii() and part.lstrip("-+").isdigit()):
            raise ValueError(f'strconv.ParseInt: parsing "{part}": invalid syntax')
        numbers.append(int(part))
    return numbers[0], numbers[1], numbers[2]


def check(inv: Invocation) -> str | None:
    """What Go prints (one ``PrintErrln``) before a command's error, or None. Never raises; never
    starts the local controller just to ask it (without a kubeconfig there is nothing to compare)."""
    from virtctl.cli import version_info
    from virtctl.cli.go_errors import server_version_error

    try:
        client_version = version_info.client_info()["gitVersion"]
        client = semver(client_version)
        if inv._config is None:
            from virtctl.client import NoKubeconfig, resolve

            try:
                inv._config = resolve(inv.options.overrides)
            except NoKubeconfig:
                return None
        server_version = str(version_info.server_info(inv.client()).get("gitVersion", ""))
        server = semver(server_version)
    except VirtctlError as e:
        return server_version_error(e)
    except ValueError as e:
        return str(e)
    except Exception:                      # the check must never hide the command's own error
        return None
    if client[:2] != server[:2]:
        return f"{WARNING}\nClient Version: {client_version}\nServer Version: {server_version}\n"
    return None
