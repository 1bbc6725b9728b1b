#!/usr/bin/env bash
# Set this machine up for standalone mode and for the tests, idempotently:
# system packages + libvirt/QEMU daemons, the Python venv, the busybox test guest (built from
# Debian packages), and a local OCI registry holding the guest as kernelBoot/containerDisk images.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[setup %(%T)T] %s\n' -1 "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/setup.sh installs system packages and starts libvirtd: run it as root" >&2
  exit 1
fi

# Fresh package lists first: the guest is built from the current kernel package (apt-get download),
# and a security update can retire the version an old list names.
log "apt-get update"
apt-get update -q >/dev/null

log "libvirt + QEMU"
bash scripts/setup-libvirt.sh
# a second libvirt host (private mount namespace) for live-migration tests
sh scripts/start-second-libvirtd.sh /var/lib/virtctl-node2

need=()
# openssh-client: virtctl ssh/scp wrap it (tests); binutils: readelf for the guest build
for pkg in docker-registry skopeo genisoimage tigervnc-viewer tmux xvfb python3-venv openssh-client binutils; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  log "apt: ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi

log "python venv"
# editable_mode=compat installs a .pth path entry instead of an import hook: ~10 ms less per command
[ -x .venv/bin/python ] || python3 -m venv .venv
if ! .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[standalone,test]' \
       --config-settings editable_mode=compat >.venv/pip.log 2>&1; then
  cat .venv/pip.log >&2
  exit 1
fi
.venv/bin/python -c 'import virtctl, libvirt, websockets, typer' >/dev/null

log "test guest"
bash scripts/build-guest.sh "$PWD/guest"

log "local registry + test images"
bash scripts/start-registry.sh "$PWD/.state/registry"
bash scripts/push-test-images.sh "$PWD/guest"
log "ready"
