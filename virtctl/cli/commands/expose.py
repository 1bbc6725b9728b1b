"""``expose (TYPE NAME)``: create a Service for a VMI, VM or VMI replica set, with Go virtctl's flags,
messages and Service body (selector ``vmi.kubevirt.io/id`` for a VM/VMI, the replica set's
matchLabels; a controller owner reference; ports from ``--port`` or the pod network interface).
In standalone mode a NodePort/LoadBalancer Service is published on 127.0.0.1:<nodePort>
(docs/standalone.md, "Services")."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from virtctl.cli.args import exact_args
from virtctl.cli.go_errors import go_error
from virtctl.cli.lazy import CobraCommand, new_app
from virtctl.cli.ops.create import int_flag
from virtctl.cli.state import current
from virtctl.errors import APIError, ConnectionFailed, UsageError, VirtctlError
from virtctl.model import kinds
from virtctl.model import services as svcmodel

app = new_app()

VMIRS = kinds.Kind(kinds.KUBEVIRT, "v1", "VirtualMachineInstanceReplicaSet", "virtualmachineinstancereplicasets",
                   "virtualmachineinstancereplicaset", ("vmirs", "vmirss"))

LONG = """Looks up a virtual machine instance, virtual machine or virtual machine instance replica set by name and use its selector as the selector for a new service on the specified port.
A virtual machine instance replica set will be exposed as a service only if its selector is convertible to a selector that service supports, i.e. when the selector contains only the matchLabels component.
Note that if no port is specified via --port and the exposed resource has multiple ports, all will be re-used by the new service.
Also if no labels are specified, the new service will re-use the labels from the resource it exposes.

Possible types are (case insensitive, both single and plurant forms):

virtualmachineinstance (vmi), virtualmachine (vm), virtualmachineinstancereplicaset (vmirs)"""  # noqa: E501

EXAMPLE = """  # Expose SSH to a virtual machine instance called 'myvm' on each node via a NodePort service:
  {{ProgramName}} expose vmi myvm --port=22 --name=myvm-ssh --type=NodePort

  # Expose all defined pod-network ports of a virtual machine instance replicaset on a service:
  {{ProgramName}} expose vmirs myvmirs --name=vmirs-service

  # Expose port 8080 as port 80 from a virtual machine instance replicaset on a service:
  {{ProgramName}} expose vmirs myvmirs --port=80 --target-port=8080 --name=vmirs-service"""

_FETCH = {"vmi": kinds.VMI, "vm": kinds.VM, "vmirs": VMIRS}


def expose(args: list[str] | None, name: Optional[str], cluster_ip: str, external_ip: str, port: str, protocol: str,
           target_port: str, service_type: str, port_name: str, ip_family: str, ip_family_policy: str) -> None:
    type_word, obj_name = exact_args(args, 2)
    if name is None:
        raise UsageError('required flag(s) "name" not set')
    port_number = int_flag("port", port, bits=32)
    word_typed = type_word.lower()
    try:
        proto = svcmodel.convert_choice(protocol, ("TCP", "UDP"), "protocol")
        stype = service_type
        if stype.lower() == "externalname":
            raise ValueError(f"type: {service_type} not supported")
        stype = svcmodel.convert_choice(stype, ("ClusterIP", "NodePort", "LoadBalancer"), "service type")
        families = svcmodel.ip_families(ip_family)
        policy = svcmodel.ip_family_policy(ip_family_policy, families)
    except ValueError as e:
        raise VirtctlError(str(e)) from None
    inv = current()
    kv = inv.client()
    word = svcmodel.EXPOSE_TYPES.get(word_typed)
    if word is None:
        raise VirtctlError(f"unsupported resource type: {word_typed}")
    what, kind = svcmodel.EXPOSE_KIND_NAMES[word], _FETCH[word]
    try:
        obj = kv.get(kind, obj_name)
    except (APIError, ConnectionFailed) as e:
        raise VirtctlError(f"error fetching {what}: {go_error(e)}") from None
    service = svcmodel.build_service(word, obj, name=name, namespace=inv.namespace, port=port_number, protocol=proto,
                                     target_port=svcmodel.target_port(target_port), service_type=stype,
                                     port_name=port_name, cluster_ip=cluster_ip, external_ip=external_ip,
                                     families=families, family_policy=policy)
    try:
        kv.create(kinds.SERVICE, service)
    except (APIError, ConnectionFailed) as e:
        raise VirtctlError(f"service creation failed: {go_error(e)}") from None
    sys.stdout.write(f"Service {name} successfully created for {word_typed} {obj_name}\n")


@app.command("expose", cls=CobraCommand,
             short_help="Expose a virtual machine instance, virtual machine, or virtual machine instance replica set "
                        "as a new service.",
             help=LONG, epilog=EXAMPLE)
def expose_command(
        args: Optional[list[str]] = typer.Argument(None, metavar="(TYPE NAME)"),
        name: Optional[str] = typer.Option(None, "--name", help="Name of the service created for the exposure of "
                                           "the VM.", show_default=False),
        cluster_ip: str = typer.Option("", "--cluster-ip", help="ClusterIP to be assigned to the service. Leave empty "
                                       "to auto-allocate, or set to 'None' to create a headless service."),
        external_ip: str = typer.Option("", "--external-ip", help="Additional external IP address (not managed by "
                                        "the cluster) to accept for the service. If this IP is routed to a node, the "
                                        "service can be accessed by this IP in addition to its generated service IP. "
                                        "Optional."),
        port: str = typer.Option("0", "--port", metavar="int32", show_default=False,
                                help="The port that the service should serve on."),
        protocol: str = typer.Option("TCP", "--protocol", help="The network protocol for the service to be created."),
        target_port: str = typer.Option("", "--target-port", help="Name or number for the port on the VM that the "
                                        "service should direct traffic to. Optional."),
        service_type: str = typer.Option("ClusterIP", "--type", help="Type for this service: ClusterIP, NodePort, or "
                                         "LoadBalancer."),
        port_name: str = typer.Option("", "--port-name", help="Name of the port. Optional."),
        ip_family: str = typer.Option("", "--ip-family", help="IP family over which the service will be exposed. "
                                      "Valid values are 'IPv4', 'IPv6', 'IPv4,IPv6' or 'IPv6,IPv4'"),
        ip_family_policy: str = typer.Option("", "--ip-family-policy", help="IP family policy defines whether the "
                                             "service can use IPv4, IPv6, or both. Valid values are 'SingleStack', "
                                             "'PreferDualStack' or 'RequireDualStack'"),
) -> None:
    expose(args, name, cluster_ip, external_ip, port, protocol, target_port, service_type, port_name, ip_family,
           ip_family_policy)
