"""``create vm|instancetype|preference``: print a manifest, as Go virtctl does. No API call."""

from __future__ import annotations

import sys

from virtctl.cli.args import no_args, string_slice
from virtctl.cli.render import to_yaml
from virtctl.cli.state import current
from virtctl.errors import UsageError
from virtctl.model import vm_builder as vb

VM_FLAGS = ("name", "run_strategy", "termination_grace_period", "memory", "instancetype", "infer_instancetype",
            "infer_instancetype_from", "preference", "infer_preference", "infer_preference_from",
            "volume_containerdisk", "volume_pvc", "volume_import", "volume_sysprep", "user", "password_file",
            "ssh_key", "ga_manage_ssh", "access_cred", "cloud_init", "cloud_init_user_data",
            "cloud_init_network_data", "volume_datasource", "volume_clone_pvc", "volume_blank")


def int_flag(flag: str, value: str, bits: int = 64, unsigned: bool = False) -> int:
    """pflag's Int64/Uint32 parsing, with strconv's messages."""
    fn = "ParseUint" if unsigned else "ParseInt"
    try:
        n = int(value, 10)
    except ValueError:
        raise UsageError(f'invalid argument "{value}" for "--{flag}" flag: strconv.{fn}: parsing "{value}": '
                         "invalid syntax") from None
    low, high = (0, 2 ** bits - 1) if unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    if not low <= n <= high:
        why = "invalid syntax" if unsigned and n < 0 else "value out of range"
        raise UsageError(f'invalid argument "{value}" for "--{flag}" flag: strconv.{fn}: parsing "{value}": {why}')
    return n


def _given(changed: frozenset[str], name: str, value: bool) -> bool:
    """A bool flag whose Go default is true: its value when given, else true."""
    return value if name in changed else True


def vm(args: list[str], name: str, run_strategy: str, termination_grace_period: str, memory: str,
       instancetype: str, infer_instancetype: bool, infer_instancetype_from: str, preference: str,
       infer_preference: bool, infer_preference_from: str, volume_containerdisk: list[str], volume_pvc: list[str],
       volume_import: list[str], volume_sysprep: str, user: str, password_file: str, ssh_key: list[str],
       ga_manage_ssh: bool, access_cred: list[str], cloud_init: str, cloud_init_user_data: str,
       cloud_init_network_data: str, volume_datasource: list[str], volume_clone_pvc: list[str],
       volume_blank: list[str], changed: frozenset[str]) -> None:
    no_args(args, f"{current().prog} create vm")
    options = vb.VMOptions(
        name=name, run_strategy=run_strategy,
        termination_grace_period=int_flag("termination-grace-period", termination_grace_period),
        memory=memory, instancetype=instancetype,
        infer_instancetype=_given(changed, "infer_instancetype", infer_instancetype),
        infer_instancetype_from=infer_instancetype_from, preference=preference,
        infer_preference=_given(changed, "infer_preference", infer_preference),
        infer_preference_from=infer_preference_from,
        containerdisk_volumes=list(volume_containerdisk), pvc_volumes=list(volume_pvc),
        volume_import=list(volume_import), sysprep_volume=volume_sysprep, user=user, password_file=password_file,
        ssh_keys=string_slice(ssh_key), ga_manage_ssh=ga_manage_ssh, access_creds=list(access_cred),
        cloud_init=cloud_init, cloud_init_user_data=cloud_init_user_data,
        cloud_init_network_data=cloud_init_network_data, datasource_volumes=list(volume_datasource),
        clone_pvc_volumes=list(volume_clone_pvc), blank_volumes=list(volume_blank),
        namespace=current().namespace_flag, changed={n.replace("_", "-") for n in VM_FLAGS if n in changed})
    obj, messages = vb.build_vm(options)
    for m in messages:
        sys.stderr.write(m)
    sys.stderr.flush()
    sys.stdout.write(to_yaml(obj))


def instancetype(args: list[str], name: str, cpu: str, memory: str, gpu: list[str], hostdevice: list[str],
                 iothreadspolicy: str, namespaced: bool, changed: frozenset[str]) -> None:
    no_args(args, f"{current().prog} create instancetype")
    missing = [f'"{f}"' for f in ("cpu", "memory") if f not in changed]
    if missing:
        raise UsageError(f"required flag(s) {', '.join(missing)} not set")
    obj = vb.build_instancetype(cpu=int_flag("cpu", cpu, 32, unsigned=True), memory=memory, name=name,
                                namespaced=namespaced, namespace=current().namespace_flag, gpus=list(gpu),
                                hostdevices=list(hostdevice), iothreads_policy=iothreadspolicy)
    sys.stdout.write(to_yaml(obj))


def preference(args: list[str], name: str, volume_storage_class: str, machine_type: str, cpu_topology: str,
               namespaced: bool, changed: frozenset[str]) -> None:
    no_args(args, f"{current().prog} create preference")
    obj = vb.build_preference(name=name, namespaced=namespaced, namespace=current().namespace_flag,
                              volume_storage_class=volume_storage_class, machine_type=machine_type,
                              cpu_topology=cpu_topology)
    sys.stdout.write(to_yaml(obj))
