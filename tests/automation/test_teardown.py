"""The check sandbox is torn down in the background, and a run waits for it before it ends."""

from __future__ import annotations

import threading

from automation.teardown import in_background, wait_for_teardowns


def test_wait_for_teardowns_returns_only_after_the_teardown_finished() -> None:
    release, done = threading.Event(), threading.Event()

    def teardown() -> None:
        release.wait(30)
        done.set()

    in_background("slow", teardown)
    assert not done.is_set()  # it runs beside the caller
    threading.Timer(0.2, release.set).start()
    wait_for_teardowns()
    assert done.is_set()


def test_a_teardown_thread_is_not_a_daemon_so_the_interpreter_waits_for_it() -> None:
    release = threading.Event()
    in_background("held", lambda: release.wait(30))
    (thread,) = [t for t in threading.enumerate() if t.name == "teardown held"]
    assert not thread.daemon
    release.set()
    wait_for_teardowns()
