"""Where things live: the repository, the app folder, and a sandbox stack's state files.

The `.sandbox/<stack>/` layout is a contract between the sandbox (which writes it) and verify
and the automation (which read outputs and endpoints from it), so it is written down once here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: The repository root (the Pulumi project folder).
ROOT = Path(__file__).resolve().parent.parent
#: The application folder the source bundle is built from.
APP_DIR = ROOT / "app"
#: Where the sandbox keeps per-stack state unless `--state-root` says otherwise.
DEFAULT_STATE_ROOT = ROOT / ".sandbox"


@dataclass(frozen=True)
class StackPaths:
    """Where one stack's sandbox state lives."""

    root: Path
    stack: str

    @property
    def dir(self) -> Path:
        return self.root / self.stack

    @property
    def outputs(self) -> Path:
        """`pulumi stack output --json` shape; what verify reads."""
        return self.dir / "outputs.json"

    @property
    def sandbox(self) -> Path:
        """Processes, ports, deployments, resource graph, EB state."""
        return self.dir / "sandbox.json"

    @property
    def logs(self) -> Path:
        return self.dir / "logs"

    @property
    def releases(self) -> Path:
        """Unpacked application versions, one folder per label."""
        return self.dir / "releases"

    @property
    def proxy_target(self) -> Path:
        """The port the stable front proxy forwards to (the live app version)."""
        return self.dir / "proxy-target"

    @property
    def tls(self) -> Path:
        """The stand-in ACM certificate and the CA that signs it (sandbox/tls.py)."""
        return self.dir / "tls"

    @property
    def abort_request(self) -> Path:
        """AbortEnvironmentUpdate's mark: the moto side writes it, the rollout in `up` obeys."""
        return self.dir / "abort-request.json"

    @property
    def lock(self) -> Path:
        # Beside, not inside, the stack folder: `down` deletes the folder while holding it.
        return self.root / f".{self.stack}.lock"


def stack_paths(stack: str, state_root: Path | None = None) -> StackPaths:
    """`<state_root or .sandbox>/<stack>/`, as `python -m sandbox --state-root` lays it out."""
    return StackPaths(Path(state_root or DEFAULT_STATE_ROOT), stack)
