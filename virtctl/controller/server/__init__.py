"""The embedded API server: the Kubernetes/KubeVirt REST subset, watch and websockets, on loopback,
over TLS with a bearer token."""

# ``from virtctl.controller.server.app import ApiServer``. Routes: ``routes.py`` (Kubernetes paths) and
# ``subresource_routes.py`` (KubeVirt's subresources: start, stop, console, vnc …).
