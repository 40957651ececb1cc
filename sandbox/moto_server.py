"""Starting moto servers on loopback.

One place for this because the sandbox (a long-lived moto process per stack) and the test suite
(an in-process server per session) both need it. Always binds 127.0.0.1: moto's own default is
0.0.0.0, which would expose fake-but-writable AWS APIs to the network.
"""

from __future__ import annotations

import fnmatch
import socket
import sys
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

from common.polling import WaitTimeout, wait_until

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

LOOPBACK = "127.0.0.1"


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
    # lazy import: moto.server costs 0.21 s at start-up of every `python -m sandbox` command
    # (the engine talks to its moto over HTTP, in another process; only tests run it in-process).
    from moto.server import ThreadedMotoServer

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
    last: list[BaseException] = []

    def answers() -> bool:
        try:
            # Safe: the loopback moto URL we started (see reset_moto).
            with urllib.request.urlopen(f"{endpoint_url}/moto-api/", timeout=2):  # noqa: S310  # nosec B310
                return True
        except (urllib.error.URLError, ConnectionError, OSError) as exc:
            last[:] = [exc]
            return False

    try:
        wait_until(answers, timeout=timeout, what=f"moto at {endpoint_url}", interval=0.1)
    except WaitTimeout:
        raise TimeoutError(
            f"moto server at {endpoint_url} did not answer within {timeout}s: "
            f"{last[0] if last else None}"
        ) from None


#: Environment for a standalone moto server: AWS managed policies (AWSElasticBeanstalkWebTier,
#: ...) exist in every real account, so attaching one must work here too, and not silently:
#: moto only knows them when asked to load them.
MOTO_SERVER_ENV = {"MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
#: The stack's state folder, given to its moto process: Elastic Beanstalk's health API and the
#: CloudWatch publisher (sandbox/eb_health.py, sandbox/cloudwatch_agent.py) read it.
SANDBOX_STATE_ENV = "SANDBOX_STATE_DIR"


def moto_server_argv(port: int, python: str = sys.executable) -> list[str]:
    """Command line of a standalone moto server on loopback:`port` (run it detached).

    Runs `sandbox.moto_main`: moto's own server with `apply_aws_condition_semantics()`.
    """
    return [python, "-m", "sandbox.moto_main", "-H", LOOPBACK, "-p", str(port)]


#: Request context the sandbox's moto assumes: requests arrive over loopback, which stands in
#: for AWS's TLS endpoints (so a TLS-only bucket policy admits them, as AWS admits HTTPS).
SANDBOX_CONDITION_CONTEXT = {"aws:SecureTransport": "true"}


def _condition_holds(operator: str, key_values: dict, context: dict[str, str]) -> bool | None:
    """One condition block as AWS evaluates it; None for operators we leave to moto."""
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    for key, expected in key_values.items():
        wanted = [str(v) for v in (expected if isinstance(expected, list) else [expected])]
        actual = context.get(key)
        if base == "Null":
            ok = (actual is None) == (wanted[0].lower() == "true")
        elif actual is None:
            ok = if_exists or base.endswith(("NotEquals", "NotLike"))
        elif base == "Bool":
            ok = actual.lower() in [w.lower() for w in wanted]
        elif base in ("StringEquals", "ArnEquals"):
            ok = actual in wanted
        elif base == "StringNotEquals":
            ok = actual not in wanted
        elif base in ("StringLike", "ArnLike"):
            ok = any(fnmatch.fnmatchcase(actual, w) for w in wanted)
        elif base == "StringNotLike":
            ok = not any(fnmatch.fnmatchcase(actual, w) for w in wanted)
        else:
            return None
        if not ok:
            return False
    return True


def apply_aws_condition_semantics() -> None:
    """Make moto evaluate bucket-policy conditions the way AWS does (idempotent, per process).

    moto 5.2 evaluates only `StringEquals` conditions and treats every other operator (`Bool`,
    `StringLike`, ...) as matching. So the standard TLS-only bucket policy — Deny s3:* when
    `aws:SecureTransport` is `false` — denies *every* object request in moto, although its
    condition does not hold. In AWS a statement whose condition does not hold does not apply.
    This evaluates the common operators properly against SANDBOX_CONDITION_CONTEXT plus the
    request's own values; statements whose condition does not hold are NEUTRAL.
    """
    # lazy import: moto costs 0.21 s at start-up of every `python -m sandbox` command; only the
    # moto process (sandbox.moto_main, which loads moto anyway) calls this.
    from moto.iam import access_control

    statement = access_control.IAMPolicyStatement
    if getattr(statement, "_sandbox_patched", False):
        return
    original = statement.is_action_permitted

    def is_action_permitted(  # type: ignore[no-untyped-def]
        self, action, resource="*", principal=None, incoming_condition_values=None
    ):
        context = {**SANDBOX_CONDITION_CONTEXT, **(incoming_condition_values or {})}
        conditions = self._statement.get("Condition") or {}
        results = [_condition_holds(op, kv, context) for op, kv in conditions.items()]
        if any(r is False for r in results):
            return access_control.PermissionResult.NEUTRAL
        if results and all(r is True for r in results):
            # Every condition holds: judge the statement without them.
            plain = {k: v for k, v in self._statement.items() if k != "Condition"}
            return original(type(self)(plain), action, resource, principal, context)
        return original(self, action, resource, principal, context)

    statement.is_action_permitted = is_action_permitted
    statement._sandbox_patched = True
