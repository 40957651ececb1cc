"""Benchmark the passport-photo pipeline and the served app (not a test: prints figures).

    .venv/bin/python benchmarks/bench_app.py [--runs 10] [--requests 24]

1. Per model (u2netp, and u2net when fetched) and per sample portrait: p50/p95 of the whole
   in-process pipeline (decode, detect, landmarks, one U²-Net pass, encode) over ``--runs``
   runs, beside the p50 of one bare inference of the same session on a 320x320 input measured
   in the same run, and their ratio (issue 11's goal: ≤ 1.5x for u2netp).
2. Throughput of the real bundle under gunicorn (Procfile command, moto for AWS) at 1 and 4
   concurrent clients, round-robin over the portraits: requests/s and p50/p95 latency.

Numbers depend on the machine; run it on an idle one. Nothing here asserts a budget: the
verify package checks the configured latency budget against a deployment.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# Run as a script: the repository root goes on sys.path first, so our packages import.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.paths import APP_DIR, ROOT  # noqa: E402

sys.path.append(str(APP_DIR))  # passport_app, imported the way the bundle's gunicorn does

import requests  # noqa: E402
from passport_app.background import BackgroundRemover  # noqa: E402
from passport_app.formats import FORMATS  # noqa: E402
from passport_app.pipeline import make_passport_photo  # noqa: E402
from PIL import Image  # noqa: E402

from app.bundle import build_bundle  # noqa: E402
from app.dev_resources import BENCH_APP_ENV, ensure_app_resources, serve_bundle  # noqa: E402
from app.models import MODELS, ModelError, check  # noqa: E402
from common.contracts import SANDBOX_AWS_ENV  # noqa: E402
from sandbox.moto_server import free_port, start_threaded_moto  # noqa: E402

TEST_IMAGES = ROOT / "test_images"


def portraits() -> list[tuple[Path, str, str | None]]:
    """Each portrait with the first format it passes and its head-covering declaration."""
    manifest = json.loads((TEST_IMAGES / "manifest.json").read_text())
    return [
        (TEST_IMAGES / i["file"], (i.get("formats") or ["us"])[0], i.get("head_covering"))
        for i in manifest["images"]
        if i["kind"] == "portrait"
    ]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def bench_pipeline(model: str, runs: int) -> None:
    remover = BackgroundRemover(model, APP_DIR / "models" / f"{model}.onnx", threads=2)
    if not remover.load():
        print(f"  {model}: cannot load: {remover.error}")
        return
    print(f"  {model} (loaded in {remover.load_ms:.0f} ms, 2 inference threads):")
    probe = Image.new("RGB", (320, 320), (128, 128, 128))
    for path, fmt, declared in portraits():
        data = path.read_bytes()
        make_passport_photo(data, FORMATS[fmt], remover, declared)  # warm-up
        remover.mask(probe)
        times, bare = [], []
        for _ in range(runs):  # interleaved, so machine noise hits both alike
            started = time.perf_counter()
            make_passport_photo(data, FORMATS[fmt], remover, declared)
            times.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            remover.mask(probe)
            bare.append((time.perf_counter() - started) * 1000)
        p50, floor = percentile(times, 50), percentile(bare, 50)
        print(
            f"    {path.name + ' ' + fmt:37s} p50 {p50:7.0f} ms   "
            f"p95 {percentile(times, 95):7.0f} ms   "
            f"bare inference p50 {floor:6.0f} ms   ratio {p50 / floor:4.2f}x   (n={runs})"
        )


def bench_served(total: int) -> None:
    server, endpoint = start_threaded_moto()
    os.environ.update(SANDBOX_AWS_ENV)
    os.environ.update(
        {"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}
    )
    env = dict(BENCH_APP_ENV)
    ensure_app_resources(env)
    images = [
        (p.read_bytes(), {"format": fmt, **({"head_covering": d} if d else {})})
        for p, fmt, d in portraits()
    ]
    try:
        with tempfile.TemporaryDirectory(prefix="bench-app-") as tmp:
            bundle = build_bundle(out_dir=Path(tmp) / "out")
            current = Path(tmp) / "current"
            with zipfile.ZipFile(bundle.path) as zf:
                zf.extractall(current)
            env["APP_VERSION"] = bundle.version_label
            log = Path(tmp) / "gunicorn.log"
            with serve_bundle(current, env, free_port(), log) as url:
                print(
                    f"  bundle {bundle.version_label} under gunicorn (Procfile), u2netp, each "
                    "portrait in its first format"
                )
                session_post = requests.post

                def one(i: int) -> float:
                    started = time.perf_counter()
                    response = session_post(
                        f"{url}/api/v1/photos",
                        files={"image": ("p.jpg", images[i % len(images)][0], "image/jpeg")},
                        data=images[i % len(images)][1],
                        timeout=120,
                    )
                    if response.status_code != 200:
                        raise RuntimeError(f"{response.status_code}: {response.text[:200]}")
                    return (time.perf_counter() - started) * 1000

                for i in range(2):
                    one(i)  # warm both workers
                for concurrency in (1, 4):
                    started = time.perf_counter()
                    with ThreadPoolExecutor(concurrency) as pool:
                        latencies = list(pool.map(one, range(total)))
                    wall = time.perf_counter() - started
                    print(
                        f"    concurrency {concurrency}: {total / wall:5.2f} req/s   "
                        f"p50 {percentile(latencies, 50):6.0f} ms   "
                        f"p95 {percentile(latencies, 95):6.0f} ms   (n={total})"
                    )
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pipeline-only", action="store_true", help="skip the served part")
    parser.add_argument("--runs", type=int, default=10, help="pipeline runs per image and model")
    parser.add_argument("--requests", type=int, default=24, help="HTTP requests per concurrency")
    args = parser.parse_args()

    print(f"machine: {os.cpu_count()} CPUs")
    print("pipeline latency per image:")
    for model in MODELS:
        try:
            check(model)
        except ModelError as exc:
            print(f"  {model}: skipped — {exc}")
            continue
        bench_pipeline(model, args.runs)
    if args.pipeline_only:
        return 0
    print("served throughput:")
    try:
        check("u2netp")
    except ModelError as exc:
        print(f"  skipped — {exc}")
        return 1
    bench_served(args.requests)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
