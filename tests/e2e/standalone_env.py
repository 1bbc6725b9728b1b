"""What the standalone end-to-end tests share: a controller in its own state directory driven
through the real CLI (:class:`Standalone`), started for a test module and stopped with whatever it
left on libvirt (:func:`running_controller`), the test guest as a kernel-boot OCI image
(:func:`push_kernel_image`) and VM manifests booting it (:func:`kernel_vm`), real kubectl."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

VIRTCTL = [sys.executable, "-m", "virtctl"]


def tar_layer(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class Standalone:
    """A controller in its own state dir, driven through the CLI with its own kubeconfig."""

    def __init__(self, root: Path):
        self.state_dir = root / "state"
        self.env = dict(os.environ, VIRTCTL_STATE_DIR=str(self.state_dir),
                        KUBECONFIG=str(root / "kubeconfig"), HOME=str(root))

    def run(self, *args: str, stdin: str | None = None, timeout: float = 240, check: bool = True):
        proc = subprocess.run([*VIRTCTL, *args], input=stdin if stdin is not None else "", capture_output=True,
                              text=True, env=self.env, timeout=timeout)
        if check:
            assert proc.returncode == 0, f"virtctl {' '.join(args)} → {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        return proc

    def apply(self, manifest: dict) -> None:
        """``virtctl apply -f`` of ``manifest`` (written as YAML beside the state directory)."""
        import yaml

        path = self.state_dir.parent / f"{manifest['metadata']['name']}.yaml"
        path.write_text(yaml.safe_dump(manifest))
        self.run("apply", "-f", str(path))

    def pid(self) -> int:
        return json.loads((self.state_dir / "server.json").read_text())["pid"]

    def obj(self, kind: str, name: str) -> dict:
        return json.loads(self.run("get", kind, name, "-o", "json").stdout)

    def console(self, name: str, command: str) -> str:
        """Type one shell line into the guest (non-TTY console) and return what came back."""
        return self.run("console", name, "--timeout", "1", stdin=command + "\n", timeout=120).stdout

    def ask(self, name: str, command: str, answer: str, timeout: float = 60) -> str:
        """Type ``command`` into the guest and wait for ``answer`` in its console log: the non-TTY
        console stops after a quiet second, which a guest on a loaded machine may take to answer.
        ``answer`` must be new output (not in the log before, not in the command itself)."""
        self.console(name, command)
        return self.wait_log(name, answer, timeout)

    def wait_log(self, name: str, marker: str, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        out = ""
        while time.monotonic() < deadline:
            out = self.run("console", name, "--show-log", check=False).stdout
            if marker in out:
                return out
            time.sleep(1)
        raise AssertionError(f"{marker!r} not in the console log of {name}:\n{out[-2000:]}")


KUBECTL = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.30")


def stop(env: Standalone, *libvirt_uris: str) -> None:
    """``local down``, then destroy what the controller left on its nodes (node01, node02, … in
    ``libvirt_uris`` order): nothing it started may outlive it."""
    env.run("local", "down", check=False, timeout=60)
    from virtctl.controller.settings import Settings
    from virtctl.controller.virt.libvirt_host import LibvirtHost
    owner = Settings(state_dir=env.state_dir).controller_id
    for i, uri in enumerate(libvirt_uris):
        host = LibvirtHost(uri, f"node{i + 1:02d}", owner_id=owner)
        try:
            for dom in host.list_domains():
                host.destroy(dom)
        finally:
            host.close()


def push_kernel_image(guest, registry, tag: str) -> str:
    """The test guest's kernel and initramfs as a containerDisk-style kernel-boot image."""
    layer = tar_layer({"boot/vmlinuz": Path(guest.kernel).read_bytes(),
                  "boot/initramfs.cpio.gz": Path(guest.initrd).read_bytes()})
    registry.push_image("virtctl-test/kernel-boot", tag, [layer])
    return f"{registry.host}/virtctl-test/kernel-boot:{tag}"


def kubectl(env: Standalone, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    """Real kubectl 1.30 against the controller (skips where it is not installed)."""
    if not os.access(KUBECTL, os.X_OK):
        pytest.skip(f"{KUBECTL} is not installed")
    r = subprocess.run([str(KUBECTL), *args], env=env.env, capture_output=True, text=True, timeout=timeout)
    if check:
        assert r.returncode == 0, f"kubectl {' '.join(args)} → {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r


def wait_until(fn, timeout: float, what: str, every: float = 1):
    """``fn()``'s first truthy answer, asked every ``every`` seconds until ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def libvirt_name(env: Standalone, domain: str) -> str:
    """What libvirt calls the domain ``domain`` of the controller of ``env``."""
    from virtctl.controller.settings import Settings
    from virtctl.controller.virt.hypervisor import libvirt_domain_name
    return libvirt_domain_name(domain, Settings(state_dir=env.state_dir).controller_id)


def domain_ids(uri: str, domain: str) -> list[int]:
    import libvirt
    conn = libvirt.open(uri)
    try:
        return [d.ID() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE) if d.name() == domain]
    finally:
        conn.close()


def running_controller(libvirt_host: Any, tmp_path_factory: Any, tag: str, *,
                       tools: tuple[str, ...] = ()) -> Iterator[Standalone]:
    """For a module fixture (``yield from``): a controller of its own, ``local up`` now, ``local
    down`` and its domains destroyed after the module. Skips when a client program in ``tools``
    (ssh, scp, …) is not installed."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (scripts/setup.sh installs openssh-client)")
    env = Standalone(tmp_path_factory.mktemp(tag))
    env.run("local", "up", timeout=60)
    yield env
    stop(env, libvirt_host.uri)


def kernel_vm(name: str, image: str, *, run_strategy: str = "Always", memory: str = "256Mi", grace: int = 2,
              labels: dict[str, str] | None = None, devices: dict | None = None, **template_spec: Any) -> dict:
    """A VirtualMachine booting the test guest's kernel and initramfs from ``image``
    (:func:`push_kernel_image`); ``template_spec``: more of its template's spec (volumes, …)."""
    template: dict[str, Any] = {"spec": {
        "terminationGracePeriodSeconds": grace, **template_spec,
        "domain": {"memory": {"guest": memory},
                   "firmware": {"kernelBoot": {"kernelArgs": "console=ttyS0 panic=-1 quiet",
                                               "container": {"image": image, "kernelPath": "/boot/vmlinuz",
                                                             "initrdPath": "/boot/initramfs.cpio.gz"}}},
                   "devices": devices or {}},
    }}
    if labels:
        template["metadata"] = {"labels": labels}
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": name},
            "spec": {"runStrategy": run_strategy, "template": template}}
