"""The guest agent (qemu-ga on the ``org.qemu.guest_agent.0`` channel) in KubeVirt's shapes.

The agent's answers are converted by plain functions into what KubeVirt's subresources and VMI
status carry (docs/compatibility.md#guest-agent): ``VirtualMachineInstanceGuestAgentInfo``
(``guestosinfo``), ``VirtualMachineInstanceGuestOSUserList`` (``userlist``),
``VirtualMachineInstanceFileSystemList`` (``filesystemlist``), ``status.guestOSInfo`` and
``status.interfaces[]``. :class:`GuestAgent` asks the agent through an ``agent(domain, json) -> json``
callable (libvirt's ``qemuAgentCommand``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from virtctl.errors import VirtctlError

CONDITION = "AgentConnected"
NO_AGENT = "VMI does not have guest agent connected"
SOURCE_DOMAIN = "domain"
SOURCE_AGENT = "guest-agent"


class AgentUnavailable(VirtctlError):
    """No guest agent answers (none installed, not started yet, or the channel is closed)."""


# ---------------------------------------------------------------- conversions

def os_info(raw: dict[str, Any]) -> dict[str, str]:
    """``guest-get-osinfo`` → ``VirtualMachineInstanceGuestOSInfo``."""
    keys = {"name": "name", "kernelRelease": "kernel-release", "version": "version",
            "prettyName": "pretty-name", "versionId": "version-id", "kernelVersion": "kernel-version",
            "machine": "machine", "id": "id"}
    return {k: str(raw[a]) for k, a in keys.items() if raw.get(a) not in (None, "")}


def users(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``guest-get-users`` → ``VirtualMachineInstanceGuestOSUser`` items."""
    out = []
    for u in raw or []:
        item: dict[str, Any] = {"userName": str(u.get("user") or "")}
        if u.get("domain"):
            item["domain"] = str(u["domain"])
        if u.get("login-time") is not None:
            item["loginTime"] = float(u["login-time"])
        out.append(item)
    return out


def _fs_disks(disks: list[dict[str, Any]]) -> list[dict[str, str]]:
    keys = (("serial", "serial"), ("busType", "bus-type"))
    return [{k: str(d[a]) for k, a in keys if d.get(a)} for d in disks or []]


def filesystems(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``guest-get-fsinfo`` → ``VirtualMachineInstanceFileSystem`` items."""
    out = []
    for fs in raw or []:
        item: dict[str, Any] = {
            "diskName": str(fs.get("name") or ""), "mountPoint": str(fs.get("mountpoint") or ""),
            "fileSystemType": str(fs.get("type") or ""), "usedBytes": int(fs.get("used-bytes") or 0),
            "totalBytes": int(fs.get("total-bytes") or 0),
        }
        disks = _fs_disks(fs.get("disk") or [])
        if disks:
            item["disk"] = disks
        out.append(item)
    return out


def timezone(raw: dict[str, Any]) -> str:
    """``guest-get-timezone`` as KubeVirt prints it: ``<zone>, <offset seconds>``."""
    return f"{raw.get('zone') or ''}, {int(raw.get('offset') or 0)}"


def supported_commands(raw: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": str(c.get("name")), "enabled": bool(c.get("enabled"))}
            for c in raw.get("supported_commands") or [] if c.get("name")]


def guest_agent_info(info: dict[str, Any], osinfo: dict[str, Any], hostname: str, tz: dict[str, Any],
                     user_list: list[dict[str, Any]], fsinfo: list[dict[str, Any]],
                     freeze_status: str) -> dict[str, Any]:
    """The ``guestosinfo`` answer (``VirtualMachineInstanceGuestAgentInfo``)."""
    out: dict[str, Any] = {
        "guestAgentVersion": str(info.get("version") or ""),
        "supportedCommands": supported_commands(info),
        "hostname": hostname,
        "os": os_info(osinfo),
        "timezone": timezone(tz),
    }
    if user_list:
        out["userList"] = users(user_list)
    out["fsInfo"] = {"disks": filesystems(fsinfo)}
    if freeze_status:
        out["fsFreezeStatus"] = freeze_status
    return out


def item_list(items: list[dict[str, Any]]) -> dict[str, Any]:
    """``…List`` objects as virt-api returns them: ``{"metadata": {}, "items": [...]}``."""
    return {"metadata": {}, "items": items}


def _addresses(iface: dict[str, Any]) -> list[str]:
    return [str(a["ip-address"]) for a in iface.get("ip-addresses") or []
            if a.get("ip-address") and a.get("ip-address-type") in ("ipv4", "ipv6")
            and not str(a["ip-address"]).startswith("fe80:")]


def status_interfaces(nics: list[tuple[str, str]], agent_ifaces: list[dict[str, Any]] | None,
                      dhcp_ip: str) -> list[dict[str, Any]]:
    """``status.interfaces[]``: one entry per spec interface ``(name, mac)``; from the agent (matched
    by MAC, infoSource ``domain, guest-agent``) when it answered, else what the user-mode network
    handed out (``dhcp_ip`` on the first NIC, infoSource ``domain``). Agent interfaces with no
    spec interface (other than loopback) follow with infoSource ``guest-agent``."""
    by_mac = {str(i.get("hardware-address") or "").lower(): i for i in agent_ifaces or []}
    out: list[dict[str, Any]] = []
    used: set[str] = set()
    for n, (name, mac) in enumerate(nics):
        entry: dict[str, Any] = {"name": name, "mac": mac}
        agent = by_mac.get(mac.lower()) if agent_ifaces is not None else None
        if agent is not None:
            used.add(mac.lower())
            ips = _addresses(agent)
            if ips:
                entry["ipAddress"], entry["ipAddresses"] = ips[0], ips
            entry["interfaceName"] = str(agent.get("name") or "")
            entry["infoSource"] = f"{SOURCE_DOMAIN}, {SOURCE_AGENT}"
        else:
            if n == 0 and dhcp_ip:
                entry["ipAddress"], entry["ipAddresses"] = dhcp_ip, [dhcp_ip]
            entry["infoSource"] = SOURCE_DOMAIN
        entry["queueCount"] = 1
        out.append(entry)
    for i in agent_ifaces or []:
        mac = str(i.get("hardware-address") or "").lower()
        if mac in used or i.get("name") == "lo" or mac in ("", "00:00:00:00:00:00"):
            continue
        entry = {"mac": mac, "interfaceName": str(i.get("name") or ""), "infoSource": SOURCE_AGENT}
        ips = _addresses(i)
        if ips:
            entry["ipAddress"], entry["ipAddresses"] = ips[0], ips
        out.append(entry)
    return out


# ---------------------------------------------------------------- the agent

Agent = Callable[[str, str], str]          # (domain, JSON command) -> JSON answer


class GuestAgent:
    """Typed questions to one domain's agent; every method raises :class:`AgentUnavailable`."""

    def __init__(self, agent: Agent, domain: str):
        self._agent, self._domain = agent, domain

    def call(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        msg: dict[str, Any] = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        answer = self._agent(self._domain, json.dumps(msg))
        try:
            doc = json.loads(answer)
        except ValueError:
            raise AgentUnavailable(f"unreadable answer to {command}") from None
        if not isinstance(doc, dict) or "return" not in doc:
            raise AgentUnavailable(f"{command}: {doc.get('error') if isinstance(doc, dict) else doc}")
        return doc["return"]

    def _optional(self, command: str, default: Any) -> Any:
        try:
            return self.call(command)
        except AgentUnavailable:
            return default

    def info(self) -> dict[str, Any]:
        return dict(self.call("guest-info") or {})

    def os_info(self) -> dict[str, Any]:
        return dict(self.call("guest-get-osinfo") or {})

    def interfaces(self) -> list[dict[str, Any]]:
        return list(self.call("guest-network-get-interfaces") or [])

    def users(self) -> list[dict[str, Any]]:
        return list(self.call("guest-get-users") or [])

    def filesystems(self) -> list[dict[str, Any]]:
        return list(self.call("guest-get-fsinfo") or [])

    def guest_info(self) -> dict[str, Any]:
        """Everything ``guestosinfo`` shows."""
        info = self.info()
        host = self._optional("guest-get-host-name", {}) or {}
        return guest_agent_info(info, self.os_info(), str(host.get("host-name") or ""),
                                self._optional("guest-get-timezone", {}) or {},
                                self._optional("guest-get-users", []) or [],
                                self._optional("guest-get-fsinfo", []) or [],
                                str(self._optional("guest-fsfreeze-status", "") or ""))
