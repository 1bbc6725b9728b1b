"""``vmexport create|delete|download NAME``: VirtualMachineExport objects (export.kubevirt.io/v1) and
the download of an exported volume, with Go virtctl's flags, checks and messages (Go's spelling
"succesfully" kept); see docs/compatibility.md#vm-export."""

from __future__ import annotations

import base64
import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable, Optional

import typer

from virtctl.cli.args import exact_args, string_slice
from virtctl.cli.go_errors import go_error
from virtctl.cli.lazy import CobraCommand, new_app
from virtctl.cli.state import current
from virtctl.errors import AlreadyExists, APIError, ConnectionFailed, NotFound, VirtctlError
from virtctl.model import durations, kinds
from virtctl.model.vm_builder import check_exclusive

app = new_app()

WAIT_INTERVAL = 2.0
DEFAULT_READINESS_TIMEOUT = 120.0
TOKEN_KEY = "token"
ERR_INCOMPATIBLE_FLAG = "the '{}' flag is incompatible with '{}'"
ERR_REQUIRED_EXPORT_TYPE = ("need to specify export kind when attempting to create a VirtualMachineExport "
                            "[--pvc|--vm|--snapshot]")
ERR_INVALID_VALUE = "{} is not a valid value, acceptable values are {}"
PORT_FORWARD_REFUSED = ("--port-forward is not supported by this virtctl: download through the export's external "
                        "link (standalone mode serves it on 127.0.0.1) or give --service-url")

EXAMPLE = """	# Create a VirtualMachineExport to export a volume from a virtual machine:
	{{ProgramName}} vmexport create vm1-export --vm=vm1

	# Create a VirtualMachineExport to export a volume from a virtual machine snapshot
	{{ProgramName}} vmexport create snap1-export --snapshot=snap1

	# Create a VirtualMachineExport to export a volume from a PVC
	{{ProgramName}} vmexport create pvc1-export --pvc=pvc1

	# Delete a VirtualMachineExport resource
	{{ProgramName}} vmexport delete snap1-export

	# Download a volume from an already existing VirtualMachineExport (--volume is optional when only one volume is available)
	{{ProgramName}} vmexport download vm1-export --volume=volume1 --output=disk.img.gz

	# Download a volume as before but through local port 5410
	{{ProgramName}} vmexport download vm1-export --volume=volume1 --output=disk.img.gz --port-forward --local-port=5410

	# Create a VirtualMachineExport and download the requested volume from it
	{{ProgramName}} vmexport download vm1-export --vm=vm1 --volume=volume1 --output=disk.img.gz

	# Create a VirtualMachineExport and get the VirtualMachine manifest in Yaml format
	{{ProgramName}} vmexport download vm1-export --vm=vm1 --manifest

	# Get the VirtualMachine manifest in Yaml format from an existing VirtualMachineExport including CDI header secret
	{{ProgramName}} vmexport download existing-export --include-secret --manifest"""  # noqa: E501


@dataclass
class Options:
    vm: str = ""
    snapshot: str = ""
    pvc: str = ""
    output: str = ""
    volume: str = ""
    format: str = ""
    insecure: bool = False
    keep_vme: bool = False
    delete_vme: bool = False
    ttl: str = ""
    manifest_output_format: str = ""
    service_url: str = ""
    port_forward: bool = False
    local_port: str = "0"
    retry: int = 0
    include_secret: bool = False
    manifest: bool = False
    labels: list[str] = field(default_factory=list)
    annotations: list[str] = field(default_factory=list)
    readiness_timeout: str = ""

    def source(self) -> dict[str, str] | None:
        if self.vm:
            return {"apiGroup": kinds.KUBEVIRT, "kind": "VirtualMachine", "name": self.vm}
        if self.snapshot:
            return {"apiGroup": kinds.SNAPSHOT, "kind": "VirtualMachineSnapshot", "name": self.snapshot}
        if self.pvc:
            return {"apiGroup": "", "kind": "PersistentVolumeClaim", "name": self.pvc}
        return None


def check_flags(function: str, o: Options, changed: frozenset[str] = frozenset()) -> None:
    """Go virtctl's flag checks for each function, in its order and words."""
    incompatible: tuple[tuple[str, object], ...]
    check_exclusive((("vm", "snapshot", "pvc"), ("keep-vme", "delete-vme")), changed)
    if function == "create":
        if o.source() is None:
            raise VirtctlError(ERR_REQUIRED_EXPORT_TYPE)
        incompatible = (("--output", o.output), ("--volume", o.volume), ("--insecure", o.insecure),
                        ("--keep-vme", o.keep_vme), ("--delete-vme", o.delete_vme),
                        ("--port-forward", o.port_forward), ("--local-port", o.local_port != "0"),
                        ("--format", o.format), ("--service-url", o.service_url), ("--retry", o.retry != 0))
    elif function == "delete":
        if o.source() is not None:
            raise VirtctlError("should not specify export kind")
        incompatible = (("--output", o.output), ("--volume", o.volume), ("--insecure", o.insecure),
                        ("--keep-vme", o.keep_vme), ("--delete-vme", o.delete_vme),
                        ("--port-forward", o.port_forward), ("--local-port", o.local_port != "0"),
                        ("--format", o.format), ("--service-url", o.service_url), ("--retry", o.retry != 0),
                        ("--readiness-timeout", o.readiness_timeout), ("--labels", o.labels),
                        ("--annotations", o.annotations))
    elif function == "download":
        incompatible = ()
        if o.port_forward:
            try:
                port = int(o.local_port)
            except ValueError:
                port = -1
            if not 0 <= port <= 65535:
                raise VirtctlError(ERR_INVALID_VALUE.format("--local-port", "valid port numbers"))
        if o.format not in ("", "gzip", "raw"):
            raise VirtctlError(ERR_INVALID_VALUE.format("--format", "gzip/raw"))
        if o.retry < 0:
            raise VirtctlError(ERR_INVALID_VALUE.format("--retry", "positive integers"))
        if o.manifest:
            if o.volume:
                raise VirtctlError(ERR_INCOMPATIBLE_FLAG.format("--volume", "--manifest"))
            if o.manifest_output_format.lower() not in ("", "json", "yaml"):
                raise VirtctlError(ERR_INVALID_VALUE.format("--manifest-output-format", "json/yaml"))
            if o.pvc:
                raise VirtctlError(ERR_INCOMPATIBLE_FLAG.format("--pvc", "--manifest"))
        if not o.manifest and not o.output:
            raise VirtctlError("warning: Binary output can mess up your terminal. Use '--output -' to output into "
                               "stdout anyway or consider '--output <FILE>' to save to a file")
    else:
        raise VirtctlError(f"invalid function '{function}'")
    for flag, value in incompatible:
        if value:
            raise VirtctlError(ERR_INCOMPATIBLE_FLAG.format(flag, function))


def _duration(text: str) -> float:
    try:
        return durations.parse_duration(text)
    except ValueError as e:
        raise VirtctlError(str(e)) from None


def _pairs(values: list[str]) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if sep:
            out[key] = value
    return out


def export_object(name: str, namespace: str, o: Options) -> dict[str, Any]:
    """The VirtualMachineExport Go virtctl creates (token Secret ``secret-<name>``)."""
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if _pairs(o.labels):
        meta["labels"] = _pairs(o.labels)
    if _pairs(o.annotations):
        meta["annotations"] = _pairs(o.annotations)
    spec: dict[str, Any] = {"tokenSecretRef": f"secret-{name}", "source": o.source()}
    if o.ttl:
        seconds = _duration(o.ttl)
        if seconds > 0:
            spec["ttlDuration"] = o.ttl
    return {"apiVersion": kinds.VMEXPORT.api_version, "kind": kinds.VMEXPORT.kind, "metadata": meta, "spec": spec}


def download_url(vme: dict[str, Any], o: Options) -> tuple[str, str, bool]:
    """(url, certificate, decompress) for the requested volume, as Go picks them: gzip when offered,
    raw otherwise; with ``--format raw`` a gzip link is gunzipped on the way."""
    ns, name = vme["metadata"].get("namespace"), vme["metadata"]["name"]
    links = (vme.get("status") or {}).get("links") or {}
    link = links.get("external") if not o.service_url and links.get("external") else links.get("internal")
    volumes = (link or {}).get("volumes") or []
    if not volumes:
        raise VirtctlError(f"unable to access the volume info from '{ns}/{name}' VirtualMachineExport")
    if len(volumes) > 1 and not o.volume:
        raise VirtctlError(f"detected more than one downloadable volume in '{ns}/{name}' VirtualMachineExport: "
                           "Select the expected volume using the --volume flag")
    url, chosen = "", ""
    for volume in volumes:
        if len(volumes) != 1 and volume.get("name") != o.volume:
            continue
        for fmt in volume.get("formats") or []:
            if fmt.get("format") in ("gzip", "tar.gz", "raw"):
                url, chosen = fmt.get("url") or "", fmt.get("format")
            if fmt.get("format") in ("gzip", "tar.gz"):
                break
    if not url:
        raise VirtctlError(f"unable to get a valid URL from '{ns}/{name}' VirtualMachineExport")
    if o.service_url:
        from urllib.parse import urlsplit, urlunsplit
        parts = urlsplit(url)
        url = urlunsplit(parts._replace(netloc=o.service_url))
    return url, (link or {}).get("cert") or "", o.format == "raw" and chosen != "raw"


class Export:
    def __init__(self, kv: Any, namespace: str, name: str, say: Callable[[str], None]):
        self.kv, self.namespace, self.name, self.say = kv, namespace, name, say

    def get(self) -> dict[str, Any] | None:
        try:
            return dict(self.kv.get(kinds.VMEXPORT, self.name, self.namespace))
        except NotFound:
            return None

    def create(self, o: Options) -> None:
        if self.get() is not None:
            raise VirtctlError(f"VirtualMachineExport '{self.namespace}/{self.name}' already exists")
        vme = self.kv.create(kinds.VMEXPORT, export_object(self.name, self.namespace, o), self.namespace)
        token = secrets.token_urlsafe(15)[:20]
        secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                  "metadata": {"name": f"secret-{self.name}", "namespace": self.namespace, "ownerReferences": [
                      {"apiVersion": kinds.VMEXPORT.api_version, "kind": kinds.VMEXPORT.kind, "name": self.name,
                       "uid": vme["metadata"].get("uid"), "controller": True, "blockOwnerDeletion": False}]},
                  "data": {TOKEN_KEY: base64.b64encode(token.encode()).decode()}}
        try:
            self.kv.create(kinds.SECRET, secret, self.namespace)
        except AlreadyExists:
            pass
        self.say(f"VirtualMachineExport '{self.namespace}/{self.name}' created succesfully\n")

    def delete(self) -> None:
        try:
            self.kv.delete(kinds.VMEXPORT, self.name, self.namespace)
        except NotFound:
            self.say(f"VirtualMachineExport '{self.namespace}/{self.name}' does not exist\n")
            return
        self.say(f"VirtualMachineExport '{self.namespace}/{self.name}' deleted succesfully\n")

    def wait_ready(self, timeout: float, internal: bool) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            vme = self.get()
            if vme is None:
                self.say(f"couldn't get VM Export {self.name}, waiting for it to be created...\n")
            elif vme.get("status"):
                status = vme["status"]
                links = status.get("links") or {}
                if status.get("phase") != "Ready":
                    self.say(f"waiting for VM Export {self.name} status to be ready...\n")
                elif not links.get("internal" if internal else "external"):
                    self.say(f"waiting for VM Export {self.name} {'internal' if internal else 'external'} links to "
                             "be available...\n")
                else:
                    return vme
            if time.monotonic() + WAIT_INTERVAL > deadline:
                raise VirtctlError("context deadline exceeded")
            time.sleep(WAIT_INTERVAL)

    def token(self, vme: dict[str, Any]) -> str:
        ref = (vme.get("status") or {}).get("tokenSecretRef") or ""
        secret = self.kv.get(kinds.SECRET, ref, self.namespace)
        return base64.b64decode((secret.get("data") or {}).get(TOKEN_KEY) or "").decode()


def run(function: str, name: str, o: Options, changed: frozenset[str]) -> None:
    check_flags(function, o, changed)
    if function == "download" and o.port_forward:
        raise VirtctlError(PORT_FORWARD_REFUSED)
    readiness = _duration(o.readiness_timeout) if o.readiness_timeout else DEFAULT_READINESS_TIMEOUT
    if o.ttl:
        _duration(o.ttl)
    to_stdout = function == "download" and o.output in ("", "-")
    out_stream = sys.stderr if to_stdout else sys.stdout

    def say(text: str) -> None:
        out_stream.write(text)
        out_stream.flush()

    inv = current()
    kv = inv.client()
    export = Export(kv, inv.namespace, name, say)
    try:
        if function == "create":
            export.create(o)
        elif function == "delete":
            export.delete()
        else:
            download_volume(export, o, readiness, say)
    except (APIError, ConnectionFailed) as e:
        raise VirtctlError(go_error(e)) from None


def manifest_urls(vme: dict[str, Any], o: Options) -> tuple[dict[str, str], str]:
    """({type: url}, certificate) of the export's manifests as Go picks them: the external link's,
    or with ``--service-url`` the internal link's with that host."""
    ns, name = vme["metadata"].get("namespace"), vme["metadata"]["name"]
    link = ((vme.get("status") or {}).get("links") or {}).get("internal" if o.service_url else "external") or {}
    manifests = link.get("manifests") or []
    if not manifests:
        raise VirtctlError(f"unable to access the manifest info from '{ns}/{name}' VirtualMachineExport")
    urls = {}
    for m in manifests:
        url = str(m.get("url") or "")
        if o.service_url:
            from urllib.parse import urlsplit, urlunsplit
            url = urlunsplit(urlsplit(url)._replace(netloc=o.service_url))
        urls[str(m.get("type"))] = url
    return urls, link.get("cert") or ""


def _fetch_once(export: Export, vme: dict[str, Any], o: Options, out: BinaryIO) -> None:
    """One attempt at the requested content into ``out``: the volume, or with ``--manifest`` the
    ``all`` manifest (and the ``auth-header-secret`` one with ``--include-secret``)."""
    from virtctl.client.export_download import download

    token = export.token(vme)
    if not o.manifest:
        url, cert, decompress = download_url(vme, o)
        download(url, token, out, cert_pem=cert, insecure=o.insecure, decompress=decompress)
        return
    urls, cert = manifest_urls(vme, o)
    accept = "application/json" if o.manifest_output_format.lower() == "json" else "application/yaml"
    for kind in ("all", "auth-header-secret") if o.include_secret else ("all",):
        download(urls.get(kind, ""), token, out, cert_pem=cert, insecure=o.insecure, decompress=False,
                 accept=accept)


def download_volume(export: Export, o: Options, readiness: float, say: Callable[[str], None]) -> None:
    created_here = False
    if o.source() is not None:
        try:
            export.create(o)
            created_here = True
        except VirtctlError as e:
            if "VirtualMachineExport" not in e.message or "already exists" not in e.message:
                raise
    delete_after = not o.manifest and (o.delete_vme or (created_here and not o.keep_vme))
    to_file = bool(o.output) and o.output != "-"
    try:
        for attempt in range(o.retry + 1):
            vme = export.wait_ready(readiness, internal=bool(o.service_url))
            tmp = f"{o.output}.part-{os.getpid()}" if to_file else ""
            try:
                if tmp:
                    with open(tmp, "wb") as f:
                        _fetch_once(export, vme, o, f)
                    os.replace(tmp, o.output)
                else:
                    _fetch_once(export, vme, o, sys.stdout.buffer)
                    sys.stdout.buffer.flush()
            except VirtctlError as e:
                if tmp:
                    try:
                        os.unlink(tmp)
                    except OSError:
                        pass
                if not e.message.startswith("bad status:"):
                    raise
                say(f"Bad status: {e.message.removeprefix('bad status: ')}\n")
                if attempt < o.retry:
                    say("Retrying...\n")
                    time.sleep(2)
                continue
            if to_file and not o.manifest:
                say("Download finished succesfully\n")
            return
        raise VirtctlError("retry count reached, exiting unsuccesfully")
    finally:
        if delete_after:
            export.delete()


@app.command("vmexport", cls=CobraCommand, short_help="Export a VM volume.", epilog=EXAMPLE)
def vmexport(ctx: typer.Context,
             args: Optional[list[str]] = typer.Argument(None, metavar="", show_default=False),
             vm: str = typer.Option("", "--vm", help="Sets VirtualMachine as vmexport kind and specifies the vm name.",
                                    show_default=False),
             snapshot: str = typer.Option("", "--snapshot", help="Sets VirtualMachineSnapshot as vmexport kind and "
                                          "specifies the snapshot name.", show_default=False),
             pvc: str = typer.Option("", "--pvc", help="Sets PersistentVolumeClaim as vmexport kind and specifies the "
                                     "PVC name.", show_default=False),
             output: str = typer.Option("", "--output", help="Specifies the output path of the volume to be "
                                        "downloaded.", show_default=False),
             volume: str = typer.Option("", "--volume", help="Specifies the volume to be downloaded.",
                                        show_default=False),
             format: str = typer.Option("", "--format", help="Used to specify the format of the downloaded image. "
                                        "There's two options: gzip (default) and raw.", show_default=False),
             insecure: bool = typer.Option(False, "--insecure", help="When used with the 'download' option, specifies "
                                           "that the http request should be insecure."),
             keep_vme: bool = typer.Option(False, "--keep-vme", help="When used with the 'download' option, specifies "
                                           "that the vmexport object should always be retained after the download "
                                           "finishes."),
             delete_vme: bool = typer.Option(False, "--delete-vme", help="When used with the 'download' option, "
                                             "specifies that the vmexport object should always be deleted after the "
                                             "download finishes."),
             ttl: str = typer.Option("", "--ttl", help="The time after the export was created that it is eligible to "
                                     "be automatically deleted, defaults to 2 hours by the server side if not "
                                     "specified", show_default=False),
             manifest_output_format: str = typer.Option("", "--manifest-output-format", help="Manifest output format, "
                                                        "defaults to Yaml. Valid options are yaml or json",
                                                        show_default=False),
             service_url: str = typer.Option("", "--service-url", help="Specify service url to use in the returned "
                                             "manifest, instead of the external URL in the Virtual Machine export "
                                             "status. This is useful for NodePorts or if you don't have an external "
                                             "URL configured", show_default=False),
             port_forward: bool = typer.Option(False, "--port-forward", help="Configures port-forwarding on a random "
                                               "port. Useful to download without proper ingress/route configuration"),
             local_port: str = typer.Option("0", "--local-port", help="Defines the specific port to be used in "
                                            "port-forward."),
             retry: int = typer.Option(0, "--retry", help="When export server returns a transient error, we retry "
                                       "this number of times before giving up"),
             include_secret: bool = typer.Option(False, "--include-secret", help="When used with manifest and set to "
                                                 "true include a secret that contains proper headers for CDI to import "
                                                 "using the manifest"),
             manifest: bool = typer.Option(False, "--manifest", help="Instead of downloading a volume, retrieve the VM "
                                           "manifest"),
             labels: list[str] = typer.Option([], "--labels", help="Specify custom labels to VM export object and its "
                                              "associated pod", show_default=False),
             annotations: list[str] = typer.Option([], "--annotations", help="Specify custom annotations to VM export "
                                                   "object and its associated pod", show_default=False),
             readiness_timeout: str = typer.Option("", "--readiness-timeout", help="Specify maximum wait for VM export "
                                                   "object to be ready", show_default=False)) -> None:
    from virtctl.cli.args import changed as was_changed

    function, name = exact_args(args, 2)
    o = Options(vm=vm, snapshot=snapshot, pvc=pvc, output=output, volume=volume, format=format, insecure=insecure,
                keep_vme=keep_vme, delete_vme=delete_vme, ttl=ttl, manifest_output_format=manifest_output_format,
                service_url=service_url, port_forward=port_forward, local_port=local_port, retry=retry,
                include_secret=include_secret, manifest=manifest, labels=string_slice(labels),
                annotations=string_slice(annotations), readiness_timeout=readiness_timeout)
    names = ("vm", "snapshot", "pvc", "keep_vme", "delete_vme")
    given = frozenset(n.replace("_", "-") for n in names if was_changed(ctx, n))
    run(function.lower(), name, o, given)
