"""KubeVirt's ``subresources.kubevirt.io`` lifecycle actions, with virt-api's rules, status codes and
messages: VM start/stop/restart/migrate (202), VMI pause/unpause/softreboot/reset (200), and volume
hotplug, addvolume/removevolume on VMs and VMIs (202), and memorydump/removememorydump on VMs (202).

VM actions only write the VM (runStrategy or status.stateChangeRequests, as JSON patches with a
``test`` of the value they read, like virt-api) and leave the rest to the VM controller. VMI
actions call the hypervisor; the VMI's conditions then follow from libvirt's answer.
"""

from __future__ import annotations

from typing import Any

from virtctl.controller.subresource import ActionContext, ActionResult
from virtctl.controller.virt.hypervisor import DomainState, Hypervisor, domain_name
from virtctl.errors import APIError, BadRequest, Conflict, Forbidden, InternalError, Invalid, NotFound
from virtctl.model import hotplug, kinds, memorydump
from virtctl.model import runstrategy as rs
from virtctl.model import status as st
from virtctl.model.quantity import to_int

JSON_PATCH = "application/json-patch+json"
VM_RESOURCE = "virtualmachine"
VMI_RESOURCE = "virtualmachineinstance"


# --- errors as virt-api words them ----------------------------------------------------------------------
def _details(resource: str, name: str) -> dict:
    return {"name": name, "group": kinds.KUBEVIRT, "kind": resource}


def conflict(resource: str, name: str, message: str) -> Conflict:
    return Conflict(f'Operation cannot be fulfilled on {resource}.{kinds.KUBEVIRT} "{name}": {message}',
                    details=_details(resource, name))


def not_found(resource: str, name: str) -> NotFound:
    return NotFound(f'{resource}.{kinds.KUBEVIRT} "{name}" not found', details=_details(resource, name))


def forbidden(resource: str, name: str, message: str) -> Forbidden:
    return Forbidden(f'{resource}.{kinds.KUBEVIRT} "{name}" is forbidden: {message}',
                     details=_details(resource, name))


def internal(message: str) -> InternalError:
    # virt-api's cause here carries a message only (no reason, no field)
    return InternalError(f"Internal error occurred: {message}", details={"causes": [{"message": message}]})


# --- request bodies ---------------------------------------------------------------------------------------
def _options(ctx: ActionContext, fields: dict[str, type | tuple]) -> dict:
    body = ctx.body if ctx.body not in (None, b"", "") else {}
    if not isinstance(body, dict):
        raise BadRequest("Can not unmarshal Request body to struct, error: json: cannot unmarshal "
                         f"{type(body).__name__} into Go value of type struct")
    for key, types in fields.items():
        value = body.get(key)
        if value is not None and (not isinstance(value, types) or isinstance(value, bool) and bool not in
                                  (types if isinstance(types, tuple) else (types,))):
            raise BadRequest(f"Can not unmarshal Request body to struct, error: json: cannot unmarshal "
                             f"{type(value).__name__} into Go struct field .{key}")
    return body


def _dry_run(body: dict, ctx: ActionContext) -> bool:
    dr = body.get("dryRun") or []
    if isinstance(dr, str):
        dr = [dr]
    return "All" in dr or ctx.query.get("dryRun") == "All"


# --- store access ---------------------------------------------------------------------------------------------
def _get_vm(ctx: ActionContext) -> dict:
    try:
        return ctx.store.get(kinds.VM, ctx.namespace, ctx.name)
    except NotFound:
        raise not_found(VM_RESOURCE, ctx.name) from None


def _find_vmi(ctx: ActionContext) -> dict | None:
    try:
        return ctx.store.get(kinds.VMI, ctx.namespace, ctx.name)
    except NotFound:
        return None


def _get_vmi(ctx: ActionContext) -> dict:
    vmi = _find_vmi(ctx)
    if vmi is None:
        raise not_found(VMI_RESOURCE, ctx.name)
    return vmi


def _strategy(vm: dict) -> str:
    try:
        return rs.run_strategy(vm)
    except rs.RunStrategyError as e:
        raise internal(str(e)) from None


def _patch(ctx: ActionContext, kind: kinds.Kind, ops: list[dict], *, status: bool, dry_run: bool) -> None:
    try:
        ctx.store.patch(kind, ctx.namespace, ctx.name, JSON_PATCH, ops,
                        subresource="status" if status else None, dry_run=dry_run)
    except NotFound:
        raise not_found(VM_RESOURCE if kind is kinds.VM else VMI_RESOURCE, ctx.name) from None
    except APIError as e:
        if "test" in e.message:              # the value changed since we read it
            raise conflict(VM_RESOURCE, ctx.name, f"jsonpatch test operation does not apply: {e.message}") from None
        raise internal(e.message) from None


def _change_request_ops(vm: dict, *changes: dict) -> list[dict]:
    """virt-api's patch for stateChangeRequests: a test of the current list, then add (or, for a
    lone Stop, replace); any other request while one is pending is refused."""
    status = vm.get("status") or {}
    current = status.get("stateChangeRequests") or []
    ops: list[dict[str, Any]]
    if not status:
        ops = [{"op": "add", "path": "/status", "value": {"stateChangeRequests": list(changes)}}]
    else:
        lone_stop = len(changes) == 1 and changes[0]["action"] == rs.STOP
        if current and not lone_stop:
            raise internal("unable to complete request: stop/start already underway")
        if "stateChangeRequests" in status:
            ops = [{"op": "test", "path": "/status/stateChangeRequests", "value": status["stateChangeRequests"]},
                   {"op": "replace", "path": "/status/stateChangeRequests", "value": list(changes)}]
        else:
            ops = [{"op": "add", "path": "/status/stateChangeRequests", "value": list(changes)}]
    if status.get("startFailure") is not None:
        ops.append({"op": "remove", "path": "/status/startFailure"})
    return ops


def _running_ops(vm: dict, running: bool) -> list[dict]:
    spec = vm.get("spec") or {}
    if spec.get("runStrategy") is not None or spec.get("running") is None:
        new = rs.ALWAYS if running else rs.HALTED
        if spec.get("runStrategy") is None:
            return [{"op": "add", "path": "/spec/runStrategy", "value": new}]
        return [{"op": "test", "path": "/spec/runStrategy", "value": spec["runStrategy"]},
                {"op": "replace", "path": "/spec/runStrategy", "value": new}]
    return [{"op": "test", "path": "/spec/running", "value": spec["running"]},
            {"op": "replace", "path": "/spec/running", "value": running}]


def _nudge(ctx: ActionContext, kind: str) -> None:
    ctx.runtime.reconcile(kind, ctx.namespace, ctx.name)


def _accepted(ctx: ActionContext, kind: str, dry: bool) -> ActionResult:
    """The 202 of an action that changed ``kind``'s object; its controller runs now (not for a dry run)."""
    if not dry:
        _nudge(ctx, kind)
    return ActionResult(202)


def _vmi_uid(vmi: dict | None) -> str:
    return ((vmi or {}).get("metadata") or {}).get("uid") or ""


# --- VM actions (202) ---------------------------------------------------------------------------------------
def start(ctx: ActionContext) -> ActionResult:
    body = _options(ctx, {"paused": bool, "dryRun": (list, str)})
    vm = _get_vm(ctx)
    vmi = _find_vmi(ctx)
    if vmi is not None and not st.is_final(vmi) and st.phase(vmi) not in (st.UNKNOWN, st.PHASE_UNSET):
        raise conflict(VM_RESOURCE, ctx.name, "VM is already running")
    if st.has_condition(vm, "ManualRecoveryRequired", "True"):
        raise conflict(VM_RESOURCE, ctx.name, "VM cannot be started since it has the manual recovery "
                                              "required condtion set")
    paused = bool(body.get("paused"))
    data = {rs.PAUSED_KEY: rs.PAUSED_TRUE} if paused else None
    start_req: dict[str, Any] = {"action": rs.START, **({"data": data} if data else {})}
    dry = _dry_run(body, ctx)
    strategy = _strategy(vm)
    if strategy == rs.HALTED:
        template_paused = ((vm.get("spec") or {}).get("template") or {}).get("spec", {}).get("startStrategy") \
            == "Paused"
        if paused and not template_paused:
            _patch(ctx, kinds.VM, _change_request_ops(vm, start_req), status=True, dry_run=dry)
        else:
            _patch(ctx, kinds.VM, _running_ops(vm, True), status=False, dry_run=dry)
    elif strategy in (rs.RERUN_ON_FAILURE, rs.MANUAL):
        needs_restart = vmi is not None and (
            (strategy == rs.RERUN_ON_FAILURE and st.phase(vmi) == st.SUCCEEDED) or
            (strategy == rs.MANUAL and st.is_final(vmi)))
        if strategy == rs.RERUN_ON_FAILURE and vmi is not None and st.phase(vmi) == st.FAILED:
            raise conflict(VM_RESOURCE, ctx.name, "RerunOnFailure does not support starting VM from failed state")
        changes = ([{"action": rs.STOP, "uid": _vmi_uid(vmi)}] if needs_restart else []) + [start_req]
        _patch(ctx, kinds.VM, _change_request_ops(vm, *changes), status=True, dry_run=dry)
    elif strategy in (rs.ALWAYS, rs.ONCE):
        raise conflict(VM_RESOURCE, ctx.name, f"{strategy} does not support manual start requests")
    return _accepted(ctx, "vm", dry)


def stop(ctx: ActionContext) -> ActionResult:
    body = _options(ctx, {"gracePeriod": int, "dryRun": (list, str)})
    vm = _get_vm(ctx)
    strategy = _strategy(vm)
    vmi = _find_vmi(ctx)
    dry = _dry_run(body, ctx)
    grace = body.get("gracePeriod")
    old_grace = 0
    live = vmi is not None and not st.is_final(vmi)
    if live and grace is not None:
        current = ((vmi or {}).get("spec") or {}).get("terminationGracePeriodSeconds")
        if current is not None:
            old_grace = current
        _patch_vmi_grace(ctx, current, grace, dry)
    if strategy == rs.HALTED:
        if not live:
            raise conflict(VM_RESOURCE, ctx.name, "VM is not running")
        current = ((vmi or {}).get("spec") or {}).get("terminationGracePeriodSeconds")
        if grace is None or (current is not None and grace >= old_grace):
            raise conflict(VM_RESOURCE, ctx.name, "Halted only supports manual stop requests with a shorter "
                                                  "graceperiod")
        _patch(ctx, kinds.VM, _change_request_ops(vm, {"action": rs.STOP, "uid": _vmi_uid(vmi)}), status=True,
               dry_run=dry)
    elif strategy in (rs.RERUN_ON_FAILURE, rs.MANUAL):
        if not live:
            raise conflict(VM_RESOURCE, ctx.name, "VM is not running")
        _patch(ctx, kinds.VM, _change_request_ops(vm, {"action": rs.STOP, "uid": _vmi_uid(vmi)}), status=True,
               dry_run=dry)
    elif strategy in (rs.ALWAYS, rs.ONCE):
        _patch(ctx, kinds.VM, _running_ops(vm, False), status=False, dry_run=dry)
    return _accepted(ctx, "vm", dry)


def _patch_vmi_grace(ctx: ActionContext, current: Any, grace: int, dry: bool) -> None:
    ops = [{"op": "test", "path": "/spec/terminationGracePeriodSeconds", "value": current},
           {"op": "replace" if current is not None else "add", "path": "/spec/terminationGracePeriodSeconds",
            "value": grace}]
    if current is None:
        ops = ops[1:]
    try:
        ctx.store.patch(kinds.VMI, ctx.namespace, ctx.name, JSON_PATCH, ops, dry_run=dry)
    except APIError as e:
        raise internal(e.message) from None


def restart(ctx: ActionContext) -> ActionResult:
    body = _options(ctx, {"gracePeriodSeconds": int, "dryRun": (list, str)})
    grace = body.get("gracePeriodSeconds")
    if grace is not None:
        if grace > 0:
            raise BadRequest("For force restart, only gracePeriod=0 is supported for now")
        if grace < 0:
            raise BadRequest("gracePeriod has to be greater or equal to 0")
    vm = _get_vm(ctx)
    if st.has_condition(vm, "VolumesChange", "True"):
        raise conflict(VM_RESOURCE, ctx.name, "VM cannot be started since it has the manual recovery "
                                              "required condtion set")
    strategy = _strategy(vm)
    if strategy in (rs.HALTED, rs.ONCE):
        raise conflict(VM_RESOURCE, ctx.name, f"RunStategy {strategy} does not support manual restart requests")
    vmi = _find_vmi(ctx)
    if vmi is None:
        raise conflict(VM_RESOURCE, ctx.name, f"VM is not running: {rs.HALTED}")
    dry = _dry_run(body, ctx)
    _patch(ctx, kinds.VM, _change_request_ops(vm, {"action": rs.STOP, "uid": _vmi_uid(vmi)}, {"action": rs.START}),
           status=True, dry_run=dry)
    if grace == 0 and not dry and not st.is_final(vmi):
        # virt-api deletes the launcher pod at once; here: the domain goes at once
        try:
            ctx.store.patch(kinds.VMI, ctx.namespace, ctx.name, JSON_PATCH,
                            [{"op": "add", "path": "/spec/terminationGracePeriodSeconds", "value": 0}])
        except APIError:
            pass
        host = _node_host(ctx, vmi)
        if host is not None:
            try:
                host.destroy(domain_name(ctx.namespace, ctx.name))
            except Exception as e:
                raise internal(str(e)) from None
    return _accepted(ctx, "vmi", dry)


def migrate(ctx: ActionContext) -> ActionResult:
    body = _options(ctx, {"addedNodeSelector": dict, "dryRun": (list, str)})
    vm = _get_vm(ctx)
    vmi = _get_vmi(ctx)
    if st.phase(vmi) != st.RUNNING:
        raise conflict(VM_RESOURCE, ctx.name, "VM is not running")
    if st.has_condition(vm, "Paused", "True"):
        raise conflict(VM_RESOURCE, ctx.name, "VM is paused")
    spec: dict[str, Any] = {"vmiName": ctx.name}
    if body.get("addedNodeSelector"):
        spec["addedNodeSelector"] = body["addedNodeSelector"]
    migration = {"apiVersion": kinds.VMIM.api_version, "kind": kinds.VMIM.kind,
                 "metadata": {"generateName": "kubevirt-migrate-vm-", "namespace": ctx.namespace,
                              "labels": {st.VMI_NAME_LABEL: ctx.name}},
                 "spec": spec}
    try:
        ctx.store.create(kinds.VMIM, ctx.namespace, migration, dry_run=_dry_run(body, ctx))
    except APIError as e:
        raise internal(e.message) from None
    return ActionResult(202)


# --- VMI actions (200) -------------------------------------------------------------------------------------------
def _node_host(ctx: ActionContext, vmi: dict) -> Hypervisor | None:
    node = (vmi.get("status") or {}).get("nodeName")
    return ctx.runtime.host_for(node) if isinstance(node, str) else None


def _host_for(ctx: ActionContext, vmi: dict) -> Hypervisor:
    host = _node_host(ctx, vmi)
    if host is None:
        raise internal(f"no hypervisor for node {(vmi.get('status') or {}).get('nodeName')!r}")
    return host


def _hypervisor_call(ctx: ActionContext, vmi: dict, op: str, *, reset: bool = False) -> None:
    host = _host_for(ctx, vmi)
    try:
        getattr(host, op)(domain_name(ctx.namespace, ctx.name))
    except APIError:
        raise
    except Exception as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if reset and not st.is_running(vmi):
            msg = f"Failed to reset non-running VMI with phase {st.phase(vmi)}: {msg}"
        raise internal(msg) from None
    _nudge(ctx, "vmi")


def pause(ctx: ActionContext) -> ActionResult:
    body = _options(ctx, {"dryRun": (list, str)})
    vmi = _get_vmi(ctx)
    if st.phase(vmi) != st.RUNNING:
        raise conflict(VMI_RESOURCE, ctx.name, "VM is not running")
    if (vmi.get("spec") or {}).get("livenessProbe") is not None:
        raise forbidden(VMI_RESOURCE, ctx.name, "Pausing VMIs with LivenessProbe is currently not supported")
    if st.get_condition(vmi, "Paused") is not None:
        raise conflict(VMI_RESOURCE, ctx.name, "VMI is already paused")
    ms = (vmi.get("status") or {}).get("migrationState")
    if ms and not ms.get("completed"):
        raise conflict(VMI_RESOURCE, ctx.name, f"Cannot pause VM '{ctx.name}' because it is currently being migrated")
    if not _dry_run(body, ctx):
        _hypervisor_call(ctx, vmi, "suspend")
    return ActionResult(200, body=None)


def unpause(ctx: ActionContext) -> ActionResult:
    body = _options(ctx, {"dryRun": (list, str)})
    try:
        vm = ctx.store.get(kinds.VM, ctx.namespace, ctx.name)
    except NotFound:
        vm = None
    if vm is not None and (vm.get("status") or {}).get("snapshotInProgress") is not None:
        raise conflict(VM_RESOURCE, ctx.name, "VM snapshot is in progress")
    vmi = _get_vmi(ctx)
    if st.phase(vmi) != st.RUNNING:
        raise conflict(VMI_RESOURCE, ctx.name, "VMI is not running")
    if st.get_condition(vmi, "Paused") is None:
        raise conflict(VMI_RESOURCE, ctx.name, "VMI is not paused")
    if not _dry_run(body, ctx):
        _hypervisor_call(ctx, vmi, "resume")
    return ActionResult(200, body=None)


def softreboot(ctx: ActionContext) -> ActionResult:
    vmi = _get_vmi(ctx)
    if st.phase(vmi) != st.RUNNING:
        raise conflict(VMI_RESOURCE, ctx.name, "VM is not running")
    if st.has_condition(vmi, "Paused", "True"):
        raise conflict(VMI_RESOURCE, ctx.name, "VMI is paused")
    if st.get_condition(vmi, "AgentConnected") is None:
        acpi = ((vmi.get("spec") or {}).get("domain") or {}).get("features", {}).get("acpi")
        if isinstance(acpi, dict) and acpi.get("enabled") is False:
            raise conflict(VMI_RESOURCE, ctx.name, "VMI neither have the agent connected nor the ACPI feature enabled")
    _hypervisor_call(ctx, vmi, "reboot")
    return ActionResult(200, body=None)


def reset(ctx: ActionContext) -> ActionResult:
    vmi = _get_vmi(ctx)
    phase = st.phase(vmi)
    if phase not in (st.RUNNING, st.SCHEDULED):
        raise BadRequest(f"Failed to reset non-running VMI with phase {phase}: Unable to connect to "
                         f"VirtualMachineInstance because phase is {phase} instead of {st.RUNNING} or {st.SCHEDULED}")
    host = _host_for(ctx, vmi)
    if phase == st.SCHEDULED and host.status(domain_name(ctx.namespace, ctx.name)).state != DomainState.RUNNING:
        raise internal(f"Failed to reset non-running VMI with phase {phase}: the domain is not running")
    _hypervisor_call(ctx, vmi, "reset", reset=True)
    return ActionResult(200, body=None)



# --- volume hotplug (202) ------------------------------------------------------------------------------------
def _hotplug(ctx: ActionContext, *, on_vm: bool, add: bool) -> ActionResult:
    """virt-api's add/removevolume: on a VM the template gets the volume (the VM controller hands
    it on to a running VMI); on a VMI, which must be running, only the VMI (not kept across
    restarts). The VMI controller then attaches or detaches it (docs/standalone.md#volume-hot-plug)."""
    body = ctx.body if isinstance(ctx.body, dict) else {}
    problem = hotplug.add_options_errors(body) if add else hotplug.remove_options_errors(body)
    if problem is not None:
        raise BadRequest(problem)
    if add:
        body = {**body, "disk": {**body["disk"], "name": body["name"]}}
    request = {"add": body} if add else {"remove": body}
    resource = VM_RESOURCE if on_vm else VMI_RESOURCE
    if on_vm:
        obj = _get_vm(ctx)
        prefix, spec = "/spec/template/spec", ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    else:
        obj = _get_vmi(ctx)
        if not st.is_running(obj):
            raise conflict(resource, ctx.name, "VMI is not running")
        prefix, spec = "/spec", obj.get("spec") or {}
    try:
        hotplug.verify([v for v in spec.get("volumes") or [] if isinstance(v, dict)], **request)
    except hotplug.HotplugRefused as e:
        raise conflict(resource, ctx.name, str(e)) from None
    new = hotplug.apply(spec, **request)
    old_disks = ((spec.get("domain") or {}).get("devices") or {}).get("disks")
    ops: list[dict[str, Any]] = []
    for path, old, value in ((f"{prefix}/volumes", spec.get("volumes"), new["volumes"]),
                             (f"{prefix}/domain/devices/disks", old_disks, new["domain"]["devices"]["disks"])):
        if old:
            ops += [{"op": "test", "path": path, "value": old}, {"op": "replace", "path": path, "value": value}]
        else:
            ops.append({"op": "add", "path": path, "value": value})
    dry = _dry_run(body, ctx)
    try:
        ctx.store.patch(kinds.VM if on_vm else kinds.VMI, ctx.namespace, ctx.name, JSON_PATCH, ops, dry_run=dry)
    except NotFound:
        raise not_found(resource, ctx.name) from None
    except Invalid:
        raise
    except APIError as e:
        if "test" in e.message:
            # the apiserver's 422 for a failed test (another change came first): virtctl retries on it
            raise Invalid("the server rejected our request due to an error in our request") from None
        raise internal(f"unable to patch {resource.removeprefix('virtual')}: {e.message}") from None
    return _accepted(ctx, "vm" if on_vm else "vmi", dry)


def vm_addvolume(ctx: ActionContext) -> ActionResult:
    return _hotplug(ctx, on_vm=True, add=True)


def vm_removevolume(ctx: ActionContext) -> ActionResult:
    return _hotplug(ctx, on_vm=True, add=False)


def vmi_addvolume(ctx: ActionContext) -> ActionResult:
    return _hotplug(ctx, on_vm=False, add=True)


def vmi_removevolume(ctx: ActionContext) -> ActionResult:
    return _hotplug(ctx, on_vm=False, add=False)


# --- memory dump (202) ------------------------------------------------------------------------------------
def _dump_patch(ctx: ActionContext, vm: dict, new: dict) -> None:
    current = (vm.get("status") or {}).get("memoryDumpRequest")
    if vm.get("status") is None:
        ops: list[dict[str, Any]] = [{"op": "add", "path": "/status", "value": {"memoryDumpRequest": new}}]
    elif current is None:
        ops = [{"op": "add", "path": "/status/memoryDumpRequest", "value": new}]
    else:
        ops = [{"op": "test", "path": "/status/memoryDumpRequest", "value": current},
               {"op": "replace", "path": "/status/memoryDumpRequest", "value": new}]
    _patch(ctx, kinds.VM, ops, status=True, dry_run=False)
    _nudge(ctx, "vmi")


def _dump_refused(e: memorydump.DumpRefused, name: str, claim: str) -> APIError:
    if not e.resource:
        return BadRequest(str(e))
    return conflict(e.resource, claim if e.resource == "persistentvolumeclaim" else name, str(e))


def memorydump_action(ctx: ActionContext) -> ActionResult:
    """virt-api's memorydump: checks the claim against the running VMI, then records the request in
    the VM's ``status.memoryDumpRequest``; the VMI controller dumps the guest's memory into the claim."""
    body = _options(ctx, {"claimName": str, "phase": str})
    vm = _get_vm(ctx)
    current = (vm.get("status") or {}).get("memoryDumpRequest")
    claim = str(body.get("claimName") or "")
    try:
        claim = memorydump.claim_for(current, claim)
        vmi = _get_vmi(ctx)
        if not st.is_running(vmi):
            raise conflict(VMI_RESOURCE, ctx.name, "VMI is not running")
        try:
            pvc = ctx.store.get(kinds.PVC, ctx.namespace, claim)
        except NotFound:
            raise not_found("persistentvolumeclaim", claim) from None
        storage = (((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage") or "0"
        memorydump.check_claim(vmi, claim, pvc, to_int(str(storage)))
        new = memorydump.add_request(current, claim)
    except memorydump.DumpRefused as e:
        raise _dump_refused(e, ctx.name, claim) from None
    _dump_patch(ctx, vm, new)
    return ActionResult(202)


def removememorydump_action(ctx: ActionContext) -> ActionResult:
    vm = _get_vm(ctx)
    current = (vm.get("status") or {}).get("memoryDumpRequest")
    try:
        new = memorydump.remove_request(current, ctx.name)
    except memorydump.DumpRefused as e:
        raise _dump_refused(e, ctx.name, "") from None
    _dump_patch(ctx, vm, new)
    return ActionResult(202)
