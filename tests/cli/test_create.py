"""``create vm|instancetype|preference`` through the real CLI; outputs validate against swagger."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from virtctl.controller.schema import validate


def test_default_vm_matches_go_output(cli) -> None:
    r = cli(["create", "vm", "--name", "x"])
    assert r.code == 0 and r.err == ""
    assert r.out == """apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  creationTimestamp: null
  name: x
spec:
  runStrategy: Always
  template:
    metadata:
      creationTimestamp: null
    spec:
      domain:
        devices: {}
        memory:
          guest: 512Mi
        resources: {}
      terminationGracePeriodSeconds: 180
status: {}
"""


def test_random_name_and_namespace_only_when_given(cli) -> None:
    vm = yaml.safe_load(cli(["create", "vm"]).out)
    assert vm["metadata"]["name"].startswith("vm-") and len(vm["metadata"]["name"]) == 8
    assert "namespace" not in vm["metadata"]
    vm = yaml.safe_load(cli(["create", "vm", "-n", "team"]).out)
    assert vm["metadata"]["namespace"] == "team"


def test_full_vm_validates_against_swagger(cli, tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("secret\n")
    r = cli(["create", "vm", "--name", "big", "--run-strategy", "manual", "--termination-grace-period", "30",
             "--volume-containerdisk", "src:quay.io/containerdisks/fedora:40,bootorder:2",
             "--volume-pvc", "src:data", "--volume-import", "type:ds,src:os/fedora,size:30Gi,bootorder:1",
             "--volume-import", "type:http,url:http://x/img,size:1Gi,extraheaders:a=1;b=2",
             "--volume-import", "type:registry,url:docker://r/i,size:2Gi,pullmethod:node",
             "--volume-sysprep", "src:unattend,type:secret",
             "--user", "fedora", "--password-file", str(pw), "--ssh-key", "ssh-ed25519 AAAA k1,ssh-rsa BBBB k2",
             "--access-cred", "type:ssh,src:keys", "--access-cred", "type:password,src:pws"])
    assert r.code == 0, r.err
    assert r.err == "WARNING: --password-file: The password is stored in cleartext in the VM definition!\n"
    vm = yaml.safe_load(r.out)
    assert validate("v1.VirtualMachine", vm) == []
    spec = vm["spec"]
    assert spec["runStrategy"] == "Manual"
    assert spec["instancetype"] == {"inferFromVolume": spec["template"]["spec"]["volumes"][2]["name"],
                                    "inferFromVolumeFailurePolicy": "Ignore"}
    tmpl = spec["template"]["spec"]
    assert tmpl["terminationGracePeriodSeconds"] == 30
    assert [d["bootOrder"] for d in tmpl["domain"]["devices"]["disks"]] == [2, 1]
    user_data = next(v for v in tmpl["volumes"] if v["name"] == "cloudinitdisk")["cloudInitNoCloud"]["userData"]
    assert user_data == ("#cloud-config\nuser: fedora\npassword: secret\nchpasswd: { expire: False }\n"
                         "ssh_authorized_keys:\n  - ssh-ed25519 AAAA k1\n  - ssh-rsa BBBB k2\n"
                         "runcmd:\n  - [ setsebool, -P, 'virt_qemu_ga_manage_ssh', 'on' ]")
    assert tmpl["accessCredentials"][0]["sshPublicKey"]["propagationMethod"] == {"qemuGuestAgent": {"users": ["fedora"]}}
    assert spec["dataVolumeTemplates"][1]["spec"]["source"]["http"]["extraHeaders"] == ["a=1", "b=2"]


def test_explicit_inference_drops_memory(cli) -> None:
    r = cli(["create", "vm", "--volume-pvc", "src:disk", "--infer-instancetype"])
    vm = yaml.safe_load(r.out)
    assert "memory" not in vm["spec"]["template"]["spec"]["domain"]
    assert vm["spec"]["instancetype"] == {"inferFromVolume": "disk"}


def test_instancetype_flag_removes_memory(cli) -> None:
    vm = yaml.safe_load(cli(["create", "vm", "--instancetype", "virtualmachineinstancetype/small"]).out)
    assert vm["spec"]["instancetype"] == {"kind": "virtualmachineinstancetype", "name": "small"}
    assert "memory" not in vm["spec"]["template"]["spec"]["domain"]
    assert validate("v1.VirtualMachine", vm) == []


def test_deprecated_flag_rewritten_with_stderr_line(cli) -> None:
    r = cli(["create", "vm", "--volume-datasource", "src:ns/ds,name:root"])
    assert r.code == 0
    assert r.err == "Flag --volume-datasource has been deprecated, use flag --volume-import instead\n"
    vm = yaml.safe_load(r.out)
    assert vm["spec"]["dataVolumeTemplates"][0]["spec"]["sourceRef"] == {"kind": "DataSource", "name": "ds",
                                                                        "namespace": "ns"}


@pytest.mark.parametrize("args, message", [
    (["--run-strategy", "sometimes"], 'failed to parse "--run-strategy" flag: invalid run strategy "sometimes", '
     "supported values are: Always, Manual, Halted, Once, RerunOnFailure"),
    (["--volume-containerdisk", ""], 'failed to parse "--volume-containerdisk" flag: params may not be empty'),
    (["--volume-containerdisk", "nocolon"], 'failed to parse "--volume-containerdisk" flag: params need to have at '
     "least one colon: nocolon"),
    (["--volume-containerdisk", "src:img,color:red"], 'failed to parse "--volume-containerdisk" flag: unknown '
     "param(s): color:red"),
    (["--volume-containerdisk", "name:x"], 'failed to parse "--volume-containerdisk" flag: src must be specified'),
    (["--volume-pvc", "src:a,bootorder:0"], 'failed to parse "--volume-pvc" flag: bootorder must be greater than 0'),
    (["--volume-pvc", "src:a,bootorder:1", "--volume-pvc", "src:b,bootorder:1"],
     'failed to parse "--volume-pvc" flag: bootorder 1 was specified multiple times'),
    (["--volume-pvc", "src:a", "--volume-pvc", "src:a"], 'failed to parse "--volume-pvc" flag: there is already a '
     'volume with name "a"'),
    (["--volume-import", "type:pvc,src:x"], 'failed to parse "--volume-import" flag: namespace of pvc "x" must be '
     "specified"),
    (["--volume-import", "type:blank"], 'failed to parse "--volume-import" flag: size must be specified'),
    (["--memory", "lots"], 'failed to parse "--memory" flag: quantities must match the regular expression '
     "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
    (["--memory", "1Gi", "--instancetype", "x"], "if any flags in the group [memory instancetype infer-instancetype "
     "infer-instancetype-from] are set none of the others can be; [instancetype memory] were all set"),
    (["--termination-grace-period", "soon"], 'invalid argument "soon" for "--termination-grace-period" flag: '
     'strconv.ParseInt: parsing "soon": invalid syntax'),
    (["--bogus"], "unknown flag: --bogus"),
    (["extra"], 'unknown command "extra" for "virtctl create vm"'),
])
def test_bad_input_is_one_clear_line(cli, args: list[str], message: str) -> None:
    r = cli(["create", "vm", *args])
    assert (r.code, r.out, r.err) == (1, "", message + "\n")


def test_instancetype_and_preference(cli) -> None:
    r = cli(["create", "instancetype", "--cpu", "2", "--memory", "1Gi", "--name", "it"])
    obj = yaml.safe_load(r.out)
    assert obj["kind"] == "VirtualMachineClusterInstancetype"
    assert obj["spec"] == {"cpu": {"guest": 2}, "memory": {"guest": "1Gi"}}
    assert validate("v1beta1.VirtualMachineClusterInstancetype", obj) == []
    obj = yaml.safe_load(cli(["create", "instancetype", "--cpu", "1", "--memory", "1Gi", "-n", "ns"]).out)
    assert (obj["kind"], obj["metadata"]["namespace"]) == ("VirtualMachineInstancetype", "ns")
    assert obj["metadata"]["name"].startswith("instancetype-")
    r = cli(["create", "instancetype", "--memory", "1Gi"])
    assert (r.code, r.err) == (1, 'required flag(s) "cpu" not set\n')
    obj = yaml.safe_load(cli(["create", "preference", "--cpu-topology", "spread", "--namespaced"]).out)
    assert obj["kind"] == "VirtualMachinePreference" and obj["spec"] == {"cpu": {"preferredCPUTopology": "spread"}}
    assert validate("v1beta1.VirtualMachinePreference", obj) == []


def test_help_uses_program_name_in_plugin_mode() -> None:
    from tests.cli.conftest import run_cli

    r = run_cli(["create", "vm", "--help"], argv0="/usr/local/bin/kubectl-virt")
    assert r.code == 0
    assert "Usage:\n  kubectl virt create vm [flags]" in r.out
    assert "  kubectl virt create vm --name=my-vm --run-strategy=Always" in r.out
    assert 'Use "kubectl virt options"' in r.out
