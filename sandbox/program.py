"""Run the project's Pulumi program in this process under `pulumi.runtime.set_mocks`.

This is the sandbox's stand-in for the Pulumi CLI + engine: it loads the stack's own
`Pulumi.<stack>.yaml` the way the CLI hands config to a program (every value a string,
lists/maps JSON-encoded), executes `__main__.py`, waits for every resource registration and
output (the same way `@pulumi.runtime.test` does), and resolves `pulumi.export`ed values to
plain JSON. It can run many times in one process: each run gets a fresh event loop, a fresh
root Stack and cleared runtime bookkeeping.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import os
import runpy
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from commandline.interrupts import CANCELLED
from commandline.stacks import StackFileError, UnknownStackError, read_stack_file
from common.contracts import BUNDLE_ENV
from sandbox.errors import SandboxError, SandboxUsageError
from sandbox.mocks import OptionsMonitor

PROJECT_FILE = "Pulumi.yaml"
PROGRAM_FILE = "__main__.py"


def project_name(project_dir: Path) -> str:
    data = yaml.safe_load((project_dir / PROJECT_FILE).read_text(encoding="utf-8")) or {}
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise SandboxError(f"{project_dir / PROJECT_FILE} has no project 'name'")
    return name


def _encode(value: Any) -> str:
    """A config value as the Pulumi CLI passes it to a program."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value)


def load_stack_config(project_dir: Path, stack: str) -> dict[str, str]:
    """`Pulumi.<stack>.yaml`'s config (over Pulumi.yaml defaults) as `namespace:key` → string."""
    stack_file = project_dir / f"Pulumi.{stack}.yaml"
    try:
        raw = read_stack_file(stack, project_dir)
    except (UnknownStackError, StackFileError) as exc:
        raise SandboxUsageError(str(exc)) from exc
    project = project_name(project_dir)
    config: dict[str, str] = {}
    project_data = yaml.safe_load((project_dir / PROJECT_FILE).read_text(encoding="utf-8")) or {}
    for key, spec in (project_data.get("config") or {}).items():
        full = key if ":" in key else f"{project}:{key}"
        if isinstance(spec, dict) and "default" in spec:
            config[full] = _encode(spec["default"])
        elif not isinstance(spec, dict):
            config[full] = _encode(spec)
    for key, value in raw.items():
        full = key if ":" in key else f"{project}:{key}"
        if isinstance(value, dict) and "secure" in value:
            raise SandboxUsageError(
                f"{stack_file.name}: {full} is an encrypted secret; the sandbox cannot decrypt "
                "Pulumi secrets, give it a plain value for local runs"
            )
        config[full] = _encode(value)
    return config


@contextlib.contextmanager
def _program_environment(project_dir: Path, env: Mapping[str, str]) -> Iterator[None]:
    """cwd = project dir (as `pulumi up` runs programs) and extra env vars, restored after."""
    saved_cwd = os.getcwd()
    saved_env = {key: os.environ.get(key) for key in env}
    os.chdir(project_dir)
    os.environ.update(env)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class _QuietAsyncio(logging.Filter):
    """Drop asyncio's 'exception was never retrieved' echoes of the error we already raise.

    Installed for the whole process, not per run: the futures of a failed registration are
    finalised whenever the error that names them is released (after the command printed it),
    and their echo would follow the command's one-line error as a multi-line dump.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "exception was never retrieved" not in record.getMessage()


logging.getLogger("asyncio").addFilter(_QuietAsyncio())


def run_program(
    project_dir: Path,
    stack: str,
    mocks: Any,
    *,
    config: Mapping[str, str],
    bundle: Path | None = None,
    preview: bool = False,
    extra_env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Execute `__main__.py` for `stack` under `mocks`; returns the resolved stack outputs.

    `extra_env` is what the engine tells the program for this run (set only while it runs).
    """
    program = project_dir / PROGRAM_FILE
    if not program.is_file():
        raise SandboxError(f"no Pulumi program at {program}")
    env = {BUNDLE_ENV: str(Path(bundle).resolve())} if bundle is not None else {}
    env.update(extra_env or {})

    loop = asyncio.new_event_loop()
    # Our own pool for the mocks' worker threads, so an interrupted run can wait for the
    # registration in flight (a blue/green switch) instead of leaving it running behind us.
    # Each worker gets its event loop from us (the mock monitor would make one per thread and
    # leave it open), so all of them are closed below, not by the garbage collector at exit.
    worker_loops: list[asyncio.AbstractEventLoop] = []
    workers = ThreadPoolExecutor(
        thread_name_prefix="sandbox-mocks", initializer=_own_loop, initargs=(worker_loops,)
    )
    loop.set_default_executor(workers)
    asyncio.set_event_loop(loop)
    CANCELLED.clear()  # a new run; an earlier signal has already ended the earlier one
    failed = True
    try:
        # A previous run leaves its root Stack and pending output tasks (bound to a closed
        # loop) in module-level settings; set_mocks only builds a new Stack when none is set.
        runtime_settings.ROOT.set(None)
        runtime_settings.SETTINGS.outputs.clear()
        pulumi.runtime.set_all_config(dict(config))
        pulumi.runtime.set_mocks(
            mocks,
            project=project_name(project_dir),
            stack=stack,
            preview=preview,
            monitor=OptionsMonitor(mocks),
        )
        runtime_settings.SETTINGS.rpc_manager.clear()
        root = runtime_settings.get_root_resource()
        with _program_environment(project_dir, env):
            _sync_await(run_pulumi_func(lambda: runpy.run_path(str(program), run_name="__main__")))
            outputs = {
                key: _sync_await(pulumi.Output.from_input(value).future())
                for key, value in root.outputs.items()
            }
        failed = False
        return _plain(outputs)
    finally:
        if failed:
            CANCELLED.set()  # worker threads stop waiting for app health and undo their step
        workers.shutdown(wait=True, cancel_futures=True)
        for worker_loop in worker_loops:
            worker_loop.close()
        CANCELLED.clear()
        runtime_settings.ROOT.set(None)
        runtime_settings.SETTINGS.outputs.clear()
        loop.close()
        # Leave the thread a usable loop: code run after us in this process (other programs
        # under mocks, pytest's next test) calls asyncio.get_event_loop().
        spare = asyncio.new_event_loop()
        asyncio.set_event_loop(spare)
        _SPARE_LOOPS.append(spare)


#: Loops left for the calling thread; closed at exit. A loop the garbage collector finalises at
#: interpreter shutdown can find its self-pipe socket already gone and print "Exception ignored
#: ... Invalid file descriptor: -1" (a traceback on a command that promises none).
_SPARE_LOOPS: list[asyncio.AbstractEventLoop] = []


def _own_loop(loops: list[asyncio.AbstractEventLoop]) -> None:
    """ThreadPoolExecutor initializer: this worker thread's event loop, recorded for closing."""
    worker_loop = asyncio.new_event_loop()
    asyncio.set_event_loop(worker_loop)
    loops.append(worker_loop)


@atexit.register
def _close_spare_loops() -> None:
    for spare in _SPARE_LOOPS:
        if not spare.is_running() and not spare.is_closed():
            spare.close()


def _plain(value: Any) -> Any:
    """Resolved outputs → JSON-safe values (tuples → lists, mappings → dicts)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
