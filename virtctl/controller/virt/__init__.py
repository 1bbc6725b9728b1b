"""The only importer of ``libvirt``: VMI spec → domain XML, the hypervisor connection and its
events, disks and images, console and graphics streams."""
