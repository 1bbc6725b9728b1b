"""``virtctl get`` of the core kinds against a real embedded API server, checked column for column
against real kubectl on the same server; ``get vm NAME`` of a failing VM ends with its last Warning
in kubectl describe's Events layout, and ``-o name|json|yaml`` stay pure."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.cli.test_commands import halted_vm
from virtctl.model import kinds

KUBECTL = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.30")


def client(api_server):
    from virtctl.client import KubeVirtClient, Overrides, resolve
    return KubeVirtClient.from_config(resolve(Overrides(kubeconfig=str(api_server.kubeconfig_path))))


def without_age(text: str) -> list[list[str]]:
    rows = [line.split() for line in text.splitlines()]
    age = rows[0].index("AGE")
    return [r[:age] + r[age + 1:] for r in rows]


def test_core_kinds_print_as_kubectl_prints_them(kcli, api_server) -> None:
    if not os.access(KUBECTL, os.X_OK):
        pytest.skip(f"{KUBECTL} is not installed")
    kv = client(api_server)
    kv.create(kinds.SECRET, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1"},
                             "stringData": {"password": "never-printed", "user": "u"}})
    kv.create(kinds.CONFIGMAP, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1"},
                                "data": {"a": "1"}})
    kv.create(kinds.SERVICE, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                              "spec": {"type": "NodePort", "selector": {"app": "web"},
                                       "ports": [{"port": 80, "targetPort": 8080}]}})
    env = dict(os.environ, KUBECONFIG=str(api_server.kubeconfig_path))
    for words in (["ns"], ["secret"], ["cm"], ["svc"], ["svc", "-o", "wide"], ["secrets", "s1"]):
        ours = kcli(["get", *words])
        theirs = subprocess.run([str(KUBECTL), "get", *words], env=env, capture_output=True, text=True, timeout=60)
        assert ours.code == 0 and theirs.returncode == 0, (ours, theirs.stderr)
        assert without_age(ours.out) == without_age(theirs.stdout), words
    r = kcli(["get", "secret"])
    assert "never-printed" not in r.out and r.out.split("\n")[1].split()[:3] == ["s1", "Opaque", "2"]


def test_get_vm_of_a_failing_vm_ends_with_its_last_warning(kcli, api_server) -> None:
    kv = client(api_server)
    kv.create(kinds.VM, halted_vm("bad"))
    kv.create(kinds.VM, halted_vm("fine"))
    for name, status in (("bad", "CrashLoopBackOff"), ("fine", "Stopped")):
        kv.call_json("PATCH", kinds.VM.object_path("default", name) + "/status",
                     body={"status": {"printableStatus": status}}, content_type="application/merge-patch+json")
    for i, (kind, reason, message, ts) in enumerate((
            ("VirtualMachineInstance", "FailedCreate", "older failure", "2026-01-01T00:00:00Z"),
            ("VirtualMachineInstance", "FailedCreate", "libvirt said no", "2026-01-01T00:00:09Z"),
            ("VirtualMachine", "SuccessfulCreate", "a normal one", "2026-01-01T00:00:10Z"))):
        kv.create(kinds.EVENT, {"apiVersion": "v1", "kind": "Event", "metadata": {"name": f"bad.{i}"},
                                "involvedObject": {"kind": kind, "name": "bad", "namespace": "default"},
                                "reason": reason, "message": message, "type": "Warning" if i < 2 else "Normal",
                                "source": {"component": "virt-handler"}, "count": 3 if i == 1 else 1,
                                "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": ts})
    r = kcli(["get", "vm", "bad"])
    lines = r.out.splitlines()
    assert r.code == 0 and lines[1].split()[2] == "CrashLoopBackOff"
    assert lines[2:4] == ["", "Events:"]
    assert lines[4].split() == ["Type", "Reason", "Age", "From", "Message"]
    last = lines[6]
    assert last.startswith("  Warning  FailedCreate  ") and last.endswith("virt-handler  libvirt said no")
    assert "(x3 over" in last and len(lines) == 7
    # no section for a VM that is fine, for a list, or for machine-readable output
    assert "Events:" not in kcli(["get", "vm", "fine"]).out
    assert "Events:" not in kcli(["get", "vm"]).out
    assert kcli(["get", "vm", "bad", "-o", "name"]).out == "virtualmachine.kubevirt.io/bad\n"
    assert json.loads(kcli(["get", "vm", "bad", "-o", "json"]).out)["metadata"]["name"] == "bad"
    assert "Events" not in kcli(["get", "vm", "bad", "-o", "yaml"]).out
