"""The controller's parts, wired once: :class:`Runtime` is built by the composition root
(:func:`virtctl.controller.daemon.build_runtime`) and handed explicitly to the API server, which
passes it to every subresource handler (``ActionContext.runtime``). The controllers get the parts
they need (store, settings, hosts) as constructor arguments. See
docs/architecture.md#the-composition-root.

Adding a service (say, a port-forward manager): give it a field here, build it in
``daemon.build_runtime`` (start/stop it in ``daemon.serve`` if it has threads), use it from the
handlers as ``ctx.runtime.<field>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from virtctl.controller.settings import Settings
from virtctl.controller.store.corekinds import ensure_system_namespaces
from virtctl.controller.store.protocol import Store
from virtctl.controller.upload_tokens import UploadTokens
from virtctl.controller.virt.consoles import ConsoleRegistry
from virtctl.controller.virt.hypervisor import Hypervisor

Reconcile = Callable[[str, str, str], None]
"""``reconcile(kind, namespace, name)``: ask the controllers for a prompt look at an object
(``kind`` "vm" or "vmi"); the reconcile manager's ``enqueue``."""


def no_reconcile(kind: str, namespace: str, name: str) -> None:
    """The trigger when no controllers run (``local serve --no-controllers``, API-only tests)."""


@dataclass(frozen=True)
class Runtime:
    store: Store
    settings: Settings
    hosts: tuple[Hypervisor, ...] = ()             # the libvirt hosts ("nodes"); empty without controllers
    consoles: ConsoleRegistry = field(default_factory=ConsoleRegistry)
    reconcile: Reconcile = no_reconcile
    upload_tokens: UploadTokens = field(default_factory=UploadTokens)   # UploadTokenRequest and the upload endpoint

    @classmethod
    def create(cls, store: Store, settings: Settings, hosts: Sequence[Hypervisor] = (),
               reconcile: Reconcile = no_reconcile) -> Runtime:
        """A runtime whose console registry serves ``hosts`` (not started: ``consoles.start()``).
        The store gets the namespaces every cluster has (``default``, …) if it lacks them."""
        ensure_system_namespaces(store)
        return cls(store=store, settings=settings, hosts=tuple(hosts), consoles=ConsoleRegistry(hosts),
                   reconcile=reconcile)

    def host_for(self, node: str) -> Hypervisor | None:
        """The host named ``node`` (a VMI's ``status.nodeName``), if there is one."""
        return next((h for h in self.hosts if h.node_name == node), None)
