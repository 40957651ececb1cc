"""Capacity benchmark: CPU cost of a photo, served throughput, /health under saturation, memory.

    .venv/bin/python benchmarks/bench_capacity.py [--seconds 20] [--clients 2 4 8] [--big 8]

Everything below is measured in the same run, so the ratios hold on a noisy shared machine:

1. **CPU-seconds of one photo at one thread** (in-process, ORT and OpenCV at 1 thread,
   `time.process_time`), and the machine's floor: `cpus ÷ CPU-s` photos/s.
2. **Served throughput** of the real bundle under gunicorn (Procfile, gunicorn.conf.py: 2
   workers × 4 threads, 1 ORT thread each, one inference at a time per worker), for each
   client count: photos/s, p50/p95/p99, 503 busy answers (clients honour Retry-After),
   `/health` p95 polled alongside, and the max RSS per worker. Ratio: photos/s ÷ (0.8 × floor)
   — the target is ≥ 1. Run twice: with the inference gate (ours) and with it opened
   (INFERENCE_SLOTS=4: every thread infers — the behaviour before), for the before/after table.
3. **Memory**: `--big` concurrent 40-Mpx JPEG uploads, three rounds; max RSS per worker against
   the 600 MB goal (components/capacity.py WORKER_MB).

Nothing here asserts: figures are for docs/capacity.md and the stack's load-test thresholds.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

# Run as a script: the repository root goes on sys.path first, so our packages import.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.paths import APP_DIR, ROOT  # noqa: E402

sys.path.append(str(APP_DIR))  # passport_app, imported the way the bundle's gunicorn does

import cv2  # noqa: E402
import psutil  # noqa: E402
import requests  # noqa: E402
from passport_app.background import BackgroundRemover  # noqa: E402
from passport_app.formats import FORMATS  # noqa: E402
from passport_app.pipeline import make_passport_photo  # noqa: E402
from PIL import Image  # noqa: E402

from app.bundle import build_bundle  # noqa: E402
from app.dev_resources import BENCH_APP_ENV, ensure_app_resources, serve_bundle  # noqa: E402
from common.contracts import SANDBOX_AWS_ENV  # noqa: E402
from sandbox.moto_server import free_port, start_threaded_moto  # noqa: E402

PHOTO = ROOT / "test_images" / "astronaut.jpg"
GOAL_WORKER_MB = 600


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))]


def cpu_seconds_per_photo(runs: int = 5) -> float:
    cv2.setNumThreads(1)
    remover = BackgroundRemover("u2netp", APP_DIR / "models" / "u2netp.onnx", threads=1)
    if not remover.load():
        raise SystemExit(f"cannot load u2netp: {remover.error}")
    data = PHOTO.read_bytes()
    make_passport_photo(data, FORMATS["us"], remover)  # warm-up
    cpu = []
    for _ in range(runs):
        started = time.process_time()
        make_passport_photo(data, FORMATS["us"], remover)
        cpu.append(time.process_time() - started)
    return percentile(cpu, 50)


def big_jpeg() -> bytes:
    """A ~40-Mpx JPEG made from a sample portrait (aspect kept, so the face is still found)."""
    with Image.open(PHOTO) as image:
        width = 5800
        height = int(width * image.height / image.width)
        while width * height > 40_000_000:
            height -= 1
        large = image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    large.save(out, format="JPEG", quality=80)
    return out.getvalue()


def workers_of(port: int) -> list[psutil.Process]:
    """The gunicorn workers serving `port` (children of the master that listens on it)."""
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if "gunicorn" in " ".join(proc.info["cmdline"] or []) and any(
                c.laddr.port == port and c.status == psutil.CONN_LISTEN
                for c in proc.net_connections()
            ):
                return proc.children()
        except (psutil.Error, OSError):
            continue
    return []


class RssSampler(threading.Thread):
    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.max_mb: dict[int, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for worker in workers_of(self.port):
                try:
                    mb = worker.memory_info().rss / 2**20
                except psutil.Error:
                    continue
                self.max_mb[worker.pid] = max(self.max_mb.get(worker.pid, 0.0), mb)
            time.sleep(0.3)


@contextmanager
def served(env_extra: dict[str, str]):
    env = {**BENCH_APP_ENV, **env_extra}
    ensure_app_resources(env)
    with tempfile.TemporaryDirectory(prefix="bench-capacity-") as tmp:
        bundle = build_bundle(out_dir=Path(tmp) / "out")
        current = Path(tmp) / "current"
        with zipfile.ZipFile(bundle.path) as zf:
            zf.extractall(current)
        env["APP_VERSION"] = bundle.version_label
        port = free_port()
        with serve_bundle(current, env, port, Path(tmp) / "gunicorn.log") as url:
            yield url, port


def drive(url: str, port: int, photo: bytes, clients: int, seconds: float) -> dict:
    """`clients` loops posting photos (503 → wait Retry-After), /health polled alongside."""
    stop = time.monotonic() + seconds
    latencies: list[float] = []
    health: list[float] = []
    busy = [0]
    errors: list[str] = []
    lock = threading.Lock()
    sampler = RssSampler(port)
    sampler.start()

    def client() -> None:
        session = requests.Session()
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                resp = session.post(
                    f"{url}/api/v1/photos",
                    files={"image": ("p.jpg", photo, "image/jpeg")},
                    data={"format": "us"},
                    timeout=120,
                )
            except requests.RequestException as exc:
                with lock:
                    errors.append(f"{type(exc).__name__}: {str(exc)[:80]}")
                continue
            elapsed = time.perf_counter() - started
            with lock:
                if resp.status_code == 200:
                    latencies.append(elapsed)
                elif resp.status_code == 503 and resp.headers.get("Retry-After"):
                    busy[0] += 1
                else:
                    errors.append(f"HTTP {resp.status_code} {resp.text[:80]}")
            if resp.status_code == 503:
                time.sleep(float(resp.headers.get("Retry-After", "1")))

    def poll_health() -> None:
        session = requests.Session()
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                session.get(f"{url}/health", timeout=30)
                health.append(time.perf_counter() - started)
            except requests.RequestException:
                health.append(30.0)
            time.sleep(0.2)

    def worker_cpu() -> float:
        total = 0.0
        for worker in workers_of(port):
            try:
                times = worker.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
        return total

    cpu_before = worker_cpu()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    threads.append(threading.Thread(target=poll_health))
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - began
    cpu_used = worker_cpu() - cpu_before
    sampler.stop.set()
    sampler.join()
    return {
        "photos_s": len(latencies) / wall,
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "p99": percentile(latencies, 99),
        "busy": busy[0],
        "errors": errors,
        "health_p95": percentile(health, 95),
        "worker_mb": sorted(sampler.max_mb.values()),
        # CPU the workers got per second of wall time (≤ cpus; less when others use the box).
        "cpu_share": cpu_used / wall,
        "cpu_per_photo": cpu_used / len(latencies) if latencies else float("nan"),
    }


def warm(url: str, photo: bytes) -> None:
    with ThreadPool(4) as pool:
        pool.map(
            lambda _: requests.post(
                f"{url}/api/v1/photos",
                files={"image": ("p.jpg", photo, "image/jpeg")},
                data={"format": "us"},
                timeout=120,
            ),
            range(4),
        )


class ThreadPool:
    def __init__(self, n: int) -> None:
        self.pool = ThreadPoolExecutor(n)

    def __enter__(self):
        return self.pool

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown()


def row(label: str, clients: int, r: dict, floor: float) -> str:
    mem = "/".join(f"{mb:.0f}" for mb in r["worker_mb"])
    cpus = os.cpu_count() or 2
    # The floor scaled to the CPU the workers actually got (other processes share the box).
    fair = floor * min(r["cpu_share"], cpus) / cpus
    return (
        f"  {label:10s} {clients:3d} clients  {r['photos_s']:5.2f} photos/s "
        f"(× {r['photos_s'] / (0.8 * floor):4.2f} of 0.8·floor; workers got "
        f"{r['cpu_share']:.2f} CPUs → × {r['photos_s'] / (0.8 * fair) if fair else 0:4.2f} of "
        f"0.8·floor at that share; {r['cpu_per_photo']:.2f} CPU-s/photo)  p50/p95/p99 "
        f"{r['p50']:5.1f}/{r['p95']:5.1f}/{r['p99']:5.1f} s  503 busy {r['busy']:3d}  "
        f"errors {len(r['errors'])}  /health p95 {r['health_p95'] * 1000:6.0f} ms  "
        f"worker RSS max {mem} MB" + (f"  first errors: {r['errors'][:3]}" if r["errors"] else "")
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, nargs="+", default=[2, 8])
    parser.add_argument("--big", type=int, default=8, help="concurrent 40-Mpx uploads")
    parser.add_argument("--skip-ungated", action="store_true")
    parser.add_argument(
        "--matrix",
        action="store_true",
        help="compare gunicorn workers × ORT threads (8 clients each) instead of the rest",
    )
    args = parser.parse_args()
    cpus = os.cpu_count() or 2
    print(f"machine: {cpus} CPUs, load average {os.getloadavg()[0]:.1f} (shared machines: noisy)")
    cpu_s = cpu_seconds_per_photo()
    floor = cpus / cpu_s
    print(f"one photo at 1 thread: {cpu_s:.2f} CPU-s → floor {floor:.2f} photos/s on {cpus} CPUs")
    server, endpoint = start_threaded_moto()
    os.environ.update(SANDBOX_AWS_ENV)
    os.environ.update(
        {"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}
    )
    photo = PHOTO.read_bytes()
    big = big_jpeg()
    print(f"40-Mpx upload: {len(big) / 2**20:.1f} MB JPEG")
    scenarios = [("gated", {})]
    if args.matrix:
        matrix = [
            ("2w×1ort", {"WEB_CONCURRENCY": "2", "ORT_INTRA_OP_THREADS": "1"}),
            ("1w×2ort", {"WEB_CONCURRENCY": "1", "ORT_INTRA_OP_THREADS": "2"}),
            ("2w×2ort", {"WEB_CONCURRENCY": "2", "ORT_INTRA_OP_THREADS": "2"}),
            ("3w×1ort", {"WEB_CONCURRENCY": "3", "ORT_INTRA_OP_THREADS": "1"}),
        ]
        try:
            for label, extra in matrix:
                with served(extra) as (url, port):
                    warm(url, photo)
                    print(row(label, 8, drive(url, port, photo, 8, args.seconds), floor))
        finally:
            server.stop()
        return 0
    if not args.skip_ungated:
        scenarios.append(("ungated", {"INFERENCE_SLOTS": "4", "INFERENCE_QUEUE": "64"}))
    try:
        for label, extra in scenarios:
            with served(extra) as (url, port):
                warm(url, photo)
                print(f"served ({label}: {extra or 'gunicorn.conf.py + capacity.py defaults'}):")
                for clients in args.clients:
                    print(
                        row(label, clients, drive(url, port, photo, clients, args.seconds), floor)
                    )
                r = drive(url, port, big, args.big, args.seconds)
                worst = max(r["worker_mb"], default=0.0)
                print(
                    row(f"{label} 40Mpx", args.big, r, floor)
                    + f"  → worst worker {worst:.0f} MB = {worst / GOAL_WORKER_MB:.2f} × the "
                    f"{GOAL_WORKER_MB} MB goal"
                )
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
