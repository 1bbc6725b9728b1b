"""The kinds registry: every KubeVirt resource this product serves and understands.

One :class:`Kind` per resource, with what discovery, the REST paths, ``kubectl get`` and
``virtctl get`` need (docs/compatibility.md#kinds-and-printer-columns,
docs/compatibility.md#discovery-and-openapi).
"""

from __future__ import annotations

from virtctl.errors import UsageError
from virtctl.model.record import Record


class Column(Record, frozen=True):
    """A printer column (a CRD's additionalPrinterColumns entry)."""

    name: str
    json_path: str          # e.g. ".status.phase", ".status.conditions[?(@.type=='Ready')].status"
    type: str = "string"    # string | date | boolean | integer
    priority: int = 0       # 1 = only with -o wide
    description: str = ""


AGE = Column("Age", ".metadata.creationTimestamp", "date")


def _ready(cond: str = "Ready") -> str:
    return f".status.conditions[?(@.type=='{cond}')].status"


class Kind(Record, frozen=True):
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...] = ()
    namespaced: bool = True
    has_status: bool = True
    columns: tuple[Column, ...] = (AGE,)
    categories: tuple[str, ...] = ("all",)
    served_versions: tuple[str, ...] = ()   # extra (deprecated) versions that alias this one
    extra_words: tuple[str, ...] = ()  # other words `virtctl get` accepts
    verbs: tuple[str, ...] = ()        # discovery verbs when not the full set (namespaces: no deletecollection)
    name_rule: str = "subdomain"       # metadata.name: subdomain | label (namespaces) | dns1035 (services)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def resource(self) -> str:
        """``virtualmachines.kubevirt.io``: how kubectl names the resource in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def collection_path(self, namespace: str | None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"

    def object_path(self, namespace: str | None, name: str) -> str:
        return f"{self.collection_path(namespace)}/{name}"

    def words(self) -> tuple[str, ...]:
        return (self.plural, self.singular, self.kind.lower(), *self.short_names, *self.extra_words)


KUBEVIRT = "kubevirt.io"
SNAPSHOT = "snapshot.kubevirt.io"
INSTANCETYPE = "instancetype.kubevirt.io"
SUBRESOURCES = "subresources.kubevirt.io"

VM = Kind(KUBEVIRT, "v1", "VirtualMachine", "virtualmachines", "virtualmachine", ("vm", "vms"),
          columns=(AGE, Column("Status", ".status.printableStatus"), Column("Ready", _ready())),
          served_versions=("v1alpha3",))
VMI = Kind(KUBEVIRT, "v1", "VirtualMachineInstance", "virtualmachineinstances", "virtualmachineinstance",
           ("vmi", "vmis"),
           columns=(AGE, Column("Phase", ".status.phase"), Column("IP", ".status.interfaces[0].ipAddress"),
                    Column("NodeName", ".status.nodeName"), Column("Ready", _ready()),
                    Column("Live-Migratable", _ready("LiveMigratable"), priority=1),
                    Column("Paused", _ready("Paused"), priority=1)),
           served_versions=("v1alpha3",))
VMIM = Kind(KUBEVIRT, "v1", "VirtualMachineInstanceMigration", "virtualmachineinstancemigrations",
            "virtualmachineinstancemigration", ("vmim", "vmims"),
            columns=(Column("Phase", ".status.phase"), Column("VMI", ".spec.vmiName")))
VMSNAPSHOT = Kind(SNAPSHOT, "v1beta1", "VirtualMachineSnapshot", "virtualmachinesnapshots",
                  "virtualmachinesnapshot", ("vmsnapshot", "vmsnapshots"),
                  columns=(Column("SourceKind", ".spec.source.kind"), Column("SourceName", ".spec.source.name"),
                           Column("Phase", ".status.phase"), Column("ReadyToUse", ".status.readyToUse", "boolean"),
                           Column("CreationTime", ".status.creationTime", "date"),
                           Column("Error", ".status.error.message")),
                  served_versions=("v1alpha1",))
VMSNAPSHOTCONTENT = Kind(SNAPSHOT, "v1beta1", "VirtualMachineSnapshotContent", "virtualmachinesnapshotcontents",
                         "virtualmachinesnapshotcontent", ("vmsnapshotcontent", "vmsnapshotcontents"),
                         columns=(Column("ReadyToUse", ".status.readyToUse", "boolean"),
                                  Column("CreationTime", ".status.creationTime", "date"),
                                  Column("Error", ".status.error.message")),
                         served_versions=("v1alpha1",))
VMRESTORE = Kind(SNAPSHOT, "v1beta1", "VirtualMachineRestore", "virtualmachinerestores", "virtualmachinerestore",
                 ("vmrestore", "vmrestores"),
                 columns=(Column("TargetKind", ".spec.target.kind"), Column("TargetName", ".spec.target.name"),
                          Column("Complete", ".status.complete", "boolean"),
                          Column("RestoreTime", ".status.restoreTime", "date")),
                 served_versions=("v1alpha1",))
INSTANCETYPE_NS = Kind(INSTANCETYPE, "v1beta1", "VirtualMachineInstancetype", "virtualmachineinstancetypes",
                       "virtualmachineinstancetype", ("vminstancetype", "vminstancetypes", "vmf", "vmfs"),
                       has_status=False, columns=())
INSTANCETYPE_CLUSTER = Kind(INSTANCETYPE, "v1beta1", "VirtualMachineClusterInstancetype",
                            "virtualmachineclusterinstancetypes", "virtualmachineclusterinstancetype",
                            ("vmclusterinstancetype", "vmclusterinstancetypes", "vmcf", "vmcfs"),
                            namespaced=False, has_status=False, columns=(), categories=())
PREFERENCE_NS = Kind(INSTANCETYPE, "v1beta1", "VirtualMachinePreference", "virtualmachinepreferences",
                     "virtualmachinepreference", ("vmpref", "vmprefs", "vmp", "vmps"), has_status=False, columns=())
PREFERENCE_CLUSTER = Kind(INSTANCETYPE, "v1beta1", "VirtualMachineClusterPreference",
                          "virtualmachineclusterpreferences", "virtualmachineclusterpreference", ("vmcp", "vmcps"),
                          namespaced=False, has_status=False, columns=(), categories=())

EXPORT = "export.kubevirt.io"
VMEXPORT = Kind(EXPORT, "v1", "VirtualMachineExport", "virtualmachineexports", "virtualmachineexport",
                ("vmexport", "vmexports"),
                columns=(Column("SourceKind", ".spec.source.kind"), Column("SourceName", ".spec.source.name"),
                         Column("Phase", ".status.phase")),
                served_versions=("v1beta1", "v1alpha1"))

ALL_KINDS: tuple[Kind, ...] = (VM, VMI, VMIM, VMSNAPSHOT, VMSNAPSHOTCONTENT, VMRESTORE,
                               INSTANCETYPE_NS, INSTANCETYPE_CLUSTER, PREFERENCE_NS, PREFERENCE_CLUSTER, VMEXPORT)

GROUPS: dict[str, str] = {}      # group -> preferred version
for _k in ALL_KINDS:
    GROUPS.setdefault(_k.group, _k.version)

# The Kubernetes kinds served beside KubeVirt's (docs/compatibility.md#core-api): the core group ""
# (``/api/v1``) and events.k8s.io, a second view of the same Event objects.
CORE = ""
EVENTS_GROUP = "events.k8s.io"
_NO_DELETECOLLECTION = ("create", "delete", "get", "list", "patch", "update", "watch")
_CORE_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
NAMESPACE = Kind(CORE, "v1", "Namespace", "namespaces", "namespace", ("ns",), namespaced=False,
                 columns=(Column("Status", ".status.phase"), AGE), categories=(), verbs=_NO_DELETECOLLECTION,
                 name_rule="label")
SECRET = Kind(CORE, "v1", "Secret", "secrets", "secret", has_status=False, categories=(),
              verbs=_CORE_VERBS)
CONFIGMAP = Kind(CORE, "v1", "ConfigMap", "configmaps", "configmap", ("cm",), has_status=False, categories=(),
              verbs=_CORE_VERBS)
SERVICE = Kind(CORE, "v1", "Service", "services", "service", ("svc",), categories=("all",), name_rule="dns1035",
              verbs=_CORE_VERBS)
EVENT = Kind(CORE, "v1", "Event", "events", "event", ("ev",), has_status=False, categories=(),
              verbs=_CORE_VERBS)
EVENT_V1 = Kind(EVENTS_GROUP, "v1", "Event", "events", "event", ("ev",), has_status=False, categories=(),
              verbs=_CORE_VERBS)

PVC = Kind(CORE, "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim", ("pvc",),
           categories=(), verbs=_CORE_VERBS)

CORE_KINDS: tuple[Kind, ...] = (NAMESPACE, SECRET, CONFIGMAP, SERVICE, EVENT, EVENT_V1, PVC)

# CDI's kinds (docs/standalone.md#volumes-as-objects): DataVolumes, the cluster's CDIConfig and the
# create-only UploadTokenRequest of the upload group
CDI = "cdi.kubevirt.io"
CDI_UPLOAD = "upload.cdi.kubevirt.io"
DATAVOLUME = Kind(CDI, "v1beta1", "DataVolume", "datavolumes", "datavolume", ("dv", "dvs"),
                  columns=(Column("Phase", ".status.phase", description="The phase the data volume is in"),
                           Column("Progress", ".status.progress", description="Transfer progress in percentage "
                                                                              "if known, N/A otherwise"),
                           Column("Restarts", ".status.restartCount", "integer",
                                  description="The number of times the transfer has been restarted."),
                           AGE))
CDICONFIG = Kind(CDI, "v1beta1", "CDIConfig", "cdiconfigs", "cdiconfig", namespaced=False, categories=())
UPLOADTOKENREQUEST = Kind(CDI_UPLOAD, "v1beta1", "UploadTokenRequest", "uploadtokenrequests",
                          "uploadtokenrequest", has_status=False, columns=(), categories=(), verbs=("create",))
CDI_KINDS: tuple[Kind, ...] = (DATAVOLUME, CDICONFIG, UPLOADTOKENREQUEST)

SERVED_KINDS: tuple[Kind, ...] = ALL_KINDS + CORE_KINDS + CDI_KINDS    # everything the controller stores and serves


def is_core(kind: Kind) -> bool:
    """A Kubernetes kind (validated by the controller's own rules, not KubeVirt's OpenAPI)."""
    return kind.group in (CORE, EVENTS_GROUP)


def has_own_rules(kind: Kind) -> bool:
    """A kind KubeVirt's OpenAPI does not describe: the core kinds and CDI's, validated by the
    controller's own rules."""
    return kind.group in (CORE, EVENTS_GROUP, CDI, CDI_UPLOAD)


_BY_WORD: dict[str, Kind] = {}
for _k in SERVED_KINDS:
    for _w in _k.words():
        _BY_WORD.setdefault(_w, _k)
        _BY_WORD.setdefault(f"{_w}.{_k.group}" if _k.group else _w, _k)


def lookup(word: str) -> Kind:
    """The kind named by a word the way kubectl accepts it (plural, singular, short name, Kind,
    optionally ``.group``), case-insensitively."""
    k = _BY_WORD.get(word.lower())
    if k is None:
        raise UsageError(f'the server doesn\'t have a resource type "{word}"')
    return k


def by_plural(group: str, plural: str) -> Kind | None:
    for k in SERVED_KINDS:
        if k.group == group and k.plural == plural:
            return k
    return None


def by_kind(api_version: str, kind: str) -> Kind | None:
    group, _, version = api_version.rpartition("/")
    for k in SERVED_KINDS:
        if k.group == group and k.kind == kind and (version == k.version or version in k.served_versions):
            return k
    return None
