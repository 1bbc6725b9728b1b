"""Disks without libvirt: volume plans and on-disk layout, the image cache and its OCI registry
client, imports over HTTP, qemu-img, cloud-init media and copies of volumes for snapshots.

Nothing here imports ``libvirt``; ``controller.virt`` turns what this package prepares
(``sources.DiskSource``, ``sources.KernelBootFiles``) into domain XML."""
