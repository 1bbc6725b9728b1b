"""The only importer of ``libvirt``: the hypervisor connection and its events, the domain model
and the VMI spec → domain XML converter, console and graphics streams."""
