"""``expose`` and ``credentials`` against a real embedded API server (no controllers): the objects
they write and Go virtctl's messages for bad input."""

from __future__ import annotations

import base64

from tests.cli.test_commands import halted_vm
from virtctl.model import kinds


def client(api_server):
    from virtctl.client import KubeVirtClient, Overrides, resolve
    return KubeVirtClient.from_config(resolve(Overrides(kubeconfig=str(api_server.kubeconfig_path))))


def test_expose_creates_go_virtctls_service(kcli, api_server) -> None:
    kv = client(api_server)
    vm = kv.create(kinds.VM, halted_vm("vm1"))
    r = kcli(["expose", "vm", "vm1", "--name", "s1", "--port", "8080", "--target-port", "http", "--type",
              "LoadBalancer", "--protocol", "udp"])
    assert (r.code, r.out, r.err) == (0, "Service s1 successfully created for vm vm1\n", "")
    svc = kv.get(kinds.SERVICE, "s1")
    assert svc["spec"]["selector"] == {"vmi.kubevirt.io/id": "vm1"}
    assert svc["spec"]["type"] == "LoadBalancer"
    port = svc["spec"]["ports"][0]
    assert (port["port"], port["targetPort"], port["protocol"]) == (8080, "http", "UDP")
    assert 30000 <= port["nodePort"] <= 32767
    assert svc["metadata"]["ownerReferences"] == [{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
                                                   "name": "vm1", "uid": vm["metadata"]["uid"], "controller": True,
                                                   "blockOwnerDeletion": False}]
    r = kcli(["expose", "vm", "vm1", "--name", "s1", "--port", "80"])
    assert (r.code, r.err) == (1, 'service creation failed: services "s1" already exists\n')


def test_expose_bad_input(kcli, api_server) -> None:
    client(api_server).create(kinds.VM, halted_vm("vm1"))
    cases = [
        (["expose", "vm", "ghost", "--name", "s", "--port", "80"],
         'error fetching VirtualMachine: virtualmachines.kubevirt.io "ghost" not found'),
        (["expose", "pod", "x", "--name", "s", "--port", "80"], "unsupported resource type: pod"),
        (["expose", "vm", "vm1", "--name", "s"], "couldn't find port via --port flag or introspection"),
        (["expose", "vm", "vm1", "--name", "s", "--port", "80", "--type", "ExternalName"],
         "type: ExternalName not supported"),
        (["expose", "vm", "vm1", "--name", "s", "--port", "80", "--type", "Bogus"], "unknown service type: Bogus"),
        (["expose", "vm", "vm1", "--name", "s", "--port", "80", "--protocol", "SCTP"], "unknown protocol: SCTP"),
        (["expose", "vm", "vm1", "--port", "80"], 'required flag(s) "name" not set'),
        (["expose", "vm"], "accepts 2 arg(s), received 1"),
        (["expose", "vm", "vm1", "--name", "s", "--port", "x"],
         'invalid argument "x" for "--port" flag: strconv.ParseInt: parsing "x": invalid syntax'),
        (["expose", "vm", "vm1", "--name", "Bad_Name", "--port", "80"], "service creation failed: Service "
         '"Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a DNS-1035 label must consist of lower '
         "case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric "
         "character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"),
    ]
    for args, message in cases:
        r = kcli(args)
        assert (r.code, r.err.strip()) == (1, message), args
    assert client(api_server).list(kinds.SERVICE)["items"] == []


def test_credentials_add_ssh_key_to_a_stopped_vm_and_its_refusals(kcli, api_server) -> None:
    kv = client(api_server)
    kv.create(kinds.VM, halted_vm("vm1"))
    r = kcli(["credentials", "add-ssh-key", "vm1", "-u", "root", "--value", "ssh-ed25519 AAAA me"])
    assert (r.code, r.out, r.err) == (0, "", "")
    cred = kv.get(kinds.VM, "vm1")["spec"]["template"]["spec"]["accessCredentials"][0]["sshPublicKey"]
    secret = kv.get(kinds.SECRET, cred["source"]["secret"]["secretName"])
    assert secret["metadata"]["name"].startswith("vm1-ssh-key-")
    assert [base64.b64decode(v).decode() for v in secret["data"].values()] == ["ssh-ed25519 AAAA me"]
    assert [k[:8] for k in secret["data"]] == ["ssh-key-"]
    # a second credential goes to the end of the existing list
    r = kcli(["credentials", "add-ssh-key", "vm1", "-u", "alice", "--value", "ssh-rsa BBBB her"])
    creds = kv.get(kinds.VM, "vm1")["spec"]["template"]["spec"]["accessCredentials"]
    assert r.code == 0 and [c["sshPublicKey"]["propagationMethod"]["qemuGuestAgent"]["users"] for c in creds] == \
        [["root"], ["alice"]]
    cases = [
        (["credentials", "add-ssh-key", "vm1", "-u", "root", "--value", "a", "--create-secret", "--update-secret"],
         "if any flags in the group [create-secret update-secret] are set none of the others can be; "
         "[create-secret update-secret] were all set"),
        (["credentials", "add-ssh-key", "vm1", "--value", "a"], 'required flag(s) "user" not set'),
        (["credentials", "add-ssh-key", "vm1", "-u", "bob", "--value", "a", "--update-secret"],
         "no secrets specified for user: bob"),
        (["credentials", "add-ssh-key", "vm1", "-u", "root", "--file", "/nonexistent/key.pub"],
         "error getting ssh key: open /nonexistent/key.pub: no such file or directory"),
        (["credentials", "add-ssh-key", "ghost", "-u", "root", "--value", "a"],
         'error getting virtual machine: virtualmachines.kubevirt.io "ghost" not found'),
        (["credentials", "remove-ssh-key", "vm1", "-u", "root", "--value", "a", "--secret", "other"],
         "secret other is not associated with user root"),
        (["credentials", "set-password", "vm1", "-u", "root"], 'required flag(s) "password" not set'),
    ]
    for args, message in cases:
        r = kcli(args)
        assert (r.code, r.err.strip()) == (1, message), args
    # remove-ssh-key empties the key's entry and drops it
    r = kcli(["credentials", "remove-ssh-key", "vm1", "-u", "root", "--value", "ssh-ed25519 AAAA"])
    assert r.code == 0 and kv.get(kinds.SECRET, cred["source"]["secret"]["secretName"]).get("data") in (None, {})
