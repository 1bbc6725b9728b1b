"""runStrategy and stateChangeRequests: what the VM controller must do next (pure).

Given a VM, its VMI (or None) and the time, :func:`decide` answers with one :class:`Decision`,
following virt-controller's ``syncRunStrategy``. The VM controller executes it, then rebuilds the
status (:func:`trim_first_change_request`, :func:`next_start_failure`).
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from virtctl.model import status as st

ALWAYS = "Always"
RERUN_ON_FAILURE = "RerunOnFailure"
ONCE = "Once"
MANUAL = "Manual"
HALTED = "Halted"
WAIT_AS_RECEIVER = "WaitAsReceiver"
STRATEGIES = (ALWAYS, RERUN_ON_FAILURE, ONCE, MANUAL, HALTED, WAIT_AS_RECEIVER)

START = "Start"
STOP = "Stop"
PAUSED_KEY = "paused"
PAUSED_TRUE = "true"

MAX_CRASH_LOOP_BACKOFF_SECONDS = 300


class RunStrategyError(ValueError):
    """The VM's spec names no usable run strategy."""


def run_strategy(vm: dict) -> str:
    """``spec.runStrategy``, or the deprecated ``spec.running`` mapped (true → Always,
    false/absent → Halted)."""
    spec = vm.get("spec") or {}
    rs, running = spec.get("runStrategy"), spec.get("running")
    if rs is not None and running is not None:
        raise RunStrategyError("running and runstrategy are mutually exclusive")
    if rs is not None:
        if rs not in STRATEGIES:
            raise RunStrategyError(f"unknown runstrategy: {rs}")
        return rs
    return ALWAYS if running else HALTED


# --- stateChangeRequests --------------------------------------------------------------------------------
def change_requests(vm: dict) -> list[dict]:
    return list((vm.get("status") or {}).get("stateChangeRequests") or [])


def _first(vm: dict) -> dict | None:
    reqs = change_requests(vm)
    return reqs[0] if reqs else None


def has_start_request(vm: dict) -> bool:
    first = _first(vm) or {}
    return bool(first) and first.get("action") == START


def has_start_paused_request(vm: dict) -> bool:
    first = _first(vm) or {}
    return bool(first) and first.get("action") == START and \
        (first.get("data") or {}).get(PAUSED_KEY) == PAUSED_TRUE


def has_stop_request_for(vm: dict, vmi: dict | None) -> bool:
    first = _first(vm) or {}
    uid = ((vmi or {}).get("metadata") or {}).get("uid")
    return bool(first) and vmi is not None and first.get("action") == STOP and bool(first.get("uid")) \
        and first.get("uid") == uid


def trim_first_change_request(vm: dict, vmi: dict | None) -> bool:
    """Whether the first change request has been fulfilled (only the first one is ever acted on)."""
    first = _first(vm)
    if not first:
        return False
    if first.get("action") == STOP:
        if vmi is None:
            return True                                   # the VMI is gone: stopped
        uid = first.get("uid")
        return not uid or uid != (vmi.get("metadata") or {}).get("uid")   # an older VMI was stopped
    if first.get("action") == START:
        return vmi is not None and not st.is_deleting(vmi) and not st.is_final(vmi)
    return False


# --- decisions --------------------------------------------------------------------------------------------
class Action(str, enum.Enum):
    NOTHING = "nothing"
    CREATE = "create"              # create the VMI from spec.template
    DELETE = "delete"              # delete the VMI (stop it)
    SET_ALWAYS = "set-always"      # Halted + start request (start --paused): switch runStrategy to Always
    WAIT = "wait"                  # crash-loop backoff: look again after `retry_after` seconds


@dataclass(frozen=True)
class Decision:
    action: Action
    add_start_request: bool = False   # RerunOnFailure after a failure: delete, then start again
    start_paused: bool = False        # the VMI must be created with startStrategy Paused
    retry_after: float = 0.0
    why: str = ""


def backoff_left(vm: dict, now: datetime) -> float:
    sf = (vm.get("status") or {}).get("startFailure") or {}
    retry = st.parse_iso(sf.get("retryAfterTimestamp"))
    if retry is None:
        return 0.0
    return max(0.0, (retry - now).total_seconds())


def decide(vm: dict, vmi: dict | None, now: datetime | None = None) -> Decision:
    now = now or datetime.now(timezone.utc)
    rs = run_strategy(vm)
    stop_req = has_stop_request_for(vm, vmi)
    deleting = st.is_deleting(vmi)

    def create(why: str) -> Decision:
        left = backoff_left(vm, now) if rs in (ALWAYS, RERUN_ON_FAILURE) else 0.0
        if left > 0:
            return Decision(Action.WAIT, retry_after=left, why="start failure backoff")
        return Decision(Action.CREATE, start_paused=has_start_paused_request(vm), why=why)

    def delete(why: str, **kw) -> Decision:
        return Decision(Action.NOTHING if deleting else Action.DELETE, why=why, **kw)

    if rs == ALWAYS:
        if vmi is not None:
            if stop_req or st.is_final(vmi):
                return delete("restart" if stop_req else f"VMI {st.phase(vmi)}: restart")
            return Decision(Action.NOTHING)
        return create("runStrategy Always")
    if rs == RERUN_ON_FAILURE:
        if vmi is not None:
            failed = st.phase(vmi) == st.FAILED
            if not deleting and (stop_req or failed or st.phase(vmi) == st.SUCCEEDED):
                return Decision(Action.DELETE, add_start_request=failed,
                                why="VMI failed: rerun" if failed else "stop")
            return Decision(Action.NOTHING)
        # a VM that already ran under this strategy stays off unless asked to start
        if not has_start_request(vm) and (vm.get("status") or {}).get("runStrategy") == rs:
            return Decision(Action.NOTHING)
        return create("runStrategy RerunOnFailure")
    if rs == MANUAL:
        if vmi is not None:
            return delete("stop request") if stop_req else Decision(Action.NOTHING)
        return create("start request") if has_start_request(vm) else Decision(Action.NOTHING)
    if rs == HALTED:
        if vmi is None:
            return Decision(Action.SET_ALWAYS, why="start request") if has_start_request(vm) \
                else Decision(Action.NOTHING)
        return delete("runStrategy Halted")
    if rs == ONCE:
        return create("runStrategy Once") if vmi is None else Decision(Action.NOTHING)
    return Decision(Action.NOTHING, why=f"runStrategy {rs} is not supported here")


def is_set_to_start(vm: dict, vmi: dict | None) -> bool:
    rs = run_strategy(vm)
    if rs == ALWAYS:
        return True
    if rs == MANUAL:
        return not has_stop_request_for(vm, vmi) if vmi is not None else has_start_request(vm)
    if rs == RERUN_ON_FAILURE:
        return st.phase(vmi) != st.SUCCEEDED if vmi is not None else True
    if rs == ONCE:
        return vmi is None
    return False


# --- crash-loop backoff ---------------------------------------------------------------------------------------
def start_backoff_seconds(fail_count: int, max_delay: int = MAX_CRASH_LOOP_BACKOFF_SECONDS,
                          rng: random.Random | None = None) -> int:
    """Seconds to wait before the next start: quadratic in the failure count, jittered, capped."""
    fail_count = max(fail_count, 1)
    interval = max(max_delay // 30, 10)
    delay = interval * fail_count * fail_count
    delay += (rng or random).randrange(delay // 2 + 1)
    return min(delay, max_delay)


def next_start_failure(vm: dict, vmi: dict | None, now: datetime,
                       rng: random.Random | None = None) -> dict | None:
    """The VM's ``status.startFailure`` after seeing ``vmi``: cleared once a VMI reached Running
    (or for strategies that do not restart), counted once per VMI that failed before running."""
    current = (vm.get("status") or {}).get("startFailure")
    try:
        rs = run_strategy(vm)
    except RunStrategyError:
        return current
    if st.was_running(vmi) or rs not in (ALWAYS, RERUN_ON_FAILURE, ONCE):
        return None
    if vmi is None or not st.is_final(vmi):
        return current
    uid = (vmi.get("metadata") or {}).get("uid")
    if current and current.get("lastFailedVMIUID") == uid:
        return current                                    # already counted
    count = (current or {}).get("consecutiveFailCount", 0) + 1
    delay = start_backoff_seconds(count, rng=rng)
    return {"consecutiveFailCount": count, "lastFailedVMIUID": uid,
            "retryAfterTimestamp": st.now_iso(now + timedelta(seconds=delay))}
