"""Structured stage logging: one JSON line per stage start/end, for humans and log pipelines.

The audit trail of a deployment is these lines (time, stack, stage, status, duration,
deployment id) plus the deployment record; both are written for every pipeline run.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO


@dataclass
class StageResult:
    stage: str
    status: str
    started_at: float
    duration_s: float
    detail: str = ""


@dataclass
class StageLog:
    """Collects stage results and prints each as a JSON line on `stream`."""

    stack: str
    engine: str
    deployment_id: str = ""
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    results: list[StageResult] = field(default_factory=list)

    def event(self, stage: str, status: str, **extra: Any) -> None:
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "stack": self.stack,
            "engine": self.engine,
            "stage": stage,
            "status": status,
            "deployment_id": self.deployment_id,
            **extra,
        }
        self.stream.write(json.dumps(line, default=str) + "\n")
        self.stream.flush()

    @contextmanager
    def stage(self, name: str) -> Iterator[StageResult]:
        """Time a stage; an exception marks it failed (and propagates)."""
        result = StageResult(name, "running", time.time(), 0.0)
        start = time.monotonic()
        self.event(name, "started")
        try:
            yield result
        except BaseException as exc:
            result.status = "failed"
            result.detail = result.detail or str(exc)
            raise
        else:
            if result.status == "running":
                result.status = "succeeded"
        finally:
            result.duration_s = round(time.monotonic() - start, 3)
            self.results.append(result)
            self.event(name, result.status, duration_s=result.duration_s, detail=result.detail)
