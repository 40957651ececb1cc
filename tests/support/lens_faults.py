"""Lens faults painted over an eye region (a float array, changed in place): tests of both the
app's refusals and the judge's readings use the same ones."""

from __future__ import annotations

import numpy as np


def tint(region: np.ndarray) -> None:
    """Tinted lenses: the eye region at a quarter of its brightness."""
    region *= 0.25


def glare(region: np.ndarray) -> None:
    """A reflection: a clipped white patch over part of the eye region."""
    h, w = region.shape[:2]
    region[: h // 2, w // 4 : w // 2] = 255
