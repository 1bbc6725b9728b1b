"""The KubeVirt client: kubeconfig → connection, CRUD/watch, subresources, typed errors.

The only importer of ``kubernetes`` (and only for kubeconfig features the fast stdlib path does not
cover, such as exec credential plugins). Names are loaded on first use so that reading the global
flags does not pull in ``http.client`` and ``ssl``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from virtctl.client.kubeconfig import ClientConfig, NoKubeconfig, Overrides, resolve

if TYPE_CHECKING:
    from virtctl.client.kubevirt import KubeVirtClient


def connect(overrides: Overrides) -> "KubeVirtClient":
    """A client for these global flags; raises :class:`NoKubeconfig` when nothing is configured."""
    from virtctl.client.kubevirt import KubeVirtClient

    return KubeVirtClient.from_config(resolve(overrides))


def __getattr__(name: str) -> Any:
    if name == "KubeVirtClient":
        from virtctl.client.kubevirt import KubeVirtClient

        return KubeVirtClient
    raise AttributeError(name)


__all__ = ["ClientConfig", "KubeVirtClient", "NoKubeconfig", "Overrides", "connect", "resolve"]
