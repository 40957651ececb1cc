"""The load test's phases (used by verify/locustfile.py; no Locust import, so testable alone)."""

from __future__ import annotations

#: (name, share of the duration, users at the end of the phase as a share of the peak).
#: Ramp-up climbs linearly; the others hold their level.
PHASES = (
    ("warm-up", 0.15, 0.33),
    ("ramp-up", 0.20, 0.66),
    ("sustained", 0.30, 0.66),
    ("peak", 0.20, 1.0),
    ("cool-down", 0.15, 0.0),
)


def phase_at(elapsed: float, peak: int, duration: int) -> tuple[str, int] | None:
    """(phase, users) at `elapsed` seconds; None once the run is over."""
    start = 0.0
    level = 1
    for name, share, target in PHASES:
        length = share * duration
        if elapsed < start + length:
            goal = max(1, round(target * peak))
            if name == "ramp-up":
                return name, max(1, round(level + (goal - level) * (elapsed - start) / length))
            return name, goal if name != "cool-down" else 1
        start += length
        level = max(1, round(target * peak))
    return None
