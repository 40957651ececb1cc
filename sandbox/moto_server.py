"""Starting moto servers on loopback.

One place for this because the sandbox (a long-lived moto process per stack) and the test suite
(an in-process server per session) both need it. Always binds 127.0.0.1: moto's own default is
0.0.0.0, which would expose fake-but-writable AWS APIs to the network.
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request

from moto.server import ThreadedMotoServer

LOOPBACK = "127.0.0.1"

#: Credentials moto accepts; never real ones. Used by the sandbox and the tests alike.
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # pragma: allowlist secret
    "AWS_SESSION_TOKEN": "testing",
}


def free_port(host: str = LOOPBACK) -> int:
    """Ask the kernel for a free TCP port on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = LOOPBACK) -> bool:
    """True when something already accepts connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def start_threaded_moto(port: int = 0) -> tuple[ThreadedMotoServer, str]:
    """Start moto in a thread of this process; returns the server and its endpoint URL."""
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    return server, f"http://{host}:{bound}"


def reset_moto(endpoint_url: str) -> None:
    """Drop every resource moto holds (its /moto-api/reset endpoint)."""
    req = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")
    # Safe: an http:// URL of the moto server we started on loopback, never user input.
    with urllib.request.urlopen(req, timeout=10):  # noqa: S310  # nosec B310
        pass


def wait_for_moto(endpoint_url: str, timeout: float = 30.0) -> None:
    """Block until the moto server answers, or raise TimeoutError naming the URL."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            # Safe: the loopback moto URL we started (see reset_moto).
            with urllib.request.urlopen(f"{endpoint_url}/moto-api/", timeout=2):  # noqa: S310  # nosec B310
                return
        except (urllib.error.URLError, ConnectionError, OSError) as exc:
            last = exc
            time.sleep(0.1)
    raise TimeoutError(f"moto server at {endpoint_url} did not answer within {timeout}s: {last}")
