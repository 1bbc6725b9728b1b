"""Host forwards: the HMP commands and the parsing of QEMU 7.2's answers (recorded from a real guest)."""

from __future__ import annotations

import pytest

from virtctl.controller.virt import hostfwd
from virtctl.controller.virt.hostfwd import Forward, HostForwards
from virtctl.errors import InternalError

USERNET = """Hub -1 (hostua-default):
  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ
  TCP[SYN_SENT]      85       127.0.0.1 23457       10.0.2.15    81     0     0
  TCP[ESTABLISHED]   84       127.0.0.1 23456       10.0.2.15    80     0     0
  TCP[HOST_FORWARD]  83       127.0.0.1 23456       10.0.2.15    80     0     0
  UDP[HOST_FORWARD]  86       127.0.0.1 23458       10.0.2.15  5555     0     0
"""


def test_commands_are_loopback_only():
    fwd = Forward("tcp", 23456, 80)
    assert hostfwd.add_command("hostua-default", fwd) == "hostfwd_add hostua-default tcp:127.0.0.1:23456-:80"
    assert hostfwd.remove_command("hostua-default", "udp", 23458) == "hostfwd_remove hostua-default udp:127.0.0.1:23458"
    assert hostfwd.netdev_id("ua-default") == "hostua-default"


@pytest.mark.parametrize("bad", [Forward("sctp", 1, 2), Forward("tcp", 0, 80), Forward("tcp", 80, 65536)])
def test_commands_refuse_bad_values(bad):
    with pytest.raises(ValueError):
        hostfwd.add_command("hostua-default", bad)


def test_parse_usernet_lists_forwards_only():
    assert hostfwd.parse_usernet(USERNET) == [Forward("tcp", 23456, 80), Forward("udp", 23458, 5555)]
    assert hostfwd.parse_usernet("Hub -1 (hostua-default):\n  Protocol[State] FD\n") == []


def test_connection_state():
    assert hostfwd.connection_state(USERNET, 23456) == "ESTABLISHED"
    assert hostfwd.connection_state(USERNET, 23457) == "SYN_SENT"
    assert hostfwd.connection_state(USERNET, 23458) is None      # only a forward: no connection


def test_answers():
    assert hostfwd.add_failed("") == ""
    assert hostfwd.add_failed("Could not set up host forwarding rule 'tcp:127.0.0.1:1-:2'\r\n").startswith("Could not")
    assert hostfwd.remove_failed("host forwarding rule for tcp:127.0.0.1:23456 removed\r\n") == ""
    assert hostfwd.remove_failed("host forwarding rule for tcp:127.0.0.1:23456 not found\r\n") != ""


class FakeQemu:
    """A monitor that behaves like QEMU's for these commands: a port can be forwarded once."""

    def __init__(self, taken: set[int]):
        self.taken = set(taken)
        self.calls: list[str] = []

    def __call__(self, domain: str, command: str) -> str:
        self.calls.append(command)
        words = command.split()
        port = int(words[2].split(":")[2].split("-")[0])
        if words[0] == "hostfwd_add":
            if port in self.taken:
                return f"Could not set up host forwarding rule '{words[2]}'\r\n"
            self.taken.add(port)
            return ""
        if port in self.taken:
            self.taken.discard(port)
            return f"host forwarding rule for {words[2]} removed\r\n"
        return f"host forwarding rule for {words[2]} not found\r\n"


def test_add_retries_a_port_taken_meanwhile_and_remove():
    qemu = FakeQemu({40000})
    picks = iter([40000, 40001])
    fw = HostForwards(qemu, pick_port=lambda proto: next(picks))
    fwd = fw.add("d", "hostua-default", "tcp", 22)
    assert fwd == Forward("tcp", 40001, 22)
    assert fw.remove("d", "hostua-default", fwd) is True
    assert fw.remove("d", "hostua-default", fwd) is False


def test_add_with_a_fixed_port_in_use_fails_with_the_reason():
    fw = HostForwards(FakeQemu({2222}))
    with pytest.raises(InternalError, match="127.0.0.1:2222 .*Could not set up host forwarding rule"):
        fw.add("d", "hostua-default", "tcp", 22, host_port=2222)


def test_spec_ports_map_like_the_converter():
    vmi = {"spec": {"domain": {"devices": {"interfaces": [
        {"name": "default", "masquerade": {}, "ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]},
        {"name": "other", "masquerade": {}},
        {"name": "p", "passt": {}, "ports": [{"port": 22}]}]}}}}
    [nic] = hostfwd.spec_ports(vmi)                    # passt forwards its own; no ports: nothing
    assert (nic.index, nic.alias) == (0, "ua-default")
    assert [(p.protocol, p.port, p.host_port) for p in nic.ports] == [("tcp", 80, 80), ("udp", 53, 53)]
