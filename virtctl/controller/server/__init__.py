"""The embedded API server: the Kubernetes/KubeVirt REST subset, watch and websockets, on loopback,
over TLS with a bearer token."""

# ``from virtctl.controller.server.app import ApiServer`` — not imported here, so that importing
# ``extensions`` (to register handlers) stays cheap.
