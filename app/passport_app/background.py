"""Background removal with rembg (U²-Net weights shipped in the bundle), composited onto white.

The ONNX session is created once per gunicorn worker at start and shared by its threads
(``InferenceSession.run`` is thread-safe). It is never created when the weights are missing:
rembg would then try to download them from the internet at request time, which is exactly the
cold-start failure the offline model file exists to prevent.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

log = logging.getLogger("passport_app")


def session_options(ort: Any, threads: int) -> Any:
    """ONNX Runtime options for bounded memory and no CPU oversubscription.

    The CPU memory arena keeps every buffer it ever grew to (one u2netp session: 248 → 723 MB
    over two predictions with it, +26 MB without), so it is off; so is the memory-pattern
    planner, which pre-allocates per input shape. Threads: as many as the worker's share of the
    vCPUs (gunicorn.conf.py), one inference at a time per worker (capacity.py).
    """
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.enable_cpu_mem_arena = False
    opts.enable_mem_pattern = False
    return opts


class ModelUnavailable(RuntimeError):
    """The background-removal model could not be loaded; the reason is the message."""


def make_session(model_name: str, model_file: Path, threads: int):
    """The one place the U²-Net ONNX session is created (session options live here)."""
    import onnxruntime as ort
    from rembg import new_session

    opts = session_options(ort, threads)
    # rembg finds the weights at $U2NET_HOME/<name>.onnx (absolute: gunicorn's cwd need not be
    # the bundle root) and never downloads when they are there.
    os.environ["U2NET_HOME"] = str(model_file.parent.resolve())
    return new_session(model_name, sess_opts=opts, providers=["CPUExecutionProvider"])


class BackgroundRemover:
    """One loaded rembg session (or the reason there is none)."""

    def __init__(self, model_name: str, model_file: Path, threads: int) -> None:
        self.model_name = model_name
        self.model_file = model_file
        self.threads = threads
        self.session = None
        self.error: str | None = None
        self.load_ms: float | None = None

    @property
    def models_dir(self) -> Path:
        """Where the .tflite face models live too (the same folder as the weights)."""
        return self.model_file.parent

    @property
    def loaded(self) -> bool:
        return self.session is not None

    def load(self) -> bool:
        """Load the session; on failure keep the reason in ``error`` and return False."""
        started = time.perf_counter()
        if not self.model_file.is_file():
            self.error = (
                f"model file {self.model_file} is missing; build the bundle after "
                f"`make models MODEL={self.model_name}`"
            )
            log.error("model unavailable", extra={"model": self.model_name, "reason": self.error})
            return False
        missing = [
            name
            for name in ("face_landmark.tflite", "selfie_segmentation.tflite")
            if not (self.model_file.parent / name).is_file()
        ]
        if missing:
            self.error = (
                f"face model(s) {', '.join(missing)} missing in {self.model_file.parent}; build "
                "the bundle after `python -m app.models fetch mediapipe`"
            )
            log.error("model unavailable", extra={"model": self.model_name, "reason": self.error})
            return False
        try:
            self.session = make_session(self.model_name, self.model_file, self.threads)
        except Exception as exc:  # onnxruntime raises its own types for corrupt files
            self.error = f"loading {self.model_file} failed: {exc}"
            log.exception("model load failed", extra={"model": self.model_name})
            return False
        self.error = None
        self.load_ms = round((time.perf_counter() - started) * 1000, 1)
        log.info(
            "model loaded",
            extra={"model": self.model_name, "load_ms": self.load_ms, "threads": self.threads},
        )
        return True

    def mask(self, image: Image.Image) -> Image.Image:
        """Foreground probability (mode L, image size) from the U²-Net session."""
        if self.session is None:
            raise ModelUnavailable(self.error or "model not loaded")
        return self.session.predict(image)[0]


#: Alpha below LOW becomes 0 and above HIGH becomes 1; the band between stays soft (hair edges).
ALPHA_LOW, ALPHA_HIGH = 0.15, 0.85
#: Confidence a pixel needs to count as the person's solid body. 0.85 was tried to drop
#: half-believed background (~0.6) but it also eats uncertain parts of the subject (a white cap):
#: the plain majority threshold loses less.
SOLID = 0.5
#: Soft edges are kept this far (px) around the person's solid region, nowhere else.
EDGE_PX = 7


def refine_alpha(
    mask: Image.Image, seed: tuple[int, int], second_opinion: Image.Image | None = None
) -> np.ndarray:
    """The mask reduced to the one person containing ``seed`` (the face centre), as 0..1 floats.

    U²-Net is a salient-object model: a flag or a poster behind the subject can come back as
    foreground, and whether it does flips with small changes of framing. Passport photos need a
    plain background, so the solid region must be foreground in both ``mask`` and
    ``second_opinion`` (a mask of a different framing, when given) and connected to the face;
    only a thin band around it keeps ``mask``'s soft values (hair edges); faint values are cut.
    """
    alpha = np.asarray(mask.convert("L"), dtype=np.float32) / 255.0
    solid = alpha >= SOLID
    if second_opinion is not None:
        solid &= np.asarray(second_opinion.convert("L").resize(mask.size)) >= 255 * SOLID
    solid = solid.astype(np.uint8)
    count, labels = cv2.connectedComponents(solid, connectivity=8)
    if count > 1:
        x = min(max(seed[0], 0), alpha.shape[1] - 1)
        y = min(max(seed[1], 0), alpha.shape[0] - 1)
        keep = labels[y, x]
        if keep == 0:  # the face itself was not segmented: keep the largest region
            sizes = np.bincount(labels.ravel())[1:]
            keep = int(np.argmax(sizes)) + 1
        person = (labels == keep).astype(np.uint8)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * EDGE_PX + 1, 2 * EDGE_PX + 1))
        near = cv2.dilate(person, kernel).astype(np.float32)
        near = cv2.GaussianBlur(near, (0, 0), EDGE_PX / 3)
        alpha = alpha * near
    return np.clip((alpha - ALPHA_LOW) / (ALPHA_HIGH - ALPHA_LOW), 0.0, 1.0)


def composite_on_white(
    image: Image.Image,
    mask: Image.Image,
    seed: tuple[int, int],
    second_opinion: Image.Image | None = None,
) -> Image.Image:
    """The person kept, everything else replaced by white (soft mask edges blended)."""
    alpha = refine_alpha(mask, seed, second_opinion)[..., None]
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    out = rgb * alpha + 255.0 * (1.0 - alpha)
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), mode="RGB")
