"""Access credentials with ``qemuGuestAgent`` propagation, written into the running guest as
virt-handler's access credential manager does (docs/standalone.md, "Access credentials"):

* ``sshPublicKey``: every key of the Secrets listed for a user (each value split into lines) set as
  that user's ``~/.ssh/authorized_keys`` with the agent's ``guest-ssh-add-authorized-keys``
  (``reset``: the file holds exactly these keys, as libvirt's ``AuthorizedSSHKeysSet`` with no flags);
  an agent without that command gets the file written through guest-exec and guest-file-write
  (virt-handler's deprecated flow, with its Warning event);
* ``userPassword``: each key of the Secret is a user, its value the password
  (``guest-set-user-password``).

Keyed by VMI; a VMI is looked at when it changes (it starts running, its agent connects) and when
a Secret it refers to changes. The result is the VMI's ``AccessCredentialsSynchronized`` condition
(reasons ``AccessCredentialsSyncSuccess`` / ``AccessCredentialsSyncFailed``); a failure is retried.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from virtctl.controller.reconcile.events import VIRT_HANDLER, Recorder
from virtctl.controller.reconcile.loop import KeyedLoop
from virtctl.controller.reconcile.vmi import Requeue
from virtctl.controller.storage import configsources
from virtctl.controller.store.protocol import Object, Store
from virtctl.controller.virt import guest_agent as ga
from virtctl.controller.virt.hypervisor import Hypervisor, domain_name
from virtctl.errors import NotFound, VirtctlError
from virtctl.model import kinds
from virtctl.model import status as st

log = logging.getLogger(__name__)

CONDITION = "AccessCredentialsSynchronized"
SUCCESS, FAILED = "AccessCredentialsSyncSuccess", "AccessCredentialsSyncFailed"
RETRY_SECONDS = 5.0
AGENT_TIMEOUT = 5
Key = tuple[str, str]


def _meta(obj: Object) -> dict:
    return obj.get("metadata") or {}


def agent_credentials(vmi: Object, secret_data: dict[str, dict[str, bytes]]) -> tuple[dict[str, list[str]],
                                                                                      dict[str, str]]:
    """({user: authorized keys}, {user: password}) of the VMI's qemuGuestAgent credentials, from
    ``secret_data`` (Secret name → decoded data)."""
    keys: dict[str, list[str]] = {}
    passwords: dict[str, str] = {}
    for cred in (vmi.get("spec") or {}).get("accessCredentials") or []:
        if not isinstance(cred, dict):
            continue
        ssh = cred.get("sshPublicKey") or {}
        agent = (ssh.get("propagationMethod") or {}).get("qemuGuestAgent")
        name = ((ssh.get("source") or {}).get("secret") or {}).get("secretName")
        if ssh and agent is not None and name:
            found = [line.strip() for _, v in sorted(secret_data.get(name, {}).items())
                     for line in v.decode(errors="replace").split("\n") if line.strip()]
            for user in agent.get("users") or []:
                keys.setdefault(str(user), []).extend(found)
        pw = cred.get("userPassword") or {}
        name = ((pw.get("source") or {}).get("secret") or {}).get("secretName")
        if pw and (pw.get("propagationMethod") or {}).get("qemuGuestAgent") is not None and name:
            for user, value in sorted(secret_data.get(name, {}).items()):
                password = value.decode(errors="replace").strip()
                if password:
                    passwords[user] = password
    return keys, passwords


def uses_agent(vmi: Object) -> bool:
    return any(isinstance(c, dict) and any(((c.get(k) or {}).get("propagationMethod") or {}).get("qemuGuestAgent")
                                           is not None for k in ("sshPublicKey", "userPassword"))
               for c in (vmi.get("spec") or {}).get("accessCredentials") or [])


# ---------------------------------------------------------------- the file-write fallback
# For agents older than qemu-ga 5.2 (no guest-ssh-add-authorized-keys), virt-handler writes
# ~/.ssh/authorized_keys itself: the user's home from ``getent passwd``, the directory made with
# mkdir/chown/chmod through guest-exec, the file through guest-file-open/write/close.

EXEC_TIMEOUT = 10.0


def guest_exec(agent: ga.GuestAgent, command: str, args: list[str], timeout: float = EXEC_TIMEOUT) -> str:
    """Run a program in the guest through the agent; its stdout, or an error with its exit code."""
    pid = agent.call("guest-exec", {"path": command, "arg": args, "capture-output": True})["pid"]
    deadline = time.monotonic() + timeout
    while True:
        st_ = agent.call("guest-exec-status", {"pid": pid})
        if st_.get("exited"):
            break
        if time.monotonic() > deadline:
            raise VirtctlError(f"{command} did not finish in the guest within {timeout:.0f}s")
        time.sleep(0.05)
    out = base64.b64decode(st_.get("out-data") or "").decode(errors="replace")
    if st_.get("exitcode"):
        err = base64.b64decode(st_.get("err-data") or "").decode(errors="replace").strip()
        raise VirtctlError(f"{command} {' '.join(args)} exited with {st_.get('exitcode')}: {err}")
    return out


def passwd_entry(text: str, user: str) -> list[str] | None:
    """The fields of ``user``'s line in passwd(5) text."""
    for line in text.splitlines():
        fields = line.strip().split(":")
        if len(fields) >= 6 and fields[0] == user:
            return fields
    return None


def user_info(agent: ga.GuestAgent, user: str) -> tuple[str, str, str]:
    """(home, uid, gid) of ``user`` from ``getent passwd``; a guest without getent (busybox) has its
    /etc/passwd read instead."""
    try:
        entry = passwd_entry(guest_exec(agent, "getent", ["passwd", user]), user)
    except VirtctlError as e:
        try:
            entry = passwd_entry(_read_guest_file(agent, "/etc/passwd") or "", user)
        except VirtctlError:
            raise VirtctlError(f"unable to detect home directory of user {user}: {e}") from None
    if entry is None:
        raise VirtctlError(f"unable to detect home directory of user {user}")
    return entry[5], entry[2], entry[3]


def _read_guest_file(agent: ga.GuestAgent, path: str) -> str | None:
    try:
        handle = agent.call("guest-file-open", {"path": path, "mode": "r"})
    except VirtctlError as e:
        if "No such file or directory" in str(e):
            return None
        raise
    try:
        got = agent.call("guest-file-read", {"handle": handle, "count": 1 << 20})
        return base64.b64decode(got.get("buf-b64") or "").decode(errors="replace")
    finally:
        agent.call("guest-file-close", {"handle": handle})


def write_authorized_keys_file(agent: ga.GuestAgent, user: str, keys: list[str]) -> bool:
    """``~<user>/.ssh/authorized_keys`` holds exactly ``keys`` (written only when it differs);
    True when it was written."""
    home, uid, gid = user_info(agent, user)
    path, owner, wanted = f"{home}/.ssh/authorized_keys", f"{uid}:{gid}", "\n".join(keys)
    current = _read_guest_file(agent, path)
    if current == wanted:
        return False
    guest_exec(agent, "mkdir", ["-p", f"{home}/.ssh"])
    for target, mode in ((f"{home}/.ssh", "700"),):
        guest_exec(agent, "chown", [owner, target])
        guest_exec(agent, "chmod", [mode, target])
    handle = agent.call("guest-file-open", {"path": path, "mode": "w"})
    try:
        agent.call("guest-file-write", {"handle": handle, "buf-b64": base64.b64encode(wanted.encode()).decode()})
    finally:
        agent.call("guest-file-close", {"handle": handle})
    guest_exec(agent, "chown", [owner, path])
    guest_exec(agent, "chmod", ["600", path])
    return True


def set_authorized_keys(agent: ga.GuestAgent, user: str, keys: list[str]) -> bool:
    """The user's authorized keys are exactly ``keys``: ``guest-ssh-add-authorized-keys`` with reset,
    else the file written directly (virt-handler's deprecated flow). True when the fallback was used."""
    try:
        agent.call("guest-ssh-add-authorized-keys", {"username": user, "keys": keys, "reset": True})
        return False
    except VirtctlError as first:
        try:
            write_authorized_keys_file(agent, user, keys)
        except VirtctlError as second:
            raise VirtctlError(f"failed to set SSH keys: error from guest-ssh-add-authorized-keys: {first}; error "
                               f"from using guest-file-write: {second}") from None
        return True


class CredentialsPropagator:
    def __init__(self, store: Store, hosts: Sequence[Hypervisor]):
        self.store = store
        self.hosts = list(hosts)
        self.loop: KeyedLoop[Key] = KeyedLoop("access-credentials", self.reconcile)
        self.events = Recorder(store, VIRT_HANDLER)
        self._lock = threading.Lock()
        self._applied: dict[str, str] = {}          # vmi uid -> digest of what the guest has

    def start(self) -> None:
        self.store.subscribe(self.on_store_event)
        for vmi in self.store.list(kinds.VMI)[0]:
            if uses_agent(vmi):
                self.loop.add((_meta(vmi).get("namespace") or "", _meta(vmi).get("name") or ""))
        self.loop.start()

    def stop(self) -> None:
        self.loop.stop()

    def on_store_event(self, event_type: str, kind: kinds.Kind, obj: Object) -> None:
        ns = _meta(obj).get("namespace") or ""
        if kind is kinds.VMI and uses_agent(obj):
            self.loop.add((ns, _meta(obj).get("name") or ""))
        elif kind is kinds.SECRET:
            vmis, _ = self.store.list(kinds.VMI, ns)
            for name in configsources.referencing(vmis, "Secret", _meta(obj).get("name") or ""):
                self.loop.add((ns, name))

    def reconcile(self, key: Key) -> None:
        ns, name = key
        try:
            vmi = self.store.get(kinds.VMI, ns, name)
        except NotFound:
            return
        uid = str(_meta(vmi).get("uid") or "")
        connected = any(c.get("type") == ga.CONDITION and str(c.get("status")) == "True"
                        for c in (vmi.get("status") or {}).get("conditions") or [])
        if st.phase(vmi) != st.RUNNING or not connected or not uses_agent(vmi):
            with self._lock:
                self._applied.pop(uid, None)          # a reconnecting agent gets everything again
            return
        data: dict[str, dict[str, bytes]] = {}
        for kind_name, secret in configsources.references(vmi):
            if kind_name != "Secret":
                continue
            try:
                data[secret] = configsources.secret_values(self.store.get(kinds.SECRET, ns, secret))
            except NotFound:
                self._report(vmi, False, f'secret "{secret}" not found')
                raise Requeue(RETRY_SECONDS) from None
        keys, passwords = agent_credentials(vmi, data)
        digest = hashlib.sha256(json.dumps([keys, passwords], sort_keys=True).encode()).hexdigest()
        with self._lock:
            if self._applied.get(uid) == digest:
                return
        host = next((h for h in self.hosts if h.node_name == (vmi.get("status") or {}).get("nodeName")), None)
        if host is None:
            return
        agent = ga.GuestAgent(lambda d, c: host.agent_command(d, c, AGENT_TIMEOUT), domain_name(ns, name))
        try:
            deprecated = False
            for user, authorized in sorted(keys.items()):
                try:
                    deprecated = set_authorized_keys(agent, user, authorized) or deprecated
                except VirtctlError as e:
                    raise VirtctlError(f"Error encountered writing ssh pub key access credentials for user "
                                       f"[{user}]: {e}") from None
            for user, password in sorted(passwords.items()):
                try:
                    agent.call("guest-set-user-password", {"username": user, "crypted": False,
                                                           "password": base64.b64encode(password.encode()).decode()})
                except VirtctlError as e:
                    raise VirtctlError(f"Error encountered setting password for user [{user}]: {e}") from None
        except VirtctlError as e:
            self._report(vmi, False, e.message)
            raise Requeue(RETRY_SECONDS) from None
        with self._lock:
            self._applied[uid] = digest
        self._report(vmi, True, "")
        if deprecated:
            self.events.warning(vmi, SUCCESS, "Used deprecated method to set SSH keys. It will be removed in a future "
                                "release. Update qemu guest agent to 5.2 or newer to keep SSH key injection working.")
        log.info("access credentials of %s/%s written through the guest agent (%d users)", ns, name,
                 len(set(keys) | set(passwords)))

    def _report(self, vmi: Object, ok: bool, message: str) -> None:
        uid = _meta(vmi).get("uid")

        def change(obj: dict[str, Any]) -> Any:
            if _meta(obj).get("uid") != uid:
                return False
            s = obj.setdefault("status", {})
            before = json.dumps([c for c in s.get("conditions") or [] if c.get("type") == CONDITION])
            st.set_condition(s, CONDITION, "True" if ok else "False", SUCCESS if ok else FAILED, message)
            after = [c for c in s.get("conditions") or [] if c.get("type") == CONDITION]
            if json.dumps([{k: v for k, v in c.items() if "Time" not in k} for c in after]) == \
                    json.dumps([{k: v for k, v in c.items() if "Time" not in k} for c in json.loads(before)]):
                return False
            return None

        if not ok:
            log.warning("access credentials of %s/%s: %s", _meta(vmi).get("namespace"), _meta(vmi).get("name"),
                        message)
        try:
            self.store.mutate(kinds.VMI, _meta(vmi).get("namespace"), _meta(vmi).get("name") or "", change,
                              subresource="status")
        except VirtctlError:
            pass
