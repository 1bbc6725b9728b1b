"""``image-upload dv|pvc NAME``: flags and help; what it does is in :mod:`virtctl.cli.ops.image_upload`
(docs/standalone.md#image-upload)."""

from __future__ import annotations

from typing import Optional

import typer

from virtctl.cli.args import call_params
from virtctl.cli.lazy import CobraCommand, new_app
from virtctl.cli.ops import image_upload as ops

app = new_app()

EXAMPLE = """  # Upload a local disk image to a newly created DataVolume:
  {{ProgramName}} image-upload dv fedora-dv --size=10Gi --image-path=/images/fedora30.qcow2

  # Upload a local disk image to an existing DataVolume
  {{ProgramName}} image-upload dv fedora-dv --no-create --image-path=/images/fedora30.qcow2

  # Upload a local disk image to a newly created PersistentVolumeClaim
  {{ProgramName}} image-upload pvc fedora-pvc --size=10Gi --image-path=/images/fedora30.qcow2

  # Upload a local disk image to a newly created PersistentVolumeClaim and label it with a default instance type and preference
  {{ProgramName}} image-upload pvc fedora-pvc --size=10Gi --image-path=/images/fedora30.qcow2 --default-instancetype=n1.medium --default-preference=fedora

  # Upload a local disk image to an existing PersistentVolumeClaim
  {{ProgramName}} image-upload pvc fedora-pvc --no-create --image-path=/images/fedora30.qcow2

  # Upload to a DataVolume with explicit URL to CDI Upload Proxy
  {{ProgramName}} image-upload dv fedora-dv --uploadproxy-url=https://cdi-uploadproxy.mycluster.com --image-path=/images/fedora30.qcow2

  # Upload a local disk archive to a newly created DataVolume:
  {{ProgramName}} image-upload dv fedora-dv --size=10Gi --archive-path=/images/fedora30.tar"""  # noqa: E501


@app.command("image-upload", cls=CobraCommand, short_help="Upload a VM image to a DataVolume/PersistentVolumeClaim.",
             help="Upload a VM image to a DataVolume/PersistentVolumeClaim.", epilog=EXAMPLE)
def image_upload_command(
        ctx: typer.Context,
        args: Optional[list[str]] = typer.Argument(None, metavar="[dv|pvc] NAME", show_default=False),
        insecure: bool = typer.Option(False, "--insecure", help="Allow insecure server connections when using HTTPS."),
        uploadproxy_url: str = typer.Option("", "--uploadproxy-url", help="The URL of the cdi-upload proxy service."),
        pvc_name: str = typer.Option("", "--pvc-name", help="The destination DataVolume/PVC name.", hidden=True),
        pvc_size: str = typer.Option("", "--pvc-size", help="The size of the PVC to create (ex. 10Gi, 500Mi).",
                                     hidden=True),
        size: str = typer.Option("", "--size", help="The size of the DataVolume to create (ex. 10Gi, 500Mi)."),
        storage_class: str = typer.Option("", "--storage-class", help="The storage class for the PVC."),
        access_mode: str = typer.Option("", "--access-mode", help="The access mode for the PVC."),
        block_volume: bool = typer.Option(False, "--block-volume", hidden=True,
                                          help="Create a PVC with VolumeMode=Block (default is the storageProfile "
                                               "default. for archive upload default is filesystem)."),
        volume_mode: str = typer.Option("", "--volume-mode", help="Specify the VolumeMode (block/filesystem) used to "
                                        "create the PVC. Default is the storageProfile default. For archive upload "
                                        "default is filesystem."),
        image_path: str = typer.Option("", "--image-path", help="Path to the local VM image."),
        archive_path: str = typer.Option("", "--archive-path", help="Path to the local archive."),
        no_create: bool = typer.Option(False, "--no-create", help="Don't attempt to create a new DataVolume/PVC."),
        wait_secs: str = typer.Option("300", "--wait-secs", metavar="uint",
                                      help="Seconds to wait for upload pod to start."),
        retry: str = typer.Option("5", "--retry", metavar="uint", help="When upload server returns a transient "
                                  "error, we retry this number of times before giving up"),
        force_bind: bool = typer.Option(False, "--force-bind", help="Force bind the PVC, ignoring the "
                                        "WaitForFirstConsumer logic."),
        datasource: bool = typer.Option(False, "--datasource", help="Create a DataSource pointing to the created "
                                        "DataVolume/PVC."),
        default_instancetype: str = typer.Option("", "--default-instancetype", help="The default instance type to "
                                                 "associate with the image."),
        default_instancetype_kind: str = typer.Option("", "--default-instancetype-kind", help="The default instance "
                                                      "type kind to associate with the image."),
        default_preference: str = typer.Option("", "--default-preference", help="The default preference to "
                                               "associate with the image."),
        default_preference_kind: str = typer.Option("", "--default-preference-kind", help="The default preference "
                                                    "kind to associate with the image."),
) -> None:
    ops.image_upload(**call_params(ctx))
