#!/usr/bin/env bash
# From a fresh machine to a running VM in standalone mode (no Kubernetes):
# set up libvirt/QEMU and the venv, start the embedded controller, run a small busybox VM whose
# kernel image was built on the spot from Debian packages, and show its serial console.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

virtctl local up
virtctl apply -f - <<'YAML'
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: busybox
spec:
  runStrategy: Halted
  template:
    spec:
      domain:
        cpu: {cores: 1}
        memory: {guest: 256Mi}
        firmware:
          kernelBoot:
            kernelArgs: console=ttyS0 panic=-1 quiet
            container:
              image: localhost:5000/virtctl-test/kernel-boot:latest
              kernelPath: /boot/vmlinuz
              initrdPath: /boot/initramfs.cpio.gz
        devices: {}
YAML
# (a second run finds it running already)
virtctl get vm busybox | grep -q Running || virtctl start busybox --wait --timeout 2m
virtctl get vm busybox
virtctl get vmi busybox
# The guest prints GUEST-BOOT-OK on its serial console; --show-log prints what it wrote since boot.
for _ in $(seq 30); do virtctl console busybox --show-log | grep -q GUEST-BOOT-OK && break; sleep 1; done
virtctl console busybox --show-log
echo 'uname -a' | virtctl console busybox --timeout 1
echo
echo "Try: virtctl console busybox   (Ctrl+] to leave), virtctl stop busybox, kubectl --context virtctl-local get vm"
