"""What Go virtctl prints around a command, through the real CLI in a subprocess: the client/server
version-skew warning after a failure, Go's url.Error wording for requests that got no answer,
``Dry Run execution`` where Go prints it, cobra's "Did you mean this?", cobra's completion command
(powershell, --no-descriptions) and pflag's flag listing in help."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from virtctl.cli import registry
from virtctl.cli.completion_scripts import SCRIPTS
from virtctl.model import kinds

# the real CLI, optionally with another client version (the server's is v1.9.0)
LAUNCH = "import sys, virtctl; virtctl.__version__ = sys.argv.pop(1) or virtctl.__version__; " \
         "from virtctl.cli.main import run; run()"


def virtctl(env: dict, *args: str, client_version: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", LAUNCH, client_version, *args], env=env, capture_output=True,
                          text=True, timeout=90, stdin=subprocess.DEVNULL)


@pytest.fixture
def env(tmp_path: Path) -> dict:
    """No kubeconfig of the user's (and none at all unless a test adds KUBECONFIG)."""
    base = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    base.update(HOME=str(tmp_path / "home"), VIRTCTL_STATE_DIR=str(tmp_path / "state"))
    return base


@pytest.fixture
def served(env: dict, api_server) -> dict:
    import virtctl.controller.actions  # noqa: F401  (the server's lifecycle actions)

    vm = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": "vm1"},
          "spec": {"runStrategy": "Halted", "template": {"spec": {"domain": {"devices": {}}}}}}
    api_server.store.create(kinds.VM, "default", vm)
    return dict(env, KUBECONFIG=str(api_server.kubeconfig_path))


# ---- version skew

WARNING = "You are using a client virtctl version that is different from the KubeVirt version running in the cluster"


def test_a_failed_command_warns_when_the_minor_versions_differ(served: dict) -> None:
    r = virtctl(served, "start", "ghost", client_version="1.7.2")
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr == (f"{WARNING}\nClient Version: v1.7.2\nServer Version: v1.9.0\n\n"
                        'Error starting VirtualMachine virtualmachine.kubevirt.io "ghost" not found\n')
    usage = virtctl(served, "start", client_version="2.9.0")           # usage errors too, as in Go
    assert usage.stderr.startswith(f"{WARNING}\nClient Version: v2.9.0\n")
    assert usage.stderr.endswith("\n\naccepts 1 arg(s), received 0\n")


@pytest.mark.parametrize("argv, version", [(["start", "vm1", "--dry-run"], "1.7.2"), (["start", "ghost"], "1.9.7"),
                                           (["get", "vm", "ghost"], "1.7.2")], ids=str)
def test_no_warning_on_success_same_minor_or_kubectl_style_commands(served: dict, argv: list, version: str) -> None:
    r = virtctl(served, *argv, client_version=version)
    assert WARNING not in r.stderr


# ---- connection errors

def refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("argv, message", [
    (["start", "vm1"], 'Error starting VirtualMachine Put "{api}/namespaces/default/virtualmachines/vm1/start"'),
    (["stop", "vm1"], 'error stopping VirtualMachine Put "{api}/namespaces/default/virtualmachines/vm1/stop"'),
    (["restart", "vm1"], 'error restarting VirtualMachine: Put "{api}/namespaces/default/virtualmachines/vm1/restart"'),
    (["migrate", "vm1"], 'Error migrating VirtualMachine Put "{api}/namespaces/default/virtualmachines/vm1/migrate"'),
    (["pause", "vmi", "vm1"],
     'Error pausing VirtualMachineInstance vm1: Put "{api}/namespaces/default/virtualmachineinstances/vm1/pause"'),
    (["soft-reboot", "vm1"], 'Error soft rebooting VirtualMachineInstance vm1: '
                             'Put "{api}/namespaces/default/virtualmachineinstances/vm1/softreboot"'),
], ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_unanswered_requests_are_worded_as_go_url_errors(env: dict, argv: list, message: str) -> None:
    port = refused_port()
    server = f"https://127.0.0.1:{port}"
    api = f"{server}/apis/subresources.kubevirt.io/v1"
    cause = f"dial tcp 127.0.0.1:{port}: connect: connection refused"
    r = virtctl(env, "-s", server, "--insecure-skip-tls-verify", *argv)
    assert r.returncode == 1 and r.stdout == ""
    # the version check first (kubecli's ServerVersion says only the url.Error's cause), then the command's error
    assert r.stderr.splitlines() == [cause, message.format(api=api) + f": {cause}"]


def test_version_against_no_server_says_the_cause_once(env: dict) -> None:
    port = refused_port()
    r = virtctl(env, "-s", f"https://127.0.0.1:{port}", "--insecure-skip-tls-verify", "version")
    assert r.returncode == 1 and r.stdout.startswith("Client Version: version.Info{GitVersion:")
    assert r.stderr == f"dial tcp 127.0.0.1:{port}: connect: connection refused\n"


# ---- Dry Run execution

@pytest.mark.parametrize("argv, out, err", [
    (["start", "vm1", "--dry-run"], "Dry Run execution\nVM vm1 was scheduled to start\n", ""),
    (["stop", "vm1", "--dry-run", "--force"], "Dry Run execution\n",
     "Must both use --force=true and set --grace-period.\n"),
    (["restart", "vm1", "--dry-run", "--grace-period", "0"], "Dry Run execution\n",
     "Must both use --force=true and set --grace-period.\n"),
    (["migrate-cancel", "vm1", "--dry-run"], "Dry Run execution\n", "Found no migration to cancel for vm1\n"),
    (["migrate-cancel", "vm1"], "", "Found no migration to cancel for vm1\n"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_dry_run_execution_is_printed_where_go_prints_it(served: dict, argv: list, out: str, err: str) -> None:
    r = virtctl(served, *argv)
    assert (r.stdout, r.stderr) == (out, err)


# ---- unknown commands

@pytest.mark.parametrize("typed, suggested", [("strat", ["start"]), ("stp", ["stop"]), ("migr", ["migrate",
                                              "migrate-cancel"]), ("PAUSE", ["pause", "unpause"]), ("xyzzy", [])])
def test_cobra_suggestions(typed: str, suggested: list) -> None:
    """Every visible command within Levenshtein distance 2 (case-insensitive) or starting with the word."""
    got = registry.suggestions(typed)
    assert [n for n in got if n in suggested] == suggested
    for name in got:
        assert registry._distance(typed, name) <= 2 or name.lower().startswith(typed.lower())


def test_unknown_command_says_did_you_mean_this(env: dict) -> None:
    r = virtctl(env, "strat", "vm1")
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == 'unknown command "strat" for "virtctl"\n\nDid you mean this?\n\tstart\n\n'
    r = virtctl(env, "xyzzy")
    assert r.stderr == 'unknown command "xyzzy" for "virtctl"\n'
    plugin = subprocess.run([sys.executable, "-c", "from virtctl.cli.main import main; import sys; "
                             "sys.exit(main(['strat'], argv0='kubectl-virt'))"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert plugin.stderr == 'unknown command "strat" for "kubectl virt"\n\nDid you mean this?\n\tstart\n\n'
    sub = virtctl(env, "snapshot", "lst")
    assert sub.stderr == 'unknown command "lst" for "virtctl snapshot"\n'


# ---- completion command

def test_completion_powershell_and_no_descriptions(env: dict) -> None:
    r = virtctl(env, "completion", "powershell")
    assert (r.returncode, r.stdout) == (0, SCRIPTS["powershell"])
    assert "Register-ArgumentCompleter" in r.stdout and " __complete " in r.stdout
    for shell in ("zsh", "fish", "powershell"):
        plain = virtctl(env, "completion", shell, "--no-descriptions").stdout
        assert " __completeNoDesc " in plain and " __complete " not in plain
        assert plain == SCRIPTS[shell].replace(" __complete ", " __completeNoDesc ")
    listed = virtctl(env, "completion", "--help").stdout
    assert re.findall(r"^  (\w+) +Generate the autocompletion script for \1$", listed, re.M) == \
        ["bash", "fish", "powershell", "zsh"]
    assert "      --no-descriptions   disable completion descriptions\n" in virtctl(env, "completion", "bash",
                                                                               "-h").stdout


# ---- help

def flag_names(help_text: str) -> list[str]:
    section = help_text.split("\nFlags:\n", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^  (?:-\w, |    )--([\w-]+)", section, re.M)


@pytest.mark.parametrize("path", [["start"], ["stop"], ["migrate"], ["create", "vm"], ["create", "instancetype"],
                                  ["snapshot", "create"], ["get"]], ids=" ".join)
def test_help_lists_flags_sorted_by_name_as_pflag_does(env: dict, path: list) -> None:
    names = flag_names(virtctl(env, *path, "--help").stdout)
    assert "help" in names and names == sorted(names)


def test_help_flag_lines_are_pflags(env: dict) -> None:
    stop = virtctl(env, "stop", "--help").stdout
    assert stop.split("Flags:\n", 1)[1].splitlines()[:3] == [
        "      --dry-run            --dry-run=false: Flag used to set whether to perform a dry run or not. If true "
        "the command will be executed without performing any changes.",
        "      --force              --force=false: Only used when grace-period=0. If true, immediately remove VMI pod "
        "from API and bypass graceful deletion. Note that immediate deletion of some resources may break consistency "
        "or require reconfiguration.",
        "      --grace-period int   --grace-period=-1: Period of time in seconds given to the VMI to terminate "
        "gracefully. Can only be set to 0 when --force is true (force deletion). Currently only setting 0 is "
        "supported. (default -1)"]
    assert "      --addedNodeSelector stringToString   --addedNodeSelector=" in virtctl(env, "migrate", "-h").stdout
    assert "      --ssh-key strings " in virtctl(env, "create", "vm", "-h").stdout
