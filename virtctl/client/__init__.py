"""The KubeVirt client: kubeconfig → connection, CRUD/watch, subresources, typed errors.

The only importer of ``kubernetes`` (and only for kubeconfig features the fast stdlib path does not
cover, such as exec credential plugins)."""

from __future__ import annotations

from virtctl.client.kubeconfig import ClientConfig, NoKubeconfig, Overrides, resolve
from virtctl.client.kubevirt import KubeVirtClient


def connect(overrides: Overrides) -> KubeVirtClient:
    """A client for these global flags; raises :class:`NoKubeconfig` when nothing is configured."""
    return KubeVirtClient.from_config(resolve(overrides))


__all__ = ["ClientConfig", "KubeVirtClient", "NoKubeconfig", "Overrides", "connect", "resolve"]
