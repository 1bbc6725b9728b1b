"""port-forward / ssh / scp argument parsing and command lines, with Go virtctl's messages."""

from __future__ import annotations

import pytest

from virtctl.cli.ssh_args import build_scp_argv, build_ssh_argv, parse_scp_locations, parse_ssh_target
from virtctl.errors import VirtctlError
from virtctl.streams.portforward import PortSpec, Target, parse_port, parse_target


@pytest.mark.parametrize("arg, want", [
    ("vm/a", Target("vm", "a", "")), ("VMI/a/ns", Target("vmi", "a", "ns")),
    ("virtualmachineinstances/a", Target("vmi", "a", "")), ("vms/a", Target("vm", "a", "")),
])
def test_targets(arg, want):
    assert parse_target(arg) == want


@pytest.mark.parametrize("arg, message", [
    ("", "target cannot be empty"), ("vm", "target must contain type and name separated by '/'"),
    ("vm/a/", "namespace cannot be empty"), ("vm/a/b/c", "target is not valid with more than two '/'"),
    ("vm//ns", "name cannot be empty"), ("pod/a", "unsupported resource type 'pod'"),
])
def test_target_errors(arg, message):
    with pytest.raises(VirtctlError) as e:
        parse_target(arg)
    assert e.value.message == message


def test_ports():
    assert parse_port("8080") == PortSpec("tcp", 8080, 8080)
    assert parse_port("8080:80") == PortSpec("tcp", 8080, 80)
    assert parse_port("udp/5353:53") == PortSpec("udp", 5353, 53)
    assert parse_port("0:22") == PortSpec("tcp", 0, 22)          # a local port picked by the system


@pytest.mark.parametrize("arg, message", [
    ("sctp/80", "unknown protocol: sctp"), ("TCP/80", "unknown protocol: TCP"),
    ("x", 'strconv.Atoi: parsing "x": invalid syntax'), ("80:y", 'strconv.Atoi: parsing "y": invalid syntax'),
    (":", "invalid port, missing local and/or remote port"), ("99999", "port 99999 out of range"),
])
def test_port_errors(arg, message):
    with pytest.raises(VirtctlError) as e:
        parse_port(arg)
    assert e.value.message == message


def test_ssh_target_and_argv():
    assert parse_ssh_target("root@vm/a/ns")[0] == "root"
    with pytest.raises(VirtctlError, match="expected username before '@'"):
        parse_ssh_target("@vm/a")
    with pytest.raises(VirtctlError, match="expected target after '@'"):
        parse_ssh_target("root@")
    argv = build_ssh_argv(["virtctl"], "vm", "a", "ns", "root", 22, ["-o StrictHostKeyChecking=no"], "/k", "true")
    assert argv == ["ssh", "-o", "ProxyCommand=virtctl port-forward --stdio=true vm/a/ns 22",
                    "-o StrictHostKeyChecking=no", "-i", "/k", "root@vm.a.ns", "true"]
    assert build_ssh_argv(["virtctl"], "vmi", "a", "ns", "", 2222, [], "", "")[-1] == "vmi.a.ns"


def test_scp_locations_and_argv():
    remote, local, up = parse_scp_locations("f.txt", "root@vm/a:/tmp/f.txt")
    assert up and local == "f.txt" and remote.path == "/tmp/f.txt"
    argv = build_scp_argv(["virtctl"], remote, "default", local, up, 22, [], "", True, True)
    assert argv == ["scp", "-o", "ProxyCommand=virtctl port-forward --stdio=true vm/a/default 22", "-r", "-p",
                    "f.txt", "root@vm.a.default:/tmp/f.txt"]
    with pytest.raises(VirtctlError, match='copying from a remote location to another remote location is not '
                                           'supported: "vm/a:x" to "vm/b:y"'):
        parse_scp_locations("vm/a:x", "vm/b:y")
    with pytest.raises(VirtctlError, match='none of the two provided locations seems to be a remote location'):
        parse_scp_locations("a", "b")
