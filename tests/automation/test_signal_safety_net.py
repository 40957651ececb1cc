"""A signal whose exception Python drops is still a cancel.

Python runs a signal handler between any two bytecodes, also inside a weakref callback during
garbage collection, where a raised exception is printed as "Exception ignored" and dropped.
Seen here: a SIGTERM during `automation run`'s `up` that the run then ignored (exit 0). The
stage boundary now raises it again, and stderr gets no traceback for it.
"""

from __future__ import annotations

import gc
import os
import signal
import weakref

import pytest

from automation.stagelog import StageLog
from commandline.interrupts import Interrupted, handle_signals


class _Node:
    pass


def _signal_during_gc() -> None:
    node = _Node()

    def callback(_ref: object) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # the handler runs here, inside the callback
            pass

    ref = weakref.ref(node, callback)
    del node
    gc.collect()
    assert ref() is None


def test_a_signal_dropped_inside_a_gc_callback_still_interrupts_the_stage(tmp_path, capsys) -> None:
    log = StageLog("dev", "sandbox", audit_path=tmp_path / "pipeline.jsonl")
    with handle_signals(), pytest.raises(Interrupted) as info, log.stage("up"):
        _signal_during_gc()  # Python swallows the handler's exception here
    assert info.value.exit_code == 143
    assert log.results[-1].status == "interrupted"
    assert '"stage": "up", "status": "interrupted"' in (tmp_path / "pipeline.jsonl").read_text()
    assert "Traceback" not in capsys.readouterr().err
