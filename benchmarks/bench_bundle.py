"""Self-contained bundle: its size, and installing it from its wheelhouse vs from the index.

    python benchmarks/bench_bundle.py [--no-index-run] [--no-cold-venv] [--smoke]

Measured in one run, on this machine, so the ratio is what counts (the absolute seconds depend
on the machine's load and the network):

- the bundle's size (EB refuses source bundles over 500 MB) and the index bundle's;
- `pip install -r requirements.txt` of the unpacked bundle into a fresh venv, offline from its
  `wheelhouse/` (what an EB instance does), against the same hashed pins from PyPI with pip's
  cache off (what an instance does without the wheelhouse);
- the sandbox's venv for a lock digest: built cold (install + the one-time numba compile of
  rembg's pymatting) and found warm (the cache hit every later deploy and test takes).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

# Run as a script: the repository root goes on sys.path first, so our packages import.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.bundle import build_bundle  # noqa: E402
from app.lock import LOCK, read_lock  # noqa: E402
from sandbox.bundle_venv import build_venv, install_bundle  # noqa: E402

EB_LIMIT = 500 * 1024 * 1024


def fresh_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)  # noqa: S603
    return path / "bin" / "python"


def timed_install(python: Path, requirements: Path, *extra: str) -> float:
    """Seconds for pip to install `requirements` into `python`'s venv (no pip cache, no config)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull  # no machine-wide find-links or extra index
    began = time.perf_counter()
    subprocess.run(  # noqa: S603 - pip on our own files
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "-r",
            str(requirements),
            *extra,
        ],  # fmt: skip
        check=True,
        env=env,
    )
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-index-run", action="store_true", help="skip the PyPI install")
    parser.add_argument("--no-cold-venv", action="store_true", help="skip the cold venv build")
    parser.add_argument(
        "--smoke", action="store_true", help="sizes and the warm venv only (no fresh installs)"
    )
    args = parser.parse_args()
    if args.smoke:
        args.no_index_run = args.no_cold_venv = True
    with tempfile.TemporaryDirectory(prefix="bench-bundle-") as tmp:
        work = Path(tmp)
        began = time.perf_counter()
        bundle = build_bundle(out_dir=work / "out").path
        build_s = time.perf_counter() - began
        lean = build_bundle(out_dir=work / "out", self_contained=False).path
        size = bundle.stat().st_size
        print(f"packages locked: {len(read_lock())}")
        print(
            f"bundle, self-contained: {size / 1e6:.1f} MB ({size / EB_LIMIT:.0%} of EB's 500 MB "
            f"limit; built in {build_s:.1f} s)"
        )
        print(f"bundle, index (lock only): {lean.stat().st_size / 1e6:.1f} MB")
        release = work / "release"
        with zipfile.ZipFile(bundle) as zf:
            zf.extractall(release)
        if not args.smoke:
            offline = timed_install(fresh_venv(work / "v-wheelhouse"), release / "requirements.txt")
            print(f"install from the wheelhouse (offline): {offline:.1f} s")
        if not args.no_index_run:
            online = timed_install(fresh_venv(work / "v-index"), LOCK, "--require-hashes")
            print(f"install from the index (PyPI, no cache): {online:.1f} s")
            print(f"wheelhouse / index: {offline / online:.2f}")
        if not args.no_cold_venv:
            cold = build_venv(release, work / "v-cold", offline=True, pins=read_lock())
            print(f"sandbox venv, cold (install + numba warm-up): {cold:.1f} s")
        install_bundle(release)  # fills the cache if it was empty
        began = time.perf_counter()
        install_bundle(release)
        print(f"sandbox venv, warm (cache hit by lock digest): {time.perf_counter() - began:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
