"""The re-dial loop with a scripted sequence of server answers and a fake clock (no sockets: the
real handshake is tested against the real server in tests/controller/test_streams.py)."""

from __future__ import annotations

import pytest

from virtctl import errors
from virtctl.streams.dial import dial


class Script:
    def __init__(self, answers):
        self.answers = list(answers)
        self.now = 0.0
        self.dials = 0

    def dial(self, params):
        self.dials += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def sleep(self, s):
        self.now += s


def run(script, timeout, vm_exists=None):
    return dial(None, timeout=timeout, vm_exists=vm_exists, dial_fn=script.dial,
                clock=lambda: script.now, sleep=script.sleep)


def test_redials_on_400_until_connected():
    s = Script([errors.BadRequest("VMI is not running")] * 3 + ["ws"])
    assert run(s, 300) == "ws"
    assert s.dials == 4 and s.now == 3.0


def test_times_out_with_go_message():
    s = Script([errors.BadRequest("VMI is not running")] * 100)
    with pytest.raises(errors.Timeout, match="^Timeout trying to connect to the virtual machine instance$"):
        run(s, 5)
    assert s.now == 5.0


@pytest.mark.parametrize("err", [errors.Conflict("VMI is in failed status"),
                                 errors.NotFound('virtualmachineinstances.kubevirt.io "x" not found'),
                                 errors.BadRequest("No serial consoles are present.")])
def test_other_refusals_end_at_once(err):
    s = Script([err, "ws"])
    with pytest.raises(errors.APIError) as e:
        run(s, 300)
    assert e.value is err and s.dials == 1


def test_404_waits_while_the_vm_exists():
    s = Script([errors.NotFound("nf"), errors.NotFound("nf"), errors.BadRequest("VMI is not running"), "ws"])
    assert run(s, 300, vm_exists=lambda: True) == "ws"
    s = Script([errors.NotFound("nf")])
    with pytest.raises(errors.NotFound):
        run(s, 300, vm_exists=lambda: False)
