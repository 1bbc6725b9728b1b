"""virtctl: KubeVirt's virtctl in Python, for clusters and for one machine (standalone mode)."""

__version__ = "1.9.0"          # the KubeVirt release whose API and behaviour this client matches
GIT_COMMIT = "0000000000000000000000000000000000000000"
BUILD_DATE = "2026-11-25T00:00:00Z"
