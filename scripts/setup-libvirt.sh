#!/bin/bash
# Install libvirt + QEMU (TCG) and start libvirtd/virtlogd without systemd, on Debian 12 as root.
# Idempotent: packages, user, config and running daemons are left alone when already in place.
# Facts behind each step: docs/standalone.md#measured-libvirt-and-qemu-facts (the daemon needs the
# libvirt-qemu user, /var/log/libvirt, a running virtlogd, user/group root in qemu.conf and a fixed host_uuid).
#   scripts/setup-libvirt.sh            install and start what is missing
#   scripts/setup-libvirt.sh --check    only print what it would decide about the daemons
#
# The main daemons are recognised by their own pid files and sockets, never by process name: the
# second libvirt node (scripts/start-second-libvirtd.sh) runs processes with the same names.
set -euo pipefail

URI=${VIRTCTL_LIBVIRT_URI:-qemu:///system}
HOST_UUID=${VIRTCTL_HOST_UUID:-6c696276-6972-7431-0000-000000000001}
LIBVIRTD_PID=/run/virtctl-libvirtd.pid
VIRTLOGD_PID=/run/virtctl-virtlogd.pid
# ours first, then the daemons' default pid files (a libvirtd started by hand or by an init system)
LIBVIRTD_PIDFILES=${VIRTCTL_LIBVIRTD_PIDFILES:-"$LIBVIRTD_PID /run/libvirtd.pid"}
VIRTLOGD_PIDFILES=${VIRTCTL_VIRTLOGD_PIDFILES:-"$VIRTLOGD_PID /run/virtlogd.pid"}
VIRTLOGD_SOCK=${VIRTCTL_VIRTLOGD_SOCK:-/run/libvirt/virtlogd-sock}
LIBVIRTD_LOG=/var/log/libvirt/libvirtd.log
READY_TIMEOUT=60
PACKAGES="libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils ovmf libvirt-dev pkg-config gcc"

say() { echo "setup-libvirt: $*"; }
die() { echo "setup-libvirt: ERROR: $*" >&2; exit 1; }

# --- how the main daemons are recognised ---
running() {  # pidfile process-name: the pid file names a live process of that name
    local pid
    [ -f "$1" ] || return 1
    pid=$(cat "$1" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$2" ]
}
any_running() {  # "pidfile…" process-name
    local f
    for f in $1; do running "$f" "$2" && return 0; done
    return 1
}
socket_answers() {  # path: something accepts connections on this unix socket (in our mount namespace)
    [ -S "$1" ] || return 1
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sys.argv[1])' "$1" 2>/dev/null
    fi
}
libvirt_ready() { virsh -c "$URI" version >/dev/null 2>&1; }
libvirtd_state() {  # answering | starting | absent
    if libvirt_ready; then echo answering
    elif any_running "$LIBVIRTD_PIDFILES" libvirtd; then echo starting
    else echo absent; fi
}
virtlogd_state() {  # running | absent
    if any_running "$VIRTLOGD_PIDFILES" virtlogd || socket_answers "$VIRTLOGD_SOCK"; then echo running
    else echo absent; fi
}

if [ "${1:-}" = --check ]; then
    echo "virtlogd: $(virtlogd_state)"
    echo "libvirtd: $(libvirtd_state)"
    exit 0
fi

[ "$(id -u)" = 0 ] || die "must run as root"

# --- packages ---
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    say "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
else
    say "packages already installed"
fi

# --- what libvirt-daemon-system would have provided ---
getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
getent passwd libvirt-qemu >/dev/null || \
    useradd --system -g libvirt-qemu -d /var/lib/libvirt -M -s /usr/sbin/nologin libvirt-qemu
mkdir -p /var/log/libvirt/qemu /var/lib/libvirt /var/cache/libvirt /etc/libvirt /run/libvirt

# QEMU as root: as libvirt-qemu every createXML re-probes capabilities (44 s) and /root is unreadable.
write_if_changed() {  # path content
    if [ ! -f "$1" ] || [ "$(cat "$1")" != "$2" ]; then
        printf '%s\n' "$2" > "$1"
        say "wrote $1"
    fi
}
write_if_changed /etc/libvirt/qemu.conf 'user = "root"
group = "root"'
# Without host_uuid libvirt invents a new one at every start (no SMBIOS here).
write_if_changed /etc/libvirt/libvirtd.conf "host_uuid = \"$HOST_UUID\"
log_outputs = \"3:file:$LIBVIRTD_LOG\""

# --- daemons ---
if [ "$(virtlogd_state)" = running ]; then
    say "virtlogd already running"
else
    say "starting virtlogd"
    virtlogd -d -p "$VIRTLOGD_PID"
fi

case $(libvirtd_state) in
    answering) say "libvirtd already running and answering on $URI" ;;
    starting) say "libvirtd (pid file $(for f in $LIBVIRTD_PIDFILES; do running "$f" libvirtd && echo "$f" && break; done)) does not answer on $URI yet; waiting" ;;
    *) say "starting libvirtd"
       libvirtd -d -p "$LIBVIRTD_PID" ;;   # rc is 0 even when the QEMU driver failed: poll below
esac

deadline=$((SECONDS + READY_TIMEOUT))
until libvirt_ready; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "setup-libvirt: ERROR: $URI not ready after ${READY_TIMEOUT}s; last lines of $LIBVIRTD_LOG:" >&2
        tail -n 30 "$LIBVIRTD_LOG" >&2 2>/dev/null || true
        exit 1
    fi
    sleep 0.2
done
say "ready: $(virsh -c "$URI" version 2>/dev/null | grep -i 'running hypervisor' || true)"
