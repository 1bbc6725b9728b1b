"""``memory-dump get|download|remove (VM)``: dump a running VM's memory into a PVC, download it through
a VirtualMachineExport of that PVC, or drop the association, with Go virtctl's flags and messages
(docs/compatibility.md#memory-dump)."""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import typer

from virtctl.cli.args import exact_args
from virtctl.cli.commands.vmexport import PORT_FORWARD_REFUSED, Export, Options, download_volume
from virtctl.cli.go_errors import go_error
from virtctl.cli.lazy import CobraCommand, new_app
from virtctl.cli.state import current
from virtctl.errors import APIError, ConnectionFailed, NotFound, VirtctlError
from virtctl.model import kinds, memorydump

app = new_app()

WAIT_INTERVAL = 2.0
WAIT_TOTAL = 600.0
FS_OVERHEAD_MSG = "Using default 5.5% filesystem overhead for pvc size"

EXAMPLE = """  #Dump memory of a virtual machine instance called 'myvm' to an existing pvc called 'memoryvolume'.
  {{ProgramName}} memory-dump get myvm --claim-name=memoryvolume

  #Create a PVC called 'memoryvolume' and dump the memory of a virtual machine instance called 'myvm' to it.
  {{ProgramName}} memory-dump get myvm --claim-name=memoryvolume --create-claim

  #Create and download memory dump to the given output file.
  {{ProgramName}} memory-dump get myvm --claim-name=memoryvolume --create-claim --output=memoryDump.dump.gz

  #Dump memory again to the same virtual machine with an already associated pvc(existing memory dump on vm status).
  {{ProgramName}} memory-dump get myvm

  #Download the last memory dump associated on the vm 'myvm' to the given output file.
  {{ProgramName}} memory-dump download myvm --output=memoryDump.dump.gz

  #Remove the association of the memory dump pvc (to be able to dump to another pvc).
  {{ProgramName}} memory-dump remove myvm
  """


def claim_object(name: str, namespace: str, size: int, storage_class: str, access_mode: str) -> dict[str, Any]:
    """The PVC Go virtctl creates for ``--create-claim``."""
    if access_mode == "ReadOnlyMany":
        raise VirtctlError("cannot dump memory to a readonly pvc, use either ReadWriteOnce or ReadWriteMany if "
                           "supported")
    if access_mode and access_mode not in ("ReadWriteOnce", "ReadWriteMany"):
        raise VirtctlError("invalid access mode, use either ReadWriteOnce or ReadWriteMany if supported")
    spec: dict[str, Any] = {"resources": {"requests": {"storage": str(size)}},
                            "accessModes": [access_mode or "ReadWriteOnce"]}
    if storage_class:
        spec["storageClassName"] = storage_class
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": namespace},
            "spec": spec}


def _fs_overhead(kv: Any) -> float:
    """CDI's global filesystem overhead; Go's default (with its message) without a CDIConfig."""
    try:
        cfg = kv.get(kinds.CDICONFIG, "config", None)
    except NotFound:
        sys.stdout.write(FS_OVERHEAD_MSG + "\n")
        return memorydump.FS_OVERHEAD
    try:
        return float(((cfg.get("status") or {}).get("filesystemOverhead") or {}).get("global")
                     or memorydump.FS_OVERHEAD)
    except ValueError:
        return memorydump.FS_OVERHEAD


def _create_claim(kv: Any, namespace: str, vm_name: str, claim: str, storage_class: str, access_mode: str) -> None:
    vm = kv.get(kinds.VM, vm_name, namespace)
    if (vm.get("status") or {}).get("memoryDumpRequest") is not None:
        raise VirtctlError("please remove current memory dump association before creating a new claim for a new "
                           "memory dump")
    try:
        kv.get(kinds.PVC, claim, namespace)
        raise VirtctlError(f"PVC {namespace}/{claim} already exists, check if it should be created if not remove "
                           "create flag")
    except NotFound:
        pass
    vmi = kv.get(kinds.VMI, vm_name, namespace)
    size = math.ceil(memorydump.expected_dump_size(vmi) / (1 - _fs_overhead(kv)))
    kv.create(kinds.PVC, claim_object(claim, namespace, size, storage_class, access_mode), namespace)
    sys.stdout.write(f"PVC {namespace}/{claim} created\n")


def _wait_completed(kv: Any, namespace: str, vm_name: str) -> str:
    deadline = time.monotonic() + WAIT_TOTAL
    while True:
        vm = kv.get(kinds.VM, vm_name, namespace)
        request = (vm.get("status") or {}).get("memoryDumpRequest")
        if request is not None:
            if request.get("phase") == memorydump.COMPLETED:
                sys.stdout.write("Memory dump completed successfully\n")
                return str(request.get("claimName") or "")
            if request.get("phase") == memorydump.FAILED:
                raise VirtctlError(f"memory dump failed: {request.get('message') or 'unknown error'}")
            # Go prints the claim name it has not read yet: an empty one
            sys.stdout.write(f"Waiting for memorydump  to complete, current phase: {request.get('phase')}...\n")
        if time.monotonic() + WAIT_INTERVAL > deadline:
            raise VirtctlError("timed out waiting for the condition")
        time.sleep(WAIT_INTERVAL)


def _download_dump(kv: Any, namespace: str, vm_name: str, output: str, fmt: str, port_forward: bool) -> None:
    if not output:
        raise VirtctlError("missing outputFile to download the memory dump")
    if port_forward:
        raise VirtctlError(PORT_FORWARD_REFUSED)
    claim = _wait_completed(kv, namespace, vm_name)
    if not claim:
        raise VirtctlError("claim name not on vm memory dump request")

    def say(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    export = Export(kv, namespace, f"export-{vm_name}-{claim}", say)
    download_volume(export, Options(pvc=claim, output=output, insecure=True, format="raw" if fmt == "raw" else ""),
              readiness=120.0, say=say)


@app.command("memory-dump", cls=CobraCommand, short_help="Dump the memory of a running VM to a pvc",
             epilog=EXAMPLE)
def memory_dump(args: list[str] = typer.Argument(None, metavar="get/download/remove (VM)", show_default=False),
                claim_name: str = typer.Option("", "--claim-name", help="pvc name to contain the memory dump",
                                               show_default=False),
                create_claim: bool = typer.Option(False, "--create-claim", help="Create the pvc that will conatin the "
                                                  "memory dump"),
                port_forward: bool = typer.Option(False, "--port-forward", help="Configure and set port-forward in a "
                                                  "random port to download the memory dump"),
                format: str = typer.Option("", "--format", help="Specifies the format of the memory dump download "
                                           "(gzipped or raw).", show_default=False),
                local_port: str = typer.Option("0", "--local-port", help="Specify port for port-forward"),
                storage_class: str = typer.Option("", "--storage-class", help="The storage class for the PVC.",
                                                  show_default=False),
                access_mode: str = typer.Option("", "--access-mode", help="The access mode for the PVC.",
                                                show_default=False),
                output: str = typer.Option("", "--output", help="Specifies the output path of the memory dump to be "
                                           "downloaded.", show_default=False)) -> None:
    action, vm_name = exact_args(args, 2)
    inv = current()
    kv = inv.client()
    ns = inv.namespace
    try:
        if action == "get":
            if create_claim:
                if not claim_name:
                    raise VirtctlError("missing claim name")
                _create_claim(kv, ns, vm_name, claim_name, storage_class, access_mode)
            try:
                kv.put_subresource(kinds.VM, ns, vm_name, "memorydump", {"claimName": claim_name})
            except (APIError, ConnectionFailed) as e:
                raise VirtctlError(f"error dumping vm memory, {go_error(e)}") from None
            sys.stdout.write(f"Successfully submitted memory dump request of VM {vm_name}\n")
            if output:
                _download_dump(kv, ns, vm_name, output, format, port_forward)
        elif action == "download":
            _download_dump(kv, ns, vm_name, output, format, port_forward)
        elif action == "remove":
            try:
                kv.put_subresource(kinds.VM, ns, vm_name, "removememorydump", None)
            except (APIError, ConnectionFailed) as e:
                raise VirtctlError(f"error removing memory dump association, {go_error(e)}") from None
            sys.stdout.write(f"Successfully submitted remove memory dump association of VM {vm_name}\n")
        else:
            raise VirtctlError(f"invalid action type {action}")
    except (APIError, ConnectionFailed) as e:
        raise VirtctlError(go_error(e)) from None
