"""``local serve|up|down|status``: the embedded controller (standalone mode), thin wrappers over
:mod:`virtctl.controller.local` and :mod:`virtctl.controller.daemon`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from virtctl.cli.lazy import CobraCommand, new_group
from virtctl.cli.state import current
from virtctl.errors import VirtctlError

app, local_app = new_group("local", help="Run and manage the local virtctl controller (standalone mode): an "
                           "embedded KubeVirt API on 127.0.0.1 that drives local libvirt/QEMU.",
                           short_help="Run and manage the local virtctl controller (standalone mode).")

STATE_HELP = "State directory (default $VIRTCTL_STATE_DIR, else ~/.local/state/virtctl)."


def _settings(state_dir: str):  # -> Settings
    from virtctl.controller.settings import Settings

    return Settings.load(Path(state_dir) if state_dir else None)


@local_app.command("serve", cls=CobraCommand, short_help="Run the local controller in the foreground.",
                   help="Run the local controller in the foreground until interrupted.",
                   epilog="  {{ProgramName}} local serve --port 6443")
def serve(state_dir: str = typer.Option("", "--state-dir", help=STATE_HELP),
          port: Optional[int] = typer.Option(None, "--port", help="Port on 127.0.0.1 (0: any free port)."),
          libvirt_uri: list[str] = typer.Option([], "--libvirt-uri", help="libvirt host to run VMIs on; repeat "
                                                "for several nodes (live migration).")) -> None:
    from virtctl.controller import daemon

    settings = _settings(state_dir)
    if port is not None:
        settings.port = port
    if libvirt_uri:
        settings.libvirt_uris = list(libvirt_uri)
    daemon.serve(settings, ready=lambda url: print(f"serving on {url}", flush=True))


@local_app.command("up", cls=CobraCommand,
                   short_help="Start the local controller in the background (if not running) and print how to "
                              "use it.",
                   help="Start the local controller in the background (if not running), write the "
                        "virtctl-local kubeconfig context and print how to use it.")
def up(state_dir: str = typer.Option("", "--state-dir", help=STATE_HELP)) -> None:
    from virtctl.controller import local

    info = local.up(_settings(state_dir))
    prog = current().prog
    kc = f"--kubeconfig {info.kubeconfig_path} " if info.kubeconfig_path else ""
    sys.stdout.write(f"The local virtctl controller is running at {info.url} (pid {info.pid}).\n"
                     f"kubeconfig context \"{info.context}\" written to {info.kubeconfig_path}\n\n"
                     "Use it with:\n"
                     f"  {prog} --context {info.context} get vm\n"
                     f"  kubectl {kc}--context {info.context} get vm\n")


@local_app.command("down", cls=CobraCommand, short_help="Stop the local controller.",
                   help="Stop the local controller and remove its kubeconfig context.")
def down(state_dir: str = typer.Option("", "--state-dir", help=STATE_HELP)) -> None:
    from virtctl.controller import local

    stopped = local.down(_settings(state_dir))
    sys.stdout.write("The local virtctl controller was stopped.\n" if stopped
                     else "The local virtctl controller was not running.\n")


@local_app.command("status", cls=CobraCommand, short_help="Show whether the local controller runs, and where.",
                   help="Show whether the local controller runs, and where. Exits 1 when it does not run.")
def status(state_dir: str = typer.Option("", "--state-dir", help=STATE_HELP)) -> None:
    from virtctl.controller import local

    settings = _settings(state_dir)
    info = local.status(settings)
    if info is None:
        sys.stdout.write(f"The local virtctl controller is not running (state dir {settings.state_dir}).\n")
        raise VirtctlError("")
    sys.stdout.write(f"The local virtctl controller is running at {info.url} (pid {info.pid}, state dir "
                     f"{info.state_dir}).\n")


@local_app.command("pull", cls=CobraCommand, short_help="Pull an image into the local controller's image cache.",
                   help="Pull a containerDisk or kernelBoot image from an OCI registry into the local "
                        "controller's image cache, with a progress bar on a terminal. VMIs then start "
                        "without waiting for the download.",
                   epilog="  {{ProgramName}} local pull localhost:5000/virtctl-test/kernel-boot:latest")
def pull(args: list[str] = typer.Argument(None, metavar="IMAGE", show_default=False),
         state_dir: str = typer.Option("", "--state-dir", help=STATE_HELP)) -> None:
    from virtctl.cli.args import exact_args
    from virtctl.cli.progress import layer_progress
    from virtctl.controller.storage.images import ImageCache

    image = exact_args(args, 1)[0]
    settings = _settings(state_dir)
    with layer_progress() as progress:
        pulled = ImageCache(settings).pull(image, progress=progress)
    sys.stdout.write(f"{image}: pulled {pulled.digest}\n")
