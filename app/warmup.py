"""One-time warm-up after install: ``python -m app.warmup [--model u2netp]``.

The first ``import rembg`` compiles numba code (~45 s) and caches it beside the package; doing it
here, once, keeps that cost out of test timeouts and the first gunicorn start. Then the model
session is loaded and run once on a blank image to prove the fetched weights work. Prints one
line; exits non-zero (with the reason) if either step fails.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from app.models import MODELS, MODELS_DIR, ModelError, check, model_path


def default_model() -> str:
    """``$MODEL`` (make passes it) when valid, else the first fetched model, else u2netp."""
    wanted = os.environ.get("MODEL", "")
    if wanted in MODELS:
        return wanted
    for name in ("u2netp", "u2net"):
        if model_path(name).is_file():
            return name
    return "u2netp"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.warmup", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--model", default=None, choices=sorted(MODELS))
    args = parser.parse_args(argv)
    args.model = args.model or default_model()

    started = time.perf_counter()
    import rembg  # noqa: F401 - the import itself is the warm-up (numba cache)

    import_s = time.perf_counter() - started
    try:
        path = check(args.model)
    except ModelError as exc:
        print(f"warmup: rembg imported in {import_s:.1f}s; {exc}", file=sys.stderr)
        return 1

    import onnxruntime as ort
    from PIL import Image
    from rembg import new_session

    os.environ["U2NET_HOME"] = str(MODELS_DIR)
    loaded = time.perf_counter()
    try:
        session = new_session(
            args.model, sess_opts=ort.SessionOptions(), providers=["CPUExecutionProvider"]
        )
        mask = session.predict(Image.new("RGB", (64, 64), (255, 255, 255)))[0]
    except Exception as exc:  # onnxruntime raises its own exception types
        print(f"warmup: loading {path} failed: {exc}", file=sys.stderr)
        return 1
    load_s = time.perf_counter() - loaded
    print(
        f"warmup: rembg imported in {import_s:.1f}s; {args.model} loaded and ran in "
        f"{load_s:.2f}s (mask {mask.size[0]}x{mask.size[1]}) from {path}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
