"""The embedded API server: the Kubernetes/KubeVirt REST subset, watch and websockets, on loopback,
over TLS with a bearer token."""
