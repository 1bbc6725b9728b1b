"""Access credentials without I/O: which Secrets ``virtctl credentials`` edits (Go virtctl's rules),
how a key leaves a Secret value, and what the guest agent is asked to write."""

from __future__ import annotations

import pytest

from virtctl.cli.commands.credentials import (
    find_secret_or_first,
    line_contains_key,
    owned_by,
    password_secrets,
    remove_key,
    ssh_secrets_for_user,
)
from virtctl.controller.reconcile.credentials import agent_credentials, uses_agent
from virtctl.errors import VirtctlError

SSH_GA = {"sshPublicKey": {"source": {"secret": {"secretName": "k1"}},
                           "propagationMethod": {"qemuGuestAgent": {"users": ["root", "alice"]}}}}
SSH_NOCLOUD = {"sshPublicKey": {"source": {"secret": {"secretName": "k2"}}, "propagationMethod": {"noCloud": {}}}}
PW = {"userPassword": {"source": {"secret": {"secretName": "pw"}}, "propagationMethod": {"qemuGuestAgent": {}}}}


def vm(*creds):
    return {"metadata": {"name": "vm", "uid": "u"}, "spec": {"template": {"spec": {"accessCredentials": list(creds)}}}}


def test_secrets_for_a_user_are_the_agent_propagated_ones():
    v = vm(SSH_GA, SSH_NOCLOUD, PW)
    assert ssh_secrets_for_user(v, "alice") == ["k1"] and ssh_secrets_for_user(v, "bob") == []
    assert password_secrets(v) == ["pw"]


def test_secret_choice_and_ownership():
    assert find_secret_or_first("", ["a"]) == "a" and find_secret_or_first("b", ["a", "b"]) == "b"
    with pytest.raises(VirtctlError, match="^multiple secrets specified, use option --secret"):
        find_secret_or_first("", ["a", "b"])
    with pytest.raises(VirtctlError, match="^secret c was not assigned$"):
        find_secret_or_first("c", ["a"])
    mine = {"metadata": {"ownerReferences": [{"kind": "VirtualMachine", "name": "vm", "uid": "u"}]}}
    assert owned_by(mine, vm()) and not owned_by({"metadata": {}}, vm())


def test_key_removal_drops_matching_and_blank_lines():
    assert line_contains_key("  ssh-ed25519 AAAA me", "ssh-ed25519 AAAA")
    assert remove_key("ssh-rsa BBBB", "ssh-ed25519 AAAA a\n\nssh-rsa BBBB b\n") == "ssh-ed25519 AAAA a"


def test_agent_credentials_per_user():
    vmi = {"spec": {"accessCredentials": [SSH_GA, SSH_NOCLOUD, PW]}}
    keys, passwords = agent_credentials(vmi, {"k1": {"a": b"ssh-ed25519 AAAA one\n\nssh-rsa BBBB two\n"},
                                              "k2": {"x": b"ssh-rsa CCCC nocloud"},
                                              "pw": {"root": b"s3cret\n", "empty": b""}})
    assert keys == {"root": ["ssh-ed25519 AAAA one", "ssh-rsa BBBB two"],
                    "alice": ["ssh-ed25519 AAAA one", "ssh-rsa BBBB two"]}
    assert passwords == {"root": "s3cret"}
    assert uses_agent(vmi) and not uses_agent({"spec": {"accessCredentials": [SSH_NOCLOUD]}})


def test_passwd_entry():
    from virtctl.controller.reconcile.credentials import passwd_entry
    text = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\nbroken:x\n"
    assert passwd_entry(text, "alice")[5] == "/home/alice"
    assert passwd_entry(text, "broken") is None and passwd_entry(text, "bob") is None
