"""The Passport Photo API load scenario, for Locust (https://locust.io).

`python -m verify --only load` runs it headless against a stack's `api_url` and judges the
result against the stack's thresholds (verify/checks/load.py). You can also run it yourself:

    # one machine, web UI on :8089
    locust -f verify/locustfile.py --host https://api.example.com
    # headless, the same phases as the check, CSV + HTML report
    LOAD_PEAK_USERS=40 LOAD_DURATION_S=600 locust -f verify/locustfile.py --headless \\
        --host https://api.example.com --csv reports/load/locust --html reports/load/locust.html
    # distributed: one master, N workers (on other machines); the shape runs on the master
    locust -f verify/locustfile.py --master --headless --expect-workers 4 --host https://...
    locust -f verify/locustfile.py --worker --master-host 10.0.0.5      # on each worker

Users mix the three kinds of request a real client sends (weights: health 6, email 2, photo 1;
think time 1–2 s); a photo answered `503 busy` is retried after its Retry-After (twice at
most). The load follows five phases — warm-up, ramp-up, sustained, peak, cool-down — sized by
LOAD_PEAK_USERS and LOAD_DURATION_S.

The canary's synthetic traffic (automation/canary/traffic.py) runs the same users steadily
instead (`LOAD_SHAPE=steady`: LOAD_PEAK_USERS for LOAD_DURATION_S, both versions of a traffic
split see the same mix throughout), with a shorter think time (`LOAD_WAIT_S=min,max`) and, where
photos would saturate the machine, without the photo task (`--exclude-tags photo`).
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

from locust import HttpUser, LoadTestShape, between, tag, task

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # locust puts only this file's folder on sys.path
    sys.path.insert(0, str(ROOT))

from verify.load_shape import phase_at  # noqa: E402

PHOTO_PATH = Path(os.environ.get("LOAD_PHOTO", ROOT / "test_images" / "astronaut.jpg"))
WAIT_S = tuple(float(v) for v in os.environ.get("LOAD_WAIT_S", "1,2").split(","))


class ApiUser(HttpUser):
    wait_time = between(WAIT_S[0], WAIT_S[-1])

    def on_start(self) -> None:
        self.photo = PHOTO_PATH.read_bytes()

    @task(6)
    def health(self) -> None:
        self.client.get("/health", name="health")

    @task(2)
    def email(self) -> None:
        address = f"success+load-{uuid.uuid4().hex[:12]}@simulator.amazonses.com"
        with self.client.post(
            "/api/v1/email/validate", json={"email": address}, name="email", catch_response=True
        ) as resp:
            if resp.status_code != 202:
                resp.failure(f"HTTP {resp.status_code}: {resp.text[:120]}")

    @tag("photo")
    @task(1)
    def photo(self) -> None:
        """A well-behaved client: a `503 busy` with Retry-After is waited out and retried (twice
        at most); those answers are counted apart as "photo busy", the final one as "photo"."""
        for attempt in range(3):
            with self.client.post(
                "/api/v1/photos",
                files={"image": ("portrait.jpg", self.photo, "image/jpeg")},
                data={"format": "us"},
                name="photo",
                catch_response=True,
                timeout=60,
            ) as resp:
                retry_after = resp.headers.get("Retry-After")
                if resp.status_code == 503 and retry_after and attempt < 2:
                    resp.request_meta["name"] = "photo busy"
                    resp.success()
                elif resp.status_code != 200:
                    resp.failure(f"HTTP {resp.status_code}: {resp.text[:120]}")
                    return
                else:
                    return
            time.sleep(float(retry_after or 1))


class Phases(LoadTestShape):
    """warm-up → ramp-up → sustained → peak → cool-down (users spawn at up to 2/s).

    The warm-up loads every worker's model path once (first inferences are slow); its requests
    are dropped from the statistics when it ends, so thresholds judge the service, not its
    cold start. The HTML report's charts still show it.
    """

    warmed = False

    def tick(self) -> tuple[int, float] | None:
        if os.environ.get("LOAD_SHAPE") == "steady":
            users = int(os.environ.get("LOAD_PEAK_USERS", "6"))
            if self.get_run_time() >= float(os.environ.get("LOAD_DURATION_S", "60")):
                return None
            return users, float(users)  # all of them within a second
        now = phase_at(
            self.get_run_time(),
            int(os.environ.get("LOAD_PEAK_USERS", "6")),
            int(os.environ.get("LOAD_DURATION_S", "60")),
        )
        if now is None:
            return None
        if now[0] != "warm-up" and not self.warmed:
            self.warmed = True
            self.runner.stats.reset_all()
        return now[1], 2.0
