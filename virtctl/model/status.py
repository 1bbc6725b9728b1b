"""KubeVirt object status, computed the way virt-controller does it (pure functions).

* conditions: ``set_condition`` keeps ``lastTransitionTime`` while the status does not change, so a
  reconcile that finds nothing new writes nothing new (idempotent status);
* VMI phases: final phases, Ready/Paused helpers;
* VM ``printableStatus``: the first matching entry of KubeVirt's precedence list wins;
* VM ``Ready`` condition: mirrors the VMI's, or ``VMINotExists`` when there is no VMI.
"""

from __future__ import annotations

from datetime import datetime, timezone

TYPE_CHECKING = False
if TYPE_CHECKING:                  # typing costs ≈ 3 ms of every command that prints a table
    from collections.abc import Iterable
    from typing import Any

# --- VMI phases -------------------------------------------------------------------------------
PHASE_UNSET = ""
PENDING = "Pending"
SCHEDULING = "Scheduling"
SCHEDULED = "Scheduled"
RUNNING = "Running"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
UNKNOWN = "Unknown"
FINAL_PHASES = frozenset({SUCCEEDED, FAILED})

# --- finalizers, labels, annotations (KubeVirt's names) ----------------------------------------
VMI_FINALIZER = "foregroundDeleteVirtualMachine"                      # set by the VMI controller
VM_CONTROLLER_FINALIZER = "kubevirt.io/virtualMachineControllerFinalize"  # VM controller, on VMs and VMIs
NODE_NAME_LABEL = "kubevirt.io/nodeName"
VM_GENERATION_ANNOTATION = "kubevirt.io/vm-generation"
VMI_NAME_LABEL = "kubevirt.io/vmi-name"                               # on migrations

# --- VM printableStatus values ------------------------------------------------------------------
class Printable:
    TERMINATING = "Terminating"
    STOPPING = "Stopping"
    MIGRATING = "Migrating"
    PAUSED = "Paused"
    RUNNING = "Running"
    PVC_NOT_FOUND = "ErrorPvcNotFound"
    DATAVOLUME_ERROR = "DataVolumeError"
    UNSCHEDULABLE = "ErrorUnschedulable"
    PROVISIONING = "Provisioning"
    WAITING_FOR_VOLUME_BINDING = "WaitingForVolumeBinding"
    ERR_IMAGE_PULL = "ErrImagePull"
    IMAGE_PULL_BACKOFF = "ImagePullBackOff"
    STARTING = "Starting"
    CRASH_LOOP_BACKOFF = "CrashLoopBackOff"
    STOPPED = "Stopped"
    WAITING_FOR_RECEIVER = "WaitingForReceiver"
    UNKNOWN = "Unknown"


# Condition reasons used by KubeVirt that the printable status looks at.
FAILED_PVC_NOT_FOUND = "FailedPvcNotFound"
ERR_IMAGE_PULL_REASON = "ErrImagePull"
IMAGE_PULL_BACKOFF_REASON = "ImagePullBackOff"
PAUSED_BY_USER = "PausedByUser"
PAUSED_BY_USER_MESSAGE = "VMI was paused by user"


def now_iso(now: datetime | None = None) -> str:
    return (now or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


# --- conditions -----------------------------------------------------------------------------------
def get_condition(obj: dict | None, ctype: str) -> dict | None:
    if not obj:
        return None
    for c in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == ctype:
            return c
    return None


def has_condition(obj: dict | None, ctype: str, status: str | None = None, reason: str | None = None) -> bool:
    c = get_condition(obj, ctype)
    if c is None:
        return False
    if status is not None and c.get("status") != status:
        return False
    return reason is None or c.get("reason") == reason


def set_condition(status: dict, ctype: str, cstatus: str, reason: str = "", message: str = "", *,
                  now: str | None = None, transition_time: str | None = None) -> None:
    """Add or update a condition in ``status['conditions']``.

    The transition time only moves when the status value changes: rewriting an unchanged
    condition must not produce a new object version on every reconcile.
    """
    now = now or now_iso()
    conds: list[dict] = status.setdefault("conditions", [])
    new: dict[str, Any] = {"type": ctype, "status": cstatus}
    if reason:
        new["reason"] = reason
    if message:
        new["message"] = message
    for i, old in enumerate(conds):
        if old.get("type") != ctype:
            continue
        if old.get("status") == cstatus:
            new["lastTransitionTime"] = old.get("lastTransitionTime") or transition_time or now
            if old.get("lastProbeTime"):
                new["lastProbeTime"] = old["lastProbeTime"]
        else:
            new["lastTransitionTime"] = transition_time or now
        conds[i] = new
        return
    new["lastTransitionTime"] = transition_time or now
    conds.append(new)


def remove_condition(status: dict, ctype: str) -> None:
    conds = status.get("conditions")
    if conds:
        status["conditions"] = [c for c in conds if c.get("type") != ctype]


# --- VMI helpers ----------------------------------------------------------------------------------
def phase(vmi: dict | None) -> str:
    return ((vmi or {}).get("status") or {}).get("phase") or ""


def is_final(vmi: dict | None) -> bool:
    return phase(vmi) in FINAL_PHASES


def is_running(vmi: dict | None) -> bool:
    return phase(vmi) == RUNNING


def is_deleting(obj: dict | None) -> bool:
    return bool(((obj or {}).get("metadata") or {}).get("deletionTimestamp"))


def is_paused(vmi: dict | None) -> bool:
    return has_condition(vmi, "Paused", "True")


def is_ready(vmi: dict | None) -> bool:
    return has_condition(vmi, "Ready", "True")


def was_running(vmi: dict | None) -> bool:
    """Whether the VMI ever reached Running (KubeVirt reads phaseTransitionTimestamps)."""
    for ts in ((vmi or {}).get("status") or {}).get("phaseTransitionTimestamps") or []:
        if ts.get("phase") == RUNNING:
            return True
    return False


def set_phase(status: dict, new_phase: str, now: str | None = None) -> bool:
    """Set ``status.phase`` and record the transition; False if it was already that phase."""
    if status.get("phase") == new_phase:
        return False
    status["phase"] = new_phase
    ts = status.setdefault("phaseTransitionTimestamps", [])
    ts.append({"phase": new_phase, "phaseTransitionTimestamp": now or now_iso()})
    return True


def is_migrating(vmi: dict | None) -> bool:
    ms = ((vmi or {}).get("status") or {}).get("migrationState")
    if not ms:
        return False
    return bool(ms.get("startTimestamp")) and not ms.get("endTimestamp") and not ms.get("completed") \
        and not ms.get("failed")


def owned_by(obj: dict | None, owner: dict | None) -> bool:
    """True when ``obj`` has a controller ownerReference to ``owner`` (same uid)."""
    if not obj or not owner:
        return False
    uid = (owner.get("metadata") or {}).get("uid")
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("uid") == uid:
            return True
    return False


def controller_ref(obj: dict | None) -> dict | None:
    for ref in ((obj or {}).get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


# --- VM printable status ----------------------------------------------------------------------------
def printable_status(vm: dict, vmi: dict | None, *, run_strategy: str, start_expected: bool = False,
                     stop_expected: bool = False, data_volume_error: bool = False,
                     provisioning: bool = False, unbound_pvc: bool = False,
                     set_to_start: bool = False) -> str:
    """KubeVirt's ``printableStatus``: the first matching state in precedence order.

    ``start_expected``/``stop_expected`` stand for virt-controller's creation/deletion
    expectations (a VMI create or delete that was asked for and not yet observed).
    """
    final = is_final(vmi)
    sync = get_condition(vmi, "Synchronized")
    sync_false_reason = sync.get("reason") if sync and sync.get("status") == "False" else None
    checks: Iterable[tuple[str, bool]] = (
        (Printable.TERMINATING, is_deleting(vm)),
        (Printable.STOPPING, vmi is not None and not final and (is_deleting(vmi) or stop_expected)),
        (Printable.MIGRATING, vmi is not None and is_migrating(vmi)),
        (Printable.PAUSED, vmi is not None and is_running(vmi) and is_paused(vmi)),
        (Printable.RUNNING, vmi is not None and is_running(vmi) and not is_paused(vmi)),
        (Printable.PVC_NOT_FOUND, sync_false_reason == FAILED_PVC_NOT_FOUND),
        (Printable.DATAVOLUME_ERROR, data_volume_error),
        (Printable.UNSCHEDULABLE, has_condition(vmi, "PodScheduled", "False", "Unschedulable")),
        (Printable.PROVISIONING, provisioning),
        (Printable.WAITING_FOR_VOLUME_BINDING, set_to_start and unbound_pvc),
        (Printable.ERR_IMAGE_PULL, sync_false_reason == ERR_IMAGE_PULL_REASON),
        (Printable.IMAGE_PULL_BACKOFF, sync_false_reason == IMAGE_PULL_BACKOFF_REASON),
        (Printable.STARTING, start_expected if vmi is None
         else phase(vmi) in (PHASE_UNSET, PENDING, SCHEDULING, SCHEDULED)),
        (Printable.CRASH_LOOP_BACKOFF, _crash_loop(vm, vmi, run_strategy, start_expected)),
        (Printable.STOPPED, final if vmi is not None else not start_expected),
        (Printable.WAITING_FOR_RECEIVER, (vmi is None) and run_strategy == "WaitAsReceiver"),
    )
    for value, matches in checks:
        if matches:
            return value
    return Printable.UNKNOWN


def _crash_loop(vm: dict, vmi: dict | None, run_strategy: str, start_expected: bool) -> bool:
    if vmi is not None and not is_final(vmi):
        return False
    if start_expected:
        return False
    sf = (vm.get("status") or {}).get("startFailure") or {}
    return (sf.get("consecutiveFailCount") or 0) > 0 and run_strategy in ("Always", "RerunOnFailure", "Once")


# --- VM conditions mirrored from the VMI ---------------------------------------------------------------
# Conditions of the VM that are not copied generically from the VMI.
_NOT_MIRRORED = {"Ready", "Failure", "RestartRequired"}


def sync_vm_conditions(vm_status: dict, vmi: dict | None, *, failure: tuple[str, str] | None = None,
                       now: str | None = None) -> None:
    """Ready mirrors the VMI's Ready condition; Failure reflects the last sync error; every
    other VMI condition (Paused, LiveMigratable, …) is copied, and dropped when the VMI loses it."""
    import copy  # controller side only: the CLI's tables need none of it

    now = now or now_iso()
    vmi_ready = get_condition(vmi, "Ready")
    if vmi is None:
        set_condition(vm_status, "Ready", "False", "VMINotExists", "VMI does not exist", now=now)
    elif vmi_ready is None:
        set_condition(vm_status, "Ready", "False", "VMIConditionMissing", "VMI is missing the Ready condition",
                      now=now)
    else:
        set_condition(vm_status, "Ready", vmi_ready.get("status", "False"), vmi_ready.get("reason", ""),
                      vmi_ready.get("message", ""), now=now,
                      transition_time=vmi_ready.get("lastTransitionTime"))
    if failure is None:
        remove_condition(vm_status, "Failure")
    else:
        set_condition(vm_status, "Failure", "True", failure[0], failure[1], now=now)
    if vmi is None:
        # a stopped VM keeps no stale Paused/LiveMigratable from its last VMI
        vm_status["conditions"] = [c for c in vm_status.get("conditions", []) if c.get("type") in _NOT_MIRRORED]
        return
    seen = set()
    for c in (vmi.get("status") or {}).get("conditions") or []:
        ctype = c.get("type")
        if not ctype or ctype in _NOT_MIRRORED:
            continue
        seen.add(ctype)
        conds = vm_status.setdefault("conditions", [])
        mirrored = copy.deepcopy(c)
        for i, old in enumerate(conds):
            if old.get("type") == ctype:
                conds[i] = mirrored
                break
        else:
            conds.append(mirrored)
    vm_status["conditions"] = [c for c in vm_status.get("conditions", [])
                               if c.get("type") in _NOT_MIRRORED or c.get("type") in seen]
