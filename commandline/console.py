"""Two audiences: people at a terminal get rich progress lines, CI parsers get JSON lines only.

Each command has one `Reporter`, and everything it says while it works goes through it: the
pipeline's stage events, verify's progress, the Pulumi CLI's output, the sandbox engine's notes
and warnings. On a terminal (no --json, no CI=true) they are human lines; anywhere else (a
pipe, a CI log, --json) each is one JSON line, so a parser never meets a line it cannot read.
All of it goes to stderr: stdout holds only the command's result.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TextIO


def human_mode(as_json: bool, stream: TextIO | None = None) -> bool:
    """Rich output only on a terminal, never with --json or CI=true."""
    stream = stream or sys.stderr
    if as_json or os.environ.get("CI", "").lower() in ("true", "1"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


class StageRenderer:
    """One line per stage: a live spinner while it runs, then its status, duration and detail."""

    ICONS = {"succeeded": "[green]✔[/]", "failed": "[red]✘[/]", "interrupted": "[yellow]■[/]"}

    def __init__(self, stream: TextIO | None = None) -> None:
        from rich.console import Console  # only a terminal needs rich (14 ms to import)

        self.console = Console(file=stream or sys.stderr)
        self._status: Any = None

    def __call__(self, event: dict[str, Any]) -> None:
        stage, status = event.get("stage", ""), event.get("status", "")
        if status == "started":
            self._stop()
            self._status = self.console.status(f"[bold]{stage}[/] running…")
            self._status.start()
            return
        if status in self.ICONS and "duration_s" in event:
            self._stop()
            detail = str(event.get("detail") or "")[:120]
            self.console.print(
                f"{self.ICONS[status]} [bold]{stage:<16}[/] {status:<11} "
                f"{event['duration_s']:>7.1f}s  [dim]{detail}[/]",
                highlight=False,
            )
            return
        if stage == "run":
            return  # the final summary is printed by the CLI
        line = f"  {stage}: {status} {event.get('detail', '')}".rstrip()
        if self._status is not None:
            self._status.update(f"[bold]{stage}[/] {status}…")
        self.console.print(f"[dim]{line}[/]", highlight=False)

    def text(self, line: str) -> None:
        """A plain line above the spinner (printed as it is: no markup, no wrapping)."""
        self.console.print(line, markup=False, highlight=False, emoji=False, soft_wrap=True)

    def _stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def close(self) -> None:
        self._stop()


class Reporter:
    """What one command says while it works, to stderr: human lines or JSON lines.

    `event` takes the pipeline's stage events (the StageLog's renderer); `lines(source)` is a
    sink for one source's free text (verify's progress, the Pulumi CLI, the sandbox engine).
    JSON lines of a source start with `"source"` (stage events start with `"time"`) and carry
    `context` (stack, engine). Thread-safe: verify's checks and the Pulumi CLI's reader
    threads write at once, and no line is ever split by another.
    """

    def __init__(self, human: bool, stream: TextIO | None = None, **context: Any) -> None:
        self.human = human
        self.context = context
        self._stream = stream
        self._direct: TextIO | None = None  # the real stderr while fd 2 is captured
        self._lock = threading.RLock()
        self.renderer = StageRenderer(stream) if human else None

    @classmethod
    def for_output(cls, as_json: bool, stream: TextIO | None = None, **context: Any) -> Reporter:
        """Human on a terminal without --json or CI=true; JSON lines otherwise."""
        return cls(human_mode(as_json, stream), stream, **context)

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stderr  # at call time: pytest swaps sys.stderr per test

    def event(self, line: Mapping[str, Any]) -> None:
        """A stage event: the stage line on a terminal, the event as a JSON line elsewhere."""
        with self._lock:
            if self.renderer is not None:
                self.renderer(dict(line))
            else:
                self._write(json.dumps(line, default=str))

    def say(self, source: str, message: str, *, tagged: bool = True, **fields: Any) -> None:
        """One line from `source`; on a terminal `[source HH:MM:SS] message` (or, untagged, the
        line as the source wrote it: Pulumi's own layout)."""
        if self.renderer is None:
            if not message.strip():
                return  # a blank layout line carries nothing for a parser
            line = {"source": source, "time": _now(), **self.context, **fields, "message": message}
            with self._lock:
                self._write(json.dumps(line, default=str, ensure_ascii=False))
            return
        text = f"[{source} {time.strftime('%H:%M:%S')}] {message}" if tagged else message
        with self._lock:
            self.renderer.text(text)

    def lines(self, source: str, *, tagged: bool = True) -> Callable[[str], None]:
        """A sink for one source's lines (an engine's `on_output`, verify's progress)."""
        return lambda message: self.say(source, str(message), tagged=tagged)

    def close(self) -> None:
        """Stop the spinner (the command is over)."""
        with self._lock:
            if self.renderer is not None:
                self.renderer.close()

    def _write(self, text: str) -> None:
        stream = self._direct or self.stream
        stream.write(text + "\n")
        stream.flush()


class ReporterHandler(logging.Handler):
    """Log records (warnings of our modules and libraries) as the reporter's lines.

    On a terminal the line reads as `logging.basicConfig` would print it; elsewhere it is a
    JSON line with the logger and level, so a warning never breaks a JSON-lines stream.
    """

    HUMAN_FORMAT = "%(asctime)s %(levelname)s %(message)s"

    def __init__(self, reporter: Reporter, level: int = logging.WARNING) -> None:
        super().__init__(level)
        self.reporter = reporter
        self.setFormatter(logging.Formatter(self.HUMAN_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if self.reporter.human:
                self.reporter.say("log", self.format(record), tagged=False)
            else:
                self.reporter.say(record.name, record.getMessage(), level=record.levelname.lower())
        except Exception:  # noqa: BLE001 - logging must never take the command down
            self.handleError(record)


@contextlib.contextmanager
def reporting(reporter: Reporter) -> Iterator[Reporter]:
    """One command's span: warnings (`logging`) go through the reporter, and off a terminal so
    does whatever else reaches stderr; the spinner stops at the end, whatever ended it."""
    handler = ReporterHandler(reporter)
    root = logging.getLogger()
    saved_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    try:
        with _stderr_as_json_lines(reporter):
            yield reporter
    finally:
        reporter.close()
        root.removeHandler(handler)
        root.setLevel(saved_level)


@contextlib.contextmanager
def _stderr_as_json_lines(reporter: Reporter) -> Iterator[None]:
    """Off a terminal, every line on the process's stderr (fd 2) is a JSON line.

    Native libraries write to fd 2 behind Python's back (TFLite's "INFO: Created TensorFlow
    Lite XNNPACK delegate for CPU." when verify's judge loads its model), and so does a plain
    `print(..., file=sys.stderr)` (an error line). For the command's duration fd 2 is a pipe
    read by one thread: a JSON line passes as it is, any other line becomes
    `{"source": "stderr", ..., "message": line}`. Only for the real stderr of a CLI process
    (an in-process caller that swapped sys.stderr, such as pytest, keeps its own stream).
    """
    if reporter.human or sys.stderr is not sys.__stderr__ or sys.stderr is None:
        yield
        return
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stderr.flush()
    original = os.fdopen(os.dup(fd), "w", encoding="utf-8", errors="replace")
    read, write = os.pipe()
    os.set_inheritable(read, False)
    os.dup2(write, fd, inheritable=True)
    os.close(write)

    def pump() -> None:
        with open(read, encoding="utf-8", errors="replace") as lines:
            for line in lines:
                text = line.rstrip("\n")
                if not text.strip():
                    continue
                if not _is_json_object(text):
                    fields = {"source": "stderr", "time": _now(), **reporter.context}
                    text = json.dumps({**fields, "message": text}, default=str, ensure_ascii=False)
                with reporter._lock:
                    original.write(text + "\n")
                    original.flush()

    reader = threading.Thread(target=pump, name="stderr-as-json", daemon=True)
    reader.start()
    reporter._direct = original  # the reporter's own lines in order, not through the pipe
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(original.fileno(), fd)  # the pipe's last writer closes: the reader sees its end
        reader.join(timeout=10)
        with reporter._lock:
            reporter._direct = None
            original.close()


def _is_json_object(text: str) -> bool:
    if not text.startswith("{"):
        return False
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
