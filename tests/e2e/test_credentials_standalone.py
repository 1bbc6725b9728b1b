"""``virtctl credentials`` end to end: a real controller process, real QEMU with qemu-ga in the
guest, real OpenSSH through ``virtctl ssh``. ``add-ssh-key`` on a stopped VM creates the VM's key
Secret and access credential; started, the guest gets the key through its agent and ``virtctl ssh``
logs in with it. On the running VM a second key lands in the same Secret and reaches the guest live;
``remove-ssh-key`` takes the first one out again. Go virtctl's messages and refusals."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.controller.storage.registry_fixture import local_registry  # noqa: F401  (fixture)
from tests.e2e.standalone_env import Standalone, kernel_vm, push_kernel_image, running_controller, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

SSH_OPTS = ["-t", "-o StrictHostKeyChecking=no", "-t", "-o UserKnownHostsFile=/dev/null", "-t", "-o LogLevel=ERROR",
            "-t", "-o IdentitiesOnly=yes"]


@pytest.fixture(scope="module")
def env(libvirt_host, tmp_path_factory):
    yield from running_controller(libvirt_host, tmp_path_factory, "credentials", tools=("ssh", "ssh-keygen"))


@pytest.fixture(scope="module")
def image(guest, local_registry) -> str:  # noqa: F811
    return push_kernel_image(guest, local_registry, "credentials")


def keypair(d: Path, name: str) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(d / name)], check=True)
    return d / name


def ssh(env: Standalone, vm: str, key: Path, command: str) -> subprocess.CompletedProcess:
    return env.run("ssh", f"root@vm/{vm}", "-i", str(key), *SSH_OPTS, "-c", command, check=False, timeout=120)


def apply_vm(env: Standalone, name: str, image: str, run_strategy: str, **template_spec) -> None:
    """``virtctl apply`` of a kernel-boot VM of the test guest (``template_spec``: more of its spec)."""
    env.apply(kernel_vm(name, image, run_strategy=run_strategy, **template_spec))


def test_add_ssh_key_lets_virtctl_ssh_in(env, image, tmp_path, libvirt_host):
    name = f"cred-{uuid.uuid4().hex[:6]}"
    key1, key2 = keypair(tmp_path, "one"), keypair(tmp_path, "two")
    apply_vm(env, name, image, "Halted")

    # refusals as Go virtctl words them
    r = env.run("credentials", "add-ssh-key", name, "--user", "root", check=False)
    assert (r.returncode, r.stderr.strip()) == (1, "error getting ssh key: one of --file, or --value must be specified")
    r = env.run("credentials", "set-password", name, "--user", "root", "--password", "x", check=False)
    assert (r.returncode, r.stderr.strip()) == (1, "no secrets assigned to UserPassword AccessCredentials")
    r = env.run("credentials", "remove-ssh-key", name, "--user", "nobody", "--value", "ssh-ed25519 AAAA")
    assert r.stdout == "No secrets associated with user nobody"

    # stopped VM: a new Secret owned by the VM, and the access credential in the VM's template
    r = env.run("credentials", "add-ssh-key", name, "--user", "root", "--file", f"{key1}.pub")
    assert r.stdout == ""
    vm = env.obj("vm", name)
    cred = vm["spec"]["template"]["spec"]["accessCredentials"][0]["sshPublicKey"]
    assert cred["propagationMethod"] == {"qemuGuestAgent": {"users": ["root"]}}
    secret_name = cred["source"]["secret"]["secretName"]
    assert secret_name.startswith(f"{name}-ssh-key-")

    env.run("start", name)
    env.wait_log(name, "GUEST-BOOT-OK", timeout=240)
    wait_until(lambda: any(c["type"] == "AccessCredentialsSynchronized" and c["status"] == "True"
                           for c in env.obj("vmi", name)["status"].get("conditions", [])), 120,
               "AccessCredentialsSynchronized")
    r = wait_until(lambda: (p := ssh(env, name, key1, "echo in-$((6*7))")).returncode == 0 and p, 60, "ssh with key 1")
    assert r.stdout.strip() == "in-42"

    # running VM without --create-secret: the key goes into the VM's Secret and reaches the guest live
    # (--value: Go compares trimmed lines with the key as given, so a key file's newline never matches)
    pub2 = Path(f"{key2}.pub").read_text().strip()
    r = env.run("credentials", "add-ssh-key", name, "--user", "root", "--value", pub2)
    assert r.stdout == f'Successfully added the key to secret "{secret_name}"'
    r = env.run("credentials", "add-ssh-key", name, "--user", "root", "--value", pub2)
    assert r.stdout == f'Secret "{secret_name}" already contains this SSH key.'
    r = wait_until(lambda: (p := ssh(env, name, key2, "echo two")).returncode == 0 and p, 60, "ssh with key 2")
    assert r.stdout.strip() == "two"
    # a new Secret for a running VM needs --force
    r = env.run("credentials", "add-ssh-key", name, "--user", "root", "--value", "ssh-ed25519 AAAA x",
                "--create-secret", check=False)
    assert r.stderr.strip() == (f"virtual machine {name} is running. Use --force flag to update a running VM, it "
                                "will take effect after restart")

    # remove-ssh-key: key 1 no longer lets anyone in, key 2 still does
    env.run("credentials", "remove-ssh-key", name, "--user", "root", "--value", Path(f"{key1}.pub").read_text().strip())
    wait_until(lambda: ssh(env, name, key1, "true").returncode != 0, 60, "key 1 refused")
    assert ssh(env, name, key2, "echo still").stdout.strip() == "still"
    r = subprocess.run(["kubectl", "get", "secret", secret_name, "-o", "json"], env=env.env, capture_output=True,
                       text=True, timeout=60)
    assert len(json.loads(r.stdout)["data"]) == 1          # key 1's entry emptied and dropped

    # the fallback for agents without guest-ssh-add-authorized-keys, through this guest's own agent
    from virtctl.controller.reconcile.credentials import write_authorized_keys_file
    from virtctl.controller.settings import Settings
    from virtctl.controller.virt import guest_agent as ga
    from virtctl.controller.virt.hypervisor import domain_name
    from virtctl.controller.virt.libvirt_host import LibvirtHost
    key3 = keypair(tmp_path, "three")
    host = LibvirtHost(libvirt_host.uri, "node01", owner_id=Settings(state_dir=env.state_dir).controller_id)
    try:
        agent = ga.GuestAgent(lambda d, c: host.agent_command(d, c, 10), domain_name("default", name))
        pub3 = Path(f"{key3}.pub").read_text().strip()
        assert write_authorized_keys_file(agent, "root", [pub3]) is True
        assert write_authorized_keys_file(agent, "root", [pub3]) is False      # as wanted already: not rewritten
    finally:
        host.close()
    assert ssh(env, name, key3, "echo three").stdout.strip() == "three"
    assert ssh(env, name, key2, "true").returncode != 0


def test_set_password_goes_through_the_guest_agent(env, image, tmp_path):
    """The test guest's qemu-ga has no ``passwd`` program to call, so the agent's own refusal is what
    the AccessCredentialsSynchronized condition must carry: the password went to the agent."""
    name = f"pw-{uuid.uuid4().hex[:6]}"
    secret = f"{name}-pw"
    subprocess.run(["kubectl", "create", "secret", "generic", secret, "--from-literal=root=first-pw"], env=env.env,
                   check=True, capture_output=True, timeout=60)
    apply_vm(env, name, image, "Always",
             accessCredentials=[{"userPassword": {"source": {"secret": {"secretName": secret}},
                                                  "propagationMethod": {"qemuGuestAgent": {}}}}])
    env.wait_log(name, "GUEST-BOOT-OK", timeout=240)

    def synced():
        conds = {c["type"]: c for c in env.obj("vmi", name)["status"].get("conditions", [])}
        return conds.get("AccessCredentialsSynchronized")
    cond = wait_until(synced, 120, "AccessCredentialsSynchronized")
    assert (cond["status"], cond["reason"]) == ("False", "AccessCredentialsSyncFailed")
    assert cond["message"].startswith("Error encountered setting password for user [root]: ")
    assert "guest-set-user-password" in cond["message"] and "passwd" in cond["message"]

    # the Secret is not the VM's own: Go virtctl's refusal, then --force
    r = env.run("credentials", "set-password", name, "--user", "root", "--password", "second-pw", check=False)
    assert (r.returncode, r.stderr.strip()) == (1, f"secret {secret} does not have an owner reference pointing to "
                                                   f"VM {name}")
    r = env.run("credentials", "set-password", name, "-u", "root", "-p", "second-pw", "--force")
    assert r.stdout == f'Successfully set password in secret "{secret}"'
    got = json.loads(subprocess.run(["kubectl", "get", "secret", secret, "-o", "json"], env=env.env,
                                    capture_output=True, text=True, timeout=60).stdout)
    assert got["data"] == {"root": "c2Vjb25kLXB3"}                       # base64 of second-pw
