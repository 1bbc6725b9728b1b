"""The embedded controller (standalone mode): API server, SQLite store, reconcilers, libvirt.

Imported only by ``virtctl local …`` and by tests; never on the CLI's start-up path.
"""
