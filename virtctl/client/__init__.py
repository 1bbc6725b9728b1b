"""The KubeVirt client: kubeconfig → connection, CRUD/watch, subresources, typed errors.

The only importer of ``kubernetes`` (and only for kubeconfig features the fast stdlib path does not
cover, such as exec credential plugins)."""
