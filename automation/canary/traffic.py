"""Synthetic traffic for the canary's windows: the Locust plan, run steadily in the background.

On AWS real users are the canary's traffic. A stack with `canary.syntheticLoad` (and every
sandbox stack: nobody else sends it requests) also gets the project's Locust plan
(verify/locustfile.py, started the one way verify's `load` check starts it) for the evaluation
and the bake, so both versions of the split collect enough windows for the judge. The users run
steadily (`LOAD_SHAPE=steady`), with a short think time; photos are left out where they would
saturate the machine (the sandbox's shared cores: one photo costs about a CPU-second) and make
every latency a measure of the neighbours rather than of the version.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from verify.checks.load import locust_command

#: Longest a background run may last if nobody stops it (a lost pipeline must not load forever).
MAX_DURATION_S = 3 * 3600


@dataclass(frozen=True)
class TrafficPlan:
    """How much synthetic traffic, and of which kind."""

    users: int = 8
    wait_s: tuple[float, float] = (0.05, 0.15)
    photos: bool = True


#: The sandbox's plan: enough requests per window for the judge, no photos (see above).
SANDBOX_TRAFFIC = TrafficPlan(users=12, wait_s=(0.02, 0.06), photos=False)


class SyntheticTraffic:
    """`with SyntheticTraffic(api_url, out_dir, plan):` — Locust runs until the block ends."""

    def __init__(self, api_url: str, out_dir: Path, plan: TrafficPlan) -> None:
        self.api_url = api_url
        self.out_dir = out_dir
        self.plan = plan
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        argv, env = locust_command(
            self.api_url,
            self.out_dir / "locust",
            peak_users=self.plan.users,
            duration_s=MAX_DURATION_S,
            extra_env={
                "LOAD_SHAPE": "steady",
                "LOAD_WAIT_S": ",".join(str(v) for v in self.plan.wait_s),
            },
            extra_args=() if self.plan.photos else ("--exclude-tags", "photo"),
        )
        log = open(self.out_dir / "locust.log", "wb")  # noqa: SIM115 - lives with the process
        with log:
            self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def stop(self) -> None:
        """SIGINT (Locust writes its CSV and exits), then the group's end if it lingers."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def __enter__(self) -> SyntheticTraffic:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
