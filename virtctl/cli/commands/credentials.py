"""``credentials add-ssh-key|remove-ssh-key|set-password VM``: the Secrets behind a VM's
``accessCredentials`` (qemuGuestAgent propagation), with Go virtctl's flags, JSON patches and
messages (docs/compatibility.md). The controller writes the keys and passwords into the running
guest through its agent (docs/standalone.md, "Access credentials")."""

from __future__ import annotations

import base64
import secrets
import sys
from typing import Any, Optional

import typer

from virtctl.cli.args import exact_args
from virtctl.cli.go_errors import go_error
from virtctl.cli.lazy import Params, add_command, new_group
from virtctl.cli.state import current
from virtctl.errors import APIError, ConnectionFailed, NotFound, UsageError, VirtctlError
from virtctl.model import kinds

app, credentials_app = new_group("credentials", help="Manipulate credentials on a virtual machine.",
                                 short_help="Manipulate credentials on a virtual machine.")

RAND_CHARS = "bcdfghjklmnpqrstvwxz2456789"        # k8s.io/apimachinery/pkg/util/rand
USER_HELP = "Name of the user."
SECRET_HELP = "Name of the secret with SSH keys."
FORCE_HELP = "Force update of secret, even if it's not owned by the VM."


def random_with_prefix(prefix: str) -> str:
    return prefix + "".join(secrets.choice(RAND_CHARS) for _ in range(6))


def ssh_secrets_for_user(vm: dict[str, Any], user: str) -> list[str]:
    """Secrets of the VM's qemuGuestAgent sshPublicKey credentials that list ``user``."""
    out = []
    for cred in _credentials(vm):
        ssh = cred.get("sshPublicKey") or {}
        name = ((ssh.get("source") or {}).get("secret") or {}).get("secretName")
        agent = (ssh.get("propagationMethod") or {}).get("qemuGuestAgent")
        if name and agent is not None and user in (agent.get("users") or []):
            out.append(str(name))
    return out


def password_secrets(vm: dict[str, Any]) -> list[str]:
    out = []
    for cred in _credentials(vm):
        pw = cred.get("userPassword") or {}
        name = ((pw.get("source") or {}).get("secret") or {}).get("secretName")
        if name and (pw.get("propagationMethod") or {}).get("qemuGuestAgent") is not None:
            out.append(str(name))
    return out


def _credentials(vm: dict[str, Any]) -> list[dict[str, Any]]:
    spec = ((vm.get("spec") or {}).get("template") or {}).get("spec") or {}
    return [c for c in spec.get("accessCredentials") or [] if isinstance(c, dict)]


def find_secret_or_first(name: str, names: list[str]) -> str:
    if not name:
        if len(names) > 1:
            raise VirtctlError("multiple secrets specified, use option --secret to specify which secret to modify")
        return names[0]
    if name in names:
        return name
    raise VirtctlError(f"secret {name} was not assigned")


def owned_by(obj: dict[str, Any], vm: dict[str, Any]) -> bool:
    meta = vm.get("metadata") or {}
    return any(o.get("kind") == "VirtualMachine" and o.get("name") == meta.get("name") and o.get("uid") == meta.get("uid")
               for o in (obj.get("metadata") or {}).get("ownerReferences") or [])


def line_contains_key(line: str, key: str) -> bool:
    return line.strip().startswith(key)


def secret_contains_key(data: dict[str, str], key: str) -> bool:
    return any(line_contains_key(line, key) for v in data.values() for line in _decode(v).split("\n"))


def remove_key(key: str, value: str) -> str:
    return "\n".join(line for line in value.split("\n") if not line_contains_key(line, key) and line.strip())


def _decode(v: Any) -> str:
    try:
        return base64.b64decode(str(v)).decode(errors="replace")
    except ValueError:
        return ""


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _ssh_key(file: str, value: str) -> str:
    if value:
        return value
    if not file:
        raise VirtctlError("error getting ssh key: one of --file, or --value must be specified")
    try:
        with open(file, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()
    except OSError as e:
        raise VirtctlError(f"error getting ssh key: open {file}: {e.strerror.lower() if e.strerror else e}") from None


def _check_flags(user: Optional[str], changed: frozenset[str], exclusive: tuple[str, ...] = ()) -> str:
    """``--user`` given, and at most one flag of each mutually exclusive group (cobra's wording)."""
    from virtctl.model.vm_builder import check_exclusive

    if user is None:
        raise UsageError('required flag(s) "user" not set')
    check_exclusive((("file", "value"), exclusive), {c.replace("_", "-") for c in changed})
    return user


def _client() -> Any:
    return current().client()


def _get_vm(kv: Any, name: str) -> dict[str, Any]:
    try:
        return dict(kv.get(kinds.VM, name))
    except (APIError, ConnectionFailed) as e:
        raise VirtctlError(f"error getting virtual machine: {go_error(e)}") from None


def _patch_secret_data(kv: Any, secret_name: str, key: str, value: str) -> None:
    """Add ``data/<key>``; when ``data`` is missing, a patch that adds it first (Go's second try)."""
    try:
        kv.patch(kinds.SECRET, secret_name, [{"op": "add", "path": f"/data/{key}", "value": _b64(value)}],
                 patch_type="json")
        return
    except APIError:
        pass
    try:
        kv.patch(kinds.SECRET, secret_name, [{"op": "test", "path": "/data", "value": None},
                                             {"op": "add", "path": "/data", "value": {}},
                                             {"op": "add", "path": f"/data/{key}", "value": _b64(value)}],
                 patch_type="json")
    except (APIError, ConnectionFailed) as e:
        raise VirtctlError(f'error patching secret "{secret_name}": {go_error(e)}') from None


def add_ssh_key(args: list[str] | None, user: Optional[str], secret: str, file: str, value: str, create_secret: bool,
                update_secret: bool, force: bool, changed: frozenset[str]) -> None:
    vm_name = exact_args(args, 1)[0]
    user = _check_flags(user, changed, ("create-secret", "update-secret"))
    kv = _client()
    key = _ssh_key(file, value)
    vm = _get_vm(kv, vm_name)
    existing = ssh_secrets_for_user(vm, user)
    if create_secret or (not update_secret and not existing):
        _add_secret_with_key(kv, vm, user, key, force)
        return
    if not existing:
        raise VirtctlError(f"no secrets specified for user: {user}")
    name = find_secret_or_first(secret, existing)
    try:
        obj = kv.get(kinds.SECRET, name)
    except (APIError, ConnectionFailed) as e:
        raise VirtctlError(f'error getting secret "{name}": {go_error(e)}') from None
    if secret_contains_key(obj.get("data") or {}, key):
        sys.stdout.write(f'Secret "{name}" already contains this SSH key.')
        return
    if not force and not owned_by(obj, vm):
        raise VirtctlError(f"secret {name} does not have an owner reference pointing to VM {vm_name}")
    _patch_secret_data(kv, name, random_with_prefix("ssh-key-"), key)
    sys.stdout.write(f'Successfully added the key to secret "{name}"')


def _add_secret_with_key(kv: Any, vm: dict[str, Any], user: str, key: str, force: bool) -> None:
    meta = vm.get("metadata") or {}
    name = str(meta.get("name"))
    if not force:
        try:
            kv.get(kinds.VMI, name)
            raise VirtctlError(f"virtual machine {name} is running. Use --force flag to update a running VM, it will "
                               "take effect after restart")
        except NotFound:
            pass
        except (APIError, ConnectionFailed) as e:
            raise VirtctlError(f"error when getting virtual machine instance: {go_error(e)}") from None
    body = {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"generateName": f"{name}-ssh-key-", "namespace": meta.get("namespace"),
                         "ownerReferences": [{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "name": name,
                                              "uid": meta.get("uid"), "controller": True}]},
            "data": {random_with_prefix("ssh-key-"): _b64(key)}}
    try:
        created = kv.create(kinds.SECRET, body)
    except (APIError, ConnectionFailed) as e:
        raise VirtctlError(f"error creating secret: {go_error(e)}") from None
    cred = {"sshPublicKey": {"source": {"secret": {"secretName": created["metadata"]["name"]}},
                             "propagationMethod": {"qemuGuestAgent": {"users": [user]}}}}
    path = "/spec/template/spec/accessCredentials"
    try:
        kv.patch(kinds.VM, name, [{"op": "add", "path": f"{path}/-", "value": cred}], patch_type="json")
        return
    except APIError:
        pass
    try:
        kv.patch(kinds.VM, name, [{"op": "test", "path": path, "value": None}, {"op": "add", "path": path, "value": []},
                                  {"op": "add", "path": f"{path}/-", "value": cred}], patch_type="json")
    except (APIError, ConnectionFailed) as e:
        raise VirtctlError(f"error patching virtual machine: {go_error(e)}") from None


def remove_ssh_key(args: list[str] | None, user: Optional[str], secret: str, file: str, value: str, force: bool,
                   changed: frozenset[str]) -> None:
    vm_name = exact_args(args, 1)[0]
    user = _check_flags(user, changed)
    kv = _client()
    key = _ssh_key(file, value)
    vm = _get_vm(kv, vm_name)
    names = ssh_secrets_for_user(vm, user)
    if not names:
        sys.stdout.write(f"No secrets associated with user {user}")
        return
    if secret and secret not in names:
        raise VirtctlError(f"secret {secret} is not associated with user {user}")
    for name in [secret] if secret else names:
        _remove_from_secret(kv, vm, name, key, force)


def _remove_from_secret(kv: Any, vm: dict[str, Any], name: str, key: str, force: bool) -> None:
    for _ in range(5):                                   # client-go's retry.DefaultRetry on conflicts
        try:
            obj = kv.get(kinds.SECRET, name)
        except NotFound:
            return
        if not force and not owned_by(obj, vm):
            raise VirtctlError(f"secret {name} does not have an owner reference pointing to VM "
                               f"{(vm.get('metadata') or {}).get('name')}")
        data = {}
        for k, v in (obj.get("data") or {}).items():
            kept = remove_key(key, _decode(v))
            if kept:
                data[k] = _b64(kept)
        obj["data"] = data
        try:
            kv.replace(kinds.SECRET, obj)
            return
        except NotFound:
            return
        except APIError as e:
            if e.code != 409:
                raise VirtctlError(go_error(e)) from None
    raise VirtctlError(f'Operation cannot be fulfilled on secrets "{name}": the object has been modified; please '
                       "apply your changes to the latest version and try again")


def set_password(args: list[str] | None, user: Optional[str], secret: str, password: Optional[str],
                 force: bool, changed: frozenset[str] = frozenset()) -> None:
    vm_name = exact_args(args, 1)[0]
    if user is None:
        raise UsageError('required flag(s) "user" not set' if password is not None
                         else 'required flag(s) "password", "user" not set')
    if password is None:
        raise UsageError('required flag(s) "password" not set')
    kv = _client()
    vm = _get_vm(kv, vm_name)
    names = password_secrets(vm)
    if not names:
        raise VirtctlError("no secrets assigned to UserPassword AccessCredentials")
    name = find_secret_or_first(secret, names)
    if not force:
        try:
            obj = kv.get(kinds.SECRET, name)
        except (APIError, ConnectionFailed) as e:
            raise VirtctlError(f'error getting secret "{name}": {go_error(e)}') from None
        if not owned_by(obj, vm):
            raise VirtctlError(f"secret {name} does not have an owner reference pointing to VM {vm_name}")
    _patch_secret_data(kv, name, user, password)
    sys.stdout.write(f'Successfully set password in secret "{name}"')


ADD_EXAMPLE = """  # Add an SSH key for a running virtual machine.
  {{ProgramName}} credentials add-ssh-key --user <username> --file <path-to-ssh-public-key> <vm-name>

  # Add an SSH key for a running virtual machine. Key is provided as literal parameter.
  {{ProgramName}} credentials add-ssh-key --user <username> --value <literal-ssh-public-key> <vm-name>

  # Add an SSH key to a secret that is not owned by the virtual machine.
  {{ProgramName}} credentials add-ssh-key --user <username> --file <path-to-ssh-public-key> --force <vm-name>

  # Create a new secret with the SSH key, and assign it to the specified virtual machine.
  {{ProgramName}} credentials add-ssh-key --create-secret --user <username> --file <path-to-ssh-public-key> <vm-name>

  # Create a new secret with the SSH key, and assign it to a running VM. It will take effect after restart.
  {{ProgramName}} credentials add-ssh-key --create-secret --user <username> --file <path-to-ssh-public-key> --force <vm-name>
"""  # noqa: E501

REMOVE_EXAMPLE = """  # Remove an SSH key for a running virtual machine.
  {{ProgramName}} credentials remove-ssh-key --user <username> --file <path-to-ssh-public-key> <vm-name>

  # Remove an SSH key for a running virtual machine. Key is provided as literal parameter.
  {{ProgramName}} credentials remove-ssh-key --user <username> --value <literal-ssh-public-key> <vm-name>

  # Remove an SSH key from a secret that is not owned by the virtual machine.
  {{ProgramName}} credentials remove-ssh-key --user <username> --file <path-to-ssh-public-key> --force <vm-name>
"""

PASSWORD_EXAMPLE = """  # Set a user password for a virtual machine.
  {{ProgramName}} credentials set-password --user <username> --password <password> <vm-name>

  # Set a user password in a secret that is not owned by the virtual machine.
  {{ProgramName}} credentials set-password --user <username> --password <password> --force <vm-name>
"""

# the flags every credentials command takes, and those naming an SSH key
SECRET_PARAMS: Params = {
    "user": (Optional[str], typer.Option(None, "--user", "-u", help=USER_HELP, show_default=False)),
    "secret": (str, typer.Option("", "--secret", help=SECRET_HELP)),
    "force": (bool, typer.Option(False, "--force", help=FORCE_HELP)),
}
KEY_PARAMS: Params = {
    "file": (str, typer.Option("", "--file", "-f", help="Path to the SSH public key file.")),
    "value": (str, typer.Option("", "--value", help="Literal value of the SSH public key.")),
}
CREATE_PARAMS: Params = {
    "create_secret": (bool, typer.Option(False, "--create-secret", help="Create a new secret for the SSH key. The "
                                         "new key will not be added to a running VM. Use --force to add a new "
                                         "secret even if the VM is running.")),
    "update_secret": (bool, typer.Option(False, "--update-secret", help="Add the SSH key to an existing secret. Use "
                                         "--force option, if the secret does not have owner reference pointing to "
                                         "the VM.")),
}
PASSWORD_PARAMS: Params = {
    "password": (Optional[str], typer.Option(None, "--password", "-p", help="Password for the user",
                                             show_default=False)),
}

add_command(credentials_app, "add-ssh-key", add_ssh_key, SECRET_PARAMS, KEY_PARAMS, CREATE_PARAMS, metavar="(VM)",
            short_help="Add credentials to a virtual machine.", epilog=ADD_EXAMPLE)
add_command(credentials_app, "remove-ssh-key", remove_ssh_key, SECRET_PARAMS, KEY_PARAMS, metavar="(VM)",
            short_help="Remove credentials from a virtual machine.", epilog=REMOVE_EXAMPLE)
add_command(credentials_app, "set-password", set_password, SECRET_PARAMS, PASSWORD_PARAMS, metavar="(VM)",
            short_help="Set password for a user", epilog=PASSWORD_EXAMPLE)
