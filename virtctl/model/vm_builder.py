"""Builders behind ``create vm|instancetype|preference`` (docs/compatibility.md#create-vm): pure functions from
options to a KubeVirt object, with Go virtctl's flag semantics and error texts.

Every error is ``failed to parse "--<flag>" flag: <reason>`` where Go virtctl says so. The only I/O
is reading ``--password-file`` (through an injectable reader).
"""

from __future__ import annotations

import random

from virtctl.errors import UsageError
from virtctl.model.names import label_errors
from virtctl.model.quantity import canonical, parse_quantity
from virtctl.model.record import Factory, Record

TYPE_CHECKING = False
if TYPE_CHECKING:                  # typing and pathlib cost ≈ 8 ms of every `create vm`: annotations only
    from collections.abc import Callable, Container
    from typing import Any

RUN_STRATEGIES = ("Always", "Manual", "Halted", "Once", "RerunOnFailure")
CLOUD_INIT_DISK = "cloudinitdisk"
SYSPREP_DISK = "sysprepdisk"
CLOUD_CONFIG_HEADER = "#cloud-config"

# parameter names each complex flag accepts (Go's param structs), in Go's order for help texts
P_VOLUME = (("name", "string"), ("src", "string"), ("bootorder", "uint"))
P_SYSPREP = (("src", "string"), ("type", "string"))
P_ACCESS_CRED = (("type", "string"), ("src", "string"), ("method", "string"), ("user", "string"))
_SIZE_TYPE_NAME_BOOT = (("size", "resource.Quantity"), ("type", "string"), ("name", "string"), ("bootorder", "uint"))
P_IMPORT: dict[str, tuple[tuple[str, str], ...]] = {
    "blank": _SIZE_TYPE_NAME_BOOT,
    "gcs": (("secretref", "string"), ("url", "string"), *_SIZE_TYPE_NAME_BOOT),
    "http": (("certconfigmap", "string"), ("extraheaders", "[]string"), ("secretextraheaders", "[]string"),
             ("secretref", "string"), ("url", "string"), *_SIZE_TYPE_NAME_BOOT),
    "imageio": (("certconfigmap", "string"), ("diskid", "string"), ("secretref", "string"), ("url", "string"),
                *_SIZE_TYPE_NAME_BOOT),
    "pvc": (("name", "string"), ("src", "string"), ("size", "resource.Quantity"), ("type", "string"),
            ("bootorder", "uint")),
    "registry": (("certconfigmap", "string"), ("imagestream", "string"), ("pullmethod", "string"),
                 ("secretref", "string"), ("url", "string"), *_SIZE_TYPE_NAME_BOOT),
    "s3": (("certconfigmap", "string"), ("secretref", "string"), ("url", "string"), *_SIZE_TYPE_NAME_BOOT),
    "vddk": (("backingfile", "string"), ("initimageurl", "string"), ("secretref", "string"),
             ("thumbprint", "string"), ("url", "string"), ("uuid", "string"), *_SIZE_TYPE_NAME_BOOT),
    "snapshot": (("name", "string"), ("src", "string"), ("size", "resource.Quantity"), ("type", "string"),
                 ("bootorder", "uint")),
    "ds": (("name", "string"), ("src", "string"), ("size", "resource.Quantity"), ("type", "string"),
           ("bootorder", "uint")),
}
SIZE_OPTIONAL = {"pvc", "snapshot", "ds"}


def supported(params: tuple[tuple[str, str], ...]) -> str:
    return ",".join(f"{n}:{t}" for n, t in params)


def flag_error(flag: str, reason: str) -> UsageError:
    return UsageError(f'failed to parse "--{flag}" flag: {reason}')


def random_suffix(n: int = 5) -> str:
    """apimachinery's rand.String alphabet (no vowels or ambiguous characters)."""
    return "".join(random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(n))


# ---------------------------------------------------------------- parameter strings

def split_params(text: str) -> dict[str, str]:
    """``key:value,key:value`` (value split on the first colon only, so image tags survive)."""
    if text == "":
        raise ValueError("params may not be empty")
    out: dict[str, str] = {}
    for part in text.split(","):
        if ":" not in part:
            raise ValueError(f"params need to have at least one colon: {part}")
        k, v = part.split(":", 1)
        out[k] = v
    return out


def map_params(flag: str, text: str, spec: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """Parse and type-check one flag value against its parameter spec (Go ``params.Map``)."""
    try:
        raw = split_params(text)
    except ValueError as e:
        raise flag_error(flag, str(e)) from None
    out: dict[str, Any] = {}
    for name, typ in spec:
        if name not in raw:
            continue
        value = raw.pop(name)
        if typ == "uint":
            if not value.isdigit() or int(value) > 0xFFFFFFFF:
                why = "value out of range" if value.isdigit() else "invalid syntax"
                raise flag_error(flag, f'failed to parse param "{name}": strconv.ParseUint: parsing "{value}": {why}')
            out[name] = int(value)
        elif typ == "resource.Quantity":
            try:
                parse_quantity(value)
            except ValueError as e:
                raise flag_error(flag, f'failed to parse param "{name}": {e}') from None
            out[name] = value
        elif typ == "[]string":
            out[name] = value.split(";")
        else:
            out[name] = value
    if raw:
        raise flag_error(flag, "unknown param(s): " + ",".join(f"{k}:{v}" for k, v in raw.items()))
    return out


def split_prefixed_name(text: str) -> tuple[str, str]:
    """``prefix/name`` or ``name`` (Go ``params.SplitPrefixedName``)."""
    parts = text.split("/")
    if len(parts) == 1:
        prefix, name = "", parts[0]
    elif len(parts) == 2:
        prefix, name = parts
    else:
        raise ValueError(f"invalid count {len(parts)} of slashes in prefix/name")
    if not name:
        raise ValueError("name cannot be empty")
    return prefix, name


def src_name(flag: str, p: dict[str, str]) -> tuple[str, str]:
    """The ``src:[namespace/]name`` parameter of a flag, split (Go's error texts)."""
    if not p.get("src"):
        raise flag_error(flag, "src must be specified")
    try:
        return split_prefixed_name(p["src"])
    except ValueError as e:
        raise flag_error(flag, f"src invalid: {e}") from None


def _local_src_name(flag: str, p: dict[str, str], what: str) -> str:
    """The ``src`` parameter's name where a namespace is refused (the object must be the VM's own)."""
    ns, name = src_name(flag, p)
    if ns:
        raise flag_error(flag, f'not allowed to specify namespace of {what} "{name}"')
    return name


def _label_check(flag: str, name: str) -> None:
    errs = label_errors(name)
    if errs:
        raise flag_error(flag, f'invalid name "{name}": {",".join(errs)}')


# ---------------------------------------------------------------- create vm

class VMOptions(Record):
    """The flags of ``create vm`` (a Record: dataclasses costs ≈ 9 ms of start-up)."""

    name: str = ""
    run_strategy: str = "Always"
    termination_grace_period: int = 180
    memory: str = "512Mi"
    instancetype: str = ""
    infer_instancetype: bool = True
    infer_instancetype_from: str = ""
    preference: str = ""
    infer_preference: bool = True
    infer_preference_from: str = ""
    containerdisk_volumes: list[str] = Factory(list)
    pvc_volumes: list[str] = Factory(list)
    volume_import: list[str] = Factory(list)
    sysprep_volume: str = ""
    user: str = ""
    password_file: str = ""
    ssh_keys: list[str] = Factory(list)
    ga_manage_ssh: bool = False
    access_creds: list[str] = Factory(list)
    cloud_init: str = "nocloud"
    cloud_init_user_data: str = ""
    cloud_init_network_data: str = ""
    datasource_volumes: list[str] = Factory(list)     # deprecated
    clone_pvc_volumes: list[str] = Factory(list)      # deprecated
    blank_volumes: list[str] = Factory(list)          # deprecated
    namespace: str = ""                  # only when -n was given explicitly
    changed: set[str] = Factory(set)                   # flags given on the command line


VM_EXCLUSIVE_GROUPS: tuple[tuple[str, ...], ...] = (
    ("memory", "instancetype", "infer-instancetype", "infer-instancetype-from"),
    ("preference", "infer-preference", "infer-preference-from"),
    ("cloud-init-user-data", "user"),
    ("cloud-init-user-data", "password-file"),
    ("cloud-init-user-data", "ssh-key"),
    ("cloud-init-user-data", "ga-manage-ssh"),
)


def check_exclusive(groups: tuple[tuple[str, ...], ...], changed: Container[str]) -> None:
    """cobra's MarkFlagsMutuallyExclusive check and message (flags by their dashed names)."""
    for group in groups:
        given = sorted(f for f in group if f in changed)
        if len(given) > 1:
            raise UsageError(f"if any flags in the group [{' '.join(group)}] are set none of the others can be; "
                             f"[{' '.join(given)}] were all set")


class _VMBuild:
    def __init__(self, o: VMOptions, rand: Callable[[], str], read_file: Callable[[str], str]):
        self.o = o
        self.rand = rand
        self.read_file = read_file
        self.boot_orders: dict[int, str] = {}
        self.messages: list[str] = []        # stderr text (deprecations, warnings), in order, with newlines
        self.changed = set(o.changed)

    # -- helpers
    @property
    def spec(self) -> dict:
        return self.vm["spec"]["template"]["spec"]

    def volumes(self) -> list[dict]:
        return self.spec.setdefault("volumes", [])

    def volume(self, name: str) -> dict | None:
        return next((v for v in self.spec.get("volumes", []) if v["name"] == name), None)

    def must_not_exist(self, flag: str, name: str) -> None:
        if self.volume(name) is not None:
            raise flag_error(flag, f'there is already a volume with name "{name}"')

    def add_boot_disk(self, flag: str, name: str, boot_order: int | None) -> None:
        if boot_order is None:
            return
        if boot_order == 0:
            raise flag_error(flag, "bootorder must be greater than 0")
        if boot_order in self.boot_orders:
            raise flag_error(flag, f"bootorder {boot_order} was specified multiple times")
        self.spec["domain"]["devices"].setdefault("disks", []).append({"name": name, "bootOrder": boot_order})
        self.boot_orders[boot_order] = name

    # -- the steps, in Go's order
    def run(self) -> dict:
        o = self.o
        if not o.name:
            o.name = "vm-" + self.rand()
        try:
            memory = canonical(o.memory)
        except ValueError as e:
            raise flag_error("memory", str(e)) from None
        meta: dict[str, Any] = {"name": o.name, "creationTimestamp": None}
        if o.namespace:
            meta["namespace"] = o.namespace
        self.vm: dict[str, Any] = {
            "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": meta,
            "spec": {"runStrategy": o.run_strategy,
                     "template": {"metadata": {"creationTimestamp": None},
                                  "spec": {"domain": {"devices": {}, "memory": {"guest": memory}, "resources": {}},
                                           "terminationGracePeriodSeconds": o.termination_grace_period}}},
            "status": {},
        }
        steps: list[tuple[str, Callable[[], None]]] = [
            ("run-strategy", self.run_strategy), ("instancetype", self.instancetype),
            ("preference", self.preference), ("volume-containerdisk", self.containerdisks),
            ("volume-pvc", self.pvcs), ("volume-datasource", lambda: self.alias("volume-datasource", "ds")),
            ("volume-clone-pvc", lambda: self.alias("volume-clone-pvc", "pvc")),
            ("volume-blank", lambda: self.alias("volume-blank", "blank")),
            ("volume-import", self.imports), ("volume-sysprep", self.sysprep),
            ("access-cred", self.access_creds)]
        for flag, step in steps:
            if flag in self.changed:
                step()
        self.cloud_init()
        self.infer()
        return self.vm

    def run_strategy(self) -> None:
        for rs in RUN_STRATEGIES:
            if rs.lower() == self.o.run_strategy.lower():
                self.vm["spec"]["runStrategy"] = rs
                return
        raise flag_error("run-strategy", f'invalid run strategy "{self.o.run_strategy}", supported values are: '
                         + ", ".join(RUN_STRATEGIES))

    def _matcher(self, flag: str, value: str, kinds: tuple[str, str], what: str) -> dict:
        try:
            kind, name = split_prefixed_name(value)
        except ValueError as e:
            raise flag_error(flag, str(e)) from None
        kind = kind.lower()
        if kind and kind not in kinds:
            raise flag_error(flag, f'invalid {what} kind "{kind}", supported values are: {kinds[0]}, {kinds[1]}')
        return {"name": name, **({"kind": kind} if kind else {})}

    def instancetype(self) -> None:
        self.spec["domain"].pop("memory", None)
        self.vm["spec"]["instancetype"] = self._matcher(
            "instancetype", self.o.instancetype,
            ("virtualmachineinstancetype", "virtualmachineclusterinstancetype"), "instancetype")

    def preference(self) -> None:
        self.vm["spec"]["preference"] = self._matcher(
            "preference", self.o.preference,
            ("virtualmachinepreference", "virtualmachineclusterpreference"), "preference")

    def containerdisks(self) -> None:
        flag = "volume-containerdisk"
        for i, text in enumerate(self.o.containerdisk_volumes):
            p = map_params(flag, text, P_VOLUME)
            if not p.get("src"):
                raise flag_error(flag, "src must be specified")
            name = p.get("name") or f"{self.vm['metadata']['name']}-containerdisk-{i}"
            _label_check(flag, name)
            self.must_not_exist(flag, name)
            self.volumes().append({"name": name, "containerDisk": {"image": p["src"]}})
            self.add_boot_disk(flag, name, p.get("bootorder"))

    def pvcs(self) -> None:
        flag = "volume-pvc"
        for text in self.o.pvc_volumes:
            p = map_params(flag, text, P_VOLUME)
            claim = _local_src_name(flag, p, "pvc")
            name = p.get("name") or claim
            _label_check(flag, name)
            self.must_not_exist(flag, name)
            self.volumes().append({"name": name, "persistentVolumeClaim": {"claimName": claim}})
            self.add_boot_disk(flag, name, p.get("bootorder"))

    def alias(self, flag: str, vol_type: str) -> None:
        values = {"volume-datasource": self.o.datasource_volumes, "volume-clone-pvc": self.o.clone_pvc_volumes,
                  "volume-blank": self.o.blank_volumes}[flag]
        self.messages.append(f"Flag --{flag} has been deprecated, use flag --volume-import instead\n")
        for text in values:
            if text == "":
                raise flag_error("volume-import", "params may not be empty")
            # prepended, as Go does, to keep its documented boot order
            self.o.volume_import.insert(0, f"type:{vol_type},{text}")
        self.changed.add("volume-import")

    def imports(self) -> None:
        flag = "volume-import"
        for text in self.o.volume_import:
            try:
                raw = split_params(text)
            except ValueError as e:
                raise flag_error(flag, str(e)) from None
            if "type" not in raw:
                raise flag_error(flag, "type must be specified")
            src_type = raw["type"]
            if src_type not in P_IMPORT:
                raise flag_error(flag, f'invalid volume import type "{src_type}", see help for supported values')
            p = map_params(flag, text, P_IMPORT[src_type])
            dv_spec = _import_source(flag, src_type, p)
            if "size" not in raw and src_type not in SIZE_OPTIONAL:
                raise flag_error(flag, "size must be specified")
            name = raw["name"] if "name" in raw else "imported-volume-" + self.rand()
            _label_check(flag, name)
            self.must_not_exist(flag, name)
            storage: dict[str, Any] = {"resources": {}}
            if raw.get("size"):
                storage["resources"] = {"requests": {"storage": canonical(raw["size"])}}
            dv_spec["storage"] = storage
            self.vm["spec"].setdefault("dataVolumeTemplates", []).append(
                {"metadata": {"creationTimestamp": None, "name": name}, "spec": dv_spec})
            self.volumes().append({"name": name, "dataVolume": {"name": name}})
            self.add_boot_disk(flag, name, p.get("bootorder"))

    def sysprep(self) -> None:
        flag = "volume-sysprep"
        p = map_params(flag, self.o.sysprep_volume, P_SYSPREP)
        _local_src_name(flag, p, "configmap or secret")
        src_type = p.get("type") or "configmap"
        self.must_not_exist(flag, SYSPREP_DISK)
        if src_type.lower() == "configmap":
            source = {"configMap": {"name": p["src"]}}
        elif src_type.lower() == "secret":
            source = {"secret": {"name": p["src"]}}
        else:
            raise flag_error(flag, f'invalid sysprep source type "{src_type}", supported values are: '
                             "configmap, secret")
        self.volumes().append({"name": SYSPREP_DISK, "sysprep": source})

    def access_creds(self) -> None:
        flag = "access-cred"
        for text in self.o.access_creds:
            p = map_params(flag, text, P_ACCESS_CRED)
            _local_src_name(flag, p, "secret")
            kind = (p.get("type") or "").lower()
            if kind in ("ssh", ""):
                cred = self._ssh_cred(p)
            elif kind == "password":
                method = p.get("method") or ""
                if method and method.lower() != "ga":
                    raise flag_error(flag, f'invalid access credentials password method "{method}", '
                                     "supported values are: ga")
                if p.get("user"):
                    raise flag_error(flag, "user cannot be specified with selected access credential type and method")
                cred = {"userPassword": {"source": {"secret": {"secretName": p["src"]}},
                                         "propagationMethod": {"qemuGuestAgent": {}}}}
            else:
                raise flag_error(flag, f'invalid access credential type "{p.get("type")}", supported values are: '
                                 "ssh, password")
            self.spec.setdefault("accessCredentials", []).append(cred)

    def _ssh_cred(self, p: dict) -> dict:
        flag = "access-cred"
        method = (p.get("method") or "").lower()
        if method in ("ga", ""):
            user = p.get("user") or self.o.user
            if not user:
                raise flag_error(flag, 'user must be specified with access credential ssh method ga '
                                 '("--user" flag or param "user")')
            if "ga-manage-ssh" not in self.changed:
                # the guest agent may only write authorized_keys with this SELinux boolean on
                self.o.ga_manage_ssh = True
                self.changed.add("ga-manage-ssh")
            propagation: dict = {"qemuGuestAgent": {"users": [user]}}
        elif method in ("nocloud", "configdrive"):
            if p.get("user"):
                raise flag_error(flag, "user cannot be specified with selected access credential type and method")
            if "cloud-init" not in self.changed:
                self.o.cloud_init = method
                self.changed.add("cloud-init")
            if self.o.cloud_init.lower() != method:
                raise flag_error(flag, f"method param and value passed to --cloud-init have to match: "
                                 f"{method} vs {self.o.cloud_init}")
            propagation = {"noCloud": {}} if method == "nocloud" else {"configDrive": {}}
        else:
            raise flag_error(flag, f'invalid access credentials ssh method "{p.get("method")}", supported values '
                             "are: ga, nocloud, configdrive")
        return {"sshPublicKey": {"source": {"secret": {"secretName": p["src"]}}, "propagationMethod": propagation}}

    # -- cloud-init
    def cloud_init(self) -> None:
        o = self.o
        cloud_flags = {"user", "password-file", "ssh-key", "ga-manage-ssh", "cloud-init", "cloud-init-user-data",
                       "cloud-init-network-data"}
        if not (cloud_flags & self.changed):
            return
        if "password-file" in self.changed:
            self.messages.append("WARNING: --password-file: The password is stored in cleartext in the VM "
                                 "definition!\n")
        if self.volume(CLOUD_INIT_DISK) is not None:
            raise UsageError(f'there is already a volume with name "{CLOUD_INIT_DISK}"')
        kind = o.cloud_init.lower()
        if kind == "none":
            if {"password-file", "ssh-key", "ga-manage-ssh", "cloud-init-user-data",
                    "cloud-init-network-data"} & self.changed:
                # Go prints this without a trailing newline
                self.messages.append("WARNING: --cloud-init: was set to none, not creating a data source although "
                                     "other cloud-init options were set")
            return
        if kind not in ("nocloud", "configdrive"):
            raise flag_error("cloud-init", f'invalid cloud-init data source type "{o.cloud_init}", supported values '
                             "are: nocloud, configdrive, none")
        src: dict[str, Any] = {}
        if o.cloud_init_network_data:
            src["networkDataBase64"] = o.cloud_init_network_data
        if o.cloud_init_user_data:
            src["userDataBase64"] = o.cloud_init_user_data
        else:
            src["userData"] = self.user_data()
        if "cloud-init" not in self.changed and src.get("userData") == CLOUD_CONFIG_HEADER \
                and not src.get("networkDataBase64"):
            return               # nothing but the header: no data source
        key = "cloudInitNoCloud" if kind == "nocloud" else "cloudInitConfigDrive"
        self.volumes().append({"name": CLOUD_INIT_DISK, key: src})

    def user_data(self) -> str:
        o = self.o
        config = CLOUD_CONFIG_HEADER
        if o.user:
            config += "\nuser: " + o.user
        if o.password_file:
            try:
                password = self.read_file(o.password_file).strip()
            except OSError as e:
                raise flag_error("password-file", f"open {o.password_file}: "
                                 f"{(e.strerror or str(e)).lower()}") from None
            if password:
                config += f"\npassword: {password}\nchpasswd: {{ expire: False }}"
        if o.ssh_keys:
            config += "\nssh_authorized_keys:" + "".join("\n  - " + k for k in o.ssh_keys)
        if o.ga_manage_ssh:
            config += "\nruncmd:\n  - [ setsebool, -P, 'virt_qemu_ga_manage_ssh', 'on' ]"
        return config

    # -- inference
    def infer(self) -> None:
        o = self.o
        explicit_it = bool({"infer-instancetype", "infer-instancetype-from"} & self.changed)
        explicit_pref = bool({"infer-preference", "infer-preference-from"} & self.changed)
        if o.infer_instancetype and not o.instancetype and "memory" not in self.changed:
            try:
                vol = self._infer_volume(o.infer_instancetype_from)
                self.vm["spec"]["instancetype"] = {"inferFromVolume": vol}
                if explicit_it:
                    self.spec["domain"].pop("memory", None)
                else:
                    self.vm["spec"]["instancetype"]["inferFromVolumeFailurePolicy"] = "Ignore"
            except UsageError:
                if explicit_it:
                    raise
        if o.infer_preference and not o.preference:
            try:
                vol = self._infer_volume(o.infer_preference_from)
                self.vm["spec"]["preference"] = {"inferFromVolume": vol}
                if not explicit_pref:
                    self.vm["spec"]["preference"]["inferFromVolumeFailurePolicy"] = "Ignore"
            except UsageError:
                if explicit_pref:
                    raise

    def _infer_volume(self, chosen: str) -> str:
        name = chosen
        if not name:
            if not self.spec.get("volumes"):
                raise UsageError("at least one volume is needed to infer an instance type or preference")
            name = self.boot_orders[min(self.boot_orders)] if self.boot_orders else self.spec["volumes"][0]["name"]
        vol = self.volume(name)
        if vol is None:
            raise UsageError(f'there is no volume with name "{name}"')
        if "dataVolume" in vol:
            for dvt in self.vm["spec"].get("dataVolumeTemplates", []):
                if dvt["metadata"]["name"] == vol["dataVolume"]["name"]:
                    source = dvt["spec"].get("source") or {}
                    ref = dvt["spec"].get("sourceRef") or {}
                    if {"pvc", "registry", "snapshot"} & set(source) or ref.get("kind") == "DataSource":
                        return name
                    raise UsageError("this datavolume is not valid to infer an instancetype or preference from "
                                     "(source needs to be PVC, Registry or Snapshot, sourceRef needs to be DataSource)")
            return name
        if "persistentVolumeClaim" in vol:
            return name
        raise UsageError("inference of instancetype or preference works only with datasources, datavolumes or pvcs")


def _import_source(flag: str, src_type: str, p: dict) -> dict:
    """The DataVolume spec (source or sourceRef) for one ``--volume-import``."""
    def need(*keys: str, msg: str) -> None:
        if any(not p.get(k) for k in keys):
            raise flag_error(flag, msg)

    def omit_empty(d: dict) -> dict:
        return {k: v for k, v in d.items() if v not in (None, "", [])}

    if src_type == "blank":
        return {"source": {"blank": {}}}
    if src_type == "gcs":
        need("url", msg="url is required with gcs volume source")
        return {"source": {"gcs": omit_empty({"url": p["url"], "secretRef": p.get("secretref")})}}
    if src_type == "http":
        need("url", msg="url is required with http volume source")
        return {"source": {"http": omit_empty({
            "url": p["url"], "secretRef": p.get("secretref"), "certConfigMap": p.get("certconfigmap"),
            "extraHeaders": p.get("extraheaders"), "secretExtraHeaders": p.get("secretextraheaders")})}}
    if src_type == "imageio":
        if not p.get("url") or not p.get("diskid"):
            raise flag_error(flag, "url and diskid are both required with imageio volume source")
        return {"source": {"imageio": omit_empty({"url": p["url"], "diskId": p["diskid"],
                                                  "secretRef": p.get("secretref"),
                                                  "certConfigMap": p.get("certconfigmap")})}}
    if src_type in ("pvc", "snapshot"):
        ns, name = src_name(flag, p)
        if not ns:
            raise flag_error(flag, f'namespace of {src_type} "{name}" must be specified')
        return {"source": {src_type: {"name": name, "namespace": ns}}}
    if src_type == "registry":
        pull = p.get("pullmethod") or ""
        if pull and pull not in ("pod", "node"):
            raise flag_error(flag, "pullmethod must be set to pod or node")
        if bool(p.get("url")) == bool(p.get("imagestream")):
            raise flag_error(flag, "exactly one of url or imagestream must be defined")
        return {"source": {"registry": omit_empty({
            "pullMethod": pull, "certConfigMap": p.get("certconfigmap"), "imageStream": p.get("imagestream"),
            "url": p.get("url"), "secretRef": p.get("secretref")})}}
    if src_type == "s3":
        need("url", msg="url is required with s3 volume source")
        return {"source": {"s3": omit_empty({"url": p["url"], "certConfigMap": p.get("certconfigmap"),
                                             "secretRef": p.get("secretref")})}}
    if src_type == "vddk":
        for key in ("url", "uuid", "thumbprint", "secretref", "backingfile"):
            need(key, msg=f"{key} is required with vddk volume source")
        return {"source": {"vddk": omit_empty({
            "url": p["url"], "uuid": p["uuid"], "thumbprint": p["thumbprint"], "secretRef": p["secretref"],
            "initImageURL": p.get("initimageurl"), "backingFile": p["backingfile"]})}}
    # ds: a DataSource reference, namespace optional
    ns, name = src_name(flag, p)
    ref: dict[str, Any] = {"kind": "DataSource", "name": name}
    if ns:
        ref["namespace"] = ns
    return {"sourceRef": ref}


def read_text(path: str) -> str:
    """A file's text (``--password-file``)."""
    with open(path) as f:
        return f.read()


def build_vm(options: VMOptions, *, rand: Callable[[], str] = random_suffix,
             read_file: Callable[[str], str] = read_text) -> tuple[dict, list[str]]:
    """The VirtualMachine for these options and the stderr text Go virtctl prints on the way."""
    check_exclusive(VM_EXCLUSIVE_GROUPS, options.changed)
    build = _VMBuild(options, rand, read_file)
    vm = build.run()
    return vm, build.messages


# ---------------------------------------------------------------- create instancetype / preference

def _name_device_list(flag: str, values: list[str]) -> list[dict]:
    out = []
    for text in values:
        p = map_params(flag, text, (("name", "string"), ("devicename", "string")))
        if not p.get("name"):
            raise flag_error(flag, "name must be specified")
        if not p.get("devicename"):
            raise flag_error(flag, "devicename must be specified")
        out.append({"deviceName": p["devicename"], "name": p["name"]})
    return out


def _instancetype_meta(name: str, namespace: str, ns_kind: bool, prefix: str,
                       rand: Callable[[], str]) -> dict[str, Any]:
    """An instancetype's or preference's metadata; a generated name is ``[cluster]<prefix><random>``."""
    meta: dict[str, Any] = {"creationTimestamp": None,
                            "name": name or (("" if ns_kind else "cluster") + prefix + rand())}
    if namespace:
        meta["namespace"] = namespace
    return meta


def build_instancetype(*, cpu: int | None, memory: str, name: str = "", namespaced: bool = False,
                       namespace: str = "", gpus: list[str] | None = None, hostdevices: list[str] | None = None,
                       iothreads_policy: str = "", rand: Callable[[], str] = random_suffix) -> dict:
    """VirtualMachine(Cluster)Instancetype (instancetype.kubevirt.io/v1beta1)."""
    if cpu is None or cpu <= 0:
        raise flag_error("cpu", "cpu value must be greater than zero")
    try:
        mem = canonical(memory)
    except ValueError as e:
        raise flag_error("memory", str(e)) from None
    ns_kind = namespaced or bool(namespace)
    kind = "VirtualMachineInstancetype" if ns_kind else "VirtualMachineClusterInstancetype"
    meta = _instancetype_meta(name, namespace, ns_kind, "instancetype-", rand)
    spec: dict[str, Any] = {"cpu": {"guest": cpu}, "memory": {"guest": mem}}
    if gpus:
        spec["gpus"] = _name_device_list("gpu", gpus)
    if hostdevices:
        spec["hostDevices"] = _name_device_list("hostdevice", hostdevices)
    if iothreads_policy:
        if iothreads_policy not in ("auto", "shared"):
            raise flag_error("iothreadspolicy", f'invalid IOThreadsPolicy "{iothreads_policy}", supported values '
                             "are: auto, shared")
        spec["ioThreadsPolicy"] = iothreads_policy
    return {"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": kind, "metadata": meta, "spec": spec}


CPU_TOPOLOGIES = ("sockets", "cores", "threads", "spread")


def build_preference(*, name: str = "", namespaced: bool = False, namespace: str = "",
                     volume_storage_class: str = "", machine_type: str = "", cpu_topology: str = "",
                     rand: Callable[[], str] = random_suffix) -> dict:
    """VirtualMachine(Cluster)Preference (instancetype.kubevirt.io/v1beta1)."""
    ns_kind = namespaced or bool(namespace)
    kind = "VirtualMachinePreference" if ns_kind else "VirtualMachineClusterPreference"
    meta = _instancetype_meta(name, namespace, ns_kind, "preference-", rand)
    spec: dict[str, Any] = {}
    if volume_storage_class:
        spec["volumes"] = {"preferredStorageClassName": volume_storage_class}
    if machine_type:
        spec["machine"] = {"preferredMachineType": machine_type}
    if cpu_topology:
        if cpu_topology not in CPU_TOPOLOGIES:
            raise flag_error("cpu-topology", 'CPU topology must have a value of sockets, cores, threads or spread')
        spec["cpu"] = {"preferredCPUTopology": cpu_topology}
    return {"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": kind, "metadata": meta, "spec": spec}
