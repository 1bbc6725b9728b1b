#!/bin/sh
# Build the tiny direct-kernel-boot test guest from Debian packages only (no image download):
#   OUT_DIR/vmlinuz            Debian cloud kernel (boots in ~2.5 s under TCG)
#   OUT_DIR/initramfs.cpio.gz  static busybox + a few kernel modules + /init
#   OUT_DIR/kernel-package     "<package> <version>" the two files were built from (the cache key)
#
# What the guest does at boot (console on ttyS0):
#   1. loads virtio-pci/-blk/-scsi, sd_mod, sr_mod, isofs and the ACPI power button (+ busybox acpid, so
#      ACPI shutdown/reboot from libvirt work);
#   2. NoCloud: if a filesystem labelled "cidata" exists (an ISO 9660 image on a virtio disk or a
#      virtio-scsi cdrom; found by reading the ISO volume label), mounts it on /mnt/cidata, runs its user-data when it starts with "#!",
#      then prints CLOUD-INIT-DONE. The cloud kernel has no AHCI driver, so a SATA cdrom is not seen;
#   3. data disk: the first virtio disk that is not cidata is mounted on /mnt/data when it holds a
#      filesystem the kernel knows (ext4 is built in); otherwise it stays a raw block device, which is
#      what the tests use (echo MARKER | dd of=/dev/vdX; dd if=/dev/vdX bs=512 count=1);
#   4. network and services (for port-forward/ssh/scp/guest-agent tests): virtio_net + busybox udhcpc
#      on eth0 (QEMU user-mode network: 10.0.2.15), dropbear (key-only logins, root's keys from
#      /root/.ssh/authorized_keys: a "#!" user-data script writes them, or the "- ssh-..." lines of
#      a "#cloud-config" ssh_authorized_keys list), OpenSSH's sftp-server (scp), busybox httpd
#      serving /www on port 80 (page "GUEST-HTTP-OK"), netcat-traditional as /bin/nc (UDP: /bin/nc -u;
#      a bare "nc" in busybox's sh is its own applet, without UDP), and
#      qemu-ga on the org.qemu.guest_agent.0 virtio port (virtio_console); the guest's own
#      /etc/os-release names it. The dynamically linked programs get their shared libraries
#      (resolved from ELF NEEDED entries) from the Debian library packages, never from the host;
#   5. prints "GUEST-BOOT-OK uptime=<s>" and runs a shell with the prompt "guest# " on ttyS0.
# Cached: nothing is rebuilt when OUT_DIR already holds files from the same kernel package version.
set -eu
OUT_DIR=${1:?usage: build-guest.sh OUT_DIR}
KFLAVOUR=${KFLAVOUR:-cloud-amd64}
MODULES="virtio_pci virtio_blk virtio_scsi sd_mod sr_mod isofs button evdev virtio_net virtio_console"
# user-space programs (and the library packages their shared libraries come from)
PROGRAMS="dropbear-bin openssh-sftp-server qemu-guest-agent netcat-traditional"
LIBPKGS="libc6 libcrypt1 libtomcrypt1 libtommath1 zlib1g libglib2.0-0 libnuma1 libudev1 liburing2 \
         libpcre2-8-0 libgmp10"

KPKG=$(apt-cache depends "linux-image-$KFLAVOUR" | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[ -n "$KPKG" ] || { echo "build-guest: cannot resolve linux-image-$KFLAVOUR" >&2; exit 1; }
KVER=$(apt-cache policy "$KPKG" | awk '/Candidate:/{print $2}')
# the init script is part of the cache key too: a changed guest must be rebuilt
SELF_SUM=$(sha256sum "$0" | cut -c1-16)
KEY="$KPKG $KVER $SELF_SUM"
mkdir -p "$OUT_DIR"
if [ -f "$OUT_DIR/vmlinuz" ] && [ -f "$OUT_DIR/initramfs.cpio.gz" ] && \
   [ "$(cat "$OUT_DIR/kernel-package" 2>/dev/null)" = "$KEY" ]; then
    echo "build-guest: $OUT_DIR is up to date ($KEY)"
    exit 0
fi

W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
cd "$W"
# shellcheck disable=SC2086
apt-get download -q "$KPKG" busybox-static $PROGRAMS $LIBPKGS >/dev/null 2>&1 || {
    echo "build-guest: apt-get download $KPKG busybox-static $PROGRAMS $LIBPKGS failed" >&2; exit 1; }
dpkg-deb -x "$KPKG"_*.deb k
dpkg-deb -x busybox-static_*.deb bbx
KREL=$(ls k/lib/modules)
MODROOT=k/lib/modules/$KREL/kernel

mkdir -p root/bin root/sbin root/proc root/sys root/dev root/tmp root/etc root/lib/modules \
         root/mnt/cidata root/mnt/data root/var/log root/var/run root/run root/root/.ssh root/www \
         root/usr/lib/openssh root/lib64 root/lib/x86_64-linux-gnu root/etc/dropbear root/usr/share/udhcpc
cp bbx/bin/busybox root/bin/busybox

# Programs from their .debs; their shared libraries from the library .debs, by ELF NEEDED entries.
for p in $PROGRAMS $LIBPKGS; do dpkg-deb -x "$(ls "$p"_*.deb | head -n 1)" u; done
cp u/usr/sbin/dropbear u/usr/sbin/qemu-ga root/sbin/
cp u/usr/lib/openssh/sftp-server root/usr/lib/openssh/
ln -s openssh/sftp-server root/usr/lib/sftp-server      # dropbear's built-in sftp subsystem path
cp u/bin/nc.traditional root/bin/
cp u/lib64/ld-linux-x86-64.so.2 root/lib64/ 2>/dev/null || \
    cp -L u/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 root/lib64/
lib_file() { for d in u/lib/x86_64-linux-gnu u/usr/lib/x86_64-linux-gnu; do
    [ -e "$d/$1" ] && { echo "$d/$1"; return 0; }; done; return 1; }
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
: > libs
for bin in root/sbin/dropbear root/sbin/qemu-ga root/usr/lib/openssh/sftp-server root/bin/nc.traditional; do
    needed "$bin" >> libs
done
while :; do
    sort -u libs > libs.u && mv libs.u libs
    n=$(wc -l < libs)
    for l in $(sort -u libs); do
        f=$(lib_file "$l") || { echo "build-guest: no package provides $l" >&2; exit 1; }
        needed "$f" >> libs
    done
    sort -u libs > libs.u && mv libs.u libs
    [ "$(wc -l < libs)" = "$n" ] && break
done
for l in $(cat libs); do
    f=$(lib_file "$l") || { echo "build-guest: no package provides $l" >&2; exit 1; }
    cp -L "$f" root/lib/x86_64-linux-gnu/
done
printf 'root:x:0:0:root:/root:/bin/sh\n' > root/etc/passwd
printf 'root:x:0:\n' > root/etc/group
printf '/bin/sh\n' > root/etc/shells
chmod 700 root/root root/root/.ssh
printf 'NAME="virtctl test guest"\nPRETTY_NAME="virtctl test guest (Debian packages)"\nID=virtctl-test-guest\nID_LIKE=debian\nVERSION_ID="1"\nVERSION="1"\n' > root/etc/os-release
printf 'GUEST-HTTP-OK\n' > root/www/index.html
# qemu-ga's guest-shutdown runs "shutdown -h -P|-H|-r +0 <message>": busybox has reboot/poweroff/halt only
cat > root/sbin/shutdown <<'SHUTDOWN'
#!/bin/sh
case " $* " in
*" -r "*) echo GUEST-AGENT-REBOOT > /dev/ttyS0; reboot -f ;;
*" -H "*) halt -f ;;
*) echo GUEST-AGENT-POWEROFF > /dev/ttyS0; poweroff -f ;;
esac
SHUTDOWN
chmod 755 root/sbin/shutdown
cat > root/usr/share/udhcpc/default.script <<'DHCP'
#!/bin/sh
# busybox udhcpc hook: configure the lease on $interface
case "$1" in
deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    for r in $router; do ip route add default via "$r" dev "$interface"; break; done
    : > /etc/resolv.conf; for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done ;;
esac
exit 0
DHCP
chmod 755 root/usr/share/udhcpc/default.script

# Resolve module dependencies from each .ko's own "depends=" (no depmod/modinfo on the host),
# and write them dependencies-first to lib/modules/load-order.
ko_path() { find "$MODROOT" -name "$1.ko" | head -n 1; }
ko_deps() { tr '\0' '\n' < "$1" | sed -n 's/^depends=//p' | tr ',' ' '; }
: > order
add_module() {
    grep -qx "$1" order && return 0
    # POSIX sh has no local variables: recursion clobbers them, so nothing is kept across the loop
    [ -n "$(ko_path "$1")" ] || { echo "build-guest: module $1 not in $KPKG (built in?)" >&2; return 0; }
    for d in $(ko_deps "$(ko_path "$1")"); do add_module "$d"; done
    grep -qx "$1" order || { echo "$1" >> order; cp "$(ko_path "$1")" root/lib/modules/; }
}
for m in $MODULES; do add_module "$m"; done
cp order root/lib/modules/load-order

mkdir -p root/etc/acpi/PWRF     # ACPI power button -> poweroff (so a libvirt shutdown works)
printf '#!/bin/sh\necho GUEST-ACPI-POWEROFF > /dev/ttyS0\npoweroff -f\n' > root/etc/acpi/PWRF/00000080
chmod 755 root/etc/acpi/PWRF/00000080

cat > root/init <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
while read -r m; do insmod "/lib/modules/$m.ko" 2>/dev/null; done < /lib/modules/load-order
acpid -l /dev/null
# busybox's findfs does not see ISO 9660 labels: read the primary volume descriptor directly
iso_label() {
    [ "$(dd if="$1" bs=1 skip=32769 count=5 2>/dev/null)" = CD001 ] || return 1
    dd if="$1" bs=1 skip=32808 count=32 2>/dev/null | tr -d ' '
}
find_cidata() {
    for dev in /dev/vd[a-z] /dev/sr[0-9] /dev/sd[a-z]; do
        [ -b "$dev" ] && [ "$(iso_label "$dev")" = cidata ] && { echo "$dev"; return 0; }
    done
    return 1
}
CIDATA=$(find_cidata || true)
if [ -z "$CIDATA" ] && [ -n "$(ls /sys/bus/scsi/devices 2>/dev/null)" ]; then
    for i in 1 2 3 4 5 6 7 8 9 10; do   # SCSI scanning is asynchronous
        CIDATA=$(find_cidata || true); [ -n "$CIDATA" ] && break; sleep 0.1
    done
fi
for dev in /dev/vd[a-z]; do
    [ -b "$dev" ] && [ "$dev" != "$CIDATA" ] || continue
    mount "$dev" /mnt/data 2>/dev/null && echo "GUEST-DATA-MOUNTED $dev" > /dev/ttyS0
    break
done
if [ -n "$CIDATA" ] && mount -t iso9660 -o ro "$CIDATA" /mnt/cidata 2>/dev/null; then
    if [ "$(head -c 2 /mnt/cidata/user-data 2>/dev/null)" = "#!" ]; then
        cp /mnt/cidata/user-data /tmp/user-data && chmod 755 /tmp/user-data
        /tmp/user-data > /dev/ttyS0 2>&1
    fi
    if [ "$(head -n 1 /mnt/cidata/user-data 2>/dev/null)" = "#cloud-config" ]; then
        # the ssh_authorized_keys entries of a cloud-config (virtctl create vm --ssh-key)
        sed -n 's/^[[:space:]]*-[[:space:]]*\(\(ssh-\|ecdsa-\|sk-\)[^[:space:]]*[[:space:]].*\)$/\1/p' \
            /mnt/cidata/user-data | tr -d "\"'" >> /root/.ssh/authorized_keys
    fi
    echo "CLOUD-INIT-DONE $CIDATA" > /dev/ttyS0
fi
# network and services; quiet on the console, state in /run/guest-services
ln -sf nc.traditional /bin/nc
ip link set lo up
if [ -e /sys/class/net/eth0 ]; then
    ip link set eth0 up
    udhcpc -i eth0 -s /usr/share/udhcpc/default.script -q -n -t 5 -T 1 >/dev/null 2>&1 && echo "net $(ip -4 -o addr show eth0)" >> /run/guest-services
fi
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts 2>/dev/null
dropbear -R -s -p 22 >/dev/null 2>&1 && echo dropbear >> /run/guest-services
httpd -p 80 -h /www && echo httpd >> /run/guest-services
for p in /sys/class/virtio-ports/*; do
    [ "$(cat "$p/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] || continue
    qemu-ga -d -m virtio-serial -p "/dev/${p##*/}" -t /run -f /run/qemu-ga.pid -l /var/log/qemu-ga.log \
        && echo "qemu-ga /dev/${p##*/}" >> /run/guest-services
done
echo "GUEST-BOOT-OK uptime=$(cut -d' ' -f1 /proc/uptime)" > /dev/ttyS0
export PS1='guest# '
while true; do setsid cttyhack sh </dev/ttyS0 >/dev/ttyS0 2>&1; done
INIT
chmod 755 root/init
# no cpio on the host: busybox writes the newc archive itself
( cd root && find . | ../bbx/bin/busybox cpio -o -H newc 2>/dev/null | gzip -1 > "$W/initramfs.cpio.gz" )
cp k/boot/vmlinuz-* "$OUT_DIR/vmlinuz.tmp" && mv "$OUT_DIR/vmlinuz.tmp" "$OUT_DIR/vmlinuz"
cp "$W/initramfs.cpio.gz" "$OUT_DIR/initramfs.tmp" && mv "$OUT_DIR/initramfs.tmp" "$OUT_DIR/initramfs.cpio.gz"
echo "$KEY" > "$OUT_DIR/kernel-package"
echo "build-guest: built $OUT_DIR from $KEY (modules: $(tr '\n' ' ' < order))"
