#!/bin/sh
# A second libvirt host on this machine, for live migration (docs/standalone.md#migration): its own libvirtd and
# virtlogd in a private mount namespace (own /etc/libvirt, /run/libvirt, /var/lib/libvirt, …) with
# its own host UUID. Idempotent. Run as root after scripts/setup-libvirt.sh.
#
#   scripts/start-second-libvirtd.sh [DIR]     DIR defaults to /var/lib/virtctl-node2
#
# Its URI: qemu+unix:///system?socket=DIR/run/libvirt-sock
set -eu
I=${1:-/var/lib/virtctl-node2}
UUID=6c696276-6972-7432-0000-000000000002
URI="qemu+unix:///system?socket=$I/run/libvirt-sock"

if virsh -c "$URI" version >/dev/null 2>&1; then
    echo "second libvirtd already answering on $URI"
    exit 0
fi
mkdir -p "$I/etc" "$I/run" "$I/lib" "$I/cache" "$I/log/qemu"
cp /etc/libvirt/qemu.conf "$I/etc/qemu.conf"
[ -d "$I/cache/qemu" ] || [ ! -d /var/cache/libvirt/qemu ] || cp -a /var/cache/libvirt/qemu "$I/cache/"  # skip the capability probe
cat > "$I/etc/libvirtd.conf" <<CONF
host_uuid = "$UUID"
log_outputs = "3:file:$I/libvirtd.log"
CONF
unshare -m --propagation private /bin/sh -c "
  mount --bind $I/etc /etc/libvirt; mount --bind $I/run /run/libvirt; mount --bind $I/lib /var/lib/libvirt
  mount --bind $I/cache /var/cache/libvirt; mount --bind $I/log /var/log/libvirt
  virtlogd -d -p $I/virtlogd.pid
  exec libvirtd -d -p $I/libvirtd.pid"
i=0
until virsh -c "$URI" version >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -ge 600 ]; then
        echo "second libvirtd did not answer on $URI within 60 s" >&2
        tail -n 20 "$I/libvirtd.log" >&2 2>/dev/null || true
        exit 1
    fi
    sleep 0.1
done
echo "second libvirtd ready: $URI"
