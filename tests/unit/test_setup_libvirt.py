"""scripts/setup-libvirt.sh recognises the main libvirtd and virtlogd by their own pid files and
sockets, not by process name: another libvirtd (the second node's) running on the machine must not
make it wait for a main daemon that is gone. Checked with ``--check``, which starts nothing, against
the real daemons of this machine."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "setup-libvirt.sh"


def pids(name: str) -> list[int]:
    out = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def check(tmp_path: Path, **env: str) -> dict[str, str]:
    res = subprocess.run(["bash", str(SCRIPT), "--check"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, **env})
    assert res.returncode == 0, res.stderr
    return dict(line.split(": ", 1) for line in res.stdout.splitlines())


@pytest.fixture
def other_daemons() -> tuple[int, int]:
    libvirtd, virtlogd = pids("libvirtd"), pids("virtlogd")
    if not libvirtd or not virtlogd:
        pytest.skip("needs a running libvirtd and virtlogd on this machine (scripts/setup-libvirt.sh)")
    return libvirtd[-1], virtlogd[-1]


def test_a_libvirtd_that_is_not_the_main_one_does_not_count(tmp_path, other_daemons) -> None:
    # the main daemon "is gone": its pid files and sockets lead nowhere, while libvirtd processes run
    gone = check(tmp_path, VIRTCTL_LIBVIRT_URI=f"qemu+unix:///system?socket={tmp_path}/no-sock",
                 VIRTCTL_LIBVIRTD_PIDFILES=str(tmp_path / "libvirtd.pid"),
                 VIRTCTL_VIRTLOGD_PIDFILES=str(tmp_path / "virtlogd.pid"),
                 VIRTCTL_VIRTLOGD_SOCK=str(tmp_path / "virtlogd-sock"))
    assert gone == {"libvirtd": "absent", "virtlogd": "absent"}


def test_the_main_pid_file_of_a_live_daemon_means_wait(tmp_path, other_daemons) -> None:
    libvirtd, virtlogd = other_daemons
    (tmp_path / "libvirtd.pid").write_text(f"{libvirtd}\n")
    (tmp_path / "virtlogd.pid").write_text(f"{virtlogd}\n")
    starting = check(tmp_path, VIRTCTL_LIBVIRT_URI=f"qemu+unix:///system?socket={tmp_path}/no-sock",
                     VIRTCTL_LIBVIRTD_PIDFILES=f"{tmp_path}/missing.pid {tmp_path}/libvirtd.pid",
                     VIRTCTL_VIRTLOGD_PIDFILES=str(tmp_path / "virtlogd.pid"),
                     VIRTCTL_VIRTLOGD_SOCK=str(tmp_path / "virtlogd-sock"))
    assert starting == {"libvirtd": "starting", "virtlogd": "running"}


def test_a_pid_file_naming_another_program_does_not_count(tmp_path, other_daemons) -> None:
    (tmp_path / "libvirtd.pid").write_text(f"{os.getpid()}\n")          # this Python process
    res = check(tmp_path, VIRTCTL_LIBVIRT_URI=f"qemu+unix:///system?socket={tmp_path}/no-sock",
                VIRTCTL_LIBVIRTD_PIDFILES=str(tmp_path / "libvirtd.pid"),
                VIRTCTL_VIRTLOGD_PIDFILES=str(tmp_path / "none.pid"), VIRTCTL_VIRTLOGD_SOCK=str(tmp_path / "none"))
    assert res["libvirtd"] == "absent"


def test_the_running_main_daemons_are_recognised(tmp_path, other_daemons) -> None:
    if subprocess.run(["virsh", "-c", "qemu:///system", "version"], capture_output=True).returncode != 0:
        pytest.skip("the main libvirtd does not answer on qemu:///system here")
    assert check(tmp_path) == {"libvirtd": "answering", "virtlogd": "running"}
