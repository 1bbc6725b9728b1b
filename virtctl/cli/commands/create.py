"""``create vm|instancetype|preference``: print a manifest (REFERENCE §6). No API call."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from virtctl.cli.args import bool_value, changed, no_args, string_slice
from virtctl.cli.lazy import CobraCommand, CobraGroup, new_app
from virtctl.cli.render import to_yaml
from virtctl.cli.state import current
from virtctl.errors import UsageError
from virtctl.model import vm_builder as vb

app = new_app(cls=CobraGroup, help="Create a manifest for the specified Kind.",
              short_help="Create a manifest for the specified Kind.")
create_app = new_app(cls=CobraGroup, help="Create a manifest for the specified Kind.",
                     short_help="Create a manifest for the specified Kind.")
app.add_typer(create_app, name="create")

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


def _explicit_namespace() -> str:
    return current().namespace_flag


def _int_flag(flag: str, value: str, bits: int = 64, unsigned: bool = False) -> int:
    try:
        n = int(value, 10)
    except ValueError:
        fn = "ParseUint" if unsigned else "ParseInt"
        raise UsageError(f'invalid argument "{value}" for "--{flag}" flag: strconv.{fn}: parsing "{value}": '
                         "invalid syntax") from None
    low, high = (0, 2 ** bits - 1) if unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    if not low <= n <= high:
        fn = "ParseUint" if unsigned else "ParseInt"
        why = "invalid syntax" if unsigned and n < 0 else "value out of range"
        raise UsageError(f'invalid argument "{value}" for "--{flag}" flag: strconv.{fn}: parsing "{value}": {why}')
    return n


@create_app.command("vm", cls=CobraCommand, short_help="Create a VirtualMachine manifest.",
                    help="Create a VirtualMachine manifest.\n\nIf no boot order was specified volumes have the "
                         "following fixed boot order:\nContainerdisk > PVC > DataSource > Clone PVC > Blank > "
                         "Imported volumes",
                    epilog=VM_EXAMPLES)
def create_vm(
    ctx: typer.Context,
    args: Optional[list[str]] = typer.Argument(None, hidden=True),
    name: str = typer.Option("", "--name", help="Specify the name of the VM."),
    run_strategy: str = typer.Option("Always", "--run-strategy", help="Specify the RunStrategy of the VM."),
    termination_grace_period: str = typer.Option("180", "--termination-grace-period", metavar="int",
                                                 help="Specify the termination grace period of the VM."),
    memory: str = typer.Option("512Mi", "--memory", help="Specify the memory of the VM."),
    instancetype: str = typer.Option("", "--instancetype", help="Specify the Instance Type of the VM. Mutually "
                                     "exclusive with instancetype inference flags."),
    infer_instancetype: bool = typer.Option(False, "--infer-instancetype", help="Specify if the Instance Type of "
                                            "the VM should be inferred from the first boot disk. Mutually exclusive "
                                            "with --infer-instancetype-from. (default true)"),
    infer_instancetype_from: str = typer.Option("", "--infer-instancetype-from", help="Specify the volume to "
                                                "infer the Instance Type of the VM from. Mutually exclusive with "
                                                "--infer-instancetype."),
    preference: str = typer.Option("", "--preference", help="Specify the Preference of the VM. Mutually "
                                   "exclusive with preference inference flags."),
    infer_preference: bool = typer.Option(False, "--infer-preference", help="Specify if the Preference of the VM "
                                          "should be inferred from the first boot disk. Mutually exclusive with "
                                          "--infer-preference-from. (default true)"),
    infer_preference_from: str = typer.Option("", "--infer-preference-from", help="Specify the volume to infer "
                                              "the Preference of the VM from. Mutually exclusive with "
                                              "--infer-preference."),
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
) -> None:
    no_args(args, f"{current().prog} create vm")
    flags = ["name", "run_strategy", "termination_grace_period", "memory", "instancetype", "infer_instancetype",
             "infer_instancetype_from", "preference", "infer_preference", "infer_preference_from",
             "volume_containerdisk", "volume_pvc", "volume_import", "volume_sysprep", "user", "password_file",
             "ssh_key", "ga_manage_ssh", "access_cred", "cloud_init", "cloud_init_user_data",
             "cloud_init_network_data", "volume_datasource", "volume_clone_pvc", "volume_blank"]
    given = {f.replace("_", "-") for f in flags if changed(ctx, f)}
    options = vb.VMOptions(
        name=name, run_strategy=run_strategy,
        termination_grace_period=_int_flag("termination-grace-period", termination_grace_period),
        memory=memory, instancetype=instancetype,
        infer_instancetype=bool_value(ctx, "infer_instancetype", True),
        infer_instancetype_from=infer_instancetype_from, preference=preference,
        infer_preference=bool_value(ctx, "infer_preference", True), infer_preference_from=infer_preference_from,
        containerdisk_volumes=list(volume_containerdisk), pvc_volumes=list(volume_pvc),
        volume_import=list(volume_import), sysprep_volume=volume_sysprep, user=user, password_file=password_file,
        ssh_keys=string_slice(ssh_key), ga_manage_ssh=bool_value(ctx, "ga_manage_ssh", ga_manage_ssh),
        access_creds=list(access_cred), cloud_init=cloud_init, cloud_init_user_data=cloud_init_user_data,
        cloud_init_network_data=cloud_init_network_data, datasource_volumes=list(volume_datasource),
        clone_pvc_volumes=list(volume_clone_pvc), blank_volumes=list(volume_blank),
        namespace=_explicit_namespace(), changed=given)
    vm, messages = vb.build_vm(options)
    for m in messages:
        sys.stderr.write(m)
    sys.stderr.flush()
    sys.stdout.write(to_yaml(vm))


@create_app.command("instancetype", cls=CobraCommand,
                    short_help="Create VirtualMachineInstancetype or VirtualMachineClusterInstancetype manifest.",
                    help="Create VirtualMachineInstancetype or VirtualMachineClusterInstancetype manifest.",
                    epilog="  # Create a manifest for a VirtualMachineClusterInstancetype with a random name:\n"
                           "  {{ProgramName}} create instancetype --cpu 2 --memory 256Mi\n\n"
                           "  # Create a manifest for a VirtualMachineInstancetype with a specified namespace:\n"
                           "  {{ProgramName}} create instancetype --cpu 2 --memory 256Mi --namespaced -n my-namespace")
def create_instancetype(
    ctx: typer.Context,
    args: Optional[list[str]] = typer.Argument(None, hidden=True),
    name: str = typer.Option("", "--name", help="Specify the name of the instancetype."),
    cpu: str = typer.Option("", "--cpu", metavar="uint32", help="Specify the count of CPUs of the instancetype."),
    memory: str = typer.Option("", "--memory", help="Specify the amount of memory of the instancetype."),
    gpu: list[str] = typer.Option([], "--gpu", help="Specify the list of vGPUs to passthrough. Can be provided "
                                  "multiple times.\nSupported parameters: name:string,devicename:string"),
    hostdevice: list[str] = typer.Option([], "--hostdevice", help="Specify list of HostDevices to passthrough. Can "
                                         "be provided multiple times.\nSupported parameters: "
                                         "name:string,devicename:string"),
    iothreadspolicy: str = typer.Option("", "--iothreadspolicy", help="Specify IOThreadsPolicy to be used. Only "
                                        "valid values are \"auto\" and \"shared\"."),
    namespaced: bool = typer.Option(False, "--namespaced", help="Specify if VirtualMachineInstancetype should be "
                                    "created. By default VirtualMachineClusterInstancetype is created."),
) -> None:
    no_args(args, f"{current().prog} create instancetype")
    missing = [f'"{f}"' for f in ("cpu", "memory") if not changed(ctx, f)]
    if missing:
        raise UsageError(f"required flag(s) {', '.join(missing)} not set")
    obj = vb.build_instancetype(cpu=_int_flag("cpu", cpu, 32, unsigned=True), memory=memory, name=name,
                                namespaced=bool_value(ctx, "namespaced", namespaced),
                                namespace=_explicit_namespace(), gpus=list(gpu), hostdevices=list(hostdevice),
                                iothreads_policy=iothreadspolicy)
    sys.stdout.write(to_yaml(obj))


@create_app.command("preference", cls=CobraCommand,
                    short_help="Create VirtualMachinePreference or VirtualMachineClusterPreference manifest.",
                    help="Create VirtualMachinePreference or VirtualMachineClusterPreference manifest.",
                    epilog="  # Create a manifest for a VirtualMachineClusterPreference with a random name:\n"
                           "  {{ProgramName}} create preference\n\n"
                           "  # Create a manifest for a VirtualMachinePreference with a specified namespace:\n"
                           "  {{ProgramName}} create preference --namespaced -n my-namespace")
def create_preference(
    ctx: typer.Context,
    args: Optional[list[str]] = typer.Argument(None, hidden=True),
    name: str = typer.Option("", "--name", help="Specify the name of the Preference."),
    volume_storage_class: str = typer.Option("", "--volume-storage-class", help="Specify the storage class to be "
                                             "used for volumes."),
    machine_type: str = typer.Option("", "--machine-type", help="Specify the preferred machine type."),
    cpu_topology: str = typer.Option("", "--cpu-topology", help="Specify the preferred CPU topology (sockets, "
                                     "cores, threads or spread)."),
    namespaced: bool = typer.Option(False, "--namespaced", help="Specify if VirtualMachinePreference should be "
                                    "created. By default VirtualMachineClusterPreference is created."),
) -> None:
    no_args(args, f"{current().prog} create preference")
    obj = vb.build_preference(name=name, namespaced=bool_value(ctx, "namespaced", namespaced),
                              namespace=_explicit_namespace(), volume_storage_class=volume_storage_class,
                              machine_type=machine_type, cpu_topology=cpu_topology)
    sys.stdout.write(to_yaml(obj))
