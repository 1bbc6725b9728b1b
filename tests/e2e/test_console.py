"""``virtctl console`` on a real QEMU guest: a real pseudo-terminal (pexpect), the kubectl plugin
name, script mode, ``--show-log``, waiting for the VM, and one client at a time."""

from __future__ import annotations

import shlex
import subprocess
import time

import pexpect
import pytest

from tests.e2e.streams_env import NS, close_env, open_env
from tests.streams.cli import kubectl_virt_argv, virtctl_argv
from virtctl.streams import protocol

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def env(libvirt_host, tmp_path_factory):
    env, handles = open_env(libvirt_host, tmp_path_factory.mktemp("console-e2e") / "state")
    yield env
    close_env(env, handles)


@pytest.fixture(scope="module")
def booted(env, guest):
    name = "con-" + str(int(time.time() * 1000))[-7:]
    env.boot(name, guest)
    return name


def tty_session(env, argv: list[str], name: str, tmp_path, extra_env: dict[str, str] | None = None) -> None:
    """In a real pty: connect, type a command, read its answer, Ctrl+], and the pty is as before."""
    before, after = tmp_path / "stty-before", tmp_path / "stty-after"
    shell = pexpect.spawn("/bin/bash", ["--norc", "--noprofile"], env=env.cli_env(**(extra_env or {})),
                          timeout=30, dimensions=(24, 160))
    try:
        cmd = " ".join(shlex.quote(a) for a in argv)
        shell.sendline(f"stty -a > {before}; {cmd} -n {NS} console {name}; echo RC=$?; stty -a > {after}")
        shell.expect_exact(protocol.connected_message(name).rstrip("\n").encode())
        shell.send(b"\r")
        shell.expect_exact(b"guest# ")
        shell.send(b"echo hello-$((6*7))\r")
        shell.expect_exact(b"hello-42")
        shell.send(b"\x1d")                              # Ctrl+]
        shell.expect_exact(b"RC=0")
        shell.sendline("exit")
        shell.expect(pexpect.EOF)
    finally:
        shell.close(force=True)
    assert before.read_text() == after.read_text()


def test_tty_session_restores_the_terminal(env, booted, tmp_path):
    tty_session(env, virtctl_argv(), booted, tmp_path)


def test_kubectl_plugin_entry_point(env, booted, tmp_path):
    argv, extra = kubectl_virt_argv()
    r = subprocess.run([*argv, "console", "-h"], env=env.cli_env(**extra), capture_output=True, text=True,
                       timeout=30)
    assert "  kubectl virt console (VMI) [flags]" in r.stdout
    tty_session(env, argv, booted, tmp_path, extra)


def test_script_mode_and_show_log(env, booted):
    cmd = " ".join(shlex.quote(a) for a in virtctl_argv())
    r = subprocess.run(["bash", "-c", f"printf 'echo hi-$((1+1))\\n' | {cmd} -n {NS} console {booted} --timeout 1"],
                       env=env.cli_env(), capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert b"hi-2" in r.stdout
    assert r.stderr.decode() == protocol.connected_message(booted)
    r = subprocess.run([*virtctl_argv(), "-n", NS, "console", booted, "--show-log"], env=env.cli_env(),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert b"GUEST-BOOT-OK" in r.stdout


def test_second_client_takes_over(env, booted):
    argv = [*virtctl_argv(), "-n", NS, "console", booted]
    first = subprocess.Popen(argv, env=env.cli_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    second = None
    try:
        assert first.stderr.readline().decode() == protocol.connected_message(booted)
        second = subprocess.Popen(argv, env=env.cli_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        assert second.stderr.readline().decode() == protocol.connected_message(booted)
        assert first.wait(30) == 1
        assert first.stderr.read().decode() == protocol.DISCONNECT_TEXT + \
            "websocket: close 1006 (abnormal closure): unexpected EOF\n"
        second.stdin.write(b"echo second-$((3*3))\n")
        second.stdin.close()                            # script mode: answer read, then exit 0
        out = second.stdout.read()
        assert second.wait(30) == 0
        assert b"second-9" in out
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.kill()


def test_console_waits_for_the_vm_to_run(env, guest):
    name = "wait-" + str(int(time.time() * 1000))[-7:]
    env.add_vmi(name, guest, "Scheduled")
    proc = subprocess.Popen([*virtctl_argv(), "-n", NS, "console", name, "--timeout", "2"], env=env.cli_env(),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(2.5)                                # a few refused (400) dials
        assert proc.poll() is None
        env.start_domain(name, guest)
        env.set_phase(name, "Running")
        assert proc.stderr.readline().decode() == protocol.connected_message(name)
        console = env.console(name)
        assert console.wait_for(b"guest# ", 90) is not None, console.output()[-500:]
        proc.stdin.write(b"echo waited-$((2*3))\n")
        proc.stdin.close()
        out = proc.stdout.read()
        assert proc.wait(60) == 0
        assert b"waited-6" in out
    finally:
        if proc.poll() is None:
            proc.kill()
