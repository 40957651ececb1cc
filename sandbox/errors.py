"""The one exception type the sandbox raises for problems a user can fix.

The CLI prints its message on one line and exits 2; anything else is a bug and keeps its
traceback. Keeping the distinction in one type means every module can fail "clearly" without
knowing how the CLI reports.
"""

from __future__ import annotations


class SandboxError(RuntimeError):
    """A clear, user-facing sandbox failure (bad stack, port in use, app unhealthy, ...)."""


class SandboxUsageError(SandboxError):
    """Input the user must fix before anything can run (unknown stack, bad config, not deployed,
    a pinned port in use, a missing model or moto): exit 2 rather than 1."""


class StackLockedError(SandboxError):
    """Another command holds the stack's lock (after waiting as long as allowed)."""


class SplitAborted(SandboxError):
    """AbortEnvironmentUpdate ended a traffic split: the old version serves, the new one stops."""
