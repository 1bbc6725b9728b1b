"""What one invocation knows besides its own flags: the program name, the global flags, and the
API connection (made on first use; the local controller when no kubeconfig is usable)."""

from __future__ import annotations

import os
import sys

from virtctl.cli.globals import GlobalOptions
from virtctl.model.record import Factory, Record

TYPE_CHECKING = False

if TYPE_CHECKING:
    from virtctl.client import ClientConfig, KubeVirtClient


def program_name(argv0: str) -> str:
    """``kubectl-virt`` → ``kubectl virt``; anything else is ``virtctl``
    (docs/compatibility.md#help-and-program-name)."""
    base = os.path.basename(argv0 or "")
    if base.endswith("-virt"):
        return base[: -len("-virt")] + " virt"
    return "virtctl"


class Invocation(Record):
    prog: str = "virtctl"
    options: GlobalOptions = Factory(GlobalOptions)
    _client: KubeVirtClient | None = None
    _config: ClientConfig | None = None

    # ---- namespace without connecting (create vm only needs to know if -n was given)
    @property
    def namespace_flag(self) -> str:
        return self.options.overrides.namespace

    def config(self) -> ClientConfig:
        if self._config is None:
            from virtctl.client import NoKubeconfig, resolve

            try:
                self._config = resolve(self.options.overrides)
            except NoKubeconfig:
                self._config = self._local_config()
        return self._config

    def client(self) -> KubeVirtClient:
        if self._client is None:
            from virtctl.client import KubeVirtClient

            self._client = KubeVirtClient.from_config(self.config())
        return self._client

    @property
    def namespace(self) -> str:
        return self.config().namespace

    def _local_config(self) -> ClientConfig:
        """No kubeconfig anywhere: use (and start if needed) the local controller, say so once."""
        from virtctl.client import resolve
        from virtctl.controller import local
        from virtctl.controller.settings import Settings

        info = local.up(Settings.load())
        sys.stderr.write(f"No kubeconfig found: using the local virtctl controller at {info.url} "
                         f"({self.prog} local up)\n")
        o = self.options.overrides.replace(kubeconfig=str(info.kubeconfig_path), context=info.context)
        return resolve(o)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


CURRENT = Invocation()


def current() -> Invocation:
    return CURRENT


def begin(prog: str, options: GlobalOptions) -> Invocation:
    global CURRENT
    CURRENT = Invocation(prog=prog, options=options)
    return CURRENT
