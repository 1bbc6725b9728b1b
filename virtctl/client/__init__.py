"""The KubeVirt client: kubeconfig → connection, CRUD/watch, subresources, typed errors.

The only importer of ``kubernetes`` (and only for kubeconfig features the fast stdlib path does not
cover, such as exec credential plugins). Names are loaded on first use so that reading the global
flags does not pull in the kubeconfig loader or ``ssl``."""

from __future__ import annotations

from importlib import import_module

from virtctl.client.overrides import Overrides

TYPE_CHECKING = False
if TYPE_CHECKING:                  # typing costs ≈ 3 ms per process; annotations only
    from typing import Any

    from virtctl.client.kubeconfig import ClientConfig, NoKubeconfig, resolve  # noqa: F401
    from virtctl.client.kubevirt import KubeVirtClient

_LAZY = {"ClientConfig": "kubeconfig", "NoKubeconfig": "kubeconfig", "resolve": "kubeconfig",
         "KubeVirtClient": "kubevirt"}


def connect(overrides: Overrides) -> KubeVirtClient:
    """A client for these global flags; raises ``NoKubeconfig`` when nothing is configured."""
    from virtctl.client.kubeconfig import resolve
    from virtctl.client.kubevirt import KubeVirtClient

    return KubeVirtClient.from_config(resolve(overrides))


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(name)
    return getattr(import_module(f"virtctl.client.{module}"), name)


__all__ = ["ClientConfig", "KubeVirtClient", "NoKubeconfig", "Overrides", "connect", "resolve"]
