"""``create vm|instancetype|preference``: print a manifest (docs/compatibility.md#create-vm).
No API call. Flags and help; what the commands do is in :mod:`virtctl.cli.ops.create`."""

from __future__ import annotations

from typing import Optional

import typer

from virtctl.cli.args import call_params
from virtctl.cli.lazy import CobraCommand, Params, add_command, new_group, with_params
from virtctl.cli.ops import create as ops
from virtctl.model import vm_builder as vb

app, create_app = new_group("create", help="Create a manifest for the specified Kind.",
                            short_help="Create a manifest for the specified Kind.")

VM_EXAMPLES = """  # Create a manifest for a VirtualMachine with a random name:
  {{ProgramName}} create vm

  # Create a manifest for a VirtualMachine with a specified name and RunStrategy Always
  {{ProgramName}} create vm --name=my-vm --run-strategy=Always

  # Create a manifest for a VirtualMachine with a specified VirtualMachineClusterInstancetype
  {{ProgramName}} create vm --instancetype=my-instancetype

  # Create a manifest for a VirtualMachine with a specified VirtualMachineInstancetype (namespaced)
  {{ProgramName}} create vm --instancetype=virtualmachineinstancetype/my-instancetype

  # Create a manifest for a VirtualMachine with a specified VirtualMachineClusterPreference
  {{ProgramName}} create vm --preference=my-preference

  # Create a manifest for a VirtualMachine with specified memory and an ephemeral containerdisk volume
  {{ProgramName}} create vm --memory=1Gi --volume-containerdisk=src:my.registry/my-image:my-tag

  # Create a manifest for a VirtualMachine with a cloned DataSource in namespace and specified size
  {{ProgramName}} create vm --volume-import=type:ds,src:my-ns/my-ds,size:50Gi

  # Create a manifest for a VirtualMachine with a cloned DataSource and inferred instancetype and preference
  {{ProgramName}} create vm --volume-import=type:ds,src:my-annotated-ds --infer-instancetype --infer-preference

  # Create a manifest for a VirtualMachine with multiple volumes and specified boot order
  {{ProgramName}} create vm --volume-containerdisk=src:my.registry/my-image:my-tag --volume-import=type:ds,src:my-ds,bootorder:1

  # Create a manifest for a VirtualMachine with a cloned PVC
  {{ProgramName}} create vm --volume-import=type:pvc,src:my-ns/my-pvc

  # Create a manifest for a VirtualMachine using a PVC without cloning it
  {{ProgramName}} create vm --volume-pvc=src:my-pvc

  # Create a manifest for a VirtualMachine with a generated cloud-init config setting the user and adding an ssh authorized key
  {{ProgramName}} create vm --user cloud-user --ssh-key="ssh-ed25519 AAAA...."

  # Create a manifest for a VirtualMachine with a generated cloud-init config setting the user and setting the password from a file
  {{ProgramName}} create vm --user cloud-user --password-file=/path/to/file

  # Create a manifest for a VirtualMachine with SSH public keys injected into the VM from a secret called my-keys to a user specified as param
  {{ProgramName}} create vm --access-cred=type:ssh,src:my-keys,user:myuser

  # Create a manifest for a VirtualMachine with password injected into the VM from a secret called my-pws
  {{ProgramName}} create vm --access-cred=type:password,src:my-pws

  # Create a manifest for a VirtualMachine with a Containerdisk and a Sysprep volume (source ConfigMap needs to exist)
  {{ProgramName}} create vm --memory=1Gi --volume-containerdisk=src:my.registry/my-image:my-tag --volume-sysprep=src:my-cm"""

_IMPORT_HELP = ("Specify the source for DataVolume. Can be provided multiple times.\nSupported parameters:\n"
                + "\n".join(f"  type {t} - {vb.supported(p)}" for t, p in vb.P_IMPORT.items()))



def inference_params(flag: str, what: str) -> Params:
    """``--<flag>`` (the VM's ``what``) and the flags that infer it from a volume instead."""
    return {
        flag: (str, typer.Option("", f"--{flag}", help=f"Specify the {what} of the VM. Mutually exclusive with "
                                 f"{flag} inference flags.")),
        f"infer_{flag}": (bool, typer.Option(False, f"--infer-{flag}", help=f"Specify if the {what} of the VM should "
                                             f"be inferred from the first boot disk. Mutually exclusive with "
                                             f"--infer-{flag}-from. (default true)")),
        f"infer_{flag}_from": (str, typer.Option("", f"--infer-{flag}-from", help=f"Specify the volume to infer the "
                                                 f"{what} of the VM from. Mutually exclusive with --infer-{flag}.")),
    }


@create_app.command("vm", cls=CobraCommand, short_help="Create a VirtualMachine manifest.",
                    help="Create a VirtualMachine manifest.\n\nIf no boot order was specified volumes have the "
                         "following fixed boot order:\nContainerdisk > PVC > DataSource > Clone PVC > Blank > "
                         "Imported volumes",
                    epilog=VM_EXAMPLES)
@with_params(inference_params("instancetype", "Instance Type"), inference_params("preference", "Preference"))
def create_vm(
    ctx: typer.Context,
    args: Optional[list[str]] = typer.Argument(None, hidden=True),
    name: str = typer.Option("", "--name", help="Specify the name of the VM."),
    run_strategy: str = typer.Option("Always", "--run-strategy", help="Specify the RunStrategy of the VM."),
    termination_grace_period: str = typer.Option("180", "--termination-grace-period", metavar="int",
                                                 help="Specify the termination grace period of the VM."),
    memory: str = typer.Option("512Mi", "--memory", help="Specify the memory of the VM."),
    volume_containerdisk: list[str] = typer.Option([], "--volume-containerdisk", help="Specify a containerdisk "
                                                   "to be used by the VM. Can be provided multiple times.\n"
                                                   f"Supported parameters: {vb.supported(vb.P_VOLUME)}"),
    volume_pvc: list[str] = typer.Option([], "--volume-pvc", help="Specify a PVCs to be used by the VM. Can be "
                                         f"provided multiple times.\nSupported parameters: "
                                         f"{vb.supported(vb.P_VOLUME)}"),
    volume_import: list[str] = typer.Option([], "--volume-import", help=_IMPORT_HELP),
    volume_sysprep: str = typer.Option("", "--volume-sysprep", help="Specify a ConfigMap or Secret to be used as "
                                       "sysprep volume by the VM.\nSupported parameters: "
                                       f"{vb.supported(vb.P_SYSPREP)}"),
    user: str = typer.Option("", "--user", help="Specify the user in the cloud-init user data that is added to "
                             "the VM."),
    password_file: str = typer.Option("", "--password-file", help="Specify a file to read the password from for "
                                      "the cloud-init user data that is added to the VM."),
    ssh_key: list[str] = typer.Option([], "--ssh-key", metavar="strings", help="Specify one or more SSH "
                                      "authorized keys in the cloud-init user data that is added to the VM."),
    ga_manage_ssh: bool = typer.Option(False, "--ga-manage-ssh", help="Specify if the qemu-guest-agent should be "
                                       "able to manage SSH in the cloud-init user data that is added to the VM.\n"
                                       "This is useful in combination with the \"credentials add-ssh-key\" "
                                       "command or when using the --access-cred flag."),
    access_cred: list[str] = typer.Option([], "--access-cred", help="Specify an access credential to be injected "
                                          "into the VM. Can be provided multiple times.\nSupported parameters: "
                                          f"{vb.supported(vb.P_ACCESS_CRED)}"),
    cloud_init: str = typer.Option("nocloud", "--cloud-init", help="Specify the type of the generated cloud-init "
                                   "data source.\nSupported values: nocloud, configdrive, none"),
    cloud_init_user_data: str = typer.Option("", "--cloud-init-user-data", help="Specify the base64 encoded "
                                             "cloud-init user data of the VM."),
    cloud_init_network_data: str = typer.Option("", "--cloud-init-network-data", help="Specify the base64 encoded "
                                                "cloud-init network data of the VM."),
    volume_datasource: list[str] = typer.Option([], "--volume-datasource", help="Specify a DataSource to be "
                                                "cloned by the VM. Can be provided multiple times.\nSupported "
                                                "parameters: name:string,src:string,bootorder:uint,size:resource."
                                                "Quantity\nDEPRECATED: Use --volume-import with type:ds and same "
                                                "params instead."),
    volume_clone_pvc: list[str] = typer.Option([], "--volume-clone-pvc", help="Specify a PVC to be cloned by the "
                                               "VM. Can be provided multiple times.\nSupported parameters: "
                                               "name:string,src:string,bootorder:uint,size:resource.Quantity\n"
                                               "DEPRECATED: Use --volume-import with type:pvc and same params "
                                               "instead."),
    volume_blank: list[str] = typer.Option([], "--volume-blank", help="Specify a blank volume to be used by the "
                                           "VM. Can be provided multiple times.\nSupported parameters: "
                                           "name:string,size:resource.Quantity\nDEPRECATED: Use --volume-import "
                                           "with type:blank and same params instead."),
    **params: object,
) -> None:
    ops.vm(**call_params(ctx))



def kind_params(name_of: str, kind: str) -> Params:
    """``--name`` (of the ``name_of``) and ``--namespaced`` (VirtualMachine``kind`` rather than
    VirtualMachineCluster``kind``)."""
    return {"name": (str, typer.Option("", "--name", help=f"Specify the name of the {name_of}.")),
            "namespaced": (bool, typer.Option(False, "--namespaced", help=f"Specify if VirtualMachine{kind} should be "
                                              f"created. By default VirtualMachineCluster{kind} is created."))}


INSTANCETYPE_PARAMS: Params = {
    "cpu": (str, typer.Option("", "--cpu", metavar="uint32", help="Specify the count of CPUs of the instancetype.")),
    "memory": (str, typer.Option("", "--memory", help="Specify the amount of memory of the instancetype.")),
    "gpu": (list[str], typer.Option([], "--gpu", help="Specify the list of vGPUs to passthrough. Can be provided "
                                    "multiple times.\nSupported parameters: name:string,devicename:string")),
    "hostdevice": (list[str], typer.Option([], "--hostdevice", help="Specify list of HostDevices to passthrough. Can "
                                           "be provided multiple times.\nSupported parameters: "
                                           "name:string,devicename:string")),
    "iothreadspolicy": (str, typer.Option("", "--iothreadspolicy", help="Specify IOThreadsPolicy to be used. Only "
                                          "valid values are \"auto\" and \"shared\".")),
}
PREFERENCE_PARAMS: Params = {
    "volume_storage_class": (str, typer.Option("", "--volume-storage-class", help="Specify the storage class to be "
                                               "used for volumes.")),
    "machine_type": (str, typer.Option("", "--machine-type", help="Specify the preferred machine type.")),
    "cpu_topology": (str, typer.Option("", "--cpu-topology", help="Specify the preferred CPU topology (sockets, "
                                       "cores, threads or spread).")),
}

add_command(create_app, "instancetype", ops.instancetype, kind_params("instancetype", "Instancetype"),
            INSTANCETYPE_PARAMS, hidden_args=True,
            short_help="Create VirtualMachineInstancetype or VirtualMachineClusterInstancetype manifest.",
            epilog="  # Create a manifest for a VirtualMachineClusterInstancetype with a random name:\n"
                   "  {{ProgramName}} create instancetype --cpu 2 --memory 256Mi\n\n"
                   "  # Create a manifest for a VirtualMachineInstancetype with a specified namespace:\n"
                   "  {{ProgramName}} create instancetype --cpu 2 --memory 256Mi --namespaced -n my-namespace")
add_command(create_app, "preference", ops.preference, kind_params("Preference", "Preference"), PREFERENCE_PARAMS,
            hidden_args=True, short_help="Create VirtualMachinePreference or VirtualMachineClusterPreference manifest.",
            epilog="  # Create a manifest for a VirtualMachineClusterPreference with a random name:\n"
                   "  {{ProgramName}} create preference\n\n"
                   "  # Create a manifest for a VirtualMachinePreference with a specified namespace:\n"
                   "  {{ProgramName}} create preference --namespaced -n my-namespace")
