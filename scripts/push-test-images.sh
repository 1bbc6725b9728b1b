#!/bin/sh
# Build and push the test images into the local registry (scripts/start-registry.sh):
#
#   localhost:$PORT/virtctl-test/kernel-boot:latest     /boot/vmlinuz, /boot/initramfs.cpio.gz
#   localhost:$PORT/virtctl-test/container-disk:latest  /disk/disk.qcow2 (64 MiB; its first sector
#                                                       starts with VIRTCTL-TEST-DISK)
#
#   scripts/push-test-images.sh GUEST_DIR       GUEST_DIR holds vmlinuz and initramfs.cpio.gz
#
# Images are reproducible OCI layouts (scripts/oci_layout.py) copied with skopeo, so running this
# twice pushes nothing new. Installs skopeo and qemu-utils with apt-get when they are missing.
set -eu

GUEST_DIR=${1:?usage: push-test-images.sh GUEST_DIR (with vmlinuz and initramfs.cpio.gz)}
PORT=${REGISTRY_PORT:-5000}
REGISTRY=localhost:$PORT
PYTHON=${PYTHON:-python3}
HERE=$(cd "$(dirname "$0")" && pwd)

for f in vmlinuz initramfs.cpio.gz; do
    [ -f "$GUEST_DIR/$f" ] || { echo "error: $GUEST_DIR/$f not found (build it with scripts/build-guest.sh)" >&2; exit 1; }
done

missing=""
command -v skopeo >/dev/null || missing="$missing skopeo"
command -v qemu-img >/dev/null || missing="$missing qemu-utils"
if [ -n "$missing" ]; then
    echo "installing$missing (apt-get)" >&2
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive \
             apt-get install -y --no-install-recommends $missing >/dev/null; }
fi

W=$(mktemp -d); trap 'rm -rf "$W"' EXIT

# a raw disk with a marker in its first sector, converted to qcow2 (deterministic bytes)
printf 'VIRTCTL-TEST-DISK\n' > "$W/disk.raw"
truncate -s 64M "$W/disk.raw"
qemu-img convert -q -f raw -O qcow2 "$W/disk.raw" "$W/disk.qcow2"

push() {   # push NAME --file ... : build an OCI layout and copy it to the registry
    name=$1; shift
    "$PYTHON" "$HERE/oci_layout.py" --out "$W/$name" --tag latest "$@" >/dev/null
    skopeo copy --quiet --dest-tls-verify=false --insecure-policy \
        "oci:$W/$name:latest" "docker://$REGISTRY/virtctl-test/$name:latest"
    echo "pushed $REGISTRY/virtctl-test/$name:latest"
}

push kernel-boot --file "/boot/vmlinuz=$GUEST_DIR/vmlinuz" --file "/boot/initramfs.cpio.gz=$GUEST_DIR/initramfs.cpio.gz"
push container-disk --file "/disk/disk.qcow2=$W/disk.qcow2"
