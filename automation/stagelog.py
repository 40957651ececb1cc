"""Structured stage logging: one JSON line per stage start/end, for humans and log pipelines.

The audit trail of a deployment is these lines (time, stack, stage, status, duration,
deployment id) plus the deployment record; both are written for every pipeline run. The lines
always go to the run's `pipeline.jsonl`; on a terminal a renderer shows them as progress lines
instead of raw JSON, elsewhere (CI, --json, a pipe) they go to `stream` as JSON lines.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from commandline.interrupts import as_interrupted, unacknowledged_signal

from .status import StageStatus


@dataclass
class StageResult:
    stage: str
    status: StageStatus
    started_at: float
    duration_s: float
    detail: str = ""


@dataclass
class StageLog:
    """Collects stage results; each event is a JSON line in the audit file and on `stream`."""

    stack: str
    engine: str
    deployment_id: str = ""
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    results: list[StageResult] = field(default_factory=list)
    audit_path: Path | None = None
    renderer: Callable[[dict[str, Any]], None] | None = None

    def event(self, stage: str, status: str, **extra: Any) -> None:
        """One line: `status` is a StageStatus, or a command's RunStatus at its end."""
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "stack": self.stack,
            "engine": self.engine,
            "stage": stage,
            "status": status,
            "deployment_id": self.deployment_id,
            **extra,
        }
        text = json.dumps(line, default=str)
        if self.audit_path is not None:
            self.audit_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.audit_path, "a", encoding="utf-8") as audit:
                audit.write(text + "\n")
        if self.renderer is not None:
            self.renderer(line)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    @contextmanager
    def stage(self, name: str) -> Iterator[StageResult]:
        """Time a stage; an exception marks it failed, a signal interrupted (and propagates)."""
        result = StageResult(name, StageStatus.RUNNING, time.time(), 0.0)
        start = time.monotonic()
        self.event(name, StageStatus.STARTED)
        try:
            yield result
        except BaseException as exc:
            interrupted = as_interrupted(exc)
            result.status = StageStatus.INTERRUPTED if interrupted else StageStatus.FAILED
            result.detail = str(interrupted) if interrupted else (result.detail or str(exc))
            raise
        else:
            lost = unacknowledged_signal()  # a signal whose exception Python dropped
            if lost is not None:
                result.status, result.detail = StageStatus.INTERRUPTED, str(lost)
                raise lost
            if result.status == StageStatus.RUNNING:
                result.status = StageStatus.SUCCEEDED
        finally:
            result.duration_s = round(time.monotonic() - start, 3)
            self.results.append(result)
            self.event(name, result.status, duration_s=result.duration_s, detail=result.detail)
