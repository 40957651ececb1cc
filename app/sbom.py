"""A CycloneDX SBOM (JSON, spec 1.5) of a source bundle, made from the lock inside it.

    python -m app.sbom build/bundles/v-0123456789ab.zip > v-0123456789ab.sbom.json

The pipeline uploads it beside the bundle (``bundles/<label>.sbom.json``) and links it from the
deployment record. It is read from the bundle's own requirements.txt, so it lists exactly what
that bundle installs; a self-contained bundle's components carry the sha256 of the very wheel it
ships, an index bundle's the hashes its lock allows. No timestamp and a serial number derived
from the bundle, so the same bundle always gives the same SBOM bytes.
"""

from __future__ import annotations

import hashlib
import json
import sys
import uuid
import zipfile
from pathlib import Path
from typing import Any

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from app.bundle import REQUIREMENTS_FILE, WHEELHOUSE_DIR, bundle_label
from app.lock import parse_lock_text

APP_NAME = "passport-photo-backend"


def _wheel_hashes(archive: zipfile.ZipFile) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for info in archive.infolist():
        if not info.filename.startswith(f"{WHEELHOUSE_DIR}/"):
            continue
        try:
            name = parse_wheel_filename(info.filename.split("/", 1)[1])[0]
        except InvalidWheelFilename:
            continue
        digest = hashlib.sha256()
        with archive.open(info) as member:
            while chunk := member.read(1 << 20):
                digest.update(chunk)
        found.setdefault(canonicalize_name(name), []).append(digest.hexdigest())
    return found


def bundle_sbom(bundle: Path) -> dict[str, Any]:
    """The SBOM of `bundle` as a CycloneDX 1.5 document (a dict ready for json.dumps)."""
    label = bundle_label(bundle)
    with zipfile.ZipFile(bundle) as archive:
        pins = parse_lock_text(archive.read(REQUIREMENTS_FILE).decode("utf-8"))
        shipped = _wheel_hashes(archive)
    components = []
    for pin in sorted(pins, key=lambda p: p.key):
        hashes = shipped.get(pin.key) or sorted(pin.hashes)
        components.append(
            {
                "type": "library",
                "bom-ref": f"pkg:pypi/{pin.key}@{pin.version}",
                "name": pin.key,
                "version": pin.version,
                "purl": f"pkg:pypi/{pin.key}@{pin.version}",
                "hashes": [{"alg": "SHA-256", "content": h} for h in hashes],
            }
        )
    app_ref = f"{APP_NAME}@{label}"
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, app_ref)}",
        "version": 1,
        "metadata": {
            "component": {
                "type": "application",
                "bom-ref": app_ref,
                "name": APP_NAME,
                "version": label,
            },
            "properties": [
                {"name": "passport:self_contained", "value": str(bool(shipped)).lower()}
            ],
        },
        "components": components,
        "dependencies": [{"ref": app_ref, "dependsOn": [c["bom-ref"] for c in components]}],
    }


def sbom_bytes(bundle: Path) -> bytes:
    return (json.dumps(bundle_sbom(bundle), indent=2, sort_keys=True) + "\n").encode()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m app.sbom BUNDLE.zip", file=sys.stderr)
        return 2
    sys.stdout.write(sbom_bytes(Path(args[0])).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
